"""The Jupyter kernel a drill's notebook runs on: over Unix sockets in a claimed temp dir, tracked
so that an interrupted ``drills run`` can stop the drill it is running.

Unix sockets: nothing else on the machine can connect, no ports are taken from the drills, and
ipykernel stops warning that the kernel "is running over TCP without encryption". The sockets and
the connection file live in a ``drills-kernel-*`` temp dir claimed by this process, so that when
``drills`` itself is killed (SIGKILL runs no clean-up) the next run's sweep, or ``drills clean``,
removes them and ends a kernel still using them, as it does for the stack's own temp dirs.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..stack.leftovers import claim, owned_by

#: The kernel the notebooks name (their kernelspec) and run on unless told otherwise: this
#: environment's interpreter, registered in it (``ensure_kernel``), so JupyterLab opens the notebooks
#: on the interpreter that has drills and its pinned dependencies, not on whatever "python3" means.
KERNEL = "drills"
KERNEL_DISPLAY_NAME = "Python (drills)"
#: Interpreter names jupyter_client replaces by its own sys.executable.
_SAME_PYTHON = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
#: Temp dirs of kernels (swept like the stack's: drills.stack.leftovers.PREFIXES).
KERNEL_DIR_PREFIX = "drills-kernel-"
#: How long an interrupted drill may take to stop its stack before its kernel is killed.
UNWIND_S = 30.0

#: Kernels this process started and has not shut down yet (their pids).
live_kernels: set[int] = set()
#: Where the kernel process's own stderr goes (its log lines, not the notebook's outputs).
kernel_logs: list[Path] = []


def ensure_kernel(*, prefix: Path | None = None, kernel_dirs: Sequence[Path] | None = None) -> Path:
    """Register :data:`KERNEL` for this interpreter under ``prefix`` (this environment's sys.prefix:
    ``<prefix>/share/jupyter/kernels/drills``) unless it already resolves to it; return its folder.

    ``kernel_dirs`` replaces Jupyter's search path (tests). Raises ParameterError when another
    "drills" kernel, outside ``prefix``, takes precedence over this one.
    """
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager

    prefix = prefix or Path(sys.prefix)
    manager = KernelSpecManager(**({"kernel_dirs": [str(d) for d in kernel_dirs]} if kernel_dirs is not None else {}))
    found = manager.find_kernel_specs().get(KERNEL)
    if found is None or not _runs_this_python(manager, found):
        if found is not None and not Path(found).resolve().is_relative_to(prefix.resolve()):
            spec = manager.get_kernel_spec(KERNEL)
            raise ParameterError("--kernel", KERNEL, f"the kernel at {found} runs {spec.argv[0]}, not this environment's "
                                 f"{sys.executable}; remove it (jupyter kernelspec remove {KERNEL}) or pass --kernel")
        install(kernel_spec_manager=manager, kernel_name=KERNEL, display_name=KERNEL_DISPLAY_NAME, prefix=str(prefix))
        found = manager.find_kernel_specs().get(KERNEL)
    if found is None or not _runs_this_python(manager, found):
        raise ParameterError("--kernel", KERNEL, f"registered under {prefix}, but Jupyter's kernel path does not find "
                             "it there (JUPYTER_PATH?)")
    return Path(found)


def _runs_this_python(manager: Any, resource_dir: str) -> bool:
    """Whether the kernelspec in ``resource_dir`` starts this interpreter (the venv's own path, not
    the base interpreter it links to)."""
    argv = manager.kernel_spec_class.from_resource_dir(resource_dir).argv
    return bool(argv) and (argv[0] in _SAME_PYTHON or os.path.abspath(argv[0]) == os.path.abspath(sys.executable))


def kernel_manager_class() -> type:
    """A kernel manager that talks to its kernel over Unix sockets in a claimed dir and remembers its pid."""
    from jupyter_client.manager import AsyncKernelManager

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            self.claimed_dir = Path(tempfile.mkdtemp(prefix=KERNEL_DIR_PREFIX))
            claim(self.claimed_dir)
            kwargs.setdefault("transport", "ipc")
            kwargs.setdefault("ip", str(self.claimed_dir / "ipc"))
            kwargs.setdefault("connection_file", str(self.claimed_dir / "connection.json"))
            super().__init__(**kwargs)

        async def _async_pre_start_kernel(self, **kwargs: Any) -> tuple[list[str], dict[str, Any]]:
            command, kw = await super()._async_pre_start_kernel(**kwargs)
            if kernel_logs:
                kw["stderr"] = open(kernel_logs[-1], "ab")  # noqa: SIM115 - the kernel process holds it
            return command, kw

        async def _async_post_start_kernel(self, **kwargs: Any) -> None:
            await super()._async_post_start_kernel(**kwargs)
            pid = getattr(self.provisioner, "pid", None)
            if pid:
                live_kernels.add(int(pid))

        async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
            pid = getattr(self.provisioner, "pid", None)
            if pid:
                live_kernels.discard(int(pid))
            await super()._async_shutdown_kernel(now=now, restart=restart)

        # The base class binds the public name to its own coroutine function at class creation,
        # so an override of the private one alone would never run.
        shutdown_kernel = _async_shutdown_kernel

        async def _async_cleanup_resources(self, restart: bool = False) -> None:
            await super()._async_cleanup_resources(restart=restart)
            if not restart:
                shutil.rmtree(self.claimed_dir, ignore_errors=True)

        cleanup_resources = _async_cleanup_resources

    return IPCKernelManager


def interrupt_kernels() -> None:
    """SIGINT every live kernel: a KeyboardInterrupt in the running cell, which unwinds the drill."""
    for pid in list(live_kernels):
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            live_kernels.discard(pid)


def stop_kernels() -> None:
    """Interrupt each live kernel (a KeyboardInterrupt in the drill's cell, so its stacks unwind
    and stop), wait until it has released its temp dirs, then end it."""
    for pid in list(live_kernels):
        try:
            os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            live_kernels.discard(pid)
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
        live_kernels.discard(pid)
