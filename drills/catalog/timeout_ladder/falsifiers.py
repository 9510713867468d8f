"""The timeout ladder's falsifiers: for every hypothesis, a harmful stack under which it must fail.

The drill's predictions stay those of its parameters; only the stack in one configuration's slot
changes. The recommended ladder's checks are falsified by the inverted ladder's stack put in the
recommended slot, and its valid requests by a statement_timeout tighter than declared; the inverted
ladder's two by the recommended stack in the inverted slot; the heartbeat's two by a Gunicorn
timeout longer than the blocked loop and a statement_timeout shorter than the awaited query.

Flask and Django (``WSGI_FALSIFIERS``) share the ladder's four and add: Gunicorn's default timeout
(scaled), behind the proxy's, in the recommended slot (the rung gone: nginx's 504 first); a
Gunicorn timeout past every heartbeat request (nothing aborted); sync workers in the gthread slot
(the same request cut).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from ...pipeline import Falsifier
from ...stack import StackConfig
from .configurations import GUNICORN_TIMEOUT_S, stack_config
from .params import FlaskParams, LadderParams, Params


def _inverted_stack(params: LadderParams, _: StackConfig) -> StackConfig:
    return stack_config(params, "inverted")


def _recommended_stack(params: LadderParams, _: StackConfig) -> StackConfig:
    return stack_config(params, "recommended")


def _statement_timeout_tighter(params: LadderParams, stack: StackConfig) -> StackConfig:
    """statement_timeout at a third of the declared rung: queries the ladder admits are cut."""
    statement_ms = round(params.statement_timeout_s * 1000 / 3)
    return dataclasses.replace(stack, postgres=dataclasses.replace(
        stack.postgres, settings={**stack.postgres.settings, "statement_timeout": f"{statement_ms}ms"}))


def _heartbeat_cannot_cut(params: Params, stack: StackConfig) -> StackConfig:
    """Gunicorn's timeout past the blocked loop (no kill), PostgreSQL's below the awaited query."""
    statement_ms = round(params.heartbeat_await_s * 1000 / 2)
    return dataclasses.replace(
        stack,
        service=dataclasses.replace(stack.service, gunicorn_timeout_s=math.ceil(params.heartbeat_block_s) + 5),
        postgres=dataclasses.replace(stack.postgres,
                                     settings={**stack.postgres.settings, "statement_timeout": f"{statement_ms}ms"}),
    )


def ladder_falsifiers() -> tuple[Falsifier[Any], ...]:
    """The ladder's and the inverted ladder's falsifiers, the same for every framework."""
    return (
        Falsifier("proxy-gives-up-first", "the inverted ladder's stack (nginx's read timeout below statement_timeout)",
                  "recommended", _inverted_stack,
                  ("recommended.statement-timeout-on-time", "recommended.budget-on-time", "recommended.innermost-first",
                   "recommended.no-proxy-errors", "recommended.no-orphan-queries")),
        Falsifier("statement-timeout-tighter", "statement_timeout at a third of the declared rung", "recommended",
                  _statement_timeout_tighter, ("recommended.valid-requests-succeed",)),
        Falsifier("ladder-in-order", "the recommended ladder's stack, every rung inside nginx's",
                  "inverted", _recommended_stack, ("inverted.proxy-504", "inverted.orphan-queries")),
    )


FALSIFIERS: tuple[Falsifier[Params], ...] = (
    *ladder_falsifiers(),
    Falsifier("heartbeat-cannot-cut", "Gunicorn's timeout past the blocking call, statement_timeout below the "
              "awaited query", "heartbeat", _heartbeat_cannot_cut,
              ("heartbeat.slow-await-survives", "heartbeat.blocked-loop-killed")),
)


def _worker_timeout_past_proxy(params: FlaskParams, stack: StackConfig) -> StackConfig:
    """Gunicorn's default timeout (30 s, scaled), behind the proxy's read timeout: no rung between."""
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, gunicorn_timeout_s=GUNICORN_TIMEOUT_S))


def _timeout_past_every_request(params: FlaskParams, stack: StackConfig) -> StackConfig:
    """Gunicorn's timeout past the heartbeat's longest request (and the master's pass): nothing is aborted."""
    return dataclasses.replace(stack, service=dataclasses.replace(
        stack.service, gunicorn_timeout_s=math.ceil(params.longest_heartbeat_s()) + 5))


def _sync_in_gthread_slot(params: FlaskParams, stack: StackConfig) -> StackConfig:
    """The gthread configuration's requests on sync workers, with the same Gunicorn timeout."""
    return dataclasses.replace(stack, service=dataclasses.replace(stack.service, worker_class="sync", threads=1))


WSGI_FALSIFIERS: tuple[Falsifier[FlaskParams], ...] = (
    *ladder_falsifiers(),
    Falsifier("worker-timeout-past-proxy", "Gunicorn's default timeout (scaled) behind nginx's read timeout",
              "recommended", _worker_timeout_past_proxy, ("recommended.worker-timeout-on-time",)),
    Falsifier("timeout-past-every-request", "Gunicorn's timeout past every heartbeat request", "heartbeat",
              _timeout_past_every_request, ("heartbeat.sync-request-cut", "heartbeat.sync-cut-cancels-query")),
    Falsifier("sync-in-gthread-slot", "sync workers in the gthread slot, same Gunicorn timeout", "gthread",
              _sync_in_gthread_slot, ("gthread.request-not-cut",)),
)
