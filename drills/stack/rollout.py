"""Replacing one replica the way Kubernetes does in a rolling deploy, on the local stack.

When a pod is deleted, two things start at once and nothing makes one wait for the other
(FACTS-retries-shutdown §9): the control plane removes the endpoint, which reaches the proxy some
time later (ingress-nginx re-reads its backends every second; an ALB deregisters), and the kubelet
runs the preStop hook, then sends SIGTERM, then SIGKILLs whatever is left when the grace period
(counted from the deletion, preStop included) runs out. The replacement joins the proxy once its
readiness probe passes. :func:`restart_replica` plays both timelines against one replica:

* at ``endpoint_lag_s`` after the deletion: nginx's upstream without the replica (a reload);
* at ``pre_stop_s``: SIGTERM to Gunicorn's master; SIGKILL of the group at ``termination_grace_s``;
* once it has exited and been dropped: Gunicorn again on the same port and folder; probed on
  ``/readyz`` every ``readiness_period_s`` from its start; at the first 200, back into the upstream.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import ComponentError, ParameterError
from .http import http_get
from .proxy import Reload
from .service import Service, Termination


class Replicas(Protocol):
    """What a restart needs of the stack (``LocalStack`` has it)."""

    @property
    def services(self) -> Sequence[Service]: ...

    def take_out(self, replica: int) -> Reload: ...

    def put_back(self, replica: int) -> Reload: ...


@dataclass(frozen=True, kw_only=True)
class Rollout:
    """The orchestrator's part of a configuration, in seconds (Kubernetes' values, scaled)."""

    #: ``lifecycle.preStop.sleep.seconds``: from the deletion to SIGTERM.
    pre_stop_s: float = 0.0
    #: ``terminationGracePeriodSeconds``: from the deletion (preStop included) to SIGKILL.
    termination_grace_s: float = 30.0
    #: From the deletion until the proxy stops sending to the replica (not a setting: the endpoint
    #: controller, the watch and the proxy's own sync; the preStop sleep exists to cover it).
    endpoint_lag_s: float = 0.0
    #: The readiness probe's ``periodSeconds`` (first probe at the container's start).
    readiness_period_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("pre_stop_s", "termination_grace_s", "endpoint_lag_s"):
            value = getattr(self, name)
            if not 0 <= value <= 3600:
                raise ParameterError(name, value, "0–3600 s")
        if not 0.05 <= self.readiness_period_s <= 300:
            raise ParameterError("readiness_period_s", self.readiness_period_s, "0.05–300 s")
        if self.pre_stop_s > self.termination_grace_s:
            # The API server rejects a preStop sleep longer than the grace period (KEP-3960).
            raise ParameterError("pre_stop_s", self.pre_stop_s,
                                 f"at most termination_grace_s={self.termination_grace_s:g} (Kubernetes rejects more)")


@dataclass(frozen=True)
class Restart:
    """One replica replaced: every moment of it (wall clock, ``time.time()``) and what was stopped."""

    replica: int
    port: int
    deleted_at: float
    #: The reload without the replica (``live_at``: only the new config accepts).
    dropped: Reload
    termination: Termination
    started_at: float
    #: The first readiness probe that passed.
    ready_at: float
    back: Reload
    #: Gunicorn's master and workers after the restart.
    new_pids: tuple[int, ...]


def restart_replica(stack: Replicas, replica: int, rollout: Rollout,
                    say: Callable[[str], None] | None = None) -> Restart:
    """Delete and replace ``replica`` as :mod:`this module <drills.stack.rollout>` describes; the
    stack's other replicas keep serving. Raises what a reload or a start raised."""
    service = stack.services[replica]
    deleted_at, t0 = time.time(), time.monotonic()
    dropped: list[Reload] = []
    failed: list[BaseException] = []

    def drop() -> None:
        try:
            _sleep_until(t0 + rollout.endpoint_lag_s)
            dropped.append(stack.take_out(replica))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failed.append(exc)

    control_plane = threading.Thread(target=drop, name=f"drills-endpoint-{replica}", daemon=True)
    control_plane.start()
    _sleep_until(t0 + rollout.pre_stop_s)
    termination = service.terminate(kill_after_s=rollout.termination_grace_s - rollout.pre_stop_s)
    control_plane.join()
    if failed:
        raise failed[0]
    if say:
        say(f"  replica {replica}: SIGTERM → exit {termination.took_s:.2f} s"
            f"{' (killed at the grace period)' if termination.killed else ''}")
    started_at, started = time.time(), time.monotonic()
    boot_s = service.start_again()
    # The kubelet probes at the start and every period: the first probe after the replica is ready.
    _sleep_until(started + math.ceil(boot_s / rollout.readiness_period_s) * rollout.readiness_period_s)
    deadline = time.monotonic() + service.config.start_timeout_s
    while http_get(service.port, "/readyz", timeout_s=2.0).status != 200:
        if time.monotonic() > deadline:
            raise ComponentError(service.name, f"replica {replica} restarted but never passed its readiness probe")
        _sleep_until(time.monotonic() + rollout.readiness_period_s)
    ready_at = time.time()
    back = stack.put_back(replica)
    return Restart(replica, service.port, deleted_at, dropped[0], termination, started_at, ready_at, back,
                   service.pids())


def _sleep_until(deadline: float) -> None:
    left = deadline - time.monotonic()
    if left > 0:
        time.sleep(left)
