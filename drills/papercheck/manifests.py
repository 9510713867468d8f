"""The service's Kubernetes manifests (``deploy/k8s/``), checked with the papers' YAML check.

Each file is one "block" starting at its first line, validated by
:meth:`~drills.papercheck.tools.BlockChecker.kubernetes` against the same Kubernetes schemas,
offline and strict; problems name the file and line. ``kustomization.yaml`` is kustomize's, not a
Kubernetes object, so it is not validated against the schemas.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .blocks import Block
from .report import Report
from .tools import BlockChecker

KUSTOMIZATION = "kustomization.yaml"


def manifest_files(folder: Path) -> list[Path]:
    """The Kubernetes objects' files in ``folder`` (``*.yaml``, ``*.yml``; not the kustomization)."""
    return sorted(p for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")] if p.name != KUSTOMIZATION)


def check_manifests(paths: Iterable[Path]) -> Report:
    """Every document of every file validated against the Kubernetes schemas."""
    report = Report()
    with BlockChecker() as checker:
        for path in paths:
            block = Block(path, 0, "yaml", path.read_text(encoding="utf-8"))
            how, problems = checker.kubernetes(block)
            report.blocks.append((path.name, "yaml", how))
            report.problems += problems
    return report
