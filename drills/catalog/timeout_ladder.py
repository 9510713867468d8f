"""The timeout-ladder drill: does the innermost layer give up first, and does work stop with it?

The ladder, inside out: PostgreSQL ``statement_timeout`` < the app's request budget < the proxy's
read timeout < the client's timeout. The drill sends requests client → nginx → Gunicorn/Uvicorn →
PostgreSQL with a delay placed in the database (``pg_sleep``), in the app (an await) or split
between them, on a grid with a point in every band between two rungs, and records for each request
what the client saw, which layer cut it, and how long its query and handler kept running after
the client had its answer.

Three configurations, each on a fresh stack:

* ``recommended`` — the ladder in order: the innermost rung that a delay crosses must answer, on
  time, with a clear error; no proxy error; no query outlives its request.
* ``inverted`` — the proxy's read timeout below ``statement_timeout``: the client gets nginx's 504
  while the query keeps running (the anti-pattern, observed).
* ``heartbeat`` — Gunicorn's ``timeout`` is not a rung for Uvicorn workers: an awaited query longer
  than it completes; a blocking call in the event loop gets the worker killed.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import math
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..findings import AtLeast, AtMost, Finding, Findings, Hypothesis
from ..errors import ParameterError
from ..params import DrillParams, require_between, require_choices, require_less, require_positive
from ..stats import share, span
from ..stack import PostgresConfig, ProxyConfig, ServiceConfig, StackConfig
from ..stack.http import HttpResult
from ..target import Capability
from ..watch import ServerWatch
from . import ladder_charts
from .common import (
    Deployment, Progress, RateCap, Recorder, check_target_settings,
    configurations_on, open_deployment, restrict,
)

NAME = "timeout-ladder"
PAPER = "timeout-ladders.md"
NOTEBOOK = "timeout-ladder.ipynb"
#: Hypotheses whose values papers show as a trend over the last runs.
HEADLINES = ("recommended.no-orphan-queries", "inverted.orphan-queries")
CONFIGURATIONS = ("recommended", "inverted", "heartbeat")
PLACEMENTS = ("db", "app", "split")
#: Against a target it does not own, the drill sends the recommended grid to the ladder as deployed.
ON_TARGET = ("recommended",)
#: What judging a hypothesis (or a configuration's) needs beyond sending requests.
NEEDS = {
    "inverted": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
    "heartbeat": frozenset({Capability.OWNS_STACK, Capability.LOGS}),
    "recommended.no-orphan-queries": frozenset({Capability.DATABASE}),
}



@dataclass(frozen=True, kw_only=True)
class Params(DrillParams):
    """Knobs of the timeout-ladder drill. Seconds unless the name says otherwise.

    Production timeouts are scaled down (5 s → 1 s and so on) so the drill takes about a minute.
    """

    # The recommended ladder, inside out.
    statement_timeout_s: float = 1.0
    request_budget_s: float = 1.5
    proxy_read_timeout_s: float = 2.5
    client_timeout_s: float = 4.0
    # The inverted ladder: the proxy gives up before the database does.
    inverted_proxy_read_timeout_s: float = 1.0
    inverted_statement_timeout_s: float = 2.0
    inverted_request_budget_s: float = 3.0
    # Gunicorn's heartbeat (whole seconds, as Gunicorn takes it), an awaited query and a blocking call.
    gunicorn_timeout_s: int = 2
    heartbeat_await_s: float = 3.0
    heartbeat_block_s: float = 4.0
    # The service and the proxy.
    workers: int = 2
    pool_min_size: int = 2
    pool_max_size: int = 4
    pool_timeout_s: float = 0.5
    gunicorn_keepalive_s: int = 5
    gunicorn_graceful_timeout_s: int = 5
    proxy_upstream_keepalive_timeout_s: float = 4.0
    proxy_connect_timeout_s: float = 1.0
    max_connections: int = 20
    # Measurement.
    configurations: str = ",".join(CONFIGURATIONS)
    repeats: int = 2
    concurrency: int = 4
    sample_interval_s: float = 0.02
    tolerance_ms: float = 50.0
    tolerance_pct: float = 5.0

    def check(self) -> None:
        for name in ("statement_timeout_s", "request_budget_s", "proxy_read_timeout_s", "client_timeout_s",
                     "inverted_proxy_read_timeout_s", "inverted_statement_timeout_s",
                     "inverted_request_budget_s", "heartbeat_await_s", "heartbeat_block_s",
                     "pool_timeout_s", "proxy_upstream_keepalive_timeout_s", "proxy_connect_timeout_s"):
            require_positive(name, getattr(self, name))
            require_between(name, getattr(self, name), 0.001, 600, "s")
        require_less("inverted_proxy_read_timeout_s", self.inverted_proxy_read_timeout_s,
                     "inverted_statement_timeout_s", self.inverted_statement_timeout_s,
                     "otherwise the inverted configuration is not inverted")
        require_between("gunicorn_timeout_s", self.gunicorn_timeout_s, 1, 600, "s")
        if not self.heartbeat_await_s > self.gunicorn_timeout_s:
            require_less("gunicorn_timeout_s", self.gunicorn_timeout_s, "heartbeat_await_s",
                         self.heartbeat_await_s, "the awaited query must outlast Gunicorn's timeout")
        if not self.heartbeat_block_s > self.gunicorn_timeout_s + 1:
            require_less("gunicorn_timeout_s + 1", self.gunicorn_timeout_s + 1, "heartbeat_block_s",
                         self.heartbeat_block_s, "Gunicorn's kill can land up to timeout + 1 s after the block starts")
        require_between("workers", self.workers, 1, 16)
        require_between("pool_min_size", self.pool_min_size, 0, 100)
        require_between("pool_max_size", self.pool_max_size, max(1, self.pool_min_size), 100)
        require_between("gunicorn_keepalive_s", self.gunicorn_keepalive_s, 0, 3600, "s")
        require_between("gunicorn_graceful_timeout_s", self.gunicorn_graceful_timeout_s, 1, 600, "s")
        require_between("max_connections", self.max_connections, 5, 10_000)
        # Every worker's pool at max size, plus the drill's admin and sampler connections, must fit
        # below the slots PostgreSQL keeps for superusers (3 by default).
        needed, open_slots = self.workers * self.pool_max_size + 2, self.max_connections - 3
        if needed > open_slots:
            raise ParameterError(
                "pool_max_size", self.pool_max_size,
                f"workers ({self.workers}) × pool_max_size + 2 drill connections = {needed} exceeds the "
                f"{open_slots} non-superuser slots of max_connections={self.max_connections}; use "
                f"pool_max_size ≤ {max(0, (open_slots - 2) // self.workers)} or raise max_connections")
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)
        require_between("repeats", self.repeats, 1, 20)
        # Connections land on workers unevenly: one worker may get every concurrent request, so
        # concurrency above one pool's size would add pool waits to the timings.
        require_between("concurrency", self.concurrency, 1, self.pool_max_size)
        require_between("sample_interval_s", self.sample_interval_s, 0.005, 0.5, "s")
        require_between("tolerance_ms", self.tolerance_ms, 1, 10_000, "ms")
        require_between("tolerance_pct", self.tolerance_pct, 0, 100, "%")

    def selected_configurations(self) -> list[str]:
        return [c.strip() for c in self.configurations.split(",") if c.strip()]

    def planned_load(self) -> tuple[float | None, float]:
        """On a target: the recommended grid, every request taking at most the client's timeout
        (the rate is capped as it is sent, by spacing request starts)."""
        requests = len(ladders(self)["recommended"].delays()) * len(PLACEMENTS) * self.repeats
        return None, math.ceil(requests / self.concurrency) * self.client_timeout_s

    def tolerance_s(self, expected_s: float) -> float:
        """max(tolerance_ms, tolerance_pct of the expected time), in seconds."""
        return max(self.tolerance_ms / 1000.0, expected_s * self.tolerance_pct / 100.0)


# -- the ladder and what it predicts ----------------------------------------------------------------


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
        points += [(low + high) / 2 for low, high in zip(edges, edges[1:])]
        points.append(edges[-1] + min(1.0, edges[-1] / 4))
        return [round(p, 6) for p in points]


def ladders(params: Params) -> dict[str, Ladder]:
    return {
        "recommended": Ladder("recommended", params.statement_timeout_s, params.request_budget_s,
                              params.proxy_read_timeout_s, params.client_timeout_s),
        "inverted": Ladder("inverted", params.inverted_statement_timeout_s, params.inverted_request_budget_s,
                           params.inverted_proxy_read_timeout_s, params.client_timeout_s),
    }


def heartbeat_ladder(params: Params) -> Ladder:
    """Timeouts far enough out that only Gunicorn's heartbeat can cut a heartbeat request."""
    longest = max(params.heartbeat_await_s, params.heartbeat_block_s)
    return Ladder("heartbeat", longest + 2.0, longest + 2.5, longest + 3.0, longest + 4.0)


