"""Leftovers of runs that could not clean up (a SIGKILLed kernel): found, ended and reported.

Every temp dir of the stack is claimed with an owner file naming the Python process that made it
(pid and its kernel start time, so a reused pid does not pass as the owner). ``sweep()`` — run before
each stack starts and by ``drills clean`` — ends any process still working in a dir whose owner is
gone, removes the dir, and says what it removed. Processes themselves die with their parent
(``PR_SET_PDEATHSIG``), so usually only the dirs are left.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

PREFIXES = ("drills-pg-", "drills-svc-", "drills-nginx-", "drills-locust-", "drills-faults-", "drills-kernel-")
OWNER_FILE = ".drills-owner"
#: A dir without an owner file younger than this may still be being set up by a live run.
UNCLAIMED_GRACE_S = 3600.0


#: An optional tag a caller puts in the environment (a scheduler's job id, a test session); every
#: process the stack starts inherits it and every temp dir records it, so leftovers can be traced.
RUN_TAG_VARIABLE = "DRILLS_RUN_TAG"


def claim(directory: Path) -> None:
    """Mark ``directory`` as belonging to this process (and to the run tag, if one is set)."""
    tag = os.environ.get(RUN_TAG_VARIABLE, "")
    (directory / OWNER_FILE).write_text(f"{os.getpid()} {_start_ticks(os.getpid())} {tag}".rstrip() + "\n")


def _owner_text(directory: Path) -> str:
    """"claimed by pid 123, run tag T" from the owner file, or why there is none."""
    try:
        fields = (directory / OWNER_FILE).read_text().split()
    except OSError:
        return "no owner file"
    return f"claimed by pid {fields[0]}" + (f", run tag {fields[2]}" if len(fields) > 2 else "")


def owner_tag(directory: Path) -> str:
    """The run tag recorded when ``directory`` was claimed ("" if none)."""
    try:
        fields = (directory / OWNER_FILE).read_text().split()
    except OSError:
        return ""
    return fields[2] if len(fields) > 2 else ""


#: Words in the command line of every process a stack starts (and of the service's workers).
STACK_MARKERS = ("drills-pg-", "drills-svc-", "drills-nginx-", "drills.app.main", "nginx", "postgres", "locust",
                 "gunicorn")


def tagged_processes(tag: str) -> dict[int, str]:
    """pid -> command line of every stack process that carries ``DRILLS_RUN_TAG=tag``.

    Every child inherits the variable, so this finds one run's processes among any others.
    """
    found: dict[int, str] = {}
    needle = f"{RUN_TAG_VARIABLE}={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if needle in environ.split(b"\0") and any(marker in cmdline for marker in STACK_MARKERS):
            found[int(entry.name)] = cmdline.strip()
    return found


def sweep(temp_root: Path | None = None) -> list[str]:
    """End and remove what dead runs left behind; return one line per thing removed. Without a
    ``temp_root``: in the temp folder and in the cache folder (a template copy that was killed)."""
    if temp_root is None:
        from ..paths import cache_dir

        return sweep(Path(tempfile.gettempdir())) + sweep(cache_dir())
    root = temp_root
    removed: list[str] = []
    for directory in sorted(root.iterdir() if root.is_dir() else []):
        if directory.name.startswith(LEGACY_KERNEL_PREFIX) and directory.is_socket():
            removed += _remove_legacy_socket(directory)
            continue
        if not directory.name.startswith(PREFIXES) or not directory.is_dir():
            continue
        if _owner_alive(directory):
            continue
        owner = _owner_text(directory)  # read before removal: it says whose run this was
        ended = _end_processes_in(directory)
        shutil.rmtree(directory, ignore_errors=True)
        if not directory.exists():
            removed.append(f"{directory} ({owner}" + (f"; ended pids {', '.join(map(str, ended))}" if ended else "") + ")")
    return removed


#: Before kernels got a claimed dir, their five sockets lay loose in the temp folder as
#: ``drills-kernel-<id>-<n>``; a killed run left them there for good.
LEGACY_KERNEL_PREFIX = "drills-kernel-"


def _remove_legacy_socket(path: Path) -> list[str]:
    """A loose kernel socket from an older drills, once it is older than any live run could be."""
    try:
        if time.time() - path.lstat().st_mtime < UNCLAIMED_GRACE_S:
            return []
        path.unlink()
    except OSError:
        return []
    return [f"{path} (a kernel socket of an older drills)"]


def owned_by(pid: int, temp_root: Path | None = None) -> list[Path]:
    """The stack temp dirs that process ``pid`` claimed and still has."""
    root = temp_root or Path(tempfile.gettempdir())
    owned = []
    for directory in root.iterdir() if root.is_dir() else []:
        if directory.name.startswith(PREFIXES):
            try:
                if int((directory / OWNER_FILE).read_text().split()[0]) == pid:
                    owned.append(directory)
            except (OSError, ValueError, IndexError):
                continue
    return owned


def _owner_alive(directory: Path) -> bool:
    try:
        pid_text, ticks = (directory / OWNER_FILE).read_text().split()[:2]
    except FileNotFoundError:
        try:
            return time.time() - directory.stat().st_mtime < UNCLAIMED_GRACE_S
        except OSError:
            return True
    except (OSError, ValueError):
        return True  # unreadable (another user's): not ours to judge
    pid = int(pid_text)
    return _start_ticks(pid) == ticks


def _end_processes_in(directory: Path) -> list[int]:
    """SIGKILL processes whose command line names ``directory`` or whose cwd is inside it (psutil:
    Linux and macOS alike)."""
    import psutil

    target = str(directory)
    ended: list[int] = []
    for process in psutil.process_iter():
        try:
            named = target in " ".join(process.cmdline())
            cwd = "" if named else process.cwd()
            if named or cwd == target or cwd.startswith(target + "/"):
                process.kill()
                ended.append(process.pid)
        except psutil.Error:  # gone meanwhile, a zombie, or another user's
            continue
    return ended


def _start_ticks(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" if there is no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return ""
        except PermissionError:
            return "unknown"
        return "unknown"  # no /proc (macOS): a live pid is taken as the owner
    # Field 22, counted after the parenthesised command name (which may hold spaces).
    return stat.rsplit(")", 1)[1].split()[19]
