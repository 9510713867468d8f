"""The proxy-upstreams drill end to end on the real stack, then its falsifiers, then the export."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from drills.catalog import proxy_upstreams
from drills.export import export_run
from drills.findings import Verdict
from drills.paths import papers_dir
from drills.pipeline import falsify_drill, run_drill

pytestmark = pytest.mark.slow

# Scaled down further than the defaults: read timeout 0.5 s, fail_timeout 1 s. The keep-alive bursts
# stay at the default bound: fewer give the race too few chances (8 missed it once in ten rounds).
SMALL = {
    "upstream_read_timeout_s": 0.5, "slow_work_s": 1.0,
    "fail_timeout_s": 1, "probes": 6, "probe_interval_s": 0.05,
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, pg_binaries, nginx_binary):
    run_dir = tmp_path_factory.mktemp("runs") / "20260101T000000Z-proxy-upstreams"
    params = proxy_upstreams.Params.from_mapping(SMALL)
    return run_dir, run_drill(proxy_upstreams.SPEC, params, run_dir, progress=lambda _m: None)


def test_every_hypothesis_holds_on_the_real_stack(small_run, no_leftovers) -> None:
    _, findings = small_run
    verdicts = {f.key: f.verdict for f in findings.findings}
    assert verdicts == dict.fromkeys(verdicts, Verdict.HELD), [
        (f.key, f.verdict.value, f.detail) for f in findings.findings if f.verdict is not Verdict.HELD]
    assert len(verdicts) == 6 and findings.passed
    assert all(f.samples > 0 for f in findings.findings)
    # What nginx and Gunicorn ran with was read back from them, per configuration.
    nginx = {name: findings.settings[name]["nginx"] for name in findings.settings}
    assert nginx["recommended"]["proxy_next_upstream"] == "error"
    assert nginx["retry-timeout"]["proxy_next_upstream"] == "error timeout"
    assert nginx["recommended"]["server"].count("max_fails=3") == 2
    assert nginx["max-fails-1"]["server"].count("max_fails=1 ") == 2
    assert findings.settings["keepalive-inverted"]["service"]["uvicorn"]["timeout_keep_alive"] == 1
    assert findings.settings["recommended"]["service"]["uvicorn"]["timeout_keep_alive"] == 15
    assert findings.settings["recommended"]["service"]["replicas"] == 2


def test_every_check_is_caught_by_its_falsifier_and_the_paper_says_so(small_run, tmp_path: Path, no_leftovers) -> None:
    run_dir, findings = small_run
    # The three anti-pattern slots' falsifiers run the recommended stack, which the drill measured the
    # same way already: judged on that, not run again.
    reused = {"keepalive-ordered": "recommended-keepalive", "no-retry-on-timeout": "recommended-retry",
              "max-fails-tolerant": "recommended-eject"}
    for name in reused:
        assert (run_dir / "falsifiers" / name / "findings.json").is_file(), name
    result = falsify_drill(proxy_upstreams.SPEC, findings, run_dir, progress=lambda _m: None)
    assert result.passed, result.summary()
    for c in result.catches:
        assert c.how == (f"judged on this run's {reused[c.falsifier]} measurement (this stack, measured as "
                         f"{c.key.split('.')[0]} is)" if c.falsifier in reused else ""), (c.falsifier, c.how)
    assert sorted(c.key for c in result.catches) == sorted(f.key for f in findings.findings)
    paper = tmp_path / "timeout-ladders.md"
    shutil.copy(papers_dir() / proxy_upstreams.SPEC.paper, paper)
    first = export_run(paper, run_dir)
    assert first.changed and not export_run(paper, run_dir).changed
    text = paper.read_text(encoding="utf-8")
    assert text.count("✅ caught by `the-defaults`: failed") == 3
    for name in ("keepalive-ordered", "no-retry-on-timeout", "max-fails-tolerant"):
        assert text.count(f"✅ caught by `{name}`: failed") == 1
    assert "BLIND" not in text
