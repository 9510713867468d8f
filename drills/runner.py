"""Run a drill's notebook through papermill into its own run folder.

A run folder is ``runs/<UTC timestamp>-<drill>/`` and holds the executed notebook, ``findings.json``
and the charts. Parameters are checked (``Params.from_mapping``) before papermill starts a kernel,
and again inside the notebook, so a plain ``papermill`` run fails as clearly as ``drills run``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

from .errors import NotebookError
from .findings import Findings
from .params import DrillParams
from .paths import notebooks_dir, project_root, runs_dir

KERNEL = "python3"


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to the kernel over Unix sockets, not loopback TCP ports.

    Nothing else on the machine can connect to it, it takes no ports from the drills, and
    ipykernel stops warning that the kernel "is running over TCP without encryption".
    """
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: object) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", f"{tempfile.gettempdir()}/drills-kernel-{uuid.uuid4().hex[:8]}")
            super().__init__(**kwargs)

    return IPCKernelManager


def new_run_dir(drill: str, parent: Path | None = None) -> Path:
    """Create and return ``<parent>/<UTC timestamp>-<drill>``, unique even within one second."""
    parent = parent or runs_dir()
    parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for suffix in ("", *(f".{n}" for n in range(1, 1000))):
        candidate = parent / f"{stamp}{suffix}-{drill}"
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise NotebookError(drill, str(parent), "could not create a unique run folder")  # pragma: no cover


def prepare_run_dir(out_dir: str | Path | None, drill: str) -> Path:
    """The run folder a notebook writes to: ``out_dir`` if given, else a new one under runs/."""
    if out_dir:
        path = Path(out_dir)
        path.mkdir(parents=True, exist_ok=True)
        return path.resolve()
    return new_run_dir(drill)


@dataclass(frozen=True)
class RunResult:
    drill: str
    run_dir: Path
    notebook: Path
    findings: Findings
    wall_s: float


def run_notebook(drill: ModuleType, params: DrillParams, *, run_dir: Path | None = None,
                 kernel_name: str = KERNEL, cell_timeout_s: float | None = 900) -> RunResult:
    """Execute ``drill``'s notebook with ``params``; return its findings.

    Raises NotebookError when a cell fails or times out; the executed notebook, with papermill's
    error banner at the failing cell, stays in the run folder as evidence.
    """
    import papermill  # heavy import, only when a notebook actually runs

    run_dir = run_dir or new_run_dir(drill.NAME)
    source = notebooks_dir() / drill.NOTEBOOK
    output = run_dir / drill.NOTEBOOK
    started = time.monotonic()
    logging.getLogger("papermill").setLevel(logging.INFO)
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters={**params.to_dict(), "out_dir": str(run_dir)},
            kernel_name=kernel_name,
            cwd=str(project_root()),
            progress_bar=False,
            log_output=True,
            execution_timeout=cell_timeout_s,
            kernel_manager_class=_ipc_kernel_manager(),
        )
    except papermill.PapermillExecutionError as exc:
        raise NotebookError(drill.NAME, str(output), f"{exc.ename}: {exc.evalue}") from None
    except Exception as exc:  # noqa: BLE001 - kernel start, cell timeout, I/O: all end the run
        raise NotebookError(drill.NAME, str(output), f"{type(exc).__name__}: {exc}") from exc
    return RunResult(drill.NAME, run_dir, output, Findings.load(run_dir), time.monotonic() - started)
