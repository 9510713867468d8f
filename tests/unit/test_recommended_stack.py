"""The drills run the papers' recommended values (drills.recommended), durations scaled by 0.2.

If a paper's recommendation changes in drills/recommended.py, the drills' stacks change with it; a
drill that hard-codes a value of its own in a recommended slot fails here.
"""

from __future__ import annotations

import pytest

from drills.catalog import all_drills
from drills.catalog.recommended_stack import (
    DRILL_TIME_SCALE,
    LOAD_DRILL_TIME_SCALE,
    recommended_proxy,
    scaled_s,
    scaled_whole_s,
)
from drills.catalog.timeout_ladder import Params as LadderParams
from drills.recommended import RECOMMENDED


def test_durations_scale_by_the_stated_factor() -> None:
    assert DRILL_TIME_SCALE == 0.2 and LOAD_DRILL_TIME_SCALE == 0.5
    assert {s.name: s.time_scale for s in all_drills()} == {
        "timeout-ladder": 0.2, "proxy-upstreams": 0.2, "pool-exhaustion": 0.5, "load-capacity": 0.5,
        "retry-amplification": 0.2, "rolling-restart": 0.2, "timeout-ladder-flask": 0.2,
        "timeout-ladder-django": 0.2, "pool-exhaustion-flask": 0.5, "pool-exhaustion-django": 0.5}
    assert scaled_s(5.0) == 1.0 and scaled_s(8.0) == 1.6 and scaled_s(65.0) == 13.0
    assert scaled_whole_s(75) == 15 and scaled_whole_s(20) == 4 and scaled_whole_s(10) == 2
    assert scaled_whole_s(2) == 1, "Gunicorn and nginx's fail_timeout take whole seconds, never 0"


@pytest.mark.parametrize("spec", all_drills(), ids=lambda s: s.name)
def test_every_drill_runs_nginx_as_the_papers_recommend(spec) -> None:
    params, scale = spec.params(), spec.time_scale
    stack = spec.stack_config(params, "recommended")
    p = RECOMMENDED.proxy
    assert (stack.proxy.next_upstream, stack.proxy.next_upstream_tries, stack.proxy.max_fails) == (
        p.proxy_next_upstream, p.proxy_next_upstream_tries, p.max_fails)
    assert stack.proxy.fail_timeout_s == scaled_whole_s(p.fail_timeout_s, scale)
    assert stack.proxy.upstream_keepalive == p.upstream_keepalive
    assert stack.proxy.upstream_keepalive_timeout_s == scaled_s(p.upstream_keepalive_timeout_s, scale)
    assert stack.proxy.connect_timeout_s == scaled_s(p.proxy_connect_timeout_s, scale)
    assert stack.service.keepalive_s == scaled_whole_s(RECOMMENDED.gunicorn.keepalive_s, scale)
    assert stack.service.keepalive_s > stack.proxy.upstream_keepalive_timeout_s, "keep-alive order"
    assert stack.service.pool_check is True, "check=AsyncConnectionPool.check_connection"


def test_the_ladders_recommended_rungs_are_the_papers_scaled() -> None:
    params = LadderParams()
    rec = RECOMMENDED
    assert (params.statement_timeout_s, params.pool_timeout_s, params.request_budget_s,
            params.proxy_read_timeout_s, params.client_timeout_s) == (
        scaled_s(rec.postgres.statement_timeout_s), scaled_s(rec.app.pool_timeout_s),
        scaled_s(rec.app.request_budget_s), scaled_s(rec.proxy.proxy_read_timeout_s), scaled_s(rec.client.timeout_s))
    stack = all_drills()[0].stack_config(params, "recommended")
    assert stack.service.gunicorn_timeout_s == scaled_whole_s(rec.gunicorn.timeout_s)
    assert stack.service.graceful_timeout_s == scaled_whole_s(rec.gunicorn.graceful_timeout_s)
    assert stack.postgres.settings["statement_timeout"] == "1000ms"


def test_a_recommended_proxy_keeps_the_drills_read_timeout() -> None:
    proxy = recommended_proxy(read_timeout_s=2.5)
    assert proxy.read_timeout_s == proxy.send_timeout_s == 2.5


@pytest.mark.parametrize("name", ["pool-exhaustion", "load-capacity"])
def test_the_load_drills_run_the_papers_pool_wait_and_read_timeout_scaled(name: str) -> None:
    """2 s → 1 s and 20 s → 10 s: the pool's 503 comes long before nginx would give up."""
    (spec,) = [s for s in all_drills() if s.name == name]
    params = spec.params()
    stack = spec.stack_config(params, "recommended")
    assert stack.service.pool_timeout_s == params.pool_timeout_s == scaled_s(RECOMMENDED.app.pool_timeout_s, 0.5) == 1.0
    assert stack.proxy.read_timeout_s == params.proxy_read_timeout_s == 10.0
    assert params.proxy_read_timeout_s == scaled_s(RECOMMENDED.proxy.proxy_read_timeout_s, 0.5)
