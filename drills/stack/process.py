"""One child process: its own process group, a log file, a readiness wait, a certain stop.

Every component of the stack (PostgreSQL, Gunicorn, nginx, Locust) is one ``ManagedProcess``
plus a readiness check that does the component's real job (a query, a request through the
proxy), never "the port is open".

How each ending is covered:

* normal exit, exceptions and Ctrl-C: ``stop()`` from ``Component.__exit__`` (and from
  ``__enter__`` itself when start-up fails, because ``__exit__`` does not run then);
* SIGTERM to the Python process: the CLI turns it into ``SystemExit`` so the same unwinding runs;
* interpreter exit with something still running (a notebook kernel shut down): an ``atexit`` hook
  stops every process that is still live;
* SIGKILL of the Python process (a killed kernel): nothing in it can run, so each child asks the
  Linux kernel for a signal when its parent dies (``PR_SET_PDEATHSIG``) and stops itself.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from ..errors import ComponentError, ExitedEarly, StartTimeout
from .children import OsUser, dies_with_parent, kill_group, signal_quietly

_live: set[ManagedProcess] = set()
_live_lock = threading.Lock()


class ManagedProcess:
    """A child process in its own process group, logging to ``log_path``.

    Parameters
    ----------
    name:
        Shown in errors and progress ("postgres", "gunicorn", "nginx").
    argv:
        The command; the first element is an absolute path or a name on PATH.
    log_path:
        File that receives stdout and stderr (appended).
    env:
        Full environment for the child; ``None`` inherits ours.
    run_as:
        A user name to run as when we are root (PostgreSQL refuses to run as root).
    stop_signal:
        Sent to the process itself for a graceful stop; its own children are its business
        (Gunicorn's master stops its workers, nginx's its workers, the postmaster its backends).
    death_signal:
        What the child gets from the kernel if we die without stopping it.
    grace_s:
        How long ``stop()`` waits after ``stop_signal`` before SIGKILL to the whole group.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        run_as: str | None = None,
        stop_signal: int = signal.SIGTERM,
        death_signal: int = signal.SIGTERM,
        grace_s: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.run_as = run_as
        self.stop_signal = stop_signal
        self.death_signal = death_signal
        self.grace_s = grace_s
        self._proc: subprocess.Popen[bytes] | None = None

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process (not waiting for readiness)."""
        if self._proc is not None:
            raise ComponentError(self.name, "already started")
        ids = OsUser.named(self.run_as if os.geteuid() == 0 else None)
        in_child = dies_with_parent(self.death_signal)
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=in_child,
                user=ids.user, group=ids.group, extra_groups=ids.extra_groups,
            )
        with _live_lock:
            _live.add(self)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def poll(self) -> int | None:
        """Exit code, or None while running (or before start)."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_exit(self, timeout_s: float) -> int | None:
        """The exit code once the process has exited (polled every 5 ms, so the moment is known to
        a few ms), or None if it still runs after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while (code := self.poll()) is None:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)
        return code

    def wait_ready(self, is_ready: Callable[[], bool], timeout_s: float) -> float:
        """Poll ``is_ready`` until it returns True; return the seconds it took.

        Raises ExitedEarly as soon as the process exits, StartTimeout at the deadline.
        An exception from ``is_ready`` counts as "not ready yet".
        """
        started = time.monotonic()
        deadline = started + timeout_s
        while True:
            code = self.poll()
            if code is not None:
                raise ExitedEarly(self.name, code, self.log_tail())
            try:
                if is_ready():
                    return time.monotonic() - started
            except Exception:  # noqa: BLE001 - any failure of the probe means "not yet"
                pass
            if time.monotonic() > deadline:
                raise StartTimeout(self.name, timeout_s, self.log_tail())
            time.sleep(0.02)

    def stop(self) -> int | None:
        """Stop the process and everything left in its group; safe to call twice.

        Returns the exit code (None if it was never started).
        """
        proc = self._proc
        if proc is None:
            return None
        try:
            if proc.poll() is None:
                signal_quietly(proc.pid, self.stop_signal)
                try:
                    proc.wait(timeout=self.grace_s)
                except subprocess.TimeoutExpired:
                    pass
            # Whatever is still in the group (a worker the master lost track of) goes now.
            kill_group(proc.pid)
            try:
                return proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL did not land
                raise ComponentError(self.name, f"pid {proc.pid} survived SIGKILL") from None
        finally:
            with _live_lock:
                _live.discard(self)

    def log_tail(self, lines: int = 25) -> str:
        """The last ``lines`` lines of the log, for error messages."""
        return read_tail(self.log_path, lines)

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid}>"


class Component:
    """Base of the stack's parts: ``with Part(...) as part:`` is started and ready, then gone.

    A part owns at most one temp dir (claimed, so a later sweep can tell a dead run's from a live
    one's), one loopback port and one process; ``stop()`` ends the process and removes the dir.
    Subclasses implement ``start()`` with the helpers below.
    """

    name = "component"
    #: Prefix of the part's temp dir; ``leftovers.PREFIXES`` lists them all.
    dir_prefix = "drills-"

    def __init__(self) -> None:
        self.dir: Path | None = None
        self.port = 0
        #: Seconds from the start of ``start()`` until the part passed its readiness check.
        self.ready_s: float | None = None
        self._process: ManagedProcess | None = None
        self._started_at = 0.0

    def start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        """End the process, then remove the temp dir; safe to call twice or before start."""
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    # -- helpers for start() ---------------------------------------------------------------------

    def _make_dir(self) -> Path:
        """A fresh temp dir for this part, claimed by this process."""
        from .leftovers import claim

        self._started_at = time.monotonic()
        self.dir = Path(tempfile.mkdtemp(prefix=self.dir_prefix))
        claim(self.dir)
        return self.dir

    def _take_port(self) -> int:
        """A free loopback port; refuses one where something already answers."""
        from ..errors import PortInUse
        from .ports import pick_free_port, port_answers

        self.port = pick_free_port()
        if port_answers(self.port):
            raise PortInUse(self.name, self.port)
        return self.port

    def _launch(self, process: ManagedProcess, is_ready: Callable[[], bool], timeout_s: float) -> None:
        """Start ``process`` and wait until ``is_ready`` (a real request, not an open port)."""
        self._process = process
        process.start()
        process.wait_ready(is_ready, timeout_s)
        self.ready_s = time.monotonic() - self._started_at

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()  # __exit__ does not run when __enter__ raises
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def read_tail(path: Path, lines: int = 25) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16_384))
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def stop_all() -> None:
    """Stop every process still live (atexit, and a last resort for tests)."""
    with _live_lock:
        live = list(_live)
    for proc in live:
        try:
            proc.stop()
        except Exception:  # noqa: BLE001 - keep stopping the others
            pass


atexit.register(stop_all)
