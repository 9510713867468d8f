"""nginx in the foreground as the reverse proxy, standing in for NGINX Ingress and the ALB.

The rendered config makes every choice explicit instead of inheriting defaults that would blur
what a drill measures (see ../shared/FACTS.md, nginx traps):

* ``proxy_next_upstream`` — by default a timed-out GET is retried on the next server, so the work
  runs twice and the client waits N x ``proxy_read_timeout``;
* ``max_fails`` — by default one failure ejects a server for ``fail_timeout`` (10 s);
* upstream keep-alive — before nginx 1.29.7 it is off unless ``keepalive``,
  ``proxy_http_version 1.1`` and an empty ``Connection`` header are all set.
"""

from __future__ import annotations

import grp
import math
import os
import pwd
import re
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from ..errors import ComponentError
from .binaries import NginxBinary, find_nginx
from .cpu import children
from .http import http_get
from .ports import LOOPBACK
from .process import Component, ManagedProcess


@dataclass(frozen=True, kw_only=True)
class ProxyConfig:
    """Knobs of the proxy, in seconds (rendered with an explicit ``ms`` unit)."""

    connect_timeout_s: float = 1.0
    #: Time between two successive reads from the upstream (not the whole response).
    read_timeout_s: float = 60.0
    send_timeout_s: float = 60.0
    #: ``proxy_next_upstream``: "off", or nginx's list such as "error timeout".
    next_upstream: str = "off"
    next_upstream_tries: int = 1
    #: 0 disables nginx's failure accounting, so one failure does not eject the only upstream.
    max_fails: int = 0
    #: Whole seconds: nginx parses fail_timeout at one-second resolution.
    fail_timeout_s: int = 10
    #: Idle upstream connections kept per worker; 0 turns upstream keep-alive off.
    upstream_keepalive: int = 8
    #: How long nginx keeps an idle upstream connection. Must be shorter than the backend's own
    #: keep-alive, or nginx may reuse a connection the backend is closing (a 502).
    upstream_keepalive_timeout_s: float = 4.0
    start_timeout_s: float = 30.0
    #: Also render ``location /via-dead/``: its upstream's only primary is a loopback port the
    #: harness holds bound without listening (every connect() refused, ``max_fails=0`` so it is
    #: never skipped), then the first replica as ``backup``. Every request there meets a failed
    #: connect first: what nginx does next with a POST that never reached a backend.
    dead_first_location: bool = False


