"""The retry-amplification drill end to end on the real stack, through its notebook, then its falsifiers."""

from __future__ import annotations

import pytest

from drills.catalog import retry_amplification
from drills.execute import run_notebook
from drills.findings import Verdict
from drills.pipeline import falsify_drill

pytestmark = pytest.mark.slow

# Fewer requests than the defaults where a count per request is judged; the jitter and the storm
# keep theirs: fewer clients cannot resolve a peak, a shorter storm cannot show a recovery.
SMALL = {"amplify_requests": 2, "resend_requests": 1, "key_requests": 2, "conflict_pairs": 4, "deadlock_pairs": 1}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, pg_binaries, nginx_binary):
    run_dir = tmp_path_factory.mktemp("runs") / "20260101T000000Z-retry-amplification"
    params = retry_amplification.Params.from_mapping(SMALL)
    # Through its notebook, as papermill runs it for a user.
    return run_dir, run_notebook(retry_amplification.SPEC, params, run_dir=run_dir).findings


def test_every_hypothesis_holds_on_the_real_stack(small_run, no_leftovers) -> None:
    _, findings = small_run
    verdicts = {f.key: f.verdict for f in findings.findings}
    assert verdicts == dict.fromkeys(verdicts, Verdict.HELD), [
        (f.key, f.verdict.value, f.detail) for f in findings.findings if f.verdict is not Verdict.HELD]
    assert len(verdicts) == 16 and findings.passed
    nginx = {name: findings.settings[name]["nginx"] for name in findings.settings}
    assert nginx["recommended"]["proxy_next_upstream"] == "error"
    assert nginx["naive"]["proxy_next_upstream"] == "error timeout http_502 http_503 http_504"
    assert findings.settings["recommended"]["client"]["budget_ratio"] == 0.1
    assert findings.settings["no-budget"]["client"]["budget_ratio"] == 0


def test_every_check_is_caught_by_its_falsifier(small_run, no_leftovers) -> None:
    run_dir, findings = small_run
    result = falsify_drill(retry_amplification.SPEC, findings, run_dir, progress=lambda _m: None)
    assert result.passed, result.summary()
    assert sorted(c.key for c in result.catches) == sorted(f.key for f in findings.findings)
