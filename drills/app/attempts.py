"""The app's database attempts: its retry loop (retries-backoff.md, "PostgreSQL-Class Databases")
and one ledger line per attempt.

``in_transaction(work, ...)`` runs ``work(tx)`` in one transaction on a pooled connection. Each
attempt first runs ``SELECT nextval('drill_db_attempts')`` as its own autocommit statement, so the
server counts the attempt even when its work then fails (the transaction's rollback does not undo
a sequence), and writes one ledger line when it ends: tag, endpoint, the client's attempt
(``X-Retry-Attempt``), the app's attempt, pid, start, end, the SQLSTATE that ended it ("" if none)
and every SQLSTATE it met. What is retried is ``AppSettings.retry_on``; how often and after how
long is ``drills/retry_policy.py``'s budget and backoff, the one implementation the drill's client
uses too.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from ..retry_policy import backoff_s
from .runtime import state, write_ledger

T = TypeVar("T")
Query = LiteralString | sql.Composed | sql.SQL

#: 40001 and 40P01: the errors PostgreSQL's manual says to answer by running the whole
#: transaction again. Siblings of TransactionRollback in psycopg 3, not subclasses: named here.
CONFLICTS = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


@dataclass(frozen=True)
class AttemptOf:
    """Which request the attempts belong to, as the ledger names it."""

    tag: str
    endpoint: str
    client_attempt: int


class Tx:
    """One attempt's connection, inside its transaction, as the endpoint's work sees it.

    With ``retry_on="statement"`` :meth:`execute` runs a statement that failed with 40001 or 40P01
    again, on the same connection, inside the transaction PostgreSQL has already aborted: the
    mistake the falsifier plays, which PostgreSQL answers with 25P02.
    """

    def __init__(self, conn: psycopg.AsyncConnection[Any], app_attempt: int) -> None:
        self.conn = conn
        self.app_attempt = app_attempt
        #: Every SQLSTATE met in this attempt, in order.
        self.sqlstates: list[str] = []

    async def execute(self, query: Query, params: Any = None) -> psycopg.AsyncCursor[Any]:
        settings = state.settings
        for statement_try in range(1, settings.retry_attempts + 1):
            try:
                return await self.conn.execute(query, params)
            except psycopg.Error as exc:
                self.sqlstates.append(exc.sqlstate or "")
                if not (settings.retry_on == "statement" and isinstance(exc, CONFLICTS)
                        and statement_try < settings.retry_attempts and state.retry_budget.try_retry()):
                    raise
            await asyncio.sleep(_backoff(statement_try))
        raise AssertionError("unreachable: the last try returns or raises")


def retried(exc: BaseException) -> bool:
    """Whether ``retry_on`` runs the transaction again after ``exc`` (the statement policy does
    not: it retries inside :class:`Tx`)."""
    retry_on = state.settings.retry_on
    if retry_on == "serialization":
        return isinstance(exc, CONFLICTS)
    if retry_on == "operational":
        return isinstance(exc, psycopg.OperationalError)
    return False


async def in_transaction(work: Callable[[Tx], Awaitable[T]], of: AttemptOf, *, isolation: str | None = None) -> T:
    """Run ``work`` in one transaction; after an error ``retry_on`` names, all of it again (every
    read and decision inside ``work`` is redone), up to ``retry_attempts`` within the budget."""
    settings = state.settings
    state.retry_budget.on_request()
    for app_attempt in range(1, settings.retry_attempts + 1):
        try:
            return await _attempt(work, of, app_attempt, isolation)
        except Exception as exc:
            if not (retried(exc) and app_attempt < settings.retry_attempts and state.retry_budget.try_retry()):
                raise
        await asyncio.sleep(_backoff(app_attempt))
    raise AssertionError("unreachable: the last attempt returns or raises")


async def _attempt(work: Callable[[Tx], Awaitable[T]], of: AttemptOf, app_attempt: int, isolation: str | None) -> T:
    started, counted, error, code, tx = time.time(), False, "", "", None
    try:
        async with state.pool.connection() as conn:
            await conn.execute("SELECT nextval('drill_db_attempts')")
            counted = True
            tx = Tx(conn, app_attempt)
            async with conn.transaction():
                if isolation:
                    await conn.execute(sql.SQL("SET TRANSACTION ISOLATION LEVEL {}").format(sql.SQL(isolation)))
                return await work(tx)
    except BaseException as exc:
        # A psycopg error's SQLSTATE, or the one an endpoint's own error carries (a 55P03 it
        # answered with 409); "" for an error that is not the database's.
        error, code = type(exc).__name__, getattr(exc, "sqlstate", None) or ""
        raise
    finally:
        sqlstates = tx.sqlstates if tx else []
        if code and sqlstates[-1:] != [code]:  # raised outside Tx.execute (nextval, SET, COMMIT)
            sqlstates.append(code)
        write_ledger({
            "tag": of.tag, "endpoint": of.endpoint, "pid": os.getpid(),
            "client_attempt": of.client_attempt, "app_attempt": app_attempt,
            "started_at": started, "ended_at": time.time(),
            "sqlstate": code, "sqlstates": sqlstates,
            "outcome": error or "ok",
            # False: the attempt never reached the database (no connection): not in the sequence.
            "db": counted,
        })


def _backoff(retry: int) -> float:
    s = state.settings
    return backoff_s(retry, s.retry_backoff_base_s, s.retry_backoff_cap_s, s.retry_jitter)
