"""The retry-amplification drill's tables and raw observations, as the paper and findings.json show them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from .observations import RetryRun, sqlstates
from .params import Params
from .storm import storm_series


def tables(params: Params, runs: Mapping[str, RetryRun]) -> dict[str, list[list[str]]]:
    rows = [["measurement", "client requests", "client attempts", "callers finally got", "database attempts",
             "per request", "ended with", "server's count"]]
    for run in runs.values():
        requests = {a.tag for a in run.attempts}
        finals: Counter[str] = Counter()
        for role in {a.role for a in run.attempts}:
            finals.update(a.outcome for a in run.last_answers(role).values())
        executions = run.executions
        per_request = Counter(len(v) for v in run.executions_by_tag().values()) if executions is not None else None
        rows.append([
            run.run, str(len(requests)), str(len(run.attempts)),
            ", ".join(f"{k} ×{v}" for k, v in sorted(finals.items())),
            "—" if executions is None else str(len(executions)),
            "—" if per_request is None else ", ".join(f"{n}× for {c}" for n, c in sorted(per_request.items())),
            "—" if executions is None else ", ".join(f"{k} ×{v}" for k, v in sorted(sqlstates(executions).items())),
            "—" if run.sequence_count is None else str(run.sequence_count),
        ])
    out = {"what each measurement sent and what reached the database": rows}
    storms = [run for run in runs.values() if run.of("storm")]
    if storms:
        series = [["measurement", "per second", *(str(k) for k in range(len(storm_series(params, storms[0])[0])))]]
        for run in storms:
            offered, sent, goodput, _ = storm_series(params, run)
            series += [[run.run, "first attempts", *map(str, offered)], [run.run, "all attempts", *map(str, sent)],
                       [run.run, "goodput", *map(str, goodput)]]
        out["the storm, second by second (the fault from second "
            f"{params.storm_pre_s:g} to {params.storm_pre_s + params.storm_fault_s:g})"] = series
    return out


def observations(runs: Mapping[str, RetryRun]) -> list[dict[str, Any]]:
    """Every client attempt, with the database attempts its request made, JSON-ready."""
    out: list[dict[str, Any]] = []
    for run in runs.values():
        by_tag = run.executions_by_tag()
        for a in run.attempts:
            out.append({"run": run.run, **a.to_row(),
                        "database_attempts": [
                            {"client_attempt": e.client_attempt, "app_attempt": e.app_attempt, "replica": e.replica,
                             "started_at": e.started_at, "ended_at": e.ended_at, "sqlstate": e.sqlstate}
                            for e in by_tag.get(a.tag, []) if e.client_attempt == a.attempt]})
    return out
