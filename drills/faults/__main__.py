"""``python -m drills.faults``: run the fault matrix (part of ``make bench``)."""

import sys

from .matrix import main

sys.exit(main())
