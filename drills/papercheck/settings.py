"""The recommended settings a paper's code blocks and tables state, each normalised and located.

One reader per kind of block, each in the way its component reads the text: nginx directives (with
the block they sit in), a ``gunicorn.conf.py``'s assignments, the keyword arguments of a psycopg
pool and its conninfo, ``ALTER ROLE … SET``, Kubernetes objects (probes, grace period, HPA, env,
ingress-nginx and ALB annotations, ConfigMaps), and the rows of a table with a "Production" column.
Every value is keyed as in :meth:`drills.recommended.Recommended.flat` (``proxy.proxy_read_timeout_s``);
durations become seconds. A line whose comment says ``recommended: differs — why`` is kept, marked
waived, and compared with nothing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..recommended import Value
from .blocks import Block, lines_with_fences
from .k8s import read_objects
from .report import Problem
from .units import (
    Parse,
    UnitError,
    count,
    float_seconds,
    nginx_seconds,
    plain_number,
    postgres_seconds,
    prose_seconds,
    text_value,
    whole_seconds,
)

CHECK = "recommended"
_WAIVER = re.compile(r"recommended:\s*differs\s*[—:-]\s*(.+?)\s*(?:-->)?$")


@dataclass(frozen=True)
class Found:
    """One setting as a document states it."""

    key: str  # "group.field" of drills.recommended
    value: Value  # normalised: seconds for durations
    written: str  # as the document writes it
    paper: Path
    line: int
    waived: str | None = None  # why the document differs on purpose

    def where(self) -> str:
        return f"{self.paper.name}:{self.line}"


@dataclass
class _Collector:
    block: Block
    found: list[Found] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def add(self, key: str, written: str, index: int, parse: Parse) -> None:
        """``index``: the 0-based line within the block's text."""
        lines = self.block.text.splitlines()
        line = self.block.line + 1 + index
        try:
            value = parse(written)
        except UnitError as exc:
            self.problems.append(Problem(self.block.paper, line, CHECK, f"{key}: {exc}"))
            return
        waiver = _WAIVER.search(lines[index]) if index < len(lines) else None
        self.found.append(Found(key, value, written.strip(), self.block.paper, line,
                                waiver.group(1) if waiver else None))


# -- nginx ------------------------------------------------------------------------------------------

_NGINX: dict[str, tuple[str, Parse]] = {
    "proxy_connect_timeout": ("proxy.proxy_connect_timeout_s", nginx_seconds),
    "proxy_read_timeout": ("proxy.proxy_read_timeout_s", nginx_seconds),
    "proxy_send_timeout": ("proxy.proxy_send_timeout_s", nginx_seconds),
    "proxy_next_upstream": ("proxy.proxy_next_upstream", text_value),
    "proxy_next_upstream_tries": ("proxy.proxy_next_upstream_tries", count),
    "proxy_http_version": ("proxy.proxy_http_version", text_value)}


def _nginx_tokens(text: str) -> Iterator[tuple[str, int]]:
    """Words (quotes removed) and ``;``, ``{``, ``}``, each with its 0-based line; comments dropped."""
    for index, line in enumerate(text.splitlines()):
        at = 0
        while at < len(line):
            char = line[at]
            if char.isspace():
                at += 1
            elif char == "#":
                break
            elif char in ";{}":
                yield char, index
                at += 1
            elif char in "'\"":
                end = line.find(char, at + 1)
                end = len(line) if end < 0 else end
                yield line[at + 1:end], index
                at = end + 1
            else:
                word = re.match(r"[^\s;{}'\"]+", line[at:])
                assert word is not None
                yield word.group(0), index
                at += len(word.group(0))


def nginx_settings(block: Block) -> _Collector:
    out = _Collector(block)
    context: list[str] = []
    words: list[str] = []
    first = 0
    for piece, index in _nginx_tokens(block.text):
        if piece not in ";{}":
            first = index if not words else first
            words.append(piece)
            continue
        if piece == "{":
            context.append(words[0] if words else "")
        elif piece == "}":
            if context:
                context.pop()
        elif words:
            _nginx_directive(out, words[0], words[1:], first, context[-1] if context else "")
        words = []
    return out


