"""The papers' recommended settings (``drills.recommended``) as the drills' stacks run them.

A drill verifies the configuration the papers recommend, not one of its own: what is not a duration
(nginx's ``proxy_next_upstream`` list, its tries, ``max_fails``, the idle connections it keeps, the
pool's connection check) is run exactly as recommended, and every duration taken from the papers
is scaled by :data:`DRILL_TIME_SCALE`, the factor the papers state (production 5 s → drill 1 s),
so a drill takes about a minute. The settings read back from the running components show it.

The two load drills (pool-exhaustion, load-capacity) scale by :data:`LOAD_DRILL_TIME_SCALE` instead:
they measure capacity with requests that hold a connection for 0.1 s on two cores, and a pool wait
of 0.4 s (2 s × 0.2) would run out before a queue of four holds per slot forms; their papers state
the factor.
"""

from __future__ import annotations

import math

from ..recommended import RECOMMENDED
from ..stack import ProxyConfig

#: Production seconds × this = the drill's seconds ("production 5 s → drill 1 s").
DRILL_TIME_SCALE = 0.2
#: The load drills' factor ("production 2 s pool wait → drill 1 s"): see the module's docstring.
LOAD_DRILL_TIME_SCALE = 0.5


def scaled_s(production_s: float, scale: float = DRILL_TIME_SCALE) -> float:
    """A production duration as the drills run it."""
    return round(production_s * scale, 3)


def scaled_whole_s(production_s: float, scale: float = DRILL_TIME_SCALE) -> int:
    """A production duration as the drills run it, for a setting read in whole seconds (Gunicorn's,
    nginx's ``fail_timeout``): rounded up, never below 1 s."""
    return max(1, math.ceil(round(production_s * scale, 6)))


def recommended_proxy(*, read_timeout_s: float, connect_timeout_s: float | None = None,
                      scale: float = DRILL_TIME_SCALE) -> ProxyConfig:
    """nginx as the papers recommend it in front of the service, with the drill's read timeout (a
    rung of its ladder, or scaled from the paper's): retry only what never reached the service
    (``error``, limited tries), count failures toward a short ejection, keep idle connections for
    less time than Gunicorn does."""
    proxy = RECOMMENDED.proxy
    return ProxyConfig(
        connect_timeout_s=(scaled_s(proxy.proxy_connect_timeout_s, scale) if connect_timeout_s is None
                           else connect_timeout_s),
        read_timeout_s=read_timeout_s,
        send_timeout_s=read_timeout_s,
        next_upstream=proxy.proxy_next_upstream,
        next_upstream_tries=proxy.proxy_next_upstream_tries,
        max_fails=proxy.max_fails,
        fail_timeout_s=scaled_whole_s(proxy.fail_timeout_s, scale),
        upstream_keepalive=proxy.upstream_keepalive,
        upstream_keepalive_timeout_s=scaled_s(proxy.upstream_keepalive_timeout_s, scale),
    )


def recommended_gunicorn_keepalive_s(scale: float = DRILL_TIME_SCALE) -> int:
    """Gunicorn's ``keepalive``, scaled: longer than nginx's upstream keep-alive, as recommended."""
    return scaled_whole_s(RECOMMENDED.gunicorn.keepalive_s, scale)
