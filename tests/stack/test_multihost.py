"""Load from more than one host, on one machine: Locust's distributed mode across network namespaces.

A target namespace runs the whole stack (nginx on the namespace's own address, the service, its
PostgreSQL on the namespace's loopback), a master namespace runs Locust's master, and two worker
namespaces run one Locust worker each, all joined by veth links to a bridge in a hub namespace. The
Locust command lines are the ones the README gives for separate machines, each behind
``ip netns exec <namespace>`` as each would be run on its own machine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from drills.errors import ParameterError
from drills.faults.trial import INTERRUPTIBLE
from drills.stack import netns
from drills.stack.leftovers import _start_ticks
from drills.stack.loadgen import LoadPlan, LoadStep, LocustRun, Placement
from drills.stack.process import ManagedProcess
from drills.stack.proxy import requests_by_client

pytestmark = pytest.mark.slow

TARGET_HELPER = Path(__file__).with_name("netns_target.py")
USERS = 4


@pytest.fixture(scope="module")
def namespaces_available() -> None:
    reason = netns.unavailable_reason()
    if reason is not None:
        pytest.skip(f"network namespaces cannot be created here: {reason}")


def _listeners(output: str) -> list[str]:
    """Local address:port of each listening socket in ``ss -Hltn`` output."""
    return [line.split()[3] for line in output.splitlines() if line.strip()]


def test_locust_workers_in_two_namespaces_load_the_target_namespace(namespaces_available, pg_binaries, nginx_binary,
                                                                    no_leftovers, tmp_path) -> None:
    plan = netns.AddressPlan(workers=2)
    info_path = tmp_path / "target.json"
    with netns.NamespaceNetwork(plan) as net:
        names = dict(net.names)
        target = ManagedProcess("netns-target", [*net.prefix("target"), sys.executable, str(TARGET_HELPER),
                                                 "--listen-host", plan.target, "--info", str(info_path)],
                                log_path=tmp_path / "target.log", stop_signal=signal.SIGTERM, grace_s=30.0)
        try:
            target.start()
            target.wait_ready(info_path.exists, 60.0)
            info = json.loads(info_path.read_text())
            url = f"http://{plan.target}:{info['port']}"
            assert target.pid in net.pids("target"), "the stack runs in the target namespace"

            # The namespace's address is not loopback: the drills' safety rule refuses it until it is
            # named in allow_hosts, with caps, exactly as for a real remote host.
            with pytest.raises(ParameterError, match="allow_hosts"):
                LoadPlan(target_url=url, path="/healthz", steps=(LoadStep(USERS, 3.0),), workers=2)
            load = LoadPlan(target_url=url, path="/work?db_s=0.005", steps=(LoadStep(USERS, 3.0),), workers=2,
                            drain_s=1.0, allow_hosts=plan.target, max_rps=400.0, max_duration_s=10.0)
            placement = Placement(master_host=plan.master, master_prefix=net.prefix("master"),
                                  worker_prefixes=(net.prefix("worker-1"), net.prefix("worker-2")))
            with LocustRun(load, placement) as run:
                assert run.dir is not None and run.pid is not None
                assert run.pid in net.pids("master")
                assert [pid in net.pids(f"worker-{n}") for n, pid in enumerate(run.worker_pids, 1)] == [True, True]
                worker_pids = run.worker_pids
                result = run.wait()
                sample_files = sorted(p.name for p in run.dir.glob("samples-*.bin"))
                started_files = list(run.dir.glob("started-*"))
                master_log = (run.dir / "locust.log").read_text()

            # Where traffic could go: nginx listens on the target's address only; no namespace has a
            # default route; the host's own interfaces hold no address of the plan.
            listeners = _listeners(net.run_in("target", "ss", "-Hltn"))
            nginx_listeners = [a for a in listeners if a.endswith(f":{info['port']}")]
            routes = {role: net.run_in(role, "ip", "-4", "route").strip() for role in plan.roles}
            access_log = Path(info["access_log"]).read_text()
        finally:
            target.stop()
        assert target.poll() is not None

    # Removed: every namespace of the run (and with them their links, addresses and ports), every process.
    assert not set(names.values()) & set(netns.list_namespaces())
    for pid in [*worker_pids, *info["pids"]]:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid), f"pid {pid} outlived the test"

    assert nginx_listeners == [f"{plan.target}:{info['port']}"], listeners
    assert not any(a.startswith(("0.0.0.0:", "*:", "[::]:")) for a in nginx_listeners)
    for role, table in routes.items():
        assert "default" not in table and table.splitlines() == [
            f"{plan.subnet} dev eth0 proto kernel scope link src {plan.address(role)}"], (role, table)
    host_addresses = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    assert plan.subnet.rsplit(".", 1)[0] + "." not in host_addresses

    # The expected number of workers connected to the master, in its namespace, and no other.
    assert "2 workers connected." in master_log and "3 workers connected." not in master_log, master_log
    assert len(started_files) == 3, "the master and both workers started the test"

    # nginx in the target namespace answered both worker namespaces, and no one else sent load
    # (the only other client is the target's own readiness check, from its own address).
    clients = requests_by_client(access_log)
    load_clients = {addr: n for addr, n in clients.items() if addr != plan.target}
    assert set(load_clients) == set(plan.workers_addresses), clients
    assert all(n >= 50 for n in load_clients.values()), load_clients

    # The samples each worker wrote in its own namespace reached the run: the namespaces share this
    # machine's files (on separate machines they would stay on each worker's disk; see the README).
    assert sample_files == sorted(f"samples-{pid}.bin" for pid in worker_pids)
    samples = result.samples
    assert set(samples.status.tolist()) == {200}
    assert samples.timed.all() and (samples.server_ms >= 5).all(), "every answer came from the service's handler"
    # Every request nginx logged from a worker is a sample, but for those Locust killed in flight
    # when the plan ended (at most one per user: each user has one request outstanding).
    assert 0 <= sum(load_clients.values()) - len(samples) <= USERS, (load_clients, len(samples))
    assert (np.diff(samples.start_s) >= 0).all()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_dead_runs_namespaces_are_swept_and_a_live_runs_kept(namespaces_available) -> None:
    child = subprocess.Popen(["true"])  # a pid whose process has exited
    child.wait()
    dead_name = netns.namespace_name(child.pid, "1", "worker-1")
    live_name = netns.namespace_name(os.getpid(), _start_ticks(os.getpid()), "sweep-probe")
    try:
        for name in (dead_name, live_name):
            subprocess.run(["ip", "netns", "add", name], check=True)
        removed = netns.sweep()
        assert dead_name in removed and live_name not in removed
        assert dead_name not in netns.list_namespaces() and live_name in netns.list_namespaces()
    finally:
        for name in (dead_name, live_name):
            netns.remove_namespace(name)
    assert not {dead_name, live_name} & set(netns.list_namespaces())


_HOLD_A_NETWORK = """
import json, sys, time
from drills.stack.netns import AddressPlan, NamespaceNetwork
with NamespaceNetwork(AddressPlan(workers=1)) as net:
    print(json.dumps(list(net.names.values())), flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("ending", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "sigkill"])
def test_a_run_ended_by_ctrl_c_removes_its_namespaces_and_a_killed_ones_are_swept(namespaces_available,
                                                                                   ending: int) -> None:
    # INTERRUPTIBLE: a child of a background job (this suite run by cron or `make test &`) would
    # otherwise inherit SIGINT ignored, and the Ctrl-C case would test nothing.
    holder = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE + _HOLD_A_NETWORK], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        names = set(json.loads(holder.stdout.readline()))
        assert len(names) == 4 and names <= set(netns.list_namespaces())
        holder.send_signal(ending)
        holder.wait(timeout=20)
        if ending == signal.SIGKILL:
            # Nothing in a SIGKILLed process runs: its namespaces stay until the next run's sweep.
            assert names <= set(netns.list_namespaces())
            assert names <= set(netns.sweep())
        assert not names & set(netns.list_namespaces())
    finally:
        holder.kill()
        holder.wait()
