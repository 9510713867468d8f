"""What the run loop does differently against a deployment the drill does not own (a target)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator, Mapping

from ..deployment import EVERYTHING, Capability, Deployment
from ..errors import ParameterError
from ..findings import Finding, Verdict
from ..params import DrillParams
from ..stack import StackConfig, local_stack
from ..target import TargetSpec
from ..target.remote import RemoteDeployment


@contextlib.contextmanager
def open_deployment(target: TargetSpec | None, config: StackConfig) -> Iterator[Deployment]:
    """The local stack started with ``config``, or, when ``target`` is set, the target as it is."""
    if target is None:
        with local_stack(config) as stack:
            yield stack
    else:
        with RemoteDeployment(target) as remote:
            yield remote


def check_target_settings(params: DrillParams, deployment: Deployment, names: Mapping[str, str]) -> None:
    """Refuse to measure a target whose service runs with other settings than the drill's
    parameters say (``names``: parameter → the service's /config name): the predictions would
    be made for a service that is not there. The local stack runs what the parameters say."""
    if deployment.owned or not names:
        return
    reported = deployment.app_settings()
    for param, name in names.items():
        value, theirs = getattr(params, param), reported.get(name)
        if theirs is None:
            continue
        if isinstance(theirs, str):  # a PostgreSQL setting as SHOW prints it ("1s", "500ms", "0")
            theirs = pg_seconds(theirs)
        if theirs is not None and abs(float(theirs) - float(value)) > 1e-6:
            raise ParameterError(param, value, f"the target reports {name} = {reported.get(name)}; set "
                                 f"-p {param}={theirs:g} so that the drill predicts for the service that is there")


def pg_seconds(text: str) -> float | None:
    """A PostgreSQL duration as SHOW prints it, in seconds (bare numbers are milliseconds)."""
    units = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    try:
        return float(number) * units.get(text[len(number):], 1e-3)
    except ValueError:
        return None


def restrict(findings: list[Finding], capabilities: frozenset[Capability],
             needs: Mapping[str, frozenset[Capability]]) -> list[Finding]:
    """Mark every finding whose hypothesis needs what the deployment does not allow as not judged.

    ``needs`` maps a hypothesis key, or a configuration (the key's first part), to what judging it
    requires; with every capability (the local stack) nothing changes.
    """
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


def capabilities_of(target: TargetSpec | None) -> frozenset[Capability]:
    return target.capabilities if target else EVERYTHING


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
