"""Find, or install with apt-get, the system programs the stack needs: ``python -m drills.sysdeps``.

Prints what was found (path and version). With ``--install``, as root where apt-get exists, it installs
what is missing (``postgresql``; ``nginx-light``, else ``nginx``) and looks again; otherwise it prints
one message naming what to install on Debian/Ubuntu, macOS and conda. Exit 0 when both are found.
``make setup`` runs it with ``--install``; ``make test`` and ``make verify`` without.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import MissingBinary
from .stack.binaries import CONDA_HINT, NginxBinary, PostgresBinaries, find_nginx, find_postgres


@dataclass(frozen=True)
class _Program:
    label: str
    find: Callable[[], PostgresBinaries | NginxBinary]
    apt: tuple[str, ...]  # the first one apt-get knows is installed
    brew: str


_PROGRAMS = {
    "postgres": _Program("PostgreSQL's server", find_postgres, ("postgresql",), "postgresql@15"),
    "nginx": _Program("nginx", find_nginx, ("nginx-light", "nginx"), "nginx"),
}


def _check() -> dict[str, MissingBinary]:
    """Search afresh and print what is found; return what is missing."""
    find_postgres.cache_clear()
    find_nginx.cache_clear()
    missing: dict[str, MissingBinary] = {}
    for name, program in _PROGRAMS.items():
        try:
            found = program.find()
        except MissingBinary as exc:
            missing[name] = exc
            continue
        where = found.bindir if isinstance(found, PostgresBinaries) else found.path
        print(f"{name:<9} {found.version:<8} {where}", flush=True)
    return missing


def _run(argv: list[str]) -> bool:
    print("+ " + " ".join(argv), flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=False).returncode == 0


def _apt_knows(package: str) -> bool:
    done = subprocess.run(
        ["apt-cache", "show", "--no-all-versions", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and "Package:" in done.stdout  # purely virtual: rc 0, no stanza


def _apt_install(names: Iterable[str]) -> None:
    _run(["apt-get", "update"])
    for name in names:
        candidates = _PROGRAMS[name].apt
        package = next((p for p in candidates if _apt_knows(p)), candidates[-1])
        _run(["apt-get", "install", "-y", "--no-install-recommends", package])


def _install_message(missing: Iterable[str], reason: str) -> str:
    programs = [_PROGRAMS[name] for name in missing]
    labels = " and ".join(p.label for p in programs)
    apt = " ".join(p.apt[0] for p in programs)
    others = [package for p in programs for package in p.apt[1:]]
    alternative = f"   (or {' '.join(others)})" if others else ""
    return (
        f"drills needs {labels}: not found{reason}.\nInstall, then try again:\n"
        f"  Debian/Ubuntu:  sudo apt-get install {apt}{alternative}\n"
        f"  macOS:          brew install {' '.join(p.brew for p in programs)}\n"
        f"  conda:          {CONDA_HINT} && make verify\n"
        "Installed somewhere unusual? Set DRILLS_PG_BINDIR / DRILLS_NGINX."
    )


def main(argv: list[str] | None = None) -> int:
    """Print the PostgreSQL and nginx found; with ``--install``, apt-get what is missing.

    Returns 0 when both are found, 1 otherwise (after one message saying what to install).
    """
    parser = argparse.ArgumentParser(
        prog="python -m drills.sysdeps",
        description="Find (and with --install, install) the PostgreSQL server and nginx.",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="install what is missing with apt-get (root on Debian/Ubuntu only)",
    )
    args = parser.parse_args(argv)

    missing = _check()
    if not missing:
        return 0
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    has_apt = shutil.which("apt-get") is not None
    if args.install and is_root and has_apt:
        _apt_install(missing)
        missing = _check()
        if not missing:
            return 0
        reason = " (even after apt-get; its output is above)"
    elif args.install:
        reason = f" (not installed automatically: {'no apt-get here' if is_root else 'not root'})"
    elif is_root and has_apt:
        reason = " (`python -m drills.sysdeps --install` would apt-get it)"
    else:
        reason = ""
    for name, exc in missing.items():
        print(f"{name}: not found (searched {', '.join(exc.searched)})", file=sys.stderr)
    print(_install_message(missing, reason), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
