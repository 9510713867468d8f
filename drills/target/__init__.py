"""What a drill measures: the embedded local stack it owns, or a deployment it does not.

A drill runs against the local stack (``drills.stack``) unless its ``target_url`` parameter names
an existing deployment of the service, e.g. staging behind its real ingress. Against a target the
drill can only do what a client (and, with ``DRILLS_TARGET_DSN``, a database observer) can: it
cannot restart a component with other settings or read its logs, so the hypotheses that need those
are reported as *not judged*, with the reason. ``guard`` checks a target before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..deployment import EVERYTHING, TARGET_DSN_ENV, Capability
from ..findings import TargetInfo
from ..stack.http import Endpoint
from .guard import check_dsn, check_target_url, target_dsn


@dataclass(frozen=True)
class TargetSpec:
    """A checked target: where requests go, the database to observe, and the caps on load."""

    #: The deployment's entry point (its ingress or load balancer), as checked by the guard.
    url: Endpoint
    #: libpq DSN from DRILLS_TARGET_DSN; holds a password, so it is never shown or saved.
    dsn: str | None = field(default=None, repr=False)
    database_hosts: tuple[str, ...] = ()
    #: Caps on load (None for a loopback target, where none is required).
    max_rps: float | None = None
    max_duration_s: float | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.DATABASE}) if self.dsn else frozenset()

    def describe(self) -> TargetInfo:
        """For findings and papers: no credentials (the URL cannot carry any, the DSN is not shown)."""
        return TargetInfo(url=self.url.url, local=self.url.local,
                          database=", ".join(self.database_hosts) if self.dsn else None,
                          max_rps=self.max_rps, max_duration_s=self.max_duration_s,
                          cannot=sorted(c.value for c in EVERYTHING - self.capabilities))


def resolve_target(target_url: str, allow_hosts: str, max_rps: float, max_duration_s: float,
                   environ: dict[str, str] | None = None) -> TargetSpec | None:
    """Check a drill's target parameters (and DRILLS_TARGET_DSN); None means the local stack.

    Pure: no connection, no name lookup. Raises ParameterError naming what is wrong.
    """
    import os

    from ..errors import ParameterError

    if not target_url.strip():
        return None
    url = check_target_url(target_url, allow_hosts)
    dsn = target_dsn(os.environ if environ is None else environ)
    hosts = tuple(check_dsn(dsn, allow_hosts)) if dsn else ()
    if not url.local:
        if not max_rps > 0:
            raise ParameterError("target_max_rps", max_rps,
                                 f"load against {url.host}, which is not loopback, needs an explicit cap: "
                                 "-p target_max_rps=<requests per second>")
        if not max_duration_s > 0:
            raise ParameterError("target_max_duration_s", max_duration_s,
                                 f"load against {url.host}, which is not loopback, needs an explicit cap: "
                                 "-p target_max_duration_s=<seconds>")
    return TargetSpec(url, dsn, hosts, max_rps if max_rps > 0 else None,
                      max_duration_s if max_duration_s > 0 else None)


__all__ = ["EVERYTHING", "TARGET_DSN_ENV", "Capability", "TargetSpec", "resolve_target"]