def stack_config(params: Params, ladder: Ladder, *, gunicorn_timeout_s: int = 30) -> StackConfig:
    return StackConfig(
        postgres=PostgresConfig(
            max_connections=params.max_connections,
            settings={"statement_timeout": f"{round(ladder.statement_timeout_s * 1000)}ms"},
        ),
        service=ServiceConfig(
            workers=params.workers,
            gunicorn_timeout_s=gunicorn_timeout_s,
            keepalive_s=params.gunicorn_keepalive_s,
            graceful_timeout_s=params.gunicorn_graceful_timeout_s,
            pool_min_size=params.pool_min_size,
            pool_max_size=params.pool_max_size,
            pool_timeout_s=params.pool_timeout_s,
            request_budget_s=ladder.request_budget_s,
        ),
        proxy=ProxyConfig(
            connect_timeout_s=params.proxy_connect_timeout_s,
            read_timeout_s=ladder.proxy_read_timeout_s,
            send_timeout_s=ladder.proxy_read_timeout_s,
            next_upstream="off",
            max_fails=0,
            upstream_keepalive_timeout_s=params.proxy_upstream_keepalive_timeout_s,
        ),
    )


# -- one request, observed --------------------------------------------------------------------------


@dataclass
class Observation:
    """One request as the client saw it, and what the server side did with it."""

    configuration: str
    placement: str
    delay_s: float
    app_s: float
    db_s: float
    tag: str
    expected: str
    expected_at_s: float
    outcome: str = ""
    status: int | None = None
    latency_s: float = math.nan
    answered_at: float = math.nan
    body: str = ""
    #: How long the tagged query was still seen active after the client had its answer
    #: (a lower bound, to the sampling interval); None when it was never seen.
    query_outlived_s: float | None = None
    #: How long the handler ran on after the client had its answer; None without a ledger line.
    handler_outlived_s: float | None = None


