"""The guard in front of every target: loopback by default, other hosts only when named.

Everything here is pure (no socket, no name lookup): a drill checks its target before any process
starts or any packet leaves, so a typo in ``target_url`` can never send load to a machine nobody
chose. A host counts as loopback only when it is written as one (``127.0.0.0/8``, ``::1``,
``localhost``); any other name or address must appear, spelled the same way, in the allow-list.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import psycopg.conninfo

from ..deployment import TARGET_DSN_ENV
from ..errors import ParameterError
from ..stack.http import Endpoint
from ..stack.ports import is_loopback


def allowed_hosts(allow_hosts: str) -> frozenset[str]:
    """The allow-list parameter (comma-separated host names or addresses) as a set, lower case."""
    return frozenset(h.strip().strip("[]").lower() for h in allow_hosts.split(",") if h.strip())


def check_host(parameter: str, shown: str, host: str, allow_hosts: str) -> None:
    """Refuse ``host`` unless it is loopback or named in ``allow_hosts``."""
    if not host:
        raise ParameterError(parameter, shown, "names no host")
    if is_loopback(host) or host.strip("[]").lower() in allowed_hosts(allow_hosts):
        return
    raise ParameterError(
        parameter, shown,
        f"host {host!r} is not loopback; drills send traffic elsewhere only to hosts named in the allow-list: "
        f"add -p allow_hosts={host} (and target_max_rps, target_max_duration_s) if this is your staging system")


def check_target_url(url: str, allow_hosts: str) -> Endpoint:
    """Parse and check ``target_url``; raise ParameterError naming what is wrong."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ParameterError("target_url", url, f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ParameterError("target_url", url, "must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        # Shown without the credentials: the error itself is printed and may be logged.
        raise ParameterError("target_url", f"{parts.scheme}://…@{parts.hostname}",
                             "must not carry credentials (papermill records parameters in the executed notebook)")
    if parts.query or parts.fragment:
        raise ParameterError("target_url", url, "must be a base URL, without ?query or #fragment")
    host = parts.hostname or ""
    check_host("target_url", url, host, allow_hosts)
    return Endpoint(host, port or (443 if parts.scheme == "https" else 80), parts.scheme, parts.path.rstrip("/"))


def target_dsn(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    """The target's database DSN from ``DRILLS_TARGET_DSN``, or None when it is not set."""
    dsn = environ.get(TARGET_DSN_ENV, "").strip()
    return dsn or None


def dsn_hosts(dsn: str) -> list[str]:
    """Every host a libpq DSN would connect to (host and hostaddr lists); "" means a Unix socket."""
    try:
        fields = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        # The parser's message may quote the DSN, password and all: say only where it came from.
        raise ParameterError(TARGET_DSN_ENV, "(not shown: it may hold a password)",
                             "is not a libpq connection string or postgresql:// URL") from None
    hosts = [h.strip() for h in str(fields.get("host") or "").split(",")]
    hosts += [h.strip() for h in str(fields.get("hostaddr") or "").split(",") if h.strip()]
    return hosts


def check_dsn(dsn: str, allow_hosts: str) -> list[str]:
    """Refuse a DSN that points at a host neither loopback nor allowed; return its hosts."""
    hosts = dsn_hosts(dsn)
    for host in hosts:
        if host.startswith("/") or host == "":
            continue  # a Unix-domain socket: this machine
        check_host(TARGET_DSN_ENV, f"(host {host})", host, allow_hosts)
    return [h or "local socket" for h in hosts]
