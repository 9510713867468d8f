"""The rolling-restart drill's tables and raw observations, as the paper and findings.json show them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from .judge import kind_of, restart_window
from .observations import RollingRun
from .params import Params


def tables(params: Params, runs: Mapping[str, RollingRun]) -> dict[str, list[list[str]]]:
    rows = [["configuration", "replica", "requests", "client errors by kind", "failed upstream attempts (nginx)",
             "deletion → drop live", "deletion → SIGTERM", "SIGTERM → exit", "exit → ready"]]
    for run in runs.values():
        for r in run.restarts:  # keep-alive runs restart nothing
            lo, hi = restart_window(r)
            mine = [s for s in run.sent if lo <= s["due_at"] <= hi] if run.kind == "rolling" else []
            tags = {s["tag"] for s in mine} | ({q.tag for q in run.drain} if run.kind == "drain" else set())
            errors = Counter(f"{kind_of(s)} {s['method']}" for s in mine if kind_of(s) != "ok")
            failed = Counter(e.event for e in run.failed_attempts() if e.tag in tags)
            rows.append([run.run, str(r.replica), str(len(mine) or len(run.drain)),
                         ", ".join(f"{k} ×{v}" for k, v in sorted(errors.items())) or "none",
                         ", ".join(f"{k} ×{v}" for k, v in sorted(failed.items())) or "none",
                         f"{r.dropped_live_at - r.deleted_at:.2f} s", f"{r.sigterm_at - r.deleted_at:.2f} s",
                         f"{r.exited_at - r.sigterm_at:.2f} s{' (SIGKILL)' if r.killed else ''}",
                         f"{r.ready_at - r.exited_at:.2f} s"])
    out = {"each restart: what the client and nginx saw, and how long each step took": rows}
    paced = [["configuration", "bursts", "POSTs", "met a closed connection (nginx)", "client got"]]
    for run in runs.values():
        if run.kind != "keepalive":
            continue
        sent = [q for q in run.drain if q.burst > 0]
        got = Counter(str(q.status or q.failure) for q in sent)
        paced.append([run.run, str(max((q.burst for q in sent), default=0)), str(len(sent)),
                      str(len(run.stale_tags())), ", ".join(f"{k} ×{v}" for k, v in sorted(got.items()))])
    if len(paced) > 1:
        out["keep-alive bursts: POSTs that met a closed upstream connection"] = paced
    return out


def observations(runs: Mapping[str, RollingRun]) -> list[dict[str, Any]]:
    """Every restart, request, nginx event and worker record, JSON-ready, one row each."""
    out: list[dict[str, Any]] = []
    for run in runs.values():
        base = {"configuration": run.configuration, "run": run.run}
        out += [{**base, "row": "restart", **asdict(r)} for r in run.restarts]
        out += [{**base, "row": "sent", **s} for s in run.sent]
        out += [{**base, "row": "drain", **q.to_row()} for q in run.drain]
        out += [{**base, "row": "nginx", **asdict(e)} for e in run.nginx or []]
        out += [{**base, "row": "inflight", **r} for r in run.inflight or []]
        out += [{**base, "row": "lifecycle", **r} for r in run.lifecycle or []]
        out += [{**base, "row": "disconnection", **d} for d in run.disconnections or []]
    return out
