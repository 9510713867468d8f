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

    def rungs(self) -> list[tuple[str, float]]:
        """(layer, timeout) from the innermost (shortest) out."""
        return sorted([("database", self.statement_timeout_s), ("app", self.request_budget_s),
                       ("proxy", self.proxy_read_timeout_s), ("client", self.client_timeout_s)],
                      key=lambda rung: rung[1])

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
