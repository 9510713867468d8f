"""Verdicts and the findings file (drills.findings).

A verdict is held, failed or inconclusive; zero samples or a missing/non-finite measurement is
inconclusive and never held. A run passes only when every recommended hypothesis held. The
findings file round-trips, is written atomically, carries no passwords, and a bad one is an
ExportError that says what to do.
"""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drills.errors import ExportError
from drills.files import write_atomic
from drills.findings import (
    FINDINGS_FILE,
    SCHEMA_VERSION,
    AtLeast,
    AtMost,
    Chart,
    Finding,
    Findings,
    Hypothesis,
    Provenance,
    Verdict,
    Within,
)

SECRET = "hunter2secret"


def hyp(bound, *, recommended: bool = True, key: str = "recommended.claim", min_samples: int = 1) -> Hypothesis:
    return Hypothesis(key, "A claim the paper makes.", bound, recommended, min_samples)


def finding(verdict: Verdict, *, recommended: bool, key: str = "c.h") -> Finding:
    observed = None if verdict is Verdict.INCONCLUSIVE else 1.0
    samples = 0 if verdict is Verdict.INCONCLUSIVE else 3
    return Finding(key, "claim", recommended, "≤ 1 s", observed, "s", samples, verdict, "detail")


def make_findings(findings: list[Finding] | None = None, **overrides) -> Findings:
    base = dict(
        drill="timeout-ladder",
        paper="timeout-ladders.md",
        run_id="20260101T000000Z-timeout-ladder",
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:01:00Z",
        parameters={"statement_timeout_s": 1.0, "workers": 2, "configurations": "recommended,inverted"},
        provenance=Provenance(commit="abc1234", platform="Linux", measuring_s=61.5,
                              versions={"python": "3.11.9", "nginx": "1.26.0"}),
        settings={"recommended": {"postgres": {"statement_timeout": "1s"}, "nginx": {"proxy_read_timeout": "2500ms"}}},
        findings=findings if findings is not None else [
            hyp(AtLeast(100, "%")).judge(100.0, 12, "12/12 on time"),
            hyp(AtMost(0, "requests"), key="recommended.no-proxy-errors").judge(2.0, 30, "2 of 30"),
            hyp(AtLeast(100, "%"), recommended=False, key="inverted.proxy-504").judge(None, 0),
        ],
        charts=[Chart("latency", "latency.png", "Client latency by delay")],
        tables={"requests": [["configuration", "observed"], ["recommended", "database ×2"]]},
        observations=[{"configuration": "recommended", "latency_s": 1.02, "status": 504, "body": "é ✓"}],
    )
    base.update(overrides)
    return Findings(**base)


# -- Hypothesis.judge -----------------------------------------------------------------------------


@pytest.mark.parametrize("bound", [AtMost(10, "ms"), AtLeast(0, "%"), Within(5, 100, "s")])
def test_zero_samples_is_inconclusive_even_if_the_bound_admits(bound) -> None:
    """No samples: inconclusive, never held, although the value itself is within the bound."""
    assert bound.admits(5.0)
    result = hyp(bound).judge(5.0, 0)
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "0 sample(s)" in result.detail


@pytest.mark.parametrize("observed", [None, math.nan, math.inf, -math.inf])
def test_missing_or_non_finite_measurement_is_inconclusive(observed) -> None:
    """None, NaN and ±inf are no measurement: inconclusive, with no number kept."""
    result = hyp(AtMost(1e9, "s")).judge(observed, 50, "extra")
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.observed is None
    assert result.observed_text == "—"
    assert "no measurement" in result.detail and result.detail.endswith("extra")


def test_below_min_samples_is_inconclusive() -> None:
    """A hypothesis that needs 5 samples is not judged on 4."""
    assert hyp(AtMost(1, "s"), min_samples=5).judge(0.5, 4).verdict is Verdict.INCONCLUSIVE
    assert hyp(AtMost(1, "s"), min_samples=5).judge(0.5, 5).verdict is Verdict.HELD


