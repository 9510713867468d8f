"""``drills check-papers``: every code block checked by its own tool, and the template's demands.

``check_papers(paths)`` returns a Report; each problem names the paper, the line and the tool's
own message. Blocks that cannot be checked say why, in an explicit ``<!-- check: skip — why -->``
marker on the line before the fence, and are listed as such, never passed over silently.
The settings the blocks and tables recommend are checked against ``drills/recommended.py``, and
against each other (``recommended.py``; with ``manifests``, ``deploy/k8s/``'s too).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .blocks import Block, code_blocks, word_count
from .consistency import check_quoted_defaults
from .manifests import check_manifests, manifest_files
from .measured import check_measured
from .recommended import check_recommended
from .report import Problem, Report
from .structure import check_structure
from .tools import BlockChecker

__all__ = ["Block", "Problem", "Report", "check_manifests", "check_papers", "check_recommended", "code_blocks",
           "manifest_files", "word_count"]


def check_papers(papers: Iterable[Path], manifests: Iterable[Path] = ()) -> Report:
    """Every paper's blocks, structure, quoted defaults and "(measured)" links; the recommended
    settings of the papers and of ``manifests`` (Kubernetes files) against the one source."""
    from .. import catalog

    papers = list(papers)
    drills = catalog.all_drills()
    report = Report()
    with BlockChecker() as checker:
        for paper in papers:
            text = paper.read_text(encoding="utf-8")
            report.problems += check_structure(paper, text, {d.name for d in drills})
            report.problems += check_quoted_defaults(paper, text, [d for d in drills if d.paper == paper.name])
            report.problems += check_measured(paper, text)
            for block in code_blocks(paper, text):
                how, problems = checker.check(block)
                report.blocks.append((f"{paper.name}:{block.line}", block.kind or "(none)", how))
                report.problems += problems
    recommended = check_recommended(papers, manifests)
    report.problems += recommended.problems
    report.blocks += recommended.blocks
    return report
