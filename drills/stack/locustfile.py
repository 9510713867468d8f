"""The locustfile every drill runs; Locust loads it by path in its own process.

Never imported by the harness or a notebook kernel: ``import locust`` monkey-patches the interpreter
with gevent (../shared/FACTS.md §9). It takes its plan from ``DRILLS_LOAD_PLAN`` (JSON written by
``drills.stack.loadgen``) and writes what it saw to the plan's folder:

* ``samples-<pid>.csv`` — one row per request: start (epoch s), response time (ms, exact: Locust's
  own statistics round it into buckets), HTTP status (0 without a response), the service's
  ``X-Timeout-Layer`` and ``X-Drills-Error`` headers, and the exception's class name when no
  response arrived;
* ``started-<pid>`` — when the test started in this process (epoch s).

Users are closed-loop with no think time (``constant(0)``): throughput ≈ users ÷ latency; with a
``pacing_s`` each user starts at most one request per ``pacing_s`` (``constant_pacing``).
"""

from __future__ import annotations

import json
import os
import time

from locust import FastHttpUser, LoadTestShape, constant, constant_pacing, events, task

PLAN = json.loads(os.environ["DRILLS_LOAD_PLAN"])
OUT_DIR = PLAN["out_dir"]
_rows: list[str] = []


class DrillUser(FastHttpUser):
    wait_time = constant_pacing(PLAN["pacing_s"]) if PLAN.get("pacing_s") else constant(0)
    network_timeout = PLAN["request_timeout_s"]
    connection_timeout = PLAN["request_timeout_s"]
    max_retries = 0

    @task
    def request(self) -> None:
        # Locust counts non-2xx as failures in its own stats; the drill judges from the samples.
        self.client.get(PLAN["path"], name="drill")


class Steps(LoadTestShape):
    """Hold each step's user count for its duration, then stop (tick returns None)."""

    def tick(self):  # type: ignore[no-untyped-def]
        run_time, end = self.get_run_time(), 0.0
        for users, duration_s in PLAN["steps"]:
            end += duration_s
            if run_time < end:
                return users, PLAN["spawn_rate"]
        return None


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None,  # noqa: ANN001
            start_time=None, **_kwargs) -> None:
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    layer = headers.get("X-Timeout-Layer", "") if hasattr(headers, "get") else ""
    error = headers.get("X-Drills-Error", "") if hasattr(headers, "get") else ""
    failure = type(exception).__name__ if exception is not None and status == 0 else ""
    _rows.append(f"{start_time or time.time():.6f},{response_time:.3f},{status},{layer},{error},{failure}\n")
    if len(_rows) >= 1000:
        _flush()


@events.test_start.add_listener
def _started(**_kwargs) -> None:
    with open(os.path.join(OUT_DIR, f"started-{os.getpid()}"), "w") as handle:
        handle.write(f"{time.time():.6f}\n")


@events.test_stop.add_listener
def _stopped(**_kwargs) -> None:
    _flush()


@events.quitting.add_listener
def _quitting(**_kwargs) -> None:
    _flush()


def _flush() -> None:
    if not _rows:
        return
    with open(os.path.join(OUT_DIR, f"samples-{os.getpid()}.csv"), "a") as handle:
        handle.writelines(_rows)
    _rows.clear()
