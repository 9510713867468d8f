"""The drill's side of the database: the fault switch, the server's count of database attempts,
rows and the counter — through the drill's own superuser connection (exempt from the cluster's
tiny timeouts), never the app's. The tables are the service's (``drills.app.schema``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import psycopg

from ...app import schema as tables
from ...deployment import Deployment
from ...stack.postgres import EXEMPT_FROM_TIMEOUTS

#: The counters the conflict endpoints use: one incremented, two locked in opposite orders.
COUNTER, DEADLOCK = "c", "d"  # the endpoints' default names
#: nginx error-log messages a measurement names requests by (``connect() failed (111: Connection
#: refused)`` when the dead port refuses; a worker killed mid-request: the upstream closed early).
_EVENTS = {"connect() failed (111": "connect-refused", "upstream prematurely closed connection": "premature-close"}
_TAG = re.compile(r"[?&]tag=([A-Za-z0-9_-]+)")


@contextlib.contextmanager
def admin_connection(deployment: Deployment) -> Iterator[psycopg.Connection[Any]]:
    with deployment.connect(options=EXEMPT_FROM_TIMEOUTS) as conn:  # autocommit, as admin_connect opens it
        yield conn


def prepare(conn: psycopg.Connection[Any]) -> None:
    """Create the tables if they are missing, switch any fault off, zero the counters."""
    tables.create_schema(conn)
    tables.clear_fault(conn)
    tables.reset_counters(conn, COUNTER, f"{DEADLOCK}_a", f"{DEADLOCK}_b")


def set_fault(conn: psycopg.Connection[Any], *, for_s: float, delay_s: float = 0.0, fail_attempts: int = 0) -> None:
    tables.set_fault(conn, for_s=for_s, delay_s=delay_s, fail_attempts=fail_attempts)


def clear_fault(conn: psycopg.Connection[Any]) -> None:
    tables.clear_fault(conn)


def attempts_counted(conn: psycopg.Connection[Any]) -> int:
    """The server's own count of database attempts so far (the sequence every attempt draws from)."""
    return tables.attempts_counted(conn)


def rows_per_tag(conn: psycopg.Connection[Any], tags: list[str]) -> dict[str, int]:
    rows = conn.execute("SELECT tag, count(*) FROM orders WHERE tag = ANY(%s) GROUP BY tag", (tags,)).fetchall()
    return {tag: int(n) for tag, n in rows}


def counter(conn: psycopg.Connection[Any]) -> int | None:
    return tables.counter(conn, COUNTER)


def nginx_events(log: str) -> dict[str, list[str]]:
    """nginx error-log lines → the tags of the requests each event of note names."""
    out: dict[str, list[str]] = {}
    for line in log.splitlines():
        for needle, event in _EVENTS.items():
            if needle in line:
                match = _TAG.search(line)
                if match:
                    out.setdefault(event, []).append(match.group(1))
                break
    return out
