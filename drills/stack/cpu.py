"""CPU use of a set of processes, sampled while a drill runs (psutil: Linux and macOS alike)."""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections.abc import Callable, Iterable

import psutil


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (e.g. Gunicorn's workers); [] when it is gone."""
    try:
        return [child.pid for child in psutil.Process(pid).children()]
    except psutil.Error:
        return []


class CpuSampler:
    """Samples the CPU time of some processes every ``interval_s``.

    ``pids`` is a list or a callable returning one (so workers that appear later are included).
    """

    def __init__(self, pids: Iterable[int] | Callable[[], Iterable[int]], interval_s: float = 0.5) -> None:
        self._pids = pids
        self.interval_s = interval_s
        self.readings: list[tuple[float, dict[int, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="drills-cpu", daemon=True)
        #: One psutil handle per pid, so that a pid reused by another process is not mistaken for it.
        self._processes: dict[int, psutil.Process] = {}

    def start(self) -> CpuSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            pids = self._pids() if callable(self._pids) else self._pids
            reading: dict[int, float] = {}
            for pid in pids:
                try:
                    process = self._processes.get(pid) or self._processes.setdefault(pid, psutil.Process(pid))
                    times = process.cpu_times()
                    reading[pid] = times.user + times.system  # seconds of CPU, as utime + stime
                except psutil.Error:
                    continue
            self.readings.append((time.time(), reading))
            self._stop.wait(self.interval_s)

    def _window(self, start_s: float, end_s: float) -> list[tuple[float, dict[int, float]]]:
        times = [t for t, _ in self.readings]
        lo, hi = bisect.bisect_left(times, start_s), bisect.bisect_right(times, end_s)
        return self.readings[max(0, lo - 1): hi + 1]

    def max_pct(self, start_s: float, end_s: float) -> float:
        """Highest CPU share of one core (%) any single process used in the window."""
        best = 0.0
        window = self._window(start_s, end_s)
        for (t0, r0), (t1, r1) in itertools.pairwise(window):
            for pid in set(r0) & set(r1):
                if t1 > t0:
                    best = max(best, 100.0 * (r1[pid] - r0[pid]) / (t1 - t0))
        return best

    def total_pct(self, start_s: float, end_s: float) -> float:
        """CPU of all the processes together over the window, in % of one core."""
        window = self._window(start_s, end_s)
        if len(window) < 2:
            return 0.0
        (t0, r0), (t1, r1) = window[0], window[-1]
        used = sum(r1[pid] - r0[pid] for pid in set(r0) & set(r1))
        return 100.0 * used / (t1 - t0) if t1 > t0 else 0.0
