"""Run history, paper staleness and the generated papers/README.md."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from drills.catalog import timeout_ladder
from drills.export import splice
from drills.export.index import write_index
from drills.export.render import render_block
from drills.findings import AtLeast, Findings, Hypothesis, Provenance
from drills.history import changed_verdicts, entries, paper_status, prose_sha256, record

PAPER = """# A paper

Some prose.

<!-- verified:timeout-ladder:begin -->

<!-- verified:timeout-ladder:end -->

More prose.
"""


def findings(observed: float, *, sha: str | None = None, started: str = "2026-11-27T08:00:00Z") -> Findings:
    h = Hypothesis("recommended.x", "claim", AtLeast(100, "%"), recommended=True)
    return Findings(drill="timeout-ladder", paper="a.md", run_id=f"run-{observed:g}", started_at=started,
                    finished_at=started, parameters={"p": 1},
                    provenance=Provenance(commit="abc", paper_prose_sha256=sha),
                    settings={}, findings=[h.judge(observed, 3)])


def test_history_appends_one_line_per_run_and_marks_changed_verdicts(tmp_path: Path) -> None:
    record(findings(100), tmp_path)
    record(findings(50), tmp_path)
    (tmp_path / "history.jsonl").open("a").write('{"torn": \n')  # a half-written line is skipped
    got = entries(tmp_path)
    assert [e.verdicts["recommended.x"] for e in got] == ["held", "failed"]
    assert got[1].headline["recommended.x"] == 50 and got[1].passed is False
    assert changed_verdicts(got[0], got[1]) == ["recommended.x: held → failed"]
    assert changed_verdicts(None, got[0]) == []
    assert all(json.loads(line) for line in (tmp_path / "history.jsonl").read_text().splitlines()[:2])


def exported(tmp_path: Path, f: Findings) -> Path:
    paper = tmp_path / "a.md"
    paper.write_text(splice(PAPER, "timeout-ladder", render_block(f, {})), encoding="utf-8")
    return paper


def test_a_paper_is_fresh_until_its_prose_changes_or_it_ages(tmp_path: Path) -> None:
    paper = exported(tmp_path, findings(100, sha=prose_sha256(PAPER)))
    now = datetime(2026, 11, 28, tzinfo=UTC)
    fresh = paper_status(paper, "timeout-ladder", max_age_days=7, now=now)
    assert fresh.stale == [] and (fresh.held, fresh.total) == (1, 1) and fresh.run_id == "run-100"
    assert paper_status(paper, "timeout-ladder", 7, now=now + timedelta(days=30)).stale == [
        "verified 31 days ago (more than 7)"]
    paper.write_text(paper.read_text().replace("More prose.", "Changed prose."), encoding="utf-8")
    assert paper_status(paper, "timeout-ladder", 7, now=now).stale == ["prose changed after the verification"]


def test_a_paper_never_verified_is_stale(tmp_path: Path) -> None:
    paper = tmp_path / "a.md"
    paper.write_text(PAPER, encoding="utf-8")
    assert paper_status(paper, "timeout-ladder", 7).stale == ["never verified"]


def test_the_index_lists_each_paper_with_its_verification(tmp_path: Path) -> None:
    exported(tmp_path, findings(100, sha=prose_sha256(PAPER))).rename(tmp_path / timeout_ladder.SPEC.paper)
    assert write_index(tmp_path, [timeout_ladder.SPEC])
    text = (tmp_path / "README.md").read_text()
    assert ("| [A paper](timeout-ladders.md) | `timeout-ladder` | 2026-11-27T08:00:00Z | 1/1 "
            "| verified, not falsified |") in text
    assert not write_index(tmp_path, [timeout_ladder.SPEC]), "a second write changes nothing"


@pytest.mark.parametrize(("passed", "falsified", "stale", "state"), [
    (True, True, [], "verified"),
    (True, None, [], "verified, not falsified"),
    (True, False, [], "blind check"),
    (False, True, [], "failed"),
    (False, False, [], "failed"),
    (True, True, ["prose changed after the verification"], "prose changed since"),
])
def test_the_index_says_verified_only_of_a_run_that_passed_with_every_check_caught(
        passed: bool, falsified: bool | None, stale: list[str], state: str) -> None:
    """A run of 5/7 held read "verified" in the index beside its count (20261207T135256Z)."""
    from drills.export.index import index_state
    from drills.history import PaperStatus
    status = PaperStatus("a.md", "timeout-ladder", "run-1", "2026-11-27T08:00:00Z", 5, 7, passed, stale, falsified)
    assert index_state(status) == state
    assert index_state(PaperStatus("a.md", "timeout-ladder", None, None, 0, 0, None, ["never verified"])) == (
        "never verified")


def test_export_marks_changed_verdicts_and_draws_the_trend(tmp_path: Path) -> None:
    from drills.export import export_run
    from drills.history import paper_history, read

    runs = tmp_path / "runs"
    paper = tmp_path / "papers" / "a.md"
    paper.parent.mkdir()
    paper.write_text(PAPER, encoding="utf-8")
    for n, (observed, when) in enumerate([(100, "2026-11-25T08:00:00Z"), (100, "2026-11-26T08:00:00Z"),
                                          (50, "2026-11-27T08:00:00Z")]):
        f = findings(observed, started=when)
        f.run_id = f"2026112{5 + n}-timeout-ladder"
        (runs / f.run_id).mkdir(parents=True)
        f.save(runs / f.run_id)
        export_run(paper, runs / f.run_id, ("recommended.x",))
    text = paper.read_text(encoding="utf-8")
    assert "❌ failed (was held)" in text
    assert "**1 verdict(s) changed** since the previous run (`20261126-timeout-ladder`): `recommended.x`" in text
    assert "](figures/timeout-ladder-trend.png)" in text
    assert (paper.parent / "figures" / "timeout-ladder-trend.png").stat().st_size > 5_000
    state = paper_status(paper, "timeout-ladder", 1e9)
    assert (state.held, state.total, state.passed) == (0, 1, False)
    # The paper's history is beside it, one small line per exported run, and an export is idempotent.
    history = paper_history(paper.parent, "timeout-ladder")
    assert [e.run_id for e in read(history)] == [f"2026112{n}-timeout-ladder" for n in (5, 6, 7)]
    assert all(e.parameters == {} for e in read(history))
    export_run(paper, runs / "20261127-timeout-ladder", ("recommended.x",))
    assert len(read(history)) == 3 and paper.read_text(encoding="utf-8") == text
    # Exporting the middle run again: compared with the one before it, and nothing changed.
    export_run(paper, runs / "20261126-timeout-ladder", ("recommended.x",))
    assert "No verdict changed since the previous run (`20261125-timeout-ladder`)." in paper.read_text()


def test_a_fresh_clone_keeps_the_trend(tmp_path: Path) -> None:
    """The trend comes from papers/history/, committed with the papers: a machine with no runs/
    history (a fresh clone, a CI runner) that verifies again still draws it."""
    import shutil

    from drills.export import export_run

    clone = tmp_path / "clone" / "papers"
    clone.mkdir(parents=True)
    (clone / "a.md").write_text(PAPER, encoding="utf-8")
    for n, observed in enumerate((100, 100)):
        runs = tmp_path / f"machine-{n}" / "runs"  # each run on a machine of its own
        f = findings(observed, started=f"2026-11-2{5 + n}T08:00:00Z")
        f.run_id = f"2026112{5 + n}-timeout-ladder"
        (runs / f.run_id).mkdir(parents=True)
        f.save(runs / f.run_id)
        export_run(clone / "a.md", runs / f.run_id, ("recommended.x",))
        shutil.rmtree(runs.parent)
    text = (clone / "a.md").read_text(encoding="utf-8")
    assert "No verdict changed since the previous run (`20261125-timeout-ladder`)." in text
    assert "](figures/timeout-ladder-trend.png)" in text


def test_run_ids_are_unique_in_both_layouts() -> None:
    from drills.history import run_id_for, runs_root

    single = Path("/x/runs/20261127T100148Z-timeout-ladder")
    verify = Path("/x/runs/20261127T102206Z/timeout-ladder")
    assert run_id_for(single) == "20261127T100148Z-timeout-ladder" and runs_root(single) == Path("/x/runs")
    assert run_id_for(verify) == "20261127T102206Z/timeout-ladder" and runs_root(verify) == Path("/x/runs")


def test_exporting_one_run_folder_rewrites_the_index_too(tmp_path: Path, monkeypatch) -> None:
    """`drills export <drill> --run-dir D` (and `drills run --export`) left papers/README.md saying
    "prose changed since" for a paper it had just verified: the index must follow every export."""
    from click.testing import CliRunner

    from drills.cli import main

    monkeypatch.setenv("DRILLS_ROOT", str(tmp_path))
    papers = tmp_path / "papers"
    papers.mkdir()
    (papers / timeout_ladder.SPEC.paper).write_text(PAPER, encoding="utf-8")
    assert write_index(papers, [timeout_ladder.SPEC])
    assert "| never | 0/0 | never verified |" in (papers / "README.md").read_text()
    f = findings(100, sha=prose_sha256(PAPER))
    f.run_id = "20261127-timeout-ladder"
    run = tmp_path / "runs" / f.run_id
    run.mkdir(parents=True)
    f.save(run)
    result = CliRunner().invoke(main, ["export", "timeout-ladder", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "| 2026-11-27T08:00:00Z | 1/1 | verified, not falsified |" in (papers / "README.md").read_text()
