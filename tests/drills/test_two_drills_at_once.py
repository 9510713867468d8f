"""Two drills run at once on one machine (two `drills run` processes, each with its own stack,
ports and temp dirs): both finish, the recommended configuration holds in each, and nothing of either
is left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from drills.findings import Findings, Verdict

pytestmark = pytest.mark.slow

LADDER = ["timeout-ladder", "-p", "configurations=recommended", "-p", "repeats=1", "-p", "statement_timeout_s=0.3",
          "-p", "request_budget_s=0.5", "-p", "proxy_read_timeout_s=0.8", "-p", "client_timeout_s=1.2"]
# hold 0.1 s: 40 req/s, so that the pool, not two stacks sharing two cores, limits the throughput
# (at hold 0.05 s, 80 req/s, the capacity check once measured the machine).
POOL = ["pool-exhaustion", "-p", "configurations=recommended", "-p", "hold_s=0.1", "-p", "workers=1",
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
    # Only the recommended configurations ran: the harms went undemonstrated (inconclusive), which
    # fails each run (exit 1, harms gate too); what ran must have held.
    for proc, output, (name, drill) in zip(procs, outputs, (("ladder", "timeout-ladder"), ("pool", "pool-exhaustion"))):
        assert proc.returncode == 1, output[-3000:]
        findings = Findings.load(next((tmp_path / name).glob(f"*-{drill}")))
        recommended = {f.key: f.verdict for f in findings.findings if f.key.startswith("recommended.")}
        assert recommended and all(v is Verdict.HELD for v in recommended.values()), (recommended, output[-3000:])
