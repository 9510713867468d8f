"""The scaling bench's table: medians per generator, in worker order, against wrk and one worker."""

from __future__ import annotations

import pytest

from drills import bench_scaling
from drills.bench_scaling import WRK, ScalingRun, generator_name


def _runs() -> list[ScalingRun]:
    runs = []
    for number, (wrk, single, one, two, four) in enumerate(((2000.0, 1200.0, 1000.0, 1100.0, 900.0),
                                                            (2200.0, 1300.0, 1100.0, 1000.0, 950.0),
                                                            (1800.0, 1250.0, 1050.0, 1200.0, 1000.0))):
        runs += [ScalingRun(WRK, None, number, wrk)]
        runs += [ScalingRun(generator_name(w), w, number, rate, 95.0, 300.0 + 10 * w)
                 for w, rate in ((4, four), (0, single), (2, two), (1, one))]
    return runs


def test_rows_are_medians_in_worker_order_with_ratios_to_wrk_and_to_one_worker() -> None:
    rows = bench_scaling.table(_runs())
    assert [r.generator for r in rows] == [WRK, "Locust, 1 process (no master)", "Locust, master + 1 worker",
                                           "Locust, master + 2 workers", "Locust, master + 4 workers"]
    wrk, single, one, two, four = rows
    assert (wrk.median_rps, wrk.min_rps, wrk.max_rps, wrk.of_wrk, wrk.of_one_worker) == (2000.0, 1800.0, 2200.0,
                                                                                         None, None)
    # Paired per round: 1200/2000, 1300/2200, 1250/1800 -> the median of 0.600, 0.591, 0.694.
    assert single.of_wrk == pytest.approx(0.6) and single.of_one_worker is None
    # 1100/1000, 1000/1100, 1200/1050 -> 1.1, 0.909, 1.143.
    assert one.of_one_worker == pytest.approx(1.0) and two.of_one_worker == pytest.approx(1.1)
    assert four.median_rps == 950.0 and four.of_wrk == pytest.approx(0.45)  # 900/2000, 950/2200, 1000/1800
    assert four.median_peak_cpu_pct == 95.0 and wrk.median_peak_cpu_pct is None
    assert four.median_cpu_us_per_request == 340.0 and wrk.median_cpu_us_per_request is None


def test_without_wrk_there_is_no_ceiling_ratio(capsys) -> None:
    runs = [r for r in _runs() if r.generator != WRK]
    assert all(row.of_wrk is None for row in bench_scaling.table(runs))
    bench_scaling.report(runs, 2)
    out = capsys.readouterr().out
    assert "(2 cores), median (min–max) of 3 rounds" in out and "of wrk" not in out
    assert "Locust, master + 4 workers           950 req/s (900–1000)  0.90 × 1 worker, Locust CPU 340 µs/request" in out
