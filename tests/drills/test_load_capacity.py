"""The load-capacity drill end to end through papermill, with Locust's distributed mode (2 workers)."""

from __future__ import annotations

import pytest

from drills.catalog import load_capacity
from drills.execute import run_notebook
from drills.findings import Verdict
from drills.stack import samples_file

pytestmark = pytest.mark.slow

# Four slots holding 50 ms (two replicas of one worker, two slots each): capacity 80 req/s; 20 req/s
# fits the SLO, 100 and 120 do not. The SLO is four holds: an admitted request under shedding may wait
# one whole hold and then hold once (100 ms), and on two cores shared with Locust, nginx and two
# Gunicorns the tail adds ~50 ms more (admitted p99 135 ms, interval 124–155 ms, at 484 requests), so
# three holds (150 ms) could not be told apart. With two slots per replica, queueing puts the knee
# near half of capacity (M/D/2), so the band starts lower than the default's. One Locust process:
# 160 req/s is a fraction of what it sends, and two more processes on two cores added ~11 ms per
# request outside the service (Little's law at 20 req/s: L 1.12 against λW 1.34). Locust's own
# distributed mode is tested in tests/stack/test_loadgen.py.
SMALL = {
    "hold_s": 0.05, "workers": 2, "pool_max_size": 2, "pool_timeout_s": 0.5, "rate_steps": "20,60,100,120",
    "step_s": 4.5, "pacing_s": 1.0, "slo_p99_ms": 200.0, "knee_min_pct": 30.0, "overload_rate": 160.0,
    "overload_s": 9.0, "shed_max_waiting": 1, "locust_workers": 0,
}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory, pg_binaries, nginx_binary):
    run_dir = tmp_path_factory.mktemp("run") / "20260101T000000Z-load-capacity"
    run_dir.mkdir()
    return run_notebook(load_capacity.SPEC, load_capacity.Params.from_mapping(SMALL), run_dir=run_dir)


def test_notebook_finds_the_knee_and_sheds_load(small_run, no_leftovers) -> None:
    findings = small_run.findings
    not_held = [(f.key, f.verdict.value, f.detail) for f in findings.findings if f.verdict is not Verdict.HELD]
    assert not not_held, not_held
    assert findings.passed and len(findings.findings) == 7
    knee_rows = [row for row in findings.tables["step load"][1:] if row[-1] == "knee"]
    assert len(knee_rows) == 1 and float(knee_rows[0][0]) <= 80
    assert [r["run"] for r in findings.observations] == ["recommended", "no-shedding", "shedding"]
    assert {c.name for c in findings.charts} == {"knee", "shedding"}


def test_the_run_folder_keeps_every_locust_runs_raw_samples(small_run) -> None:
    """samples.parquet beside findings.json: one measurement per Locust run, as many rows as the
    observations count, with what re-cutting the steps needs."""
    back, meta = samples_file.read(small_run.run_dir / samples_file.SAMPLES_FILE)
    counted = {o["run"]: o["samples"] for o in small_run.findings.observations}
    assert {name: len(s) for name, s in back.items()} == counted
    assert all(n > 100 for n in counted.values())
    assert set(meta) == set(counted) and len(meta["recommended"]["step_bounds_s"]) == 4
    shed = back["shedding"]
    assert set(shed.status.tolist()) >= {200, 503} and shed.named("error", "pool_queue_full").any()


def test_export_from_a_run_folder_with_its_samples_gives_byte_identical_papers(small_run, tmp_path) -> None:
    """The samples file changes nothing the export writes: two exports of the run into two copies of
    the paper give the same bytes (figures too), and a second export into one copy changes nothing."""
    import shutil

    from drills.export import export_run
    from drills.paths import papers_dir

    assert (small_run.run_dir / samples_file.SAMPLES_FILE).is_file()
    copies = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        paper = folder / load_capacity.SPEC.paper
        shutil.copy(papers_dir() / load_capacity.SPEC.paper, paper)
        assert export_run(paper, small_run.run_dir).changed
        copies.append(folder)
    a, b = copies
    assert (a / load_capacity.SPEC.paper).read_bytes() == (b / load_capacity.SPEC.paper).read_bytes()
    figures = sorted(p.name for p in (a / "figures").iterdir())
    assert figures and figures == sorted(p.name for p in (b / "figures").iterdir())
    assert all((a / "figures" / f).read_bytes() == (b / "figures" / f).read_bytes() for f in figures)
    before = (a / load_capacity.SPEC.paper).read_bytes()
    assert not export_run(a / load_capacity.SPEC.paper, small_run.run_dir).changed
    assert (a / load_capacity.SPEC.paper).read_bytes() == before
