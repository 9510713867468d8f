"""Sending the ladder's requests through a deployment, and watching what the server side does."""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from typing import TypeVar

from ...app.work import BLOCK_RECORDS
from ...deployment import Capability, Deployment
from ...pipeline import Measuring, Progress, RateCap
from ...stack.proxy import upstream_attempt_log
from ...stack.service import read_records
from ...watch import ServerWatch
from .ladder import Ladder
from .observations import LadderRun, LogEvidence, Observation, classify, killed_after
from .params import ARBITER_TICK_S, PLACEMENTS, FlaskParams, LadderParams, Params

P = TypeVar("P", bound=LadderParams)


def measure(m: Measuring[P]) -> LadderRun:
    """One configuration: the heartbeat's requests (Uvicorn: awaits and blocks; sync: queries and
    blocks the abort ends), gthread's blocks, or the ladder's grid of delays (with, on sync workers,
    the blocks Gunicorn's rung ends)."""
    deployment, params = m.deployment, m.params
    if m.configuration == "heartbeat" and isinstance(params, Params):
        observations, samples = run_heartbeat(deployment, params, m.say), 0
    elif m.configuration == "heartbeat" and isinstance(params, FlaskParams):
        observations, samples = run_sync_heartbeat(deployment, params, m.say)
    elif m.configuration == "gthread" and isinstance(params, FlaskParams):
        observations, samples = run_gthread(deployment, params, m.say), 0
    else:
        ladder = params.ladder(m.configuration)
        observations, samples = run_ladder(deployment, ladder, params, m, RateCap(deployment.max_rps))
        if Capability.OWNS_STACK in deployment.capabilities:  # each abort costs a worker: not on a target's
            observations += run_blocks(deployment, ladder, params, m)
    evidence = None
    if Capability.LOGS in deployment.capabilities:
        proxy_log, service_log = deployment.log("proxy"), deployment.log("service")
        evidence = LogEvidence(upstream_timeouts=proxy_log.count("upstream timed out"),
                               upstream_closed=proxy_log.count("upstream prematurely closed"),
                               worker_timeouts=service_log.count("WORKER TIMEOUT"),
                               worker_kills=service_log.count("was sent SIGKILL"))
    return LadderRun(m.configuration, observations, evidence, samples)


def _send(deployment: Deployment, watch: ServerWatch, obs: Observation, path: str, client_timeout_s: float,
          wait_server_s: float, cap: RateCap | None = None) -> Observation:
    if cap is not None:
        cap.wait()
    sent_at = time.time()
    result = deployment.entry.get(path, timeout_s=client_timeout_s)
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


