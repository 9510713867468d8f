"""The whole matrix — every ending at every moment, some rounds — its summary, and the command."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .export import EXPORT_MOMENT, export_trial
from .kernel import KERNEL_MOMENT, kernel_trial
from .stack import STACK_MOMENTS, stack_trial
from .trial import ENDINGS, Trial


def matrix(rounds: int, papers: Path, progress=print) -> list[Trial]:
    """Every ending at every moment, ``rounds`` times."""
    trials = []
    cells = ([(e, m) for m in STACK_MOMENTS for e in ENDINGS] + [(e, EXPORT_MOMENT) for e in ENDINGS]
             + [(e, KERNEL_MOMENT) for e in ENDINGS])
    for round_no in range(1, rounds + 1):
        for ending, moment in cells:
            if moment == EXPORT_MOMENT:
                trial = export_trial(ending, papers)
            elif moment == KERNEL_MOMENT:
                trial = kernel_trial(ending)
            else:
                trial = stack_trial(ending, moment)
            trials.append(trial)
            left = trial.processes_left + trial.dirs_left + trial.files_left
            progress(f"  round {round_no}/{rounds}: {ending:<9} {moment:<17} "
                     f"{'clean' if trial.clean else 'LEFT ' + str(left)}"
                     + ("" if trial.on_moment else " (landed after the moment)")
                     + (f"; the next run removed {trial.swept} leftover(s)" if trial.swept else "") + f"; {trial.detail}")
    return trials


def summary(trials: list[Trial]) -> str:
    cells = {(t.ending, t.moment) for t in trials}
    return (f"fault endings: {len(cells)} (ending × moment), trials: {len(trials)}, "
            f"left something behind: {sum(not t.clean for t in trials)}, "
            f"cleaned up by the next run: {sum(t.swept > 0 for t in trials)}, "
            f"landed off their moment: {sum(not t.on_moment for t in trials)}")


def main(argv: list[str] | None = None) -> int:
    from ..paths import papers_dir

    parser = argparse.ArgumentParser(prog="python -m drills.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each cell runs (default 3)")
    parser.add_argument("--json", type=Path, help="also write every trial to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50:
        parser.error(f"--rounds={args.rounds}: must be between 1 and 50")
    print(f"fault matrix: {len(ENDINGS)} endings × {len(STACK_MOMENTS) + 2} moments, {args.rounds} round(s) …",
          flush=True)
    trials = matrix(args.rounds, papers_dir(), progress=lambda line: print(line, flush=True))
    print(summary(trials))
    if args.json:
        args.json.write_text(json.dumps([t.__dict__ | {"clean": t.clean} for t in trials], indent=1))
    return 0 if all(t.clean for t in trials) else 1
