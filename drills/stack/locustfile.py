"""The locustfile every drill runs; Locust loads it by path in its own process.

Never imported by the harness or a notebook kernel: ``import locust`` monkey-patches the interpreter
with gevent (../shared/FACTS.md §9). It takes its plan from ``DRILLS_LOAD_PLAN`` (JSON written by
``drills.stack.loadgen``) and writes what it saw to the plan's folder:

* ``samples-<pid>.csv`` — one row per request: start (epoch s), response time (ms, exact: Locust's
  own statistics round it into buckets), HTTP status (0 without a response), the service's
  ``X-Timeout-Layer`` and ``X-Drills-Error`` headers, the exception's class name when no
  response arrived, and the ms the service's handler took (its ``Server-Timing`` ``handler``
  entry; empty without one);
* ``started-<pid>`` — when the test started in this process (epoch s).

Users are closed-loop with no think time: throughput ≈ users ÷ latency. With a ``pacing_s`` each
user starts one request per ``pacing_s`` at its own random phase: users ÷ pacing requests per
second arrive spread out, whatever the latency (until a request outlasts its period).
"""

from __future__ import annotations

import json
import os
import random
import time

import gevent
from locust import FastHttpUser, LoadTestShape, constant, events, task

PLAN = json.loads(os.environ["DRILLS_LOAD_PLAN"])
OUT_DIR = PLAN["out_dir"]
_rows: list[str] = []
HANDLER_DUR = "handler;dur="
FLUSH_ROWS = 1000


class DrillUser(FastHttpUser):
    # Pacing is done in the task, not with constant_pacing: that one measures from the user's
    # creation, so users Locust starts in one wave (it spawns once a second) would stay in phase
    # and send in bursts. Here each user starts at a random point of its first period.
    wait_time = constant(0)
    network_timeout = PLAN["request_timeout_s"]
    connection_timeout = PLAN["request_timeout_s"]
    max_retries = 0

    def on_start(self) -> None:
        pacing = PLAN.get("pacing_s") or 0.0
        self._due = time.monotonic() + random.uniform(0, pacing) if pacing else 0.0

    @task
    def request(self) -> None:
        pacing = PLAN.get("pacing_s") or 0.0
        if pacing:
            delay = self._due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            # The next start is one period later; a user that fell behind (a request slower than
            # its period) sends at once but never bursts to catch up.
            self._due = max(self._due + pacing, time.monotonic())
        # Locust counts non-2xx as failures in its own stats; the drill judges from the samples.
        self.client.get(PLAN["path"], name="drill")


class Steps(LoadTestShape):
    """Hold each step's user count for its duration, then stop (tick returns None)."""

    def tick(self) -> tuple[int, float] | None:
        run_time, end = self.get_run_time(), 0.0
        for users, duration_s, spawn_rate in PLAN["steps"]:
            end += duration_s
            if run_time < end:
                return users, spawn_rate
        if run_time < end + PLAN.get("drain_s", 0.0):  # let the last requests complete
            return PLAN["steps"][-1][0], PLAN["steps"][-1][2]
        return None


@events.request.add_listener
def _record(request_type, name, response_time, response_length, response=None, exception=None,
            start_time=None, **_kwargs) -> None:
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    layer = headers.get("X-Timeout-Layer", "") if hasattr(headers, "get") else ""
    error = headers.get("X-Drills-Error", "") if hasattr(headers, "get") else ""
    failure = type(exception).__name__ if exception is not None and status == 0 else ""
    server = _handler_ms(headers.get("Server-Timing", "") if hasattr(headers, "get") else "")
    _rows.append(f"{start_time or time.time():.6f},{response_time:.3f},{status},{layer},{error},{failure},{server}\n")
    # Written as the load runs, a thousand rows at a time: a Locust killed midway keeps what it sent.
    if len(_rows) >= FLUSH_ROWS:
        _flush()


def _handler_ms(timing: str) -> str:
    # The value as the service wrote it: a find and a slice, no parsing on the generator's hot path.
    at = timing.find(HANDLER_DUR)
    if at < 0:
        return ""
    end = timing.find(",", at)
    return timing[at + len(HANDLER_DUR):end if end >= 0 else None].strip()


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
