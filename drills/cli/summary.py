"""What `drills verify` prints at the end, and the reports it writes for CI systems."""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from .. import catalog
from ..ci_reports import DrillOutcome, junit_xml, summary_markdown
from ..errors import DrillsError
from ..execute import RunResult
from ..findings import Verdict
from ..params import DrillParams
from ..pipeline import DrillSpec, Falsification


def _ci_reports(planned: Sequence[tuple[DrillSpec[Any, Any], DrillParams]], results: Sequence[RunResult],
                errors: Sequence[tuple[str, DrillsError]], falsified: Mapping[str, Falsification],
                junit: Path | None, summary: Path | None) -> None:
    """The JUnit XML and Markdown summary, when asked for: every planned drill, run or not."""
    if junit is None and summary is None:
        return
    by_name = {r.drill: r for r in results}
    failed = dict(errors)
    outcomes = [DrillOutcome(d.name, d.paper, by_name[d.name].findings if d.name in by_name else None,
                             falsified.get(d.name), str(failed.get(d.name, "")),
                             by_name[d.name].wall_s if d.name in by_name else 0.0) for d, _ in planned]
    if junit is not None:
        junit.write_text(junit_xml(outcomes), encoding="utf-8")
        click.echo(f"wrote {junit}")
    if summary is not None:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(summary_markdown(outcomes))

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
