"""The ephemeral PostgreSQL cluster, started for real: as root (dropping to `postgres`) and not."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from drills.errors import ExitedEarly
from drills.stack.postgres import PostgresCluster, PostgresConfig

pytestmark = pytest.mark.slow


def process_uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_cluster_applies_settings_and_cleans_up(pg_binaries, no_leftovers) -> None:
    config = PostgresConfig(max_connections=12, settings={"statement_timeout": "750ms", "lock_timeout": "2s"})
    with PostgresCluster(config) as pg:
        data_dir = pg.dir
        shown = pg.show("max_connections", "statement_timeout", "lock_timeout", "listen_addresses")
        assert shown == {"max_connections": "12", "statement_timeout": "750ms", "lock_timeout": "2s",
                         "listen_addresses": "127.0.0.1"}
        # The app role logs in over TCP with its password; the session inherits statement_timeout.
        with psycopg.connect(pg.app_conninfo) as conn:
            assert conn.execute("SELECT current_user, current_setting('statement_timeout')").fetchone() == \
                ("app", "750ms")
        if os.geteuid() == 0:
            assert process_uid(pg.pid) != 0, "PostgreSQL must not run as root"
    assert not data_dir.exists()


def test_bad_setting_exits_early_with_the_server_log(pg_binaries, no_leftovers) -> None:
    with pytest.raises(ExitedEarly) as info, PostgresCluster(PostgresConfig(settings={"shared_buffers": "lots"})):
        pass
    assert "shared_buffers" in info.value.log_tail


def test_runs_as_a_non_root_user(pg_binaries, no_leftovers, tmp_path: Path) -> None:
    """Started by an unprivileged user, the cluster runs as that user (no drop needed)."""
    script = textwrap.dedent("""
        from drills.stack.postgres import PostgresCluster, PostgresConfig
        with PostgresCluster(PostgresConfig()) as pg:
            print(pg.show("server_version")["server_version"])
    """)
    if os.geteuid() != 0:
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    else:
        # As root, run the same code as the `postgres` user with the system's Python 3.11+.
        runuser, python = shutil.which("runuser"), shutil.which("python3", path="/usr/bin:/bin")
        if runuser is None or python is None:
            pytest.skip("needs runuser and /usr/bin/python3 to test as a non-root user")
        site = [p for p in sys.path if p.endswith("site-packages")]
        repo = str(Path(__file__).resolve().parents[2])
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join([repo, *site]), "HOME": str(tmp_path)}
        probe = subprocess.run([runuser, "-u", "postgres", "--", python, "-c", "import drills, psycopg"],
                               capture_output=True, text=True, env=env, timeout=60)
        if probe.returncode != 0:
            pytest.skip(f"the postgres user cannot import this checkout: {probe.stderr.strip()[-200:]}")
        result = subprocess.run([runuser, "-u", "postgres", "--", python, "-c", script], capture_output=True,
                                text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()[:2].isdigit()


def test_a_pinned_password_is_the_one_the_app_role_logs_in_with(pg_binaries, no_leftovers, monkeypatch) -> None:
    """DRILLS_DB_PASSWORD plants a known secret (the leak test searches outputs for it)."""
    monkeypatch.setenv("DRILLS_DB_PASSWORD", "pinned pass'word")  # a space and a quote, on purpose
    with PostgresCluster(PostgresConfig()) as pg:
        with psycopg.connect(pg.app_conninfo) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("app",)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pg.app_conninfo.replace("pinned", "wrong"), connect_timeout=5).close()


def test_clusters_start_from_one_template_each_with_its_own_password(pg_binaries, no_leftovers, tmp_path: Path,
                                                                      monkeypatch) -> None:
    """The first cluster builds the template; the next copy it. Each copy's app role has that
    cluster's password only, and no copy's superuser can log in over TCP (the template has no
    password in it)."""
    from drills.stack.pg_template import COMPLETE_FILE

    monkeypatch.setenv("DRILLS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DRILLS_DB_PASSWORD", raising=False)  # a random password per cluster
    with PostgresCluster(PostgresConfig()) as first:
        (template,) = (tmp_path / "cache").glob("postgres-*")
        built_at = (template / COMPLETE_FILE).stat().st_mtime_ns
        with psycopg.connect(first.app_conninfo) as conn:
            assert conn.execute("SELECT current_user, current_database()").fetchone() == ("app", "drills")
        first_conninfo = first.app_conninfo
    with PostgresCluster(PostgresConfig(max_connections=12)) as second:
        assert (template / COMPLETE_FILE).stat().st_mtime_ns == built_at, "the template was built again"
        assert second.show("max_connections") == {"max_connections": "12"}
        with psycopg.connect(second.app_conninfo) as conn:
            conn.execute("CREATE TABLE t (x int)")
        port = f"port={second.port}"
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(first_conninfo.replace(f"port={first_conninfo.split('port=')[1].split()[0]}", port),
                            connect_timeout=5)
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(f"host=127.0.0.1 {port} dbname=postgres user=postgres password=postgres", connect_timeout=5)
    with PostgresCluster(PostgresConfig()) as third, psycopg.connect(third.app_conninfo) as conn:
        assert conn.execute("SELECT to_regclass('t')").fetchone() == (None,), "a copy saw another copy's table"


def test_a_cluster_can_still_run_its_own_initdb(pg_binaries, no_leftovers, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DRILLS_CACHE_DIR", str(tmp_path / "cache"))
    with PostgresCluster(PostgresConfig(from_template=False)) as pg, psycopg.connect(pg.app_conninfo) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("app",)
    assert not (tmp_path / "cache").exists()
