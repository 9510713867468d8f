"""The service's knobs: every one survives the trip through the environment, a bad value names its
variable, and /config reports the retry knobs (without the conninfo)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg_pool import PoolTimeout

from drills.app.settings import PREFIX, AppSettings, AppTuning, SettingError
from drills.stack import ServiceConfig
from drills.stack.proxy import ProxyConfig, render_config

BASE = {PREFIX + "CONNINFO": "host=x password=secret", PREFIX + "STATE_DIR": "/tmp/state"}


def test_every_knob_survives_the_environment() -> None:
    settings = AppSettings(conninfo="host=x", state_dir=Path("/s"), pool_min_size=1, pool_max_size=3,
                           pool_timeout_s=0.25, pool_check=False, retry_on="statement", retry_attempts=5,
                           retry_budget_ratio=0.0, retry_budget_burst=0, retry_backoff_base_s=0.01,
                           retry_backoff_cap_s=0.2, retry_jitter="none", idempotency=False)
    assert AppSettings.from_env(settings.to_env()) == settings


def test_the_defaults_are_the_service_without_retries() -> None:
    settings = AppSettings.from_env(BASE)
    assert settings.tuning() == AppTuning()
    assert (settings.retry_on, settings.retry_attempts, settings.idempotency) == ("none", 3, True)
    assert (settings.retry_budget_ratio, settings.retry_budget_burst) == (0.1, 10)
    assert (settings.retry_backoff_base_s, settings.retry_backoff_cap_s, settings.retry_jitter) == (0.05, 1.0, "full")


@pytest.mark.parametrize(("name", "value", "says"), [
    ("RETRY_ON", "sometimes", "none, serialization, statement, operational"),
    ("RETRY_ATTEMPTS", "three", "invalid literal"),
    ("RETRY_ATTEMPTS", "0", "retry_attempts=0"),
    ("RETRY_BUDGET_RATIO", "-0.1", "retry_budget_ratio=-0.1"),
    ("RETRY_BUDGET_BURST", "1.5", "invalid literal"),
    ("RETRY_BACKOFF_BASE_S", "2", "need 0 ≤ base ≤ cap"),
    ("RETRY_JITTER", "half", "full, none"),
    ("IDEMPOTENCY", "yes", "must be 1 or 0"),
    ("POOL_CHECK", "true", "must be 1 or 0"),
])
def test_a_bad_value_names_what_is_wrong(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingError, match=says) as info:
        AppSettings.from_env({**BASE, PREFIX + name: value})
    assert str(info.value).startswith(f"{PREFIX}{name}")
    assert "secret" not in str(info.value)


def test_a_missing_variable_is_named() -> None:
    with pytest.raises(SettingError, match=PREFIX + "STATE_DIR"):
        AppSettings.from_env({PREFIX + "CONNINFO": "x"})


def test_the_harness_config_is_checked_as_it_is_made() -> None:
    with pytest.raises(SettingError, match="retry_on='sometimes'"):
        ServiceConfig(retry_on="sometimes")  # type: ignore[arg-type]
    assert ServiceConfig(workers=1, retry_on="operational").tuning().retry_on == "operational"


def test_config_reports_the_retry_knobs_and_no_conninfo() -> None:
    public = AppSettings.from_env({**BASE, PREFIX + "RETRY_ON": "serialization"}).public()
    assert public["retry_on"] == "serialization" and public["idempotency"] is True
    assert {f"retry_{k}" for k in ("attempts", "budget_ratio", "budget_burst", "backoff_base_s",
                                   "backoff_cap_s", "jitter")} <= public.keys()
    assert "secret" not in repr(public)


@pytest.mark.parametrize(("retry_on", "retried"), [
    ("none", set()),
    ("serialization", {"40001", "40P01"}),
    ("statement", set()),  # it re-runs the statement inside the transaction, never the transaction
    ("operational", {"40001", "40P01", "57014", "55P03", "pool"}),
])
def test_what_each_policy_runs_again(retry_on: str, retried: set[str], monkeypatch) -> None:
    from drills.app import attempts
    from drills.app.runtime import state

    monkeypatch.setattr(state, "settings", AppSettings.from_env({**BASE, PREFIX + "RETRY_ON": retry_on}),
                        raising=False)
    errors: dict[str, BaseException] = {
        "40001": pg_errors.SerializationFailure(), "40P01": pg_errors.DeadlockDetected(),
        "57014": pg_errors.QueryCanceled(), "55P03": pg_errors.LockNotAvailable(), "pool": PoolTimeout(),
        "25P02": pg_errors.InFailedSqlTransaction(), "other": ValueError(), "int": psycopg.IntegrityError()}
    assert {name for name, exc in errors.items() if attempts.retried(exc)} == retried


def test_the_via_dead_location_is_rendered_only_when_asked(tmp_path: Path) -> None:
    plain = render_config(ProxyConfig(), 8080, [9001, 9002], tmp_path)
    assert "upstream via_dead" not in plain and "backup" not in plain
    config = ProxyConfig(dead_first_location=True, next_upstream="error", next_upstream_tries=2, max_fails=3)
    text = render_config(config, 8080, [9001, 9002], tmp_path, dead_port=9999)
    assert "server 127.0.0.1:9999 max_fails=0;" in text
    assert "server 127.0.0.1:9001 max_fails=3 fail_timeout=10s backup;" in text
    assert "location /via-dead/ {\n            proxy_pass http://via_dead/;" in text
    assert text.count("proxy_next_upstream error;") == 2
    with pytest.raises(ValueError, match="dead_port"):
        render_config(config, 8080, [9001], tmp_path)
