"""The timeout ladder for Flask and Django end to end, on the real stack: the notebook through
papermill, every check caught by its falsifier, and the verdicts exported beside each other.

One framework per module-scoped run (``-k flask`` or ``-k django`` holds the stack lock for ~3 min).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drills.catalog import timeout_ladder
from drills.execute import run_notebook
from drills.export import export_run
from drills.export.family import Member, export_family
from drills.findings import Findings, Verdict
from drills.paths import papers_dir
from drills.pipeline import Falsification

pytestmark = pytest.mark.slow

# Scaled down further than the defaults, the ladder in order: statement 0.5 < budget 0.8 < Gunicorn's
# timeout 1 (its abort by 2 s) < proxy 2.5 < client 3.5; one sync worker, so one request at a time.
SMALL = {
    "statement_timeout_s": 0.5, "request_budget_s": 0.8, "sync_timeout_s": 1, "proxy_read_timeout_s": 2.5,
    "client_timeout_s": 3.5, "inverted_proxy_read_timeout_s": 0.5, "inverted_statement_timeout_s": 1.0,
    "inverted_request_budget_s": 1.5, "gunicorn_timeout_s": 1, "heartbeat_query_s": 2.5, "heartbeat_block_s": 2.5,
    "repeats": 1, "workers": 1, "concurrency": 1,
}
SPECS = {"flask": timeout_ladder.FLASK_SPEC, "django": timeout_ladder.DJANGO_SPEC}


@pytest.fixture(scope="module", params=list(SPECS))
def small_run(request, tmp_path_factory, pg_binaries, nginx_binary):
    spec = SPECS[request.param]
    run_dir = tmp_path_factory.mktemp("run") / f"20260101T000000Z-{spec.name}"
    run_dir.mkdir()
    return spec, run_notebook(spec, spec.params.from_mapping(SMALL), run_dir=run_dir)


def test_notebook_verifies_every_hypothesis(small_run, no_leftovers) -> None:
    spec, run = small_run
    findings = run.findings
    verdicts = {f.key: f.verdict for f in findings.findings}
    assert verdicts == dict.fromkeys(verdicts, Verdict.HELD), [
        (f.key, f.verdict.value, f.detail) for f in findings.findings if f.verdict is not Verdict.HELD]
    assert len(verdicts) == 12 and findings.passed and findings.parameters["framework"] == spec.framework
    assert all(f.samples > 0 for f in findings.findings)
    # Each configuration ran the worker class it is about, read back from Gunicorn.
    service = {name: findings.settings[name]["service"] for name in timeout_ladder.WSGI_CONFIGURATIONS}
    assert {name: (s["framework"], s["worker_class"], s["threads"]) for name, s in service.items()} == {
        "recommended": (spec.framework, "sync", 1), "inverted": (spec.framework, "sync", 1),
        "heartbeat": (spec.framework, "sync", 1), "gthread": (spec.framework, "gthread", 4)}
    assert service["recommended"]["gunicorn"]["timeout"] == 1
    assert findings.settings["recommended"]["ladder_s"]["worker_timeout_s"] == 1.0


def test_every_check_is_caught_by_its_falsifier(small_run, tmp_path: Path, no_leftovers) -> None:
    spec, run = small_run
    run_dir = tmp_path / "runs" / run.run_dir.name
    shutil.copytree(run.run_dir, run_dir)
    result = subprocess.run([sys.executable, "-m", "drills.cli", "falsify", spec.name, "--run-dir", str(run_dir)],
                            capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"[{spec.name}] FALSIFIED: 12/12 hypotheses caught" in result.stdout
    falsification = Falsification.load(run_dir)
    assert falsification is not None and falsification.passed
    print("\n".join(c.summary() for c in falsification.catches))

    # The paper: the run's own section, and the family's side by side (FastAPI not run here).
    paper = tmp_path / "timeout-ladders.md"
    shutil.copy(papers_dir() / spec.paper, paper)
    export_run(paper, run_dir)
    members = [Member(m.framework, m.name, Findings.load(run_dir), falsification) if m is spec
               else Member(m.framework, m.name) for m in timeout_ladder.SPECS]
    assert export_family(paper, "timeout-ladder", members)
    text = paper.read_text(encoding="utf-8")
    own = text[text.index(f"<!-- verified:{spec.name}:begin -->"):text.index(f"<!-- verified:{spec.name}:end -->")]
    # Counted in its own section: the other framework's section names the same falsifier.
    assert own.count("✅ caught by `worker-timeout-past-proxy`: failed") == 1
    block = text[text.index("<!-- verified:timeout-ladder-frameworks:begin -->"):
                 text.index("<!-- verified:timeout-ladder-frameworks:end -->")]
    row = next(line for line in block.splitlines() if line.startswith("| `heartbeat.sync-request-cut`"))
    assert "✅ held" in row and "caught by `timeout-past-every-request`" in row and "not run" in row
