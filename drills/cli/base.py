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
from collections.abc import Sequence
from typing import Any

import click

from .. import __version__, catalog
from ..errors import DrillsError, ParameterError
from ..export import Exported, export_run, latest_run
from ..params import DrillParams
from ..paths import papers_dir, runs_dir
from ..pipeline import DrillSpec

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130
DRILL_NAMES = click.Choice(list(catalog.DRILLS))


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


def _params_for(drill: DrillSpec[Any, Any], assignments: dict[str, str], *, strict: bool) -> DrillParams:
    """The drill's Params from ``-p`` values; with ``strict=False`` names it lacks are skipped."""
    known = drill.params.field_types()
    chosen = assignments if strict else {k: v for k, v in assignments.items() if k in known}
    return drill.params.from_mapping(chosen)


@click.group(cls=_Drills, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drills")
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


def _export(drills: Sequence[DrillSpec[Any, Any]]) -> None:
    for drill in drills:
        _report(export_run(papers_dir() / drill.paper, latest_run(drill.name, runs_dir()),
                           drill.headlines))
    from ..export.index import write_index

    write_index(papers_dir(), catalog.all_drills())


def _report(exported: Exported) -> None:
    from ..history import run_id_for

    click.echo(f"exported {run_id_for(exported.run_dir)} → {exported.paper}" + ("" if exported.changed else " (unchanged)"))

def _fail(exc: DrillsError) -> None:
    click.echo(f"drills: {exc}", err=True)
    sys.exit(EXIT_ERROR)
