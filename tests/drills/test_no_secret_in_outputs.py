"""A planted database password appears in no output: findings, executed notebook, logs, paper, CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drills.catalog import timeout_ladder
from drills.findings import Findings, Verdict
from drills.paths import papers_dir

pytestmark = pytest.mark.slow

SECRET = "planted-S3cret-7f3a9c"


def test_a_planted_password_never_leaves_the_stack(tmp_path: Path, pg_binaries, nginx_binary, no_leftovers) -> None:
    runs = tmp_path / "runs"
    env = {**os.environ, "DRILLS_DB_PASSWORD": SECRET, "DRILLS_RUNS_DIR": str(runs)}
    params = ["-p", "configurations=recommended", "-p", "repeats=1", "-p", "statement_timeout_s=0.3",
              "-p", "request_budget_s=0.5", "-p", "proxy_read_timeout_s=0.8", "-p", "client_timeout_s=1.2"]
    result = subprocess.run([sys.executable, "-m", "drills.cli", "-v", "run", "timeout-ladder", *params],
                            capture_output=True, text=True, env=env, timeout=300)
    # Only the recommended ladder ran: it held, and the harms the paper claims went undemonstrated
    # (inconclusive), which fails the run (exit 1) — harms gate too.
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    run_dir = next(runs.glob("*-timeout-ladder"))
    verdicts = {f.key: f.verdict for f in Findings.load(run_dir).findings}
    assert all(v is Verdict.HELD for k, v in verdicts.items() if k.startswith("recommended.")), verdicts
    paper = tmp_path / "paper" / timeout_ladder.SPEC.paper
    shutil.copytree(papers_dir(), paper.parent)
    from drills.export import export_run

    export_run(paper, run_dir)
    outputs = {"CLI output": result.stdout + result.stderr}
    for path in [*run_dir.rglob("*"), *paper.parent.rglob("*"), runs / "history.jsonl"]:
        if path.is_file():
            outputs[str(path)] = path.read_bytes().decode("utf-8", "replace")
    assert len(outputs) >= 6 and any("findings.json" in name for name in outputs)
    leaked = [name for name, text in outputs.items() if SECRET in text]
    assert not leaked, f"the planted password appears in {leaked}"
