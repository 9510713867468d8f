"""The proxy-upstreams drill's falsifiers: for every hypothesis, a harmful stack under which it must fail.

The recommended configuration's three checks are falsified by the defaults they replace, all at
once in its slot: Gunicorn's keep-alive below nginx's (its default 2 s), ``proxy_next_upstream
error timeout`` and ``max_fails=1`` (nginx's defaults). Each anti-pattern's harm is falsified by the
recommended stack in its slot: the harm must not appear where the setting is right. The drill's own
recommended run measured that stack by the same procedure each slot uses (the keep-alive bursts,
the slow GETs, the ejection probes), so those three are judged on its measurements (``same_as``).
"""

from __future__ import annotations

from ...pipeline import Falsifier
from ...stack import StackConfig
from .configurations import eject_on_one_failure, keepalive_inverted, recommended_stack, retry_on_timeout
from .params import Params


def _defaults(params: Params, stack: StackConfig) -> StackConfig:
    return eject_on_one_failure(retry_on_timeout(keepalive_inverted(params, stack)))


def _recommended(params: Params, _: StackConfig) -> StackConfig:
    return recommended_stack(params)


FALSIFIERS: tuple[Falsifier[Params], ...] = (
    Falsifier("the-defaults", "Gunicorn's keep-alive below nginx's, proxy_next_upstream error timeout, max_fails=1",
              "recommended", _defaults,
              ("recommended.keepalive-no-stale-errors", "recommended.slow-get-runs-once",
               "recommended.slow-request-ejects-nothing")),
    Falsifier("keepalive-ordered", "the recommended stack: nginx's upstream keepalive_timeout below Gunicorn's",
              "keepalive-inverted", _recommended, ("keepalive-inverted.stale-connection-errors",),
              same_as=("keepalive-inverted", "recommended-keepalive")),
    Falsifier("no-retry-on-timeout", "the recommended stack: proxy_next_upstream error", "retry-timeout",
              _recommended, ("retry-timeout.slow-get-runs-twice",),
              same_as=("retry-timeout", "recommended-retry")),
    Falsifier("max-fails-tolerant", "the recommended stack: max_fails above one failure per replica", "max-fails-1",
              _recommended, ("max-fails-1.no-live-upstreams",),
              same_as=("max-fails-1", "recommended-eject")),
)
