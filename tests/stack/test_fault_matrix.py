"""The fault matrix: every ending (SIGINT, SIGTERM, SIGKILL, an exception) at every moment (initdb,
PostgreSQL starting, the service booting, the stack serving, an export) against real runs. Nothing
may be left: no process 10 s after the run ended, no temp dir after the next run's sweep, no paper
that is not a complete export, no temp file after the next export. `make bench` runs it 3 times."""

from __future__ import annotations

import pytest

from drills import faults
from drills.paths import papers_dir

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("moment", faults.STACK_MOMENTS)
@pytest.mark.parametrize("ending", faults.ENDINGS)
def test_a_stack_ended_at_any_moment_leaves_nothing(ending, moment, pg_binaries, nginx_binary) -> None:
    trial = faults.stack_trial(ending, moment)
    assert trial.on_moment, f"the ending landed after {moment}: {trial.detail}"
    assert trial.clean, trial
    if ending == "SIGKILL":
        # Nothing in a SIGKILLed process cleans up: its temp dirs wait for the next run's sweep.
        assert trial.swept >= 1, trial


@pytest.mark.parametrize("ending", faults.ENDINGS)
def test_an_export_ended_at_any_moment_leaves_a_complete_paper(ending) -> None:
    trial = faults.export_trial(ending, papers_dir())
    assert trial.on_moment and trial.clean, trial
    if ending == "exception":
        assert trial.detail.startswith("raised") and "changed" not in trial.detail, trial.detail


def test_write_atomic_removes_only_orphaned_temp_files(tmp_path) -> None:
    """A killed writer's temp file goes at the next write; a live writer's stays."""
    import os
    import subprocess
    import sys

    from drills.files import TEMP_SUFFIX, write_atomic

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    orphan = tmp_path / f".paper.md.{dead}.abc123{TEMP_SUFFIX}"
    alive = tmp_path / f".paper.md.{os.getppid()}.def456{TEMP_SUFFIX}"
    orphan.write_text("half")
    alive.write_text("in progress")
    write_atomic(tmp_path / "paper.md", "whole")
    assert (tmp_path / "paper.md").read_text() == "whole"
    assert not orphan.exists() and alive.exists()


def test_an_unchanged_export_still_removes_a_killed_exports_temp_files(tmp_path) -> None:
    """Found by the matrix: a chart's temp file, left by SIGTERM, survived the next export because the
    chart itself was unchanged and never rewritten."""
    import shutil
    import subprocess
    import sys

    from drills.catalog import timeout_ladder
    from drills.export import export_run
    from drills.files import TEMP_SUFFIX

    paper = tmp_path / "papers" / timeout_ladder.SPEC.paper
    paper.parent.mkdir()
    shutil.copy(papers_dir() / timeout_ladder.SPEC.paper, paper)
    run_dir = faults.fake_run(tmp_path / "runs", timeout_ladder.SPEC.name, timeout_ladder.SPEC.paper, 1)
    export_run(paper, run_dir)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    orphans = [paper.parent / f".{paper.name}.{dead}.aaa{TEMP_SUFFIX}",
               paper.parent / "figures" / f".{timeout_ladder.SPEC.name}-chart.png.{dead}.bbb{TEMP_SUFFIX}"]
    for orphan in orphans:
        orphan.write_bytes(b"half")
    assert not export_run(paper, run_dir).changed
    assert not any(orphan.exists() for orphan in orphans)


@pytest.mark.parametrize("ending", faults.ENDINGS)
def test_a_notebook_kernel_ended_at_any_moment_leaves_no_process_socket_or_dir(ending) -> None:
    """The runner's kernel keeps its sockets and connection file in a claimed dir: a clean ending
    removes it, and after a SIGKILL the next run's sweep does (and ends the kernel if it lives on)."""
    trial = faults.kernel_trial(ending)
    assert trial.on_moment and trial.clean, trial
    assert trial.swept == (1 if ending == "SIGKILL" else 0), trial
