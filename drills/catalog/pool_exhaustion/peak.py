"""At the peak of the load: count the server's connection slots, take the ordinary ones the app left
free, probe an admin connection, count again.

An admin that connects while ordinary slots are free proves nothing about
``superuser_reserved_connections``; so at the peak every non-reserved slot must be taken. In the
recommended run the app holds fewer than the server allows (that is its sizing), and the drill takes
the rest with *filler* connections of an ordinary role; in the oversubscribed run the app takes them
itself. A *census* — a superuser connection the drill opens only now — counts them in
pg_stat_activity before and after the probes. Only on a stack the drill owns: it never fills the
slots of a server it does not own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from ...deployment import Deployment
from ...stack.postgres import APP_USER, EXEMPT_FROM_TIMEOUTS
from .observations import PeakCensus, SlotCount

#: The ordinary (non-superuser) role of the filler connections.
FILLER_ROLE = "drills_filler"
#: How long the census keeps trying to find the app holding every non-reserved slot.
CENSUS_PATIENCE_S = 1.5

_COUNT = ("SELECT count(*) FILTER (WHERE usename = %s), count(*) FILTER (WHERE usename = %s), count(*) "
          "FROM pg_stat_activity WHERE backend_type = 'client backend'")

Probes = list[tuple[bool, float]]


def read_limits(deployment: Deployment, census: PeakCensus) -> None:
    """Before the load: the server's max_connections and superuser reserve, and the filler's role."""
    with deployment.connect(dbname="postgres", options=EXEMPT_FROM_TIMEOUTS) as conn:
        census.max_connections = int(_one(conn, "SHOW max_connections"))
        census.reserved = int(_one(conn, "SHOW superuser_reserved_connections"))
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [FILLER_ROLE]).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER").format(sql.Identifier(FILLER_ROLE)))


def at_peak(deployment: Deployment, at: float, census: PeakCensus, probes: Probes, *, fill: bool,
            errors_now: Callable[[], float], errors_at_probe: list[float]) -> None:
    """At ``at`` (monotonic): the census, the filler (``fill``), three admin probes, the census again."""
    time.sleep(max(0.0, at - time.monotonic()))
    conn = _census_connection(deployment, census, patient=not fill)
    fillers: list[psycopg.Connection[Any]] = []
    try:
        if conn is not None and fill:
            free = census.ordinary_slots - _count(conn).total
            for _ in range(max(0, free)):
                try:
                    fillers.append(psycopg.connect(host=conn.info.host, port=conn.info.port, dbname="postgres",
                                                   user=FILLER_ROLE, application_name="drills-filler",
                                                   connect_timeout=5))
                except psycopg.Error as exc:
                    census.error = f"filler connection {len(fillers) + 1} refused: {_first_line(exc)}"
                    census.refused += 1
                    break
            census.filler_opened = len(fillers)
        if conn is not None:
            census.counts.append(_count(conn))
        errors_at_probe.append(errors_now())
        _probe_admin(deployment, probes)
        if conn is not None:
            census.counts.append(_count(conn))
    finally:
        for filler in fillers:
            filler.close()
        if conn is not None:
            conn.close()


def _census_connection(deployment: Deployment, census: PeakCensus, *, patient: bool) -> psycopg.Connection[Any] | None:
    """The census's superuser connection. ``patient``: until it finds the app holding every
    non-reserved slot (or gives up), it lets go between counts, so that it never keeps one of the
    slots it counts from the app."""
    deadline = time.monotonic() + (CENSUS_PATIENCE_S if patient else 0.0)
    while True:
        conn: psycopg.Connection[Any] | None = None
        try:
            conn = deployment.connect(dbname="postgres", options=EXEMPT_FROM_TIMEOUTS)
        except psycopg.Error as exc:
            census.error = f"census refused: {_first_line(exc)}"
            census.refused += 1
        if conn is not None:
            census.error = ""
            if not patient or _count(conn).app >= census.ordinary_slots:
                return conn
        if time.monotonic() >= deadline:
            return conn
        if conn is not None:
            conn.close()
        time.sleep(0.25)


def _probe_admin(deployment: Deployment, probes: Probes) -> None:
    """Connect as an admin three times (0.2 s apart); record each try's outcome and time."""
    for _ in range(3):
        started = time.monotonic()
        try:
            with deployment.connect(**({"dbname": "postgres"} if deployment.owned else {})) as conn:
                conn.execute("SELECT 1")
            probes.append((True, time.monotonic() - started))
        except psycopg.Error:
            probes.append((False, time.monotonic() - started))
        time.sleep(0.2)


def probe_only(deployment: Deployment, at: float, probes: Probes) -> None:
    """On a deployment the drill does not own: the admin probes alone (it fills nothing there)."""
    time.sleep(max(0.0, at - time.monotonic()))
    _probe_admin(deployment, probes)


def _count(conn: psycopg.Connection[Any]) -> SlotCount:
    row = conn.execute(_COUNT, [APP_USER, FILLER_ROLE]).fetchone()
    app, filler, total = row if row else (0, 0, 0)
    return SlotCount(time.time(), int(app), int(filler), int(total))


def _one(conn: psycopg.Connection[Any], query: str) -> str:
    row = conn.execute(query).fetchone()
    return str(row[0]) if row else "0"


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