def _nginx_directive(out: _Collector, name: str, args: list[str], index: int, inside: str) -> None:
    if name in _NGINX and args:
        key, parse = _NGINX[name]
        out.add(key, " ".join(args), index, parse)
    elif name == "keepalive" and inside == "upstream" and args:
        out.add("proxy.upstream_keepalive", args[0], index, count)
    elif name == "keepalive_timeout" and args:
        key = "proxy.upstream_keepalive_timeout_s" if inside == "upstream" else "proxy.client_keepalive_timeout_s"
        out.add(key, args[0], index, nginx_seconds)
    elif name == "server" and inside == "upstream":
        for arg in args[1:]:
            option, _, value = arg.partition("=")
            if option == "max_fails":
                out.add("proxy.max_fails", value, index, count)
            elif option == "fail_timeout":
                out.add("proxy.fail_timeout_s", value, index, nginx_seconds)


# -- Python: gunicorn.conf.py, the pool, the budget -------------------------------------------------

_GUNICORN: dict[str, tuple[str, Parse]] = {
    "workers": ("gunicorn.workers", count), "worker_class": ("gunicorn.worker_class", text_value),
    "keepalive": ("gunicorn.keepalive_s", whole_seconds), "timeout": ("gunicorn.timeout_s", whole_seconds),
    "graceful_timeout": ("gunicorn.graceful_timeout_s", whole_seconds)}
#: A config for Flask or Django (``worker_class`` sync or gthread): there ``timeout`` is the sync
#: rung of the ladder, not the event loop's heartbeat (``RECOMMENDED.wsgi``).
WSGI_WORKER_CLASSES = ("sync", "gthread")
_GUNICORN_WSGI: dict[str, tuple[str, Parse]] = {
    **_GUNICORN, "worker_class": ("wsgi.worker_class", text_value), "timeout": ("wsgi.sync_timeout_s", whole_seconds),
    "threads": ("wsgi.gthread_threads", count)}
_POOL: dict[str, tuple[str, Parse]] = {
    "min_size": ("app.pool_min_size", count), "max_size": ("app.pool_max_size", count),
    "timeout": ("app.pool_timeout_s", float_seconds), "max_waiting": ("app.pool_max_waiting", count)}
#: Module-level constants a paper's Python sets (``RETRY_ATTEMPTS = 3``).
_CONSTANTS: dict[str, tuple[str, Parse]] = {
    "REQUEST_BUDGET_S": ("app.request_budget_s", float_seconds),
    "RETRY_ATTEMPTS": ("retry.attempts", count),
    "RETRY_BUDGET_RATIO": ("retry.budget_ratio", plain_number),
    "RETRY_BUDGET_BURST": ("retry.budget_burst", count),
    "CLIENT_BACKOFF_BASE_S": ("retry.client_backoff_base_s", float_seconds),
    "CLIENT_BACKOFF_CAP_S": ("retry.client_backoff_cap_s", float_seconds),
    "TX_BACKOFF_BASE_S": ("retry.transaction_backoff_base_s", float_seconds),
    "TX_BACKOFF_CAP_S": ("retry.transaction_backoff_cap_s", float_seconds)}
#: urllib3's ``Retry(...)`` (and a subclass named ``…Retry``): ``total`` counts retries, the
#: recommendation attempts; ``backoff_factor`` and ``backoff_max`` are the HTTP caller's backoff.
_URLLIB3_RETRY: dict[str, tuple[str, Parse]] = {
    "total": ("retry.attempts", lambda text: _plus_one(count(text))),
    "backoff_factor": ("retry.client_backoff_base_s", float_seconds),
    "backoff_max": ("retry.client_backoff_cap_s", float_seconds)}
#: libpq conninfo keywords: connect_timeout and the keepalives in seconds, tcp_user_timeout in ms.
_CONNINFO: dict[str, tuple[str, Parse]] = {
    "connect_timeout": ("libpq.connect_timeout_s", whole_seconds),
    "keepalives_idle": ("libpq.keepalives_idle_s", whole_seconds),
    "keepalives_interval": ("libpq.keepalives_interval_s", whole_seconds),
    "tcp_user_timeout": ("libpq.tcp_user_timeout_s", lambda text: postgres_seconds(text, "ms"))}


