"""The recommended settings Kubernetes objects state, each with the line it is on.

Read from the YAML node tree (``yaml.compose_all``), which keeps every scalar's line: a
Deployment's grace period, preStop sleep, probes, rollout surge and container env; an HPA's replicas
and metric; an Ingress's ingress-nginx and AWS Load Balancer Controller annotations; a ConfigMap's
ingress-nginx keys, or the service's environment (``DRILLS_APP_*``, ``GUNICORN_CMD_ARGS``,
``WEB_CONCURRENCY``, ``DB_POOL_MAX_SIZE``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..app.settings import PREFIX
from .units import Parse, count, float_seconds, ingress_seconds, plain_number, text_value, whole_seconds

#: ``add(key, written, 0-based line, parse)``.
Add = Callable[[str, str, int, Parse], None]


@dataclass(frozen=True)
class Scalar:
    text: str
    line: int  # 0-based, in the block


def _plain(node: Any) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        return {k.value: _plain(v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(item) for item in node.value]
    return Scalar(str(node.value), node.start_mark.line)


def _dig(tree: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(key, int):
            tree = tree[key] if isinstance(tree, list) and len(tree) > key else None
        else:
            tree = tree.get(key) if isinstance(tree, dict) else None
    return tree


_INGRESS_NGINX: dict[str, tuple[str, Parse]] = {  # annotation (after the prefix) or controller ConfigMap key → setting
    "proxy-connect-timeout": ("proxy.proxy_connect_timeout_s", ingress_seconds),
    "proxy-read-timeout": ("proxy.proxy_read_timeout_s", ingress_seconds),
    "proxy-send-timeout": ("proxy.proxy_send_timeout_s", ingress_seconds),
    "proxy-next-upstream": ("proxy.proxy_next_upstream", text_value),
    "proxy-next-upstream-tries": ("proxy.proxy_next_upstream_tries", count),
    "upstream-keepalive-timeout": ("proxy.upstream_keepalive_timeout_s", ingress_seconds),
    "upstream-keepalive-connections": ("proxy.upstream_keepalive", count),
    "keep-alive": ("proxy.client_keepalive_timeout_s", ingress_seconds),
}
_ALB_ATTRIBUTES = {"idle_timeout.timeout_seconds": "alb.idle_timeout_s",
                   "deregistration_delay.timeout_seconds": "alb.deregistration_delay_s"}
_ENV: dict[str, tuple[str, Parse]] = {
        "WEB_CONCURRENCY": ("gunicorn.workers", count), "DB_POOL_MAX_SIZE": ("app.pool_max_size", count),
        PREFIX + "POOL_MIN_SIZE": ("app.pool_min_size", count), PREFIX + "POOL_MAX_SIZE": ("app.pool_max_size", count),
        PREFIX + "POOL_TIMEOUT_S": ("app.pool_timeout_s", float_seconds),
        PREFIX + "POOL_MAX_WAITING": ("app.pool_max_waiting", count),
        PREFIX + "REQUEST_BUDGET_S": ("app.request_budget_s", float_seconds),
        PREFIX + "POOL_OPEN_TIMEOUT_S": ("app.pool_open_timeout_s", float_seconds),
        # The app's transaction retry (retries-backoff.md, PostgreSQL-Class Databases).
        PREFIX + "RETRY_ATTEMPTS": ("retry.attempts", count),
        PREFIX + "RETRY_BUDGET_RATIO": ("retry.budget_ratio", plain_number),
        PREFIX + "RETRY_BUDGET_BURST": ("retry.budget_burst", count),
        PREFIX + "RETRY_BACKOFF_BASE_S": ("retry.transaction_backoff_base_s", float_seconds),
        PREFIX + "RETRY_BACKOFF_CAP_S": ("retry.transaction_backoff_cap_s", float_seconds),
        PREFIX + "RETRY_JITTER": ("retry.jitter", text_value)}
#: Gunicorn command-line options (``GUNICORN_CMD_ARGS``) → setting.
_GUNICORN_ARGS: dict[str, tuple[str, Parse]] = {"--workers": ("gunicorn.workers", count), "-w": ("gunicorn.workers", count),
                  "--keep-alive": ("gunicorn.keepalive_s", whole_seconds),
                  "--timeout": ("gunicorn.timeout_s", whole_seconds), "-t": ("gunicorn.timeout_s", whole_seconds),
                  "--graceful-timeout": ("gunicorn.graceful_timeout_s", whole_seconds),
                  "--worker-class": ("gunicorn.worker_class", text_value), "-k": ("gunicorn.worker_class", text_value)}


def read_objects(text: str, add: Add) -> None:
    """Call ``add`` for every recommended setting the YAML documents in ``text`` state."""
    import yaml

    try:
        documents = [_plain(node) for node in yaml.compose_all(text, Loader=yaml.SafeLoader) if node is not None]
    except yaml.YAMLError:
        return  # the schema check reports it
    for doc in documents:
        kind = _dig(doc, "kind")
        kind = kind.text if isinstance(kind, Scalar) else ""
        if kind in {"Deployment", "StatefulSet", "DaemonSet"}:
            _workload(doc, add)
        elif kind == "HorizontalPodAutoscaler":
            _hpa(doc, add)
        elif kind == "Ingress":
            _annotations(_dig(doc, "metadata", "annotations"), add)
        elif kind == "ConfigMap":
            name = _dig(doc, "metadata", "name")
            _config_map(_dig(doc, "data"), "ingress-nginx" in (name.text if isinstance(name, Scalar) else ""), add)


def _scalar(add: Add, key: str, node: Any, parse: Parse) -> None:
    if isinstance(node, Scalar):
        add(key, node.text, node.line, parse)


def _workload(doc: Any, add: Add) -> None:
    pod = _dig(doc, "spec", "template", "spec")
    _scalar(add, "kubernetes.termination_grace_period_s", _dig(pod, "terminationGracePeriodSeconds"), whole_seconds)
    _scalar(add, "kubernetes.max_surge", _dig(doc, "spec", "strategy", "rollingUpdate", "maxSurge"), count)
    for container in _dig(pod, "containers") or []:
        pre_stop = _dig(container, "lifecycle", "preStop")
        _scalar(add, "kubernetes.pre_stop_sleep_s", _dig(pre_stop, "sleep", "seconds"), whole_seconds)
        command = _dig(pre_stop, "exec", "command") or []
        for part in command if isinstance(command, list) else []:
            if isinstance(part, Scalar) and (sleep := re.search(r"\bsleep\s+(\d+)", part.text)):
                add("kubernetes.pre_stop_sleep_s", sleep.group(1), part.line, whole_seconds)
        for probe in ("readiness", "liveness"):
            spec = _dig(container, f"{probe}Probe")
            _scalar(add, f"kubernetes.{probe}_path", _dig(spec, "httpGet", "path"), text_value)
            _scalar(add, f"kubernetes.{probe}_period_s", _dig(spec, "periodSeconds"), whole_seconds)
            _scalar(add, f"kubernetes.{probe}_timeout_s", _dig(spec, "timeoutSeconds"), whole_seconds)
            _scalar(add, f"kubernetes.{probe}_failure_threshold", _dig(spec, "failureThreshold"), count)
        for variable in _dig(container, "env") or []:
            name, value = _dig(variable, "name"), _dig(variable, "value")
            if isinstance(name, Scalar) and name.text in _ENV:
                _scalar(add, _ENV[name.text][0], value, _ENV[name.text][1])


def _hpa(doc: Any, add: Add) -> None:
    _scalar(add, "kubernetes.hpa_min_replicas", _dig(doc, "spec", "minReplicas"), count)
    _scalar(add, "kubernetes.hpa_max_replicas", _dig(doc, "spec", "maxReplicas"), count)
    for metric in _dig(doc, "spec", "metrics") or []:
        kind = _dig(metric, "type")
        if not isinstance(kind, Scalar):
            continue
        section = kind.text[0].lower() + kind.text[1:]  # Resource → resource, ContainerResource → containerResource
        name = _dig(metric, section, "name") or _dig(metric, section, "metric", "name")
        if isinstance(name, Scalar):
            add("kubernetes.hpa_metric", f"{kind.text.lower()}/{name.text}", kind.line, text_value)


def _annotations(annotations: Any, add: Add) -> None:
    for key, node in (annotations or {}).items():
        if not isinstance(node, Scalar):
            continue
        if key.startswith("nginx.ingress.kubernetes.io/") and key.split("/", 1)[1] in _INGRESS_NGINX:
            setting, parse = _INGRESS_NGINX[key.split("/", 1)[1]]
            add(setting, node.text, node.line, parse)
        elif key == "alb.ingress.kubernetes.io/healthcheck-path":
            add("alb.healthcheck_path", node.text, node.line, text_value)
        elif key in {"alb.ingress.kubernetes.io/load-balancer-attributes",
                     "alb.ingress.kubernetes.io/target-group-attributes"}:
            for item in node.text.split(","):
                attribute, _, value = item.strip().partition("=")
                if attribute in _ALB_ATTRIBUTES:
                    add(_ALB_ATTRIBUTES[attribute], value, node.line, whole_seconds)


def _config_map(data: Any, ingress_nginx: bool, add: Add) -> None:
    for key, node in (data or {}).items():
        if not isinstance(node, Scalar):
            continue
        if ingress_nginx and key in _INGRESS_NGINX:
            add(_INGRESS_NGINX[key][0], node.text, node.line, _INGRESS_NGINX[key][1])
        elif key in _ENV:
            add(_ENV[key][0], node.text, node.line, _ENV[key][1])
        elif key == "GUNICORN_CMD_ARGS":
            args = shlex.split(node.text)
            for at, arg in enumerate(args):
                option, _, value = arg.partition("=")
                if option in _GUNICORN_ARGS and (value or at + 1 < len(args)):
                    add(_GUNICORN_ARGS[option][0], value or args[at + 1], node.line, _GUNICORN_ARGS[option][1])
