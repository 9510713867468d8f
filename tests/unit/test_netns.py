"""Load from more than one host: the namespaces' address plan and ``ip`` commands, Locust's command
lines per placement, nginx's listen address and its log of client addresses (all pure)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from drills.errors import ParameterError
from drills.stack import netns
from drills.stack.loadgen import LOCUSTFILE, LoadPlan, LoadStep, LocustRun, Placement, locust_commands
from drills.stack.proxy import ProxyConfig, render_config, requests_by_client, upstream_attempts


def test_the_address_plan_gives_each_role_its_own_address_in_the_subnet() -> None:
    plan = netns.AddressPlan(workers=2)
    assert plan.roles == ("target", "master", "worker-1", "worker-2")
    assert (plan.target, plan.master, plan.workers_addresses) == ("10.213.77.1", "10.213.77.2",
                                                                  ("10.213.77.3", "10.213.77.4"))
    assert plan.prefix_len == 24
    other = netns.AddressPlan(workers=4, subnet="169.254.200.0/29")
    assert other.workers_addresses[-1] == "169.254.200.6"
    with pytest.raises(KeyError):
        plan.address("worker-3")


@pytest.mark.parametrize(("workers", "subnet", "named"), [
    (0, netns.DEFAULT_SUBNET, "workers"), (9, netns.DEFAULT_SUBNET, "workers"),
    (1, "8.8.8.0/24", "subnet"),           # public: could be someone's machine
    (1, "127.0.0.0/24", "subnet"),         # loopback: the host's own
    (1, "10.213.77.5/24", "subnet"),       # host bits set: not a network address
    (1, "fd00::/64", "subnet"),            # IPv4 only
    (1, "10.0.0.0/30", "subnet"),          # two addresses, three roles
    (1, "not-a-net", "subnet"),
])
def test_bad_plans_are_refused_naming_the_parameter(workers: int, subnet: str, named: str) -> None:
    with pytest.raises(ParameterError) as caught:
        netns.AddressPlan(workers=workers, subnet=subnet)
    assert caught.value.name == named


def test_the_network_is_built_inside_its_namespaces_only() -> None:
    plan = netns.AddressPlan(workers=1)
    names = {role: netns.namespace_name(42, "777", role) for role in ("hub", *plan.roles)}
    assert names["worker-1"] == "drills-net-42-777-worker-1"
    commands = netns.setup_commands(plan, names)
    assert commands[:4] == [["ip", "netns", "add", names[r]] for r in ("hub", "target", "master", "worker-1")]
    # Every command after the namespaces' own creation runs in one of them (-n): none touches the host's.
    assert all(c[:2] == ["ip", "-n"] and c[2] in names.values() for c in commands[4:])
    assert ["ip", "-n", names["hub"], "link", "add", "v-target", "type", "veth", "peer", "name", "eth0",
            "netns", names["target"]] in commands
    assert ["ip", "-n", names["worker-1"], "addr", "add", "10.213.77.3/24", "dev", "eth0"] in commands
    assert ["ip", "-n", names["target"], "link", "set", "lo", "up"] in commands
    # A link is attached to the bridge only after the bridge exists, and addressed only after it exists.
    position = {tuple(c): i for i, c in enumerate(commands)}
    bridge = position[("ip", "-n", names["hub"], "link", "add", "br0", "type", "bridge")]
    for role in plan.roles:
        made = position[("ip", "-n", names["hub"], "link", "add", f"v-{role}", "type", "veth", "peer", "name", "eth0",
                         "netns", names[role])]
        assert bridge < made < position[("ip", "-n", names[role], "addr", "add", f"{plan.address(role)}/24", "dev",
                                         "eth0")]
    assert netns.in_namespace(names["master"]) == ("ip", "netns", "exec", names["master"])


def test_only_the_namespaces_of_dead_runs_are_swept() -> None:
    listed = netns.parse_netns_list("drills-net-10-500-hub (id: 0)\ndrills-net-10-500-target\n"
                                    "drills-net-11-600-hub (id: 3)\nsomeone-elses\ndrills-net-x-hub\n")
    assert listed == ["drills-net-10-500-hub", "drills-net-10-500-target", "drills-net-11-600-hub", "someone-elses",
                      "drills-net-x-hub"]
    alive = {(10, "500"): False, (11, "600"): True}
    assert netns.dead_runs_namespaces(listed, alive) == ["drills-net-10-500-hub", "drills-net-10-500-target"]


URL = "http://10.213.77.1:8080"


def _plan(workers: int) -> LoadPlan:
    return LoadPlan(target_url=URL, path="/healthz", steps=(LoadStep(4, 3.0),), workers=workers,
                    allow_hosts="10.213.77.1", max_rps=100.0, max_duration_s=10.0)


def test_each_locust_process_is_the_readmes_command_behind_its_own_prefix() -> None:
    placement = Placement(master_host="10.213.77.2", master_prefix=("ip", "netns", "exec", "m"),
                          worker_prefixes=(("ip", "netns", "exec", "w1"), ("ip", "netns", "exec", "w2")))
    master, workers = locust_commands(_plan(2), placement, master_port=5557, python="py")
    common = ["py", "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary", "--host", URL,
              "--exit-code-on-error", "0", "--loglevel", "INFO"]
    assert master == ["ip", "netns", "exec", "m", *common, "--master", "--master-bind-host", "10.213.77.2",
                      "--master-bind-port", "5557", "--expect-workers", "2", "--expect-workers-max-wait", "60"]
    assert workers == [["ip", "netns", "exec", w, *common, "--worker", "--master-host", "10.213.77.2",
                        "--master-port", "5557"] for w in ("w1", "w2")]


def test_without_a_placement_every_process_runs_here_over_loopback() -> None:
    master, workers = locust_commands(_plan(2), Placement(), master_port=5557)
    assert master[0] == sys.executable and "127.0.0.1" in master
    assert all(w[0] == sys.executable and w[w.index("--master-host") + 1] == "127.0.0.1" for w in workers)
    single, none = locust_commands(_plan(0), Placement(), master_port=5557)
    assert none == [] and "--master" not in single and "--worker" not in single


def test_a_prefix_per_worker_is_checked_before_any_process_starts() -> None:
    with pytest.raises(ParameterError, match="one prefix per worker"):
        LocustRun(_plan(2), Placement(worker_prefixes=(("ip", "netns", "exec", "w1"),)))


def test_a_namespace_address_needs_the_same_opt_in_as_a_remote_host() -> None:
    with pytest.raises(ParameterError, match="allow_hosts"):
        LoadPlan(target_url=URL, path="/healthz", steps=(LoadStep(4, 3.0),))
    with pytest.raises(ParameterError, match="rate and a duration cap"):
        LoadPlan(target_url=URL, path="/healthz", steps=(LoadStep(4, 3.0),), allow_hosts="10.213.77.1")


def test_nginx_listens_on_the_given_address_only() -> None:
    assert "listen 127.0.0.1:8080;" in render_config(ProxyConfig(), 8080, [9090], Path("/p"))
    text = render_config(ProxyConfig(), 8080, [9090], Path("/p"), listen_host="10.213.77.1")
    assert "listen 10.213.77.1:8080;" in text and "listen 127.0.0.1" not in text
    assert "server 127.0.0.1:9090" in text, "the service behind it stays on loopback"


def test_requests_are_counted_per_client_and_old_log_lines_still_parse() -> None:
    log = ('1733.1 200 0.01 0.010 200 layer=- "GET /work HTTP/1.1" client=10.213.77.3\n'
           '1733.2 200 0.01 0.010 200 layer=- "GET /work HTTP/1.1" client=10.213.77.4\n'
           '1733.3 502 1.8 1.8 502 layer=- "GET /block?s=2.5 HTTP/1.1" client=10.213.77.3\n'
           '1733.4 502 0.0 - - layer=- "GET /block?s=2.5 HTTP/1.1"\n')
    assert requests_by_client(log) == {"10.213.77.3": 2, "10.213.77.4": 1}
    assert upstream_attempts(log, "/block?") == [[1.8], []]
