"""Run history and paper status: what was verified when, and which papers have gone stale.

Each finished drill run appends one line to ``runs/history.jsonl`` (drill, time, commit, parameters,
verdicts, headline measurements). A paper is *stale* when its prose changed after its verification
(the prose's hash is recorded with the findings and written into the verified section), or when its
verification is older than a threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .findings import Findings

HISTORY_FILE = "history.jsonl"
_SHA_MARK = re.compile(r"<!-- verified-prose-sha256: ([0-9a-f]{64}) -->")
_RUN_MARK = re.compile(r"from run `([^`]+)` \(([0-9T:Z-]+) →")


def prose_sha256(text: str) -> str:
    """Hash of a paper without its verified sections (so an export does not change it)."""
    stripped = re.sub(r"<!-- verified:([\w-]+):begin -->.*?<!-- verified:\1:end -->", "", text, flags=re.S)
    return hashlib.sha256(stripped.replace("\r\n", "\n").encode("utf-8")).hexdigest()


_VERIFY_FOLDER = re.compile(r"^\d{8}T\d{6}Z(\.\d+)?$")


def runs_root(run_dir: Path) -> Path:
    """The runs/ folder a run folder belongs to: ``runs/<ts>-<drill>/`` (one `drills run`) or
    ``runs/<ts>/<drill>/`` (one `drills verify`); the history lives there."""
    parent = run_dir.parent
    return parent.parent if _VERIFY_FOLDER.match(parent.name) else parent


def run_id_for(run_dir: Path) -> str:
    """A run's id, unique under runs/: ``<ts>-<drill>``, or ``<ts>/<drill>`` for one drill of a verify."""
    return f"{run_dir.parent.name}/{run_dir.name}" if _VERIFY_FOLDER.match(run_dir.parent.name) else run_dir.name


def record(findings: Findings, runs_dir: Path) -> dict[str, object]:
    """Append one line for ``findings`` to the history; one write, so concurrent runs never interleave."""
    entry = {
        "drill": findings.drill, "run_id": findings.run_id, "started_at": findings.started_at,
        "finished_at": findings.finished_at, "commit": findings.provenance.get("commit", "unknown"),
        "passed": findings.passed, "parameters": findings.parameters,
        "verdicts": {f.key: f.verdict.value for f in findings.findings},
        "headline": {f.key: f.observed for f in findings.findings},
        # Runs against a staging target are a history of their own (trends never mix the two).
        "target": (findings.target or {}).get("url"),
    }
    runs_dir.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(runs_dir / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return entry


def entries(runs_dir: Path, drill: str | None = None, *, target: str | None | bool = False) -> list[dict[str, object]]:
    """History lines, oldest first (a torn or foreign line is skipped, not fatal).

    ``target``: False for every run; None for runs on the local stack only; a URL for runs against it.
    """
    path = runs_dir / HISTORY_FILE
    out = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and (drill is None or entry.get("drill") == drill) \
                    and (target is False or entry.get("target") == target):
                out.append(entry)
    return out


def changed_verdicts(previous: dict[str, object] | None, current: dict[str, object]) -> list[str]:
    """``key: old → new`` for each verdict that differs from the previous run of the same drill."""
    if previous is None:
        return []
    before, after = previous.get("verdicts", {}), current.get("verdicts", {})
    assert isinstance(before, dict) and isinstance(after, dict)
    return [f"{key}: {before.get(key, 'absent')} → {value}" for key, value in after.items()
            if before.get(key) != value]


@dataclass(frozen=True)
class PaperStatus:
    paper: str
    drill: str
    run_id: str | None
    verified_at: str | None
    held: int
    total: int
    stale: list[str]  # reasons; empty when fresh


def paper_status(paper: Path, drill: str, max_age_days: float, now: datetime | None = None) -> PaperStatus:
    """Read the verified section back out of the paper and judge whether it is still current."""
    text = paper.read_text(encoding="utf-8")
    block = re.search(rf"<!-- verified:{re.escape(drill)}:begin -->(.*?)<!-- verified:{re.escape(drill)}:end -->",
                      text, flags=re.S)
    body = block.group(1) if block else ""
    run = _RUN_MARK.search(body)
    if not run:
        return PaperStatus(paper.name, drill, None, None, 0, 0, ["never verified"])
    verdicts = re.findall(r"\| (?:✅ (held)|❌ (failed)|⚠️ (inconclusive))(?: \(was \w+\))? \|", body)
    held = sum(1 for v in verdicts if v[0])
    total = len(verdicts)
    reasons = []
    sha = _SHA_MARK.search(body)
    if sha is None or sha.group(1) != prose_sha256(text):
        reasons.append("prose changed after the verification")
    verified = datetime.strptime(run.group(2), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    age_days = ((now or datetime.now(UTC)) - verified).total_seconds() / 86400
    if age_days > max_age_days:
        reasons.append(f"verified {age_days:.0f} days ago (more than {max_age_days:g})")
    return PaperStatus(paper.name, drill, run.group(1), run.group(2), held, total, reasons)

