"""``make bench``: how long the stack takes to be ready, against a bare PostgreSQL start.

Prints, for ``--rounds`` rounds on this machine:

* bare PostgreSQL: ``initdb`` + ``pg_ctl start -w`` (what any PostgreSQL test fixture pays);
* the drills' PostgreSQL ready (settings, the app role's password, a real query answered), started
  from the cached template (a copy of a data dir: ``drills.stack.pg_template``) and from its own
  initdb; the aim: from the template ≤ 0.8 × bare;
* the whole stack ready (PostgreSQL + service + nginx, each passing its readiness check), and the
  service's own boot within it; the aim: ≤ 1.5 × bare PostgreSQL + the service's boot, under 3 s;
* Locust's achieved request rate with one process and with 1, 2 and 4 workers (distributed mode)
  against wrk's on the same target (wrk is the machine's ceiling): how the generator scales
  (``drills.bench_scaling``); ``--scaling`` prints only that;
* what the drills' recording costs: Locust with the drills' locustfile against a bare FastHttpUser
  and wrk, rates and the generator's CPU per request (``drills.bench_generators``); ``--generators``
  prints only that;
* the timeout-ladder drill at its default parameters, run through papermill as ``drills run`` runs it:
  its wall time, and the pipeline's overhead (wall time minus the drill's own measuring time: kernel
  start, papermill, imports, report); ``--no-drill`` skips it;
* peak memory and time to judge 10⁴, 10⁵ and 10⁶ synthetic samples (``drills.bench_samples``);
  ``--samples`` prints only that section and starts no stack.

Not part of the tests: it takes a minute or two and its numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from . import bench_samples
from .stack import StackConfig, local_stack
from .stack.binaries import find_postgres
from .stack.children import OsUser
from .stack.ports import pick_free_port
from .stack.postgres import PostgresCluster, PostgresConfig


def bare_postgres_start() -> float:
    """Seconds for initdb + ``pg_ctl start -w`` in a temp dir (as ``postgres`` when root)."""
    binaries = find_postgres()
    root = Path(tempfile.mkdtemp(prefix="drills-bench-"))
    ids = OsUser.named("postgres" if os.geteuid() == 0 else None)
    if ids.user is not None and ids.group is not None:
        os.chown(root, ids.user, ids.group)
    data, port = root / "data", pick_free_port()
    env = {**os.environ, "LC_ALL": "C"}

    def pg(argv: list[str], *, check: bool = True) -> None:
        subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=check, cwd=root,
                       user=ids.user, group=ids.group, extra_groups=ids.extra_groups)

    try:
        started = time.monotonic()
        pg([str(binaries.initdb), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"])
        pg([str(binaries.pg_ctl), "-D", str(data), "-w", "-l", str(root / "log"), "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"])
        return time.monotonic() - started
    finally:
        pg([str(binaries.pg_ctl), "-D", str(data), "-m", "immediate", "stop"], check=False)
        shutil.rmtree(root, ignore_errors=True)


def cluster_start(*, from_template: bool) -> float:
    """Seconds until the drills' own PostgreSQL was ready (the template is built before the rounds)."""
    with PostgresCluster(PostgresConfig(from_template=from_template)) as pg:
        return pg.ready_s or 0.0


def stack_start() -> tuple[float, float]:
    """(seconds until the whole stack was ready, seconds the service took within that)."""
    with local_stack(StackConfig()) as stack:
        return stack.ready_s, stack.service.ready_s or 0.0


def find_wrk() -> str | None:
    """wrk's path; as root on Debian/Ubuntu it is installed with apt-get when missing."""
    if path := shutil.which("wrk"):
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing wrk with apt-get …", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "wrk"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, check=False)
    return shutil.which("wrk")


def scaling(rounds: int) -> None:
    """Locust's rate by worker processes against wrk's, on one stack (drills.bench_scaling)."""
    from . import bench_scaling
    from .stack import ServiceConfig

    with local_stack(StackConfig(service=ServiceConfig(workers=2))) as stack:
        url = f"http://127.0.0.1:{stack.proxy.port}"
        wrk = find_wrk()
        if wrk is None:
            print("  wrk not found: apt-get install wrk (Debian/Ubuntu) or brew install wrk", flush=True)
        bench_scaling.report(bench_scaling.measure(url, rounds=rounds, wrk_binary=wrk), os.cpu_count())


def recording_cost(rounds: int) -> None:
    """The drills' locustfile against a bare FastHttpUser and wrk, on one stack (drills.bench_generators)."""
    from . import bench_generators
    from .stack import ServiceConfig

    with local_stack(StackConfig(service=ServiceConfig(workers=2))) as stack:
        url = f"http://127.0.0.1:{stack.proxy.port}"
        bench_generators.report(bench_generators.compare(url, rounds=rounds, wrk_binary=find_wrk()))


