"""The stacks the timeout-ladder drill starts: one per configuration, from its parameters."""

from __future__ import annotations

import dataclasses
from typing import Any

from ...recommended import RECOMMENDED
from ...stack import PostgresConfig, ServiceConfig, StackConfig
from ..recommended_stack import recommended_proxy, scaled_whole_s
from .params import FlaskParams, LadderParams

#: The recommended heartbeat (30 s in production, Gunicorn's default), scaled: outside the heartbeat
#: configuration it bounds a blocked event loop and never cuts an awaited request.
GUNICORN_TIMEOUT_S = scaled_whole_s(RECOMMENDED.gunicorn.timeout_s)


def worker_settings(params: LadderParams, configuration: str) -> dict[str, Any]:
    """Gunicorn's worker class, threads and timeout for a configuration.

    FastAPI: Uvicorn workers, the recommended heartbeat (it bounds a blocked event loop and never
    cuts an awaited request) except in the heartbeat configuration. Flask and Django: sync workers
    with Gunicorn's timeout as a rung of the recommended ladder; the inverted ladder keeps Gunicorn's
    default (scaled), far behind its proxy; the heartbeat and gthread configurations the drill's
    ``gunicorn_timeout_s``, on sync and on gthread workers.
    """
    if not isinstance(params, FlaskParams):
        return {"worker_class": "uvicorn", "threads": 1,
                "gunicorn_timeout_s": params.gunicorn_timeout_s if configuration == "heartbeat" else GUNICORN_TIMEOUT_S}
    timeout = {"recommended": params.sync_timeout_s, "inverted": GUNICORN_TIMEOUT_S}.get(
        configuration, params.gunicorn_timeout_s)
    if configuration == "gthread":
        return {"worker_class": "gthread", "threads": params.gthread_threads, "gunicorn_timeout_s": timeout}
    return {"worker_class": RECOMMENDED.wsgi.worker_class, "threads": 1, "gunicorn_timeout_s": timeout}


def stack_config(params: LadderParams, configuration: str) -> StackConfig:
    """PostgreSQL, the service and nginx with the configuration's ladder; nginx otherwise as the
    papers recommend it (one Gunicorn behind it: nginx never ejects a lone upstream)."""
    ladder = params.ladder(configuration)
    return StackConfig(
        postgres=PostgresConfig(
            max_connections=params.max_connections,
            settings={"statement_timeout": f"{round(ladder.statement_timeout_s * 1000)}ms"},
        ),
        service=ServiceConfig(
            framework=params.framework,
            **worker_settings(params, configuration),
            workers=params.workers,
            keepalive_s=params.gunicorn_keepalive_s,
            graceful_timeout_s=params.gunicorn_graceful_timeout_s,
            pool_min_size=params.pool_min_size,
            pool_max_size=params.pool_max_size,
            pool_timeout_s=params.pool_timeout_s,
            request_budget_s=ladder.request_budget_s,
        ),
        proxy=dataclasses.replace(
            recommended_proxy(read_timeout_s=ladder.proxy_read_timeout_s,
                              connect_timeout_s=params.proxy_connect_timeout_s),
            upstream_keepalive_timeout_s=params.proxy_upstream_keepalive_timeout_s,
        ),
    )


def describe(params: LadderParams, configuration: str) -> dict[str, Any]:
    """The ladder a configuration runs, shown beside the settings read back from the components."""
    return {"ladder_s": dataclasses.asdict(params.ladder(configuration))}
