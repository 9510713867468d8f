"""Endpoints of the retry drill (retries-backoff.md): every database attempt goes through
``attempts.in_transaction`` (one ledger line and one ``nextval`` each, the app's retry policy).

* ``GET /flaky?tag=&db_s=`` — ``SELECT pg_sleep(...)`` under the fault of ``drill_fault`` (see
  ``schema``): while the window is open it sleeps ``delay_s`` (so ``statement_timeout`` cancels it:
  57014 → 504), or answers 503 without ``Retry-After`` to a client attempt ≤ ``fail_attempts``.
* ``PUT /items/{id}`` and ``POST /items`` with ``crash_once=1`` — after the attempt's ledger line, the
  first request of the tag (anywhere in the service) SIGKILLs its own worker before answering.
* ``POST /orders`` — Pattern D: the key row in the transaction of the effect, replay of the stored
  answer, 409 when a repeat waited ``lock_timeout`` on the first; ``hold_s`` after taking the key,
  ``crash_after_commit_once=1`` kills the worker after the commit.
* ``POST /counter/increment`` — REPEATABLE READ read, ``hold_s``, write of the read value + 1: two at
  once give 40001. ``POST /counter/deadlock?order=ab|ba`` — two rows locked in either order: 40P01.

Every request may send ``X-Retry-Attempt`` (1 for the first): the ledger records it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, HTTPException, Path, Query
from fastapi.responses import JSONResponse
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from .attempts import AttemptOf, Tx, in_transaction
from .runtime import TAG_PATTERN, request_budget, state

router = APIRouter()

Tag = Annotated[str, Query(pattern=TAG_PATTERN)]
ClientAttempt = Annotated[int, Header(alias="X-Retry-Attempt", ge=1, le=1000)]
HoldS = Annotated[float, Query(ge=0.0, le=60.0)]
#: Replayed answers say so, for the drill (the draft names no such header; Stripe's is similar).
REPLAYED = "Idempotent-Replayed"


class InjectedFailure(Exception):
    """The fault window answers this client attempt with 503 (no ``Retry-After``)."""

    def __init__(self, client_attempt: int) -> None:
        self.client_attempt = client_attempt


class KeyInProgress(Exception):
    """A repeat of a keyed request waited ``lock_timeout`` on the first one's key (55P03)."""

    sqlstate = "55P03"


def _tagged(text: str, tag: str) -> sql.Composed:
    # The tag goes into a comment (validated by TAG_PATTERN), so pg_stat_activity and the server's
    # log show which request a statement belongs to.
    return sql.SQL(text + " /* drill:{} */").format(sql.SQL(tag))


# -- the fault ----------------------------------------------------------------------------------


@router.get("/flaky")
async def flaky(tag: Tag = "", db_s: Annotated[float, Query(ge=0.0, le=600.0)] = 0.0,
                client_attempt: ClientAttempt = 1) -> dict[str, Any]:
    async def work(tx: Tx) -> None:
        cur = await tx.execute(_tagged(
            "SELECT now() < f.until AND %(attempt)s <= f.fail_attempts, pg_sleep(CASE "
            "WHEN now() >= f.until THEN %(db_s)s WHEN %(attempt)s <= f.fail_attempts THEN 0.0 "
            "ELSE f.delay_s END) FROM drill_fault f", tag), {"attempt": client_attempt, "db_s": db_s})
        row = await cur.fetchone()
        if row is None:
            raise HTTPException(500, "drill_fault is empty: create it with drills.app.schema.create_schema")
        if row[0]:
            raise InjectedFailure(client_attempt)  # inside the attempt: its ledger line says so

    async with request_budget():
        await in_transaction(work, AttemptOf(tag, "flaky", client_attempt))
    return {"pid": os.getpid(), "db_s": db_s}


# -- writes whose worker dies -------------------------------------------------------------------


@router.put("/items/{item_id}")
async def put_item(item_id: Annotated[int, Path(ge=0)], tag: Tag = "", crash_once: bool = False,
                   client_attempt: ClientAttempt = 1) -> dict[str, Any]:
    return await _item("put_item", item_id, tag, crash_once, client_attempt)


@router.post("/items", status_code=201)
async def post_item(tag: Tag = "", crash_once: bool = False, client_attempt: ClientAttempt = 1) -> dict[str, Any]:
    return await _item("post_item", 0, tag, crash_once, client_attempt)


async def _item(endpoint: str, item_id: int, tag: str, crash: bool, client_attempt: int) -> dict[str, Any]:
    if crash and not tag:
        raise HTTPException(422, "crash_once needs a tag: the crash happens once per tag")

    async def work(tx: Tx) -> int:
        cur = await tx.execute(_tagged("SELECT %s::bigint", tag), (item_id,))
        row = await cur.fetchone()
        return int(row[0]) if row else item_id

    async with request_budget():
        await in_transaction(work, AttemptOf(tag, endpoint, client_attempt))
    if crash:
        await crash_once(tag)
    return {"id": item_id, "pid": os.getpid()}


async def crash_once(tag: str) -> None:
    """SIGKILL this worker if no worker of the service has crashed for ``tag`` yet.

    The marker is a row, not a file: nginx resends a request whose worker died to *another
    replica*, whose state dir is its own, and that one must run it rather than die too. The row is
    committed (autocommit) before the kill, so it outlives the worker."""
    async with state.pool.connection() as conn:
        cur = await conn.execute("INSERT INTO drill_crash_markers (tag, pid) VALUES (%s, %s) "
                                 "ON CONFLICT (tag) DO NOTHING", (tag, os.getpid()))
        first = cur.rowcount == 1
    if first:
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no answer: as an OOM kill would