@settings(deadline=None)
@given(observed=st.one_of(st.none(), st.floats()), bound=st.sampled_from(
    [AtMost(1, "s"), AtLeast(1, "s", 0.5), Within(0, 1e308, "s")]))
def test_property_zero_samples_never_holds(observed, bound) -> None:
    """Whatever the value, zero samples never yields held (or failed)."""
    assert hyp(bound).judge(observed, 0).verdict is Verdict.INCONCLUSIVE


CASES = [
    # bound, value, verdict
    (AtMost(1.0, "s"), 1.0, Verdict.HELD),
    (AtMost(1.0, "s"), math.nextafter(1.0, math.inf), Verdict.FAILED),
    (AtMost(1.0, "s", 0.25), 1.25, Verdict.HELD),
    (AtMost(1.0, "s", 0.25), math.nextafter(1.25, math.inf), Verdict.FAILED),
    (AtMost(1.0, "s", 0.25), -5.0, Verdict.HELD),
    (AtMost(0, "requests"), 0.0, Verdict.HELD),
    (AtMost(0, "requests"), 1.0, Verdict.FAILED),
    (AtLeast(100, "%"), 100.0, Verdict.HELD),
    (AtLeast(100, "%"), math.nextafter(100.0, -math.inf), Verdict.FAILED),
    (AtLeast(100, "%", 5), 95.0, Verdict.HELD),
    (AtLeast(100, "%", 5), math.nextafter(95.0, -math.inf), Verdict.FAILED),
    (Within(2.0, 0.5, "s"), 2.0, Verdict.HELD),
    (Within(2.0, 0.5, "s"), 2.5, Verdict.HELD),
    (Within(2.0, 0.5, "s"), 1.5, Verdict.HELD),
    (Within(2.0, 0.5, "s"), math.nextafter(2.5, math.inf), Verdict.FAILED),
    (Within(2.0, 0.5, "s"), math.nextafter(1.5, -math.inf), Verdict.FAILED),
]


@pytest.mark.parametrize(("bound", "value", "verdict"), CASES, ids=[f"{b}:{v!r}" for b, v, _ in CASES])
def test_bounds_at_the_limit_and_just_beyond(bound, value: float, verdict: Verdict) -> None:
    """At the limit (plus tolerance) holds; the next float beyond fails."""
    result = hyp(bound).judge(value, 10, "why")
    assert result.verdict is verdict
    assert result.observed == value and result.samples == 10 and result.detail == "why"
    assert result.expected == str(bound) and result.unit == bound.unit


def test_bound_text_names_limit_unit_and_tolerance() -> None:
    """The expected column reads like the paper: limit, unit and tolerance."""
    assert str(AtMost(20, "ms", tolerance=50)) == "≤ 20 ms (+50 ms tolerance)"
    assert str(AtLeast(100, "%")) == "≥ 100 %"
    assert str(Within(1.5, 0.05, "s")) == "1.5 ± 0.05 s"


def test_configuration_is_the_key_prefix() -> None:
    assert hyp(AtMost(1, "s"), key="inverted.orphan-queries").configuration == "inverted"


def test_zero_samples_never_holds_even_with_min_samples_zero() -> None:
    assert hyp(AtMost(1, "s"), min_samples=0).judge(0.5, 0).verdict is Verdict.INCONCLUSIVE


# -- Findings.passed ------------------------------------------------------------------------------


def test_nothing_judged_does_not_pass() -> None:
    assert make_findings([]).passed is False
    assert make_findings([finding(Verdict.NOT_JUDGED, recommended=True)]).passed is False


def test_an_inconclusive_recommended_finding_fails_the_run() -> None:
    f = make_findings([finding(Verdict.HELD, recommended=True), finding(Verdict.INCONCLUSIVE, recommended=True)])
    assert f.passed is False


def test_a_failed_recommended_finding_fails_the_run() -> None:
    f = make_findings([finding(Verdict.HELD, recommended=True), finding(Verdict.FAILED, recommended=True)])
    assert f.passed is False


