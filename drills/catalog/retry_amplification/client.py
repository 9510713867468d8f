"""The drill's caller: one request, retried as its configuration's policy says
(``StackConfig.client_retry``, decided by :meth:`drills.retry_policy.RetryPolicy.decide`), every
attempt recorded as the client saw it. The attempt number travels in ``X-Retry-Attempt`` so the
service's ledger can tell a client's retry from nginx's resend of the same attempt."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Mapping

from ...retry_policy import Failure, RetryBudget, RetryPolicy
from ...stack.http import Endpoint, HttpResult
from .observations import Attempt

ATTEMPT_HEADER = "X-Retry-Attempt"


def outcome(result: HttpResult) -> str:
    if result.status is None:
        return f"client-{result.failure}"
    return "ok" if 200 <= result.status < 300 else f"http-{result.status}"


def _failure(result: HttpResult) -> Failure | None:
    """A refused connection never reached the service; a timeout may still be running there."""
    if result.failure == "refused":
        return "connect"
    if result.failure == "timeout":
        return "timeout"
    return None


def _retry_after_s(result: HttpResult) -> float | None:
    """The service states Retry-After in its JSON body as well as the header (HttpResult keeps bodies)."""
    try:
        value = json.loads(result.body).get("retry_after_s")
    except (ValueError, AttributeError):
        return None
    return float(value) if isinstance(value, int | float) else None


def call(endpoint: Endpoint, *, tag: str, role: str, method: str, path: str, timeout_s: float,
         policy: RetryPolicy | None, budget: RetryBudget | None = None, headers: Mapping[str, str] | None = None,
         body: bytes | None = None, rng: random.Random | None = None, deadline: float = float("inf")) -> list[Attempt]:
    """Send one request and retry it as ``policy`` decides (never past monotonic ``deadline``)."""
    keyed = any(k.lower() == "idempotency-key" for k in (headers or {}))
    if budget is not None:
        budget.on_request()
    attempts: list[Attempt] = []
    number = 1
    while True:
        sent_at = time.time()
        result = endpoint.request(method, path, headers={**(headers or {}), ATTEMPT_HEADER: str(number)}, body=body,
                                  timeout_s=timeout_s)
        attempts.append(Attempt(tag, role, number, sent_at, result.elapsed_s, result.status, outcome(result)))
        if policy is None:
            return attempts
        wait = policy.decide(attempt=number, method=method, status=result.status, failure=_failure(result),
                             keyed=keyed, retry_after_s=_retry_after_s(result), budget=budget, rng=rng)
        if wait is None or time.monotonic() + wait > deadline:
            return attempts
        time.sleep(wait)
        number += 1
