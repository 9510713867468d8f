"""A minimal HTTP/1.1 client over http.client: one request, one fresh connection, timed.

The drills need to see exactly what a client sees (status, body, when it arrived, or a timeout),
with the client's own timeout as an explicit rung, and nothing retried behind their back.
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .ports import LOOPBACK, is_loopback


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
    #: Response headers, names in lower case (the last of repeated ones).
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    """Where a drill sends requests: the local proxy, the local service, or a checked target."""

    host: str = LOOPBACK
    port: int = 80
    scheme: str = "http"
    #: Prefix of every path (a target may live under /api, say); no trailing slash.
    base_path: str = ""

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.base_path}"

    @property
    def local(self) -> bool:
        """Loopback, judged from the host as written (no name lookup)."""
        return is_loopback(self.host)

    def get(self, path: str, *, timeout_s: float) -> HttpResult:
        return http_get(self.port, self.base_path + path, timeout_s=timeout_s, host=self.host, scheme=self.scheme)

    def request(self, method: str, path: str, headers: Mapping[str, str] | None = None, body: bytes | None = None,
                *, timeout_s: float) -> HttpResult:
        """Any method, with headers (``X-Retry-Attempt``, ``Idempotency-Key``, …) and a body
        (JSON is the caller's to encode; a body gets ``Content-Type: application/json`` unless
        ``headers`` names another)."""
        return http_request(self.port, method, self.base_path + path, headers=headers, body=body,
                            timeout_s=timeout_s, host=self.host, scheme=self.scheme)


def http_get(port: int, path: str, *, timeout_s: float, host: str = LOOPBACK, scheme: str = "http") -> HttpResult:
    """GET ``path`` on ``host:port``; never raises for network failures, reports them instead.

    ``timeout_s`` applies to each blocking socket operation, as most HTTP clients do.
    """
    return http_request(port, "GET", path, timeout_s=timeout_s, host=host, scheme=scheme)


def http_request(port: int, method: str, path: str, *, timeout_s: float, headers: Mapping[str, str] | None = None,
                 body: bytes | None = None, host: str = LOOPBACK, scheme: str = "http") -> HttpResult:
    """One request on a fresh connection, closed after it; network failures are reported, never
    raised (see :func:`http_get`). A POST without a body is sent with ``Content-Length: 0``."""
    started = time.monotonic()
    conn = (http.client.HTTPSConnection(host, port, timeout=timeout_s, context=ssl.create_default_context())
            if scheme == "https" else http.client.HTTPConnection(host, port, timeout=timeout_s))
    sent = {"Connection": "close", **(headers or {})}
    if body is not None and not any(k.lower() == "content-type" for k in sent):
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method.upper(), path, body=body, headers=sent)
        response = conn.getresponse()
        data = response.read()
        return HttpResult(response.status, data, time.monotonic() - started,
                          server=response.getheader("Server", "") or "",
                          headers={k.lower(): v for k, v in response.getheaders()})
    except TimeoutError:
        return HttpResult(None, b"", time.monotonic() - started, failure="timeout")
    except ConnectionRefusedError:
        return HttpResult(None, b"", time.monotonic() - started, failure="refused")
    except ConnectionResetError:
        return HttpResult(None, b"", time.monotonic() - started, failure="reset")
    except (http.client.RemoteDisconnected, http.client.IncompleteRead, BrokenPipeError):
        return HttpResult(None, b"", time.monotonic() - started, failure="closed")
    except ssl.SSLError:
        return HttpResult(None, b"", time.monotonic() - started, failure="tls")
    except OSError:  # e.g. no route to host, name not known
        return HttpResult(None, b"", time.monotonic() - started, failure="unreachable")
    finally:
        conn.close()