@pytest.mark.parametrize("verdict", [Verdict.FAILED, Verdict.INCONCLUSIVE])
def test_a_harm_that_does_not_reproduce_fails_the_run(verdict: Verdict) -> None:
    """Harms gate too: a paper that says an anti-pattern causes a harm is wrong when it does not."""
    f = make_findings([finding(Verdict.HELD, recommended=True), finding(verdict, recommended=False)])
    assert f.passed is False
    assert make_findings([finding(Verdict.HELD, recommended=False)]).passed is True


def test_not_judged_does_not_gate_but_nothing_judged_does_not_pass() -> None:
    """A hypothesis a target could not test neither passes nor fails the run; a run that judged
    none of its gating hypotheses does not pass."""
    some = make_findings([finding(Verdict.HELD, recommended=True), finding(Verdict.NOT_JUDGED, recommended=True)])
    assert some.passed is True
    assert some.summary() == "PASSED: 1 held, 0 failed, 0 inconclusive, 1 not judged"
    none = make_findings([finding(Verdict.NOT_JUDGED, recommended=True), finding(Verdict.NOT_JUDGED, recommended=False)])
    assert none.passed is False


@given(st.lists(st.tuples(st.sampled_from(list(Verdict)), st.booleans()), max_size=8))
def test_property_passed_means_every_judged_hypothesis_held(spec) -> None:
    """passed == (at least one judged finding) and (every judged one held), recommended or not."""
    f = make_findings([finding(v, recommended=r) for v, r in spec])
    gating = [v for v, _ in spec if v is not Verdict.NOT_JUDGED]
    assert f.passed == (bool(gating) and all(v is Verdict.HELD for v in gating))


# -- save / load ----------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    """Everything saved comes back equal, verdicts as Verdict members and charts as Chart."""
    original = make_findings()
    path = original.save(tmp_path)
    assert path == tmp_path / FINDINGS_FILE
    loaded = Findings.load(tmp_path)
    assert loaded == original
    assert [f.verdict for f in loaded.findings] == [Verdict.HELD, Verdict.FAILED, Verdict.INCONCLUSIVE]
    assert all(type(f.verdict) is Verdict for f in loaded.findings)
    assert all(isinstance(c, Chart) for c in loaded.charts)
    assert loaded.passed is original.passed is False
    assert json.loads(path.read_text(encoding="utf-8"))["schema_version"] == SCHEMA_VERSION


def test_to_json_is_deterministic_and_valid() -> None:
    text = make_findings().to_json()
    assert text == make_findings().to_json()
    assert text.endswith("}\n")
    assert json.loads(text)["findings"][0]["verdict"] == "held"


def test_load_missing_folder_or_file(tmp_path: Path) -> None:
    """A folder without findings (or no folder at all) says the run did not finish."""
    for run_dir in (tmp_path / "does-not-exist", tmp_path):
        with pytest.raises(ExportError, match="no findings here.*run the drill again") as info:
            Findings.load(run_dir)
        assert str(run_dir / FINDINGS_FILE) in str(info.value)


@pytest.mark.parametrize("cut", [0, 1, 100, -2])
def test_load_half_written_file(tmp_path: Path, cut: int) -> None:
    """A truncated file is reported as cut off, not as a JSON traceback."""
    full = make_findings().to_json()
    (tmp_path / FINDINGS_FILE).write_text(full[:cut], encoding="utf-8")
    with pytest.raises(ExportError, match="not valid JSON.*cut off"):
        Findings.load(tmp_path)


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_load_wrong_schema_version(tmp_path: Path, version) -> None:
    raw = json.loads(make_findings().to_json())
    raw["schema_version"] = version
    (tmp_path / FINDINGS_FILE).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ExportError, match=f"findings schema {version} is not {SCHEMA_VERSION}.*another version"):
        Findings.load(tmp_path)


def test_load_not_an_object(tmp_path: Path) -> None:
    (tmp_path / FINDINGS_FILE).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ExportError, match="findings schema \\? is not"):
        Findings.load(tmp_path)


