"""The ``drills`` command: list | run | falsify | export | verify | status | history | clean | check-papers.

One module per kind of command: ``base`` (the group, exit codes, shared helpers), ``measure``
(run, falsify, verify, export), ``look`` (list, check-papers, history, status, clean), ``summary``
(the closing table and the CI reports).
"""

from . import look, measure  # noqa: F401 - registers the commands on the group
from .base import EXIT_ERROR, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_PASSED, main

__all__ = ["EXIT_ERROR", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_PASSED", "main"]
