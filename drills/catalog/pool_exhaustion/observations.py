"""What the pool-exhaustion drill observes: one configuration's load, the pool and server readings
taken meanwhile, the server's refusals, the census of its connection slots at the peak and the admin
probes; and how each answer is named."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...stack.loadgen import LoadResult, Sample
from ...watch import PoolReading


@dataclass(frozen=True)
class SlotCount:
    """The server's client connections at one moment of the peak, by whose they are (pg_stat_activity)."""

    at_s: float  # epoch seconds
    #: The app's role.
    app: int
    #: The drill's ordinary (non-superuser) filler connections.
    filler: int
    #: Every client backend, the drill's own superuser connections included: what max_connections counts.
    total: int


@dataclass
class PeakCensus:
    """The server's connection slots at the peak of the load, counted by a superuser connection the
    drill opens only then (the census), before and after the admin probes."""

    #: As the server reported them (SHOW) before the load; 0: not read.
    max_connections: int = 0
    reserved: int = 0
    #: Filler connections the drill opened to take the non-reserved slots the app left free.
    filler_opened: int = 0
    #: Before the probes, then after them.
    counts: list[SlotCount] = field(default_factory=list)
    #: Why the census, or a filler connection, could not connect ("" when it could).
    error: str = ""
    #: The census's and filler's connection attempts the server refused (its log counts them too).
    refused: int = 0

    @property
    def ordinary_slots(self) -> int:
        """The slots a non-superuser may take: max_connections − superuser_reserved_connections."""
        return self.max_connections - self.reserved

    @property
    def before(self) -> SlotCount | None:
        return self.counts[0] if self.counts else None


@dataclass
class Run:
    """What one configuration produced."""

    name: str
    users: list[int]
    load: LoadResult
    readings: list[PoolReading]
    refused_in_log: int
    admin_probes: list[tuple[bool, float]]  # (connected, seconds)
    census: PeakCensus = field(default_factory=PeakCensus)
    #: The pools' connection errors when the admin probes began (the app refused: its slots were full).
    connection_errors_at_probe: float = 0.0

    @property
    def drill_refused(self) -> int:
        """The drill's own connections the server refused (census, filler, admin probes): every
        53300 in the log that is not the app's."""
        return self.census.refused + sum(1 for ok, _ in self.admin_probes if not ok)

    @property
    def app_refused_in_log(self) -> int:
        return max(0, self.refused_in_log - self.drill_refused)


def outcome(sample: Sample) -> str:
    """The answer one request got: 200, a named error of the app's, a proxy error, or none (from its
    status and labels only: ``Samples.count_by`` names each combination of them once)."""
    if sample.status == 200:
        return "200"
    if sample.status == 0:
        return f"no response ({sample.failure or 'error'})"
    if sample.layer:
        return f"{sample.status} {sample.error or sample.layer}"
    return f"{sample.status} proxy"