def _drop(raw: dict, *path: str | int) -> None:
    target = raw
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]


@pytest.mark.parametrize("path", [("drill",), ("findings",), ("provenance",), ("findings", 0, "verdict"),
                                  ("findings", 0, "key"), ("charts", 0, "caption")])
def test_load_missing_keys(tmp_path: Path, path: tuple) -> None:
    """A file missing a required key is 'incomplete' (ExportError), not a TypeError/KeyError."""
    raw = json.loads(make_findings().to_json())
    _drop(raw, *path)
    (tmp_path / FINDINGS_FILE).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ExportError, match="findings are incomplete.*run the drill again"):
        Findings.load(tmp_path)


def test_load_unknown_verdict(tmp_path: Path) -> None:
    raw = json.loads(make_findings().to_json())
    raw["findings"][0]["verdict"] = "probably"
    (tmp_path / FINDINGS_FILE).write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ExportError, match="incomplete"):
        Findings.load(tmp_path)


@pytest.mark.parametrize("case", ["run dir is a file", "not utf-8"])
def test_load_other_unreadable_files_are_export_errors(tmp_path: Path, case: str) -> None:
    if case == "run dir is a file":
        make_findings().save(tmp_path)
        run_dir = tmp_path / FINDINGS_FILE
    else:
        (tmp_path / FINDINGS_FILE).write_bytes(b'{"drill": "\xff\xfe"}')
        run_dir = tmp_path
    with pytest.raises(ExportError):
        Findings.load(run_dir)


# -- write_atomic ---------------------------------------------------------------------------------


def test_write_atomic_replaces_content_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "paper.md"
    target.write_text("old content\n", encoding="utf-8")
    write_atomic(target, "new\r\ncontent ✅\n")
    assert target.read_bytes() == "new\r\ncontent ✅\n".encode()  # no newline translation
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper.md"]


def test_write_atomic_new_file_is_world_readable_and_keeps_existing_mode(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.json"
    write_atomic(fresh, "{}")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
    private = tmp_path / "private.md"
    private.write_text("x")
    os.chmod(private, 0o600)
    write_atomic(private, "y")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text() == "y"


def test_write_atomic_failure_keeps_old_file_and_cleans_up(tmp_path: Path) -> None:
    """If the write fails midway, the old file is intact and the temp file is gone."""
    target = tmp_path / "findings.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        write_atomic(target, "half \ud800 written")  # a lone surrogate cannot be encoded
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["findings.json"]


# -- redaction -------------------------------------------------------------------------------------


def test_to_json_redacts_planted_passwords(tmp_path: Path) -> None:
    """A password in parameters, settings or provenance never reaches findings.json."""
    f = make_findings(
        parameters={"dsn": f"host=127.0.0.1 password={SECRET} dbname=drills"},
        settings={"recommended": {"postgres": {"conninfo": f"user=drills password='{SECRET} x'"}}},
        provenance=Provenance(commit="abc", platform=f"postgresql://drills:{SECRET}@127.0.0.1:5432/drills",
                              versions={"note": f"PASSWORD={SECRET}"}),
    )
    text = f.to_json()
    assert SECRET not in text
    assert text.count("***") == 4
    f.save(tmp_path)
    assert SECRET.encode() not in (tmp_path / FINDINGS_FILE).read_bytes()
    loaded = Findings.load(tmp_path)
    assert loaded.parameters["dsn"] == "host=127.0.0.1 password=*** dbname=drills"
    assert loaded.provenance.platform == "postgresql://drills:***@127.0.0.1:5432/drills"


def test_redaction_never_changes_other_values(tmp_path: Path) -> None:
    f = make_findings(parameters={"dsn": "password='abc"}, settings={"note": "it's fine"})
    f.save(tmp_path)
    loaded = Findings.load(tmp_path)
    assert loaded.settings == {"note": "it's fine"}
    assert loaded.provenance == f.provenance


def test_password_as_a_mapping_value_is_redacted() -> None:
    assert SECRET not in make_findings(settings={"postgres": {"password": SECRET}}).to_json()
