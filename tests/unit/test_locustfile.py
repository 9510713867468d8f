"""The locustfile's recording, in a process of its own (``import locust`` patches the interpreter
with gevent): records reach the samples file while the load runs, not only when Locust stops, in the
layout ``drills.stack.samples`` reads."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from drills.stack import loadgen
from drills.stack.samples import RECORD, Sample, read_records

SCRIPT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("drills_locustfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

class Response:
    status_code = 200
    headers = {"Server-Timing": "pool;dur=0.4, handler;dur=12.5", "X-Timeout-Layer": ""}

class Refused:
    status_code = 503
    headers = {"X-Timeout-Layer": "pool", "X-Drills-Error": "pool_queue_full"}

for i in range(int(sys.argv[2])):
    module._record("GET", "drill", 3.25, 10, response=Response(), start_time=1700000000.0 + i)
    if i % 500 == 499:  # one of each other kind per 500
        module._record("GET", "drill", 4.5, 10, response=Refused(), start_time=1700000000.5 + i)
        module._record("GET", "drill", 7.0, 0, response=None, exception=ConnectionResetError(),
                       start_time=1700000000.7 + i)
if "--stop" in sys.argv:
    module._stopped()
"""


def record(tmp_path: Path, rows: int, *extra: str) -> list[Sample]:
    plan = {"out_dir": str(tmp_path), "request_timeout_s": 5.0, "path": "/work", "steps": [[1, 1.0, 1.0]]}
    env = {**os.environ, "DRILLS_LOAD_PLAN": json.dumps(plan)}
    locustfile = Path(loadgen.__file__).with_name("locustfile.py")
    subprocess.run([sys.executable, "-c", SCRIPT, str(locustfile), str(rows), *extra], env=env, check=True,
                   timeout=60)
    return read_records(tmp_path).to_rows()


def test_rows_are_written_while_the_load_runs(tmp_path: Path) -> None:
    """2,500 requests and no stop event: the first two thousand are on disk already."""
    rows = record(tmp_path, 2500)
    assert len(rows) == 2000
    assert rows[0] == Sample(1700000000.0, 3.25, 200, "", "", "", 12.5)
    assert {p.name.split("-")[0] for p in tmp_path.iterdir()} == {"samples", "labels"}


def test_each_kind_of_answer_comes_back_as_recorded(tmp_path: Path) -> None:
    """Statuses, the service's headers and an exception's name survive the codes; no Server-Timing is NaN."""
    rows = record(tmp_path, 1000, "--stop")
    assert len(rows) == 1004
    assert Sample(1700000499.5, 4.5, 503, "pool", "pool_queue_full", "", None) in rows
    assert Sample(1700000499.7, 7.0, 0, "", "", "ConnectionResetError", None) in rows
    assert [r.start_s for r in rows] == sorted(r.start_s for r in rows)


def test_the_record_layout_is_the_one_the_harness_reads(tmp_path: Path) -> None:
    """The locustfile packs ``<dddhhhh``: 32 bytes, the fields in RECORD's order."""
    text = Path(loadgen.LOCUSTFILE).read_text()
    assert '"<dddhhhh"' in text and RECORD.itemsize == 32
    assert RECORD.names == ("start_s", "latency_ms", "server_ms", "status", "layer", "error", "failure")
    record(tmp_path, 1000)
    (path,) = tmp_path.glob("samples-*.bin")
    assert path.stat().st_size == 1000 * RECORD.itemsize
    with path.open("ab") as handle:  # a Locust killed mid-write: the partial record is dropped
        handle.write(b"\x01" * 7)
    samples = read_records(tmp_path)
    assert len(samples) == 1000 and math.isclose(samples.latency_ms[-1], 3.25)
