"""Run folders: ``runs/<UTC timestamp>-<drill>/`` for one ``drills run``, ``runs/<UTC timestamp>/``
holding one folder per drill for one ``drills verify``; unique even within one second."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ..errors import NotebookError
from ..paths import runs_dir


def new_run_dir(drill: str, parent: Path | None = None) -> Path:
    """Create and return ``<parent>/<UTC timestamp>-<drill>``."""
    return _unique_dir(parent or runs_dir(), f"-{drill}")


def new_verify_dir(parent: Path | None = None) -> Path:
    """Create and return ``<parent>/<UTC timestamp>``: one folder for everything of one `drills verify`."""
    return _unique_dir(parent or runs_dir(), "")


def prepare_run_dir(out_dir: str | Path | None, drill: str) -> Path:
    """The run folder a notebook writes to: ``out_dir`` if given, else a new one under runs/."""
    if out_dir:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path.resolve()
    return new_run_dir(drill)


def _unique_dir(parent: Path, tail: str) -> Path:
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ("", *(f".{n}" for n in range(1, 1000))):
        candidate = parent / f"{stamp}{suffix}{tail}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise NotebookError(tail.strip("-") or "verify", str(parent), "could not create a unique run folder")  # pragma: no cover
