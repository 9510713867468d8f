"""The pool-exhaustion drill's tables and raw observations, as the paper and findings.json show them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from ...params import SUPERUSER_RESERVED_CONNECTIONS
from .observations import Run
from .params import DRILL_CONNECTIONS, Params
from .steps import StepStats, recommended_steps


def tables(params: Params, runs: Mapping[str, Run]) -> dict[str, list[list[str]]]:
    """The capacity arithmetic the hypotheses predict from, and the recommended run's saturation steps."""
    return {"capacity arithmetic": capacity_table(params),
            "saturation steps": steps_table(recommended_steps(params, runs))}


def observations(runs: Mapping[str, Run]) -> list[dict[str, Any]]:
    """Each configuration's steps, Locust's CPU and warnings, the server's refusals, the census of its
    slots at the peak, the admin probes and every pool reading, JSON-ready (the raw samples are
    counted here and kept whole in the run folder's samples.parquet, by configuration)."""
    return [{"configuration": r.name, "users": r.users, "step_cpu_pct": r.load.step_cpu_pct,
             "locust_warnings": r.load.warnings, "refused_in_log": r.refused_in_log,
             "drill_refused": r.drill_refused, "census": asdict(r.census),
             "connection_errors_at_probe": r.connection_errors_at_probe,
             "admin_probes": r.admin_probes, "readings": [asdict(x) for x in r.readings],
             "samples": len(r.load.samples)} for r in runs.values()]


def capacity_table(params: Params) -> list[list[str]]:
    """What the parameters predict: slots, capacity, queue waits, overload, the server's budget."""
    reserved = SUPERUSER_RESERVED_CONNECTIONS
    budget = params.max_connections - reserved
    promised = params.workers * params.oversubscribed_pool_max_size
    return [
        ["quantity", "arithmetic", "value"],
        ["pool slots", f"workers × pool_max_size = {params.workers} × {params.pool_max_size}", str(params.slots)],
        ["capacity (Little's law)", f"slots ÷ hold = {params.slots} ÷ {params.hold_s:g} s",
         f"{params.capacity_rps:.0f} req/s"],
        ["queue wait at N users", "(N − slots) × hold ÷ slots",
         ", ".join(f"{u}: {params.queue_wait_s(u) * 1000:.0f} ms" for u in params.steps())],
        ["overload (wait > pool timeout)", f"N > slots + pool_timeout × capacity = "
         f"{params.slots + params.pool_timeout_s * params.capacity_rps:.0f} users",
         ", ".join(str(u) for u in params.steps() if params.queue_wait_s(u) > params.pool_timeout_s) or "none"],
        ["server budget", f"max_connections − superuser_reserved = {params.max_connections} − {reserved}",
         f"{budget} (app up to {params.slots}, from {params.workers * params.pool_min_size} at boot; the drill's "
         f"sampler 1; at the peak the census {DRILL_CONNECTIONS - 1} and filler connections take the rest)"],
        ["oversubscribed", f"{params.workers} × {params.oversubscribed_pool_max_size} vs "
         f"{params.oversubscribed_max_connections} − {reserved}",
         f"{promised} promised > {params.granted_slots} granted"],
        [f"oversubscribed wait at {params.oversubscribed_users} users", "(N − slots) × hold ÷ slots",
         f"promised: {params.oversubscribed_wait_s(promised) * 1000:.0f} ms, granted: "
         f"{params.oversubscribed_wait_s(params.granted_slots) * 1000:.0f} ms "
         f"(pool timeout {params.pool_timeout_s * 1000:.0f} ms)"],
        ["bounded queue", f"workers × (max_size + max_waiting) = {params.workers} × "
         f"({params.pool_max_size} + {params.max_waiting})",
         f"{params.workers * (params.pool_max_size + params.max_waiting)} admitted at once"],
    ]


def steps_table(stats: list[StepStats]) -> list[list[str]]:
    """One row per saturation step: throughput, latency percentiles, answers, pool and server peaks."""
    rows = [["users", "200/s", "mean ms", "p50 ms", "p95 ms", "p99 ms (95 % interval)", "pool wait ms", "answers",
             "max waiting", "max server conns", "Locust CPU %"]]
    for s in stats:
        rows.append([str(s.users), f"{s.throughput_ok:.1f}", f"{s.mean_ms:.0f}", f"{s.p50_ms:.0f}", f"{s.p95_ms:.0f}",
                     s.p99_cell, f"{s.pool_wait_s * 1000:.0f}" if s.pool_requests else "—",
                     ", ".join(f"{k} ×{v}" for k, v in sorted(s.statuses.items())), f"{s.max_waiting:.0f}",
                     str(s.max_server), f"{s.locust_cpu_pct:.0f}"])
    return rows
