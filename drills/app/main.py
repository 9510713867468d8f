"""The FastAPI service under test.

Endpoints let a drill put a delay at each layer:

* ``GET /work?app_s=&db_s=&tag=`` awaits ``app_s`` seconds in the app, then runs
  ``SELECT pg_sleep(db_s)`` on a pooled connection; ``tag`` is written into the query text as a
  comment so a drill can find the query in ``pg_stat_activity``. A 200 carries a W3C
  ``Server-Timing`` header, ``pool;dur=<ms waiting for a connection>, handler;dur=<ms in the
  handler>``: what the pool's bounds govern, apart from the proxy, the event loop's backlog and
  the client.
* ``GET /block?s=&tag=`` blocks the event loop with ``time.sleep`` (what Gunicorn's timeout is for);
  with a tag it first records when it started blocking.
* ``GET /healthz`` (liveness, no database) and ``GET /readyz`` (borrows a pool connection).
* ``GET /metrics`` (Prometheus text, all workers) and ``GET /config`` (effective knobs, read back).
* The retry drill's endpoints (``/flaky``, ``/items``, ``/orders``, ``/counter/…``): see
  ``retry_endpoints``; their transactions run through ``attempts.in_transaction``.
* ``GET|POST /inflight`` and the worker's records of its own shutdown (the rolling-restart drill):
  see ``shutdown``.

When the service gives up, the status code says how and the JSON body names the layer: the
table in ``outcomes.py``, shared with the Flask and Django apps (``flask_app.py``, ``django_app.py``),
and for the retry endpoints (FastAPI only):

=========================== ====== ========== ===========================
cause                       status layer      error
=========================== ====== ========== ===========================
40001, 40P01 not retried    409    database   conflict
25P02 (aborted transaction) 409    database   transaction_aborted
55P03 on an idempotency key 409    database   idempotency_key_in_progress
the fault's failing attempt 503    app        injected_failure
=========================== ====== ========== ===========================

A 409 is final: it is in no caller's retry list (retries-backoff.md, Web Worker). Other
OperationalErrors (55P03 elsewhere, 57P01, …) keep the catch-all 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import psycopg
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from psycopg import errors as pg_errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout, TooManyRequests

from ..retry_policy import RetryBudget
from . import metrics, outcomes, shutdown
from .outcomes import BudgetExceeded, GaveUp
from .retry_endpoints import InjectedFailure, KeyInProgress, router
from .runtime import request_budget, state
from .settings import AppSettings
from .work import (
    BLOCK_RECORDS,
    MAX_DELAY_S,
    SESSION_SETTINGS,
    TAG_PATTERN,
    ledger,
    mark_ready,
    server_timing,
    show_query,
    work_query,
)

STATS_INTERVAL_S = 0.25


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    settings = AppSettings.from_env()
    pool = AsyncConnectionPool(
        settings.conninfo,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        timeout=settings.pool_timeout_s,
        max_waiting=settings.pool_max_waiting,
        name=f"pool-{os.getpid()}",
        kwargs={"autocommit": True, "application_name": shutdown.application_name()},
        check=AsyncConnectionPool.check_connection if settings.pool_check else None,
        open=False,
    )
    await pool.open(wait=True, timeout=settings.pool_open_timeout_s)
    state.settings, state.pool = settings, pool
    state.retry_budget = RetryBudget(settings.retry_budget_ratio, settings.retry_budget_burst)
    sampler = asyncio.create_task(_sample_pool_stats(pool))
    closing: list[asyncio.Task[None]] = []

    def close_pool_now() -> None:  # pool_close="sigterm": the anti-pattern the drain is falsified by
        closing.append(asyncio.create_task(_close_pool(pool, settings)))

    shutdown.watch_sigterm(settings.state_dir, close_pool_now if settings.pool_close == "sigterm" else None)
    ready_file = mark_ready(settings.state_dir)
    shutdown.record(settings.state_dir, shutdown.LIFECYCLE, "ready")
    try:
        yield
    finally:
        shutdown.record(settings.state_dir, shutdown.LIFECYCLE, "shutdown-begin")
        ready_file.unlink(missing_ok=True)
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        if closing:
            await closing[0]
        else:
            await _close_pool(pool, settings)


async def _close_pool(pool: AsyncConnectionPool, settings: AppSettings) -> None:
    await pool.close()
    shutdown.record(settings.state_dir, shutdown.LIFECYCLE, "pool-closed")


app = FastAPI(title="drills service under test", lifespan=lifespan)
app.include_router(router)
app.include_router(shutdown.router)


# -- endpoints ----------------------------------------------------------------------------------


@app.get("/work")
async def work(
    response: Response,
    app_s: float = Query(0.0, ge=0.0, le=MAX_DELAY_S),
    db_s: float = Query(0.0, ge=0.0, le=MAX_DELAY_S),
    tag: str = Query("", pattern=TAG_PATTERN),
) -> dict[str, Any]:
    started, outcome = time.time(), "ok"
    began = time.perf_counter()
    try:
        async with request_budget():
            if app_s > 0:
                await asyncio.sleep(app_s)
            asked = time.perf_counter()
            async with state.pool.connection() as conn:
                waited_ms = (time.perf_counter() - asked) * 1000
                await conn.execute(work_query(tag), [db_s])
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        if tag:
            ledger(state.settings.state_dir, tag, started, outcome)
    handler_ms = (time.perf_counter() - began) * 1000
    response.headers["Server-Timing"] = server_timing(waited_ms, handler_ms)
    return {"app_s": app_s, "db_s": db_s, "pid": os.getpid(), "elapsed_s": time.time() - started}


@app.get("/block")
async def block(s: float = Query(..., ge=0.0, le=MAX_DELAY_S), tag: str = Query("", pattern=TAG_PATTERN)) -> dict[str, Any]:
    if tag:
        # When this worker began blocking: the kill's time is judged from here, not from when nginx
        # sent the request (a resend may wait in the listen queue for a replacement worker to boot).
        shutdown.record(state.settings.state_dir, BLOCK_RECORDS, "block-start", tag=tag)
    # Deliberately blocks the event loop: no heartbeat reaches Gunicorn's master meanwhile.
    time.sleep(s)
    return {"blocked_s": s, "pid": os.getpid()}


@app.get("/healthz")
async def healthz() -> dict[str, Any]:
    return {"status": "alive", "pid": os.getpid()}


@app.get("/readyz")
async def readyz() -> dict[str, Any]:
    async with state.pool.connection() as conn:
        await conn.execute("SELECT 1")
    return {"status": "ready", "pid": os.getpid()}


@app.get("/metrics")
async def prometheus_metrics() -> Response:
    return Response(metrics.render_all_workers(), media_type="text/plain; version=0.0.4; charset=utf-8")


@app.get("/config")
async def config() -> dict[str, Any]:
    """The knobs this worker runs with, read back from the pool and the database session."""
    async with state.pool.connection() as conn:
        session = {}
        for name in SESSION_SETTINGS:
            cur = await conn.execute(show_query(name))
            row = await cur.fetchone()
            session[name] = row[0] if row else None
    return {
        "pid": os.getpid(),
        "framework": "fastapi",
        "app": state.settings.public(),
        "pool": state.pool.get_stats(),
        "database_session": session,
    }


# -- giving up, with the layer named ------------------------------------------------------------


def _gave_up(status: int, layer: str, error: str, detail: str, **extra: Any) -> JSONResponse:
    return _answer(GaveUp(status, layer, error, detail, extra))


def _answer(gave_up: GaveUp) -> JSONResponse:
    gave_up.count()
    return JSONResponse(gave_up.body(), status_code=gave_up.status, headers=gave_up.headers())


@app.exception_handler(BudgetExceeded)
async def _budget_exceeded(_: Request, exc: BudgetExceeded) -> JSONResponse:
    return _answer(outcomes.budget_exceeded(exc.budget_s))


@app.exception_handler(pg_errors.QueryCanceled)
async def _query_cancelled(_: Request, exc: pg_errors.QueryCanceled) -> JSONResponse:
    return _gave_up(504, "database", "query_cancelled", str(exc).strip(), sqlstate=exc.sqlstate)


@app.exception_handler(PoolTimeout)
async def _pool_timeout(_: Request, exc: PoolTimeout) -> JSONResponse:
    return _gave_up(503, "pool", "pool_timeout", str(exc).strip())


@app.exception_handler(TooManyRequests)
async def _pool_queue_full(_: Request, exc: TooManyRequests) -> JSONResponse:
    return _gave_up(503, "pool", "pool_queue_full", str(exc).strip())


@app.exception_handler(pg_errors.SerializationFailure)  # 40001, after the app's own attempts
@app.exception_handler(pg_errors.DeadlockDetected)  # 40P01
async def _conflict(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
    # Registered by class: both are OperationalErrors, and Starlette picks the nearest class in the
    # exception's MRO, so the catch-all 503 below no longer answers them.
    return _gave_up(409, "database", "conflict", str(exc).strip(), sqlstate=exc.sqlstate)


@app.exception_handler(pg_errors.InFailedSqlTransaction)  # 25P02: a statement run in an aborted transaction
async def _transaction_aborted(_: Request, exc: pg_errors.InFailedSqlTransaction) -> JSONResponse:
    return _gave_up(409, "database", "transaction_aborted", str(exc).strip(), sqlstate=exc.sqlstate)


@app.exception_handler(KeyInProgress)
async def _key_in_progress(_: Request, exc: KeyInProgress) -> JSONResponse:
    return _gave_up(409, "database", "idempotency_key_in_progress",
                    "a request with this Idempotency-Key is in progress (waited lock_timeout)", sqlstate=exc.sqlstate)


@app.exception_handler(InjectedFailure)
async def _injected_failure(_: Request, exc: InjectedFailure) -> JSONResponse:
    # No Retry-After: the caller's own backoff decides when it comes back (the jitter run).
    return _gave_up(503, "app", "injected_failure", f"the drill's fault fails client attempt {exc.client_attempt}",
                    client_attempt=exc.client_attempt)


@app.exception_handler(psycopg.OperationalError)
async def _database_unavailable(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
    return _gave_up(503, "database", "database_unavailable", str(exc).strip(), sqlstate=exc.sqlstate)


# -- metrics ------------------------------------------------------------------------------------


async def _sample_pool_stats(pool: AsyncConnectionPool) -> None:
    while True:
        metrics.record_pool_stats(pool.pop_stats())
        await asyncio.sleep(STATS_INTERVAL_S)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class RequestMetrics:
    """Pure ASGI middleware: counts and times every HTTP response.

    Pure ASGI rather than ``@app.middleware``, so that it changes nothing about what happens to
    a handler whose client went away: the drills measure exactly that.
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        started = time.monotonic()
        status = 500
        counted = scope.get("path") != "/metrics"  # a scrape must not count itself as load
        if counted:
            metrics.IN_FLIGHT.inc()

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.inner(scope, receive, send_and_watch)
        finally:
            if counted:
                metrics.IN_FLIGHT.dec()
            route = getattr(scope.get("route"), "path", "unmatched")
            metrics.REQUESTS.labels(route=route, status=str(status)).inc()
            metrics.LATENCY.labels(route=route).observe(time.monotonic() - started)


app.add_middleware(RequestMetrics)