def _literal(node: ast.expr) -> str | None:
    """The value an expression states: a constant, ``int(…)``/``float(…)`` of one, or the default of
    ``os.environ.get(name, default)``; None for anything computed."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str) \
            and not isinstance(node.value, bool):
        return str(node.value)
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and node.args:
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name in {"int", "float", "str"} and len(node.args) == 1:
            return _literal(node.args[0])
        if name in {"get", "getenv"} and len(node.args) == 2:
            return _literal(node.args[1])
    return None


def python_settings(block: Block) -> _Collector:
    out = _Collector(block)
    try:
        tree = ast.parse(block.text)
    except SyntaxError:
        return out  # tools.py reports it
    gunicorn = block.text.lstrip().startswith("# gunicorn.conf.py")
    assigned = {statement.targets[0].id: _literal(statement.value) for statement in tree.body
                if isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name)}
    gunicorn_keys = _GUNICORN_WSGI if assigned.get("worker_class") in WSGI_WORKER_CLASSES else _GUNICORN
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            name, value = statement.targets[0].id, _literal(statement.value)
            if value is None:
                continue
            if gunicorn and name in gunicorn_keys:
                out.add(gunicorn_keys[name][0], value, statement.lineno - 1, gunicorn_keys[name][1])
            elif name in _CONSTANTS:
                out.add(_CONSTANTS[name][0], value, statement.lineno - 1, _CONSTANTS[name][1])
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if callee.endswith("ConnectionPool"):
            _pool_call(out, node)
        elif callee.endswith("Retry"):
            _keywords(out, node, _URLLIB3_RETRY)
        elif callee == "stop_after_attempt" and len(node.args) == 1 \
                and (value := _literal(node.args[0])) is not None:
            out.add("retry.attempts", value, node.args[0].lineno - 1, count)
        elif callee == "open":
            for keyword in node.keywords:
                if keyword.arg == "timeout" and (value := _literal(keyword.value)) is not None:
                    out.add("app.pool_open_timeout_s", value, keyword.value.lineno - 1, float_seconds)
    return out


def _plus_one(value: int | str) -> int | str:
    """urllib3's ``total`` (retries) as attempts; text that is no count stays text."""
    return value + 1 if isinstance(value, int) else value


def _keywords(out: _Collector, node: ast.Call, table: dict[str, tuple[str, Parse]]) -> None:
    for keyword in node.keywords:
        if keyword.arg in table and (value := _literal(keyword.value)) is not None:
            out.add(table[keyword.arg][0], value, keyword.value.lineno - 1, table[keyword.arg][1])


def _pool_call(out: _Collector, node: ast.Call) -> None:
    for keyword in node.keywords:
        value = _literal(keyword.value)
        if value is None:
            continue
        if keyword.arg in _POOL:
            out.add(_POOL[keyword.arg][0], value, keyword.value.lineno - 1, _POOL[keyword.arg][1])
        elif keyword.arg == "check":
            out.add("app.pool_check", value, keyword.value.lineno - 1, text_value)
    conninfo = node.args[0] if node.args else None
    if isinstance(conninfo, ast.Constant) and isinstance(conninfo.value, str):
        lines = out.block.text.splitlines()
        for name, value in re.findall(r"(\w+)\s*=\s*(\S+)", conninfo.value):
            if name in _CONNINFO:
                index = next((i for i in range(conninfo.lineno - 1, conninfo.end_lineno or conninfo.lineno)
                              if f"{name}=" in lines[i]), conninfo.lineno - 1)
                out.add(_CONNINFO[name][0], value, index, _CONNINFO[name][1])


# -- PostgreSQL -------------------------------------------------------------------------------------

_ROLE_SET = re.compile(r"\bALTER\s+(?:ROLE|USER|DATABASE|SYSTEM)\b[^;]*?\bSET\s+(\w+)\s*(?:=|TO)\s*"
                       r"('(?:[^']|'')*'|[\w.]+)", re.I)
#: PostgreSQL reads a bare number of each of these as milliseconds.
_POSTGRES = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout",
             "client_connection_check_interval")


def sql_settings(block: Block) -> _Collector:
    out = _Collector(block)
    for index, line in enumerate(block.text.splitlines()):
        code = line.split("--", 1)[0]
        matches = (_ROLE_SET.findall(code) if block.kind == "sql"
                   else re.findall(r"^\s*(\w+)\s*=?\s*('[^']*'|\S+)", code))
        for name, value in matches:
            if name.lower() in _POSTGRES:
                out.add(f"postgres.{name.lower()}_s", value, index, postgres_seconds)
    return out


