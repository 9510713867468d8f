"""Who ran what, where: commit, versions and platform, for every run's findings (no secrets); and
whether the installed packages are those pinned in constraints.txt (checked at run time)."""

from __future__ import annotations

import importlib.metadata
import os
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


def machine() -> str:
    """"Intel(R) Xeon(R) … , 2 logical CPUs, 23.5 GiB memory": what the figures were measured on."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), model)
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo", encoding="utf-8") as meminfo:
            kib = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
        memory = f", {kib / 1024 / 1024:.1f} GiB memory" if kib else ""
    except (OSError, ValueError):
        pass
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cpus} logical CPUs{memory}"


def collect(repo: Path, components: dict[str, str], *, measuring_s: float | None = None,
            paper_prose_sha256: str | None = None, load_generator: str = "") -> Provenance:
    """Provenance of a run; ``components`` adds versions read from running servers."""
    return Provenance(
        commit=git_commit(repo),
        versions={**package_versions(), **components},
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        machine=machine(),
        python_executable=sys.executable,
        measuring_s=measuring_s,
        paper_prose_sha256=paper_prose_sha256,
        constraints=constraints.check(repo / constraints.CONSTRAINTS_FILE),
        load_generator=load_generator,
    )
