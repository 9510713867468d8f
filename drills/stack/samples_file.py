"""A run's raw per-request samples, kept in its folder as one Parquet file: ``samples.parquet``.

Why Parquet: columnar and compressed (a million requests in a few MB), typed, and read as it is by
pandas (``pd.read_parquet``), polars (``pl.read_parquet``) and DuckDB (``FROM 'samples.parquet'``),
so a run can be re-analysed without this package. One row per request, every Locust run of the
drill run in one file, told apart by ``measurement`` (the names the findings' observations use):

=============  ====================  ===========================================================
column         type                  meaning
=============  ====================  ===========================================================
measurement    dictionary<string>    the Locust run: "recommended", "bounded", "shedding", …
start_s        double                when the request started, epoch seconds
latency_ms     double                its response time at the client, ms (exact, not bucketed)
status         int16                 HTTP status; 0: no response
layer          dictionary<string>    the service's X-Timeout-Layer header ("" without one)
error          dictionary<string>    the service's X-Drills-Error header ("" without one)
failure        dictionary<string>    the exception's class name when no response arrived
server_ms      double, nullable      the service's handler time (Server-Timing); null: none
=============  ====================  ===========================================================

The schema's metadata ``drills`` (JSON) holds, per measurement, when its test started and its
steps, so that step windows can be cut again. The file is rewritten whole, atomically, after each
Locust run: a drill run that stops midway keeps the samples of the runs that finished.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .samples import LABELLED, Samples

SAMPLES_FILE = "samples.parquet"
METADATA_KEY = b"drills"
#: zstd: smaller than snappy for these columns, and read by pandas, polars and DuckDB alike.
COMPRESSION = "zstd"


def _labels(codes: np.ndarray, labels: tuple[str, ...]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int16()), pa.array(labels, pa.string()))


def to_table(measurements: Mapping[str, Samples], metadata: Mapping[str, Any] | None = None) -> pa.Table:
    """One table of every measurement's samples, in the order given."""
    names = tuple(measurements)
    parts = list(measurements.values())
    which = np.concatenate([np.full(len(s), i, dtype=np.int16) for i, s in enumerate(parts)] or [np.empty(0, np.int16)])

    def joined(column: str) -> np.ndarray:
        return np.concatenate([getattr(s, column) for s in parts]) if parts else np.empty(0)

    def labelled(column: str) -> pa.Array:
        # Each part's codes index its own labels: map them onto one table per column, of the values
        # that column holds (pandas shows it as its categories).
        table: dict[str, int] = {"": 0}
        codes = []
        for s in parts:
            mapping = np.zeros(len(s.labels), dtype=np.int16)
            for used in np.unique(getattr(s, column)).tolist():
                mapping[used] = table.setdefault(s.labels[used], len(table))
            codes.append(mapping[getattr(s, column)])
        return _labels(np.concatenate(codes) if codes else np.empty(0, np.int16), tuple(table))

    server = joined("server_ms").astype(np.float64)
    columns = {
        "measurement": _labels(which, names),
        "start_s": pa.array(joined("start_s").astype(np.float64)),
        "latency_ms": pa.array(joined("latency_ms").astype(np.float64)),
        "status": pa.array(joined("status").astype(np.int16)),
        **{c: labelled(c) for c in LABELLED},
        "server_ms": pa.array(server, mask=np.isnan(server)),
    }
    meta = {METADATA_KEY: json.dumps(metadata or {}, sort_keys=True).encode()}
    return pa.table(columns).replace_schema_metadata(meta)


def write(path: Path, measurements: Mapping[str, Samples], metadata: Mapping[str, Any] | None = None) -> Path:
    """Write the file atomically (a temp file in the same folder, then ``os.replace``)."""
    path = Path(path)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(to_table(measurements, metadata), tmp, compression=COMPRESSION)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read(path: Path) -> tuple[dict[str, Samples], dict[str, Any]]:
    """Every measurement's samples from the file (in file order), and the metadata."""
    table = pq.read_table(path).unify_dictionaries().combine_chunks()
    meta = json.loads((table.schema.metadata or {}).get(METADATA_KEY, b"{}"))
    if not table.num_rows:
        return {name: Samples.empty() for name in meta}, meta

    def codes(column: str) -> tuple[np.ndarray, tuple[str, ...]]:
        array = table.column(column).chunk(0)
        return array.indices.to_numpy(zero_copy_only=False).astype(np.int16), tuple(array.dictionary.to_pylist())

    which, names = codes("measurement")
    label_codes = {c: codes(c) for c in LABELLED}
    # One label table per file: make sure "" is code 0, as Samples promises.
    labels = ("", *[x for x in dict.fromkeys(x for c in LABELLED for x in label_codes[c][1]) if x])
    remap = {c: np.array([labels.index(x) for x in label_codes[c][1]], dtype=np.int16) for c in LABELLED}
    start = table.column("start_s").to_numpy()
    latency = table.column("latency_ms").to_numpy()
    status = table.column("status").to_numpy().astype(np.int16)
    server = table.column("server_ms").to_numpy(zero_copy_only=False).astype(np.float64)  # null -> NaN
    out: dict[str, Samples] = {}
    for i, name in enumerate(names):
        rows = which == i
        layer, error, failure = (remap[c][label_codes[c][0][rows]] for c in LABELLED)
        out[name] = Samples(start[rows], latency[rows], status[rows], layer, error, failure, server[rows], labels)
    return out, meta


def keep(folder: Path, name: str, samples: Samples, metadata: Mapping[str, Any]) -> Path:
    """Add (or replace) measurement ``name`` in ``folder``'s samples file, with its ``metadata``."""
    path = Path(folder) / SAMPLES_FILE
    measurements, meta = read(path) if path.exists() else ({}, {})
    measurements[name] = samples
    meta[name] = dict(metadata)
    return write(path, measurements, meta)
