"""The guard in front of targets: loopback by default, other hosts only when named, with caps,
refused before any name lookup or connection; credentials never in a parameter or a message."""

from __future__ import annotations

import socket
import time

import pytest

from drills.catalog import load_capacity, pool_exhaustion, timeout_ladder
from drills.errors import ParameterError
from drills.findings import AtLeast, Hypothesis, Verdict
from drills.pipeline.targets import RateCap, capabilities_of, pg_seconds, restrict
from drills.stack.loadgen import LoadPlan, LoadStep
from drills.target import Capability, resolve_target
from drills.target.guard import check_target_url, is_loopback

SECRET = "planted-S3cret-guard"


@pytest.fixture
def no_network(monkeypatch):
    """Any name lookup or connection attempt fails the test: the guard must decide from the text."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"the guard touched the network: {args!r}")

    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "create_connection"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.delenv("DRILLS_TARGET_DSN", raising=False)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://127.3.2.1", "http://[::1]:9000/api",
                                 "https://localhost:8443", "http://LOCALHOST:1"])
def test_loopback_targets_need_no_allow_list_and_no_caps(url, no_network) -> None:
    spec = load_capacity.Params(target_url=url).target()
    assert spec is not None and spec.url.local and spec.max_rps is None


@pytest.mark.parametrize("url", ["http://staging.example.com", "http://10.0.0.5:8000", "http://0.0.0.0:80",
                                 "http://169.254.169.254", "http://127.0.0.1.nip.io", "http://[::ffff:10.0.0.1]",
                                 "https://localhost.example.com"])
def test_any_other_host_is_refused_without_a_lookup(url, no_network) -> None:
    with pytest.raises(ParameterError) as err:
        timeout_ladder.Params(target_url=url)
    assert err.value.name == "target_url" and "allow_hosts" in str(err.value)


def test_an_allowed_host_still_needs_a_rate_and_a_duration_cap(no_network) -> None:
    base = {"target_url": "https://staging.example.com", "allow_hosts": "staging.example.com"}
    with pytest.raises(ParameterError) as err:
        load_capacity.Params(**base)
    assert err.value.name == "target_max_rps"
    with pytest.raises(ParameterError) as err:
        load_capacity.Params(**base, target_max_rps=500)
    assert err.value.name == "target_max_duration_s"
    params = load_capacity.Params(**base, target_max_rps=500, target_max_duration_s=120)
    assert params.target().url.port == 443
    # Named the same way only: another host of the same domain stays refused.
    with pytest.raises(ParameterError):
        load_capacity.Params(**{**base, "target_url": "https://prod.example.com"}, target_max_rps=500,
                             target_max_duration_s=120)


def test_a_plan_beyond_the_caps_is_refused_naming_the_cap(no_network) -> None:
    base = {"target_url": "http://10.1.2.3:8000", "allow_hosts": "10.1.2.3"}
    # Default plan: 6 steps × 6 s + 12 s overload + drains = 52 s; peak 160 req/s.
    with pytest.raises(ParameterError) as err:
        load_capacity.Params(**base, target_max_rps=500, target_max_duration_s=30)
    assert err.value.name == "target_max_duration_s" and "52" in str(err.value)
    with pytest.raises(ParameterError) as err:
        load_capacity.Params(**base, target_max_rps=100, target_max_duration_s=60)
    assert err.value.name == "target_max_rps" and "160" in str(err.value)
    # Closed-loop drills are capped by pacing; their duration is still checked in advance.
    with pytest.raises(ParameterError) as err:
        pool_exhaustion.Params(**base, target_max_rps=100, target_max_duration_s=10)
    assert err.value.name == "target_max_duration_s"
    assert timeout_ladder.Params(**base, target_max_rps=5, target_max_duration_s=120).target() is not None


def test_credentials_never_travel_in_a_parameter(no_network) -> None:
    with pytest.raises(ParameterError) as err:
        load_capacity.Params(target_url=f"http://admin:{SECRET}@127.0.0.1:8000")
    assert SECRET not in str(err.value) and "credentials" in str(err.value)


def test_the_dsn_comes_from_the_environment_and_is_guarded_too(no_network, monkeypatch) -> None:
    monkeypatch.setenv("DRILLS_TARGET_DSN", f"host=db.staging.internal user=app password={SECRET} dbname=app")
    with pytest.raises(ParameterError) as err:
        timeout_ladder.Params(target_url="http://127.0.0.1:8000")
    assert err.value.name == "DRILLS_TARGET_DSN" and SECRET not in str(err.value)
    monkeypatch.setenv("DRILLS_TARGET_DSN", f"postgresql://app:{SECRET}@127.0.0.1:5432/app")
    spec = timeout_ladder.Params(target_url="http://127.0.0.1:8000").target()
    assert spec.capabilities == {Capability.DATABASE}
    assert SECRET not in repr(spec) and SECRET not in str(spec.describe())
    monkeypatch.setenv("DRILLS_TARGET_DSN", f"host=127.0.0.1,db.other password={SECRET}")
    with pytest.raises(ParameterError, match="db.other"):
        timeout_ladder.Params(target_url="http://127.0.0.1:8000")
    monkeypatch.setenv("DRILLS_TARGET_DSN", f"password='{SECRET} unterminated")
    with pytest.raises(ParameterError) as err:
        timeout_ladder.Params(target_url="http://127.0.0.1:8000")
    assert SECRET not in str(err.value)
    # Without target_url the DSN is not used at all: the local stack has its own database.
    assert timeout_ladder.Params().target() is None


def test_load_plan_guards_its_own_url_too(no_network) -> None:
    steps = (LoadStep(20, 5.0),)
    with pytest.raises(ParameterError):
        LoadPlan(target_url="http://10.0.0.9:80", path="/", steps=steps)
    with pytest.raises(ParameterError):
        LoadPlan(target_url="http://10.0.0.9:80", path="/", steps=steps, allow_hosts="10.0.0.9")
    plan = LoadPlan(target_url="http://10.0.0.9:80", path="/", steps=steps, allow_hosts="10.0.0.9",
                    max_rps=10, max_duration_s=60)
    # A closed loop under a cap of 10 req/s: 20 users each start at most one request per 2 s.
    assert plan.effective_pacing_s == pytest.approx(2.0)
    with pytest.raises(ParameterError):
        LoadPlan(target_url="http://10.0.0.9:80", path="/", steps=steps, allow_hosts="10.0.0.9",
                 max_rps=10, max_duration_s=6)


def test_is_loopback_reads_the_text_only() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("localhost.example.com") and not is_loopback("10.0.0.1") and not is_loopback("")
    assert check_target_url("http://127.0.0.1:9/base/", "").base_path == "/base"
    with pytest.raises(ParameterError):
        check_target_url("ftp://127.0.0.1", "")
    with pytest.raises(ParameterError):
        check_target_url("http://127.0.0.1:8000/?x=1", "")


def test_restrict_marks_what_a_target_cannot_judge() -> None:
    judged = [Hypothesis(key, "claim", AtLeast(100, "%"), recommended=True).judge(100.0, 5, "numbers")
              for key in ("recommended.a", "recommended.b", "inverted.c")]
    needs = {"inverted": frozenset({Capability.OWNS_STACK}), "recommended.b": frozenset({Capability.DATABASE})}
    without_dsn = resolve_target("http://127.0.0.1:8000", "", 0, 0, environ={})
    with_dsn = resolve_target("http://127.0.0.1:8000", "", 0, 0, environ={"DRILLS_TARGET_DSN": "host=127.0.0.1"})
    assert restrict(judged, capabilities_of(None), needs) == judged
    out = restrict(judged, capabilities_of(without_dsn), needs)
    assert [f.verdict for f in out] == [Verdict.HELD, Verdict.NOT_JUDGED, Verdict.NOT_JUDGED]
    assert "DRILLS_TARGET_DSN" in out[1].detail and "settings of its own" in out[2].detail
    assert out[1].observed is None and out[1].samples == 0
    assert [f.verdict for f in restrict(judged, capabilities_of(with_dsn), needs)][1] is Verdict.HELD


def test_rate_cap_spaces_request_starts() -> None:
    cap = RateCap(50.0)
    started = time.monotonic()
    for _ in range(11):
        cap.wait()
    assert time.monotonic() - started >= 10 / 50 - 0.01
    free = RateCap(None)
    started = time.monotonic()
    for _ in range(100):
        free.wait()
    assert time.monotonic() - started < 0.05


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("500ms", 0.5), ("0", 0.0), ("2min", 120.0),
                                                ("250", 0.25), ("x", None)])
def test_postgres_durations_as_show_prints_them(text, seconds) -> None:
    assert pg_seconds(text) == seconds


def test_every_target_refusal_happens_before_the_drill_starts_anything(no_network) -> None:
    """from_mapping (the CLI and the notebooks' first cell) raises: no process, no socket."""
    for drill in (timeout_ladder, pool_exhaustion, load_capacity):
        with pytest.raises(ParameterError):
            drill.Params.from_mapping({"target_url": "http://example.org"})
        with pytest.raises(ParameterError):
            drill.Params.from_mapping({"target_max_rps": "-1"})


def test_a_cap_below_the_pool_capacity_is_refused(no_network) -> None:
    """pool-exhaustion saturates the pool: under a cap below its capacity it would measure the cap."""
    base = {"target_url": "http://10.1.2.3:8000", "allow_hosts": "10.1.2.3", "target_max_duration_s": 60}
    with pytest.raises(ParameterError) as err:
        pool_exhaustion.Params(**base, target_max_rps=50)  # capacity 8 slots ÷ 0.1 s = 80 req/s
    assert err.value.name == "target_max_rps" and "80" in str(err.value)
    assert pool_exhaustion.Params(**base, target_max_rps=200).target() is not None
