"""The commands that measure: run, falsify, verify — and export, which writes what they found."""


from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from .. import catalog
from ..errors import DrillsError, ParameterError
from ..execute import KERNEL, RunResult, new_verify_dir, run_notebook
from ..export import latest_run
from ..findings import Findings
from ..params import split_names, unknown_name
from ..paths import papers_dir, project_root, runs_dir
from ..pipeline import Falsification, falsify_drill
from .base import (
    DRILL_NAMES,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_PASSED,
    PARAMS_FILE,
    _assignments,
    _export,
    _export_run,
    _fail,
    _params_for,
    main,
)
from .summary import _ci_reports, _summary


@main.command()
@click.argument("drill_name", type=DRILL_NAMES)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Set a parameter (repeatable).")
@PARAMS_FILE
@click.option("--export", "export_after", is_flag=True, help="Splice the findings into the paper afterwards.")
@click.option("--kernel", default=KERNEL, show_default=True, help="Jupyter kernel to run the notebook on.")
@click.option("--time-limit", "time_limit_s", default=900.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds the drill may take; past it the drill is interrupted and stops its stack.")
def run(drill_name: str, params: tuple[str, ...], params_file: Path | None, export_after: bool, kernel: str,
        time_limit_s: float) -> None:
    """Run one drill's notebook through papermill into a new folder under runs/."""
    try:
        assignments = _assignments(params, params_file)
        # `-p framework=flask` runs the drill's variant for that framework (its own notebook).
        framework = assignments.get("framework")
        drill = catalog.get(drill_name, None if framework is None else str(framework))
        drill_params = _params_for(drill, assignments, strict=True)
        result = run_notebook(drill, drill_params, kernel_name=kernel,
                              time_limit_s=time_limit_s)
        _summary([result])
        if export_after:  # this run, even one against a target: the user asked for it by name
            _export_run(drill, result.run_dir)
    except DrillsError as exc:
        _fail(exc)
    sys.exit(EXIT_PASSED if result.findings.passed else EXIT_FAILED)


@main.command()
@click.argument("drill_names", type=DRILL_NAMES, nargs=-1)
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
            _export_run(drills[0], run_dir)
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
@click.argument("drill_names", type=DRILL_NAMES, nargs=-1)
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
@click.argument("drill_names", type=DRILL_NAMES, nargs=-1)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="Set a parameter for every drill that has it (repeatable).")
@PARAMS_FILE
@click.option("--kernel", default=KERNEL, show_default=True, help="Jupyter kernel to run the notebooks on.")
@click.option("--time-limit", "time_limit_s", default=900.0, show_default=True, type=click.FloatRange(min=1),
              help="Seconds each drill may take; past it the drill is interrupted, and verify goes on.")
@click.option("--paper", "paper_names", multiple=True, metavar="PAPER",
              help="Verify the drills of this paper (file name, e.g. connection-pools.md; repeatable).")
@click.option("--framework", "framework_names", multiple=True, metavar="NAMES",
              help="Only the drills for these frameworks (fastapi, flask, django; comma-separated or repeated); "
                   "a drill that exists for FastAPI only counts as fastapi.")
@click.option("--no-falsify", is_flag=True, help="Skip the falsifiers (the papers then say that nothing shows "
              "each check can fail).")
@click.option("--junit-xml", "junit_xml_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the verdicts as JUnit XML (one test case per hypothesis) for CI systems.")
@click.option("--summary-md", type=click.Path(path_type=Path, dir_okay=False),
              help='Also append a Markdown summary to this file (e.g. --summary-md "$GITHUB_STEP_SUMMARY").')
def verify(drill_names: tuple[str, ...], params: tuple[str, ...], params_file: Path | None, kernel: str, time_limit_s: float,
           paper_names: tuple[str, ...], framework_names: tuple[str, ...], no_falsify: bool,
           junit_xml_path: Path | None, summary_md: Path | None) -> None:
    """Run every drill (or those named, or those of the papers named) and its falsifiers, then
    export their papers."""
    try:
        known_papers = {d.paper for d in catalog.all_drills()}
        for name in paper_names:
            if name not in known_papers:
                raise ParameterError("--paper", name, f"no drill verifies it; papers: {', '.join(sorted(known_papers))}")
        drills = [catalog.get(n) for n in drill_names] + [d for d in catalog.all_drills() if d.paper in paper_names]
        drills = list(dict.fromkeys(drills)) or catalog.all_drills()
        frameworks = [name for text in framework_names for name in split_names(text)]
        if frameworks:  # the named drills' (or every drill's) variants for those frameworks
            families = {d.family_name for d in drills}
            drills = [d for d in catalog.of_frameworks(frameworks) if d.family_name in families]
        assignments = _assignments(params, params_file)
        if "framework" in assignments:
            raise ParameterError("framework", assignments["framework"], "verify runs each framework's drill: choose "
                                 "them with --framework (e.g. --framework flask,django), not -p framework=")
        unknown = [k for k in assignments if not any(k in d.params.field_types() for d in drills)]
        if unknown:
            every = sorted({name for d in drills for name in d.params.field_types()})
            raise ParameterError(unknown[0], assignments[unknown[0]],
                                 unknown_name(unknown[0], every, "no selected drill has this parameter"))
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
    _ci_reports(planned, results, errors, falsified, junit_xml_path, summary_md)
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
