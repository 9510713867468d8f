"""Sending requests at the same moment, to a fraction of a millisecond: what the keep-alive races
need (a backend closing an idle connection as a request arrives on it). Shared by the drills that
aim bursts at that moment (proxy-upstreams, rolling-restart)."""

from __future__ import annotations

import concurrent.futures
import math
import threading
import time
from collections.abc import Callable

#: Spreads successive bursts' aim evenly over a sweep (the fractional parts of k × φ).
GOLDEN = (math.sqrt(5) - 1) / 2


def wait_until(deadline: float) -> None:
    """Sleep to a monotonic deadline, the last 2 ms spinning: the race is sub-millisecond."""
    while (left := deadline - time.monotonic()) > 0.002:
        time.sleep(left - 0.002)
    while time.monotonic() < deadline:
        pass


def together(pool: concurrent.futures.ThreadPoolExecutor, sends: list[Callable[[], float]],
             at: float | None = None) -> list[float]:
    """Run ``sends`` at once (released together at monotonic ``at``, or now); their answer times."""
    parked, go = threading.Barrier(len(sends) + 1), threading.Event()

    def one(send: Callable[[], float]) -> float:
        parked.wait()
        go.wait()
        return send()

    futures = [pool.submit(one, s) for s in sends]
    parked.wait()
    if at is not None:
        wait_until(at)
    go.set()
    return [f.result() for f in futures]


def aim_ms(burst: int, centre_ms: float, sweep_ms: float) -> float:
    """Where burst ``burst`` (from 1) is aimed after the backend's keep-alive expiry, in ms."""
    return centre_ms + sweep_ms * ((burst * GOLDEN) % 1.0 - 0.5)