def drill_through_papermill() -> tuple[float, float]:
    """(wall seconds, pipeline overhead seconds) of the timeout-ladder drill run as `drills run` runs it.

    The overhead is everything but the drill's own measuring: kernel start, papermill, imports, the
    HTML report, findings I/O — the wall time minus the measuring time the findings record.
    """
    from .catalog.timeout_ladder import SPEC as timeout_ladder
    from .execute import run_notebook

    with tempfile.TemporaryDirectory(prefix="drills-bench-run-") as tmp:
        run_dir = Path(tmp) / "20000101T000000Z-timeout-ladder"
        run_dir.mkdir()
        result = run_notebook(timeout_ladder, timeout_ladder.params(), run_dir=run_dir)
        return result.wall_s, result.wall_s - float(result.findings.provenance.measuring_s or 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each measurement (median reported)")
    parser.add_argument("--no-drill", action="store_true", help="skip the drill's wall time")
    parser.add_argument("--generators", action="store_true",
                        help="only the recording cost: the drills' locustfile against a bare one and wrk")
    parser.add_argument("--generator-rounds", type=int, default=3, help="rounds of the recording cost")
    parser.add_argument("--scaling", action="store_true",
                        help="only Locust's rate with 1, 2 and 4 workers (distributed mode) against wrk's")
    parser.add_argument("--scaling-rounds", type=int, default=3, help="rounds of the scaling table")
    parser.add_argument("--samples", action="store_true",
                        help="only the samples section: judging 10⁴–10⁶ synthetic samples (no stack started)")
    args = parser.parse_args(argv)
    if min(args.rounds, args.generator_rounds, args.scaling_rounds) < 1:
        parser.error("--rounds, --generator-rounds and --scaling-rounds must be ≥ 1")
    if args.samples:
        bench_samples.report(bench_samples.run_all())
        return 0
    if args.generators:
        recording_cost(args.generator_rounds)
        return 0
    if args.scaling:
        scaling(args.scaling_rounds)
        return 0

    cluster_start(from_template=True)  # builds the template if there is none: not a round's cost
    bare, copied, initdb, stack, service = [], [], [], [], []
    for round_no in range(1, args.rounds + 1):
        bare.append(bare_postgres_start())
        copied.append(cluster_start(from_template=True))
        initdb.append(cluster_start(from_template=False))
        ready, boot = stack_start()
        stack.append(ready)
        service.append(boot)
        print(f"round {round_no}/{args.rounds}: bare PostgreSQL {bare[-1]:.2f} s, drills' PostgreSQL from the "
              f"template {copied[-1]:.2f} s / own initdb {initdb[-1]:.2f} s, stack ready {ready:.2f} s "
              f"(service boot {boot:.2f} s)", flush=True)
    m_bare, m_copied, m_initdb, m_stack, m_service = (
        statistics.median(v) for v in (bare, copied, initdb, stack, service))
    budget = 1.5 * m_bare + m_service
    print()
    print(f"median of {args.rounds} rounds on {os.cpu_count()} cores:")
    rows = [("bare PostgreSQL (initdb + pg_ctl start -w)", m_bare),
            ("drills' PostgreSQL from the template", m_copied),
            ("drills' PostgreSQL with its own initdb", m_initdb),
            ("service boot (Gunicorn, workers' pools open)", m_service),
            ("whole stack ready (PostgreSQL, service, nginx)", m_stack)]
    for label, value in rows:
        print(f"  {label:<48} {value:6.2f} s")
    print(f"  aim: PostgreSQL from the template ≤ 0.8 × bare: {m_copied / m_bare:.2f} × → "
          f"{'met' if m_copied <= 0.8 * m_bare else 'NOT met'}")
    print(f"  aim: stack ≤ 1.5 × bare + service boot = {budget:.2f} s and < 3 s → "
          f"{'met' if m_stack <= budget and m_stack < 3 else 'NOT met'}")
    scaling(args.scaling_rounds)
    recording_cost(args.generator_rounds)
    bench_samples.report(bench_samples.run_all())
    if not args.no_drill:
        print("running the timeout-ladder drill at its defaults, through papermill …", flush=True)
        logging.getLogger("papermill").setLevel(logging.WARNING)
        wall, overhead = drill_through_papermill()
        print(f"  {'timeout-ladder drill wall time':<48} {wall:6.1f} s (aim < 90 s)")
        print(f"  {'pipeline overhead (wall − measuring)':<48} {overhead:6.1f} s (aim < 5 s per drill)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
