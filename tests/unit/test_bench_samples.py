"""The samples bench's synthetic runs and its measurement, at a small size (no stack starts)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from drills import bench_samples


def test_synthetic_samples_are_in_start_order_and_hold_every_kind_of_answer() -> None:
    load = bench_samples.synthetic(5000, [(10, 5.0), (20, 5.0)], np.random.default_rng(1))
    samples = load.samples
    assert len(samples) == 5000 and (np.diff(samples.start_s) >= 0).all()
    assert set(samples.status.tolist()) == {0, 200, 503, 504}
    assert samples.timed.tolist() == (samples.status == 200).tolist()
    assert load.throughput(0) + load.throughput(1) > 0


@pytest.mark.parametrize("task", bench_samples.TASKS)
def test_each_task_measures_a_time(task: str, tmp_path: Path) -> None:
    assert 0 < bench_samples.measure(task, 3000, tmp_path) < 30


def test_one_size_in_a_fresh_process_reports_memory_and_time() -> None:
    (result,) = [r for r in bench_samples.run_all((2000,)) if r.task == "pool-exhaustion"]
    assert result.n == 2000 and result.seconds > 0 and result.traced_mb > 0
    assert result.rss_mb >= result.baseline_rss_mb > 20
