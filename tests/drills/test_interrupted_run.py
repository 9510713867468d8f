"""`drills run` interrupted (Ctrl-C, SIGTERM) while its stack serves load: nothing is left behind."""

from __future__ import annotations

import json
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
    # A scheduler tells an interruption from a failed claim (1) or a drill that could not run (2).
    assert proc.returncode == 128 + sig, proc.returncode
    run_dir = next(env_runs.glob("*-timeout-ladder"))
    partial = json.loads((run_dir / "partial.json").read_text(encoding="utf-8"))
    # What was measured is kept, and the run says where it stopped.
    assert partial["stopped_at"].startswith("configuration 1/3 (recommended), measuring"), partial["stopped_at"]
    assert "KeyboardInterrupt" in partial["error"] and partial["in_progress"]["rows"], partial
    assert not (run_dir / "findings.json").exists(), "an interrupted run is not exported as finished"
