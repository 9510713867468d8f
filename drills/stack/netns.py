"""A private network of Linux network namespaces: load "from more than one machine" on one machine.

``with NamespaceNetwork(AddressPlan(workers=2)) as net:`` creates one namespace per role — the
target (nginx, the service, PostgreSQL), the Locust master, one per worker — each with its own
loopback and one virtual link (a veth pair) to a bridge in a hub namespace, and removes them all on
exit (also after an exception or Ctrl-C). Each role then runs its processes under the command prefix
``net.prefix(role)`` (``ip netns exec <namespace>``), as each machine would run them.

Why nothing can leave: every link and address lives inside the namespaces this class creates (the
veth pairs are made in the hub and moved into the leaf namespaces at once; the host's namespace never
holds either end), the leaves have no default route, and the addresses are private (``AddressPlan``
refuses any other range). Namespace names carry the owner's pid and start time, so two runs can
share the machine and ``sweep()`` can remove the namespaces of a run that was killed, the way
``drills.stack.leftovers`` removes its temp dirs.

Needs root (CAP_SYS_ADMIN) and iproute2's ``ip``; ``unavailable_reason()`` says why not, before
anything is created.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from ..errors import ComponentError, ParameterError
from .leftovers import _start_ticks

#: Private, and unlikely to be routed anywhere; it exists only inside the namespaces in any case.
DEFAULT_SUBNET = "10.213.77.0/24"
#: Every namespace this module creates is named ``drills-net-<pid>-<start ticks>-<role>``.
NAME_PREFIX = "drills-net-"
_NAME = re.compile(rf"^{NAME_PREFIX}(?P<pid>\d+)-(?P<ticks>\d+)-(?P<role>[a-z0-9-]+)$")
#: Worker namespaces a plan may hold (each is a Locust worker process on this machine's cores).
MAX_WORKERS = 8
BRIDGE = "br0"
#: The leaf end of each link, inside its own namespace.
LEAF_LINK = "eth0"
IP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class AddressPlan:
    """Which address each role has in ``subnet``: target ``.1``, master ``.2``, worker n ``.(2 + n)``.

    Raises ParameterError for a subnet that is not private IPv4 (so that no address of the plan can
    be one on the internet) or too small for its roles, and for a worker count outside 1–8.
    """

    workers: int
    subnet: str = DEFAULT_SUBNET

    def __post_init__(self) -> None:
        if not 1 <= self.workers <= MAX_WORKERS:
            raise ParameterError("workers", self.workers, f"must be between 1 and {MAX_WORKERS}")
        try:
            network = ipaddress.ip_network(self.subnet, strict=True)
        except ValueError as exc:
            raise ParameterError("subnet", self.subnet, f"is not a network address with its prefix ({exc})") from None
        if not isinstance(network, ipaddress.IPv4Network) or not network.is_private or network.is_loopback:
            raise ParameterError("subnet", self.subnet, "must be a private IPv4 range such as 10.x.y.0/24 "
                                 "(loopback and public ranges are refused)")
        if network.num_addresses - 2 < len(self.roles):
            raise ParameterError("subnet", self.subnet, f"too small for {len(self.roles)} addresses")

    @property
    def roles(self) -> tuple[str, ...]:
        """"target", "master", "worker-1" … in address order."""
        return ("target", "master", *(f"worker-{n}" for n in range(1, self.workers + 1)))

    @property
    def prefix_len(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen

    def address(self, role: str) -> str:
        """The role's address (no prefix length)."""
        if role not in self.roles:
            raise KeyError(role)
        network = ipaddress.ip_network(self.subnet)
        return str(network.network_address + 1 + self.roles.index(role))

    @property
    def target(self) -> str:
        return self.address("target")

    @property
    def master(self) -> str:
        return self.address("master")

    @property
    def workers_addresses(self) -> tuple[str, ...]:
        return tuple(self.address(f"worker-{n}") for n in range(1, self.workers + 1))


def namespace_name(owner_pid: int, owner_ticks: str, role: str) -> str:
    """The namespace of ``role`` for the run of process ``owner_pid`` (started at ``owner_ticks``)."""
    return f"{NAME_PREFIX}{owner_pid}-{owner_ticks}-{role}"


def in_namespace(namespace: str) -> tuple[str, ...]:
    """The command prefix that runs a command inside ``namespace`` (its network; files are shared)."""
    return ("ip", "netns", "exec", namespace)