def classify(result: HttpResult) -> str:
    """Which layer answered: ok, database, app, pool, proxy-504, proxy-502, client-timeout, …"""
    if result.status is None:
        return "client-timeout" if result.failure == "timeout" else f"connection-{result.failure}"
    if result.status == 200:
        return "ok"
    try:
        layer = json.loads(result.body).get("layer")
    except (ValueError, AttributeError):
        layer = None
    if isinstance(layer, str):
        return layer
    if result.status in (502, 504):
        return f"proxy-{result.status}"
    return f"http-{result.status}"


def _send(stack: Deployment, watch: ServerWatch, obs: Observation, path: str, client_timeout_s: float,
          wait_server_s: float, cap: RateCap | None = None) -> Observation:
    if cap is not None:
        cap.wait()
    sent_at = time.time()
    result = stack.entry.get(path, timeout_s=client_timeout_s)
    obs.answered_at = sent_at + result.elapsed_s
    obs.latency_s = result.elapsed_s
    obs.status = result.status
    obs.outcome = classify(result)
    obs.body = result.body[:300].decode("utf-8", "replace")
    # Wait for the server side to finish before this slot sends again, so work left running by an
    # early answer (the inverted ladder) never piles up in the pool and skews later timings.
    if obs.tag:
        entry = watch.wait_for_handler(obs.tag, wait_server_s)
        if entry is not None:
            obs.handler_outlived_s = max(0.0, entry["ended_at"] - obs.answered_at)
    return obs


def _watch(stack: Deployment, params: Params) -> ServerWatch:
    """Queries (with a database connection) and handlers (with the service's ledger) as far as the
    deployment lets the drill see them."""
    return ServerWatch(stack.connect if Capability.DATABASE in stack.capabilities else None,
                       stack.ledger_dir, params.sample_interval_s)


