"""Locust as a subprocess against the real stack: raw samples, distributed workers, loopback only."""

from __future__ import annotations

import numpy as np
import pytest

from drills.errors import ParameterError
from drills.stack import ProxyConfig, ServiceConfig, StackConfig, local_stack, samples_file
from drills.stack.loadgen import LoadPlan, LoadStep, LocustRun

pytestmark = pytest.mark.slow


def test_locust_workers_send_the_plan_and_every_sample_is_kept(pg_binaries, nginx_binary, no_leftovers,
                                                               tmp_path) -> None:
    config = StackConfig(service=ServiceConfig(workers=1, pool_min_size=2, pool_max_size=2),
                         proxy=ProxyConfig(read_timeout_s=5))
    with local_stack(config) as stack:
        plan = LoadPlan(target_url=f"http://127.0.0.1:{stack.proxy.port}", path="/work?db_s=0.02",
                        steps=(LoadStep(2, 2.0), LoadStep(4, 2.0)), workers=2)
        with LocustRun(plan) as run:
            result = run.wait()
            sample_files = list(run.dir.glob("samples-*.bin"))
    assert len(sample_files) == 2, "each Locust worker process records its own samples"
    samples = result.samples
    assert len(samples) > 50
    assert set(samples.status.tolist()) == {200}
    # Raw times, not Locust's buckets: plenty of distinct values around 20 ms.
    assert len(set(np.round(samples.latency_ms, 1).tolist())) > 10
    assert (samples.latency_ms >= 20).all()
    assert samples.timed.all() and (samples.server_ms >= 20).all(), "every answer carried its Server-Timing"
    assert (np.diff(samples.start_s) >= 0).all(), "both workers' samples, in start order"
    assert result.throughput(1, skip_s=0.5) > 0 and len(result.step_cpu_pct) == 2
    # Kept as Parquet and read back unchanged.
    back, _ = samples_file.read(samples_file.keep(tmp_path, "steps", samples, {"started_s": result.started_s}))
    assert back["steps"].to_rows() == samples.to_rows()


@pytest.mark.parametrize("url", ["http://10.0.0.8:8000", "http://example.com", "http://192.168.1.4"])
def test_a_target_outside_loopback_is_refused_before_anything_starts(url: str, list_stack_processes) -> None:
    with pytest.raises(ParameterError, match="loopback"):
        LoadPlan(target_url=url, path="/", steps=(LoadStep(1, 1.0),))
    assert not list_stack_processes()


def test_the_recording_cost_bench_runs_each_generator_against_the_stack(pg_binaries, nginx_binary,
                                                                        no_leftovers) -> None:
    from drills import bench_generators

    with local_stack(StackConfig(service=ServiceConfig(workers=1))) as stack:
        runs = bench_generators.compare(f"http://127.0.0.1:{stack.proxy.port}", rounds=1, duration_s=2.0)
    names = [r.generator for r in runs]
    assert names[:2] == ["Locust, drills' locustfile", "Locust, bare FastHttpUser"]
    for run in runs:
        assert run.requests > 50 and run.rate_rps > 25 and 1 < run.cpu_us_per_request < 100_000, run


def test_the_scaling_bench_measures_a_distributed_run_and_its_cpu(pg_binaries, nginx_binary, no_leftovers) -> None:
    from drills import bench_scaling

    with local_stack(StackConfig(service=ServiceConfig(workers=1))) as stack:
        run = bench_scaling.locust_run(f"http://127.0.0.1:{stack.proxy.port}", 2, duration_s=2.0)
    assert run.generator == "Locust, master + 2 workers" and run.workers == 2
    assert run.rate_rps > 25 and run.peak_cpu_pct is not None and run.peak_cpu_pct > 1
    assert run.cpu_us_per_request is not None and 1 < run.cpu_us_per_request < 100_000, run
