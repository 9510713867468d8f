"""The rolling-restart drill's pure stack pieces: the orchestrator's values checked before anything
starts, PostgreSQL's disconnection lines read back, nginx's reload marker, the steady client's kinds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drills.app.settings import AppSettings, SettingError
from drills.errors import ParameterError
from drills.stack import Rollout
from drills.stack.http import Endpoint
from drills.stack.pg_log import disconnections
from drills.stack.proxy import ProxyConfig, render_config
from drills.stack.steady import Sent, SteadyLoad

LOG = "\n".join([
    "2026-12-07 14:15:50.101 UTC [4242] 00000 drills-service-777 LOG:  disconnection: session time: 0:00:02.345 "
    "user=app database=app host=127.0.0.1 port=40000",
    "2026-12-07 14:15:50.102 UTC [4243] 00000 drills-admin LOG:  statement: select 1",
    "2026-12-07 14:15:51.000 UTC [4244] 00000  LOG:  disconnection: session time: 1:02:03.500 user=app "
    "database=app host=[local]",
    "2026-12-07 14:15:52.000 UTC [4245] 57P01 drills-service-778 FATAL:  terminating connection due to "
    "administrator command",
])


def test_disconnection_lines_name_the_worker_and_the_wall_clock() -> None:
    found = disconnections(LOG)
    assert [(d.application_name, d.backend_pid) for d in found] == [("drills-service-777", 4242), ("", 4244)]
    assert found[0].at == datetime(2026, 12, 7, 14, 15, 50, 101000, tzinfo=UTC).timestamp()
    assert found[0].session_s == pytest.approx(2.345) and found[1].session_s == pytest.approx(3723.5)


def test_a_prestop_longer_than_the_grace_period_is_refused_as_kubernetes_refuses_it() -> None:
    with pytest.raises(ParameterError, match="pre_stop_s"):
        Rollout(pre_stop_s=10, termination_grace_s=5)
    with pytest.raises(ParameterError, match="readiness_period_s"):
        Rollout(readiness_period_s=0)
    with pytest.raises(ParameterError, match="endpoint_lag_s"):
        Rollout(endpoint_lag_s=-1)
    assert Rollout(pre_stop_s=2, termination_grace_s=2).pre_stop_s == 2  # equal is allowed


def test_nginx_answers_the_generation_of_its_config(tmp_path: Path) -> None:
    text = render_config(ProxyConfig(), 8080, [9001], tmp_path, generation=7)
    assert 'location = /drills-config {' in text and 'return 200 "7\\n";' in text
    assert "access_log off;" in text  # the reload probes do not count as requests


def test_the_pool_close_knob_is_checked_and_travels() -> None:
    settings = AppSettings(conninfo="x", state_dir=Path("/"), pool_close="sigterm")
    assert AppSettings.from_env(settings.to_env()).pool_close == "sigterm"
    assert settings.public()["pool_close"] == "sigterm"
    with pytest.raises(SettingError, match="pool_close"):
        AppSettings(conninfo="x", state_dir=Path("/"), pool_close="never")  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "failure", "kind"), [
    (200, None, "ok"), (502, None, "http-502"), (None, "refused", "refused"), (None, "closed", "closed")])
def test_each_request_has_one_kind(status: int | None, failure: str | None, kind: str) -> None:
    sent = Sent(0, "GET", "/", "t", 0.0, status=status, failure=failure)
    assert sent.kind == kind and sent.ok == (kind == "ok")
    assert sent.to_row()["answered_at"] is None  # NaN never reaches JSON


def test_the_steady_client_refuses_a_load_it_cannot_mean() -> None:
    with pytest.raises(ParameterError, match="rps"):
        SteadyLoad(Endpoint(port=1), rps=0, max_in_flight=1, request_for=lambda k, t: ("GET", "/"), timeout_s=1)
    with pytest.raises(ParameterError, match="max_in_flight"):
        SteadyLoad(Endpoint(port=1), rps=1, max_in_flight=0, request_for=lambda k, t: ("GET", "/"), timeout_s=1)
