"""A PostgreSQL data directory made once and copied for every cluster: initdb costs more than the
rest of a stack's start together.

The template is the data directory of a cluster that was initialized, started, given the drills'
database and ``app`` role (without a password: each copy gets its own), and shut down cleanly. It
is kept per PostgreSQL installation, OS user and initdb arguments in the cache folder
(``paths.cache_dir``). It is stored through a claimed ``drills-pg-`` dir of that folder and renamed
into place when complete, so a copy that was killed is swept like every other temp dir, and two
runs that build at once both end with one whole template. Nothing in it is secret: no role of it
has a password.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..errors import ComponentError
from ..paths import cache_dir
from .binaries import PostgresBinaries
from .leftovers import claim, sweep

#: Bump when what a template holds changes: old templates are then left unused (`drills clean` removes them).
TEMPLATE_FORMAT = 1
#: Marks a finished template; a dir without it is a build in progress or a broken one.
COMPLETE_FILE = "TEMPLATE.json"


def template_key(binaries: PostgresBinaries, os_user: str | None, initdb_args: tuple[str, ...]) -> str:
    """Which template fits: the same installation, version, owner and initdb arguments."""
    identity = json.dumps([TEMPLATE_FORMAT, str(binaries.bindir), binaries.version, os_user or "", initdb_args])
    return f"postgres-{binaries.version}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"


def find_template(key: str) -> Path | None:
    """The finished template's data dir for ``key``, or None."""
    home = cache_dir() / key
    return home / "data" if (home / COMPLETE_FILE).is_file() and (home / "data" / "PG_VERSION").is_file() else None


def store_template(key: str, data_dir: Path, binaries: PostgresBinaries) -> Path:
    """Copy a cleanly shut-down cluster's ``data_dir`` into the cache as the template for ``key``;
    return the template's data dir (another run's, if it finished first)."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    sweep(root)  # builds that were killed
    building = Path(tempfile.mkdtemp(prefix="drills-pg-", dir=root))
    try:
        claim(building)
        copy_data_dir(data_dir, building / "data")
        (building / COMPLETE_FILE).write_text(json.dumps(
            {"key": key, "postgres": binaries.version, "bindir": str(binaries.bindir), "created": time.time()}) + "\n")
        (building / ".drills-owner").unlink()
        if (root / key).exists() and find_template(key) is None:
            shutil.rmtree(root / key)  # damaged (only a finished template is ever renamed there)
        try:
            os.rename(building, root / key)
        except OSError:
            if find_template(key) is None:  # not another run's finished template: a real failure
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    found = find_template(key)
    if found is None:
        raise ComponentError("postgres", f"the template {root / key} is incomplete after it was stored")
    return found


def copy_data_dir(source: Path, target: Path) -> None:
    """A copy with owners and modes kept (the server refuses a data dir others can read); as a
    reflink where the file system can (btrfs, XFS), which costs nothing until a page is written."""
    argv = ["cp", "-a", *(["--reflink=auto"] if sys.platform.startswith("linux") else []), str(source), str(target)]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ComponentError("postgres", f"copying the template {source} failed", result.stderr.strip())


def remove_templates() -> list[str]:
    """Remove every cached template; one line per template removed."""
    root = cache_dir()
    removed = []
    for home in sorted(root.glob("postgres-*")) if root.is_dir() else []:
        shutil.rmtree(home, ignore_errors=True)
        if not home.exists():
            removed.append(f"{home} (a PostgreSQL template)")
    return removed
