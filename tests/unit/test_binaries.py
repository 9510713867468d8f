"""Finding PostgreSQL's server programs and nginx (drills.stack.binaries)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from drills.errors import MissingBinary
from drills.stack import binaries
from drills.stack.binaries import PG_PROGRAMS, find_nginx, find_postgres

PLATFORMS = ("Debian/Ubuntu", "macOS", "conda")


@pytest.fixture(autouse=True)
def fresh_search(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test searches afresh, without the user's overrides."""
    monkeypatch.delenv("DRILLS_PG_BINDIR", raising=False)
    monkeypatch.delenv("DRILLS_NGINX", raising=False)
    find_postgres.cache_clear()
    find_nginx.cache_clear()
    yield
    find_postgres.cache_clear()
    find_nginx.cache_clear()


def test_find_postgres_finds_a_real_bindir() -> None:
    pg = find_postgres()
    for program in (pg.initdb, pg.postgres, pg.pg_ctl):
        assert program.is_file(), program
    assert pg.version[0].isdigit(), pg.version


def test_find_nginx_finds_a_real_binary() -> None:
    nginx = find_nginx()
    assert nginx.path.is_file()
    assert nginx.version[0].isdigit(), nginx.version


def test_empty_pg_bindir_override_names_every_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRILLS_PG_BINDIR", str(tmp_path))
    with pytest.raises(MissingBinary) as caught:
        find_postgres()
    message = str(caught.value)
    assert str(tmp_path) in message
    for platform in PLATFORMS:
        assert platform in message


def test_missing_nginx_override_names_every_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "no-such-nginx"
    monkeypatch.setenv("DRILLS_NGINX", str(absent))
    with pytest.raises(MissingBinary) as caught:
        find_nginx()
    message = str(caught.value)
    assert str(absent) in message
    for platform in PLATFORMS:
        assert platform in message


def test_symlinks_on_path_resolve_to_the_real_bindir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = find_postgres().bindir
    find_postgres.cache_clear()
    links = tmp_path / "bin"
    links.mkdir()
    for name in PG_PROGRAMS:
        (links / name).symlink_to(real / name)
    # Only PATH can find it now: no pg_config on PATH, no fallback directories.
    monkeypatch.setenv("PATH", str(links))
    monkeypatch.setattr(binaries, "PG_FALLBACK_GLOBS", ())

    assert find_postgres().bindir == real.resolve()
