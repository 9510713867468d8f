"""What the pool-exhaustion drill observes: one configuration's load, the pool and server readings
taken meanwhile, the server's refusals and the admin probes; and how each answer is named."""

from __future__ import annotations

from dataclasses import dataclass

from ...stack.loadgen import LoadResult, Sample
from ...watch import PoolReading


@dataclass
class Run:
    """What one configuration produced."""

    name: str
    users: list[int]
    load: LoadResult
    readings: list[PoolReading]
    refused_in_log: int
    admin_probes: list[tuple[bool, float]]  # (connected, seconds)


def outcome(sample: Sample) -> str:
    """The answer one request got: 200, a named error of the app's, a proxy error, or none."""
    if sample.status == 200:
        return "200"
    if sample.status == 0:
        return f"no response ({sample.failure or 'error'})"
    if sample.layer:
        return f"{sample.status} {sample.error or sample.layer}"
    return f"{sample.status} proxy"
