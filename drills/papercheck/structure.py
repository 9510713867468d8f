"""What the seed template asks of every paper: its sections, its length, links that resolve, real drills."""

from __future__ import annotations

import re
from pathlib import Path

from ..export.family import FAMILY_SUFFIX
from .blocks import prose, word_count
from .report import Problem

#: The template's sections (``../shared/seeds/paper-template.md``), in order.
SECTIONS = ("Executive Summary", "Background", "Principles / Architectural Guidelines", "Design Patterns",
            "Anti-Patterns", "Implementation Guidance", "Observability & Verification", "Recommendations",
            "Conclusion")
#: The stack subsections of Implementation Guidance.
STACK = ("Web Worker (Gunicorn/UVicorn)", "Kubernetes (Ingress/Service/Deployments)", "AWS ALB / NGINX Ingress",
         "PostgreSQL-Class Databases")
WORDS = (1000, 2000)
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def check_structure(paper: Path, text: str, known_drills: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    lines = text.splitlines()

    def at(pattern: str) -> int:
        for number, line in enumerate(lines, 1):
            if re.match(pattern, line):
                return number
        return 0

    if not at(r"^# \S"):
        problems.append(Problem(paper, 1, "structure", "no title (a line starting with '# ')"))
    found = [(at(rf"^## {re.escape(name)}\s*$"), name) for name in SECTIONS]
    for number, name in found:
        if not number:
            problems.append(Problem(paper, 1, "structure", f"missing section '## {name}'"))
    present = [number for number, _ in found if number]
    if present != sorted(present):
        problems.append(Problem(paper, 1, "structure", f"sections out of the template's order: {', '.join(SECTIONS)}"))
    for name in STACK:
        if not at(rf"^### {re.escape(name)}\s*$"):
            problems.append(Problem(paper, 1, "structure", f"missing stack subsection '### {name}'"))

    words = word_count(text)
    if not WORDS[0] <= words <= WORDS[1]:
        problems.append(Problem(paper, 1, "structure",
                                f"{words} words of prose; the template asks for {WORDS[0]}–{WORDS[1]}"))

    body = prose(text)
    for number, line in enumerate(text.splitlines(), 1):
        if line not in body and not line.lstrip().startswith("|"):  # in code, a table row is still checked
            continue
        for target in _LINK.findall(line):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # external (not fetched: no network here) or an anchor
            path = (paper.parent / target.split("#", 1)[0]).resolve()
            if not path.exists():
                problems.append(Problem(paper, number, "link", f"'{target}' does not resolve ({path} is missing)"))

    # A drill family's side-by-side block (``<drill>-frameworks``) names the drill.
    sections = {key.removesuffix(FAMILY_SUFFIX) for key in re.findall(r"verified:([\w-]+):begin", text)}
    named = set(re.findall(r"### Drill: ([\w-]+)", text)) | sections | set(re.findall(r"drills run ([a-z][\w-]+)", text))
    for drill in sorted(named - known_drills):
        number = next((n for n, line in enumerate(lines, 1) if drill in line), 1)
        problems.append(Problem(paper, number, "drill", f"names drill '{drill}', which does not exist "
                                f"(known: {', '.join(sorted(known_drills))})"))
    return problems
