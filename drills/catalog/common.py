"""What every drill's ``run()`` does around its own measuring: progress, timing, read-back, findings."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dataclasses

from .. import provenance
from ..errors import ParameterError
from ..findings import Chart, Finding, Findings, Verdict
from ..history import run_id_for
from ..params import DrillParams, require_between
from ..paths import project_root
from ..stack import LocalStack, StackConfig, local_stack
from ..target import EVERYTHING, Capability, TargetSpec
from ..target.remote import RemoteDeployment

#: What a drill measures through: the local stack it started, or a target it does not own.
Deployment = LocalStack | RemoteDeployment

Progress = Callable[[str], None]


@dataclasses.dataclass(frozen=True, kw_only=True)
class PooledServiceParams(DrillParams):
    """The service knobs the load drills share: an endpoint that holds a pooled connection for
    ``hold_s``, behind nginx. Seconds unless the name says otherwise."""

    hold_s: float = 0.1
    workers: int = 2
    pool_max_size: int = 4
    pool_timeout_s: float = 1.0
    proxy_read_timeout_s: float = 5.0
    max_connections: int = 20

    def check_service(self) -> None:
        require_between("hold_s", self.hold_s, 0.005, 5.0, "s")
        require_between("workers", self.workers, 1, 16)
        require_between("pool_max_size", self.pool_max_size, 1, 100)
        require_between("pool_timeout_s", self.pool_timeout_s, 0.01, 60, "s")
        require_between("proxy_read_timeout_s", self.proxy_read_timeout_s, 0.01, 600, "s")
        require_between("max_connections", self.max_connections, 8, 10_000)

    def selected_configurations(self) -> list[str]:
        return [c.strip() for c in str(getattr(self, "configurations", "")).split(",") if c.strip()]

    @property
    def slots(self) -> int:
        """Connections the service can hold at once: workers × pool_max_size."""
        return self.workers * self.pool_max_size

    @property
    def capacity_rps(self) -> float:
        """Little's law: at most slots ÷ hold time requests per second."""
        return self.slots / self.hold_s


@contextlib.contextmanager
def open_deployment(target: TargetSpec | None, config: StackConfig) -> Iterator[Deployment]:
    """The local stack started with ``config``, or, when ``target`` is set, the target as it is."""
    if target is None:
        with local_stack(config) as stack:
            yield stack
    else:
        with RemoteDeployment(target) as remote:
            yield remote


def check_target_settings(params: DrillParams, remote: Deployment, names: Mapping[str, str]) -> None:
    """Refuse to measure a target whose service runs with other settings than the drill's
    parameters say (``names``: parameter → the service's /config name): the predictions would
    be made for a service that is not there."""
    if remote.owned:
        return
    reported = remote.app_settings()  # type: ignore[union-attr]
    for param, name in names.items():
        value, theirs = getattr(params, param), reported.get(name)
        if theirs is None:
            continue
        if isinstance(theirs, str):  # a PostgreSQL setting as SHOW prints it ("1s", "500ms", "0")
            theirs = _pg_seconds(theirs)
        if theirs is not None and abs(float(theirs) - float(value)) > 1e-6:
            raise ParameterError(param, value, f"the target reports {name} = {reported.get(name)}; set "
                                 f"-p {param}={theirs:g} so that the drill predicts for the service that is there")


def _pg_seconds(text: str) -> float | None:
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    try:
        return float(number) * units.get(text[len(number):], 1e-3)  # bare numbers are milliseconds
    except ValueError:
        return None


def configurations_on(target: TargetSpec | None, selected: list[str], on_target: tuple[str, ...]) -> list[str]:
    """The selected configurations this run can start: all on the local stack, ``on_target`` on a target."""
    return [c for c in selected if target is None or c in on_target]


def load_caps(params: DrillParams, target: TargetSpec | None) -> dict[str, Any]:
    """LoadPlan's guard arguments for this run: the allow-list and, on a target, its caps."""
    return {"allow_hosts": params.allow_hosts, "max_rps": target.max_rps if target else None,
            "max_duration_s": target.max_duration_s if target else None}


