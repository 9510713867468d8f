"""A minimal HTTP/1.1 client over http.client: one request, one fresh connection, timed.

The drills need to see exactly what a client sees (status, body, when it arrived, or a timeout),
with the client's own timeout as an explicit rung, and nothing retried behind their back.
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass

from .ports import LOOPBACK


@dataclass(frozen=True)
class HttpResult:
    """What the client saw. ``status`` is None when no response arrived."""

    status: int | None
    body: bytes
    elapsed_s: float
    #: "timeout" when the client's own timeout fired, "reset" / "refused" / "closed" for
    #: connection-level failures; None when a response arrived.
    failure: str | None = None
    server: str = ""


def http_get(port: int, path: str, *, timeout_s: float, host: str = LOOPBACK) -> HttpResult:
    """GET ``path`` on ``host:port``; never raises for network failures, reports them instead.

    ``timeout_s`` applies to each blocking socket operation, as most HTTP clients do.
    """
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        return HttpResult(response.status, body, time.monotonic() - started,
                          server=response.getheader("Server", "") or "")
    except (TimeoutError, socket.timeout):
        return HttpResult(None, b"", time.monotonic() - started, failure="timeout")
    except ConnectionRefusedError:
        return HttpResult(None, b"", time.monotonic() - started, failure="refused")
    except ConnectionResetError:
        return HttpResult(None, b"", time.monotonic() - started, failure="reset")
    except (http.client.RemoteDisconnected, http.client.IncompleteRead, BrokenPipeError):
        return HttpResult(None, b"", time.monotonic() - started, failure="closed")
    finally:
        conn.close()
