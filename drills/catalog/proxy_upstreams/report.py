"""The proxy-upstreams drill's tables and raw observations, as the paper and findings.json show them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ...stats import span
from .observations import STALE, UpstreamRun
from .params import Params


def tables(params: Params, runs: Mapping[str, UpstreamRun]) -> dict[str, list[list[str]]]:
    rows = [["configuration", "measurement", "requests", "client saw", "latency", "nginx error log",
             "handler executions per request"]]
    for run in runs.values():
        counts = Counter(len(e) for e in (run.executions or {}).values())
        rows.append([
            run.configuration, run.kind, str(len(run.requests)),
            ", ".join(f"{k} ×{v}" for k, v in sorted(Counter(r.outcome for r in run.requests).items())),
            span([r.latency_s for r in run.requests]),
            "—" if run.log_events is None else (", ".join(f"{k} {v}" for k, v in sorted(run.log_events.items()))
                                                or "nothing of note"),
            "—" if run.executions is None else (", ".join(f"{n}× for {c}" for n, c in sorted(counts.items()))
                                                or "none (no tagged /work)"),
        ])
    out = {"what each measurement saw": rows}
    bursts = keepalive_rows(runs)
    if len(bursts) > 1:
        out["keep-alive bursts: requests that met a closed upstream connection"] = bursts
    return out


def keepalive_rows(runs: Mapping[str, UpstreamRun]) -> list[list[str]]:
    """Per keep-alive run: how many bursts, where they were aimed, how many requests met a stale connection."""
    rows = [["configuration", "bursts", "aimed after the backend's keep-alive (ms)", "GETs", "met a closed connection",
             "by nginx's message", "client errors"]]
    for run in runs.values():
        if run.kind != "keepalive":
            continue
        paced = run.of("paced")
        aims = sorted({round(r.aim_ms, 2) for r in paced if r.burst > 0})
        rows.append([run.configuration, str(max((r.burst for r in paced), default=0)),
                     f"{aims[0]:+.2f} … {aims[-1]:+.2f}" if aims else "—", str(len(paced)),
                     "—" if run.log_events is None else str(len(run.stale_tags())),
                     "—" if run.log_events is None else ", ".join(f"{k} {run.log_events.get(k, 0)}" for k in STALE),
                     str(sum(r.outcome != "ok" for r in paced))])
    return rows


def observations(runs: Mapping[str, UpstreamRun]) -> list[dict[str, Any]]:
    """Every request, with its run, what nginx logged about it and its executions, JSON-ready."""
    out = []
    for run in runs.values():
        logged = {tag: event for event, tags in run.log_tags.items() for tag in tags}
        for r in run.requests:
            out.append({"configuration": run.configuration, "run": run.run, **r.to_row(),
                        "nginx_logged": logged.get(r.tag),
                        "executions": None if run.executions is None else run.executions.get(r.tag, [])})
    return out
