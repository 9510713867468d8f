"""What one worker holds while it runs (settings, pool, retry budget), the app's request budget,
and the ledger every drill reads: shared by the endpoint modules, so none imports another."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from psycopg_pool import AsyncConnectionPool

from ..retry_policy import RetryBudget
from .settings import AppSettings

# Values are validated by FastAPI before they reach SQL: the tag goes into a comment.
TAG_PATTERN = r"^[A-Za-z0-9_-]{0,64}$"


class BudgetExceeded(Exception):
    """The request ran past the app's request budget."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s


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
    with open(state.settings.state_dir / f"ledger-{os.getpid()}.jsonl", "a", encoding="utf-8") as ledger:
        ledger.write(json.dumps(line) + "\n")


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
