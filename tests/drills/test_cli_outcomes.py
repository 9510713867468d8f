"""What `drills run` and `drills verify` return: 1 for a failed verdict, 2 for a drill over its limit,
with the run folder (executed notebook, HTML report) kept and nothing left running."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drills.paths import notebooks_dir, papers_dir

pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> dict[str, str]:
    """A throwaway copy of the project's notebooks and papers, so exports never touch the real papers."""
    shutil.copytree(notebooks_dir(), tmp_path / "notebooks")
    shutil.copytree(papers_dir(), tmp_path / "papers")
    return {**os.environ, "DRILLS_ROOT": str(tmp_path), "DRILLS_RUNS_DIR": str(tmp_path / "runs")}


def drills(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "drills.cli", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_a_failed_recommended_hypothesis_exits_1_and_is_exported(project, pg_binaries, nginx_binary,
                                                                  no_leftovers) -> None:
    # Only the heartbeat configuration runs: the recommended ladder's hypotheses have no samples,
    # which is inconclusive, which fails the run.
    result = drills(project, "verify", "timeout-ladder", "-p", "configurations=heartbeat",
                    "-p", "gunicorn_timeout_s=1", "-p", "heartbeat_await_s=1.5", "-p", "heartbeat_block_s=2.5")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert re.search(r"^timeout-ladders.md\s+timeout-ladder\s+FAILED\s+2\s+0\s+8\b", result.stdout, re.M), \
        result.stdout[-2000:]
    paper = Path(project["DRILLS_ROOT"]) / "papers" / "timeout-ladders.md"
    text = paper.read_text(encoding="utf-8")
    assert "— FAILED (2 held, 0 failed, 8 inconclusive)" in text
    # verify ran the falsifiers of the configurations that ran: the heartbeat's two checks can fail.
    assert text.count("✅ caught by `heartbeat-cannot-cut`: failed") == 2
    assert text.count("➖ not run (its configuration did not run)") == 8
    # Everything of one verify lands in one folder: runs/<UTC timestamp>/<drill>/.
    run_dir = next((Path(project["DRILLS_RUNS_DIR"])).glob("*/timeout-ladder"))
    report = (run_dir / "timeout-ladder.html").read_text(encoding="utf-8")
    assert "heartbeat.blocked-loop-killed" in report and "params_from" not in report  # code hidden
    history = drills(project, "history").stdout
    assert re.search(r"timeout-ladder\s+FAILED\s+2 held, 0 failed, 8 inconclusive", history), history


def test_a_drill_over_its_time_limit_is_stopped_and_exits_2(project, pg_binaries, nginx_binary,
                                                             no_leftovers) -> None:
    result = drills(project, "run", "timeout-ladder", "--time-limit", "8", "-p", "repeats=3")
    assert result.returncode == 2, result.stdout[-3000:] + result.stderr[-3000:]
    assert "timed out after its limit of 8 s" in result.stderr
    run_dir = next((Path(project["DRILLS_RUNS_DIR"])).glob("*-timeout-ladder"))
    assert (run_dir / "partial.json").is_file() and (run_dir / "timeout-ladder.html").is_file()
    assert not (run_dir / "findings.json").exists()
