"""Find the PostgreSQL server binaries and the nginx binary that the drills start.

Both are looked up once per process (``functools.cache``); call ``find_postgres.cache_clear()``
or ``find_nginx.cache_clear()`` after changing ``PATH`` or the override variables below.

Overrides:

* ``DRILLS_PG_BINDIR``: the directory that holds ``initdb``, ``postgres`` and ``pg_ctl``;
* ``DRILLS_NGINX``: the nginx executable.

When an override is set it is the only place searched, so a wrong value is reported rather
than silently replaced by another installation.

``python -m drills.sysdeps`` prints what was found; with ``--install`` it may
install what is missing with apt-get (root on Debian/Ubuntu only).
"""

from __future__ import annotations

import functools
import glob
import itertools
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingBinary

PG_PROGRAMS = ("initdb", "postgres", "pg_ctl")
# Searched after PATH and pg_config, in this order; within one pattern the highest version first.
PG_FALLBACK_GLOBS = (
    "/usr/lib/postgresql/*/bin",
    "/opt/homebrew/opt/postgresql@*/bin",
    "/usr/local/opt/postgresql@*/bin",
)
# Searched after PATH (a non-root user's PATH often lacks /usr/sbin).
NGINX_FALLBACKS = (
    "/usr/sbin/nginx",
    "/usr/local/sbin/nginx",
    "/usr/local/nginx/sbin/nginx",
    "/opt/homebrew/bin/nginx",
)
CONDA_HINT = "conda env create -f environment.yml && conda activate drills"

PG_HINT = (
    "Install PostgreSQL's server programs:\n"
    "  Debian/Ubuntu:  sudo apt-get install postgresql\n"
    "  macOS:          brew install postgresql@15\n"
    f"  conda:          {CONDA_HINT}\n"
    "or set DRILLS_PG_BINDIR to the directory that holds initdb, postgres and pg_ctl."
)
NGINX_HINT = (
    "Install nginx:\n"
    "  Debian/Ubuntu:  sudo apt-get install nginx-light   (or nginx)\n"
    "  macOS:          brew install nginx\n"
    f"  conda:          {CONDA_HINT}\n"
    "or set DRILLS_NGINX to the nginx executable."
)


@dataclass(frozen=True)
class PostgresBinaries:
    """A PostgreSQL installation: the directory of its server programs and its version."""

    bindir: Path
    version: str
    """As printed by ``postgres --version``, e.g. ``"15.18"``."""

    @property
    def initdb(self) -> Path:
        """Creates a new cluster (data directory)."""
        return self.bindir / "initdb"

    @property
    def postgres(self) -> Path:
        """The server itself."""
        return self.bindir / "postgres"

    @property
    def pg_ctl(self) -> Path:
        """Starts, stops and signals a server."""
        return self.bindir / "pg_ctl"

    @property
    def psql(self) -> Path:
        """The interactive client of the same version."""
        return self.bindir / "psql"


@dataclass(frozen=True)
class NginxBinary:
    """An nginx executable and its version."""

    path: Path
    version: str
    """As printed by ``nginx -v``, e.g. ``"1.22.1"``."""


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _holds_pg(directory: Path) -> bool:
    return all(_is_executable(directory / name) for name in PG_PROGRAMS)


def _version(*argv: str | Path) -> str | None:
    """The first dotted number that ``argv`` prints, "unknown" if none, None if it does not run."""
    try:
        done = subprocess.run(
            [str(a) for a in argv], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    match = re.search(r"\d+(?:\.\d+)+|\d+", done.stdout + done.stderr)
    return match.group(0) if match else "unknown"


def _pg_dirs_on_path() -> Iterator[Path]:
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        directory = Path(entry or ".")
        if _holds_pg(directory):
            # /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb: use the real directory.
            yield (directory / "initdb").resolve().parent


def _pg_config_bindir() -> Iterator[Path]:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        return
    try:
        done = subprocess.run(
            [pg_config, "--bindir"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    if done.returncode == 0 and done.stdout.strip():
        yield Path(done.stdout.strip())


def _globbed(patterns: Iterable[str]) -> Iterator[Path]:
    def version_key(path: str) -> tuple[int, ...]:
        # ".../postgresql/15/bin" -> (15,); ".../postgresql@9.6/bin" -> (9, 6)
        return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.name))

    for pattern in patterns:
        for match in sorted(glob.glob(pattern), key=version_key, reverse=True):
            yield Path(match)


@functools.cache
def find_postgres() -> PostgresBinaries:
    """Find PostgreSQL's ``initdb``, ``postgres`` and ``pg_ctl``, all from one directory.

    Searched in order: ``$DRILLS_PG_BINDIR`` (alone, when set); each directory on ``PATH``
    holding all three (symlinks resolved to the real directory); ``pg_config --bindir``;
    ``/usr/lib/postgresql/*/bin``; Homebrew's ``postgresql@*`` prefixes.

    Raises:
        MissingBinary: nowhere searched holds a working installation.
    """
    override = os.environ.get("DRILLS_PG_BINDIR")
    candidates: Iterable[Path]
    if override:
        searched = [f"$DRILLS_PG_BINDIR={override}"]
        candidates = [Path(override).expanduser()]
    else:
        searched = ["each directory on $PATH", "pg_config --bindir", *PG_FALLBACK_GLOBS]
        candidates = itertools.chain(
            _pg_dirs_on_path(), _pg_config_bindir(), _globbed(PG_FALLBACK_GLOBS)
        )
    for bindir in candidates:
        if _holds_pg(bindir):
            version = _version(bindir / "postgres", "--version")
            if version is not None:
                return PostgresBinaries(bindir=bindir.resolve(), version=version)
    raise MissingBinary("PostgreSQL server (initdb, postgres, pg_ctl)", searched, PG_HINT)


@functools.cache
def find_nginx() -> NginxBinary:
    """Find the nginx executable.

    Searched in order: ``$DRILLS_NGINX`` (alone, when set); ``PATH``; ``/usr/sbin/nginx``;
    ``/usr/local/sbin/nginx``; ``/usr/local/nginx/sbin/nginx``; ``/opt/homebrew/bin/nginx``.

    Raises:
        MissingBinary: nowhere searched holds a working nginx.
    """
    override = os.environ.get("DRILLS_NGINX")
    if override:
        searched = [f"$DRILLS_NGINX={override}"]
        candidates = [Path(override).expanduser()]
    else:
        on_path = shutil.which("nginx")
        searched = ["$PATH", *NGINX_FALLBACKS]
        candidates = ([Path(on_path)] if on_path else []) + [Path(p) for p in NGINX_FALLBACKS]
    for path in candidates:
        if _is_executable(path):
            version = _version(path, "-v")  # prints "nginx version: nginx/1.22.1" to stderr
            if version is not None:
                return NginxBinary(path=path.absolute(), version=version)
    raise MissingBinary("nginx", searched, NGINX_HINT)
