"""The timeout-ladder drill end to end: the notebook through papermill, then the export."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import papermill
import pytest

from drills.catalog import timeout_ladder
from drills.execute import run_notebook
from drills.export import export_run
from drills.findings import Findings, Verdict
from drills.paths import notebooks_dir, papers_dir

pytestmark = pytest.mark.slow

# Scaled down further than the defaults: the ladder keeps its order, the run takes ~20 s.
SMALL = {
    "statement_timeout_s": 0.5, "request_budget_s": 0.8, "proxy_read_timeout_s": 1.2, "client_timeout_s": 2.0,
    "inverted_proxy_read_timeout_s": 0.5, "inverted_statement_timeout_s": 1.0, "inverted_request_budget_s": 1.5,
    "gunicorn_timeout_s": 1, "heartbeat_await_s": 1.5, "heartbeat_block_s": 2.5,
    "repeats": 1, "workers": 1,
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, pg_binaries, nginx_binary):
    run_dir = tmp_path_factory.mktemp("run") / "20260101T000000Z-timeout-ladder"
    run_dir.mkdir()
    params = timeout_ladder.Params.from_mapping(SMALL)
    return run_notebook(timeout_ladder.SPEC, params, run_dir=run_dir)


def test_notebook_verifies_every_hypothesis(small_run, no_leftovers) -> None:
    findings = small_run.findings
    verdicts = {f.key: f.verdict for f in findings.findings}
    assert verdicts == dict.fromkeys(verdicts, Verdict.HELD), [
        (f.key, f.verdict.value, f.detail) for f in findings.findings if f.verdict is not Verdict.HELD]
    assert len(verdicts) == 10 and findings.passed
    assert (small_run.run_dir / "timeout-ladder.ipynb").is_file()
    for chart in findings.charts:
        assert (small_run.run_dir / chart.file).stat().st_size > 10_000
    # The verdicts rest on measurements: every judged hypothesis had samples.
    assert all(f.samples > 0 for f in findings.findings)
    # What the components ran with was read back from them, per configuration.
    assert findings.settings["recommended"]["postgres"]["statement_timeout"] == "500ms"
    assert findings.settings["inverted"]["nginx"]["proxy_read_timeout"] == "500ms"
    assert findings.settings["heartbeat"]["service"]["gunicorn"]["timeout"] == 1


def test_export_splices_once_and_is_idempotent(small_run, tmp_path: Path) -> None:
    paper = tmp_path / "timeout-ladders.md"
    shutil.copy(papers_dir() / timeout_ladder.SPEC.paper, paper)
    original = paper.read_text(encoding="utf-8")
    first = export_run(paper, small_run.run_dir)
    after_first = paper.read_bytes()
    second = export_run(paper, small_run.run_dir)
    assert first.changed and not second.changed
    assert paper.read_bytes() == after_first
    text = paper.read_text(encoding="utf-8")
    begin, end = text.index("<!-- verified:timeout-ladder:begin -->"), text.index("<!-- verified:timeout-ladder:end -->")
    o_begin, o_end = original.index("<!-- verified:timeout-ladder:begin -->"), \
        original.index("<!-- verified:timeout-ladder:end -->")
    assert text[:begin] == original[:o_begin] and text[end:] == original[o_end:]
    assert "recommended.innermost-first" in text[begin:end]
    for chart in small_run.findings.charts:
        assert (tmp_path / "figures" / f"timeout-ladder-{chart.name}.png").is_file()


def test_plain_papermill_refuses_a_bad_parameter_before_anything_starts(tmp_path: Path, list_stack_processes) -> None:
    """Papermill alone only warns about unknown names; the notebook's own check stops the run."""
    for bad in ({"statement_timeout_s": -1}, {"worker": 4}):
        with pytest.raises(papermill.PapermillExecutionError) as info:
            papermill.execute_notebook(str(notebooks_dir() / timeout_ladder.SPEC.notebook), str(tmp_path / "out.ipynb"),
                                       parameters={**bad, "out_dir": str(tmp_path)}, kernel_name="python3",
                                       progress_bar=False)
        assert info.value.ename == "ParameterError"
        assert next(iter(bad)) in info.value.evalue
    assert not list_stack_processes()
    assert not (tmp_path / "findings.json").exists()


