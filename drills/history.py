"""Run history and paper status: what was verified when, and which papers have gone stale.

Two histories, one line (:class:`HistoryEntry`) per run:

* ``runs/history.jsonl`` — every finished drill run on this machine, from ``drills run`` or
  ``verify``, JupyterLab or plain papermill (the run loop records it); ``drills history`` shows it.
* ``papers/history/<drill>.jsonl`` — the verifications exported into the paper, committed with it:
  small (verdicts and headline figures, no samples), append-only, one line per run, so the paper's
  trend and "changed since" lines survive a fresh clone, a CI runner and cron.

The export also writes a :class:`PaperStamp` (the run, its verdicts and the prose's hash, as JSON in
a comment) into each verified section, and :func:`paper_status` reads that back: verdicts travel as
data, never parsed out of rendered Markdown. A paper is *stale* when its prose changed after its
verification, or its verification is older than a threshold.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .findings import Findings

HISTORY_FILE = "history.jsonl"
#: The folder beside the papers that holds each drill's committed verification history.
PAPERS_HISTORY_DIR = "history"
_STAMP = re.compile(r"<!-- verified-run: (\{.*?\}) -->")
_VERIFY_FOLDER = re.compile(r"^\d{8}T\d{6}Z(\.\d+)?$")


def prose_sha256(text: str) -> str:
    """Hash of a paper without its verified sections (so an export does not change it)."""
    stripped = re.sub(r"<!-- verified:([\w-]+):begin -->.*?<!-- verified:\1:end -->", "", text, flags=re.S)
    return hashlib.sha256(stripped.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def runs_root(run_dir: Path) -> Path:
    """The runs/ folder a run folder belongs to: ``runs/<ts>-<drill>/`` (one `drills run`) or
    ``runs/<ts>/<drill>/`` (one `drills verify`); the history lives there."""
    parent = run_dir.parent
    return parent.parent if _VERIFY_FOLDER.match(parent.name) else parent


def run_id_for(run_dir: Path) -> str:
    """A run's id, unique under runs/: ``<ts>-<drill>``, or ``<ts>/<drill>`` for one drill of a verify."""
    return f"{run_dir.parent.name}/{run_dir.name}" if _VERIFY_FOLDER.match(run_dir.parent.name) else run_dir.name


# -- the history of runs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    """One finished run, as a line of ``history.jsonl``: small — verdicts and headline figures, no samples."""

    drill: str
    run_id: str
    started_at: str
    finished_at: str
    commit: str
    passed: bool
    #: Hypothesis key -> verdict ("held", "failed", "inconclusive", "not judged").
    verdicts: dict[str, str]
    #: Hypothesis key -> the observed value it was judged on (None when there was none).
    headline: dict[str, float | None]
    parameters: dict[str, Any] = field(default_factory=dict)
    #: The target's URL for a run against a deployment the drill does not own; None on the local stack.
    target: str | None = None

    @classmethod
    def of(cls, findings: Findings) -> HistoryEntry:
        return cls(drill=findings.drill, run_id=findings.run_id, started_at=findings.started_at,
                   finished_at=findings.finished_at, commit=findings.provenance.commit, passed=findings.passed,
                   verdicts={f.key: f.verdict.value for f in findings.findings},
                   headline={f.key: f.observed for f in findings.findings},
                   parameters=dict(findings.parameters), target=findings.target.url if findings.target else None)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> HistoryEntry:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in names})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    def changed_since(self, previous: HistoryEntry | None) -> list[str]:
        """``key: old → new`` for each verdict that differs from ``previous`` (a run of the same drill)."""
        if previous is None:
            return []
        return [f"{key}: {previous.verdicts.get(key, 'absent')} → {value}" for key, value in self.verdicts.items()
                if previous.verdicts.get(key) != value]


def record(findings: Findings, runs_dir: Path) -> HistoryEntry:
    """Append one line for ``findings`` to ``runs_dir``'s history."""
    entry = HistoryEntry.of(findings)
    append(runs_dir / HISTORY_FILE, entry)
    return entry


def append(path: Path, entry: HistoryEntry) -> None:
    """Append ``entry`` as one line: one write, so concurrent writers never interleave."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (entry.to_json() + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def paper_history(papers: Path, drill: str) -> Path:
    """The committed verification history of ``drill``'s paper: ``papers/history/<drill>.jsonl``."""
    return papers / PAPERS_HISTORY_DIR / f"{drill}.jsonl"


