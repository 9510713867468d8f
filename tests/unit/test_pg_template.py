"""The PostgreSQL template cache without a server: keys, storing (once, whoever is first), copying."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from drills.stack.binaries import PostgresBinaries
from drills.stack.leftovers import OWNER_FILE
from drills.stack.pg_template import (
    COMPLETE_FILE,
    copy_data_dir,
    find_template,
    remove_templates,
    store_template,
    template_key,
)

PG15 = PostgresBinaries(bindir=Path("/usr/lib/postgresql/15/bin"), version="15.18")
ARGS = ("-U", "postgres", "--no-sync")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("DRILLS_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def data_dir(where: Path, marker: str = "a") -> Path:
    where.mkdir(parents=True)
    os.chmod(where, 0o700)
    (where / "PG_VERSION").write_text("15\n")
    (where / "base").mkdir()
    (where / "base" / "file").write_text(marker)
    return where


def test_the_key_changes_with_the_installation_the_owner_and_the_initdb_arguments() -> None:
    base = template_key(PG15, "postgres", ARGS)
    assert base.startswith("postgres-15.18-") and base == template_key(PG15, "postgres", ARGS)
    others = {template_key(PostgresBinaries(bindir=PG15.bindir, version="15.19"), "postgres", ARGS),
              template_key(PostgresBinaries(bindir=Path("/opt/pg/bin"), version="15.18"), "postgres", ARGS),
              template_key(PG15, None, ARGS), template_key(PG15, "postgres", (*ARGS, "--wal-segsize=1"))}
    assert base not in others and len(others) == 4


def test_a_stored_template_is_found_whole_with_its_modes(cache: Path, tmp_path: Path) -> None:
    key = template_key(PG15, None, ARGS)
    assert find_template(key) is None
    found = store_template(key, data_dir(tmp_path / "seed"), PG15)
    assert found == cache / key / "data" == find_template(key)
    assert (found / "base" / "file").read_text() == "a"
    assert stat.S_IMODE(found.stat().st_mode) == 0o700, "the server refuses a data dir others can read"
    assert (cache / key / COMPLETE_FILE).is_file() and not (cache / key / OWNER_FILE).exists()
    assert [p.name for p in cache.iterdir()] == [key], "no building dir left behind"


def test_the_first_finished_template_wins_and_a_later_one_is_dropped(cache: Path, tmp_path: Path) -> None:
    key = template_key(PG15, None, ARGS)
    store_template(key, data_dir(tmp_path / "first", "first"), PG15)
    found = store_template(key, data_dir(tmp_path / "second", "second"), PG15)
    assert (found / "base" / "file").read_text() == "first"
    assert [p.name for p in cache.iterdir()] == [key]


def test_a_damaged_template_is_replaced_and_a_killed_store_swept(cache: Path, tmp_path: Path) -> None:
    key = template_key(PG15, None, ARGS)
    (cache / key / "data").mkdir(parents=True)  # no PG_VERSION, no completion file
    killed = cache / "drills-pg-killed"
    killed.mkdir()
    (killed / OWNER_FILE).write_text("999999999 1 \n")  # an owner that is gone
    assert find_template(key) is None
    found = store_template(key, data_dir(tmp_path / "seed"), PG15)
    assert (found / "PG_VERSION").is_file()
    assert not killed.exists()


def test_copy_keeps_modes_and_fails_loudly(tmp_path: Path) -> None:
    source = data_dir(tmp_path / "source")
    copy_data_dir(source, tmp_path / "copy")
    assert stat.S_IMODE((tmp_path / "copy").stat().st_mode) == 0o700
    assert (tmp_path / "copy" / "base" / "file").read_text() == "a"
    with pytest.raises(Exception, match="copying the template"):
        copy_data_dir(tmp_path / "missing", tmp_path / "copy2")


def test_remove_templates_says_what_it_removed(cache: Path, tmp_path: Path) -> None:
    key = template_key(PG15, None, ARGS)
    store_template(key, data_dir(tmp_path / "seed"), PG15)
    assert remove_templates() == [f"{cache / key} (a PostgreSQL template)"]
    assert find_template(key) is None and remove_templates() == []