def _wait_until_ready(deployment: Deployment, within_s: float = 15.0) -> None:
    """Until the service answers /readyz again: after a kill the master boots a new worker, and a
    request sent meanwhile would wait for it, adding the boot to the time the kill took."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if deployment.entry.get("/readyz", timeout_s=1.0).status == 200:
            return
        time.sleep(0.1)


def _watch(deployment: Deployment, params: LadderParams) -> ServerWatch:
    """Queries (with a database connection) and handlers (with the service's ledger) as far as the
    deployment lets the drill see them."""
    return ServerWatch(deployment.connect if Capability.DATABASE in deployment.capabilities else None,
                       deployment.ledger_dirs, params.sample_interval_s)


def plan_requests(ladder: Ladder, params: LadderParams) -> list[Observation]:
    """A delay in every band between two rungs, placed in the database, the app and split, each
    sent ``repeats`` times; what the ladder predicts for each."""
    plan: list[Observation] = []
    for delay in ladder.delays():
        for placement in PLACEMENTS:
            app_s = {"db": 0.0, "app": delay, "split": delay / 2}[placement]
            db_s = round(delay - app_s, 4)
            expected, at_s = ladder.expect(app_s, db_s)
            for _ in range(params.repeats):
                plan.append(Observation(ladder.name, placement, delay, app_s, db_s, uuid.uuid4().hex[:16],
                                        expected, at_s))
    return plan


def run_ladder(deployment: Deployment, ladder: Ladder, params: LadderParams, m: Measuring[P],
               cap: RateCap | None = None) -> tuple[list[Observation], int]:
    """Send the grid through the deployment; return observations and the number of sampler passes.
    Each answered request is also kept in ``m.kept`` as it arrives."""
    plan = plan_requests(ladder, params)
    wait_server_s = max(o.delay_s for o in plan) + 5.0
    started = time.monotonic()
    done: list[Observation] = []
    with _watch(deployment, params) as watch, \
            concurrent.futures.ThreadPoolExecutor(params.concurrency, thread_name_prefix="drills-client") as pool:
        futures = [
            pool.submit(_send, deployment, watch, obs, f"/work?app_s={obs.app_s}&db_s={obs.db_s}&tag={obs.tag}",
                        ladder.client_timeout_s, wait_server_s, cap)
            for obs in plan
        ]
        try:
            for future in concurrent.futures.as_completed(futures):
                done.append(future.result())
                m.kept.append(done[-1].to_row())
                watch.check()
                if len(done) % 5 == 0 or len(done) == len(plan):
                    m.say(f"  {ladder.name}: {len(done)}/{len(plan)} requests, {time.monotonic() - started:.1f} s")
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)  # interrupted: send nothing more
            raise
        watch.wait_until_no_query({o.tag for o in plan}, wait_server_s)
    for obs in plan:
        sighting = watch.sightings.get(obs.tag)
        if sighting is not None:
            obs.query_outlived_s = max(0.0, sighting.last_s - obs.answered_at)
    return plan, watch.samples


def run_heartbeat(deployment: Deployment, params: Params, say: Progress) -> list[Observation]:
    """Awaited queries and then blocking calls, each longer than Gunicorn's timeout, ``heartbeat_repeats``
    of each: the awaits at once (they only wait), the blocks one after another (each takes a worker)."""
    ladder, n = params.ladder("heartbeat"), params.heartbeat_repeats
    with _watch(deployment, params) as watch:
        awaits = [Observation("heartbeat", "await", params.heartbeat_await_s, 0.0, params.heartbeat_await_s,
                              uuid.uuid4().hex[:16], "ok", params.heartbeat_await_s) for _ in range(n)]
        say(f"  heartbeat: awaiting {n} queries of {params.heartbeat_await_s:g} s at once (Gunicorn timeout "
            f"{params.gunicorn_timeout_s} s)")
        with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
            out = list(pool.map(lambda o: _send(deployment, watch, o, f"/work?db_s={o.db_s}&tag={o.tag}",
                                                ladder.client_timeout_s, ladder.client_timeout_s), awaits))
        say(f"  heartbeat: blocking the event loop for {params.heartbeat_block_s:g} s, {n} times")
        for k in range(n):
            if k:
                _wait_until_ready(deployment)
            block = Observation("heartbeat", "block", params.heartbeat_block_s, params.heartbeat_block_s, 0.0,
                                uuid.uuid4().hex[:16], "proxy-502", float(params.gunicorn_timeout_s))
            out.append(_send(deployment, watch, block, f"/block?s={params.heartbeat_block_s}&tag={block.tag}",
                             ladder.client_timeout_s, 0))
    if Capability.LOGS in deployment.capabilities:
        _attempts_of_blocks([o for o in out if o.placement == "block"], deployment)
    return out


def _attempts_of_blocks(blocks: list[Observation], deployment: Deployment) -> None:
    """Each block's attempts from nginx's access log and, where the service's records are read,
    how long after each start of the blocking call nginx saw its attempt fail."""
    # Sent one after another, so nginx logged them in the order they were sent.
    logged = upstream_attempt_log(deployment.log("proxy-access"), "/block?")
    starts = [r for folder in deployment.ledger_dirs for r in read_records(folder, BLOCK_RECORDS)]
    for obs, (logged_at, attempt_s) in zip(blocks, logged, strict=False):
        obs.attempt_s = attempt_s
        if deployment.ledger_dirs:
            obs.killed_after_s = killed_after(logged_at, attempt_s, [r["at"] for r in starts if r.get("tag") == obs.tag])


def _block(configuration: str, ladder: Ladder, block_s: float) -> Observation:
    expected, at_s = ladder.expect_block(block_s)
    return Observation(configuration, "block", block_s, block_s, 0.0, "", expected, at_s)


def _collect_sightings(watch: ServerWatch, observations: list[Observation], wait_s: float) -> None:
    """How long each tagged query was seen after its answer (what ``run_ladder`` does for its grid)."""
    watch.wait_until_no_query({o.tag for o in observations if o.tag}, wait_s)
    for obs in observations:
        sighting = watch.sightings.get(obs.tag) if obs.tag else None
        if sighting is not None:
            obs.query_outlived_s = max(0.0, sighting.last_s - obs.answered_at)


def run_blocks(deployment: Deployment, ladder: Ladder, params: LadderParams, m: Measuring[P]) -> list[Observation]:
    """On sync workers: handlers blocked in code the request budget cannot cut (``/block``), around
    Gunicorn's rung, ``repeats`` each, one at a time (each abort costs a worker, and a request sent
    while the master boots its replacement would wait for the boot)."""
    plan = [_block(ladder.name, ladder, delay) for delay in ladder.block_delays(ARBITER_TICK_S)
            for _ in range(params.repeats)]
    if not plan:
        return []
    m.say(f"  {ladder.name}: {len(plan)} blocking handlers around Gunicorn's timeout {ladder.worker_timeout_s:g} s, "
          "one at a time")
    with _watch(deployment, params) as watch:
        for k, obs in enumerate(plan):
            if k:
                _wait_until_ready(deployment)
            _send(deployment, watch, obs, f"/block?s={obs.delay_s}", ladder.client_timeout_s, 0)
            m.kept.append(obs.to_row())
    return plan


def run_sync_heartbeat(deployment: Deployment, params: FlaskParams, say: Progress) -> tuple[list[Observation], int]:
    """Sync workers with Gunicorn's timeout ``gunicorn_timeout_s``: queries and blocking handlers
    longer than it, ``heartbeat_repeats`` of each, one at a time: each is aborted (Gunicorn's 500),
    and the query the aborted worker was running must end with it."""
    ladder, n = params.ladder("heartbeat"), params.heartbeat_repeats
    queries = [Observation("heartbeat", "query", params.heartbeat_query_s, 0.0, params.heartbeat_query_s,
                           uuid.uuid4().hex[:16], "worker-timeout", float(params.gunicorn_timeout_s)) for _ in range(n)]
    blocks = [Observation("heartbeat", "block", params.heartbeat_block_s, params.heartbeat_block_s, 0.0, "",
                          "worker-timeout", float(params.gunicorn_timeout_s)) for _ in range(n)]
    say(f"  heartbeat: {n} queries of {params.heartbeat_query_s:g} s and {n} blocking handlers of "
        f"{params.heartbeat_block_s:g} s on sync workers, one at a time (Gunicorn timeout {params.gunicorn_timeout_s} s)")
    with _watch(deployment, params) as watch:
        for k, obs in enumerate([*queries, *blocks]):
            if k:
                _wait_until_ready(deployment)
            path = f"/work?db_s={obs.db_s}&tag={obs.tag}" if obs.tag else f"/block?s={obs.delay_s}"
            _send(deployment, watch, obs, path, ladder.client_timeout_s, ladder.client_timeout_s if obs.tag else 0)
        _collect_sightings(watch, queries, ladder.client_timeout_s)
        samples = watch.samples
    return [*queries, *blocks], samples


def run_gthread(deployment: Deployment, params: FlaskParams, say: Progress) -> list[Observation]:
    """gthread workers with the same Gunicorn timeout: ``heartbeat_repeats`` blocking handlers
    longer than it, at once (each on a thread of its own)."""
    ladder, n = params.ladder("gthread"), params.heartbeat_repeats
    blocks = [Observation("gthread", "block", params.heartbeat_block_s, params.heartbeat_block_s, 0.0, "", "ok",
                          params.heartbeat_block_s) for _ in range(n)]
    say(f"  gthread: {n} blocking handlers of {params.heartbeat_block_s:g} s at once on {params.workers} worker(s) × "
        f"{params.gthread_threads} threads (Gunicorn timeout {params.gunicorn_timeout_s} s)")
    with _watch(deployment, params) as watch, concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda o: _send(deployment, watch, o, f"/block?s={o.delay_s}",
                                             ladder.client_timeout_s, 0), blocks))
