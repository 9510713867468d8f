"""The one run loop every drill goes through.

For each selected configuration: start the deployment (the local stack with the configuration's
settings, or the target as it is), check a target runs what the parameters predict from, read the
settings back, take the configuration's measurements. Then judge every hypothesis, mark as *not
judged* what the deployment could not show, assemble and save the findings with tables, charts and
provenance, and record the run in the history beside the run folders.

When a configuration fails or is interrupted midway, what was measured is kept in
``partial.json`` (with where the run stopped and why) before the error goes on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import provenance
from ..errors import DrillsError, ParameterError
from ..files import write_atomic
from ..findings import Findings
from ..history import prose_sha256, record, run_id_for, runs_root
from ..paths import papers_dir, project_root
from ..redact import redact_value
from .falsify import Falsification, Falsifier, catches_of, unfalsified
from .spec import DrillSpec, M, Measuring, P, Progress, print_progress
from .targets import capabilities_of, check_target_settings, open_deployment, restrict

PARTIAL_FILE = "partial.json"


def run_drill(spec: DrillSpec[P, M], params: P, run_dir: Path | str, progress: Progress | None = None, *,
              falsifier: Falsifier[P] | None = None) -> Findings:
    """Run ``spec`` with ``params``; save its findings and charts in ``run_dir``; return the findings.

    With ``falsifier``, only its configuration runs, on the falsifier's harmful stack, and only the
    measurements its hypotheses are judged on; it is judged as usual, draws no charts (nothing
    exports them) and is not recorded in the history.
    """
    say = progress or print_progress
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    target = params.target()
    if falsifier is not None and target is not None:
        raise ParameterError("target_url", target.url.url, "falsifiers start stacks of their own; they run on "
                             "the local stack only (leave target_url empty)")
    started_at, clock = provenance.utc_now(), time.monotonic()
    chosen = params.selected_configurations() if falsifier is None else [falsifier.configuration]
    by_name = {c.name: c for c in spec.configurations}
    configurations = [by_name[n] for n in chosen if target is None or by_name[n].on_target]
    runs: dict[str, M] = {}
    settings: dict[str, dict[str, Any]] = {}
    components: dict[str, str] = {}
    where = "before the first configuration"
    measuring: Measuring[P] | None = None
    try:
        for index, configuration in enumerate(configurations, 1):
            name = configuration.name
            where = f"configuration {index}/{len(configurations)} ({name}), starting"
            say(f"[{spec.name}] {index}/{len(configurations)} {name}: "
                + (f"against the target {target.url.url} (not owned) …" if target else
                   "starting PostgreSQL, Gunicorn and nginx …"))
            stack = spec.stack_config(params, name)
            if falsifier is not None:
                stack = falsifier.stack(params, stack)
            with open_deployment(target, stack) as deployment:
                check_target_settings(params, deployment, spec.target_settings)
                say(f"  {name}: {'stack' if deployment.owned else 'target'} ready in {deployment.ready_s:.2f} s "
                    f"({deployment.describe()})")
                settings[name] = {**(spec.describe(params, name) if spec.describe else {}), **deployment.read_back()}
                if target is None and stack.client_retry is not None:
                    settings[name]["client"] = stack.client_retry.settings()
                components = components or deployment.component_versions()
                for run in (configuration.measurements if falsifier is None
                            else falsifier.measurements(configuration.measurements)):
                    where = f"configuration {index}/{len(configurations)} ({name}), measuring {run}"
                    measuring = Measuring(deployment, params, name, run, say, run_dir=run_dir,
                                          stack=stack if target is None else None)
                    runs[run] = spec.measure(measuring)
                    measuring = None
            say(f"  {name}: {'stack stopped' if target is None else 'done'}")
    except BaseException as exc:
        kept = _keep_partial(spec, run_dir, runs, measuring, where, exc)
        say(f"[{spec.name}] stopped at {where}: {type(exc).__name__}: {exc}; what was measured is in {kept}")
        raise
    say(f"[{spec.name}] judging …")
    result = _findings(spec, params, runs, run_dir, started_at, clock, components, settings, target, falsifier)
    result.charts = spec.draw(params, runs, run_dir) if falsifier is None else []
    result.save(run_dir)
    if falsifier is None:
        record(result, runs_root(run_dir))
        if target is None:
            _judge_reused(spec, params, runs, run_dir, started_at, clock, components, settings, say)
    outcome = result.summary() if falsifier is None else (
        f"under {falsifier.name}: " + _counts(result))
    say(f"[{spec.name}] {outcome} in {time.monotonic() - clock:.1f} s; findings in {run_dir}")
    return result


def _findings(spec: DrillSpec[P, M], params: P, runs: Mapping[str, M], run_dir: Path, started_at: str, clock: float,
              components: dict[str, str], settings: dict[str, dict[str, Any]], target: Any,
              falsifier: Falsifier[P] | None) -> Findings:
    return Findings(
        drill=spec.name, paper=spec.paper, run_id=run_id_for(run_dir), started_at=started_at,
        finished_at=provenance.utc_now(), parameters=params.to_dict(),
        provenance=provenance.collect(project_root(), components, measuring_s=round(time.monotonic() - clock, 2),
                                      paper_prose_sha256=_paper_sha256(spec.paper),
                                      load_generator=spec.load_generator),
        settings=settings,
        findings=restrict(spec.judge(params, runs), capabilities_of(target), spec.needs),
        tables=spec.tables(params, runs),
        observations=spec.observations(runs),
        target=target.describe() if target else None,
        falsifier=falsifier.name if falsifier else None,
    )


def _counts(result: Findings) -> str:
    return ", ".join(f"{n} {v.value}" for v, n in result.counts().items() if n)


def reusable(spec: DrillSpec[P, M], params: P, falsifier: Falsifier[P]) -> str | None:
    """The configuration whose measurement the drill's own run took that ``falsifier`` may be judged
    on instead of running its stack again, or None.

    Only where its harmful stack equals, setting for setting, the stack that configuration starts;
    that the slot measures it by the same procedure the drill declares (``same_as``) and its tests
    check.
    """
    if falsifier.same_as is None:
        return None
    slot_run, source_run = falsifier.same_as
    slot = next((c for c in spec.configurations if c.name == falsifier.configuration), None)
    source = next((c for c in spec.configurations if source_run in c.measurements), None)
    if slot is None or source is None or slot_run not in slot.measurements:
        raise ValueError(f"falsifier {falsifier.name}: same_as={falsifier.same_as} names no measurement of "
                         f"{falsifier.configuration} and of another configuration")
    harmful = falsifier.stack(params, spec.stack_config(params, falsifier.configuration))
    return source.name if harmful == spec.stack_config(params, source.name) else None


def _judge_reused(spec: DrillSpec[P, M], params: P, runs: Mapping[str, M], run_dir: Path, started_at: str,
                  clock: float, components: dict[str, str], settings: dict[str, dict[str, Any]],
                  say: Progress) -> None:
    """The falsifiers whose harmful stack this run already measured: judged now, on that measurement
    in their slot's place, and saved where ``falsify_drill`` finds them."""
    chosen = params.selected_configurations()
    for falsifier in spec.falsifiers:
        if falsifier.same_as is None:
            continue
        slot_run, source_run = falsifier.same_as
        source = reusable(spec, params, falsifier)
        if source is None or falsifier.configuration not in chosen or source_run not in runs:
            continue
        folder = run_dir / FALSIFIERS_DIR / falsifier.name
        folder.mkdir(parents=True, exist_ok=True)
        under = _findings(spec, params, {slot_run: runs[source_run]}, folder, started_at, clock, components,
                          {falsifier.configuration: settings.get(source, {})}, None, falsifier)
        under.save(folder)
        say(f"[{spec.name}] under {falsifier.name}: {_counts(under)}, {_reused_how(falsifier)}")


