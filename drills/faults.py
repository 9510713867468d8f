"""The fault matrix: end real runs at chosen moments and count what each ending left behind.

Endings: SIGINT (Ctrl-C), SIGTERM (what `kill` and CI runners send), SIGKILL (a killed kernel:
nothing in the process can clean up) and an exception inside the run. Moments: while the stack
starts (PostgreSQL up and the service not yet; the service booting), while it serves, and during
an export (initdb running; the PostgreSQL server up, the app role not yet made; Gunicorn booting its
workers; the stack ready). Each trial runs in a child process tagged with its own ``DRILLS_RUN_TAG``, so what it
left is found by tag even with other runs on the machine. A trial left something when:

* a process of it still runs 10 s after the child ended (children die with their parent);
* a temp dir of it remains after the sweep that the next run performs (``drills clean``);
* its paper is not byte-identical to a complete export, or an export temp file remains after the
  next export.

``python -m drills.faults`` (part of ``make bench``) runs every cell ``--rounds`` times and prints
the table the README quotes; the tests run each cell once.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .stack.leftovers import PREFIXES, RUN_TAG_VARIABLE, claim, owner_tag, sweep, tagged_processes

ENDINGS = ("SIGINT", "SIGTERM", "SIGKILL", "exception")
STACK_MOMENTS = ("initdb", "postgres-starting", "service-starting", "serving")
#: What shows that a start moment has come: a process whose command line holds this.
_MOMENT_MARKERS = {"initdb": "/bin/initdb", "postgres-starting": "listen_addresses=", "service-starting": "gunicorn"}
EXPORT_MOMENT = "export"
#: A drill's notebook kernel started by the runner (sockets and connection file in a claimed dir).
KERNEL_MOMENT = "kernel"
#: Seconds a process of an ended run may take to go (the kernel delivers the parent-death signal
#: at once; PostgreSQL's fast shutdown and Gunicorn's graceful stop take a moment).
GRACE_S = 10.0

# The child that holds a stack. SIGTERM ends it as the drills CLI does (SystemExit); an
# "exception" ending makes one step of the start raise, or raises once the stack serves.
_STACK_CHILD = r"""
import signal, sys, time
from drills.stack import ServiceConfig, StackConfig, local_stack
from drills.stack.postgres import PostgresCluster
from drills.stack.proxy import NginxProxy

moment, ending = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

def injected(*args, **kwargs):
    raise RuntimeError("injected fault")

if ending == "exception" and moment == "initdb":
    PostgresCluster._initdb = injected               # nothing runs yet but the temp dir
if ending == "exception" and moment == "postgres-starting":
    PostgresCluster._create_app_role = injected      # the server runs; the stack is not ready
if ending == "exception" and moment == "service-starting":
    NginxProxy.start = injected                      # the service is up, nginx not yet
with local_stack(StackConfig(service=ServiceConfig(workers=2))) as stack:
    print("ready", flush=True)
    if ending == "exception":
        raise RuntimeError("injected fault")
    time.sleep(120)
"""

# The child that exports, over and over, two runs into one paper until it is ended.
_EXPORT_CHILD = r"""
import sys
from pathlib import Path
from drills.export import export_run

paper, one, two = map(Path, sys.argv[1:4])
print("exporting", flush=True)
while True:
    export_run(paper, one)
    export_run(paper, two)
"""


# The child that holds a notebook kernel as `drills run` starts it (drills.execute.kernel), until ended.
_KERNEL_CHILD = r"""
import asyncio, signal, sys, time
from drills.execute.kernel import kernel_manager_class

signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
ending = sys.argv[1]

async def hold() -> None:
    manager = kernel_manager_class()(kernel_name="python3")
    await manager.start_kernel()
    try:
        print("ready", manager.claimed_dir, flush=True)
        if ending == "exception":
            raise RuntimeError("injected fault")
        await asyncio.sleep(120)
    finally:
        await manager.shutdown_kernel(now=True)