def setup_commands(plan: AddressPlan, names: dict[str, str]) -> list[list[str]]:
    """The ``ip`` commands that build the network, in order; ``names`` maps "hub" and each role to
    its namespace. Each link is created in the hub with its leaf end placed straight into the leaf."""
    hub = names["hub"]
    commands = [["ip", "netns", "add", names[role]] for role in ("hub", *plan.roles)]
    commands += [["ip", "-n", hub, "link", "add", BRIDGE, "type", "bridge"],
                 ["ip", "-n", hub, "link", "set", BRIDGE, "up"]]
    for role in plan.roles:
        leaf, hub_end = names[role], f"v-{role}"
        commands += [
            ["ip", "-n", hub, "link", "add", hub_end, "type", "veth", "peer", "name", LEAF_LINK, "netns", leaf],
            ["ip", "-n", hub, "link", "set", hub_end, "master", BRIDGE],
            ["ip", "-n", hub, "link", "set", hub_end, "up"],
            ["ip", "-n", leaf, "addr", "add", f"{plan.address(role)}/{plan.prefix_len}", "dev", LEAF_LINK],
            ["ip", "-n", leaf, "link", "set", LEAF_LINK, "up"],
            # Each namespace has its own loopback, down until set up: the stack's parts talk over it.
            ["ip", "-n", leaf, "link", "set", "lo", "up"],
        ]
    return commands


def parse_netns_list(output: str) -> list[str]:
    """Namespace names from ``ip netns list`` ("name" or "name (id: 3)" per line)."""
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def dead_runs_namespaces(names: list[str], is_alive: dict[tuple[int, str], bool]) -> list[str]:
    """Which of ``names`` belong to runs that are gone (``is_alive`` per (pid, start ticks))."""
    dead = []
    for name in names:
        match = _NAME.match(name)
        if match and not is_alive[(int(match["pid"]), match["ticks"])]:
            dead.append(name)
    return dead


def _ip(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, check=False, timeout=IP_TIMEOUT_S)
    if check and result.returncode != 0:
        raise ComponentError("netns", f"ip {' '.join(argv)} failed (exit {result.returncode})", result.stderr)
    return result


def list_namespaces() -> list[str]:
    """Every named network namespace on this machine."""
    return parse_netns_list(_ip("netns", "list").stdout)


def remove_namespace(name: str) -> None:
    """Kill whatever still runs in ``name``, then delete it (its links go with it); gone already is fine."""
    for pid in _ip("netns", "pids", name, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    _ip("netns", "del", name, check=False)


def sweep() -> list[str]:
    """Remove the namespaces of runs whose owner process is gone; return what was removed."""
    names = list_namespaces()
    owners = {(int(m["pid"]), m["ticks"]) for n in names if (m := _NAME.match(n))}
    alive = {owner: _start_ticks(owner[0]) == owner[1] for owner in owners}
    removed = []
    for name in dead_runs_namespaces(names, alive):
        remove_namespace(name)
        removed.append(name)
    return removed


def unavailable_reason() -> str | None:
    """Why network namespaces cannot be created here (None: they can; a probe was made and removed)."""
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_SYS_ADMIN); this process is not root"
    if shutil.which("ip") is None:
        return "no `ip` command (install iproute2)"
    probe = namespace_name(os.getpid(), _start_ticks(os.getpid()), "probe")
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed (no CAP_SYS_ADMIN in this container?): {made.stderr.strip()}"
    remove_namespace(probe)
    return None


class NamespaceNetwork:
    """``with NamespaceNetwork(plan) as net:`` the namespaces of ``plan`` linked by a bridge; removed
    on exit. ``net.prefix(role)`` runs a command in the role's namespace, ``net.plan.address(role)``
    is its address."""

    def __init__(self, plan: AddressPlan) -> None:
        self.plan = plan
        pid = os.getpid()
        ticks = _start_ticks(pid)
        self.names = {role: namespace_name(pid, ticks, role) for role in ("hub", *plan.roles)}

    def prefix(self, role: str) -> tuple[str, ...]:
        return in_namespace(self.names[role])

    def pids(self, role: str) -> list[int]:
        """The processes running in the role's namespace now."""
        return [int(pid) for pid in _ip("netns", "pids", self.names[role], check=False).stdout.split()]

    def run_in(self, role: str, *argv: str) -> str:
        """Run a short command in the role's namespace; its stdout (ComponentError on failure)."""
        return _ip("netns", "exec", self.names[role], *argv).stdout

    def start(self) -> None:
        sweep()
        # A last resort at interpreter exit (the with-block's exit is the normal way): namespaces
        # outlive their processes, so nothing else would remove them before the next sweep.
        atexit.register(self.stop)
        for command in setup_commands(self.plan, self.names):
            _ip(*command[1:])

    def stop(self) -> None:
        """Remove every namespace of this network (leaves first, then the hub); safe to call twice."""
        for role in (*self.plan.roles, "hub"):
            remove_namespace(self.names[role])
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()  # __exit__ does not run when __enter__ raises
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
