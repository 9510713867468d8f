"""`drills run` interrupted (Ctrl-C, SIGTERM) while its stack serves load: nothing is left behind."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupting_drills_run_stops_the_stack_and_keeps_what_was_measured(
        sig, tmp_path: Path, pg_binaries, nginx_binary, no_leftovers, list_stack_processes) -> None:
    env_runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "drills.cli", "run", "timeout-ladder", "-p", "repeats=3"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**__import__("os").environ, "DRILLS_RUNS_DIR": str(env_runs)})
    try:
        # Wait until requests are flowing through a running stack.
        deadline = time.monotonic() + 90
        for line in proc.stdout:
            if "requests," in line or time.monotonic() > deadline:
                break
        assert list_stack_processes(), "the stack should be running"
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    run_dir = next(env_runs.glob("*-timeout-ladder"))
    assert (run_dir / "partial-observations.json").is_file(), "what was measured is kept"
    assert not (run_dir / "findings.json").exists(), "an interrupted run is not exported as finished"