def test_cli_refuses_an_impossible_value_with_one_line_and_exit_2(tmp_path: Path) -> None:
    paper = papers_dir() / timeout_ladder.SPEC.paper
    before = paper.read_bytes()
    result = subprocess.run([sys.executable, "-m", "drills.cli", "run", "timeout-ladder", "-p", "client_timeout_s=0"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "client_timeout_s" in result.stderr and "> 0" in result.stderr
    assert paper.read_bytes() == before


def test_findings_survive_a_round_trip(small_run) -> None:
    again = Findings.load(small_run.run_dir)
    assert [f.verdict for f in again.findings] == [f.verdict for f in small_run.findings.findings]


def test_every_check_is_caught_by_its_falsifier(small_run, tmp_path: Path, no_leftovers) -> None:
    """`drills falsify` runs each falsifier with the run's parameters: all 10 hypotheses fail under
    their harmful stacks, and the paper shows it beside each verdict."""
    run_dir = tmp_path / "runs" / small_run.run_dir.name
    shutil.copytree(small_run.run_dir, run_dir)
    result = subprocess.run([sys.executable, "-m", "drills.cli", "falsify", "timeout-ladder", "--run-dir", str(run_dir)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "[timeout-ladder] FALSIFIED: 10/10 hypotheses caught" in result.stdout
    for name in ("proxy-gives-up-first", "statement-timeout-tighter", "ladder-in-order", "heartbeat-cannot-cut"):
        under = Findings.load(run_dir / "falsifiers" / name)
        assert (under.falsifier == name and not under.passed) or name != "proxy-gives-up-first"
    paper = tmp_path / "timeout-ladders.md"
    shutil.copy(papers_dir() / timeout_ladder.SPEC.paper, paper)
    export_run(paper, run_dir)
    whole = paper.read_text(encoding="utf-8")
    # Only this drill's section: the paper's Flask and Django sections name the same falsifiers.
    text = whole[whole.index("<!-- verified:timeout-ladder:begin -->"):whole.index("<!-- verified:timeout-ladder:end -->")]
    assert text.count("✅ caught by `proxy-gives-up-first`: failed") == 5
    assert text.count("✅ caught by `statement-timeout-tighter`: failed") == 1
    assert text.count("✅ caught by `ladder-in-order`: failed") == 2
    assert text.count("✅ caught by `heartbeat-cannot-cut`: failed") == 2
    assert "Every check can fail" in text and "BLIND" not in text


def test_a_falsifier_that_changes_nothing_exposes_blind_checks(small_run, tmp_path: Path, no_leftovers) -> None:
    """A "falsifier" that leaves the stack as it is must not count: both heartbeat checks hold under
    it, so they are reported blind, and the hypotheses no falsifier names are listed."""
    import dataclasses

    from drills.pipeline import Falsifier, falsify_drill

    no_harm = Falsifier("no-harm", "the heartbeat's own stack", "heartbeat", lambda _p, stack: stack,
                        ("heartbeat.slow-await-survives", "heartbeat.blocked-loop-killed"))
    spec = dataclasses.replace(timeout_ladder.SPEC, falsifiers=(no_harm,))
    run_dir = tmp_path / small_run.run_dir.name
    shutil.copytree(small_run.run_dir, run_dir)
    result = falsify_drill(spec, small_run.findings, run_dir, progress=lambda _m: None)
    assert not result.passed
    assert [(c.key, c.verdict) for c in result.blind] == [("heartbeat.slow-await-survives", Verdict.HELD),
                                                          ("heartbeat.blocked-loop-killed", Verdict.HELD)]
    assert len(result.unfalsified) == 8
