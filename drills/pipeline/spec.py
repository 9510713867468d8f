"""A drill, declared: what it runs, how it measures, judges and reports — as one typed spec.

Every drill is a :class:`DrillSpec` in ``drills/catalog/<drill>/__init__.py``; the registry in
``drills/catalog/__init__.py`` maps its name to it. The run loop (``drills.pipeline.loop``) does the
rest the same way for every drill: deployment, read-back, measuring per configuration, judging,
restriction on targets, saving findings (also when a run stops midway) and history.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..deployment import Capability, Deployment
from ..findings import Chart, Finding
from ..params import DrillParams
from ..stack import StackConfig, samples_file
from ..stack.loadgen import LoadResult
from .falsify import Falsifier

P = TypeVar("P", bound=DrillParams)
M = TypeVar("M")

#: Where progress lines go: printed by default, or a caller's callback.
Progress = Callable[[str], None]


def print_progress(message: str) -> None:
    print(message, flush=True)


@dataclass(frozen=True)
class Configuration:
    """One stack configuration a drill starts, and the measurements it takes on that stack."""

    name: str
    #: The measurements taken on this one stack, in order; empty: one, named like the configuration.
    runs: tuple[str, ...] = ()
    #: Also measured against a target the drill does not own (as deployed there).
    on_target: bool = False

    @property
    def measurements(self) -> tuple[str, ...]:
        return self.runs or (self.name,)


@dataclass
class Measuring(Generic[P]):
    """What a drill's ``measure`` gets for one measurement on a ready deployment."""

    deployment: Deployment
    params: P
    #: The configuration the deployment was started with, and this measurement's name.
    configuration: str
    run: str
    say: Progress
    #: JSON-ready rows a measurement keeps as it goes: saved if the run stops midway.
    kept: list[dict[str, Any]] = field(default_factory=list)
    #: The stack this configuration started (a falsifier's harmful one in its slot); None on a target.
    stack: StackConfig | None = None
    #: The run's folder, where a Locust run's raw samples are kept (``keep_samples``); None: nowhere.
    run_dir: Path | None = None

    def keep_samples(self, load: LoadResult) -> Path | None:
        """Keep a Locust run's raw per-request samples in the run folder's ``samples.parquet``, as
        measurement ``run``, with what re-cutting its steps needs; as soon as it is measured, so that
        a run that stops later keeps them. The findings' observations name the same measurements."""
        if self.run_dir is None:
            return None
        return samples_file.keep(self.run_dir, self.run, load.samples, {
            "started_s": load.started_s, "path": load.plan.path, "locust_workers": load.plan.workers,
            "steps": [{"users": s.users, "duration_s": s.duration_s} for s in load.plan.steps],
            "step_bounds_s": load.step_bounds()})

    def load_caps(self) -> dict[str, Any]:
        """LoadPlan's guard arguments: the allow-list, and the deployment's caps on load."""
        return {"allow_hosts": self.params.allow_hosts, "max_rps": self.deployment.max_rps,
                "max_duration_s": self.deployment.max_duration_s}


@dataclass(frozen=True, kw_only=True, eq=False)
class DrillSpec(Generic[P, M]):
    """A drill: its paper and notebook, parameters, configurations, and the four steps of its
    pipeline (measure, judge, tabulate, draw). ``M`` is what one measurement produces.

    Compared and hashed by identity: each drill has one spec, in the registry."""

    name: str
    #: File under papers/ whose verified section this drill writes.
    paper: str
    #: File under notebooks/.
    notebook: str
    params: type[P]
    configurations: tuple[Configuration, ...]
    #: The stack a configuration starts (scaled from the paper's recommended values).
    stack_config: Callable[[P, str], StackConfig]
    measure: Callable[[Measuring[P]], M]
    #: Every hypothesis, judged on the measurements taken (a missing one: inconclusive).
    judge: Callable[[P, Mapping[str, M]], list[Finding]]
    #: Summary tables for the paper: name -> rows, the first row the header.
    tables: Callable[[P, Mapping[str, M]], dict[str, list[list[str]]]]
    #: The raw observations, JSON-ready, for re-analysis (also of a run that stopped midway).
    observations: Callable[[Mapping[str, M]], list[dict[str, Any]]]
    #: Charts drawn into the run folder.
    draw: Callable[[P, Mapping[str, M], Path], list[Chart]]
    #: What judging a hypothesis key, or every hypothesis of a configuration, needs of the deployment.
    needs: Mapping[str, frozenset[Capability]] = field(default_factory=dict)
    #: Parameter -> the service's /config name: on a target they must agree before anything is sent.
    target_settings: Mapping[str, str] = field(default_factory=dict)
    #: Hypotheses whose values the paper shows as a trend over the last runs.
    headlines: tuple[str, ...] = ()
    #: Settings of a configuration the components cannot report themselves (e.g. the ladder's rungs).
    describe: Callable[[P, str], dict[str, Any]] | None = None
    #: For every hypothesis, a harmful stack under which it must come out failed (drills falsify).
    falsifiers: tuple[Falsifier[P], ...] = ()
    #: The factor by which its stacks scale the papers' production durations (its paper states it).
    time_scale: float = 0.2
    #: What sends its requests, for the paper's provenance: "Locust", or the drill's own client.
    load_generator: str = "the drill's own HTTP client"
    #: The framework the service under test is written in (``ServiceConfig.framework``).
    framework: str = "fastapi"
    #: The drill this spec is the ``framework`` variant of ("timeout-ladder" for
    #: "timeout-ladder-flask"); empty for the drill itself. Its paper shows the family side by side.
    family: str = ""

    @property
    def family_name(self) -> str:
        """The drill this spec belongs to: its own name, or the one it is a variant of."""
        return self.family or self.name

    @property
    def configuration_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.configurations)

    def params_from(self, namespace: Mapping[str, object]) -> P:
        """The drill's parameters from a notebook's globals (checked; unknown names refused)."""
        return self.params.from_namespace(namespace)
