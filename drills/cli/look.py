"""The commands that look, not measure: list, check-papers, history, status, clean."""


from __future__ import annotations

import sys
from pathlib import Path

import click

from .. import catalog
from ..errors import DrillsError
from ..paths import manifests_dir, papers_dir, runs_dir
from .base import DRILL_NAMES, EXIT_FAILED, EXIT_PASSED, _fail, main


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
    """Check every code block of the papers with its own tool, the template's structure, and the
    recommended settings against drills/recommended.py and each other; without arguments, also the
    service's Kubernetes manifests (deploy/k8s/): the same schemas, the same recommended settings."""
    from ..papercheck import check_manifests, check_papers, manifest_files

    try:
        files = [] if papers else manifest_files(manifests_dir())
        report = check_papers(papers or sorted(p for p in papers_dir().glob("*.md") if p.name != "README.md"), files)
        if not papers:
            manifests = check_manifests(files)
            report.blocks += manifests.blocks
            report.problems += manifests.problems
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
@click.argument("drill_name", type=DRILL_NAMES, required=False)
@click.option("-n", "--last", default=20, show_default=True, help="How many runs to show.")
def history(drill_name: str | None, last: int) -> None:
    """The drill runs recorded in runs/history.jsonl, newest last, with changed verdicts marked."""
    from ..history import HistoryEntry, entries

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
    from ..history import paper_status

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
@click.option("--templates", is_flag=True,
              help="Also remove the cached PostgreSQL templates (rebuilt, once, by the next stack).")
def clean(templates: bool) -> None:
    """End and remove what killed runs left behind (processes, temp dirs), and say what."""
    from ..stack.leftovers import sweep
    from ..stack.pg_template import remove_templates

    removed = sweep() + (remove_templates() if templates else [])
    for line in removed:
        click.echo(f"removed {line}")
    click.echo(f"{len(removed)} leftover(s) removed" if removed else "nothing left behind")