def restrict(findings: list[Finding], target: TargetSpec | None,
             needs: Mapping[str, frozenset[Capability]]) -> list[Finding]:
    """Mark every finding whose hypothesis needs what the deployment does not allow as not judged.

    ``needs`` maps a hypothesis key, or a configuration (the key's first part), to what judging it
    requires; on the local stack (``target`` None: every capability) nothing changes.
    """
    capabilities = target.capabilities if target else EVERYTHING
    out = []
    for f in findings:
        need = needs.get(f.key, frozenset()) | needs.get(f.key.split(".", 1)[0], frozenset())
        missing = need - capabilities
        if missing:
            why = ("against a target it does not own the drill cannot "
                   + "; nor ".join(c.value for c in Capability if c in missing))
            f = dataclasses.replace(f, observed=None, samples=0, verdict=Verdict.NOT_JUDGED, detail=why)
        out.append(f)
    return out


class RateCap:
    """Spaces request starts at least ``1 / max_rps`` apart across threads (None: no cap)."""

    def __init__(self, max_rps: float | None) -> None:
        self.interval_s = 1.0 / max_rps if max_rps else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if not self.interval_s:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval_s
        time.sleep(max(0.0, start - now))


def print_progress(message: str) -> None:
    print(message, flush=True)


class Recorder:
    """Times one drill run, reports progress, and assembles and saves its Findings.

    ``run_dir`` is created; ``say`` prints progress lines (or forwards them to a caller's callback).
    """

    def __init__(self, drill: str, paper: str, run_dir: Path | str, progress: Progress | None = None) -> None:
        self.drill, self.paper = drill, paper
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.say: Progress = progress or print_progress
        self.started_at = provenance.utc_now()
        self._clock = time.monotonic()
        self._components: dict[str, str] = {}

    def starting(self, index: int, total: int, name: str, target: TargetSpec | None = None) -> None:
        self.say(f"[{self.drill}] {index}/{total} {name}: "
                 + (f"against the target {target.url.url} (not owned) …" if target else
                    "starting PostgreSQL, Gunicorn and nginx …"))

    def stack_ready(self, name: str, stack: Deployment) -> dict[str, Any]:
        """Report the stack ready and return what its components run with (read back)."""
        self.say(f"  {name}: {'stack' if stack.owned else 'target'} ready in {stack.ready_s:.2f} s ({stack.describe()})")
        settings = stack.read_back()
        if isinstance(stack, LocalStack):
            self._components = {"postgresql": settings["postgres"]["server_version"],
                                "nginx": stack.proxy.binary.version}
        elif "postgres" in settings:  # a target's database, read with DRILLS_TARGET_DSN
            self._components = {"postgresql (target)": settings["postgres"]["server_version"]}
        return settings

    def _paper_sha256(self) -> str | None:
        """The paper's prose as the drill ran: `drills status` calls the paper stale if it changes."""
        from ..history import prose_sha256
        from ..paths import papers_dir

        paper = papers_dir() / self.paper
        return prose_sha256(paper.read_text(encoding="utf-8")) if paper.exists() else None

    def finish(self, params: DrillParams, *, settings: dict[str, Any], findings: list[Finding],
               tables: dict[str, list[list[str]]], observations: list[dict[str, Any]],
               draw: Callable[[Findings, Path], list[Chart]], target: TargetSpec | None = None) -> Findings:
        """Assemble the findings, draw the charts, save ``findings.json``, and say the outcome."""
        result = Findings(
            target=target.describe() if target else None,
            drill=self.drill, paper=self.paper, run_id=run_id_for(self.run_dir), started_at=self.started_at,
            finished_at=provenance.utc_now(), parameters=params.to_dict(),
            provenance={**provenance.collect(project_root(), **self._components),
                        "measuring_s": round(time.monotonic() - self._clock, 2),
                        "paper_prose_sha256": self._paper_sha256()},
            settings=settings, findings=findings, tables=tables, observations=observations,
        )
        result.charts = draw(result, self.run_dir)
        result.save(self.run_dir)
        self.say(f"[{self.drill}] {result.summary()} in {time.monotonic() - self._clock:.1f} s; "
                 f"findings in {self.run_dir}")
        return result
