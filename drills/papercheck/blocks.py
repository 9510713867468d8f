"""A paper's fenced code blocks, each with the line it starts on and the kind its info string declares."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*(.*)$")
#: An explicit reason not to check the next block: ``<!-- check: skip — why -->`` on the line before.
_SKIP = re.compile(r"^\s*<!--\s*check:\s*skip\s*[—:-]\s*(.+?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    paper: Path
    line: int  # 1-based line of the opening fence; the code starts on line + 1
    info: str  # the whole info string, e.g. "yaml" or "python"
    text: str
    skip_reason: str | None = None

    @property
    def kind(self) -> str:
        return self.info.split()[0].lower() if self.info.strip() else ""

    def where(self, code_line: int = 1) -> str:
        """``paper:line`` of the block's ``code_line``-th line (1-based)."""
        return f"{self.paper}:{self.line + code_line}"


def code_blocks(paper: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of ``paper`` in order; an unclosed fence runs to the end of the file."""
    lines = (text if text is not None else paper.read_text(encoding="utf-8")).splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        fence, info, start = match.group(1), match.group(2).strip(), index
        body: list[str] = []
        index += 1
        while index < len(lines):
            closing = _FENCE.match(lines[index])
            if closing and closing.group(1)[0] == fence[0] and len(closing.group(1)) >= len(fence) \
                    and not closing.group(2).strip():
                break
            body.append(lines[index])
            index += 1
        skip = _SKIP.match(lines[start - 1]) if start > 0 else None
        blocks.append(Block(paper, start + 1, info, "\n".join(body) + "\n", skip.group(1) if skip else None))
        index += 1
    return blocks


def lines_with_fences(lines: Iterable[str]) -> Iterator[tuple[str, bool]]:
    """Each line, and whether it is a code fence or inside a code block (a closing fence matches
    the opening one's character and carries no info string)."""
    fence = None
    for line in lines:
        match = _FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)
            yield line, True
        elif fence is not None:
            if match and match.group(1)[0] == fence[0] and not match.group(2).strip():
                fence = None
            yield line, True
        else:
            yield line, False


def prose(text: str) -> str:
    """The paper without code blocks, tables, HTML comments and verified sections."""
    text = re.sub(r"<!-- verified:([\w-]+):begin -->.*?<!-- verified:\1:end -->", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    kept = []
    for line, in_code in lines_with_fences(text.splitlines()):
        if in_code:
            continue
        if line.lstrip().startswith("|") or line.strip() in {"---", "***"}:
            continue
        kept.append(line)
    return "\n".join(kept)


def word_count(text: str) -> int:
    """Words of prose: tokens with a letter or digit once Markdown punctuation is dropped."""
    plain = re.sub(r"[#*`>_\[\]()]", " ", prose(text))
    return sum(1 for token in plain.split() if re.search(r"[A-Za-z0-9]", token))
