"""The retry-amplification drill's falsifiers: for every hypothesis, a harmful stack under which it must fail.

Most claims come in pairs — the recommended policy keeps a retry from multiplying, the naive one
makes it multiply — and each side is falsified by the other side's stack in its slot. The drill's
own run measured both stacks by the same procedure, so those are judged on its measurements
(``same_as``). Four claims need a stack no configuration runs: the app retrying cancelled statements,
nginx passing nothing on, nginx resending POSTs, the app re-running only the failed statement.
"""

from __future__ import annotations

from ...pipeline import Falsifier
from ...stack import StackConfig
from .configurations import (
    NO_NEXT_UPSTREAM,
    NON_IDEMPOTENT_NEXT_UPSTREAM,
    naive_stack,
    recommended_stack,
    storm_stack,
    with_app_retry,
    with_next_upstream,
)
from .params import Params


def _naive(params: Params, _: StackConfig) -> StackConfig:
    return naive_stack(params)


def _recommended(params: Params, _: StackConfig) -> StackConfig:
    return recommended_stack(params)


def _no_budget(params: Params, _: StackConfig) -> StackConfig:
    return storm_stack(params, budget=False)


def _budget(params: Params, _: StackConfig) -> StackConfig:
    return storm_stack(params, budget=True)


def _retries_timeouts(_: Params, stack: StackConfig) -> StackConfig:
    return with_app_retry(stack, "operational")


def _retries_statement(_: Params, stack: StackConfig) -> StackConfig:
    return with_app_retry(stack, "statement")


def _passes_nothing_on(_: Params, stack: StackConfig) -> StackConfig:
    return with_next_upstream(stack, NO_NEXT_UPSTREAM)


def _resends_posts(_: Params, stack: StackConfig) -> StackConfig:
    return with_next_upstream(stack, NON_IDEMPOTENT_NEXT_UPSTREAM)


FALSIFIERS: tuple[Falsifier[Params], ...] = (
    Falsifier("every-layer-retries", "the naive stack: client, nginx and app each retry every failure",
              "recommended", _naive, ("recommended-amplify.attempts-near-one",),
              same_as=("recommended-amplify", "naive-amplify")),
    Falsifier("app-retries-timeouts", "the app re-runs any OperationalError, 57014 included", "recommended",
              _retries_timeouts, ("recommended-amplify.timeout-runs-once",)),
    Falsifier("one-retrying-layer", "the recommended stack: one layer retries, within a budget", "naive",
              _recommended, ("naive-amplify.attempts-multiply", "naive-amplify.timeout-retry-repeats"),
              same_as=("naive-amplify", "recommended-amplify")),
    Falsifier("no-jitter", "the naive client: a fixed backoff without jitter", "recommended", _naive,
              ("recommended-jitter.arrivals-spread",), same_as=("recommended-jitter", "naive-jitter")),
    Falsifier("full-jitter", "the recommended client: full jitter", "naive", _recommended,
              ("naive-jitter.arrivals-in-waves",), same_as=("naive-jitter", "recommended-jitter")),
    Falsifier("no-next-upstream", "proxy_next_upstream off: nginx passes nothing on", "recommended",
              _passes_nothing_on, ("recommended-resend.put-resent-runs-twice",
                                   "recommended-resend.post-connect-failure-resent")),
    Falsifier("non-idempotent", "proxy_next_upstream error non_idempotent: nginx resends POSTs too", "recommended",
              _resends_posts, ("recommended-resend.post-sent-runs-once",)),
    Falsifier("key-ignored", "the naive stack: no idempotency keys, every 502 retried", "recommended", _naive,
              ("recommended-key.key-runs-once", "recommended-key.concurrent-repeat-409"),
              same_as=("recommended-key", "naive-key")),
    Falsifier("keys-honoured", "the recommended stack: idempotency keys honoured", "naive", _recommended,
              ("naive-key.key-ignored-runs-twice",), same_as=("naive-key", "recommended-key")),
    Falsifier("statement-retry", "the app re-runs only the failed statement, inside the aborted transaction",
              "recommended", _retries_statement, ("recommended-conflicts.retried-whole",)),
    Falsifier("no-budget", "the caller retries without a budget", "budget", _no_budget,
              ("budget.extra-load-capped", "budget.recovers"), same_as=("budget", "no-budget")),
    Falsifier("with-budget", "the caller retries within the budget", "no-budget", _budget,
              ("no-budget.overload-outlasts-trigger",), same_as=("no-budget", "budget")),
)