def run_ladder(stack: Deployment, ladder: Ladder, params: Params, progress: Progress,
               cap: RateCap | None = None) -> tuple[list[Observation], int]:
    """Send the grid through the stack; return observations and the number of sampler passes."""
    plan: list[Observation] = []
    for delay in ladder.delays():
        for placement in PLACEMENTS:
            app_s = {"db": 0.0, "app": delay, "split": delay / 2}[placement]
            db_s = round(delay - app_s, 4)
            expected, at_s = ladder.expect(app_s, db_s)
            for _ in range(params.repeats):
                plan.append(Observation(ladder.name, placement, delay, app_s, db_s, uuid.uuid4().hex[:16],
                                        expected, at_s))
    wait_server_s = max(o.delay_s for o in plan) + 5.0
    started = time.monotonic()
    done: list[Observation] = []
    with _watch(stack, params) as watch, \
            concurrent.futures.ThreadPoolExecutor(params.concurrency, thread_name_prefix="drills-client") as pool:
        futures = [
            pool.submit(_send, stack, watch, obs, f"/work?app_s={obs.app_s}&db_s={obs.db_s}&tag={obs.tag}",
                        ladder.client_timeout_s, wait_server_s, cap)
            for obs in plan
        ]
        try:
            for future in concurrent.futures.as_completed(futures):
                done.append(future.result())
                watch.check()
                if len(done) % 5 == 0 or len(done) == len(plan):
                    progress(f"  {ladder.name}: {len(done)}/{len(plan)} requests, {time.monotonic() - started:.1f} s")
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # interrupted: send nothing more
            raise
        watch.wait_until_no_query({o.tag for o in plan}, wait_server_s)
    for obs in plan:
        sighting = watch.sightings.get(obs.tag)
        if sighting is not None:
            obs.query_outlived_s = max(0.0, sighting.last_s - obs.answered_at)
    return plan, watch.samples


def run_heartbeat(stack: Deployment, params: Params, progress: Progress) -> list[Observation]:
    """An awaited query and then a blocking call, each longer than Gunicorn's timeout."""
    ladder = heartbeat_ladder(params)
    out: list[Observation] = []
    with _watch(stack, params) as watch:
        slow = Observation("heartbeat", "await", params.heartbeat_await_s, 0.0, params.heartbeat_await_s,
                           uuid.uuid4().hex[:16], "ok", params.heartbeat_await_s)
        progress(f"  heartbeat: awaiting a {params.heartbeat_await_s:g} s query (Gunicorn timeout "
                 f"{params.gunicorn_timeout_s} s)")
        out.append(_send(stack, watch, slow, f"/work?db_s={slow.db_s}&tag={slow.tag}", ladder.client_timeout_s,
                         ladder.client_timeout_s))
        block = Observation("heartbeat", "block", params.heartbeat_block_s, params.heartbeat_block_s, 0.0, "",
                            "proxy-502", float(params.gunicorn_timeout_s))
        progress(f"  heartbeat: blocking the event loop for {params.heartbeat_block_s:g} s")
        out.append(_send(stack, watch, block, f"/block?s={params.heartbeat_block_s}", ladder.client_timeout_s, 0))
    return out


# -- judging -------------------------------------------------------------------------------------


def on_time(hypothesis: Hypothesis, observations: list[Observation], layer: str, params: Params) -> Finding:
    """Share of requests predicted to be cut by ``layer`` that were, within tolerance of the time."""
    expected = [o for o in observations if o.expected == layer]
    good, deviations, wrong = 0, [], Counter()
    for o in expected:
        deviation = o.latency_s - o.expected_at_s
        if o.outcome == layer:
            deviations.append(deviation)
            good += abs(deviation) <= params.tolerance_s(o.expected_at_s)
        else:
            wrong[o.outcome] += 1
    worst = max(deviations, key=abs) if deviations else None
    tol = sorted({round(params.tolerance_s(o.expected_at_s) * 1000) for o in expected})
    detail = (
        f"{good}/{len(expected)} answered by {layer} within ±{'/'.join(map(str, tol)) or '?'} ms of "
        f"{span(sorted({o.expected_at_s for o in expected}))}"
        + (f"; worst deviation {worst * 1000:+.0f} ms" if worst is not None else "")
        + (f"; answered by another layer: {dict(wrong)}" if wrong else "")
    )
    return hypothesis.judge(share(good, len(expected)), len(expected), detail)


def innermost_layer(o: Observation, ladder: Ladder) -> str:
    """The layer that should cut ``o`` if the ladder is in order: the predicted one, except that
    a proxy or client cut of work that already crossed an inner rung means the ladder failed."""
    if o.expected in ("proxy-504", "client-timeout"):
        if o.db_s > ladder.statement_timeout_s:
            return "database"
        if o.app_s + o.db_s > ladder.request_budget_s:
            return "app"
    return o.expected


