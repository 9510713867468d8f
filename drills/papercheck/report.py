"""What a paper check found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a paper, at a line, with the checking tool's own words."""

    paper: Path
    line: int
    check: str  # "nginx -t", "kubernetes schema", "structure", …
    message: str

    def __str__(self) -> str:
        return f"{self.paper}:{self.line}: [{self.check}] {self.message}"


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    #: (paper:line, kind, how it was checked, or why it was not)
    blocks: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
