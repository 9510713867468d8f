"""``python -m drills.cli``."""

from . import main

main()
