"""What a worker records about its own shutdown, and the request that crosses it.

graceful-shutdown.md claims that a request in flight at SIGTERM completes within Gunicorn's
``graceful_timeout``, and that the pool closes only after the last request. Both are judged on the
worker's own records, written as they happen (wall clock, ``time.time()``, to join with nginx's and
PostgreSQL's logs), one JSON line each, in the state folder the harness reads:

* ``lifecycle-<pid>.jsonl`` — ``ready``, ``sigterm`` (seen by a handler chained before Uvicorn's, which
  changes nothing about the shutdown), ``shutdown-begin`` (the lifespan shutdown starts: Uvicorn has
  drained), ``pool-closed``;
* ``inflight-<pid>.jsonl`` — ``begin`` and ``end`` of every ``/inflight`` request: the end line says
  whether its query ran and how it ended. A worker SIGKILLed mid-request writes no ``end``.

Separate from the ledger (``ledger-<pid>.jsonl``), whose lines other drills count as executions.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi import APIRouter, Query, Request

from .runtime import state
from .work import MAX_DELAY_S, TAG_PATTERN, append_json_line, work_query

LIFECYCLE = "lifecycle"
INFLIGHT = "inflight"

router = APIRouter()


def record(state_dir: Path, kind: str, event: str, **fields: Any) -> float:
    """Append ``{"event", "pid", "at", **fields}`` to this worker's ``<kind>-<pid>.jsonl``; return ``at``."""
    at = time.time()
    append_json_line(state_dir / f"{kind}-{os.getpid()}.jsonl", {"event": event, "pid": os.getpid(), "at": at, **fields})
    return at


def application_name() -> str:
    """What this worker's pool connections call themselves: PostgreSQL's log (``%a``, with
    ``log_disconnections``) then says which worker's session ended when."""
    return f"drills-service-{os.getpid()}"


def watch_sigterm(state_dir: Path, then: Callable[[], None] | None = None) -> None:
    """Record SIGTERM when it arrives (and run ``then`` on the event loop), then hand the signal to
    the handler that was there: Uvicorn's, which starts the graceful shutdown as before.

    Called in the lifespan startup, inside Uvicorn's ``capture_signals``, so the handler found is
    Uvicorn's ``handle_exit``; Python runs signal handlers in the main thread, the loop's."""
    previous = signal.getsignal(signal.SIGTERM)
    loop = asyncio.get_running_loop()

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        record(state_dir, LIFECYCLE, "sigterm")
        if then is not None:
            loop.call_soon_threadsafe(then)
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)


@router.api_route("/inflight", methods=["GET", "POST"])
async def inflight(
    request: Request,
    app_s: float = Query(0.0, ge=0.0, le=MAX_DELAY_S),
    db_s: float = Query(0.0, ge=0.0, le=MAX_DELAY_S),
    tag: str = Query("", pattern=TAG_PATTERN),
) -> dict[str, Any]:
    """Await ``app_s`` in the app, then run ``SELECT pg_sleep(db_s)`` on a pooled connection: a request
    that is still in flight when SIGTERM comes needs the pool after it."""
    state_dir, method = state.settings.state_dir, request.method
    began_at = record(state_dir, INFLIGHT, "begin", tag=tag, method=method)
    outcome, queried_at, answer = "ok", None, {}
    try:
        if app_s > 0:
            await asyncio.sleep(app_s)
        queried_at = time.time()
        async with state.pool.connection() as conn:
            await conn.execute(work_query(tag), [db_s])
        answer = {"pid": os.getpid(), "tag": tag, "method": method, "began_at": began_at, "queried_at": queried_at}
    except BaseException as exc:
        outcome = type(exc).__name__
        raise
    finally:
        record(state_dir, INFLIGHT, "end", tag=tag, method=method, began_at=began_at, queried_at=queried_at,
               outcome=outcome)
    return answer