def _keep_partial(spec: DrillSpec[P, M], run_dir: Path, runs: Mapping[str, M], measuring: Measuring[P] | None,
                  where: str, exc: BaseException) -> Path:
    """Save what the finished measurements and the one in progress observed, and where it stopped."""
    path = run_dir / PARTIAL_FILE
    try:
        observations = spec.observations(runs)
    except Exception as inner:  # noqa: BLE001 - keep at least the rows and the reason
        observations = [{"error": f"observations of the finished measurements: {inner}"}]
    body = {"drill": spec.name, "stopped_at": where, "error": f"{type(exc).__name__}: {exc}",
            "finished": list(runs), "observations": observations,
            "in_progress": {"run": measuring.run, "rows": measuring.kept} if measuring else None}
    write_atomic(path, json.dumps(redact_value(body), indent=1, default=str) + "\n")
    return path


def _paper_sha256(paper: str) -> str | None:
    """The paper's prose as the drill ran: `drills status` calls the paper stale if it changes."""
    path = papers_dir() / paper
    return prose_sha256(path.read_text(encoding="utf-8")) if path.exists() else None


#: Where a run's falsifiers run: ``<run folder>/falsifiers/<falsifier>/`` (never exported themselves).
FALSIFIERS_DIR = "falsifiers"


