"""Two drills run at once on one machine (two `drills run` processes, each with its own stack,
ports and temp dirs): both finish and pass, and nothing of either is left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LADDER = ["timeout-ladder", "-p", "configurations=recommended", "-p", "repeats=1", "-p", "statement_timeout_s=0.3",
          "-p", "request_budget_s=0.5", "-p", "proxy_read_timeout_s=0.8", "-p", "client_timeout_s=1.2"]
POOL = ["pool-exhaustion", "-p", "configurations=recommended", "-p", "hold_s=0.05", "-p", "workers=1",
        "-p", "pool_min_size=2", "-p", "pool_max_size=4", "-p", "pool_timeout_s=0.5",
        "-p", "concurrency_steps=4,16,64", "-p", "step_s=3", "-p", "warmup_s=1",
        "-p", "oversubscribed_pool_max_size=8"]


def test_two_drills_at_once_both_pass(tmp_path: Path, pg_binaries, nginx_binary, no_leftovers) -> None:
    procs = []
    for name, args in (("ladder", LADDER), ("pool", POOL)):
        env = {**os.environ, "DRILLS_RUNS_DIR": str(tmp_path / name)}
        procs.append(subprocess.Popen([sys.executable, "-m", "drills.cli", "run", *args], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=300)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, output in zip(procs, outputs):
        assert proc.returncode == 0, output[-3000:]
    assert "timeout-ladder" in outputs[0] and "PASSED" in outputs[0]
    assert "pool-exhaustion" in outputs[1] and "PASSED" in outputs[1]
