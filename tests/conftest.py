"""Shared fixtures: real binaries (skipped with an install hint locally, a failure under CI) and a
leak check that fails any test leaving a process or temp dir of the stack behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from drills.errors import MissingBinary

ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
STACK_MARKERS = ("drills-pg-", "drills-svc-", "drills-nginx-", "drills.app.main")


def stack_processes() -> dict[int, str]:
    """pid -> command line of every process on this machine that belongs to a drills stack."""
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if any(marker in cmdline for marker in STACK_MARKERS):
            found[int(entry.name)] = cmdline.strip()
    return found


def stack_temp_dirs() -> set[str]:
    tmp = Path(tempfile.gettempdir())
    return {p.name for p in tmp.iterdir() if p.name.startswith(("drills-pg-", "drills-svc-", "drills-nginx-"))}


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
