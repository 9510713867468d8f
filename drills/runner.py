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


#: Kernels this process started and has not shut down yet (their pids).
_live_kernels: set[int] = set()
#: How long an interrupted drill may take to stop its stack before its kernel is killed.
UNWIND_S = 30.0
#: Where the kernel process's own stderr goes (its log lines, not the notebook's outputs).
_kernel_log: list[Path] = []


def _ipc_kernel_manager() -> type:
    """A kernel manager that talks to the kernel over Unix sockets and remembers its pid.

    Unix sockets: nothing else on the machine can connect, no ports are taken from the drills, and
    ipykernel stops warning that the kernel "is running over TCP without encryption". The pid: if
    ``drills run`` is interrupted, papermill's own clean-up never runs, and :func:`_stop_kernels`
    interrupts the kernel itself so the drill unwinds and stops its stack.
    """
    import tempfile
    import uuid

    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: object) -> None:
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", f"{tempfile.gettempdir()}/drills-kernel-{uuid.uuid4().hex[:8]}")
            super().__init__(**kwargs)

        async def _async_pre_start_kernel(self, **kwargs: object):  # type: ignore[no-untyped-def]
            command, kw = await super()._async_pre_start_kernel(**kwargs)
            if _kernel_log:
                kw["stderr"] = open(_kernel_log[-1], "ab")  # noqa: SIM115 - the kernel process holds it
            return command, kw

        async def _async_post_start_kernel(self, **kwargs: object) -> None:
            await super()._async_post_start_kernel(**kwargs)
            if self.provisioner is not None and getattr(self.provisioner, "pid", None):
                _live_kernels.add(int(self.provisioner.pid))

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            if self.provisioner is not None and getattr(self.provisioner, "pid", None):
                _live_kernels.discard(int(self.provisioner.pid))
            await super()._async_shutdown_kernel(now=now, restart=restart)

    return IPCKernelManager


def _stop_kernels() -> None:
    """Interrupt each live kernel (a KeyboardInterrupt in the drill's cell, so its stacks unwind
    and stop), wait until it has released its temp dirs, then end it."""
    import os
    import signal

    from .stack.leftovers import owned_by

    for pid in list(_live_kernels):
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            _live_kernels.discard(pid)
            continue
        deadline = time.monotonic() + UNWIND_S
        time.sleep(0.5)
        while owned_by(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                break
            time.sleep(1.0)
        _live_kernels.discard(pid)


def new_run_dir(drill: str, parent: Path | None = None) -> Path:
    """Create and return ``<parent>/<UTC timestamp>-<drill>``, unique even within one second."""
    return _unique_dir(parent or runs_dir(), f"-{drill}")


def new_verify_dir(parent: Path | None = None) -> Path:
    """Create and return ``<parent>/<UTC timestamp>``: one folder for everything of one `drills verify`."""
    return _unique_dir(parent or runs_dir(), "")


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
                 kernel_name: str = KERNEL, time_limit_s: float | None = 900) -> RunResult:
    """Execute ``drill``'s notebook with ``params``; return its findings.

    ``time_limit_s`` bounds the whole drill: past it the kernel is interrupted (the drill unwinds
    and stops its stack) and NotebookError says it timed out. A failing cell also raises
    NotebookError; the executed notebook, with papermill's error banner at the failing cell, and its
    HTML report stay in the run folder as evidence.
    """
    import threading

    import papermill  # heavy import, only when a notebook actually runs

    run_dir = run_dir or new_run_dir(drill.NAME)
    run_dir.mkdir(parents=True, exist_ok=True)
    source = notebooks_dir() / drill.NOTEBOOK
    output = run_dir / drill.NOTEBOOK
    started = time.monotonic()
    logging.getLogger("papermill").setLevel(logging.INFO)
    _kernel_log.append(run_dir / "kernel.log")
    timed_out = threading.Event()

    def over_time() -> None:
        timed_out.set()
        logging.getLogger("drills").warning("%s: over its time limit of %g s; interrupting it", drill.NAME,
                                            time_limit_s)
        _interrupt_kernels()

    limit = threading.Timer(time_limit_s, over_time) if time_limit_s else None
    if limit is not None:
        limit.daemon = True
        limit.start()
    try:
        papermill.execute_notebook(
            str(source),
            str(output),
            parameters={**params.to_dict(), "out_dir": str(run_dir)},
            kernel_name=kernel_name,
            cwd=str(project_root()),
            progress_bar=False,
            log_output=True,
            kernel_manager_class=_ipc_kernel_manager(),
        )
    except papermill.PapermillExecutionError as exc:
        reason = (f"timed out after its limit of {time_limit_s:g} s" if timed_out.is_set()
                  else f"{exc.ename}: {exc.evalue}")
        raise NotebookError(drill.NAME, str(output), reason) from None
    except Exception as exc:  # noqa: BLE001 - kernel start, I/O: all end the run
        raise NotebookError(drill.NAME, str(output), f"{type(exc).__name__}: {exc}") from exc
    except BaseException:
        # Ctrl-C or SIGTERM: papermill's clean-up will not run; stop the drill's stack ourselves.
        logging.getLogger("drills").warning("interrupted: stopping %s and its stack …", drill.NAME)
        _stop_kernels()
        raise
    finally:
        if limit is not None:
            limit.cancel()
        _kernel_log.pop()
        _write_report(output)
        from .stack.leftovers import sweep

        for line in sweep():
            logging.getLogger("drills").warning("removed leftovers: %s", line)
    findings = Findings.load(run_dir)
    from .history import record, runs_root

    record(findings, runs_root(run_dir))  # runs/history.jsonl
    return RunResult(drill.NAME, run_dir, output, findings, time.monotonic() - started)


def _interrupt_kernels() -> None:
    """SIGINT every live kernel: a KeyboardInterrupt in the running cell, which unwinds the drill."""
    import os
    import signal

    for pid in list(_live_kernels):
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            _live_kernels.discard(pid)


def _write_report(notebook: Path) -> None:
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
        logging.getLogger("drills").warning("no HTML report for %s: %s", notebook.name, exc)
