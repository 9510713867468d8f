"""The papers recommend what ``drills/recommended.py`` holds, and agree with each other.

``check_recommended(papers, manifests)`` reads every setting the papers' code blocks and
"Production" tables state, and ``deploy/k8s/``'s (``drills.papercheck.settings``), and reports:

- a value that differs from the source (after normalising units: ``20s``, ``20000ms`` and a bare
  ``20`` are all 20 s to nginx), with the paper, the line, what it says and what the source says;
- two documents stating different values for one setting;
- every setting the source marks :class:`~drills.recommended.Disputed`, with what each document
  says, until the planners settle it.

A line whose comment says ``recommended: differs — why`` is listed as such and compared with nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from ..recommended import RECOMMENDED, Disputed, Recommended, Setting, Value
from .blocks import Block, code_blocks
from .report import Problem, Report
from .settings import CHECK, Found, any_settings, checked_lines, table_settings

DISAGREE = "recommended: disagreement"


def read_paper(paper: Path, text: str) -> tuple[list[Found], list[Problem]]:
    """Every recommended setting the paper's code blocks and tables state, and what could not be read."""
    found: list[Found] = []
    problems: list[Problem] = []
    for block in code_blocks(paper, text):
        collected = any_settings(block)
        found += collected.found
        problems += collected.problems
    tables = table_settings(paper, text, checked_lines(text))
    return found + tables.found, problems + tables.problems


def read_manifest(path: Path) -> tuple[list[Found], list[Problem]]:
    """A Kubernetes manifest file, read as one YAML block starting at its first line."""
    collected = any_settings(Block(path, 0, "yaml", path.read_text(encoding="utf-8")))
    return collected.found, collected.problems


def same(a: Value, b: Value) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return str(a) == str(b)


def shown(key: str, value: Value) -> str:
    """A value as the source means it: ``20 s``, ``16``, ``'error'``."""
    if key.endswith("_s") and isinstance(value, int | float):
        return f"{value:g} s"
    return f"{value:g}" if isinstance(value, float) else (str(value) if isinstance(value, int) else repr(value))


def _source_name(key: str, source: Recommended) -> str:
    group, name = key.split(".", 1)
    return f"drills/recommended.py: {type(getattr(source, group)).__name__}.{name}"


def compare(found: Iterable[Found], source: Recommended = RECOMMENDED) -> list[Problem]:
    """Each value that differs from the source, each setting documents disagree on, each disputed one."""
    flat: dict[str, Setting] = source.flat()
    problems: list[Problem] = []
    by_key: dict[str, list[Found]] = {}
    for item in found:
        if item.waived:
            continue
        by_key.setdefault(item.key, []).append(item)
        expected = flat[item.key]
        allowed = expected.values if isinstance(expected, Disputed) else (expected,)
        if any(same(item.value, value) for value in allowed):
            continue
        wanted = (" or ".join(shown(item.key, v) for v in allowed) + " (disputed)" if isinstance(expected, Disputed)
                  else shown(item.key, expected))
        problems.append(Problem(item.paper, item.line, CHECK,
                                f"{item.key}: says {item.written} ({shown(item.key, item.value)}), but the "
                                f"recommended value is {wanted} ({_source_name(item.key, source)})"))
    for key, items in by_key.items():
        groups: list[tuple[Value, list[Found]]] = []
        for item in items:
            group = next((g for g in groups if same(g[0], item.value)), None)
            if group is None:
                groups.append((item.value, [item]))
            else:
                group[1].append(item)
        says = "; ".join(f"{shown(key, value)} ({', '.join(i.where() for i in where)})" for value, where in groups)
        expected = flat[key]
        first = items[0]
        if isinstance(expected, Disputed):
            state = ("the documents now agree: settle it in drills/recommended.py" if len(groups) == 1
                     else "planners decide; then drills/recommended.py and the papers follow")
            problems.append(Problem(first.paper, first.line, DISAGREE,
                                    f"{key} is disputed: {says}. {expected.note}. {state}"))
        elif len(groups) > 1:
            problems.append(Problem(first.paper, first.line, DISAGREE,
                                    f"{key}: the documents recommend different values: {says}"))
    return problems


def check_recommended(papers: Iterable[Path], manifests: Iterable[Path] = (),
                      source: Recommended = RECOMMENDED) -> Report:
    """The papers' and manifests' recommended settings against ``source`` and against each other.
    ``report.blocks`` lists each waived value with its reason."""
    report = Report()
    found: list[Found] = []
    for paper in papers:
        items, problems = read_paper(paper, paper.read_text(encoding="utf-8"))
        found += items
        report.problems += problems
    for path in manifests:
        items, problems = read_manifest(path)
        found += items
        report.problems += problems
    report.problems += compare(found, source)
    report.blocks += [(item.where(), "setting", f"not compared ({item.key} = {item.written}): {item.waived}")
                      for item in found if item.waived]
    return report
