"""How the stack's children are started and ended, whatever happens to the drill: the OS user they
run as, a signal from the Linux kernel when their parent dies, and an end of their whole group."""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ComponentError

_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class OsUser:
    """The OS user and groups a child runs as (all None: this process's own)."""

    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None

    @classmethod
    def named(cls, name: str | None) -> OsUser:
        """``name``'s uid and gid, and no supplementary groups; this process's own for None."""
        if name is None:
            return cls()
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise ComponentError(
                name, f"no OS user {name!r}: PostgreSQL refuses to run as root, so as root the drills run it as "
                f"{name!r}. Create it (e.g. `useradd --system {name}`), or run the drills as another user") from None
        return cls(entry.pw_uid, entry.pw_gid, [])


def signal_quietly(pid: int, sig: int) -> None:
    """Send ``sig`` to ``pid``; a process already gone is not an error."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


#: What a child of a background job (cron, ``cmd &`` in a script, a CI step) inherits ignored: a
#: server that has not yet installed its own handler would drop the stack's stop or death signal
#: (postgres' SIGQUIT as PDEATHSIG: a SIGKILLed drill left a starting postgres running).
_RESET_TO_DEFAULT = (signal.SIGINT, signal.SIGQUIT)


def dies_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get ``sig`` when its parent dies (Linux), so that even
    a SIGKILLed drill leaves no child running (None elsewhere: the atexit hook still runs). It also
    gives the child the default action for SIGINT and SIGQUIT, whatever the drill inherited.

    It runs after the uid change (which would clear the setting); the kernel signals the child when
    the thread that forked it dies, so call Popen from a thread that lives as long as the child.
    libc's ``prctl`` is looked up here, in the parent: between fork and exec the child may only
    make async-signal-safe calls, and loading a library there can deadlock on a lock that another
    thread of the parent (a sampler) held at the fork.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl, sigaction_default = _prctl(), _signal_default()
    if prctl is None:
        return None
    parent_pid = os.getpid()
    signal_number = int(sig)

    def in_child() -> None:
        if sigaction_default is not None:
            for reset in _RESET_TO_DEFAULT:
                sigaction_default(int(reset), None)  # libc signal(sig, SIG_DFL): async-signal-safe
        prctl(_PR_SET_PDEATHSIG, signal_number, 0, 0, 0)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return in_child


def end_group(proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
    """SIGKILL ``proc``'s whole process group (it was started in a session of its own) and wait
    until no member is left, so that nothing of it writes after the caller cleans up."""
    kill_group(proc.pid)
    proc.wait()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.01)


def kill_group(pgid: int) -> None:
    """SIGKILL a whole process group; one already gone is not an error."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_default() -> Callable[..., object] | None:
    """libc's ``signal`` (called with SIG_DFL, a null handler), or None where there is none."""
    try:
        libc_signal = ctypes.CDLL(None, use_errno=True).signal
    except (OSError, AttributeError):
        return None
    libc_signal.argtypes = [ctypes.c_int, ctypes.c_void_p]
    libc_signal.restype = ctypes.c_void_p
    return libc_signal


def _prctl() -> Callable[..., int] | None:
    """libc's prctl, or None where there is none (the atexit hook still runs)."""
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None
