"""The timeout-ladder drill's tables and raw observations, as the paper and findings.json show them."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping
from typing import Any

from .observations import LadderRun, Observation
from .params import LadderParams


def tables(params: LadderParams, runs: Mapping[str, LadderRun]) -> dict[str, list[list[str]]]:
    out = {"requests": request_table([o for run in runs.values() for o in run.observations])}
    logged = [run for run in runs.values() if run.evidence is not None]
    if logged:
        out["what the logs and the sampler saw"] = evidence_table(logged)
    return out


def observations(runs: Mapping[str, LadderRun]) -> list[dict[str, Any]]:
    """Every request, as a JSON-ready row."""
    return [o.to_row() for run in runs.values() for o in run.observations]


def request_table(observations: list[Observation]) -> list[list[str]]:
    """One row per (configuration, placement, delay): what was predicted and what happened."""
    rows = [["configuration", "delay placed in", "injected (s)", "predicted", "observed", "client latency (s)",
             "query ran on after answer (s)"]]
    groups: dict[tuple[str, str, float], list[Observation]] = {}
    for o in observations:
        groups.setdefault((o.configuration, o.placement, o.delay_s), []).append(o)
    for (config, placement, delay), group in groups.items():
        outcomes = Counter(o.outcome for o in group)
        ran_on = [o.query_outlived_s for o in group if o.query_outlived_s is not None]
        rows.append([
            config, placement, f"{delay:g}",
            f"{group[0].expected} @ {group[0].expected_at_s:.2f}",
            ", ".join(f"{k} ×{v}" for k, v in sorted(outcomes.items())),
            f"{statistics.median(o.latency_s for o in group):.3f}",
            f"{max(ran_on):.2f}" if ran_on else "—",
        ])
    return rows


def evidence_table(runs: list[LadderRun]) -> list[list[str]]:
    """Per configuration: nginx's upstream timeouts and closes, Gunicorn's worker timeouts, sampler passes."""
    rows = [["configuration", "nginx: upstream timed out", "nginx: upstream prematurely closed",
             "Gunicorn: WORKER TIMEOUT", "Gunicorn: SIGKILL", "pg_stat_activity samples"]]
    for run in runs:
        e = run.evidence
        assert e is not None
        rows.append([run.configuration, str(e.upstream_timeouts), str(e.upstream_closed), str(e.worker_timeouts),
                     str(e.worker_kills), str(run.activity_samples)])
    return rows
