"""Helpers for the drill notebooks: show what a run produced, inline."""

from __future__ import annotations

from pathlib import Path

from .findings import Findings


def show_charts(findings: Findings, run_dir: Path | str) -> None:
    """Display each chart of ``findings`` (files in ``run_dir``) with its caption."""
    from IPython.display import Image, Markdown, display

    for chart in findings.charts:
        display(Image(filename=str(Path(run_dir) / chart.file), metadata={"alt": chart.caption}))
        display(Markdown(f"*{chart.caption}*"))


def show_tables(findings: Findings) -> None:
    """Display each summary table of ``findings`` as Markdown."""
    from IPython.display import Markdown, display

    from .findings import markdown_table

    for name, rows in findings.tables.items():
        display(Markdown(f"**{name}**\n\n" + markdown_table(rows)))
