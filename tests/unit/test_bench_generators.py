"""The recording-cost bench's arithmetic: CPU read between two polls, and the report's paired ratios."""

from __future__ import annotations

import pytest

from drills import bench_generators
from drills.bench_generators import GeneratorRun


def test_cpu_is_interpolated_between_the_readings_around_a_moment() -> None:
    readings = [(10.0, 1.0), (11.0, 1.5), (12.0, 2.5)]
    assert bench_generators._interpolate(readings, 11.5) == pytest.approx(2.0)
    assert bench_generators._interpolate(readings, 9.0) == 1.0, "before the first reading: the first"
    assert bench_generators._interpolate(readings, 13.0) == 2.5, "after the last: the last"


def test_the_report_pairs_each_round_and_says_whether_the_aim_is_met(capsys) -> None:
    runs = []
    for drills, bare in ((960.0, 1000.0), (1000.0, 1000.0), (900.0, 1000.0)):
        runs += [GeneratorRun("Locust, drills' locustfile", 1, drills, 700.0),
                 GeneratorRun("Locust, bare FastHttpUser", 1, bare, 690.0),
                 GeneratorRun("wrk (2 threads)", 1, 2000.0, 20.0)]
    bench_generators.report(runs)
    out = capsys.readouterr().out
    assert "rate 0.960 (0.900–1.000)" in out
    assert "→ 4.0 %: met" in out
    assert "drills 48%, bare 50%" in out


def test_the_bare_locustfile_records_nothing() -> None:
    text = bench_generators.BARE_LOCUSTFILE.read_text()
    assert "FastHttpUser" in text and "events" not in text and "open(" not in text
