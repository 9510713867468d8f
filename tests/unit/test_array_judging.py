"""The two Locust drills judged on arrays give what they gave on per-request objects.

``data/judging_golden.json`` was written by the list-of-``Sample`` judges (commit before the
columnar samples) from the scenarios below: made-up runs of both drills with a seeded mix of every
kind of answer (200s with and without Server-Timing, pool 503s, proxy 504s, resets), so that every
vectorized path — step windows, outcome counts, percentiles and their intervals, Little's law — is
compared. Regenerate only on purpose: ``python tests/unit/test_array_judging.py --write``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

import test_load_model as load_model
import test_pool_model as pool_model

from drills.catalog import load_capacity, pool_exhaustion
from drills.stack.loadgen import LoadResult, Sample

GOLDEN = Path(__file__).with_name("data") / "judging_golden.json"


def rows_of(load: LoadResult) -> list[Sample]:
    samples = load.samples
    return list(samples) if isinstance(samples, list) else samples.to_rows()


def with_rows(load: LoadResult, rows: list[Sample]) -> LoadResult:
    rows = sorted(rows, key=lambda s: s.start_s)
    if isinstance(load.samples, list):
        return LoadResult(load.plan, rows, load.started_s, load.step_cpu_pct, load.warnings)
    from drills.stack.samples import Samples
    return LoadResult(load.plan, Samples.of(rows), load.started_s, load.step_cpu_pct, load.warnings)


def noise(load: LoadResult, seed: int, n: int) -> LoadResult:
    """``n`` more answers of every kind, spread over the run and its edges."""
    rng = random.Random(seed)
    start, end = load.started_s - 1.0, load.started_s + load.plan.total_s + 2.0
    kinds = [(200, "", "", "", True), (200, "", "", "", False), (503, "pool", "pool_timeout", "", False),
             (503, "pool", "pool_queue_full", "", False), (504, "", "", "", False),
             (0, "", "", "ConnectionResetError", False), (500, "app", "", "", False), (503, "database", "", "", False)]
    rows = rows_of(load)
    for _ in range(n):
        status, layer, error, failure, timed = rng.choice(kinds)
        latency = rng.lognormvariate(4.5, 0.8)
        rows.append(Sample(round(rng.uniform(start, end), 6), round(latency, 3), status, layer, error, failure,
                           round(latency * rng.uniform(0.5, 0.95), 3) if timed else None))
    return with_rows(load, rows)


def scenarios() -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    lp = load_capacity.Params(rate_steps=load_model.STEP_RATES, slo_p99_ms=load_model.SLO_MS)
    pp = pool_model.P
    out: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
    for seed, n in ((1, 0), (2, 300), (3, 3000)):
        runs = load_model.healthy(lp)
        for name, m in runs.items():
            m.load = noise(m.load, seed * 10 + len(name), n)
        out[f"load-capacity-{seed}"] = (load_capacity.SPEC, lp, runs)
        pruns = {"recommended": pool_model.recommended_run(), "oversubscribed": pool_model.oversubscribed_run(),
                 "bounded": pool_model.bounded_run(server_ms=140.0)}
        for name, r in pruns.items():
            r.load = noise(r.load, seed * 10 + len(name), n)
        out[f"pool-exhaustion-{seed}"] = (pool_exhaustion.SPEC, pp, pruns)
    return out


def summary(spec: Any, params: Any, runs: dict[str, Any]) -> dict[str, Any]:
    findings = [{"key": f.key, "verdict": f.verdict.value, "observed": f.observed, "samples": f.samples,
                 "detail": f.detail} for f in spec.judge(params, runs)]
    return {"findings": findings, "tables": spec.tables(params, runs), "observations": spec.observations(runs)}


def current() -> dict[str, Any]:
    return json.loads(json.dumps({name: summary(*s) for name, s in scenarios().items()}, default=str))


def test_array_judging_gives_what_the_per_request_judging_gave() -> None:
    golden, got = json.loads(GOLDEN.read_text()), current()
    assert got.keys() == golden.keys()
    for name in golden:
        for kind in ("findings", "tables", "observations"):
            assert_close(got[name][kind], golden[name][kind], f"{name}/{kind}")


def assert_close(got: Any, want: Any, where: str) -> None:
    """Equal, except floats that differ only in the last digits (sums in another order)."""
    if isinstance(want, float) and isinstance(got, float):
        assert got == want or abs(got - want) <= 1e-9 * max(1.0, abs(want)), f"{where}: {got} != {want}"
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), f"{where}: keys {list(got)} != {list(want)}"
        for key in want:
            assert_close(got[key], want[key], f"{where}/{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {got} != {want}"
        for i, (g, w) in enumerate(zip(got, want)):
            assert_close(g, w, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


if __name__ == "__main__" and "--write" in sys.argv:
    GOLDEN.write_text(json.dumps(current(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {GOLDEN}")
