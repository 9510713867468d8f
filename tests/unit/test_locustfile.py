"""The locustfile's recording, in a process of its own (``import locust`` patches the interpreter
with gevent): rows reach the samples file while the load runs, not only when Locust stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from drills.stack import loadgen

SCRIPT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("drills_locustfile", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

class Response:
    status_code = 200
    headers = {"Server-Timing": "pool;dur=0.4, handler;dur=12.5", "X-Timeout-Layer": ""}

for i in range(int(sys.argv[2])):
    module._record("GET", "drill", 3.25, 10, response=Response(), start_time=1700000000.0 + i)
"""


def record(tmp_path: Path, rows: int) -> list[str]:
    plan = {"out_dir": str(tmp_path), "request_timeout_s": 5.0, "path": "/work", "steps": [[1, 1.0, 1.0]]}
    env = {**os.environ, "DRILLS_LOAD_PLAN": json.dumps(plan)}
    locustfile = Path(loadgen.__file__).with_name("locustfile.py")
    subprocess.run([sys.executable, "-c", SCRIPT, str(locustfile), str(rows)], env=env, check=True, timeout=60)
    return [line for p in sorted(tmp_path.glob("samples-*.csv")) for line in p.read_text().splitlines()]


def test_rows_are_written_while_the_load_runs(tmp_path: Path) -> None:
    """2,500 requests and no stop event: the first two thousand are on disk already."""
    lines = record(tmp_path, 2500)
    assert len(lines) == 2000
    assert lines[0] == "1700000000.000000,3.250,200,,,,12.5"
