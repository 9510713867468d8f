"""The locustfile every drill runs; Locust loads it by path in its own process.

Never imported by the harness or a notebook kernel: ``import locust`` monkey-patches the interpreter
with gevent (../shared/FACTS.md §9). It takes its plan from ``DRILLS_LOAD_PLAN`` (JSON written by
``drills.stack.loadgen``) and writes what it saw to the plan's folder:

* ``samples-<pid>.bin`` — one fixed-size binary record per request (``drills.stack.samples.RECORD``,
  ``struct`` format ``<dddhhhh``): start (epoch s), response time (ms, exact: Locust's own statistics
  round it into buckets), the ms the service's handler took (its ``Server-Timing`` ``handler``
  entry; NaN without one), HTTP status (0 without a response), and as codes into
  ``labels-<pid>.json`` the service's ``X-Timeout-Layer`` and ``X-Drills-Error`` headers and the
  exception's class name when no response arrived. Binary and coded because this runs once per
  request on the generator's own core: a packed record costs less than formatting seven fields;
* ``started-<pid>`` — when the test started in this process (epoch s).

Users are closed-loop with no think time: throughput ≈ users ÷ latency. With a ``pacing_s`` each
user starts one request per ``pacing_s`` at its own random phase: users ÷ pacing requests per
second arrive spread out, whatever the latency (until a request outlasts its period).
"""

from __future__ import annotations

import json
import os
import random
import struct
import time

import gevent
from locust import FastHttpUser, LoadTestShape, constant, events, task

PLAN = json.loads(os.environ["DRILLS_LOAD_PLAN"])
OUT_DIR = PLAN["out_dir"]
PACING_S = PLAN.get("pacing_s") or 0.0
PATH = PLAN["path"]
HANDLER_DUR = "handler;dur="
#: drills.stack.samples.RECORD; tests/unit/test_locustfile.py keeps the two in step.
_pack = struct.Struct("<dddhhhh").pack
FLUSH_BYTES = 1000 * struct.calcsize("<dddhhhh")
NAN = float("nan")
_buffer = bytearray()
#: Header values and exception names -> their codes; "" is 0. Few distinct values ever occur.
_labels: dict[str, int] = {"": 0}
_labels_written = 0


class DrillUser(FastHttpUser):
    # Pacing is done in the task, not with constant_pacing: that one measures from the user's
    # creation, so users Locust starts in one wave (it spawns once a second) would stay in phase
    # and send in bursts. Here each user starts at a random point of its first period.
    wait_time = constant(0)
    network_timeout = PLAN["request_timeout_s"]
    connection_timeout = PLAN["request_timeout_s"]
    max_retries = 0

    def on_start(self) -> None:
        self._due = time.monotonic() + random.uniform(0, PACING_S) if PACING_S else 0.0

    @task
    def request(self) -> None:
        if PACING_S:
            pacing = PACING_S
            delay = self._due - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            # The next start is one period later; a user that fell behind (a request slower than
            # its period) sends at once but never bursts to catch up.
            self._due = max(self._due + pacing, time.monotonic())
        # Locust counts non-2xx as failures in its own stats; the drill judges from the samples.
        self.client.get(PATH, name="drill")


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
    headers = getattr(response, "headers", None)
    if headers and hasattr(headers, "get"):
        # "in", then the item: a missing header costs a membership test, not geventhttpclient's
        # KeyError inside .get() (0.2 µs against 0.8 µs, and most answers carry neither of these two).
        layer = headers["X-Timeout-Layer"] if "X-Timeout-Layer" in headers else ""  # noqa: SIM401
        error = headers["X-Drills-Error"] if "X-Drills-Error" in headers else ""  # noqa: SIM401
        server = _handler_ms(headers["Server-Timing"]) if "Server-Timing" in headers else NAN
    else:
        layer = error = ""
        server = NAN
    failure = type(exception).__name__ if exception is not None and status == 0 else ""
    labels = _labels
    _buffer.extend(_pack(start_time or time.time(), response_time, server, status,
                         labels[layer] if layer in labels else _label(layer),
                         labels[error] if error in labels else _label(error),
                         labels[failure] if failure in labels else _label(failure)))
    # Written as the load runs, a thousand records at a time: a Locust killed midway keeps what it sent.
    if len(_buffer) >= FLUSH_BYTES:
        _flush()


def _label(value: str) -> int:
    _labels[value] = code = len(_labels)
    return code


def _handler_ms(timing: str) -> float:
    # A find and a slice, no parsing of the whole header on the generator's hot path.
    at = timing.find(HANDLER_DUR)
    if at < 0:
        return NAN
    end = timing.find(",", at)
    try:
        return float(timing[at + len(HANDLER_DUR):end if end >= 0 else None])
    except ValueError:
        return NAN


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
    global _labels_written
    if not _buffer:
        return
    if len(_labels) > _labels_written:
        # The codes first, replaced whole: every record on disk has its label in the table.
        table = os.path.join(OUT_DIR, f"labels-{os.getpid()}.json")
        with open(table + ".tmp", "w") as handle:
            json.dump(list(_labels), handle)
        os.replace(table + ".tmp", table)
        _labels_written = len(_labels)
    with open(os.path.join(OUT_DIR, f"samples-{os.getpid()}.bin"), "ab") as handle:
        handle.write(_buffer)
    _buffer.clear()
