"""A ladder of timeouts, and what it predicts for a request: which layer answers, and when."""

from __future__ import annotations

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Ladder:
    """One configuration's timeouts, in seconds."""

    name: str
    statement_timeout_s: float
    request_budget_s: float
    proxy_read_timeout_s: float
    client_timeout_s: float
    #: Gunicorn's ``timeout`` where it aborts a request (sync workers); None where it is no rung.
    worker_timeout_s: float | None = None

    def rungs(self) -> list[tuple[str, float]]:
        """(layer, timeout) from the innermost (shortest) out."""
        rungs = [("database", self.statement_timeout_s), ("app", self.request_budget_s),
                 ("proxy", self.proxy_read_timeout_s), ("client", self.client_timeout_s)]
        if self.worker_timeout_s is not None:
            rungs.append(("worker", self.worker_timeout_s))
        return sorted(rungs, key=lambda rung: rung[1])

    def expect_block(self, block_s: float) -> tuple[str, float]:
        """A handler blocked ``block_s`` in code the request budget cannot interrupt (``/block``):
        only Gunicorn's abort of a sync worker ends it early — with Gunicorn's own 500 from
        ``worker_timeout_s`` on (up to the master's next pass, ``tick_s`` later)."""
        at_s, outcome = block_s, "ok"
        if self.worker_timeout_s is not None and block_s > self.worker_timeout_s:
            at_s, outcome = self.worker_timeout_s, "worker-timeout"
        if at_s > self.proxy_read_timeout_s:
            at_s, outcome = self.proxy_read_timeout_s, "proxy-504"
        if at_s > self.client_timeout_s:
            at_s, outcome = self.client_timeout_s, "client-timeout"
        return outcome, at_s

    def block_delays(self, tick_s: float) -> list[float]:
        """Blocking delays around Gunicorn's rung: one between the rung below it and it (answered),
        one between its latest abort (``worker_timeout_s + tick_s``) and the next rung, one past that
        rung (aborted, where without the rung the proxy would answer). None without the rung."""
        if self.worker_timeout_s is None:
            return []
        timeouts = sorted({timeout for _, timeout in self.rungs()})
        below = max((t for t in timeouts if t < self.worker_timeout_s), default=0.0)
        latest = self.worker_timeout_s + tick_s
        above = min((t for t in timeouts if t > latest), default=latest + 1.0)
        return [round(p, 6) for p in ((below + self.worker_timeout_s) / 2, (latest + above) / 2,
                                      above + min(1.0, above / 4))]

    def expect(self, app_s: float, db_s: float) -> tuple[str, float]:
        """The outcome if every layer honours its timeout, and when the client gets it.

        The handler awaits ``app_s`` then runs a ``db_s`` query; ``statement_timeout`` bounds the
        query, the budget the whole handler, the proxy the wait for a response, the client all.
        """
        candidates = [(app_s + db_s, "ok"), (self.request_budget_s, "app")]
        if db_s > self.statement_timeout_s:
            candidates.append((app_s + self.statement_timeout_s, "database"))
        at_s, outcome = min(candidates)
        if at_s > self.proxy_read_timeout_s:
            at_s, outcome = self.proxy_read_timeout_s, "proxy-504"
        if at_s > self.client_timeout_s:
            at_s, outcome = self.client_timeout_s, "client-timeout"
        return outcome, at_s

    def delays(self) -> list[float]:
        """One delay inside every band the rungs make, plus one beyond the outermost rung."""
        edges = sorted({timeout for _, timeout in self.rungs()})
        points = [edges[0] / 2]
        points += [(low + high) / 2 for low, high in itertools.pairwise(edges)]
        points.append(edges[-1] + min(1.0, edges[-1] / 4))
        return [round(p, 6) for p in points]
