"""``drills export --self-contained``: one file that carries a whole verified paper.

``dist/<paper>.md`` has every chart embedded (``data:`` URIs), links to other papers pointing at
their ``.html`` beside it, and links to the repository's other files turned into plain text naming
the path (they do not travel with the file). ``dist/<paper>.html`` is rendered from it, for reading
in a browser.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import mistune

from ..files import write_atomic

_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 72rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; }
pre { background: #f6f8fa; padding: 0.75rem; overflow-x: auto; }
code { font-size: 0.9em; }
img { max-width: 100%; }
"""


def self_contained_markdown(paper: Path, others: set[str]) -> str:
    """The paper with images inlined and links made to work outside the repository."""
    text = paper.read_text(encoding="utf-8")

    def replace(match: re.Match[str]) -> str:
        bang, label, target = match.groups()
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            return match.group(0)
        path = (paper.parent / target.split("#", 1)[0]).resolve()
        if bang:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            return f"![{label}](data:image/png;base64,{data})"
        if path.name in others:
            return f"[{label}]({path.with_suffix('.html').name})"
        root = paper.parent.parent
        shown = path.relative_to(root) if path.is_relative_to(root) else path.name
        return f"{label} (in the repository: `{shown}`)"

    return _LINK.sub(replace, text)


def render_html(markdown_text: str, title: str) -> str:
    body = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])(markdown_text)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{html.escape(title)}</title>\n"
            f"<style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


def export_self_contained(papers: list[Path], dist: Path) -> list[Path]:
    """Write ``dist/<paper>.md`` and ``dist/<paper>.html`` for each paper; return the files written."""
    dist.mkdir(parents=True, exist_ok=True)
    names = {p.name for p in papers}
    written = []
    for paper in papers:
        text = self_contained_markdown(paper, names)
        title = next((line[2:].strip() for line in text.splitlines() if line.startswith("# ")), paper.stem)
        md, page = dist / paper.name, dist / paper.with_suffix(".html").name
        write_atomic(md, text)
        write_atomic(page, render_html(text, title))
        written += [md, page]
    return written
