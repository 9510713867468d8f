"""What one worker holds while it runs (settings, pool, retry budget), the app's request budget,
and the ledger every drill reads: shared by the endpoint modules, so none imports another."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool

from ..retry_policy import RetryBudget
from .outcomes import BudgetExceeded
from .settings import AppSettings
from .work import TAG_PATTERN, append_ledger

__all__ = ["TAG_PATTERN", "BudgetExceeded", "State", "request_budget", "state", "write_ledger"]


class State:
    settings: AppSettings
    pool: AsyncConnectionPool
    #: The worker's budget for transaction retries: one bucket per process, as a client library
    #: keeps one per client (retries-backoff.md, Pattern B).
    retry_budget: RetryBudget


state = State()


def write_ledger(line: dict[str, Any]) -> None:
    """Append one line to this worker's ledger (``ledger-<pid>.jsonl`` in the state dir).

    This is how a drill sees work that outlives a proxy's 504, and counts executions: the handler
    is not cancelled when the client (or nginx) goes away. O_APPEND keeps lines whole.
    """
    append_ledger(state.settings.state_dir, line)


@contextlib.asynccontextmanager
async def request_budget() -> AsyncIterator[None]:
    """Enforce the request budget; cancelling the task also cancels a running query.

    psycopg's AsyncConnection sends a server-side cancel when its task is cancelled mid-query,
    so the query the app abandons does not run on in PostgreSQL.
    """
    budget_s = state.settings.request_budget_s
    if budget_s <= 0:
        yield
        return
    try:
        async with asyncio.timeout(budget_s):
            yield
    except TimeoutError:
        raise BudgetExceeded(budget_s) from None
