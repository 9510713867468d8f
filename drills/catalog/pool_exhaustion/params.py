"""The pool-exhaustion drill's parameters: the pool, the saturation steps, the oversubscribed and
bounded configurations, the measuring — and the capacity arithmetic the hypotheses predict from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ...errors import ParameterError
from ...params import SUPERUSER_RESERVED_CONNECTIONS, require_between, require_choices, require_positive, split_names
from ...stats import samples_to_bound
from ..pooled import PooledServiceParams

CONFIGURATIONS = ("recommended", "oversubscribed", "bounded")
#: The drill's own superuser connections at the peak beyond the app's (the census and one admin
#: probe); in the recommended run the pg_stat_activity sampler adds one from the start.
DRILL_CONNECTIONS = 2
#: Steps with at least this many users per pool slot are judged against capacity (see plateau_users).
PLATEAU_FACTOR = 4


@dataclass(frozen=True, kw_only=True)
class Params(PooledServiceParams):
    """Knobs of the pool-exhaustion drill. Seconds unless the name says otherwise."""

    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ("concurrency_steps",)

    # Each Gunicorn worker's pool opens this many connections at boot and grows to max_size (see the
    # base) under load: below max_size, so that the server's bound is put to the test by the load.
    pool_min_size: int = 1
    # Saturation: closed-loop users per step.
    concurrency_steps: str = "4,8,16,32,64,128"
    step_s: float = 5.0
    warmup_s: float = 1.5
    # Oversubscription: more pool slots than the server allows. The users are more than the slots
    # the server grants can serve within pool_timeout_s, and fewer than the promised slots could.
    oversubscribed_max_connections: int = 10
    oversubscribed_pool_max_size: int = 10
    oversubscribed_users: int = 96
    # Bounded waiting.
    max_waiting: int = 4
    bounded_users: int = 64
    #: Each bounded-run user sends at most one request per this many seconds: an offered load of
    #: bounded_users ÷ pacing, without a storm of instant retries after each fast 503.
    bounded_pacing_s: float = 0.25
    #: How long the bounded run sends its load: long enough to admit the ≥ 368 requests that bound
    #: the admitted p99 from above (at the default capacity of 80 req/s: ≥ 4.6 s).
    bounded_s: float = 6.0
    # Measurement.
    configurations: str = ",".join(CONFIGURATIONS)
    locust_workers: int = 0
    sample_interval_s: float = 0.25
    capacity_tolerance_pct: float = 15.0
    latency_tolerance_pct: float = 25.0
    tolerance_ms: float = 50.0

    def check(self) -> None:
        self.check_service()
        require_between("pool_min_size", self.pool_min_size, 0, 100)
        if self.pool_max_size < max(1, self.pool_min_size):
            raise ParameterError("pool_max_size", self.pool_max_size,
                                 f"must be ≥ pool_min_size={self.pool_min_size} and ≥ 1")
        if self.pool_min_size >= self.pool_max_size:
            raise ParameterError("pool_min_size", self.pool_min_size,
                                 f"must be below pool_max_size={self.pool_max_size}: pools that open every slot at "
                                 "boot meet the server's bound before any load, so the load would not test it")
        for name in ("step_s", "sample_interval_s"):
            require_positive(name, getattr(self, name))
        require_between("step_s", self.step_s, 1, 120, "s")
        require_between("warmup_s", self.warmup_s, 0, self.step_s - 0.5, "s")
        self.check_budget()
        steps = self.steps()
        if steps != sorted(steps):
            raise ParameterError("concurrency_steps", self.concurrency_steps, "must be ascending")
        require_between("oversubscribed_max_connections", self.oversubscribed_max_connections, 5, 10_000)
        require_between("oversubscribed_pool_max_size", self.oversubscribed_pool_max_size, 1, 100)
        reserved = SUPERUSER_RESERVED_CONNECTIONS
        if self.workers * self.oversubscribed_pool_max_size <= self.oversubscribed_max_connections - reserved:
            raise ParameterError(
                "oversubscribed_pool_max_size", self.oversubscribed_pool_max_size,
                f"workers × it must exceed oversubscribed_max_connections − {reserved} = "
                f"{self.oversubscribed_max_connections - reserved}, or nothing is oversubscribed")
        require_between("oversubscribed_users", self.oversubscribed_users, 1, 1000)
        require_between("max_waiting", self.max_waiting, 1, 1000)
        bound = self.workers * (self.pool_max_size + self.max_waiting)
        if self.bounded_users <= bound:
            raise ParameterError("bounded_users", self.bounded_users,
                                 f"must exceed workers × (pool_max_size + max_waiting) = {bound} to pass the bound")
        require_between("bounded_users", self.bounded_users, 1, 1000)
        require_between("bounded_pacing_s", self.bounded_pacing_s, 0.0, 10.0, "s")
        require_between("bounded_s", self.bounded_s, 1, 120, "s")
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)
        require_between("locust_workers", self.locust_workers, 0, 16)
        require_between("sample_interval_s", self.sample_interval_s, 0.05, 5, "s")
        require_between("capacity_tolerance_pct", self.capacity_tolerance_pct, 1, 100, "%")
        require_between("latency_tolerance_pct", self.latency_tolerance_pct, 1, 100, "%")
        require_between("tolerance_ms", self.tolerance_ms, 1, 10_000, "ms")
        self._check_harms()
        total = (len(steps) + 1) * self.step_s + self.bounded_s
        if total > 600:
            raise ParameterError("step_s", self.step_s, f"the plan would send load for {total:g} s; keep it ≤ 600 s")

    def _check_harms(self) -> None:
        """The oversubscribed and bounded runs must be able to show their harm, where they run
        (on the local stack, when selected): otherwise their claims could not fail or hold."""
        if self.target_url:
            return
        chosen = self.selected_configurations()
        timeout = self.pool_timeout_s
        if "oversubscribed" in chosen:
            granted, promised = self.granted_slots, self.workers * self.oversubscribed_pool_max_size
            low, high = self.overload_users(granted), self.overload_users(promised, 0.8)
            if not low < self.oversubscribed_users < high:
                raise ParameterError(
                    "oversubscribed_users", self.oversubscribed_users,
                    f"must lie between {low:.0f} (the {granted} slots the server grants wait past "
                    f"pool_timeout_s={timeout:g}) and {high:.0f} (the {promised} promised slots wait under 0.8 × it)")
        tol = self.capacity_tolerance_pct / 100
        if "bounded" in chosen and self.bounded_pacing_s > 0 and \
                self.bounded_users / self.bounded_pacing_s * (1 - tol) <= self.capacity_rps * (1 + tol):
            raise ParameterError("bounded_pacing_s", self.bounded_pacing_s,
                                 f"bounded_users ÷ it must offer more than the capacity of {self.capacity_rps:.0f} "
                                 f"req/s, each within capacity_tolerance_pct, or no request need meet the bound")
        needed = samples_to_bound(99)
        if "bounded" in chosen and self.capacity_rps * self.bounded_s < needed:
            raise ParameterError("bounded_s", self.bounded_s,
                                 f"the bounded run admits about capacity × bounded_s = "
                                 f"{self.capacity_rps * self.bounded_s:.0f} requests; bounding their p99 takes "
                                 f"≥ {needed}: raise it to ≥ "
                                 f"{needed / self.capacity_rps:.1f} s")

    def _check_target(self) -> None:
        super()._check_target()
        # The users are paced under the cap: a cap below the capacity would measure the cap.
        if self.target_url and 0 < self.target_max_rps < self.capacity_rps * (1 + self.capacity_tolerance_pct / 100):
            raise ParameterError(
                "target_max_rps", self.target_max_rps,
                f"must exceed the capacity the drill saturates, slots ÷ hold = {self.capacity_rps:.0f} req/s, by "
                f"more than capacity_tolerance_pct ({self.capacity_tolerance_pct:g} %), or it measures the cap")

    def selected_configurations(self) -> list[str]:
        return split_names(self.configurations)

    def duration_s(self, configuration: str) -> float:
        """How long each step of a configuration's load lasts: the bounded run has its own."""
        return self.bounded_s if configuration == "bounded" else self.step_s

    def planned_load(self) -> tuple[float | None, float]:
        """On a target: the recommended steps and the drain; closed-loop, so the rate is capped by
        pacing the users (LoadPlan.max_rps), not known in advance."""
        return None, len(self.steps()) * self.step_s + 2.0

    def steps(self) -> list[int]:
        try:
            values = [int(v) for v in self.concurrency_steps.split(",") if v.strip()]
        except ValueError:
            raise ParameterError("concurrency_steps", self.concurrency_steps,
                                 "must be whole numbers separated by commas, e.g. 4,8,16") from None
        if not values or any(not 1 <= v <= 1000 for v in values):
            raise ParameterError("concurrency_steps", self.concurrency_steps, "each step must be 1–1000 users")
        return values

    # -- the capacity arithmetic (slots and capacity_rps come from PooledServiceParams) ---------

    def queue_wait_s(self, users: int) -> float:
        """Predicted wait for a connection with ``users`` closed-loop users (0 below capacity)."""
        return max(0, users - self.slots) * self.hold_s / self.slots

    def plateau_users(self) -> list[int]:
        """The steps judged against capacity and the queue model: well past capacity (each worker's
        own pool saturates only from about PLATEAU_FACTOR × slots users: keep-alive connections
        stick to the worker that accepted them) and with a predicted wait inside the pool timeout."""
        return [u for u in self.steps() if u >= PLATEAU_FACTOR * self.slots
                and self.queue_wait_s(u) < self.pool_timeout_s * 0.8]

    def predicted_latency_s(self, users: int) -> float:
        return self.hold_s + self.queue_wait_s(users)

    @property
    def granted_slots(self) -> int:
        """What the oversubscribed server grants the app: oversubscribed_max_connections − reserved."""
        return self.oversubscribed_max_connections - SUPERUSER_RESERVED_CONNECTIONS

    def oversubscribed_wait_s(self, slots: int) -> float:
        """Predicted wait of the oversubscribed run's users on ``slots`` connections."""
        return max(0, self.oversubscribed_users - slots) * self.hold_s / slots

    def overload_users(self, slots: int, share_of_timeout: float = 1.0) -> float:
        """Closed-loop users at which ``slots`` connections make requests wait share × pool_timeout_s."""
        return slots + share_of_timeout * self.pool_timeout_s * slots / self.hold_s