# -- a paper's tables -------------------------------------------------------------------------------

#: A table row's Setting cell (backticks dropped, lower case) → the setting its Production cell gives.
TABLE_SETTINGS = {
    "lock_timeout": "postgres.lock_timeout_s", "statement_timeout": "postgres.statement_timeout_s",
    "idle_in_transaction_session_timeout": "postgres.idle_in_transaction_session_timeout_s",
    "libpq connect_timeout": "libpq.connect_timeout_s",
    "libpq keepalives_*, tcp_user_timeout": "libpq.tcp_user_timeout_s",
    "psycopg_pool timeout": "app.pool_timeout_s", "asyncio.timeout": "app.request_budget_s",
    "proxy-read-timeout": "proxy.proxy_read_timeout_s", "proxy_read_timeout": "proxy.proxy_read_timeout_s",
    "idle_timeout.timeout_seconds": "alb.idle_timeout_s", "client total timeout": "client.timeout_s",
    "gunicorn timeout": "gunicorn.timeout_s", "gunicorn keepalive": "gunicorn.keepalive_s",
    "gunicorn graceful_timeout": "gunicorn.graceful_timeout_s",
    "prestop sleep": "kubernetes.pre_stop_sleep_s",
    "terminationgraceperiodseconds": "kubernetes.termination_grace_period_s",
    "readiness periodseconds": "kubernetes.readiness_period_s",
    "nginx upstream keepalive_timeout": "proxy.upstream_keepalive_timeout_s",
    "max_fails": "proxy.max_fails", "fail_timeout": "proxy.fail_timeout_s",
}
#: The settings of ``TABLE_SETTINGS`` a table gives as a count, not a duration.
_TABLE_COUNTS = {"proxy.max_fails"}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table_settings(paper: Path, text: str, outside: set[int]) -> _Collector:
    """Rows of every table with a "Setting" and a "Production" column, on the lines in ``outside``
    (1-based: not in code or verified sections)."""
    out = _Collector(Block(paper, 0, "", text))
    lines = text.splitlines()
    columns: tuple[int, int] | None = None
    for number, line in enumerate(lines, 1):
        if number not in outside or not line.lstrip().startswith("|"):
            columns = None
            continue
        cells = [cell.lower() for cell in _cells(line)]
        if columns is None:
            if "setting" in cells and "production" in cells:
                columns = (cells.index("setting"), cells.index("production"))
            continue
        if set(line.strip()) <= set("|-: "):
            continue
        raw = _cells(line)
        if max(columns) >= len(raw):
            continue
        setting, value = raw[columns[0]].replace("`", "").lower(), raw[columns[1]]
        key = TABLE_SETTINGS.get(" ".join(setting.split()))
        if key is None:
            out.problems.append(Problem(paper, number, CHECK, f"the table recommends '{raw[columns[0]]}' = {value}, "
                                        "which drills/recommended.py does not hold: add it there (and to "
                                        "papercheck.settings.TABLE_SETTINGS)"))
        elif value not in {"–", "-", ""}:
            out.add(key, value, number - 1, count if key in _TABLE_COUNTS else prose_seconds)
    return out


def checked_lines(text: str) -> set[int]:
    """1-based numbers of the lines outside code blocks and verified sections."""
    kept: set[int] = set()
    verified = False
    for number, (line, in_code) in enumerate(lines_with_fences(text.splitlines()), 1):
        if re.match(r"\s*<!-- verified:[\w-]+:(begin|end) -->", line):
            verified = line.rstrip().endswith(":begin -->")
        elif not in_code and not verified:
            kept.add(number)
    return kept


def kubernetes_settings(block: Block) -> _Collector:
    out = _Collector(block)
    read_objects(block.text, out.add)
    return out


def any_settings(block: Block) -> _Collector:
    """The reader for the block's kind; nothing for kinds that state no settings."""
    readers: dict[str, Callable[[Block], _Collector]] = {
        "nginx": nginx_settings, "python": python_settings, "py": python_settings, "sql": sql_settings,
        "ini": sql_settings, "conf": sql_settings, "yaml": kubernetes_settings, "yml": kubernetes_settings}
    reader = readers.get(block.kind)
    return reader(block) if reader and not block.skip_reason else _Collector(block)

