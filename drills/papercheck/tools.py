"""Each kind of code block checked by its own tool.

========= ===================================================================================
kind      check
========= ===================================================================================
nginx     ``nginx -t`` on the fragment, wrapped in the smallest config that makes it complete
yaml      every document validated against the Kubernetes schemas, offline (kubernetes-validate)
python    compiled; a Gunicorn config (first line ``# gunicorn.conf.py``) also loaded the way
          Gunicorn loads one, refusing unknown settings
sql       run on an ephemeral PostgreSQL; every ``SET name = value`` read back with ``SHOW``
ini/conf  PostgreSQL settings: the ephemeral cluster started with them, each read back with ``SHOW``
bash/sh   ``bash -n``
text      not code (diagrams): reported as such
========= ===================================================================================
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .blocks import Block
from .report import Problem

#: Kubernetes version whose schemas the manifests are checked against (the paper's target).
KUBERNETES_VERSION = "1.34.0"
#: The first kubernetes-validate release whose wheel holds that version's schemas (1.34.0's stops at
#: v1.33.0); pyproject.toml's ``kubernetes`` extra requires at least this one.
KUBERNETES_VALIDATE_MIN = "1.34.1"
#: What to run when kubernetes-validate is missing or too old.
KUBERNETES_INSTALL = f"pip install 'kubernetes-validate>={KUBERNETES_VALIDATE_MIN}' (or: pip install -e '.[kubernetes]')"
KINDS = ("nginx", "yaml", "yml", "python", "py", "sql", "ini", "conf", "bash", "sh", "shell", "text")


class BlockChecker:
    """Checks blocks; starts an ephemeral PostgreSQL the first time a SQL block needs one."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self._postgres: Any = None

    def __enter__(self) -> BlockChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def check(self, block: Block) -> tuple[str, list[Problem]]:
        """(how it was checked, problems). A block with a skip marker is reported, not checked."""
        if block.skip_reason:
            return f"not checked: {block.skip_reason}", []
        kind = block.kind
        if kind == "text":
            return "not code (a diagram or sample output)", []
        if kind not in KINDS:
            return "unknown kind", [Problem(block.paper, block.line, "kind",
                                            f"info string '{block.info}' declares no checkable kind; use one of "
                                            f"{', '.join(KINDS)}, or mark it <!-- check: skip — why -->")]
        method = {"nginx": self.nginx, "yaml": self.kubernetes, "yml": self.kubernetes, "python": self.python,
                  "py": self.python, "sql": self.sql, "ini": self.postgres_conf, "conf": self.postgres_conf,
                  "bash": self.shell, "sh": self.shell, "shell": self.shell}[kind]
        return method(block)

    # -- nginx --------------------------------------------------------------------------------

    def nginx(self, block: Block) -> tuple[str, list[Problem]]:
        from ..stack.binaries import find_nginx

        text = block.text
        if re.search(r"^\s*http\s*\{", text, re.M):
            prefix, suffix = ("" if re.search(r"^\s*events\s*\{", text, re.M) else "events {}\n"), ""
        elif re.search(r"^\s*(server|upstream)\s*[\w.-]*\s*\{", text, re.M):
            prefix, suffix = "events {}\nhttp {\n", "}\n"
        else:  # directives of a location
            prefix, suffix = "events {}\nhttp {\nserver {\nlisten 127.0.0.1:65500;\nlocation / {\n", "}\n}\n}\n"
        with tempfile.TemporaryDirectory(prefix="drills-check-") as tmp:
            conf = Path(tmp) / "nginx.conf"
            conf.write_text(f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\n{prefix}{text}{suffix}")
            offset = 2 + prefix.count("\n")
            result = subprocess.run([str(find_nginx().path), "-t", "-p", tmp, "-c", str(conf), "-e", f"{tmp}/e.log"],
                                    capture_output=True, text=True, timeout=30, check=False)
        if result.returncode == 0:
            return "nginx -t", []
        message = next((line for line in result.stderr.splitlines() if "[emerg]" in line), result.stderr.strip())
        match = re.search(r":(\d+)\s*$", message)
        line = block.line + (int(match.group(1)) - offset if match else 1)
        message = re.sub(r" in \S+nginx\.conf:\d+", "", message.replace("nginx: ", ""))
        return "nginx -t", [Problem(block.paper, line, "nginx -t", message)]

    # -- Kubernetes ---------------------------------------------------------------------------

    def kubernetes(self, block: Block) -> tuple[str, list[Problem]]:
        import yaml

        how = f"Kubernetes {KUBERNETES_VERSION} schemas (kubernetes-validate, strict)"
        missing = kubernetes_schemas_missing()
        if missing:
            problem = Problem(block.paper, block.line + 1, "kubernetes schema", missing)
            return f"not checked: {missing.split(';')[0]}", [problem]
        import kubernetes_validate

        try:
            documents = [d for d in yaml.safe_load_all(block.text) if d is not None]
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            return how, [Problem(block.paper, block.line + (mark.line + 1 if mark else 1), "yaml", str(exc))]
        problems = []
        for doc in documents:
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                problems.append(Problem(block.paper, block.line + 1, "kubernetes schema",
                                        "not a complete manifest (apiVersion and kind missing): write the whole "
                                        "object, or mark the block <!-- check: skip — why -->"))
                continue
            try:
                kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                path = ".".join(str(p) for p in exc.path) or "(top)"
                unexpected = re.search(r"\('([^']+)' was unexpected\)", exc.message)
                line = (_line_containing(block.text, unexpected.group(1)) if unexpected
                        else _line_of(block.text, exc.path))
                problems.append(Problem(block.paper, block.line + 1 + line, "kubernetes schema",
                                        f"{doc['kind']} {path}: {exc.message}"))
            except (kubernetes_validate.SchemaNotFoundError, kubernetes_validate.InvalidSchemaError) as exc:
                # Their str() is empty: the text is in .message.
                problems.append(Problem(block.paper, block.line + 1, "kubernetes schema",
                                        getattr(exc, "message", "") or repr(exc)))
        return how, problems

    # -- Python and Gunicorn -------------------------------------------------------------------

    def python(self, block: Block) -> tuple[str, list[Problem]]:
        try:
            code = compile(block.text, str(block.paper), "exec")
        except SyntaxError as exc:
            return "compiled", [Problem(block.paper, block.line + (exc.lineno or 1), "python", exc.msg)]
        if not block.text.lstrip().startswith("# gunicorn.conf.py"):
            return "compiled", []
        return "compiled; loaded as a Gunicorn config", _gunicorn_config(block, code)

    # -- PostgreSQL ---------------------------------------------------------------------------

    def sql(self, block: Block) -> tuple[str, list[Problem]]:
        import psycopg
        from psycopg import sql as pgsql

        pg = self._cluster()
        problems: list[Problem] = []
        with pg.admin_connect() as conn:
            for role in sorted(set(re.findall(r"ALTER\s+ROLE\s+(\w+)", block.text, re.I))):
                if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                    conn.execute(pgsql.SQL("CREATE ROLE {}").format(pgsql.Identifier(role)))
            try:
                conn.execute(block.text)
            except psycopg.Error as exc:
                position = (exc.diag.statement_position or "") if exc.diag else ""
                line = block.text[: int(position) - 1].count("\n") + 1 if position.isdigit() else 1
                return "run on PostgreSQL", [Problem(block.paper, block.line + line, "postgresql",
                                                     (exc.diag.message_primary if exc.diag else None) or str(exc))]
            for name, value in re.findall(r"\bSET\s+(\w+)\s*(?:=|TO)\s*('(?:[^']|'')*'|[\w.]+)", block.text, re.I):
                try:
                    with conn.transaction():
                        conn.execute(f"SET LOCAL {name} = {value}")
                        conn.execute(pgsql.SQL("SHOW {}").format(pgsql.Identifier(name))).fetchone()
                except psycopg.Error as exc:
                    problems.append(Problem(block.paper, block.line + 1 + _line_containing(block.text, name),
                                            "postgresql", f"SET {name} = {value}: {str(exc).strip()}"))
        return "run on PostgreSQL; settings read back with SHOW", problems

    def postgres_conf(self, block: Block) -> tuple[str, list[Problem]]:
        from ..errors import ComponentError
        from ..stack.postgres import PostgresCluster, PostgresConfig

        settings = {}
        for number, raw in enumerate(block.text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            match = re.match(r"^(\w+)\s*=?\s*(.+)$", line)
            if not match:
                return "PostgreSQL settings", [Problem(block.paper, block.line + number, "postgresql",
                                                       f"not a 'name = value' setting: {raw.strip()}")]
            settings[match.group(1)] = match.group(2).strip().strip("'")
        try:
            with PostgresCluster(PostgresConfig(settings=settings)) as pg:
                pg.show(*settings)
        except ComponentError as exc:
            detail = next((line[line.index("FATAL"):] for line in exc.log_tail.splitlines() if "FATAL" in line),
                          str(exc).splitlines()[0])
            return "PostgreSQL started with them", [Problem(block.paper, block.line + 1, "postgresql", detail)]
        return "PostgreSQL started with them; each read back with SHOW", []

    def _cluster(self) -> Any:
        if self._postgres is None:
            from ..stack.binaries import find_postgres
            from ..stack.postgres import PostgresCluster, PostgresConfig

            # pg_stat_statements is what papers query for hold times; preload it where it is installed.
            extension = Path(find_postgres().bindir).parent / "lib" / "pg_stat_statements.so"
            settings = {"shared_preload_libraries": "pg_stat_statements"} if extension.exists() else {}
            self._postgres = self._stack.enter_context(PostgresCluster(PostgresConfig(settings=settings)))
            if settings:
                with self._postgres.admin_connect() as conn:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return self._postgres

    # -- shell --------------------------------------------------------------------------------

    def shell(self, block: Block) -> tuple[str, list[Problem]]:
        result = subprocess.run(["bash", "-n"], input=block.text, capture_output=True, text=True, timeout=30,
                                check=False)
        if result.returncode == 0:
            return "bash -n", []
        match = re.search(r"line (\d+): (.*)", result.stderr)
        return "bash -n", [Problem(block.paper, block.line + (int(match.group(1)) if match else 1), "bash -n",
                                   match.group(2) if match else result.stderr.strip())]


def _gunicorn_config(block: Block, code: Any) -> list[Problem]:
    """Load the block as Gunicorn loads a config file: every name must be a setting it accepts."""
    from gunicorn.config import Config

    namespace: dict[str, Any] = {"__file__": "gunicorn.conf.py", "__name__": "__config__"}
    try:
        exec(code, namespace)  # noqa: S102 - the paper's own snippet, as Gunicorn would run it
    except Exception as exc:  # noqa: BLE001
        return [Problem(block.paper, block.line + 1, "gunicorn config", f"running it raised {exc!r}")]
    config, problems = Config(), []
    for name, value in namespace.items():
        if name.startswith("_") or callable(value) or type(value).__name__ == "module":
            continue
        line = block.line + 1 + _line_containing(block.text, name)
        if name not in config.settings:
            problems.append(Problem(block.paper, line, "gunicorn config", f"'{name}' is not a Gunicorn setting"))
            continue
        try:
            config.set(name, value)
        except Exception as exc:  # noqa: BLE001 - Gunicorn's validators raise TypeError/ValueError
            problems.append(Problem(block.paper, line, "gunicorn config", f"{name} = {value!r}: {exc}"))
    return problems


def _line_containing(text: str, word: str) -> int:
    for number, line in enumerate(text.splitlines()):
        if re.search(rf"\b{re.escape(word)}\b", line):
            return number
    return 0


def _line_of(text: str, path: Any) -> int:
    """0-based line where the last named key of a schema error's path appears."""
    keys = [p for p in path if isinstance(p, str)]
    return _line_containing(text, keys[-1]) if keys else 0


def kubernetes_schemas_missing() -> str | None:
    """Why the YAML check cannot run (kubernetes-validate missing, or without the schemas of
    ``KUBERNETES_VERSION``, which it would refuse or silently replace), or None when it can."""
    import importlib.metadata

    try:
        from kubernetes_validate.utils import all_versions
    except ImportError:
        return f"kubernetes-validate is not installed; {KUBERNETES_INSTALL}"
    shipped = all_versions()
    if KUBERNETES_VERSION not in shipped:
        version = importlib.metadata.version("kubernetes-validate")
        has = f"it has {shipped[0]} to {shipped[-1]}" if shipped else "it has none"
        return f"kubernetes-validate {version} has no Kubernetes {KUBERNETES_VERSION} schemas ({has}); {KUBERNETES_INSTALL}"
    return None