#: ``entries(target=ANY_TARGET)``: runs on the local stack and against targets alike.
ANY_TARGET = object()


def entries(runs_dir: Path, drill: str | None = None, *, target: str | object | None = ANY_TARGET) -> list[HistoryEntry]:
    """``runs_dir``'s history lines, oldest first (see :func:`read`)."""
    return read(runs_dir / HISTORY_FILE, drill, target=target)


def read(path: Path, drill: str | None = None, *, target: str | object | None = ANY_TARGET) -> list[HistoryEntry]:
    """History lines of ``path`` in the order written (a torn or foreign line is skipped, not fatal).

    ``target``: ANY_TARGET for every run; None for runs on the local stack only; a URL for runs against it.
    """
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = HistoryEntry.from_json(json.loads(line))
            except (json.JSONDecodeError, TypeError, AttributeError):
                continue
            if (drill is None or entry.drill == drill) and (target is ANY_TARGET or entry.target == target):
                out.append(entry)
    return out


def changed_verdicts(previous: HistoryEntry | None, current: HistoryEntry) -> list[str]:
    """``key: old → new`` for each verdict that differs from the previous run of the same drill."""
    return current.changed_since(previous)


# -- what a paper says about its own verification ------------------------------------------------------


@dataclass(frozen=True)
class PaperStamp:
    """The verification a paper's section holds, written by the export as JSON in a comment."""

    drill: str
    run_id: str
    finished_at: str
    passed: bool
    verdicts: dict[str, str]
    #: The paper's prose (without verified sections) when the drill ran; None if unknown.
    prose_sha256: str | None = None
    #: Whether every check was caught by its falsifier (None: the falsifiers did not run).
    falsified: bool | None = None

    @classmethod
    def of(cls, findings: Findings, falsified: bool | None = None) -> PaperStamp:
        return cls(drill=findings.drill, run_id=findings.run_id, finished_at=findings.finished_at,
                   passed=findings.passed, verdicts={f.key: f.verdict.value for f in findings.findings},
                   prose_sha256=findings.provenance.paper_prose_sha256, falsified=falsified)

    def comment(self) -> str:
        return f"<!-- verified-run: {json.dumps(dataclasses.asdict(self), sort_keys=True)} -->"

    @classmethod
    def read(cls, paper_text: str, drill: str) -> PaperStamp | None:
        """The stamp in ``drill``'s verified section of a paper, or None if there is none."""
        block = re.search(rf"<!-- verified:{re.escape(drill)}:begin -->(.*?)<!-- verified:{re.escape(drill)}:end -->",
                          paper_text, flags=re.S)
        found = _STAMP.search(block.group(1)) if block else None
        if found is None:
            return None
        try:
            return cls(**json.loads(found.group(1)))
        except (json.JSONDecodeError, TypeError):
            return None


@dataclass(frozen=True)
class PaperStatus:
    paper: str
    drill: str
    run_id: str | None
    verified_at: str | None
    held: int
    total: int
    #: Whether the verification it holds passed (None: never verified).
    passed: bool | None
    stale: list[str]  # reasons; empty when fresh
    #: Whether every check was caught by its falsifier (None: never verified, or not falsified).
    falsified: bool | None = None


def paper_status(paper: Path, drill: str, max_age_days: float, now: datetime | None = None) -> PaperStatus:
    """Read the verification stamp back out of the paper and judge whether it is still current."""
    text = paper.read_text(encoding="utf-8")
    stamp = PaperStamp.read(text, drill)
    if stamp is None:
        return PaperStatus(paper.name, drill, None, None, 0, 0, None, ["never verified"])
    judged = [v for v in stamp.verdicts.values() if v != "not judged"]
    reasons = []
    if stamp.prose_sha256 is None or stamp.prose_sha256 != prose_sha256(text):
        reasons.append("prose changed after the verification")
    verified = datetime.strptime(stamp.finished_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    age_days = ((now or datetime.now(UTC)) - verified).total_seconds() / 86400
    if age_days > max_age_days:
        reasons.append(f"verified {age_days:.0f} days ago (more than {max_age_days:g})")
    return PaperStatus(paper.name, drill, stamp.run_id, stamp.finished_at, judged.count("held"), len(judged),
                       stamp.passed, reasons, stamp.falsified)
