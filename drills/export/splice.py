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
# Markdown ends lines at \r\n, \r or \n only (str.splitlines would also split at U+2028 & co).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def split_lines(text: str) -> list[str]:
    """Lines with their endings, split the way Markdown does."""
    return _LINE.findall(text)


def begin_marker(key: str) -> str:
    return f"<!-- verified:{key}:begin -->"


def end_marker(key: str) -> str:
    return f"<!-- verified:{key}:end -->"


def _ends_inside_fence(lines: list[str]) -> bool:
    fence: str | None = None
    for line in lines:
        fence = _next_fence_state(fence, line)
    return fence is not None


def _next_fence_state(fence: str | None, line: str) -> str | None:
    match = _FENCE.match(line)
    if fence is None:
        return match.group(1) if match else None
    if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence) \
            and not line.strip()[len(match.group(1)):].strip():
        return None
    return fence


def marker_lines(lines: list[str], marker: str) -> list[int]:
    """Indexes of lines that are exactly ``marker`` (surrounding blanks allowed), outside fences."""
    found: list[int] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        inside = fence is not None
        fence = _next_fence_state(fence, line)
        if not inside and fence is None and line.strip() == marker:
            found.append(index)
    return found


def has_markers(text: str, key: str) -> bool:
    lines = split_lines(text)
    return bool(marker_lines(lines, begin_marker(key)) or marker_lines(lines, end_marker(key)))


def splice(text: str, key: str, block: str) -> str:
    """Return ``text`` with the lines between ``key``'s markers replaced by ``block``.

    ``block`` is surrounded by one blank line on each side. Raises ExportError unless there is
    exactly one begin marker followed by exactly one end marker (outside code fences).
    """
    begin, end = begin_marker(key), end_marker(key)
    if begin in block or end in block:
        raise ExportError(f"the generated block for {key} contains its own marker")
    if _ends_inside_fence(split_lines(block + "\n")):
        raise ExportError(f"the generated block for {key} leaves a code fence open; it would hide the end marker")
    lines = split_lines(text)
    starts, ends = marker_lines(lines, begin), marker_lines(lines, end)
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise ExportError(
            f"need exactly one '{begin}' followed by one '{end}' outside code blocks; "
            f"found {len(starts)} begin and {len(ends)} end"
            + (" in the wrong order" if len(starts) == 1 == len(ends) else "")
        )
    first = lines[starts[0]]
    newline = "\r\n" if first.endswith("\r\n") else first[-1]  # keep the file's own line ending
    block_lines = [line.rstrip("\r\n") for line in split_lines(block.strip("\r\n"))]
    body = "".join(line + newline for line in ["", *block_lines, ""])
    return "".join(lines[: starts[0] + 1]) + body + "".join(lines[ends[0]:])
