"""A paper that says "(measured)" links to the verdict of the drill that measures it.

Each verified section gives every hypothesis's row an anchor (``v-<drill>-<key>``, see
``drills.export.render.verdict_anchor``). A line of prose with "(measured" must link to such an
anchor — in its own paper (``#v-…``) or another (``other.md#v-…``) — and the anchor must be there:
a measurement a reader cannot find is a claim, not a measurement.
"""

from __future__ import annotations

import re
from pathlib import Path

from .blocks import prose
from .report import Problem

_MEASURED = re.compile(r"\(\[?measured\b", re.IGNORECASE)
_VERDICT_LINK = re.compile(r"\]\(([^)#\s]*)#(v-[a-z0-9-]+)\)")


def check_measured(paper: Path, text: str) -> list[Problem]:
    problems = []
    body = set(prose(text).splitlines())
    for number, line in enumerate(text.splitlines(), 1):
        if line not in body or not _MEASURED.search(line):
            continue
        links = _VERDICT_LINK.findall(line)
        if not links:
            problems.append(Problem(paper, number, "measured", "says '(measured' without a link to the verdict that "
                                    "measures it (](#v-<drill>-<hypothesis key>)); link one, or say where the "
                                    "figure comes from"))
        for target, anchor in links:
            where = (paper.parent / target) if target else paper
            try:
                found = f'id="{anchor}"' in where.read_text(encoding="utf-8")
            except OSError:
                found = False
            if not found:
                problems.append(Problem(paper, number, "measured",
                                        f"links to '{target}#{anchor}', which no verified section of "
                                        f"{where.name} holds (run and export its drill, or fix the key)"))
    return problems
