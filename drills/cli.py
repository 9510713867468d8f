"""The ``drills`` command: list | run | falsify | export | verify | status | history | clean | check-papers.

Exit codes: 0 when every hypothesis about a recommended configuration held; 1 when one failed or
was inconclusive; 2 when a drill could not run (bad parameter, a component that did not start, a
notebook error) — with a one-line message saying what to do next.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from . import catalog
from .errors import DrillsError, ParameterError
from .execute import KERNEL, RunResult, new_verify_dir, run_notebook
from .export import Exported, export_run, latest_run
from .findings import Findings, Verdict
from .params import DrillParams
from .paths import papers_dir, project_root, runs_dir
from .pipeline import DrillSpec, Falsification, falsify_drill

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


def _parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError("-p", pair, "expected name=value, e.g. -p statement_timeout_s=0.8")
        values[name.strip()] = value
    return values


def _params_for(drill: DrillSpec[Any, Any], assignments: dict[str, str], *, strict: bool) -> DrillParams:
    """The drill's Params from ``-p`` values; with ``strict=False`` names it lacks are skipped."""
    known = drill.params.field_types()
    chosen = assignments if strict else {k: v for k, v in assignments.items() if k in known}
    return drill.params.from_mapping(chosen)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Show papermill's own log lines too.")
