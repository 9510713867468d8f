"""Shared fixtures: real binaries (skipped with an install hint locally, a failure under CI) and a
leak check that fails any test leaving a process or temp dir of the stack behind."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from drills.errors import MissingBinary
from drills.stack.leftovers import PREFIXES, RUN_TAG_VARIABLE, owner_tag, tagged_processes

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


# Every process and temp dir this test session's stacks make carries this tag (the stack passes
# DRILLS_RUN_TAG on to children and records it in each temp dir), so the leak checks below see only
# this session's leftovers, even while another run shares the machine.
RUN_TAG = f"pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ[RUN_TAG_VARIABLE] = RUN_TAG


def stack_processes() -> dict[int, str]:
    """pid -> command line of every process of this session's stacks still running."""
    return tagged_processes(RUN_TAG)


def stack_temp_dirs() -> set[str]:
    """Names of this session's stack temp dirs that still exist."""
    tmp = Path(tempfile.gettempdir())
    return {p.name for p in tmp.iterdir() if p.name.startswith(PREFIXES) and owner_tag(p) == RUN_TAG}


def require(finder):
    try:
        return finder()
    except MissingBinary as exc:
        if ON_CI:
            pytest.fail(f"CI must have it: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pg_binaries():
    from drills.stack.binaries import find_postgres

    return require(find_postgres)


@pytest.fixture(scope="session")
def nginx_binary():
    from drills.stack.binaries import find_nginx

    return require(find_nginx)


@pytest.fixture
def list_stack_processes():
    """The function that lists the stack's processes on this machine (pid -> command line)."""
    return stack_processes


@pytest.fixture
def no_leftovers():
    """Fail the test if it leaves a stack process or temp dir behind (compared with before)."""
    before_procs, before_dirs = set(stack_processes()), stack_temp_dirs()
    yield
    import time

    deadline = time.monotonic() + 5  # a stopped process may take a moment to be reaped
    while True:
        procs = {pid: cmd for pid, cmd in stack_processes().items() if pid not in before_procs}
        dirs = stack_temp_dirs() - before_dirs
        if not procs and not dirs:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"left behind: processes {procs}, temp dirs {sorted(dirs)}")
        time.sleep(0.1)
