"""The pool drill for Flask and Django end to end on the real stack, at its default parameters, then
its falsifiers, and the verdicts exported beside each other.

One framework per module-scoped run (``-k flask`` or ``-k django``: about 2 min of stack lock each).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from drills import catalog
from drills.catalog.pool_exhaustion import wsgi
from drills.export import export_run
from drills.export.family import Member, export_family
from drills.findings import Verdict
from drills.paths import papers_dir
from drills.pipeline import falsify_drill, run_drill

pytestmark = pytest.mark.slow

SPECS = {"flask": wsgi.FLASK_SPEC, "django": wsgi.DJANGO_SPEC}


@pytest.fixture(scope="module", params=list(SPECS))
def small_run(request, tmp_path_factory, pg_binaries, nginx_binary):
    spec = SPECS[request.param]
    run_dir = tmp_path_factory.mktemp("runs") / f"20260101T000000Z-{spec.name}"
    started = time.monotonic()
    findings = run_drill(spec, spec.params(), run_dir, progress=print)
    print(f"[{spec.name}] run took {time.monotonic() - started:.0f} s")
    return spec, run_dir, findings


def test_every_hypothesis_holds_on_the_real_stack(small_run, no_leftovers) -> None:
    spec, _, findings = small_run
    for f in findings.findings:
        print(f"[{spec.name}] {f.key}: {f.verdict.value} {f.observed_text} (n {f.samples}) {f.detail}")
    verdicts = {f.key: f.verdict for f in findings.findings}
    assert verdicts == dict.fromkeys(verdicts, Verdict.HELD), [
        (f.key, f.verdict.value, f.detail) for f in findings.findings if f.verdict is not Verdict.HELD]
    assert len(verdicts) == 3 and findings.passed and findings.parameters["framework"] == spec.framework
    # Each configuration ran gthread workers with more threads than pool connections, read back.
    service = {name: findings.settings[name]["service"] for name in wsgi.CONFIGURATIONS}
    assert {name: (s["framework"], s["worker_class"], s["threads"]) for name, s in service.items()} == {
        "recommended": (spec.framework, "gthread", 8), "gthread": (spec.framework, "gthread", 40)}


def test_every_check_is_caught_by_its_falsifier(small_run, tmp_path: Path, no_leftovers) -> None:
    spec, run_dir, findings = small_run
    started = time.monotonic()
    result = falsify_drill(spec, findings, run_dir, progress=print)
    print(f"[{spec.name}] falsifiers took {time.monotonic() - started:.0f} s")
    print("\n".join(c.summary() for c in result.catches))
    assert result.passed, result.summary()
    assert sorted(c.key for c in result.catches) == sorted(f.key for f in findings.findings)

    # The paper: the run's own section, and the family's side by side (FastAPI, the other framework not run).
    paper = tmp_path / spec.paper
    shutil.copy(papers_dir() / spec.paper, paper)
    assert export_run(paper, run_dir).changed
    members = [Member(m.framework, m.name, findings, result) if m is spec else Member(m.framework, m.name)
               for m in catalog.family("pool-exhaustion")]
    assert export_family(paper, "pool-exhaustion", members)
    text = paper.read_text(encoding="utf-8")
    block = text[text.index("<!-- verified:pool-exhaustion-frameworks:begin -->"):
                 text.index("<!-- verified:pool-exhaustion-frameworks:end -->")]
    row = next(line for line in block.splitlines() if line.startswith("| `gthread.pool-503-on-time`"))
    assert "✅ held" in row and "caught by `framework-default-pool-timeout`" in row and "not run" in row