def falsify_drill(spec: DrillSpec[P, M], findings: Findings, run_dir: Path | str,
                  progress: Progress | None = None) -> Falsification:
    """Run every falsifier of ``spec`` with the parameters of the run in ``run_dir`` (whose
    ``findings``), each on its harmful stack; save and return which hypotheses each caught.

    A falsifier that cannot run (a component that does not start) is an error of the falsification,
    never a catch; Ctrl-C and SIGTERM go on through.
    """
    say = progress or print_progress
    run_dir = Path(run_dir)
    params = spec.params.from_mapping(findings.parameters)
    judged = [f.key for f in findings.findings]
    result = Falsification(spec.name, unfalsified=unfalsified(spec.falsifiers, judged))
    selected = params.selected_configurations()
    for index, falsifier in enumerate(spec.falsifiers, 1):
        if falsifier.configuration not in selected:
            continue  # its configuration did not run: neither caught nor blind
        say(f"[{spec.name}] falsifier {index}/{len(spec.falsifiers)} {falsifier.name}: {falsifier.harm} "
            f"in the {falsifier.configuration} slot; must fail {', '.join(falsifier.catches)}")
        folder = run_dir / FALSIFIERS_DIR / falsifier.name
        try:
            under = _already_judged(spec, params, falsifier, folder)
            if under is not None:
                how = _reused_how(falsifier)
                say(f"  {how}: {_counts(under)}")
            else:
                narrowed = falsifier.params_for(params)
                how = _narrowed_how(params, narrowed)
                if how:
                    say(f"  sending {how}")
                under = run_drill(spec, narrowed, folder, say, falsifier=falsifier)
        except DrillsError as exc:
            result.errors[falsifier.name] = str(exc).splitlines()[0]
            continue
        result.catches += [c for c in catches_of(falsifier, under.findings, how) if c.key in judged]
    result.save(run_dir)
    say(f"[{spec.name}] {result.summary()}")
    return result


def _already_judged(spec: DrillSpec[P, M], params: P, falsifier: Falsifier[P], folder: Path) -> Findings | None:
    """The falsifier's findings the drill run judged on its own measurement (``reusable``), if that
    run had these parameters; else None, and the falsifier runs its stack."""
    if reusable(spec, params, falsifier) is None or not (folder / "findings.json").is_file():
        return None
    under = Findings.load(folder)
    return under if under.falsifier == falsifier.name and under.parameters == params.to_dict() else None


def _reused_how(falsifier: Falsifier[P]) -> str:
    slot_run, source_run = falsifier.same_as or ("", "")
    return f"judged on this run's {source_run} measurement (this stack, measured as {slot_run} is)"


def _narrowed_how(params: P, narrowed: P) -> str:
    """"only concurrency_steps=128 (…)": what a falsifier's narrower load left out, or ""."""
    before = params.to_dict()
    changed = {k: v for k, v in narrowed.to_dict().items() if v != before[k]}
    return ("only " + ", ".join(f"{k}={v}" for k, v in changed.items()) + " (what its checks are judged on)"
            if changed else "")
