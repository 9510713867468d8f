"""What the retry-amplification drill observes: every attempt its client sent (as the client saw it),
and every database attempt the service made (its ledger: one line per attempt, with the client's
attempt number, the app's, the replica and the SQLSTATE it ended with), cross-checked against a
server-side sequence; plus nginx's error log, rows written and the storm's timeline."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

#: SQLSTATEs the drill names: statement_timeout, serialization failure, deadlock, aborted transaction.
QUERY_CANCELED, SERIALIZATION_FAILURE, DEADLOCK_DETECTED, IN_FAILED_TRANSACTION = "57014", "40001", "40P01", "25P02"


@dataclass
class Attempt:
    """One attempt the drill's client sent. Times are wall-clock seconds (the ledger's clock)."""

    tag: str
    #: What it was for: "amplify", "jitter", "put", "post", "post-dead", "key", "key-pair",
    #: "increment", "deadlock", "storm".
    role: str
    #: The client's attempt number, 1-based (sent as X-Retry-Attempt).
    attempt: int
    sent_at: float
    latency_s: float = math.nan
    status: int | None = None
    #: "ok", "http-<status>", "client-timeout", "client-<failure>".
    outcome: str = ""

    @property
    def answered_at(self) -> float:
        return self.sent_at + self.latency_s

    def to_row(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class DbAttempt:
    """One database attempt a handler made (a ledger line)."""

    tag: str
    client_attempt: int
    app_attempt: int
    pid: int
    #: 0-based replica whose ledger holds it.
    replica: int
    started_at: float
    ended_at: float
    #: "" when it committed (or returned), else the SQLSTATE it failed with.
    sqlstate: str
    #: Every SQLSTATE the attempt met, in order: a statement re-run inside the transaction PostgreSQL
    #: had aborted meets 40001, then ends with 25P02.
    met: tuple[str, ...] = ()

    @property
    def invocation(self) -> tuple[str, int, int]:
        """One run of a handler: the same client attempt on the same worker (nginx's resends land elsewhere)."""
        return (self.tag, self.pid, self.client_attempt)


@dataclass
class RetryRun:
    """One measurement: the client's attempts, the service's database attempts, and what else it read."""

    configuration: str
    run: str
    attempts: list[Attempt]
    #: Every database attempt of this run's tags (None: the ledger could not be read).
    executions: list[DbAttempt] | None = None
    #: Database attempts counted by the server's own sequence during the run (None: not read).
    sequence_count: int | None = None
    #: nginx error-log events during the run: "connect-refused", "premature-close", … → tags.
    log_tags: dict[str, list[str]] | None = None
    #: Rows the run's tags left in ``orders`` (keys), and the counter's final value (conflicts).
    rows: dict[str, int] = field(default_factory=dict)
    counter: int | None = None
    #: The storm's fault window (wall clock), and when it began sending.
    fault_from: float = math.nan
    fault_until: float = math.nan
    started_at: float = math.nan

    def of(self, role: str) -> list[Attempt]:
        return [a for a in self.attempts if a.role == role]

    def tags(self, role: str) -> list[str]:
        """The role's tags, in the order first sent."""
        return list(dict.fromkeys(a.tag for a in self.of(role)))

    def last_answers(self, role: str) -> dict[str, Attempt]:
        """Per tag, the client's last attempt: what its caller finally got."""
        out: dict[str, Attempt] = {}
        for a in sorted(self.of(role), key=lambda a: a.attempt):
            out[a.tag] = a
        return out

    def executions_by_tag(self) -> dict[str, list[DbAttempt]]:
        out: dict[str, list[DbAttempt]] = defaultdict(list)
        for e in self.executions or []:
            out[e.tag].append(e)
        return dict(out)

    def ledger_complete(self) -> bool:
        """The ledger holds every database attempt the server counted (none lost, none extra)."""
        return (self.executions is not None and self.sequence_count is not None
                and len(self.executions) == self.sequence_count)


def parse_ledgers(texts: list[str], tags: set[str] | None = None) -> list[DbAttempt]:
    """The service's ledgers, one text per replica → its database attempts (only ``tags`` if given).

    A line without ``app_attempt`` is a handler's own line (the other drills' ledger): not a
    database attempt, skipped."""
    out: list[DbAttempt] = []
    for replica, text in enumerate(texts):
        for line in text.splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            # Not a database attempt: a handler's own line (the other drills'), or an attempt that
            # never got a connection ("db": false; the server's sequence does not count it either).
            if "app_attempt" not in row or not row.get("db", True) or (tags is not None and row["tag"] not in tags):
                continue
            out.append(DbAttempt(tag=row["tag"], client_attempt=int(row.get("client_attempt") or 1),
                                 app_attempt=int(row["app_attempt"]), pid=int(row["pid"]), replica=replica,
                                 started_at=float(row["started_at"]), ended_at=float(row["ended_at"]),
                                 sqlstate=row.get("sqlstate") or "", met=tuple(row.get("sqlstates") or ())))
    return out


def peak_to_mean(times: list[float], origin: float, bin_s: float, min_bins: int) -> tuple[float, list[int]]:
    """Arrivals per bin of ``bin_s`` from ``origin`` over at least ``min_bins`` bins (as many as the
    last arrival needs): the fullest bin over the mean, and the counts. NaN without arrivals."""
    if not times:
        return math.nan, []
    bins = max(min_bins, math.floor((max(times) - origin) / bin_s) + 1)
    counts = [0] * bins
    for t in times:
        counts[min(bins - 1, max(0, math.floor((t - origin) / bin_s)))] += 1
    return max(counts) / (len(times) / bins), counts


def per_second(times: list[float], start: float, seconds: int) -> list[int]:
    """How many of ``times`` fall in each whole second from ``start``."""
    counts = [0] * seconds
    for t in times:
        k = math.floor(t - start)
        if 0 <= k < seconds:
            counts[k] += 1
    return counts


def recovery_s(goodput: list[float], offered: list[float], from_second: int, share: float,
               hold: int) -> float | None:
    """Seconds after ``from_second`` until goodput stayed ≥ ``share`` of the offered first
    attempts for ``hold`` whole seconds in a row; None if it never did within the series."""
    run = 0
    for k in range(from_second, len(goodput)):
        ok = offered[k] > 0 and goodput[k] >= share * offered[k]
        run = run + 1 if ok else 0
        if run >= hold:
            return float(k - hold + 1 - from_second)
    return None


def sqlstates(executions: list[DbAttempt]) -> Counter[str]:
    """How the database attempts ended: "ok" or the SQLSTATE."""
    return Counter(e.sqlstate or "ok" for e in executions)


def sqlstates_met(executions: list[DbAttempt]) -> Counter[str]:
    """Every SQLSTATE the attempts met, also those a later error in the same attempt hid."""
    return Counter(code for e in executions for code in (e.met or ((e.sqlstate,) if e.sqlstate else ())))
