"""ManagedProcess: readiness deadlines, early exits, certain stops — with real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from drills.errors import ExitedEarly, StartTimeout
from drills.stack.process import ManagedProcess


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_dead(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_start_timeout_fires_on_time_and_stops_the_process(tmp_path: Path) -> None:
    proc = ManagedProcess("sleeper", ["sleep", "30"], log_path=tmp_path / "log", grace_s=1)
    proc.start()
    started = time.monotonic()
    with pytest.raises(StartTimeout) as info:
        proc.wait_ready(lambda: False, timeout_s=0.5)
    elapsed = time.monotonic() - started
    proc.stop()
    assert 0.5 <= elapsed < 1.0, elapsed
    assert info.value.timeout_s == 0.5 and "sleeper" in str(info.value)
    assert wait_dead(proc.pid)


def test_early_exit_is_reported_with_code_and_log_tail(tmp_path: Path) -> None:
    proc = ManagedProcess("crasher", ["sh", "-c", "echo 'cannot bind: boom' >&2; exit 3"], log_path=tmp_path / "log")
    proc.start()
    with pytest.raises(ExitedEarly) as info:
        proc.wait_ready(lambda: False, timeout_s=10)
    assert info.value.exit_code == 3
    assert "cannot bind: boom" in info.value.log_tail
    assert "cannot bind: boom" in str(info.value)
    proc.stop()


def test_stop_is_idempotent_and_reaches_the_whole_group(tmp_path: Path) -> None:
    # The shell ignores SIGTERM's default for its background child: the group kill must get it.
    proc = ManagedProcess("family", ["sh", "-c", "sleep 60 & echo $! > child.pid; wait"], log_path=tmp_path / "log",
                          cwd=tmp_path, grace_s=0.5)
    proc.start()
    proc.wait_ready(lambda: (tmp_path / "child.pid").exists() and (tmp_path / "child.pid").read_text().strip() != "",
                    timeout_s=5)
    child = int((tmp_path / "child.pid").read_text())
    assert alive(child)
    proc.stop()
    proc.stop()
    assert not proc.running
    assert wait_dead(child), "a grandchild in the process group survived stop()"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux-only")
def test_children_die_with_a_killed_parent(tmp_path: Path) -> None:
    """SIGKILL to the Python process (a killed kernel) must not leave its children running."""
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from drills.stack.process import ManagedProcess
        proc = ManagedProcess("orphan", ["sleep", "60"], log_path=Path({str(tmp_path / 'log')!r}))
        proc.start()
        print(proc.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=5)
    assert wait_dead(child), "the child outlived its SIGKILLed parent"


def _ignored_signals(pid: int) -> int:
    """The child's mask of ignored signals (``SigIgn`` in /proc/<pid>/status)."""
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("SigIgn:"))
    return int(line.split()[1], 16)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and the parent-death signal are Linux's")
def test_a_child_of_a_background_job_still_gets_sigint_and_sigquit(tmp_path: Path) -> None:
    """A drill started as a background job (cron, `cmd &`, a CI step) inherits SIGINT and SIGQUIT ignored;
    its servers must not: postgres' death signal is SIGQUIT, and a starting postgres that ignored it
    outlived a SIGKILLed drill (the fault matrix, run from a background job)."""
    script = textwrap.dedent(f"""
        import signal, time
        from pathlib import Path
        from drills.stack.process import ManagedProcess
        assert signal.getsignal(signal.SIGQUIT) is signal.SIG_IGN
        proc = ManagedProcess("background", ["sleep", "60"], log_path=Path({str(tmp_path / 'log')!r}))
        proc.start()
        print(proc.pid, flush=True)
        time.sleep(60)
    """)

    def as_a_background_job() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGQUIT, signal.SIG_IGN)

    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              preexec_fn=as_a_background_job)
    try:
        child = int(parent.stdout.readline())
        assert _ignored_signals(parent.pid) & (1 << (signal.SIGQUIT - 1)), "the premise: the drill ignores SIGQUIT"
        ignored = _ignored_signals(child)
        assert not ignored & (1 << (signal.SIGINT - 1)) and not ignored & (1 << (signal.SIGQUIT - 1)), hex(ignored)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=5)
        assert wait_dead(child), "the child outlived its SIGKILLed parent"
    finally:
        if parent.poll() is None:
            parent.kill()