class NginxProxy(Component):
    """``with NginxProxy(config, upstream_ports) as proxy:`` — requests pass through to the service's
    replicas."""

    name = "nginx"

    dir_prefix = "drills-nginx-"

    def __init__(self, config: ProxyConfig, upstream_ports: Sequence[int], *, binary: NginxBinary | None = None,
                 listen_host: str = LOOPBACK) -> None:
        super().__init__()
        self.config = config
        #: The one address nginx listens on: loopback, or a network namespace's own address
        #: (drills.stack.netns), where clients in other namespaces reach it.
        self.listen_host = listen_host
        self.upstream_ports = tuple(upstream_ports)
        self.binary = binary or find_nginx()
        self._dead: socket.socket | None = None
        #: Bumped by every ``set_upstreams``; ``/drills-config`` answers it (see ``set_upstreams``).
        self.generation = 0

    @property
    def dead_port(self) -> int | None:
        """The refused primary of ``/via-dead/`` (None without ``dead_first_location``)."""
        return int(self._dead.getsockname()[1]) if self._dead is not None else None

    @property
    def conf_path(self) -> Path:
        assert self.dir is not None, "proxy not started"
        return self.dir / "nginx.conf"

    @property
    def error_log_path(self) -> Path:
        assert self.dir is not None, "proxy not started"
        return self.dir / "error.log"

    def start(self) -> None:
        workdir = self._make_dir()
        os.chmod(workdir, 0o755)  # workers run as an unprivileged user when we are root
        self._take_port()
        if self.config.dead_first_location:
            # Bound, never listening: the kernel refuses every connect (RST, ECONNREFUSED 111), and
            # no other process can take the port while we hold it, as one merely picked free could.
            self._dead = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._dead.bind((LOOPBACK, 0))
        self._write_config()
        process = ManagedProcess(
            self.name,
            [str(self.binary.path), "-p", str(workdir), "-c", str(self.conf_path), "-e", str(self.error_log_path)],
            log_path=workdir / "stderr.log",
            stop_signal=signal.SIGQUIT,  # graceful: finish in-flight requests, then exit
            death_signal=signal.SIGTERM,
            grace_s=5.0,
        )
        self._launch(process, self._passes_through, self.config.start_timeout_s)

    def _write_config(self) -> None:
        assert self.dir is not None, "proxy not started"
        self.conf_path.write_text(render_config(self.config, self.port, self.upstream_ports, self.dir,
                                                dead_port=self.dead_port, generation=self.generation,
                                                listen_host=self.listen_host))

    def set_upstreams(self, ports: Sequence[int], *, timeout_s: float = 10.0) -> Reload:
        """Rewrite the ``upstream`` with ``ports`` and reload nginx, as an ingress controller does when
        an endpoint leaves or joins; return once only the new configuration accepts requests.

        A reload (SIGHUP) starts new workers on the new config and tells the old ones to shut down
        gracefully: each closes its listening sockets and its idle connections — its cached upstream
        keep-alive connections too — and finishes its requests in flight on the old config
        (nginx ``src/os/unix/ngx_process_cycle.c``, ``ngx_worker_process_cycle``). "Live" is: a new
        worker answers ``/drills-config`` with the new generation, and every worker from before the
        reload has exited or calls itself "worker process is shutting down" (its title, which
        ``ngx_setproctitle`` writes into /proc/<pid>/cmdline), so none accepts on the old config."""
        if not ports:
            raise ValueError("an upstream needs at least one server")
        master = self.pid
        if master is None:
            raise ComponentError(self.name, "not running")
        before = children(master)
        self.upstream_ports = tuple(ports)
        self.generation += 1
        self._write_config()
        sent_at = time.time()
        os.kill(master, signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while not (self._answers_generation() and all(_shutting_down(pid) for pid in before)):
            if time.monotonic() > deadline:
                raise ComponentError(self.name, f"reload to generation {self.generation} not live after {timeout_s:g} s",
                                     self.error_log()[-2000:])
            time.sleep(0.005)
        return Reload(self.generation, tuple(ports), sent_at, time.time())

    def _answers_generation(self) -> bool:
        result = http_get(self.port, "/drills-config", timeout_s=1.0, host=self.listen_host)
        return result.status == 200 and result.body.strip() == str(self.generation).encode()

    def stop(self) -> None:
        super().stop()
        if self._dead is not None:
            self._dead.close()
            self._dead = None

    def _passes_through(self) -> bool:
        return http_get(self.port, "/readyz", timeout_s=2.0, host=self.listen_host).status == 200

    def effective_settings(self) -> dict[str, str]:
        """The proxy directives as nginx itself parsed them (``nginx -T``)."""
        result = subprocess.run(
            [str(self.binary.path), "-T", "-p", str(self.dir), "-c", str(self.conf_path), "-e", str(self.error_log_path)],
            capture_output=True, text=True, check=False, timeout=30,
        )
        if result.returncode != 0:
            raise ComponentError(self.name, "nginx -T failed", result.stderr[-2000:])
        return parse_directives(result.stdout, READ_BACK_DIRECTIVES)

    def error_log(self) -> str:
        try:
            return self.error_log_path.read_text(errors="replace")
        except OSError:
            return ""

    def access_log(self) -> str:
        """One line per request (``log_format drills``): its status, each upstream attempt's, the client's address."""
        assert self.dir is not None, "proxy not started"
        try:
            return (self.dir / "access.log").read_text(errors="replace")
        except OSError:
            return ""


@dataclass(frozen=True)
class Reload:
    """One ``set_upstreams``: the config's generation, its servers, when SIGHUP was sent and when only
    the new config accepted requests (wall clock)."""

    generation: int
    ports: tuple[int, ...]
    sent_at: float
    live_at: float


def _shutting_down(pid: int) -> bool:
    """An nginx worker that no longer accepts: gone, or titled "worker process is shutting down"."""
    try:
        process = psutil.Process(pid)
        return process.status() == psutil.STATUS_ZOMBIE or "shutting down" in " ".join(process.cmdline())
    except psutil.Error:
        return True


READ_BACK_DIRECTIVES = (
    "proxy_connect_timeout", "proxy_read_timeout", "proxy_send_timeout", "proxy_next_upstream",
    "proxy_next_upstream_tries", "proxy_http_version", "keepalive", "keepalive_timeout", "server",
)


def render_config(config: ProxyConfig, listen_port: int, upstream_ports: Sequence[int], prefix: Path,
                  dead_port: int | None = None, generation: int = 0, listen_host: str = LOOPBACK) -> str:
    """The nginx.conf for one proxy in front of the service's replicas (round-robin, per request);
    every timeout carries an explicit unit (ms). ``dead_port``: the refused primary of
    ``/via-dead/`` (required with ``dead_first_location``); ``generation``: what
    ``/drills-config`` answers, so a reload can be seen to have taken effect. nginx listens on
    ``listen_host`` only."""
    c = config
    if c.dead_first_location and dead_port is None:
        raise ValueError("dead_first_location needs the dead_port the harness holds")
    servers = "\n        ".join(f"server {LOOPBACK}:{port} max_fails={c.max_fails} fail_timeout={c.fail_timeout_s}s;"
                                 for port in upstream_ports)
    user = _worker_user_line()
    keepalive = (
        f"keepalive {c.upstream_keepalive};\n        keepalive_timeout {_ms(c.upstream_keepalive_timeout_s)};"
        if c.upstream_keepalive > 0
        else "# upstream keep-alive off"
    )
    connection_header = '""' if c.upstream_keepalive > 0 else "close"
    proxying = f"""proxy_http_version 1.1;
            proxy_set_header Connection {connection_header};
            proxy_set_header Host $host;
            proxy_connect_timeout {_ms(c.connect_timeout_s)};
            proxy_read_timeout {_ms(c.read_timeout_s)};
            proxy_send_timeout {_ms(c.send_timeout_s)};
            proxy_next_upstream {c.next_upstream};
            proxy_next_upstream_tries {c.next_upstream_tries};"""
    via_dead_upstream = via_dead_location = ""
    if c.dead_first_location:
        # With a backup server the group is not "single" (init_round_robin sets peers->single = 0),
        # so a failed connect does not end the tries; the next get_round_robin_peer finds no
        # untried primary and goes to `failed:`, which switches to peers->next, the backups; tries
        # = primaries + backups (ngx_http_upstream_tries). Source: nginx release-1.22.1 (Debian's
        # nginx here), src/http/ngx_http_upstream_round_robin.c; unchanged at 1.31.4. The docs only
        # say a backup is "passed requests when the primary servers are unavailable".
        via_dead_upstream = f"""
    upstream via_dead {{
        server {LOOPBACK}:{dead_port} max_fails=0;
        server {LOOPBACK}:{upstream_ports[0]} max_fails={c.max_fails} fail_timeout={c.fail_timeout_s}s backup;
        {keepalive}
    }}
"""
        via_dead_location = f"""
        location /via-dead/ {{
            proxy_pass http://via_dead/;
            {proxying}
        }}
"""
    return f"""# Rendered by drills.stack.proxy; every value comes from the drill's parameters.
{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;

events {{
    worker_connections 512;
}}

http {{
    log_format drills '$msec $status $request_time $upstream_response_time '
                      '$upstream_status layer=$upstream_http_x_timeout_layer "$request" client=$remote_addr';
    access_log {prefix}/access.log drills;
    client_body_temp_path {prefix}/tmp-body;
    proxy_temp_path {prefix}/tmp-proxy;
    fastcgi_temp_path {prefix}/tmp-fastcgi;
    uwsgi_temp_path {prefix}/tmp-uwsgi;
    scgi_temp_path {prefix}/tmp-scgi;

    upstream service {{
        {servers}
        {keepalive}
    }}
{via_dead_upstream}
    server {{
        listen {listen_host}:{listen_port};

        location / {{
            proxy_pass http://service;
            {proxying}
        }}

        location = /drills-config {{
            access_log off;
            return 200 "{generation}\\n";
        }}
{via_dead_location}    }}
}}
"""


#: An access-log line of ``log_format drills``: each upstream attempt's status ("502, 502" when nginx
#: tried twice), the request, and the client's address (absent from logs of older drills).
_ACCESS_LINE = re.compile(r'^(?P<msec>\S+) (?P<status>\d+) \S+ (?P<times>[-\d.]+(?:, [-\d.]+)*) '
                          r'(?P<upstreams>[-\d]+(?:, [-\d]+)*) layer=\S* "(?P<request>[^"]*)"'
                          r'(?: client=(?P<client>\S+))?$')


def requests_by_client(access_log: str) -> dict[str, int]:
    """How many requests each client address sent, from an access log of ``log_format drills``."""
    counts: dict[str, int] = {}
    for line in access_log.splitlines():
        match = _ACCESS_LINE.match(line.strip())
        if match is not None and match["client"]:
            counts[match["client"]] = counts.get(match["client"], 0) + 1
    return counts


def upstream_attempts(access_log: str, path_prefix: str) -> list[list[float]]:
    """For each request whose path starts with ``path_prefix``, in the order they finished: how long
    each upstream attempt nginx made took, in seconds (none where nginx never reached an upstream;
    NaN for an attempt without a time)."""
    return [attempts for _, attempts in upstream_attempt_log(access_log, path_prefix)]


def upstream_attempt_log(access_log: str, path_prefix: str) -> list[tuple[float, list[float]]]:
    """As ``upstream_attempts``, each with the time nginx logged the request (``$msec``, epoch
    seconds: when it finished). nginx makes its attempts one after another, so attempt k ended
    that time less the attempts after it."""
    out = []
    for line in access_log.splitlines():
        match = _ACCESS_LINE.match(line.strip())
        if match is None or not match["request"].partition(" ")[2].startswith(path_prefix):
            continue
        out.append((float(match["msec"]),
                    [float(t) if t != "-" else math.nan for t in match["times"].split(", ")]
                    if match["upstreams"] != "-" else []))
    return out


def parse_directives(config_text: str, names: tuple[str, ...]) -> dict[str, str]:
    """First value of each directive in an nginx config dump (comments ignored); every ``server``
    of the upstream, joined by " | "."""
    found: dict[str, str] = {}
    for raw in config_text.splitlines():
        line = raw.split("#", 1)[0].strip()
        match = re.match(r"^([a-z_]+)\s+(.*?);$", line)
        if not match or match.group(1) not in names:
            continue
        name, value = match.groups()
        if name == "server" and name in found:
            found[name] += f" | {value}"
        elif name not in found:
            found[name] = value
    return found


def _ms(seconds: float) -> str:
    return f"{round(seconds * 1000)}ms"


def _worker_user_line() -> str:
    if os.geteuid() != 0:
        return ""  # not root: workers run as us, and the directive would only warn
    nobody = pwd.getpwnam("nobody")
    return f"user nobody {grp.getgrgid(nobody.pw_gid).gr_name};\n"
