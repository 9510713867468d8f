"""The rolling-restart drill end to end on the real stack, through its notebook, then its falsifiers."""

from __future__ import annotations

import pytest

from drills.catalog import rolling_restart
from drills.execute import run_notebook
from drills.findings import Verdict
from drills.pipeline import falsify_drill

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, pg_binaries, nginx_binary):
    run_dir = tmp_path_factory.mktemp("runs") / "20260101T000000Z-rolling-restart"
    params = rolling_restart.Params()
    # Through its notebook, as papermill runs it for a user.
    return run_dir, run_notebook(rolling_restart.SPEC, params, run_dir=run_dir).findings


def test_every_hypothesis_holds_on_the_real_stack(small_run, no_leftovers) -> None:
    _, findings = small_run
    verdicts = {f.key: f.verdict for f in findings.findings}
    assert verdicts == dict.fromkeys(verdicts, Verdict.HELD), [
        (f.key, f.verdict.value, f.detail) for f in findings.findings if f.verdict is not Verdict.HELD]
    assert len(verdicts) == 8 and findings.passed


def test_every_check_is_caught_by_its_falsifier(small_run, no_leftovers) -> None:
    run_dir, findings = small_run
    result = falsify_drill(rolling_restart.SPEC, findings, run_dir, progress=print)
    assert result.passed, result.summary()
    assert sorted(c.key for c in result.catches) == sorted(f.key for f in findings.findings)
