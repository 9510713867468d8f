"""What every drill's ``run()`` does around its own measuring: progress, timing, read-back, findings."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dataclasses

from .. import provenance
from ..findings import Chart, Finding, Findings
from ..history import run_id_for
from ..params import DrillParams, require_between
from ..paths import project_root
from ..stack import LocalStack

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

    def starting(self, index: int, total: int, name: str) -> None:
        self.say(f"[{self.drill}] {index}/{total} {name}: starting PostgreSQL, Gunicorn and nginx …")

    def stack_ready(self, name: str, stack: LocalStack) -> dict[str, Any]:
        """Report the stack ready and return what its components run with (read back)."""
        self.say(f"  {name}: stack ready in {stack.ready_s:.2f} s (proxy on 127.0.0.1:{stack.proxy.port})")
        settings = stack.read_back()
        self._components = {"postgresql": settings["postgres"]["server_version"], "nginx": stack.proxy.binary.version}
        return settings

    def _paper_sha256(self) -> str | None:
        """The paper's prose as the drill ran: `drills status` calls the paper stale if it changes."""
        from ..history import prose_sha256
        from ..paths import papers_dir

        paper = papers_dir() / self.paper
        return prose_sha256(paper.read_text(encoding="utf-8")) if paper.exists() else None

    def finish(self, params: DrillParams, *, settings: dict[str, Any], findings: list[Finding],
               tables: dict[str, list[list[str]]], observations: list[dict[str, Any]],
               draw: Callable[[Findings, Path], list[Chart]]) -> Findings:
        """Assemble the findings, draw the charts, save ``findings.json``, and say the outcome."""
        result = Findings(
            drill=self.drill, paper=self.paper, run_id=run_id_for(self.run_dir), started_at=self.started_at,
            finished_at=provenance.utc_now(), parameters=params.to_dict(),
            provenance={**provenance.collect(project_root(), **self._components),
                        "measuring_s": round(time.monotonic() - self._clock, 2),
                        "paper_prose_sha256": self._paper_sha256()},
            settings=settings, findings=findings, tables=tables, observations=observations,
        )
        result.charts = draw(result, self.run_dir)
        result.save(self.run_dir)
        counts = result.counts()
        self.say(f"[{self.drill}] {'PASSED' if result.passed else 'FAILED'}: "
                 + ", ".join(f"{n} {v.value}" for v, n in counts.items())
                 + f" in {time.monotonic() - self._clock:.1f} s; findings in {self.run_dir}")
        return result
