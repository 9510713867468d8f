"""An ephemeral PostgreSQL cluster: initdb in a temp dir, loopback and a private socket only.

The postmaster runs as our child (``postgres -D …``) rather than daemonized by ``pg_ctl start``,
so that its process group, the parent-death signal and ``stop()`` reach it; ``stop()`` sends
SIGINT, which is exactly what ``pg_ctl stop -m fast`` sends. When we are root the server runs as
the ``postgres`` user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from ..errors import ComponentError
from .binaries import PostgresBinaries, find_postgres
from .children import OsUser, dies_with_parent, end_group
from .ports import LOOPBACK
from .process import Component, ManagedProcess

SUPERUSER = "postgres"
APP_USER = "app"
DATABASE = "drills"
#: libpq options for the drill's own sessions (set-up, sampling): the server's statement_timeout is
#: what the drill measures on the app's sessions, not a limit on its instruments.
EXEMPT_FROM_TIMEOUTS = "-c statement_timeout=0 -c lock_timeout=0"
#: initdb's arguments besides the data dir and the password file. 1 MB WAL segments (not 16): the
#: template is copied for every cluster, and its one WAL segment was 16 of its 39 MB.
INITDB_ARGS = ("-U", SUPERUSER, "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
               "--locale=C", "--no-sync", "--wal-segsize=1")


@dataclass(frozen=True, kw_only=True)
class PostgresConfig:
    """Server settings of one ephemeral cluster.

    ``settings`` are extra server parameters with explicit units (``{"statement_timeout":
    "1000ms"}``): PostgreSQL reads a bare number in the parameter's own unit, which differs
    between parameters.
    """

    max_connections: int = 20
    settings: Mapping[str, str] = field(default_factory=dict)
    start_timeout_s: float = 30.0
    #: The user that owns and runs the server when we are root.
    os_user_when_root: str = "postgres"
    #: Start from a copy of the cached template (pg_template) rather than a fresh initdb, which cost
    #: 1.3–2.0 s of a 2.0–2.6 s stack start here. Off: every cluster runs its own initdb.
    from_template: bool = True


class PostgresCluster(Component):
    """``with PostgresCluster(config) as pg:`` gives a ready cluster with an ``app`` role.

    The ``app`` role logs in over TCP with a random password (scram-sha-256); the superuser
    connects over the private Unix socket without one. The password never leaves the
    process except in the service's environment.
    """

    name = "postgres"

    dir_prefix = "drills-pg-"

    def __init__(self, config: PostgresConfig, *, binaries: PostgresBinaries | None = None) -> None:
        super().__init__()
        self.config = config
        self.binaries = binaries or find_postgres()
        # Random per cluster; DRILLS_DB_PASSWORD pins it, so a test can plant a known secret and
        # search every output for it.
        self._password = os.environ.get("DRILLS_DB_PASSWORD") or secrets.token_urlsafe(18)

    # -- paths and connection strings ---------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        return self._require_dir()

    @property
    def data_dir(self) -> Path:
        return self._require_dir() / "data"

    @property
    def log_path(self) -> Path:
        return self._require_dir() / "postgres.log"

    @property
    def app_conninfo(self) -> str:
        """libpq conninfo for the ``app`` role over TCP. Contains the password: keep it secret."""
        return make_conninfo(host=LOOPBACK, port=self.port, dbname=DATABASE, user=APP_USER,
                             password=self._password, application_name="drills-service")

    def admin_connect(self, dbname: str = DATABASE, **kwargs: Any) -> psycopg.Connection[Any]:
        """A superuser connection over the private socket (autocommit)."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
            application_name="drills-admin",
            **kwargs,
        )

    # -- life cycle ----------------------------------------------------------------------------

    def start(self) -> None:
        workdir = self._make_dir()
        ids = OsUser.named(self._os_user())
        if ids.user is not None and ids.group is not None:
            os.chown(workdir, ids.user, ids.group)
        copied = self.config.from_template and self._copy_template()
        if not copied:
            self._initdb(ids)
        self._take_port()
        argv = [str(self.binaries.postgres), "-D", str(self.data_dir)]
        for name, value in self._server_settings().items():
            argv += ["-c", f"{name}={value}"]
        process = ManagedProcess(
            self.name,
            argv,
            log_path=self.log_path,
            env=_c_locale_env(),
            run_as=self._os_user(),
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back and disconnect sessions
            death_signal=signal.SIGQUIT,  # "immediate": nobody is left to wait for it
        )
        self._launch(process, self._answers_query, self.config.start_timeout_s)
        self._set_app_role(exists=copied)
        self.ready_s = time.monotonic() - self._started_at

    def stop_server(self) -> None:
        """Shut the server down cleanly (fast: a shutdown checkpoint), keeping its data dir."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if (self.data_dir / "postmaster.pid").exists():
            raise ComponentError(self.name, "the server did not shut down cleanly", self.log_text()[-2000:])

    # -- read-back -----------------------------------------------------------------------------

    def show(self, *names: str) -> dict[str, str]:
        """``SHOW name`` for each name, as the server reports it (with its unit)."""
        with self.admin_connect() as conn:
            return {
                name: _one(conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone())
                for name in names
            }

    def log_text(self) -> str:
        """The server's log so far ("" before it exists)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def server_version(self) -> str:
        with self.admin_connect() as conn:
            return _one(conn.execute("SHOW server_version").fetchone())

    # -- internals -----------------------------------------------------------------------------

    def _server_settings(self) -> dict[str, str]:
        base = {
            "port": str(self.port),
            "listen_addresses": LOOPBACK,
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": str(self.config.max_connections),
            # An ephemeral cluster: durability buys nothing and costs start-up and latency.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # %e puts the SQLSTATE in every line, so drills can read errors from the log.
            "log_line_prefix": "%m [%p] %e %a ",
            "log_min_messages": "warning",
        }
        base.update(self.config.settings)
        return base

    def _initdb(self, ids: OsUser) -> None:
        pwfile = self.socket_dir / "superuser-password"
        pwfile.write_text(secrets.token_urlsafe(18) + "\n")
        if ids.user is not None and ids.group is not None:
            os.chown(pwfile, ids.user, ids.group)
        os.chmod(pwfile, 0o600)
        argv = [
            str(self.binaries.initdb),
            "-D", str(self.data_dir),
            f"--pwfile={pwfile}",
            *INITDB_ARGS,
        ]
        with open(self.log_path, "ab") as log:
            # initdb too must die with the drill: left running after a SIGKILL it went on writing
            # into a data dir the next run's sweep had just removed (found by the fault matrix).
            # Its own process group, so that an interrupted initdb is ended with the postgres
            # bootstrap it runs: killing initdb alone let that child write on into the data dir
            # after the stack had removed it (found by the fault matrix, SIGINT during initdb).
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=_c_locale_env(), cwd=self.socket_dir,
                start_new_session=True, preexec_fn=dies_with_parent(),
                user=ids.user, group=ids.group, extra_groups=ids.extra_groups,
            )
            try:
                returncode = proc.wait()
            except BaseException:
                end_group(proc)
                raise
        pwfile.unlink(missing_ok=True)
        if returncode != 0:
            from .process import read_tail

            raise ComponentError("initdb", f"exited with code {returncode}", read_tail(self.log_path))

    def _answers_query(self) -> bool:
        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
            connect_timeout=1, autocommit=True,
        ) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def _set_app_role(self, *, exists: bool) -> None:
        """The ``app`` role with this cluster's password, owning the drills' database: a template's
        copy has both and only needs the password; a fresh cluster gets both."""
        # A drill may run the server with a tiny statement_timeout; setting up must not be cut by it
        # (CREATE DATABASE took > 300 ms on a busy machine).
        with psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
            autocommit=True, connect_timeout=5, options=EXEMPT_FROM_TIMEOUTS,
        ) as conn:
            verb = "ALTER" if exists else "CREATE"
            conn.execute(sql.SQL(f"{verb} ROLE {{}} LOGIN PASSWORD {{}}").format(
                sql.Identifier(APP_USER), sql.Literal(self._password)))
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(APP_USER)))

    def _copy_template(self) -> bool:
        """Copy the cached template into the data dir, building the template first if there is
        none; False (initdb instead) where the cache folder cannot be written."""
        from .pg_template import copy_data_dir, find_template, template_key

        key = template_key(self.binaries, self._os_user(), INITDB_ARGS)
        try:
            template = find_template(key) or self._build_template(key)
        except OSError as exc:
            warnings.warn(f"no PostgreSQL template ({exc}); every cluster runs initdb. Set DRILLS_CACHE_DIR "
                          "to a writable folder to start clusters faster.", stacklevel=2)
            return False
        copy_data_dir(template, self.data_dir)
        return True

    def _build_template(self, key: str) -> Path:
        """A fresh cluster with the drills' database and a passwordless ``app`` role (no role of a
        template has a password: each copy sets its own), shut down cleanly and stored."""
        from .pg_template import store_template

        seed_config = PostgresConfig(from_template=False, os_user_when_root=self.config.os_user_when_root,
                                     start_timeout_s=self.config.start_timeout_s)
        with PostgresCluster(seed_config, binaries=self.binaries) as seed, seed.admin_connect("postgres") as conn:
            for role in (APP_USER, SUPERUSER):
                conn.execute(sql.SQL("ALTER ROLE {} PASSWORD NULL").format(sql.Identifier(role)))
            conn.close()
            seed.stop_server()
            return store_template(key, seed.data_dir, self.binaries)

    def _os_user(self) -> str | None:
        return self.config.os_user_when_root if os.geteuid() == 0 else None

    def _require_dir(self) -> Path:
        if self.dir is None:
            raise ComponentError(self.name, "not started")
        return self.dir


def _one(row: tuple[Any, ...] | None) -> str:
    """The single value of a one-row, one-column answer (SHOW always has one)."""
    if row is None:
        raise ComponentError("postgres", "SHOW returned no row")
    return str(row[0])


def _c_locale_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PG"))}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env
