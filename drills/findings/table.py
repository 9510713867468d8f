"""Markdown tables, the one format every summary of findings is shown in (notebook, paper, CLI)."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; the first row is the header."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\r\n", " ").replace("\r", " ").replace("\n", " ")

    header, *body = rows
    lines = ["| " + " | ".join(cell(c) for c in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in body]
    return "\n".join(lines) + "\n"
