"""Trials that end an export half-way: the paper is a complete export or untouched, and no temp file stays."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..stack.leftovers import claim
from .trial import INTERRUPTIBLE, Trial, end, reap

EXPORT_MOMENT = "export"

# The child that exports, over and over, two runs into one paper until it is ended.
_EXPORT_CHILD = r"""
import sys
from pathlib import Path
from drills.export import export_run

paper, one, two = map(Path, sys.argv[1:4])
print("exporting", flush=True)
while True:
    export_run(paper, one)
    export_run(paper, two)
"""


def fake_run(folder: Path, drill: str, paper: str, variant: int) -> Path:
    """A finished run folder with findings and one chart (the export step's whole input)."""
    from matplotlib.figure import Figure

    from ..findings import AtMost, Chart, Findings, Hypothesis, Provenance

    run_dir = folder / f"2026010{variant}T000000Z-{drill}"
    run_dir.mkdir(parents=True)
    fig = Figure(figsize=(6, 4))
    fig.subplots().plot(range(50), [random.random() for _ in range(50)])
    fig.savefig(run_dir / "chart.png")
    finding = Hypothesis("recommended.fault", "The export survives any ending.", AtMost(1, "ms"),
                         recommended=True).judge(0.5 * variant, 10, "word " * 20_000 * variant)
    Findings(drill=drill, paper=paper, run_id=run_dir.name, started_at=f"2026-01-0{variant}T00:00:00Z",
             finished_at=f"2026-01-0{variant}T00:01:00Z", parameters={}, provenance=Provenance(), settings={},
             findings=[finding], charts=[Chart("chart", "chart.png", f"variant {variant}")]).save(run_dir)
    return run_dir


def export_trial(ending: str, papers: Path, timeout_s: float = 60.0) -> Trial:
    """Export two runs into a paper over and over in a child; end it with ``ending`` mid-way."""
    from ..catalog.timeout_ladder import SPEC as timeout_ladder
    from ..export import export_run

    trial = Trial(ending, EXPORT_MOMENT)
    work = Path(tempfile.mkdtemp(prefix="drills-faults-"))
    claim(work)  # if this process is killed, the next sweep removes its papers and runs
    try:
        paper = work / "papers" / timeout_ladder.paper
        paper.parent.mkdir()
        shutil.copy(papers / timeout_ladder.paper, paper)
        runs = [fake_run(work / "runs", timeout_ladder.name, timeout_ladder.paper, v) for v in (1, 2)]
        complete = set()
        for run_dir in runs:  # the two complete papers a reader may ever see
            export_run(paper, run_dir)
            complete.add(paper.read_bytes())
        charts = {(run_dir / "chart.png").read_bytes() for run_dir in runs}
        figure = paper.parent / "figures" / f"{timeout_ladder.name}-chart.png"
        if ending == "exception":
            trial.detail = _export_exception(paper, runs[0], complete)
        else:
            child = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE + _EXPORT_CHILD, str(paper), *map(str, runs)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                trial.on_moment = child.stdout.readline().strip() == "exporting"  # type: ignore[union-attr]
                time.sleep(random.uniform(0.2, 1.0))  # mid-way through some export
                end(child, ending, timeout_s)
            finally:
                reap(child)
            trial.detail = f"exit {child.returncode}"
        if paper.read_bytes() not in complete:
            trial.files_left.append(f"{paper.name}: not a complete export")
        if figure.read_bytes() not in charts:
            trial.files_left.append(f"{figure.name}: not a complete chart")
        orphans = sorted(p.name for folder in (paper.parent, figure.parent) for p in folder.glob(".*"))
        export_run(paper, runs[0])  # the next export removes what a killed one could not
        trial.swept = len(orphans) - len([p for folder in (paper.parent, figure.parent) for p in folder.glob(".*")])
        trial.files_left += sorted(p.name for folder in (paper.parent, figure.parent) for p in folder.glob(".*"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return trial


def _export_exception(paper: Path, run_dir: Path, complete: set[bytes]) -> str:
    """An exception half-way through the write (fsync fails): the paper keeps its old bytes."""
    from ..export import export_run

    before = paper.read_bytes()
    real_fsync = os.fsync

    def failing_fsync(fd: object) -> None:
        raise OSError(28, "No space left on device (injected)")

    os.fsync = failing_fsync
    try:
        export_run(paper, run_dir)
        outcome = "no error raised"
    except OSError as exc:
        outcome = f"raised {exc.strerror}"
    finally:
        os.fsync = real_fsync
    return outcome + ("" if paper.read_bytes() == before else "; the paper changed")
