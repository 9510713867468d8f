"""Run a drill's notebook through papermill into its own run folder.

Parameters are checked (``Params.from_mapping``) before papermill starts a kernel, and again inside
the notebook, so a plain ``papermill`` run fails as clearly as ``drills run``. The drill records
its own findings and history from inside the notebook (``drills.pipeline``): a notebook run from
JupyterLab or plain papermill leaves the same trail.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NotebookError
from ..findings import Findings
from ..params import DrillParams
from ..paths import notebooks_dir, project_root
from ..pipeline import DrillSpec
from ..stack.leftovers import sweep
from .kernel import KERNEL, ensure_kernel, interrupt_kernels, kernel_logs, kernel_manager_class, stop_kernels
from .rundirs import new_run_dir

log = logging.getLogger("drills")


@dataclass(frozen=True)
class RunResult:
    drill: str
    run_dir: Path
    notebook: Path
    findings: Findings
    wall_s: float


def run_notebook(drill: DrillSpec[Any, Any], params: DrillParams, *, run_dir: Path | None = None,
                 kernel_name: str = KERNEL, time_limit_s: float | None = 900) -> RunResult:
    """Execute ``drill``'s notebook with ``params``; return its findings.

    ``time_limit_s`` bounds the whole drill: past it the kernel is interrupted (the drill unwinds
    and stops its stack) and NotebookError says it timed out. A failing cell also raises
    NotebookError; the executed notebook, with papermill's error banner at the failing cell, and its
    HTML report stay in the run folder as evidence.
    """
    import papermill  # heavy import, only when a notebook actually runs

    if kernel_name == KERNEL:  # the notebooks' own kernel: registered for this interpreter if it is not
        ensure_kernel()
    run_dir = run_dir or new_run_dir(drill.name)
    run_dir.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir() / drill.notebook
    output = run_dir / drill.notebook
    started = time.monotonic()
    logging.getLogger("papermill").setLevel(logging.INFO)
    kernel_logs.append(run_dir / "kernel.log")
    timed_out = threading.Event()

    def over_time() -> None:
        timed_out.set()
        log.warning("%s: over its time limit of %g s; interrupting it", drill.name, time_limit_s)
        interrupt_kernels()

    limit = threading.Timer(time_limit_s, over_time) if time_limit_s else None
    if limit is not None:
        limit.daemon = True
        limit.start()
    try:
        papermill.execute_notebook(
            str(source), str(output),
            parameters={**params.to_dict(), "out_dir": str(run_dir)},
            kernel_name=kernel_name, cwd=str(project_root()), progress_bar=False, log_output=True,
            kernel_manager_class=kernel_manager_class(),
        )
    except papermill.PapermillExecutionError as exc:
        reason = (f"timed out after its limit of {time_limit_s:g} s" if timed_out.is_set()
                  else f"{exc.ename}: {exc.evalue}")
        raise NotebookError(drill.name, str(output), reason) from None
    except Exception as exc:
        raise NotebookError(drill.name, str(output), f"{type(exc).__name__}: {exc}") from exc
    except BaseException:
        # Ctrl-C or SIGTERM: papermill's clean-up will not run; stop the drill's stack ourselves.
        log.warning("interrupted: stopping %s and its stack …", drill.name)
        stop_kernels()
        raise
    finally:
        if limit is not None:
            limit.cancel()
        kernel_logs.pop()
        write_report(output)
        for line in sweep():
            log.warning("removed leftovers: %s", line)
    return RunResult(drill.name, run_dir, output, Findings.load(run_dir), time.monotonic() - started)


def write_report(notebook: Path) -> None:
    """An HTML report of the executed notebook beside it: outputs only, code hidden."""
    if not notebook.exists():
        return
    try:
        import nbformat
        from nbconvert import HTMLExporter

        # The classic template honours the charts' alt text (the lab one drops it).
        body, _ = HTMLExporter(template_name="classic", exclude_input=True, exclude_input_prompt=True,
                               exclude_output_prompt=True).from_notebook_node(nbformat.read(notebook, as_version=4))
        notebook.with_suffix(".html").write_text(body, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - a report is a convenience; never lose the run over it
        log.warning("no HTML report for %s: %s", notebook.name, exc)
