"""What ``/work`` does and records, the same in every framework: its query, its ledger line, its
``Server-Timing`` header, the session settings ``/config`` reads back and the worker's ready file.

Framework-free (psycopg's ``sql`` only), so the FastAPI, Flask and Django apps share it.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from psycopg import sql

# Values are validated before they reach SQL: the tag goes into a comment.
TAG_PATTERN = r"^[A-Za-z0-9_-]{0,64}$"
#: Upper bound of ``app_s``, ``db_s`` and ``/block``'s ``s`` (seconds).
MAX_DELAY_S = 600.0
#: ``<kind>`` of the records ``/block?tag=`` writes when it starts blocking (``blocks-<pid>.jsonl``).
BLOCK_RECORDS = "blocks"
#: The database session's timeouts ``/config`` reads back with SHOW.
SESSION_SETTINGS = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")


def work_query(tag: str) -> sql.Composed:
    """``SELECT pg_sleep(%s) /* drill:<tag> */``: the tag lets a drill find it in pg_stat_activity."""
    if not re.fullmatch(TAG_PATTERN, tag):
        raise ValueError(f"tag {tag!r} does not match {TAG_PATTERN}")
    return sql.SQL("SELECT pg_sleep(%s) /* drill:{} */").format(sql.SQL(tag))


def show_query(name: str) -> sql.Composed:
    return sql.SQL("SHOW {}").format(sql.Identifier(name))


def server_timing(waited_ms: float, handler_ms: float) -> str:
    """W3C ``Server-Timing``: ms waiting for a connection, ms in the handler."""
    return f"pool;dur={waited_ms:.2f}, handler;dur={handler_ms:.2f}"


def ledger(state_dir: Path, tag: str, started_at: float, outcome: str) -> None:
    """Record when a tagged request's handler really ended, whatever the client saw.

    This is how a drill sees work that outlives a proxy's 504: the handler is not cancelled when
    the client (or nginx) goes away. One small append per tagged request; O_APPEND keeps lines whole.
    """
    append_ledger(state_dir, {"tag": tag, "pid": os.getpid(), "started_at": started_at, "ended_at": time.time(),
                              "outcome": outcome})


def append_ledger(state_dir: Path, line: dict[str, Any]) -> None:
    """Append one JSON line to this worker's ledger (``ledger-<pid>.jsonl``); O_APPEND keeps lines whole."""
    append_json_line(state_dir / f"ledger-{os.getpid()}.jsonl", line)


def append_json_line(path: Path, line: dict[str, Any]) -> None:
    """Append one JSON line to ``path``; O_APPEND keeps lines whole."""
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def ready_file(state_dir: Path) -> Path:
    """This worker's readiness file: the harness counts them (a saturated sync worker cannot
    answer /readyz, but its file says it booted); gunicorn_hooks.child_exit removes it."""
    return state_dir / f"worker-{os.getpid()}.ready"


def mark_ready(state_dir: Path) -> Path:
    path = ready_file(state_dir)
    path.write_text(str(time.time()))
    return path