# -- Pattern D ----------------------------------------------------------------------------------


class OrderIn(BaseModel):
    customer_id: int = Field(default=1, ge=0)
    total: float = Field(default=0.0, ge=0.0, le=1e9)


@router.post("/orders", status_code=201)
async def create_order(order: Annotated[OrderIn | None, Body()] = None, tag: Tag = "", hold_s: HoldS = 0.0,
                       crash_after_commit_once: bool = False, client_attempt: ClientAttempt = 1,
                       idempotency_key: Annotated[str | None, Header(max_length=255)] = None) -> JSONResponse:
    """With ``idempotency`` on: a missing key is a 400, a key reused with another payload a 422, a
    repeat while the first still holds its key a 409 at ``lock_timeout``, a repeat after it the
    stored answer (``Idempotent-Replayed: true``). Off: the header is ignored."""
    if crash_after_commit_once and not tag:
        raise HTTPException(422, "crash_after_commit_once needs a tag: the crash happens once per tag")
    order = order or OrderIn()
    key = idempotency_key if state.settings.idempotency else None
    if state.settings.idempotency and not key:
        raise HTTPException(400, "Idempotency-Key is required")
    digest = hashlib.sha256(order.model_dump_json().encode()).digest()

    async def work(tx: Tx) -> tuple[int, Any, bool]:
        if key:
            try:
                cur = await tx.execute("INSERT INTO idempotency_keys (key, request_sha256) VALUES (%s, %s) "
                                       "ON CONFLICT (key) DO NOTHING", (key, digest))
            except pg_errors.LockNotAvailable:  # 55P03: the first request with this key still runs
                raise KeyInProgress() from None
            if cur.rowcount == 0:  # seen before: replay, never run again
                cur = await tx.execute("SELECT request_sha256, status, response FROM idempotency_keys "
                                       "WHERE key = %s", (key,))
                seen = await cur.fetchone()
                assert seen is not None  # the insert conflicted with it, and keys are not deleted mid-run
                if bytes(seen[0]) != digest:
                    raise HTTPException(422, "Idempotency-Key reused with another payload")
                return int(seen[1]), seen[2], True
        if hold_s:
            await asyncio.sleep(hold_s)  # holding the key (and its transaction) open
        cur = await tx.execute(_tagged("INSERT INTO orders (tag, customer_id, total) VALUES (%s, %s, %s) "
                                       "RETURNING id", tag), (tag, order.customer_id, order.total))
        row = await cur.fetchone()
        assert row is not None  # RETURNING of a one-row insert
        result = {"id": int(row[0]), "tag": tag}
        if key:
            await tx.execute("UPDATE idempotency_keys SET status = 201, response = %s WHERE key = %s",
                             (Jsonb(result), key))
        return 201, result, False

    async with request_budget():
        status, body, replayed = await in_transaction(work, AttemptOf(tag, "orders", client_attempt))
    if crash_after_commit_once and not replayed:
        await crash_once(tag)  # committed, unanswered: what a retry must not run twice
    return JSONResponse(body, status_code=status, headers={REPLAYED: "true"} if replayed else None)


# -- conflicts ----------------------------------------------------------------------------------


@router.post("/counter/increment")
async def increment(tag: Tag = "", name: Tag = "c", hold_s: HoldS = 0.0,
                    client_attempt: ClientAttempt = 1) -> dict[str, Any]:
    """Read, wait ``hold_s``, write the read value + 1 (REPEATABLE READ): the second of two at once
    finds the row changed since its snapshot (40001). Create the row first (``schema.reset_counters``)."""
    async def work(tx: Tx) -> tuple[int, int]:
        cur = await tx.execute(_tagged("SELECT n FROM counters WHERE name = %s", tag), (name,))
        row = await cur.fetchone()
        if row is None:
            raise HTTPException(404, f"no counter {name!r}: the drill creates it (drills.app.schema.reset_counters)")
        if hold_s:
            await asyncio.sleep(hold_s)
        await tx.execute(_tagged("UPDATE counters SET n = %s WHERE name = %s", tag), (row[0] + 1, name))
        return int(row[0]) + 1, tx.app_attempt

    async with request_budget():
        n, app_attempt = await in_transaction(work, AttemptOf(tag, "counter_increment", client_attempt),
                                              isolation="REPEATABLE READ")
    return {"n": n, "app_attempt": app_attempt, "pid": os.getpid()}


@router.post("/counter/deadlock")
async def deadlock(order: Literal["ab", "ba"], tag: Tag = "", name: Tag = "d", hold_s: HoldS = 0.0,
                   client_attempt: ClientAttempt = 1) -> dict[str, Any]:
    """Increment rows ``<name>_a`` and ``<name>_b`` in the given order, ``hold_s`` between: "ab" and
    "ba" at once wait on each other until ``deadlock_timeout``, and PostgreSQL aborts one (40P01)."""
    rows = [f"{name}_{side}" for side in order]

    async def work(tx: Tx) -> int:
        for k, row_name in enumerate(rows):
            if k and hold_s:
                await asyncio.sleep(hold_s)
            cur = await tx.execute(_tagged("UPDATE counters SET n = n + 1 WHERE name = %s", tag), (row_name,))
            if cur.rowcount != 1:
                raise HTTPException(404, f"no counter {row_name!r}: the drill creates it (schema.reset_counters)")
        return tx.app_attempt

    async with request_budget():
        app_attempt = await in_transaction(work, AttemptOf(tag, "counter_deadlock", client_attempt))
    return {"order": order, "app_attempt": app_attempt, "pid": os.getpid()}
