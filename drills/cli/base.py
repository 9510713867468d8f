"""The ``drills`` command group, its exit codes, and what every command shares.

Exit codes a scheduler can tell apart: 0 when every hypothesis held (and every check was caught by its
falsifier); 1 when one failed, was inconclusive or is blind; 2 when a drill could not run (bad
parameter, a component that did not start, a notebook error) — with a one-line message saying what to
do next; 130 when interrupted with Ctrl-C and 143 on SIGTERM (128 + the signal), every stack stopped.
"""


from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from .. import __version__, catalog
from ..errors import DrillsError, ExportError, ParameterError
from ..export import Exported, export_run, latest_run
from ..export.family import Member, export_family
from ..findings import Findings
from ..params import DrillParams
from ..paths import papers_dir, runs_dir
from ..pipeline import DrillSpec, Falsification

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
DRILL_NAMES = click.Choice(list(catalog.DRILLS))
#: ``-f/--params-file``, shared by run and verify.
PARAMS_FILE = click.option("-f", "--params-file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
                           help="YAML mapping of parameter names to values (as papermill's -f); -p overrides it.")


class _Drills(click.Group):
    """The command group; Ctrl-C ends a command with 130 (click's own handling would say 1)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("drills: interrupted; every stack it started was stopped", err=True)
            ctx.exit(EXIT_INTERRUPTED)


def _parse_assignments(pairs: Sequence[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError("-p", pair, "expected name=value, e.g. -p statement_timeout_s=0.8")
        values[name.strip()] = value
    return values


def _read_params_file(path: Path | None) -> dict[str, object]:
    """``--params-file``: a YAML mapping of parameter names to values (as papermill's ``-f``). A list
    becomes the comma-separated text a list parameter takes (``rate_steps: [20, 40]`` → "20,40");
    names and values are checked later, exactly as ``-p`` ones."""
    if path is None:
        return {}
    import yaml

    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParameterError("--params-file", str(path), f"cannot be read as YAML ({exc})".replace("\n", " ")) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(k, str) for k in loaded):
        raise ParameterError("--params-file", str(path), "must be a YAML mapping of parameter names to values, "
                             "e.g. statement_timeout_s: 0.8")
    values: dict[str, object] = {}
    for name, value in loaded.items():
        if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, (dict, list)):
            raise ParameterError(name, value, f"in {path}: must be a single value (or a list of numbers or names)")
        values[name.strip()] = value
    return values


def _assignments(pairs: Sequence[str], params_file: Path | None) -> dict[str, object]:
    """The parameters a command was given: the ``--params-file``'s, then ``-p``'s over them."""
    return {**_read_params_file(params_file), **_parse_assignments(pairs)}


def _params_for(drill: DrillSpec[Any, Any], assignments: Mapping[str, object], *, strict: bool) -> DrillParams:
    """The drill's Params from ``-p`` (and ``--params-file``) values; with ``strict=False`` names it lacks are skipped."""
    known = drill.params.field_types()
    chosen = assignments if strict else {k: v for k, v in assignments.items() if k in known}
    return drill.params.from_mapping(chosen)


@click.group(cls=_Drills, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drills")
@click.option("-v", "--verbose", is_flag=True, help="Show papermill's own log lines too.")
def main(verbose: bool) -> None:
    """Run observability drills against a real local stack and export verdicts into the papers."""
    # SIGTERM (cron's timeout, CI cancelling) unwinds like Ctrl-C, so every stack is stopped. SIGINT
    # too when it came in ignored (a background job's child): a CI runner cancels with SIGINT first.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    signal.signal(signal.SIGINT, signal.default_int_handler)
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


def _export(drills: Sequence[DrillSpec[Any, Any]]) -> None:
    for drill in drills:
        _export_run(drill, latest_run(drill.name, runs_dir()))


def _export_run(drill: DrillSpec[Any, Any], run_dir: Path) -> None:
    """Splice one run into its paper, then its family's side-by-side block (where the drill runs for
    several frameworks), then papers/README.md: the index reads the papers, so it must follow every
    export (else it shows a paper as stale that was just verified)."""
    from ..export.index import write_index

    _report(export_run(papers_dir() / drill.paper, run_dir, drill.headlines))
    _export_family(drill, run_dir)
    write_index(papers_dir(), catalog.all_drills())


def _export_family(drill: DrillSpec[Any, Any], run_dir: Path) -> None:
    """The family's block from each member's latest local run (``run_dir`` for ``drill``)."""
    members = catalog.family(drill.family_name)
    if len(members) < 2:
        return
    chosen = []
    for member in members:
        try:
            folder = run_dir if member is drill else latest_run(member.name, runs_dir())
        except ExportError:
            chosen.append(Member(member.framework, member.name))
            continue
        chosen.append(Member(member.framework, member.name, Findings.load(folder), Falsification.load(folder)))
    if export_family(papers_dir() / drill.paper, drill.family_name, chosen):
        click.echo(f"exported the {drill.family_name} family side by side → {papers_dir() / drill.paper}")


def _report(exported: Exported) -> None:
    from ..history import run_id_for

    click.echo(f"exported {run_id_for(exported.run_dir)} → {exported.paper}" + ("" if exported.changed else " (unchanged)"))

def _fail(exc: DrillsError) -> None:
    click.echo(f"drills: {exc}", err=True)
    sys.exit(EXIT_ERROR)
