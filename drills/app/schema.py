"""The tables the retry endpoints use, created by the drill (never by the app) before its first request.

The app only reads and writes them per request, so a drill creates them through its admin
connection once the stack is up, as the other drills prepare their database in ``measure``
(pool-exhaustion creates its filler role there). ``create_schema`` is idempotent: a drill may call
it before every measurement.

* ``drill_fault`` — one row: while ``now() < until`` every ``GET /flaky`` sleeps ``delay_s`` in
  PostgreSQL instead of its ``db_s``, and a client attempt (``X-Retry-Attempt``) ≤ ``fail_attempts``
  is answered 503 at once. Opened and closed with :func:`set_fault` / :func:`clear_fault`.
* ``orders`` and ``idempotency_keys`` — Pattern D of retries-backoff.md (``POST /orders``).
* ``counters`` — rows the conflict endpoints increment (``POST /counter/…``).
* ``drill_crash_markers`` — the tags whose crash has happened: the crash-once endpoints kill a
  worker only on the first insert of the tag, whichever replica handles it.
* sequence ``drill_db_attempts`` — one ``nextval`` per database attempt, in its own autocommit
  statement, so attempts whose statement then failed are counted too (the ledger's cross-check).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

#: The role the service logs in as, which owns the drills' database (drills.stack.postgres.APP_USER).
APP_ROLE = "app"

STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS drill_fault (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        delay_s float8 NOT NULL DEFAULT 0,
        until timestamptz NOT NULL DEFAULT '-infinity',
        fail_attempts int NOT NULL DEFAULT 0)""",
    "INSERT INTO drill_fault DEFAULT VALUES ON CONFLICT DO NOTHING",
    """CREATE TABLE IF NOT EXISTS orders (
        id bigserial PRIMARY KEY,
        tag text NOT NULL,
        customer_id bigint NOT NULL,
        total numeric(12, 2) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE INDEX IF NOT EXISTS orders_tag ON orders (tag)",
    # As in the paper's "PostgreSQL-Class Databases" section.
    """CREATE TABLE IF NOT EXISTS idempotency_keys (
        key text PRIMARY KEY,
        request_sha256 bytea NOT NULL,
        status smallint,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now())""",
    "CREATE TABLE IF NOT EXISTS counters (name text PRIMARY KEY, n bigint NOT NULL DEFAULT 0)",
    """CREATE TABLE IF NOT EXISTS drill_crash_markers (
        tag text PRIMARY KEY, pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())""",
    "CREATE SEQUENCE IF NOT EXISTS drill_db_attempts",
)


def create_schema(conn: psycopg.Connection[Any], owner: str | None = APP_ROLE) -> None:
    """Create every table and the sequence (if missing), owned by ``owner`` so the app may use them.

    ``conn`` is a superuser connection in autocommit (``LocalStack.connect(options=
    EXEMPT_FROM_TIMEOUTS)``: a tiny ``statement_timeout`` on the cluster must not cut the set-up);
    ``owner=None`` creates them as the connected role (a target's own app role).
    """
    with conn.transaction():
        if owner:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(owner)))
        for statement in STATEMENTS:
            conn.execute(statement)


def set_fault(conn: psycopg.Connection[Any], *, for_s: float, delay_s: float = 0.0, fail_attempts: int = 0) -> None:
    """Open the fault window now for ``for_s`` seconds (the database's clock, as the endpoint reads it)."""
    conn.execute("UPDATE drill_fault SET delay_s = %s, fail_attempts = %s, until = now() + make_interval(secs => %s)",
                 (delay_s, fail_attempts, for_s))


def clear_fault(conn: psycopg.Connection[Any]) -> None:
    conn.execute("UPDATE drill_fault SET delay_s = 0, fail_attempts = 0, until = '-infinity'")


def attempts_counted(conn: psycopg.Connection[Any]) -> int:
    """Database attempts so far (the sequence's last value; 0 before the first)."""
    row = conn.execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM drill_db_attempts").fetchone()
    return int(row[0]) if row else 0


def reset_counters(conn: psycopg.Connection[Any], *names: str) -> None:
    """Create the counters (``POST /counter/deadlock?name=d`` uses ``d_a`` and ``d_b``) at 0."""
    for name in names:
        conn.execute("INSERT INTO counters (name, n) VALUES (%s, 0) ON CONFLICT (name) DO UPDATE SET n = 0", (name,))


def counter(conn: psycopg.Connection[Any], name: str) -> int | None:
    row = conn.execute("SELECT n FROM counters WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else None
