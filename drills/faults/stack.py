"""Trials that end a stack while it starts or serves: initdb, PostgreSQL starting, Gunicorn booting, serving."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from ..stack.leftovers import RUN_TAG_VARIABLE, owner_tag, sweep, tagged_processes
from .trial import GRACE_S, INTERRUPTIBLE, Trial, end, reap, stack_dirs, tagged_dirs, wait_for

STACK_MOMENTS = ("initdb", "postgres-starting", "service-starting", "serving")
#: What shows that a start moment has come: a process whose command line holds this.
_MOMENT_MARKERS = {"initdb": "/bin/initdb", "postgres-starting": "listen_addresses=", "service-starting": "gunicorn"}

# The child that holds a stack. SIGTERM ends it as the drills CLI does (SystemExit); an
# "exception" ending makes one step of the start raise, or raises once the stack serves.
_STACK_CHILD = r"""
import signal, sys, time
from drills.stack import PostgresConfig, ServiceConfig, StackConfig, local_stack
from drills.stack.postgres import PostgresCluster
from drills.stack.proxy import NginxProxy

moment, ending = sys.argv[1], sys.argv[2]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

def injected(*args, **kwargs):
    raise RuntimeError("injected fault")

if ending == "exception" and moment == "initdb":
    PostgresCluster._initdb = injected               # nothing runs yet but the temp dir
if ending == "exception" and moment == "postgres-starting":
    PostgresCluster._set_app_role = injected         # the server runs; the stack is not ready
if ending == "exception" and moment == "service-starting":
    NginxProxy.start = injected                      # the service is up, nginx not yet
# At "initdb" the cluster runs its own initdb (as the template's build does), not a template copy.
postgres = PostgresConfig(from_template=moment != "initdb")
with local_stack(StackConfig(postgres=postgres, service=ServiceConfig(workers=2))) as stack:
    print("ready", flush=True)
    if ending == "exception":
        raise RuntimeError("injected fault")
    time.sleep(120)
"""


def stack_trial(ending: str, moment: str, timeout_s: float = 90.0) -> Trial:
    """Start a stack in a child process and end it with ``ending`` at ``moment``."""
    tag = f"fault-{uuid.uuid4().hex[:12]}"
    env = {**os.environ, RUN_TAG_VARIABLE: tag}
    existing = stack_dirs()
    child = subprocess.Popen([sys.executable, "-c", INTERRUPTIBLE + _STACK_CHILD, moment, ending], env=env,
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
                trial.on_moment = wait_for(lambda: any(marker in cmd for pid, cmd in tagged_processes(tag).items()
                                                        if pid != child.pid), timeout_s)
            end(child, ending, timeout_s)
    finally:
        reap(child)
    out, err = child.communicate()
    if moment != "serving" and "ready" in out:
        trial.on_moment = False  # the stack came up before the ending landed
    wait_for(lambda: not tagged_processes(tag), GRACE_S, 0.1)
    trial.processes_left = sorted(tagged_processes(tag).values())
    before = tagged_dirs(tag)
    if before:
        # What the next run (or `drills clean`) does first; it ends leftovers and says what it removed.
        trial.swept = len([line for line in sweep() if any(name in line for name in before)])
    # Looked up by name, and again a moment later: a process that outlived the run could write
    # into a removed dir and re-create it without its owner file (initdb did, before it got a
    # parent-death signal), and by tag alone that dir would be invisible.
    time.sleep(1.0)
    root = Path(tempfile.gettempdir())
    appeared = {name for name in stack_dirs() - existing if owner_tag(root / name) in (tag, "")}
    trial.dirs_left = sorted(set(tagged_dirs(tag)) | appeared | {name for name in before if (root / name).exists()})
    trial.detail = f"exit {child.returncode}" + (f"; {err.strip().splitlines()[-1]}" if err.strip() else "")
    return trial
