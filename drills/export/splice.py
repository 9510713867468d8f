"""Splice a generated block into Markdown between two marker lines — a pure function.

    <!-- verified:timeout-ladder:begin -->
    ... replaced on every export ...
    <!-- verified:timeout-ladder:end -->

Only the lines between the markers change: every byte outside them, including the markers and
the file's line endings, is kept. Markers inside fenced code blocks are examples, not markers.
Splicing twice gives the same text as splicing once.
"""

from __future__ import annotations

import re

from ..errors import ExportError

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def begin_marker(key: str) -> str:
    return f"<!-- verified:{key}:begin -->"


def end_marker(key: str) -> str:
    return f"<!-- verified:{key}:end -->"


def marker_lines(lines: list[str], marker: str) -> list[int]:
    """Indexes of lines that are exactly ``marker`` (surrounding blanks allowed), outside fences."""
    found: list[int] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        match = _FENCE.match(line)
        if fence is None:
            if match:
                fence = match.group(1)
                continue
        else:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
                    and not line.strip()[len(match.group(1)):].strip():
                fence = None
            continue
        if line.strip() == marker:
            found.append(index)
    return found


def has_markers(text: str, key: str) -> bool:
    lines = text.splitlines(keepends=True)
    return bool(marker_lines(lines, begin_marker(key)) or marker_lines(lines, end_marker(key)))


def splice(text: str, key: str, block: str) -> str:
    """Return ``text`` with the lines between ``key``'s markers replaced by ``block``.

    ``block`` is surrounded by one blank line on each side. Raises ExportError unless there is
    exactly one begin marker followed by exactly one end marker (outside code fences).
    """
    begin, end = begin_marker(key), end_marker(key)
    if begin in block or end in block:
        raise ExportError(f"the generated block for {key} contains its own marker")
    lines = text.splitlines(keepends=True)
    starts, ends = marker_lines(lines, begin), marker_lines(lines, end)
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ExportError(
            f"need exactly one '{begin}' followed by one '{end}' outside code blocks; "
            f"found {len(starts)} begin and {len(ends)} end"
            + (" in the wrong order" if len(starts) == 1 == len(ends) else "")
        )
    first = lines[starts[0]]
    newline = "\r\n" if first.endswith("\r\n") else "\n"
    if not first.endswith(("\n", "\r")):  # cannot happen: an end marker follows
        raise ExportError("begin marker is the last line")  # pragma: no cover
    body = "".join(line + newline for line in ["", *block.strip("\n").splitlines(), ""])
    return "".join(lines[: starts[0] + 1]) + body + "".join(lines[ends[0]:])
