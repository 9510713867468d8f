"""The constraints file set-up installs from, and whether the running environment matches it.

``constraints.txt`` pins every distribution of the environment the papers were verified in (what
``pip freeze`` lists, as ``name==version``, without drills itself and without pip's own tools), and
``make setup`` installs with ``pip install -c constraints.txt``, so a nightly re-verification runs
those versions. Each run checks the installed versions against the file, at run time, and its
provenance records the file's sha256 and whether they matched (:class:`~drills.findings.ConstraintsCheck`).

``python -m drills.constraints freeze [-o FILE]`` writes the file from the running environment
(``make constraints``); ``python -m drills.constraints check [FILE]`` says whether it matches (exit 1
when not).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import platform
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from .files import write_atomic
from .findings import ConstraintsCheck

#: The file, at the project's root.
CONSTRAINTS_FILE = "constraints.txt"
#: The project itself (installed editable from the work tree) and the installer's own tools, which
#: set-up upgrades: never pinned, never compared.
NOT_PINNED = frozenset({"drills", "pip", "setuptools", "wheel", "distribute"})
#: How many differing or unpinned names a one-line description lists.
SHOWN = 5


def canonical(name: str) -> str:
    """PEP 503's normalized name: "PyYAML" and "pyyaml", "typing_extensions" and "typing-extensions" agree."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed() -> dict[str, str]:
    """name -> version of every distribution the running interpreter can import (the first on
    sys.path wins, as for importlib.metadata.version)."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found.setdefault(canonical(name), dist.version)
    return found


def freeze(distributions: Mapping[str, str]) -> str:
    """The constraints file's text for these distributions: a header, then sorted ``name==version``."""
    header = (f"# pip constraints: the versions the papers are verified with (Python {platform.python_version()}, "
              f"{platform.system()} {platform.machine()}).\n"
              "# Set-up installs with `pip install -c constraints.txt`; `make constraints` rewrites this file\n"
              "# from .venv. Each run's provenance says whether its environment matched it (and its sha256).\n")
    pins = sorted(f"{canonical(name)}=={version}" for name, version in distributions.items()
                  if canonical(name) not in NOT_PINNED)
    return header + "".join(pin + "\n" for pin in pins)


def parse(text: str) -> dict[str, str]:
    """name -> pinned version of every ``name==version`` line (comments, blanks and others skipped)."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        requirement = line.split("#", 1)[0].split(";", 1)[0].strip()
        name, sep, version = requirement.partition("==")
        if sep and name.strip() and version.strip():
            pins[canonical(name.strip())] = version.strip()
    return pins


def check(path: Path, distributions: Mapping[str, str] | None = None) -> ConstraintsCheck | None:
    """Compare the installed versions (or ``distributions``) with the file at ``path``.

    None when there is no such file (an installation without one). It matches when every installed
    distribution is pinned there, at the installed version; the project and pip's tools aside.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    pins = parse(data.decode("utf-8", "replace"))
    have = {canonical(k): v for k, v in (installed() if distributions is None else distributions).items()}
    differs = [f"{name} {version} (pinned {pins[name]})" for name, version in sorted(have.items())
               if name in pins and pins[name] != version]
    unpinned = [f"{name} {version}" for name, version in sorted(have.items())
                if name not in pins and name not in NOT_PINNED]
    return ConstraintsCheck(file=path.name, sha256=hashlib.sha256(data).hexdigest(),
                            matches=not differs and not unpinned, differs=differs, unpinned=unpinned)


def describe(result: ConstraintsCheck | None) -> str:
    """One line: "as pinned in constraints.txt (sha256 …)", or what differs from it."""
    if result is None:
        return f"no {CONSTRAINTS_FILE}: versions not pinned"
    where = f"`{result.file}` (sha256 `{result.sha256[:16]}`)"
    if result.matches:
        return f"as pinned in {where}"
    parts = []
    if result.differs:
        parts.append(f"{len(result.differs)} differ: " + _some(result.differs))
    if result.unpinned:
        parts.append(f"{len(result.unpinned)} not pinned: " + _some(result.unpinned))
    return f"not as pinned in {where}: " + "; ".join(parts)


def _some(items: list[str]) -> str:
    return ", ".join(items[:SHOWN]) + (f", … ({len(items) - SHOWN} more)" if len(items) > SHOWN else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills.constraints", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    write = commands.add_parser("freeze", help="write the constraints file from the running environment")
    write.add_argument("-o", "--output", type=Path, default=Path(CONSTRAINTS_FILE))
    compare = commands.add_parser("check", help="say whether the running environment matches the file")
    compare.add_argument("file", type=Path, nargs="?", default=Path(CONSTRAINTS_FILE))
    args = parser.parse_args(argv)
    if args.command == "freeze":
        write_atomic(args.output, freeze(installed()))
        print(f"wrote {args.output}: {len(parse(args.output.read_text(encoding='utf-8')))} pins")
        return 0
    result = check(args.file)
    print(describe(result).replace("`", ""))
    return 0 if result is not None and result.matches else 1


if __name__ == "__main__":
    sys.exit(main())