def judge(params: Params, observations: list[Observation], evidence: dict[str, Any]) -> list[Finding]:
    by_config: dict[str, list[Observation]] = {c: [o for o in observations if o.configuration == c]
                                               for c in CONFIGURATIONS}
    rec, inv, hb = by_config["recommended"], by_config["inverted"], by_config["heartbeat"]
    resolution_ms = params.sample_interval_s * 1000
    findings: list[Finding] = []

    # recommended ladder
    findings.append(on_time(Hypothesis(
        "recommended.statement-timeout-on-time",
        "A query that runs past statement_timeout is cancelled by PostgreSQL on time, and the client gets "
        "the app's 504 naming the database (SQLSTATE 57014).",
        AtLeast(100, "%"), recommended=True), rec, "database", params))
    findings.append(on_time(Hypothesis(
        "recommended.budget-on-time",
        "A request whose work runs past the app's request budget is answered by the app with a 504 at the "
        "budget.", AtLeast(100, "%"), recommended=True), rec, "app", params))

    crossed = [o for o in rec if o.expected != "ok"]
    innermost = {id(o): innermost_layer(o, ladders(params)["recommended"]) for o in crossed}
    first = sum(o.outcome == innermost[id(o)] for o in crossed)
    misses = Counter(f"{innermost[id(o)]}→{o.outcome}" for o in crossed if o.outcome != innermost[id(o)])
    findings.append(Hypothesis(
        "recommended.innermost-first",
        "Every request that crossed a rung was cut by the innermost layer it crossed.",
        AtLeast(100, "%"), recommended=True,
    ).judge(share(first, len(crossed)), len(crossed),
            f"{first}/{len(crossed)} cut by the predicted layer" + (f"; misses: {dict(misses)}" if misses else "")))

    proxy_errors = [o for o in rec if o.outcome.startswith(("proxy-", "client-", "connection-"))]
    findings.append(Hypothesis(
        "recommended.no-proxy-errors",
        "Under the recommended ladder no request ends in a proxy 502/504 or a client timeout.",
        AtMost(0, "requests"), recommended=True,
    ).judge(float(len(proxy_errors)), len(rec),
            f"{len(proxy_errors)} of {len(rec)} requests; outcomes {dict(Counter(o.outcome for o in rec))}"))

    seen = [o for o in rec if o.query_outlived_s is not None]
    worst_query = max((o.query_outlived_s or 0.0 for o in seen), default=None)
    handler_left = [o.handler_outlived_s for o in rec if o.handler_outlived_s is not None]
    findings.append(Hypothesis(
        "recommended.no-orphan-queries",
        "No query keeps running after the client has its answer.",
        AtMost(resolution_ms, "ms", tolerance=params.tolerance_ms), recommended=True,
    ).judge(None if worst_query is None else worst_query * 1000, len(seen),
            f"{len(seen)} queries sampled every {resolution_ms:g} ms; longest still running after the response: "
            f"{span([o.query_outlived_s or 0.0 for o in seen])}; handlers ran on {span(handler_left)}"))

    # inverted ladder
    findings.append(on_time(Hypothesis(
        "inverted.proxy-504",
        "With the proxy's read timeout below statement_timeout, the client gets nginx's 504 at the proxy "
        "read timeout.", AtLeast(100, "%"), recommended=False), inv, "proxy-504", params))

    orphans = [o for o in inv if o.placement == "db" and o.outcome == "proxy-504"]
    kept = []
    for o in orphans:
        # It ran on until it completed or statement_timeout cancelled it; sightings are a lower
        # bound, up to one sampling interval early.
        expected_s = min(o.db_s, params.inverted_statement_timeout_s) - o.latency_s
        ran_on, tol = o.query_outlived_s or 0.0, params.tolerance_s(expected_s)
        kept.append(expected_s - params.sample_interval_s - tol <= ran_on <= expected_s + tol)
    findings.append(Hypothesis(
        "inverted.orphan-queries",
        "Under the inverted ladder the query keeps running after the client's 504, until it completes or "
        "statement_timeout cancels it.", AtLeast(100, "%"), recommended=False,
    ).judge(share(sum(kept), len(orphans)), len(orphans),
            f"{sum(kept)}/{len(orphans)} queries kept running after the 504 as predicted; they ran on "
            f"{span([o.query_outlived_s or 0.0 for o in orphans])} after the 504 "
            f"(predicted {span([min(o.db_s, params.inverted_statement_timeout_s) - o.latency_s for o in orphans])}); "
            f"nginx logged {evidence.get('inverted', {}).get('upstream_timeouts', 0)} upstream timeouts"))

    # heartbeat
    awaits = [o for o in hb if o.placement == "await"]
    survived = [o for o in awaits if o.outcome == "ok" and o.latency_s >= o.db_s - params.tolerance_s(o.db_s)]
    findings.append(Hypothesis(
        "heartbeat.slow-await-survives",
        "An awaited query longer than Gunicorn's timeout completes: for Uvicorn workers that timeout bounds "
        "a blocked event loop, not a request.", AtLeast(100, "%"), recommended=False,
    ).judge(share(len(survived), len(awaits)), len(awaits),
            f"{len(survived)}/{len(awaits)} got 200 after {span([o.latency_s for o in awaits], 1, 's')} "
            f"with Gunicorn timeout {params.gunicorn_timeout_s} s"))

    blocks = [o for o in hb if o.placement == "block"]
    low = params.gunicorn_timeout_s / 2 - params.tolerance_s(params.gunicorn_timeout_s / 2)
    high = params.gunicorn_timeout_s + 1 + params.tolerance_s(params.gunicorn_timeout_s + 1)
    killed_in_log = evidence.get("heartbeat", {}).get("worker_timeouts", 0)
    killed = [o for o in blocks if o.outcome == "proxy-502" and low <= o.latency_s <= high and killed_in_log > 0]
    findings.append(Hypothesis(
        "heartbeat.blocked-loop-killed",
        "A blocking call in the event loop longer than Gunicorn's timeout gets the worker killed (WORKER "
        "TIMEOUT), and the client sees nginx's 502.", AtLeast(100, "%"), recommended=False,
    ).judge(share(len(killed), len(blocks)), len(blocks),
            f"{len(killed)}/{len(blocks)} got a 502 within {low:.2f}–{high:.2f} s (timeout/2 … timeout + 1 s); "
            f"observed {', '.join(f'{o.outcome} after {o.latency_s:.2f} s' for o in blocks) or 'nothing'}; "
            f"Gunicorn logged WORKER TIMEOUT {killed_in_log}×"))
    return findings


