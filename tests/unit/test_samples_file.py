"""The columnar samples: Samples from rows and back, the Parquet file's round trip, its types, and
``keep`` adding measurements to a run folder's one file."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from drills.catalog.pool_exhaustion.observations import outcome
from drills.stack import samples_file
from drills.stack.samples import Sample, Samples, concat

ROWS = [Sample(1000.0, 12.5, 200, "", "", "", 11.0),
        Sample(1000.1, 3.0, 503, "pool", "pool_queue_full", ""),
        Sample(1000.2, 5000.0, 504, "", "", ""),
        Sample(1000.3, 9.0, 0, "", "", "ConnectionResetError"),
        Sample(1000.4, 1003.0, 503, "pool", "pool_timeout", "", 1000.5),
        Sample(1000.5, 14.0, 200, "", "", "", 13.0)]
OTHER = [Sample(2000.0, 40.0, 500, "app", "", ""), Sample(2000.5, 41.0, 200, "", "", "", 39.0)]


def test_samples_come_back_as_the_rows_they_were_made_of() -> None:
    samples = Samples.of(ROWS)
    assert samples.to_rows() == ROWS
    assert samples.labels[0] == ""
    assert samples.start_s.dtype == np.float64 and samples.status.dtype == np.int16
    assert samples.layer.dtype == samples.error.dtype == samples.failure.dtype == np.int16
    assert np.isnan(samples.server_ms[1]) and samples.timed.tolist() == [True, False, False, False, True, True]
    assert samples.end_s.tolist() == [r.end_s for r in ROWS]


def test_count_by_counts_like_a_counter_in_the_order_of_first_appearance() -> None:
    rows = ROWS * 3 + OTHER
    samples = Samples.of(rows)
    assert samples.count_by(outcome) == dict(Counter(outcome(s) for s in rows))
    assert list(samples.count_by(outcome)) == list(dict(Counter(outcome(s) for s in rows)))
    assert samples.take(samples.status == 200).count_by(outcome) == {"200": 7}
    assert Samples.empty().count_by(outcome) == {}


def test_named_matches_a_label_and_nothing_for_an_unknown_one() -> None:
    samples = Samples.of(ROWS)
    assert samples.named("error", "pool_timeout").tolist() == [False, False, False, False, True, False]
    assert not samples.named("layer", "database").any()
    with pytest.raises(ValueError):
        samples.named("status", "200")


def test_concat_maps_each_parts_codes_onto_one_table() -> None:
    joined = concat([Samples.of(OTHER), Samples.of(ROWS)])
    assert joined.to_rows() == OTHER + ROWS
    assert joined.in_start_order().to_rows() == ROWS + OTHER


def test_the_file_round_trips_every_measurement(tmp_path: Path) -> None:
    path = samples_file.write(tmp_path / "samples.parquet", {"recommended": Samples.of(ROWS),
                                                            "bounded": Samples.of(OTHER)}, {"bounded": {"x": 1}})
    back, meta = samples_file.read(path)
    assert list(back) == ["recommended", "bounded"]
    assert back["recommended"].to_rows() == ROWS and back["bounded"].to_rows() == OTHER
    assert meta == {"bounded": {"x": 1}}
    assert [p.name for p in tmp_path.iterdir()] == ["samples.parquet"], "no temp file left behind"


def test_the_file_has_plain_parquet_types_that_other_readers_understand(tmp_path: Path) -> None:
    path = samples_file.write(tmp_path / "samples.parquet", {"recommended": Samples.of(ROWS)})
    schema = pq.read_schema(path)
    labels = pa.dictionary(pa.int16(), pa.string())
    assert [(f.name, f.type) for f in schema] == [
        ("measurement", labels), ("start_s", pa.float64()), ("latency_ms", pa.float64()), ("status", pa.int16()),
        ("layer", labels), ("error", labels), ("failure", labels), ("server_ms", pa.float64())]
    table = pq.read_table(path)
    assert table.column("server_ms").null_count == 3, "no Server-Timing is a null, not NaN, for other readers"
    assert table.column("error").to_pylist() == [r.error for r in ROWS]
    assert pq.ParquetFile(path).metadata.row_group(0).column(1).compression == "ZSTD"


def test_keep_adds_and_replaces_measurements_in_one_file(tmp_path: Path) -> None:
    samples_file.keep(tmp_path, "shedding", Samples.of(ROWS), {"started_s": 1000.0})
    samples_file.keep(tmp_path, "no-shedding", Samples.of(OTHER), {"started_s": 2000.0})
    samples_file.keep(tmp_path, "shedding", Samples.of(ROWS[:2]), {"started_s": 1000.0})
    back, meta = samples_file.read(tmp_path / samples_file.SAMPLES_FILE)
    assert {k: v.to_rows() for k, v in back.items()} == {"shedding": ROWS[:2], "no-shedding": OTHER}
    assert meta == {"shedding": {"started_s": 1000.0}, "no-shedding": {"started_s": 2000.0}}
    raw = pq.read_schema(tmp_path / samples_file.SAMPLES_FILE).metadata[samples_file.METADATA_KEY]
    assert json.loads(raw)["no-shedding"] == {"started_s": 2000.0}


def test_an_empty_measurement_is_kept_by_name(tmp_path: Path) -> None:
    samples_file.keep(tmp_path, "bounded", Samples.empty(), {"started_s": 1.0})
    back, _ = samples_file.read(tmp_path / samples_file.SAMPLES_FILE)
    assert list(back) == ["bounded"] and len(back["bounded"]) == 0
