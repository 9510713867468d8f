"""Falsification: what a falsifier's run did to each hypothesis it names, and how the paper shows it.

Only *failed* under the falsifier counts as caught: held or inconclusive is a blind check, and so is
a hypothesis no falsifier names, or a falsifier that could not run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drills.catalog import all_drills
from drills.errors import ExportError
from drills.export.render import render_block
from drills.findings import AtLeast, AtMost, Findings, Hypothesis, Provenance, Verdict
from drills.history import PaperStamp
from drills.pipeline import Catch, Falsification, Falsifier
from drills.pipeline.falsify import catches_of, unfalsified

FALSIFIER: Falsifier = Falsifier("proxy-first", "the inverted stack", "recommended", lambda p, s: s,
                                 ("recommended.a", "recommended.b", "recommended.c"))


def judged(**observed: float | None) -> list:
    return [Hypothesis(f"recommended.{k}", "claim", AtMost(0, "requests"), True).judge(v, 5 if v is not None else 0)
            for k, v in observed.items()]


def test_only_failed_is_caught() -> None:
    catches = catches_of(FALSIFIER, judged(a=3.0, b=0.0, c=None))
    assert [(c.key, c.verdict, c.caught) for c in catches] == [
        ("recommended.a", Verdict.FAILED, True), ("recommended.b", Verdict.HELD, False),
        ("recommended.c", Verdict.INCONCLUSIVE, False)]
    assert catches[0].summary().startswith("caught by `proxy-first` (the inverted stack): failed, 3 requests")
    assert catches[1].summary().startswith("BLIND under `proxy-first` (the inverted stack): held")


def test_a_hypothesis_the_falsifier_did_not_judge_is_not_caught() -> None:
    (c,) = [c for c in catches_of(FALSIFIER, judged(a=3.0)) if c.key == "recommended.b"]
    assert c.verdict is Verdict.INCONCLUSIVE and not c.caught and "not judged" in c.detail


def test_a_falsification_passes_only_when_every_check_was_caught() -> None:
    caught = Falsification("d", catches_of(FALSIFIER, judged(a=1.0, b=1.0, c=1.0)))
    assert caught.passed and caught.summary() == "FALSIFIED: 3/3 hypotheses caught"
    blind = Falsification("d", catches_of(FALSIFIER, judged(a=1.0, b=0.0, c=1.0)))
    assert not blind.passed and "blind: recommended.b (held under proxy-first)" in blind.summary()
    assert not Falsification("d", caught.catches, unfalsified=["recommended.z"]).passed
    assert not Falsification("d", caught.catches, errors={"x": "nginx did not start"}).passed
    assert not Falsification("d").passed, "no catch at all shows nothing"
    assert unfalsified([FALSIFIER], ["recommended.a", "recommended.z"]) == ["recommended.z"]


def test_a_falsification_round_trips_through_its_file(tmp_path: Path) -> None:
    assert Falsification.load(tmp_path) is None
    f = Falsification("d", catches_of(FALSIFIER, judged(a=1.0, b=0.0, c=None)), ["recommended.z"], {"x": "boom"})
    f.save(tmp_path)
    assert Falsification.load(tmp_path) == f
    (tmp_path / "falsification.json").write_text("{", encoding="utf-8")
    with pytest.raises(ExportError, match="drills falsify"):
        Falsification.load(tmp_path)


def findings_of(keys: list[str]) -> Findings:
    return Findings(drill="timeout-ladder", paper="p.md", run_id="r", started_at="s", finished_at="2026-01-01T00:00:00Z",
                    parameters={}, provenance=Provenance(), settings={},
                    findings=[Hypothesis(k, "claim", AtLeast(100, "%"), True).judge(100.0, 3) for k in keys])


def test_the_paper_shows_beside_each_verdict_how_it_was_made_to_fail() -> None:
    findings = findings_of(["recommended.a", "recommended.b", "recommended.z"])
    f = Falsification("timeout-ladder", catches_of(FALSIFIER, judged(a=4.0, b=0.0, c=1.0))[:2], ["recommended.z"])
    block = render_block(findings, {}, falsification=f)
    rows = {line.split(" | ")[0].split("</a>")[-1]: line for line in block.splitlines()
            if line.startswith("| <a id=") and " | claim | " in line}
    assert rows["`recommended.a`"].endswith("| ✅ caught by `proxy-first`: failed, 4 requests |")
    assert rows["`recommended.b`"].endswith("| ❌ BLIND under `proxy-first`: held, 0 requests |")
    assert rows["`recommended.z`"].endswith("| ❌ no falsifier |")
    assert "**Blind checks — not verified:**" in block and "How each check was made to fail" in block
    stamp = PaperStamp.read(f"<!-- verified:timeout-ladder:begin -->{block}<!-- verified:timeout-ladder:end -->",
                            "timeout-ladder")
    assert stamp is not None and stamp.falsified is False
    passed = render_block(findings_of(["recommended.a"]), {},
                          falsification=Falsification("timeout-ladder", catches_of(FALSIFIER, judged(a=4.0))[:1]))
    assert "Every check can fail: each of the 1 hypotheses came out *failed*" in passed


@pytest.mark.parametrize("spec", all_drills(), ids=lambda s: s.name)
def test_each_falsifier_names_hypotheses_of_its_drill_in_its_own_configuration(spec) -> None:
    keys = {f.key for f in spec.judge(spec.params(), {})}
    for falsifier in spec.falsifiers:
        assert falsifier.configuration in spec.configuration_names
        assert set(falsifier.catches) <= keys, set(falsifier.catches) - keys


def test_the_timeout_ladder_has_a_falsifier_for_every_hypothesis() -> None:
    (spec,) = [s for s in all_drills() if s.name == "timeout-ladder"]
    assert unfalsified(spec.falsifiers, [f.key for f in spec.judge(spec.params(), {})]) == []


def test_catch_summary_names_its_numbers() -> None:
    c = Catch("recommended.a", "proxy-first", "the inverted stack", Verdict.FAILED, "24 requests", "24 of 30")
    assert c.summary() == "caught by `proxy-first` (the inverted stack): failed, 24 requests — 24 of 30"


def test_a_falsifier_takes_only_the_measurements_its_hypotheses_are_judged_on() -> None:
    f: Falsifier = Falsifier("x", "harm", "recommended", lambda p, s: s,
                             ("recommended.knee", "recommended.flat"))
    assert f.measurements(("recommended", "no-shedding")) == ("recommended",)
    both: Falsifier = Falsifier("y", "harm", "recommended", lambda p, s: s,
                                ("recommended.flat", "no-shedding.p99"))
    assert both.measurements(("recommended", "no-shedding")) == ("recommended", "no-shedding")
    unnamed: Falsifier = Falsifier("z", "harm", "recommended", lambda p, s: s, ("recommended.keepalive",))
    assert unnamed.measurements(("recommended-keepalive", "recommended-retry")) == (
        "recommended-keepalive", "recommended-retry"), "keys that name no measurement: every one is taken"


@pytest.mark.parametrize("spec", all_drills(), ids=lambda s: s.name)
def test_every_falsifier_catches_only_what_its_configuration_measures(spec) -> None:
    """Else its run would take no measurement its hypotheses are judged on, and catch nothing."""
    by_name = {c.name: c for c in spec.configurations}
    for f in spec.falsifiers:
        every = by_name[f.configuration].measurements
        taken = f.measurements(every)
        assert taken, f"{spec.name}: falsifier {f.name} takes no measurement of {f.configuration}"
        assert {k.split(".", 1)[0] for k in f.catches} <= set(taken) or taken == every, (spec.name, f.name, taken)


def test_the_provenance_names_the_machine_and_that_every_component_shared_it() -> None:
    findings = findings_of(["recommended.a"])
    findings.provenance = Provenance(machine="AMD EPYC, 2 logical CPUs, 23.5 GiB memory", load_generator="Locust")
    block = render_block(findings, {})
    assert "| machine | AMD EPYC, 2 logical CPUs, 23.5 GiB memory |" in block
    assert "| where | every component (PostgreSQL, Gunicorn, nginx, Locust) on this one host" in block
    findings.provenance = Provenance(load_generator="the drill's own HTTP client")
    assert "nginx, the drill's own HTTP client) on this one host" in render_block(findings, {})
    findings.provenance = Provenance()
    assert "| machine |" not in render_block(findings, {}), "a run recorded before the machine was: no row"


# -- affordable falsifiers: a narrower load, or the drill run's own measurement --------------------


def spec_named(name: str):
    (spec,) = [s for s in all_drills() if s.name == name]
    return spec


@pytest.mark.parametrize("spec", all_drills(), ids=lambda s: s.name)
def test_a_falsifier_narrows_only_the_load_never_a_prediction(spec) -> None:
    params = spec.params()
    for f in spec.falsifiers:
        narrowed = f.params_for(params)
        changed = {k for k, v in narrowed.to_dict().items() if v != params.to_dict()[k]}
        assert changed <= set(type(params).LOAD_FIELDS), (f.name, changed)


def test_a_narrowing_outside_the_load_fields_is_refused() -> None:
    spec = spec_named("pool-exhaustion")
    wrong: Falsifier = Falsifier("x", "harm", "recommended", lambda p, s: s, ("recommended.a",),
                                 narrow=lambda p: {"pool_max_size": 2})
    with pytest.raises(ValueError, match="may narrow only the load .*concurrency_steps.*not pool_max_size"):
        wrong.params_for(spec.params())


def test_the_pool_falsifiers_send_every_step_their_checks_are_judged_on() -> None:
    """The plateau falsifier keeps the very steps the capacity and queue checks read; the peak ones
    keep the last step, where the census, the admin probes and the overload are."""
    spec = spec_named("pool-exhaustion")
    params = spec.params()
    by_name = {f.name: f for f in spec.falsifiers}
    plateau = by_name["pool-smaller-than-declared"].params_for(params)
    assert plateau.steps() == params.plateau_users() == [32, 64]
    assert plateau.plateau_users() == params.plateau_users()
    for name in ("pool-larger-than-declared", "proxy-gives-up-first", "no-superuser-reserve",
                 "oversubscribed-in-recommended"):
        assert by_name[name].params_for(params).steps() == [params.steps()[-1]] == [128], name
    for name in ("server-fits-the-pools", "oversubscribed-without-reserve", "unbounded-queue"):
        assert by_name[name].params_for(params) == params, "one step already"


def test_the_load_falsifier_of_the_plateau_sends_the_steps_around_capacity() -> None:
    spec = spec_named("load-capacity")
    params = spec.params()
    (shedding,) = [f for f in spec.falsifiers if f.name == "shedding-switched-on"]
    narrowed = shedding.params_for(params)
    assert params.capacity_rps == 80
    assert narrowed.rates() == narrowed.saturation_rates() == params.saturation_rates() == [70, 90, 110]
    knee = [f for f in spec.falsifiers if "recommended.knee-below-capacity" in f.catches]
    assert knee and all(f.params_for(params) == params for f in knee), "the knee is located among every step"


def test_a_falsifier_is_judged_on_the_drill_run_only_where_it_runs_that_very_stack() -> None:
    from drills.catalog.proxy_upstreams.observations import KINDS
    from drills.pipeline.loop import reusable

    spec = spec_named("proxy-upstreams")
    params = spec.params()
    reused = {f.name: reusable(spec, params, f) for f in spec.falsifiers}
    assert reused == {"the-defaults": None, "keepalive-ordered": "recommended", "no-retry-on-timeout": "recommended",
                      "max-fails-tolerant": "recommended"}
    for f in spec.falsifiers:
        if f.same_as:
            slot_run, source_run = f.same_as
            assert KINDS[slot_run] == KINDS[source_run], "measured by the same procedure"
    # A falsifier declaring same_as whose harmful stack is not that configuration's: run, not reused.
    (ordered,) = [f for f in spec.falsifiers if f.name == "keepalive-ordered"]
    import dataclasses

    other = dataclasses.replace(ordered, stack=lambda p, s: dataclasses.replace(s, replicas=1))
    assert reusable(spec, params, other) is None
    bad = dataclasses.replace(ordered, same_as=("keepalive-inverted", "no-such-measurement"))
    with pytest.raises(ValueError, match="names no measurement"):
        reusable(spec, params, bad)


def test_a_reused_judgment_of_other_parameters_is_not_taken(tmp_path: Path) -> None:
    from drills.pipeline.loop import _already_judged

    spec = spec_named("proxy-upstreams")
    params = spec.params()
    (ordered,) = [f for f in spec.falsifiers if f.name == "keepalive-ordered"]
    assert _already_judged(spec, params, ordered, tmp_path) is None, "nothing saved: the falsifier runs"
    saved = findings_of(["keepalive-inverted.stale-connection-errors"])
    saved.drill, saved.falsifier, saved.parameters = spec.name, ordered.name, params.to_dict()
    saved.save(tmp_path)
    assert _already_judged(spec, params, ordered, tmp_path) is not None
    assert _already_judged(spec, params.replace(probes=7), ordered, tmp_path) is None


def test_the_paper_says_how_a_falsifier_was_measured() -> None:
    c = Catch("recommended.a", "peak-only", "no reserve", Verdict.FAILED, "0 %", "0/3",
              "only concurrency_steps=128 (what its checks are judged on)")
    assert c.summary() == ("caught by `peak-only` (no reserve; only concurrency_steps=128 (what its checks are "
                           "judged on)): failed, 0 % — 0/3")


def test_each_drill_names_what_sends_its_load() -> None:
    """The timeout ladder and proxy-upstreams send with their own client, not Locust."""
    assert {s.name: s.load_generator for s in all_drills()} == {
        "timeout-ladder": "the drill's own HTTP client", "proxy-upstreams": "the drill's own HTTP client",
        "pool-exhaustion": "Locust", "load-capacity": "Locust",
        "retry-amplification": "the drill's own HTTP client", "rolling-restart": "the drill's own HTTP client",
        "timeout-ladder-flask": "the drill's own HTTP client",
        "timeout-ladder-django": "the drill's own HTTP client",
        "pool-exhaustion-flask": "Locust", "pool-exhaustion-django": "Locust"}