# -- the run ---------------------------------------------------------------------------------------


def run(params: Params, run_dir: Path | str, progress: Progress | None = None) -> Findings:
    """Run the drill, write ``findings.json`` and the charts into ``run_dir``, return the findings."""
    target = params.target()
    rec = Recorder(NAME, PAPER, run_dir, progress)
    observations: list[Observation] = []
    settings: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    selected = configurations_on(target, params.selected_configurations(), ON_TARGET)
    try:
        for index, name in enumerate(selected, 1):
            ladder = ladders(params).get(name) or heartbeat_ladder(params)
            gunicorn_timeout = params.gunicorn_timeout_s if name == "heartbeat" else 30
            rec.starting(index, len(selected), name, target)
            with open_deployment(target, stack_config(params, ladder, gunicorn_timeout_s=gunicorn_timeout)) as stack:
                # On a target the ladder is the deployed one: the drill predicts from its parameters,
                # so those it can read back (the app's budget, its session's statement_timeout) must match.
                check_target_settings(params, stack, {"request_budget_s": "request_budget_s",
                                                      "statement_timeout_s": "statement_timeout"})
                settings[name] = {"ladder_s": dataclasses.asdict(ladder), **rec.stack_ready(name, stack)}
                if name == "heartbeat":
                    observations += run_heartbeat(stack, params, rec.say)
                    samples = 0
                else:
                    batch, samples = run_ladder(stack, ladder, params, rec.say,
                                                RateCap(target.max_rps if target else None))
                    observations += batch
                if target is not None:
                    evidence[name] = {"activity_samples": samples}
                    continue
                evidence[name] = {
                    "upstream_timeouts": stack.proxy.error_log().count("upstream timed out"),
                    "upstream_closed": stack.proxy.error_log().count("upstream prematurely closed"),
                    "worker_timeouts": stack.service.log_text().count("WORKER TIMEOUT"),
                    "activity_samples": samples,
                }
            rec.say(f"  {name}: {'stack stopped' if target is None else 'done'}")
    except BaseException:
        # Keep what was measured, then let the error through.
        (rec.run_dir / "partial-observations.json").write_text(
            json.dumps([dataclasses.asdict(o) for o in observations], indent=1, default=str))
        raise
    rec.say(f"[{NAME}] judging {len(observations)} requests …")
    return rec.finish(
        params,
        target=target,
        settings={**settings, "evidence": evidence},
        findings=restrict(judge(params, observations, evidence), target, NEEDS),
        tables={"requests": request_table(observations)},
        observations=[_jsonable(dataclasses.asdict(o)) for o in observations],
        draw=lambda findings, out: ladder_charts.draw(findings, observations, ladders(params), params, out),
    )


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


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
