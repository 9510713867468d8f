"""'(measured)' in a paper links to the verdict that measures it, and the verdict is there."""

from __future__ import annotations

from pathlib import Path

from drills.export.render import verdict_anchor
from drills.papercheck.measured import check_measured

ROW = f'| <a id="{verdict_anchor("d", "inverted.orphan-queries")}"></a>`inverted.orphan-queries` |'
SECTION = f"<!-- verified:d:begin -->\n{ROW}\n<!-- verified:d:end -->\n"


def problems(tmp_path: Path, prose: str, section: str = SECTION) -> list[str]:
    paper = tmp_path / "p.md"
    paper.write_text(f"# P\n\n{prose}\n\n{section}", encoding="utf-8")
    return [p.message for p in check_measured(paper, paper.read_text(encoding="utf-8"))]


def test_a_link_to_a_verdict_that_is_there_passes(tmp_path: Path) -> None:
    assert problems(tmp_path, "The query runs on ([measured](#v-d-inverted-orphan-queries)).") == []


def test_measured_without_a_link_fails(tmp_path: Path) -> None:
    (message,) = problems(tmp_path, "The query runs on (measured).")
    assert "without a link to the verdict" in message


def test_a_link_to_a_missing_verdict_fails(tmp_path: Path) -> None:
    (message,) = problems(tmp_path, "It runs on ([measured](#v-d-recommended-nothing)).")
    assert "no verified section of p.md holds" in message


def test_a_link_into_another_paper_is_followed(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text(SECTION, encoding="utf-8")
    assert problems(tmp_path, "Runs on ([measured](other.md#v-d-inverted-orphan-queries)).", section="") == []
    (message,) = problems(tmp_path, "Runs on ([measured](missing.md#v-d-x)).", section="")
    assert "missing.md" in message


def test_code_and_verified_sections_are_not_prose(tmp_path: Path) -> None:
    assert problems(tmp_path, "```text\nrun (measured)\n```") == []


def test_the_papers_link_every_measurement() -> None:
    papers = Path(__file__).resolve().parents[2] / "papers"
    for paper in sorted(papers.glob("*.md")):
        assert check_measured(paper, paper.read_text(encoding="utf-8")) == [], paper.name