def main(verbose: bool) -> None:
    """Run observability drills against a real local stack and export verdicts into the papers."""
    # SIGTERM (cron's timeout, CI cancelling) unwinds like Ctrl-C, so every stack is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    if not verbose:
        logging.getLogger("papermill").addFilter(_OnlyCellOutput())
    for noisy in ("traitlets", "asyncio", "matplotlib"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class _OnlyCellOutput(logging.Filter):
    """Keep the notebook's own progress lines; drop papermill's bookkeeping."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage().rstrip("\n")
        if not message.strip() or message.startswith(("<IPython.core.display", "<Figure")):
            return False
        if message.startswith(("Executing Cell", "Ending Cell", "Executing notebook", "Input Notebook",
                               "Output Notebook", "Black is not installed", "Working directory")):
            return False
        record.msg, record.args = message, None
        return True


@main.command("list")
def list_drills() -> None:
    """List the drills, their papers and parameters (with defaults)."""
    for drill in catalog.all_drills():
        click.echo(f"{drill.name}  →  papers/{drill.paper}  (notebooks/{drill.notebook})")
        defaults = drill.params()
        for name, kind in drill.params.field_types().items():
            click.echo(f"    {name:<36} {kind.__name__:<6} {getattr(defaults, name)!r}")


@main.command("check-papers")
@click.argument("papers", nargs=-1, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("-v", "--verbose", "show_blocks", is_flag=True, help="List every block and how it was checked.")
def check_papers_command(papers: tuple[Path, ...], show_blocks: bool) -> None:
    """Check every code block of the papers with its own tool, and the template's structure."""
    from .papercheck import check_papers

    try:
        report = check_papers(papers or sorted(p for p in papers_dir().glob("*.md") if p.name != "README.md"))
    except DrillsError as exc:
        _fail(exc)
    if show_blocks:
        for where, kind, how in report.blocks:
            click.echo(f"  {where:<28} {kind:<7} {how}")
    for problem in report.problems:
        click.echo(str(problem), err=True)
    checked = sum(1 for _, _, how in report.blocks if not how.startswith(("not ", "unknown")))
    click.echo(f"{len(report.blocks)} blocks ({checked} checked by their tool), "
               f"{len(report.problems)} problem(s)")
    sys.exit(EXIT_PASSED if report.ok else EXIT_FAILED)


@main.command()
@click.argument("drill_name", metavar="[DRILL]", required=False)
@click.option("-n", "--last", default=20, show_default=True, help="How many runs to show.")
def history(drill_name: str | None, last: int) -> None:
    """The drill runs recorded in runs/history.jsonl, newest last, with changed verdicts marked."""
    from .history import HistoryEntry, entries

    rows = entries(runs_dir(), drill_name)
    previous: dict[str, HistoryEntry] = {}
    lines = []
    for entry in rows:
        verdicts = list(entry.verdicts.values())
        changed = entry.changed_since(previous.get(entry.drill))
        previous[entry.drill] = entry
        lines.append(f"{entry.finished_at}  {entry.drill:<16} {'PASSED' if entry.passed else 'FAILED'}  "
                     f"{verdicts.count('held')} held, {verdicts.count('failed')} failed, "
                     f"{verdicts.count('inconclusive')} inconclusive  {entry.commit}"
                     + (f"\n    changed: {'; '.join(changed)}" if changed else ""))
    for line in lines[-last:]:
        click.echo(line)
    if not rows:
        click.echo(f"no runs recorded in {runs_dir() / 'history.jsonl'} yet; run `drills verify`")


@main.command()
@click.option("--max-age-days", default=7.0, show_default=True, help="Older verifications count as stale.")
def status(max_age_days: float) -> None:
    """For each paper: last verified, hypotheses held, and whether it is stale, its last
    verification failed, or a check of it is blind. Exit 1 if any is."""
    from .history import paper_status

    bad = False
    for drill in catalog.all_drills():
        state = paper_status(papers_dir() / drill.paper, drill.name, max_age_days)
        failed, blind = state.passed is False, state.falsified is False
        bad = bad or bool(state.stale) or failed or blind
        click.echo(f"{state.paper:<22} {state.drill:<16} {state.verified_at or 'never':<21} "
                   f"{state.held}/{state.total} held  " + ("FAILED  " if failed else "")
                   + ("BLIND CHECKS  " if blind else "") + ("not falsified  " if state.falsified is None else "")
                   + ("STALE: " + "; ".join(state.stale) if state.stale else "fresh"))
    sys.exit(EXIT_FAILED if bad else EXIT_PASSED)


@main.command()
def clean() -> None:
    """End and remove what killed runs left behind (processes, temp dirs), and say what."""
    from .stack.leftovers import sweep

    removed = sweep()
    for line in removed:
        click.echo(f"removed {line}")
    click.echo(f"{len(removed)} leftover(s) removed" if removed else "nothing left behind")


@main.command()
@click.argument("drill_name", metavar="DRILL")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Set a parameter (repeatable).")
@click.option("--export", "export_after", is_flag=True, help="Splice the findings into the paper afterwards.")
@click.option("--kernel", default=KERNEL, show_default=True, help="Jupyter kernel to run the notebook on.")
@click.option("--time-limit", "time_limit_s", default=900.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds the drill may take; past it the drill is interrupted and stops its stack.")
def run(drill_name: str, params: tuple[str, ...], export_after: bool, kernel: str, time_limit_s: float) -> None:
    """Run one drill's notebook through papermill into a new folder under runs/."""
    try:
        drill = catalog.get(drill_name)
        drill_params = _params_for(drill, _parse_assignments(params), strict=True)
        result = run_notebook(drill, drill_params, kernel_name=kernel,
                              time_limit_s=time_limit_s)
        _summary([result])
        if export_after:  # this run, even one against a target: the user asked for it by name
            _report(export_run(papers_dir() / drill.paper, result.run_dir, drill.headlines))
    except DrillsError as exc:
        _fail(exc)
    sys.exit(EXIT_PASSED if result.findings.passed else EXIT_FAILED)


@main.command()
@click.argument("drill_names", metavar="[DRILL]...", nargs=-1)
@click.option("--run-dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Export this run folder instead of each drill's latest run.")
@click.option("--self-contained", "standalone", is_flag=True,
              help="Also write dist/<paper>.md with the charts embedded, and dist/<paper>.html from it.")
def export(drill_names: tuple[str, ...], run_dir: Path | None, standalone: bool) -> None:
    """Splice the latest findings of each drill into its paper."""
    try:
        drills = [catalog.get(n) for n in drill_names] or catalog.all_drills()
        if run_dir is not None:
            if len(drills) != 1:
                raise ParameterError("--run-dir", str(run_dir), "name exactly one drill with it")
            _report(export_run(papers_dir() / drills[0].paper, run_dir, drills[0].headlines))
        else:
            _export(drills)
        if standalone:
            from .export.standalone import export_self_contained

            papers = sorted({papers_dir() / d.paper for d in drills})
            for path in export_self_contained(papers, project_root() / "dist"):
                click.echo(f"wrote {path}")
    except DrillsError as exc:
        _fail(exc)


@main.command()
@click.argument("drill_names", metavar="[DRILL]...", nargs=-1)
@click.option("--run-dir", type=click.Path(path_type=Path, exists=True, file_okay=False),
              help="Falsify the checks of this run folder instead of each drill's latest local run.")
def falsify(drill_names: tuple[str, ...], run_dir: Path | None) -> None:
    """Run each drill's falsifiers with the parameters of its latest local run (or --run-dir).

    Every hypothesis must come out failed under its falsifier, a harmful stack in its
    configuration's slot; one that does not is a blind check (exit 1). The result is saved in the
    run folder, and the next `drills export` shows it beside each verdict.
    """
    try:
        drills = [catalog.get(n) for n in drill_names] or catalog.all_drills()
        if run_dir is not None and len(drills) != 1:
            raise ParameterError("--run-dir", str(run_dir), "name exactly one drill with it")
        results = []
        for drill in drills:
            folder = run_dir or latest_run(drill.name, runs_dir())
            findings = Findings.load(folder)
            if findings.drill != drill.name:
                raise ParameterError("--run-dir", str(folder), f"holds a run of {findings.drill}, not {drill.name}")
            results.append(falsify_drill(drill, findings, folder))
    except DrillsError as exc:
        _fail(exc)
    sys.exit(EXIT_PASSED if all(r.passed for r in results) else EXIT_FAILED)


@main.command()
@click.argument("drill_names", metavar="[DRILL]...", nargs=-1)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Set a parameter for every drill that has it (repeatable).")
@click.option("--kernel", default=KERNEL, show_default=True, help="Jupyter kernel to run the notebooks on.")
@click.option("--time-limit", "time_limit_s", default=900.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each drill may take; past it the drill is interrupted, and verify goes on.")
@click.option("--paper", "paper_names", multiple=True, metavar="PAPER",
              help="Verify the drills of this paper (file name, e.g. connection-pools.md; repeatable).")
@click.option("--no-falsify", is_flag=True, help="Skip the falsifiers (the papers then say that nothing shows "
              "each check can fail).")
def verify(drill_names: tuple[str, ...], params: tuple[str, ...], kernel: str, time_limit_s: float,
           paper_names: tuple[str, ...], no_falsify: bool) -> None:
    """Run every drill (or those named, or those of the papers named) and its falsifiers, then
    export their papers."""
    try:
        known_papers = {d.paper for d in catalog.all_drills()}
        for name in paper_names:
            if name not in known_papers:
                raise ParameterError("--paper", name, f"no drill verifies it; papers: {', '.join(sorted(known_papers))}")
        drills = [catalog.get(n) for n in drill_names] + [d for d in catalog.all_drills() if d.paper in paper_names]
        drills = list(dict.fromkeys(drills)) or catalog.all_drills()
        assignments = _parse_assignments(params)
        unknown = [k for k in assignments if not any(k in d.params.field_types() for d in drills)]
        if unknown:
            raise ParameterError(unknown[0], assignments[unknown[0]], "no selected drill has this parameter")
        # Every drill's parameters are checked before the first one starts.
        planned = [(d, _params_for(d, assignments, strict=False)) for d in drills]
    except DrillsError as exc:
        _fail(exc)
    results: list[RunResult] = []
    errors: list[tuple[str, DrillsError]] = []
    falsified: dict[str, Falsification] = {}
    verify_dir = new_verify_dir()
    started = time.monotonic()
    click.echo(f"verifying {len(planned)} drill(s) into {verify_dir}")
    for index, (drill, drill_params) in enumerate(planned, 1):
        following = planned[index][0].name if index < len(planned) else "export"
        click.echo(f"== drill {index}/{len(planned)}: {drill.name} (paper {drill.paper}; "
                   f"{time.monotonic() - started:.0f} s so far; next: {following}) ==")
        try:
            result = run_notebook(drill, drill_params, kernel_name=kernel,
                                  run_dir=verify_dir / drill.name, time_limit_s=time_limit_s)
            results.append(result)
            if not no_falsify and not result.findings.target:
                falsified[drill.name] = falsify_drill(drill, result.findings, result.run_dir)
        except DrillsError as exc:
            click.echo(f"drills: {exc}", err=True)
            errors.append((drill.name, exc))
    _summary(results, errors, falsified)
    for r in results:
        if r.findings.target:
            click.echo(f"not exported: {r.drill} ran against {r.findings.target.url}; papers keep the local "
                       f"stack's runs (export it by name: drills export {r.drill} --run-dir {r.run_dir})")
    try:
        _export([catalog.get(r.drill) for r in results if not r.findings.target])
    except DrillsError as exc:
        _fail(exc)
    if errors:
        sys.exit(EXIT_ERROR)
    blind = any(not f.passed for f in falsified.values())
    sys.exit(EXIT_PASSED if all(r.findings.passed for r in results) and not blind else EXIT_FAILED)


def _export(drills: Sequence[DrillSpec[Any, Any]]) -> None:
    for drill in drills:
        _report(export_run(papers_dir() / drill.paper, latest_run(drill.name, runs_dir()),
                           drill.headlines))
    from .export.index import write_index

    write_index(papers_dir(), catalog.all_drills())


def _report(exported: Exported) -> None:
    from .history import run_id_for

    click.echo(f"exported {run_id_for(exported.run_dir)} → {exported.paper}" + ("" if exported.changed else " (unchanged)"))


def _summary(results: Sequence[RunResult], errors: Sequence[tuple[str, DrillsError]] = (),
             falsified: Mapping[str, Falsification] | None = None) -> None:
    rows = [("paper", "drill", "verdict", "held", "failed", "inconclusive", "not judged", "can fail", "wall",
             "run folder")]
    for r in results:
        counts = r.findings.counts()
        checked = (falsified or {}).get(r.drill)
        can_fail = "-" if checked is None else (f"{sum(c.caught for c in checked.catches)}/{len(checked.catches)}"
                                                + ("" if checked.passed else " BLIND"))
        rows.append((r.findings.paper, r.drill, "PASSED" if r.findings.passed else "FAILED", str(counts[Verdict.HELD]),
                     str(counts[Verdict.FAILED]), str(counts[Verdict.INCONCLUSIVE]), str(counts[Verdict.NOT_JUDGED]),
                     can_fail, f"{r.wall_s:.0f} s", str(r.run_dir)))
    for name, _ in errors:
        rows.append((catalog.get(name).paper, name, "ERROR", "-", "-", "-", "-", "-", "-", "see the message above"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    click.echo("")
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for r in results:
        for f in r.findings.findings:
            if f.verdict is not Verdict.HELD:
                click.echo(f"  {r.drill}: {f.key} {f.verdict.value}: {f.detail}")
        checked = (falsified or {}).get(r.drill)
        if checked is not None and not checked.passed:
            click.echo(f"  {r.drill}: {checked.summary()}")


def _fail(exc: DrillsError) -> None:
    click.echo(f"drills: {exc}", err=True)
    sys.exit(EXIT_ERROR)


if __name__ == "__main__":  # pragma: no cover
    main()
