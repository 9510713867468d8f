"""Where the project's folders are: the checkout that holds ``notebooks/`` and ``papers/``.

``DRILLS_ROOT`` overrides it (tests use a copy); otherwise the checkout this package was installed
from in editable mode, otherwise the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    if override := os.environ.get("DRILLS_ROOT"):
        return Path(override).resolve()
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "notebooks").is_dir() and (checkout / "papers").is_dir():
        return checkout
    return Path.cwd().resolve()


def runs_dir() -> Path:
    return Path(os.environ.get("DRILLS_RUNS_DIR", project_root() / "runs"))


def papers_dir() -> Path:
    return project_root() / "papers"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def manifests_dir() -> Path:
    """The Kubernetes manifests of the service under test (``deploy/k8s``)."""
    return project_root() / "deploy" / "k8s"


def cache_dir() -> Path:
    """What is kept between runs and rebuilt when missing (PostgreSQL templates): ``DRILLS_CACHE_DIR``,
    else ``$XDG_CACHE_HOME/drills``, else ``~/.cache/drills``. Not /tmp: its cleaners age out single
    files of an old tree and would leave a template that no longer starts."""
    if configured := os.environ.get("DRILLS_CACHE_DIR"):
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "drills"
