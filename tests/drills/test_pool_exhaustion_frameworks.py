"""The pool drill for Flask and Django end to end on the real stack, at its default parameters, then
its falsifiers (the variants are not registered yet: their specs are used directly).

One framework per module-scoped run (``-k flask`` or ``-k django``: about 2 min of stack lock each).
"""

from __future__ import annotations

import time

import pytest

from drills.catalog.pool_exhaustion import wsgi
from drills.findings import Verdict
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


def test_every_check_is_caught_by_its_falsifier(small_run, no_leftovers) -> None:
    spec, run_dir, findings = small_run
    started = time.monotonic()
    result = falsify_drill(spec, findings, run_dir, progress=print)
    print(f"[{spec.name}] falsifiers took {time.monotonic() - started:.0f} s")
    print("\n".join(c.summary() for c in result.catches))
    assert result.passed, result.summary()
    assert sorted(c.key for c in result.catches) == sorted(f.key for f in findings.findings)
