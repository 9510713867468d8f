"""The values a paper quotes for a drill are the values the drill verifies.

A drill's defaults live in one place, its ``Params`` dataclass; wherever a paper quotes one as
``name=value`` (the form ``drills run -p`` takes), it must say the same, so the paper cannot drift
from what was verified.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..pipeline import DrillSpec
from .report import Problem

_QUOTED = re.compile(r"`([a-z][a-z0-9_]*)\s*=\s*\"?([0-9][0-9.,]*|[a-z,]+)\"?`")


def check_quoted_defaults(paper: Path, text: str, drills: list[DrillSpec[Any, Any]]) -> list[Problem]:
    problems = []
    for drill in drills:
        defaults = drill.params()
        fields = drill.params.field_types()
        for number, line in enumerate(text.splitlines(), 1):
            for name, quoted in _QUOTED.findall(line):
                if name not in fields:
                    continue
                actual = getattr(defaults, name)
                try:
                    same = float(quoted) == float(actual) if not isinstance(actual, str) else quoted == actual
                except ValueError:
                    same = False
                if not same:
                    problems.append(Problem(paper, number, "drill defaults",
                                            f"quotes {name}={quoted}, but {drill.name} verifies {name}={actual!r} "
                                            f"(drills/catalog: {drill.params.__module__.rsplit('.', 2)[-2]}/params.py)"))
    return problems