asyncio.run(hold())
"""


@dataclass
class Trial:
    """One ending at one moment, and what it left."""

    ending: str
    moment: str
    #: False when the ending landed outside the moment it aimed at (e.g. the stack was already up).
    on_moment: bool = True
    processes_left: list[str] = field(default_factory=list)
    dirs_left: list[str] = field(default_factory=list)
    files_left: list[str] = field(default_factory=list)
    #: Temp dirs or files a later run removed because this one could not (SIGKILL).
    swept: int = 0
    detail: str = ""

    @property
    def clean(self) -> bool:
        return not (self.processes_left or self.dirs_left or self.files_left)


def _tagged_dirs(tag: str) -> list[str]:
    root = Path(tempfile.gettempdir())
    return sorted(p.name for p in root.iterdir() if p.name.startswith(PREFIXES) and owner_tag(p) == tag)


def _stack_dirs() -> set[str]:
    """Every stack temp dir on this machine now (a trial's new ones are the difference)."""
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(PREFIXES)}


def _temp_entries() -> set[str]:
    """Every drills temp entry, dir or file (a kernel's sockets are files), on this machine now."""
    return {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith("drills-")}


def _wait_for(predicate, timeout_s: float, interval_s: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False


def _end(child: subprocess.Popen[str], ending: str, timeout_s: float) -> None:
    child.send_signal(getattr(signal, ending))
    child.wait(timeout=timeout_s)


def _reap(child: subprocess.Popen[str]) -> None:
    """The trial itself must not leak its child, whatever went wrong."""
    if child.poll() is None:
        child.kill()
        child.wait()


def stack_trial(ending: str, moment: str, timeout_s: float = 90.0) -> Trial:
    """Start a stack in a child process and end it with ``ending`` at ``moment``."""
    tag = f"fault-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, RUN_TAG_VARIABLE: tag}
    existing = _stack_dirs()
    child = subprocess.Popen([sys.executable, "-c", _STACK_CHILD, moment, ending], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    trial = Trial(ending, moment)
    try:
        if ending == "exception":
            child.wait(timeout=timeout_s)
        else:
            marker = _MOMENT_MARKERS.get(moment)
            if marker is None:
                ready = child.stdout.readline().strip() == "ready"  # type: ignore[union-attr]
                trial.on_moment = ready
            else:
                # The child's own command line names the modules too: only its descendants count.
                trial.on_moment = _wait_for(lambda: any(marker in cmd for pid, cmd in tagged_processes(tag).items()
                                                        if pid != child.pid), timeout_s)
            _end(child, ending, timeout_s)
    finally:
        _reap(child)
    out, err = child.communicate()
    if moment != "serving" and "ready" in out:
        trial.on_moment = False  # the stack came up before the ending landed
    _wait_for(lambda: not tagged_processes(tag), GRACE_S, 0.1)
    trial.processes_left = sorted(tagged_processes(tag).values())
    before = _tagged_dirs(tag)
    if before:
        # What the next run (or `drills clean`) does first; it ends leftovers and says what it removed.
        trial.swept = len([line for line in sweep() if any(name in line for name in before)])
    # Looked up by name, and again a moment later: a process that outlived the run could write
    # into a removed dir and re-create it without its owner file (initdb did, before it got a
    # parent-death signal), and by tag alone that dir would be invisible.
    time.sleep(1.0)
    root = Path(tempfile.gettempdir())
    appeared = {name for name in _stack_dirs() - existing if owner_tag(root / name) in (tag, "")}
    trial.dirs_left = sorted(set(_tagged_dirs(tag)) | appeared | {name for name in before if (root / name).exists()})
    trial.detail = f"exit {child.returncode}" + (f"; {err.strip().splitlines()[-1]}" if err.strip() else "")
    return trial


def kernel_trial(ending: str, timeout_s: float = 60.0) -> Trial:
    """Start a notebook kernel as the runner does, in a child, and end the child with ``ending``.

    What counts: the kernel process 10 s after (its command line names the claimed dir), and any
    drills temp entry, dir or file (a kernel's five sockets, its connection file), after the next
    run's sweep.
    """
    existing = _temp_entries()
    child = subprocess.Popen([sys.executable, "-c", _KERNEL_CHILD, ending], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    trial = Trial(ending, KERNEL_MOMENT)
    claimed = ""
    try:
        line = child.stdout.readline().strip()  # type: ignore[union-attr]
        trial.on_moment = line.startswith("ready")
        claimed = line.split(" ", 1)[1] if trial.on_moment else ""
        if ending == "exception":
            child.wait(timeout=timeout_s)
        else:
            _end(child, ending, timeout_s)
    finally:
        _reap(child)
    _out, err = child.communicate()

    def kernel_processes() -> list[str]:
        return sorted(tagged_processes_in(claimed)) if claimed else []

    _wait_for(lambda: not kernel_processes(), GRACE_S, 0.1)
    trial.processes_left = kernel_processes()
    new = _temp_entries() - existing
    if new:
        trial.swept = len([line for line in sweep() if any(name in line for name in new)])
    time.sleep(0.5)
    left = _temp_entries() - existing
    trial.dirs_left = sorted(n for n in left if (Path(tempfile.gettempdir()) / n).is_dir())
    trial.files_left = sorted(n for n in left if n not in trial.dirs_left)
    trial.detail = f"exit {child.returncode}" + (f"; {err.strip().splitlines()[-1]}" if err.strip() else "")
    return trial


def tagged_processes_in(directory: str) -> list[str]:
    """Command lines of the processes that name ``directory`` (a kernel names its connection file)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
            except OSError:
                continue
            if directory in cmdline:
                found.append(cmdline.strip())
    return found


def _fake_run(folder: Path, drill: str, paper: str, variant: int) -> Path:
    """A finished run folder with findings and one chart (the export step's whole input)."""
    from matplotlib.figure import Figure

    from .findings import AtMost, Chart, Findings, Hypothesis, Provenance

    run_dir = folder / f"2026010{variant}T000000Z-{drill}"
    run_dir.mkdir(parents=True)
    fig = Figure(figsize=(6, 4))
    fig.subplots().plot(range(50), [random.random() for _ in range(50)])
    fig.savefig(run_dir / "chart.png")
    finding = Hypothesis("recommended.fault", "The export survives any ending.", AtMost(1, "ms"),
                         recommended=True).judge(0.5 * variant, 10, "word " * 20_000 * variant)
    Findings(drill=drill, paper=paper, run_id=run_dir.name, started_at=f"2026-01-0{variant}T00:00:00Z",
             finished_at=f"2026-01-0{variant}T00:01:00Z", parameters={}, provenance=Provenance(), settings={},
             findings=[finding], charts=[Chart("chart", "chart.png", f"variant {variant}")]).save(run_dir)
    return run_dir


def export_trial(ending: str, papers: Path, timeout_s: float = 60.0) -> Trial:
    """Export two runs into a paper over and over in a child; end it with ``ending`` mid-way."""
    from .catalog.timeout_ladder import SPEC as timeout_ladder
    from .export import export_run

    trial = Trial(ending, EXPORT_MOMENT)
    work = Path(tempfile.mkdtemp(prefix="drills-faults-"))
    claim(work)  # if this process is killed, the next sweep removes its papers and runs
    try:
        paper = work / "papers" / timeout_ladder.paper
        paper.parent.mkdir()
        shutil.copy(papers / timeout_ladder.paper, paper)
        runs = [_fake_run(work / "runs", timeout_ladder.name, timeout_ladder.paper, v) for v in (1, 2)]
        complete = set()
        for run_dir in runs:  # the two complete papers a reader may ever see
            export_run(paper, run_dir)
            complete.add(paper.read_bytes())
        charts = {(run_dir / "chart.png").read_bytes() for run_dir in runs}
        figure = paper.parent / "figures" / f"{timeout_ladder.name}-chart.png"
        if ending == "exception":
            trial.detail = _export_exception(paper, runs[0], complete)
        else:
            child = subprocess.Popen([sys.executable, "-c", _EXPORT_CHILD, str(paper), *map(str, runs)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            try:
                trial.on_moment = child.stdout.readline().strip() == "exporting"  # type: ignore[union-attr]
                time.sleep(random.uniform(0.2, 1.0))  # mid-way through some export
                _end(child, ending, timeout_s)
            finally:
                _reap(child)
            trial.detail = f"exit {child.returncode}"
        if paper.read_bytes() not in complete:
            trial.files_left.append(f"{paper.name}: not a complete export")
        if figure.read_bytes() not in charts:
            trial.files_left.append(f"{figure.name}: not a complete chart")
        orphans = sorted(p.name for folder in (paper.parent, figure.parent) for p in folder.glob(".*"))
        export_run(paper, runs[0])  # the next export removes what a killed one could not
        trial.swept = len(orphans) - len([p for folder in (paper.parent, figure.parent) for p in folder.glob(".*")])
        trial.files_left += sorted(p.name for folder in (paper.parent, figure.parent) for p in folder.glob(".*"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return trial


def _export_exception(paper: Path, run_dir: Path, complete: set[bytes]) -> str:
    """An exception half-way through the write (fsync fails): the paper keeps its old bytes."""
    from .export import export_run

    before = paper.read_bytes()
    real_fsync = os.fsync

    def failing_fsync(fd: object) -> None:
        raise OSError(28, "No space left on device (injected)")

    os.fsync = failing_fsync
    try:
        export_run(paper, run_dir)
        outcome = "no error raised"
    except OSError as exc:
        outcome = f"raised {exc.strerror}"
    finally:
        os.fsync = real_fsync
    return outcome + ("" if paper.read_bytes() == before else "; the paper changed")


def matrix(rounds: int, papers: Path, progress=print) -> list[Trial]:
    """Every ending at every moment, ``rounds`` times."""
    trials = []
    cells = ([(e, m) for m in STACK_MOMENTS for e in ENDINGS] + [(e, EXPORT_MOMENT) for e in ENDINGS]
             + [(e, KERNEL_MOMENT) for e in ENDINGS])
    for round_no in range(1, rounds + 1):
        for ending, moment in cells:
            if moment == EXPORT_MOMENT:
                trial = export_trial(ending, papers)
            elif moment == KERNEL_MOMENT:
                trial = kernel_trial(ending)
            else:
                trial = stack_trial(ending, moment)
            trials.append(trial)
            left = trial.processes_left + trial.dirs_left + trial.files_left
            progress(f"  round {round_no}/{rounds}: {ending:<9} {moment:<17} "
                     f"{'clean' if trial.clean else 'LEFT ' + str(left)}"
                     + ("" if trial.on_moment else " (landed after the moment)")
                     + (f"; the next run removed {trial.swept} leftover(s)" if trial.swept else "") + f"; {trial.detail}")
    return trials


def summary(trials: list[Trial]) -> str:
    cells = {(t.ending, t.moment) for t in trials}
    return (f"fault endings: {len(cells)} (ending × moment), trials: {len(trials)}, "
            f"left something behind: {sum(not t.clean for t in trials)}, "
            f"cleaned up by the next run: {sum(t.swept > 0 for t in trials)}, "
            f"landed off their moment: {sum(not t.on_moment for t in trials)}")


def main(argv: list[str] | None = None) -> int:
    from .paths import papers_dir

    parser = argparse.ArgumentParser(prog="python -m drills.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times each cell runs (default 3)")
    parser.add_argument("--json", type=Path, help="also write every trial to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50:
        parser.error(f"--rounds={args.rounds}: must be between 1 and 50")
    print(f"fault matrix: {len(ENDINGS)} endings × {len(STACK_MOMENTS) + 2} moments, {args.rounds} round(s) …",
          flush=True)
    trials = matrix(args.rounds, papers_dir(), progress=lambda line: print(line, flush=True))
    print(summary(trials))
    if args.json:
        args.json.write_text(json.dumps([t.__dict__ | {"clean": t.clean} for t in trials], indent=1))
    return 0 if all(t.clean for t in trials) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
