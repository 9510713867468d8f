"""Who ran what, where: commit, versions and platform, for every run's findings (no secrets); and
whether the installed packages are those pinned in constraints.txt (checked at run time)."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import constraints
from .findings import Provenance

PACKAGES = ("gunicorn", "uvicorn", "uvicorn-worker", "fastapi", "starlette", "psycopg", "psycopg-pool",
            "papermill", "locust", "matplotlib")


def utc_now() -> str:
    """Current time, ISO 8601 in UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def git_commit(repo: Path) -> str:
    """Short commit of ``repo``, with "-dirty" when tracked files differ; "unknown" outside git."""
    try:
        commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def collect(repo: Path, components: dict[str, str], *, measuring_s: float | None = None,
            paper_prose_sha256: str | None = None) -> Provenance:
    """Provenance of a run; ``components`` adds versions read from running servers."""
    return Provenance(
        commit=git_commit(repo),
        versions={**package_versions(), **components},
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        python_executable=sys.executable,
        measuring_s=measuring_s,
        paper_prose_sha256=paper_prose_sha256,
        constraints=constraints.check(repo / constraints.CONSTRAINTS_FILE),
    )
