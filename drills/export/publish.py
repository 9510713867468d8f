"""Put the latest findings of each drill into its paper: figures copied, block spliced, atomically."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ExportError
from ..files import remove_orphaned_temp_files, write_atomic
from ..findings import FINDINGS_FILE, Findings
from ..history import HistoryEntry, append, paper_history, read
from ..pipeline.falsify import Falsification
from ..redact import redact
from .render import render_block
from .splice import splice
from .trend import draw_trend

FIGURES = "figures"


@dataclass(frozen=True)
class Exported:
    paper: Path
    run_dir: Path
    changed: bool


def latest_run(drill: str, runs_dir: Path) -> Path:
    """The newest run folder of ``drill`` that finished (has findings) on the embedded local stack.

    Runs against a staging target are exported only when named (``drills export --run-dir``): a
    paper says what the local stack showed unless its reader chose otherwise.

    Run folders are ``runs/<ts>-<drill>/`` (`drills run`) and ``runs/<ts>/<drill>/`` (`drills
    verify`); both start with the UTC timestamp, so its text orders them.
    """
    found = [p for p in [*runs_dir.glob(f"*-{drill}"), *runs_dir.glob(f"*/{drill}")] if p.is_dir()]
    candidates = sorted(found, key=lambda p: p.name if p.name != drill else p.parent.name, reverse=True)
    for candidate in candidates:
        if (candidate / FINDINGS_FILE).is_file() and not _is_target_run(candidate):
            return candidate
    raise ExportError(
        f"no finished run of {drill} under {runs_dir}"
        + (f" ({len(candidates)} unfinished)" if candidates else "")
        + f"; run `drills run {drill}` first"
    )


def _is_target_run(run_dir: Path) -> bool:
    try:
        return Findings.load(run_dir).target is not None
    except ExportError:
        return False


def export_run(paper: Path, run_dir: Path, headlines: Sequence[str] = ()) -> Exported:
    """Splice the findings in ``run_dir`` into ``paper``; copy their charts next to it.

    The paper is only rewritten when its text changes, via a temp file and a rename; if the
    markers are missing or broken it is not touched and ExportError says what was found.
    ``headlines`` are hypothesis keys whose values over the last runs are drawn as a trend.
    """
    findings = Findings.load(run_dir)
    try:
        with open(paper, encoding="utf-8", newline="") as handle:
            original = handle.read()
    except FileNotFoundError:
        raise ExportError(f"{paper}: paper not found (the drill {findings.drill} names it)") from None
    figures_dir = paper.parent / FIGURES
    # Temp files of an export that was killed half-way go now, even where nothing is rewritten.
    for folder in (paper.parent, figures_dir):
        remove_orphaned_temp_files(folder)
    links = {c.name: f"{FIGURES}/{findings.drill}-{c.name}.png" for c in findings.charts}
    # The paper's verifications up to this one (of the same deployment), from its committed history.
    history = paper_history(paper.parent, findings.drill)
    recorded = read(history, findings.drill)
    this = dataclasses.replace(HistoryEntry.of(findings), parameters={})  # small: the paper shows them
    runs = sorted([e for e in recorded if e.target == this.target and e.run_id != this.run_id
                   and e.finished_at <= this.finished_at] + [this], key=lambda e: e.finished_at)
    previous = next((e for e in reversed(runs) if e.run_id != this.run_id), None)
    trend = f"{FIGURES}/{findings.drill}-trend.png"
    figures_dir.mkdir(exist_ok=True)
    has_trend = draw_trend(runs, headlines, paper.parent / trend) if headlines else False
    try:
        text = splice(original, findings.drill, redact(render_block(
            findings, links, previous=previous, trend_link=trend if has_trend else None,
            falsification=Falsification.load(run_dir))))
    except ExportError as exc:
        raise ExportError(f"{paper}: {exc}") from None
    missing = [c.file for c in findings.charts if not (run_dir / c.file).is_file()]
    if missing:
        raise ExportError(f"{run_dir}: charts missing ({', '.join(missing)}); run the drill again")
    for chart in findings.charts:
        _copy_if_changed(run_dir / chart.file, paper.parent / links[chart.name])
    changed = text != original
    if changed:
        write_atomic(paper, text)
    # After the paper: an export cut off before this line is completed by the next one.
    if all(e.run_id != this.run_id for e in recorded):
        append(history, this)
    return Exported(paper, run_dir, changed)


def _copy_if_changed(source: Path, dest: Path) -> None:
    data = source.read_bytes()
    if dest.is_file() and dest.read_bytes() == data:
        return
    write_atomic(dest, data)
