"""The pool drill's parameters for Flask and Django on Gunicorn's ``gthread`` workers
(``notes/framework-drills.md`` §6).

Both configurations give a worker more threads than its pool has connections: a ``sync`` worker
serves one request and holds at most one pooled connection, so its pool could neither grow under
load nor run out, and the bound would hold by construction. The pool is the FastAPI drill's
(``PooledServiceParams``: 4 per worker, a 1 s wait, nginx at 10 s: the papers' values × 0.5), as
SQLAlchemy's QueuePool (``pool_size = pool_min_size``, ``max_overflow = pool_max_size −
pool_min_size``) for Flask and Django's psycopg pool (``min_size``, ``max_size``) for Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ....errors import ParameterError
from ....params import require_between, require_choices, require_less, split_names
from ...pooled import PooledServiceParams
from ...recommended_stack import LOAD_DRILL_TIME_SCALE, scaled_s

CONFIGURATIONS = ("recommended", "gthread")
FRAMEWORKS = ("flask", "django")
DRILL = "pool-exhaustion"
#: SQLAlchemy's ``pool_timeout`` and Django's pool ``timeout`` (psycopg_pool's) when not set: 30 s
#: (FACTS-wsgi §3, §4), the harm the gthread configuration's falsifier puts in its slot.
FRAMEWORK_DEFAULT_POOL_TIMEOUT_S = 30.0
#: Steps with at least this many users per pool slot are judged against capacity.
PLATEAU_FACTOR = 2


def drill_name(framework: str) -> str:
    return f"{DRILL}-{framework}"


@dataclass(frozen=True, kw_only=True)
class FlaskPoolParams(PooledServiceParams):
    """Knobs of the pool drill for Flask (``pool-exhaustion-flask``). Seconds unless the name says
    otherwise."""

    FRAMEWORK: ClassVar[str] = "flask"
    LOAD_FIELDS: ClassVar[tuple[str, ...]] = ("concurrency_steps",)

    #: The service under test (one drill per framework: ``drill_name``).
    framework: str = "flask"
    # The pool opens this many connections at boot and grows to pool_max_size under load: below it,
    # so that the server's bound is put to the test by the load.
    pool_min_size: int = 1
    #: gthread threads per worker in the recommended configuration: more than the pool's connections
    #: (by two at least: a pool two larger than declared must be able to show).
    threads: int = 8
    # Saturation: closed-loop users per step, each request holding a connection for hold_s.
    concurrency_steps: str = "4,16,32"
    step_s: float = 5.0
    warmup_s: float = 1.5
    # Exhaustion (the gthread configuration): users that all hold a connection exhaust_hold_s, more
    # of them than the pools have connections, on threads enough for every user on one worker.
    exhaust_users: int = 40
    exhaust_threads: int = 40
    exhaust_hold_s: float = 4.0
    #: Longer than nginx's read timeout: a request that hangs past it is seen.
    exhaust_s: float = 12.0
    # Measurement.
    configurations: str = ",".join(CONFIGURATIONS)
    locust_workers: int = 0
    sample_interval_s: float = 0.25
    capacity_tolerance_pct: float = 15.0
    #: The pool's 503 may come this much later than its wait (as the FastAPI drill's), plus tolerance_ms.
    latency_tolerance_pct: float = 25.0
    tolerance_ms: float = 50.0

    def check(self) -> None:
        require_choices("framework", [self.framework], FRAMEWORKS)
        if self.framework != self.FRAMEWORK:
            raise ParameterError("framework", self.framework,
                                 f"{drill_name(self.FRAMEWORK)} runs {self.FRAMEWORK}; run {drill_name(self.framework)}")
        self.check_service()
        require_between("pool_min_size", self.pool_min_size, 1, 100)  # QueuePool: pool_size 0 means unbounded
        if self.pool_min_size >= self.pool_max_size:
            raise ParameterError("pool_min_size", self.pool_min_size,
                                 f"must be below pool_max_size={self.pool_max_size}: pools that open every slot at "
                                 "boot meet the server's bound before any load, so the load would not test it")
        self.check_budget()
        require_between("threads", self.threads, self.pool_max_size + 2, 64)
        steps = self.steps()
        if steps != sorted(steps):
            raise ParameterError("concurrency_steps", self.concurrency_steps, "must be ascending")
        if not self.plateau_users():
            raise ParameterError("concurrency_steps", self.concurrency_steps,
                                 f"needs a step of ≥ {PLATEAU_FACTOR} × slots = {PLATEAU_FACTOR * self.slots} users "
                                 "to judge the capacity on")
        require_between("step_s", self.step_s, 1, 120, "s")
        require_between("warmup_s", self.warmup_s, 0, self.step_s - 0.5, "s")
        self._check_exhaustion()
        require_choices("configurations", self.selected_configurations(), CONFIGURATIONS)
        require_between("locust_workers", self.locust_workers, 0, 16)
        require_between("sample_interval_s", self.sample_interval_s, 0.05, 5, "s")
        require_between("capacity_tolerance_pct", self.capacity_tolerance_pct, 1, 100, "%")
        require_between("latency_tolerance_pct", self.latency_tolerance_pct, 1, 100, "%")
        require_between("tolerance_ms", self.tolerance_ms, 1, 10_000, "ms")

    def _check_exhaustion(self) -> None:
        """The gthread configuration must exhaust the pools and show where the excess goes."""
        require_between("exhaust_users", self.exhaust_users, self.slots + 1, 64)
        require_between("exhaust_threads", self.exhaust_threads, self.exhaust_users, 64)
        require_less("pool_timeout_s", self.pool_timeout_s, "exhaust_hold_s", self.exhaust_hold_s,
                     "a request waiting for a connection must time out before one is handed back")
        require_less("exhaust_hold_s + pool_timeout_s", self.exhaust_hold_s + self.pool_timeout_s,
                     "proxy_read_timeout_s", self.proxy_read_timeout_s,
                     "an admitted request must be answered before nginx gives up")
        require_less("proxy_read_timeout_s", self.proxy_read_timeout_s, "exhaust_s", self.exhaust_s,
                     "the load must outlast nginx's read timeout, or a hang past it would not be seen")
        require_between("exhaust_s", self.exhaust_s, 1, 120, "s")

    def selected_configurations(self) -> list[str]:
        return split_names(self.configurations)

    def planned_load(self) -> tuple[float | None, float]:
        return None, len(self.steps()) * self.step_s + 2.0

    def steps(self) -> list[int]:
        try:
            values = [int(v) for v in self.concurrency_steps.split(",") if v.strip()]
        except ValueError:
            raise ParameterError("concurrency_steps", self.concurrency_steps,
                                 "must be whole numbers separated by commas, e.g. 4,16,32") from None
        if not values or any(not 1 <= v <= 1000 for v in values):
            raise ParameterError("concurrency_steps", self.concurrency_steps, "each step must be 1–1000 users")
        return values

    # -- the arithmetic ---------------------------------------------------------------------------

    @property
    def slots(self) -> int:
        """Connections the service can use at once: workers × min(threads, pool_max_size)."""
        return self.workers * min(self.threads, self.pool_max_size)

    @property
    def budget(self) -> int:
        """The fleet's connection budget: workers × pool_max_size (SQLAlchemy: workers × (pool_size +
        max_overflow); Django: workers × max_size), whatever the threads."""
        return self.workers * self.pool_max_size

    def plateau_users(self) -> list[int]:
        """The steps judged against capacity: every slot busy on every worker."""
        return [u for u in self.steps() if u >= PLATEAU_FACTOR * self.slots]

    def pool_503_window_ms(self) -> tuple[float, float]:
        """When the pool's named 503 may reach the client: its wait, less tolerance_ms, up to the
        wait plus latency_tolerance_pct of it plus tolerance_ms."""
        wait_ms = self.pool_timeout_s * 1000
        return wait_ms - self.tolerance_ms, wait_ms * (1 + self.latency_tolerance_pct / 100) + self.tolerance_ms

    def longest_admitted_ms(self) -> float:
        """The longest a request that got its connection within the pool's wait may take."""
        return self.exhaust_hold_s * 1000 + self.pool_503_window_ms()[1]

    @staticmethod
    def default_pool_timeout_s() -> float:
        """The frameworks' default pool wait as the load drills run it (30 s × 0.5)."""
        return scaled_s(FRAMEWORK_DEFAULT_POOL_TIMEOUT_S, LOAD_DRILL_TIME_SCALE)


@dataclass(frozen=True, kw_only=True)
class DjangoPoolParams(FlaskPoolParams):
    """The same drill for Django's psycopg pool (``pool-exhaustion-django``)."""

    FRAMEWORK: ClassVar[str] = "django"

    framework: str = "django"
