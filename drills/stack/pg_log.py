"""Reading PostgreSQL's own log: when each client session ended, and whose it was.

With ``log_disconnections = on`` the server writes one line as a session ends; the stack's
``log_line_prefix`` (``%m [%p] %e %a``) puts the time and the client's ``application_name`` in front,
and the service's workers name their pool connections ``drills-service-<pid>``. So the log says, to
the millisecond and from the server's side, when a worker's pool really let go of its connections.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

#: What the drills set so that the log's times parse as wall clock (``time.time()``).
DISCONNECTION_SETTINGS = {"log_disconnections": "on", "log_timezone": "UTC"}

_LINE = re.compile(r"^(?P<at>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC \[(?P<pid>\d+)\] \S+ (?P<app>\S*) ?"
                   r"LOG:\s+disconnection: session time: (?P<session>[\d:.]+)")


@dataclass(frozen=True)
class Disconnection:
    """One session's end as the server logged it."""

    #: The client's ``application_name`` ("" when it set none).
    application_name: str
    #: The backend's pid.
    backend_pid: int
    #: Wall clock (seconds since the epoch), to the millisecond.
    at: float
    session_s: float


def disconnections(log_text: str) -> list[Disconnection]:
    """Every "disconnection" line of a log written with ``DISCONNECTION_SETTINGS``, in log order."""
    out = []
    for line in log_text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        at = datetime.fromisoformat(match["at"] + "+00:00").timestamp()
        hours, minutes, seconds = match["session"].split(":")
        out.append(Disconnection(match["app"], int(match["pid"]), at,
                                 int(hours) * 3600 + int(minutes) * 60 + float(seconds)))
    return out
