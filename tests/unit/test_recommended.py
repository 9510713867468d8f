"""drills/recommended.py and check-papers' recommended-settings check: a clean fragment passes, a planted
mismatch in each kind of snippet is caught with paper, line, found and expected value, two documents
that disagree are reported, and durations are read in each component's unit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from drills.papercheck import check_recommended, manifest_files
from drills.papercheck.k8s import _ENV, _GUNICORN_ARGS, _INGRESS_NGINX
from drills.papercheck.recommended import DISAGREE
from drills.papercheck.settings import (
    _CONNINFO,
    _CONSTANTS,
    _GUNICORN,
    _GUNICORN_WSGI,
    _NGINX,
    _POOL,
    _URLLIB3_RETRY,
    CHECK,
    TABLE_SETTINGS,
)
from drills.papercheck.units import (
    UnitError,
    ingress_seconds,
    nginx_seconds,
    postgres_seconds,
    prose_seconds,
    whole_seconds,
)
from drills.recommended import RECOMMENDED, Disputed

ROOT = Path(__file__).resolve().parents[2]

NGINX = """\
```nginx
upstream api {
    server 10.0.1.10:8000 max_fails=3 fail_timeout=10s;
    keepalive 32;
    keepalive_timeout 60s;
}
server {
    keepalive_timeout 75s;
    location / {
        proxy_http_version 1.1;
        proxy_connect_timeout 5s;
        proxy_read_timeout 20s;           # between two reads
        proxy_send_timeout 20000ms;
        proxy_next_upstream error;
        proxy_next_upstream_tries 2;
        return 503 '{"error":"shed"}';
    }
}
```
"""
GUNICORN = """\
```python
# gunicorn.conf.py
worker_class = "uvicorn_worker.UvicornWorker"
keepalive = 75
timeout = 30
graceful_timeout = int(os.environ.get("GRACEFUL", "20"))
```
"""
GUNICORN_WSGI = """\
```python
# gunicorn.conf.py (Flask or Django)
workers = 2
worker_class = "sync"
timeout = 10
graceful_timeout = 20
```
"""
SQL = """\
```sql
ALTER ROLE app SET statement_timeout = '5s';
ALTER ROLE app SET lock_timeout = '2000ms';
ALTER ROLE app SET idle_in_transaction_session_timeout = 10000;   -- bare: milliseconds
```
"""
PYTHON = """\
```python
REQUEST_BUDGET_S = 8.0
pool = AsyncConnectionPool(
    "host=db connect_timeout=3"
    " keepalives_idle=2 keepalives_interval=2 tcp_user_timeout=8000",
    min_size=4,
    timeout=2.0,
    max_waiting=16,
    check=AsyncConnectionPool.check_connection,
)
await pool.open(wait=True, timeout=10.0)
RETRY_ATTEMPTS = 3
RETRY_BUDGET_RATIO = 0.1
retry = Retry(total=2, status_forcelist=(429, 502, 503), backoff_factor=1.0, backoff_max=20.0)
```
"""
YAML = """\
```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    spec:
      terminationGracePeriodSeconds: 40
      containers:
        - name: api
          lifecycle:
            preStop:
              sleep: {seconds: 10}
          readinessProbe:
            httpGet: {path: /readyz, port: 8000}
            periodSeconds: 5
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: api
  annotations:
    nginx.ingress.kubernetes.io/proxy-read-timeout: "20"
    nginx.ingress.kubernetes.io/proxy-next-upstream: "error"
    alb.ingress.kubernetes.io/load-balancer-attributes: idle_timeout.timeout_seconds=60
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ingress-nginx-controller, namespace: ingress-nginx}
data:
  upstream-keepalive-timeout: "60"
```
"""
TABLE = """\
| Rung | Setting | Production | Drill |
|---|---|---|---|
| Statement | `statement_timeout` | 5 s | `statement_timeout_s=1.0` |
| Ingress | `proxy-read-timeout` | 20 s | – |
| Not a rung | Gunicorn `timeout` | 30 s | – |
| Shutdown | `preStop` sleep | 10 s | – |
| Shutdown | `terminationGracePeriodSeconds` | 40 s | – |
| Upstream | `max_fails` | 3 | – |
"""
SNIPPETS = {"nginx": NGINX, "gunicorn": GUNICORN, "gunicorn-wsgi": GUNICORN_WSGI, "sql": SQL, "python": PYTHON,
            "yaml": YAML, "table": TABLE}


def write(tmp_path: Path, name: str, *parts: str) -> Path:
    paper = tmp_path / name
    paper.write_text("# A paper\n\nSome prose.\n\n" + "\n".join(parts), encoding="utf-8")
    return paper


def line_of(paper: Path, text: str) -> int:
    return next(n for n, line in enumerate(paper.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_a_clean_fragment_of_every_kind_passes(tmp_path) -> None:
    paper = write(tmp_path, "clean.md", *SNIPPETS.values())
    report = check_recommended([paper])
    assert report.problems == [], "\n".join(map(str, report.problems))


@pytest.mark.parametrize("kind", sorted(SNIPPETS))
def test_every_kind_of_snippet_states_settings_the_check_reads(tmp_path, kind) -> None:
    """The clean pass above is not a blind one: each snippet on its own yields settings."""
    from drills.papercheck.recommended import read_paper

    paper = write(tmp_path, "one.md", SNIPPETS[kind])
    found, problems = read_paper(paper, paper.read_text(encoding="utf-8"))
    assert len(found) >= 3 and not problems


PLANTED = [
    # (kind, what the snippet says, the planted text, setting, found shown, expected shown)
    ("nginx", "proxy_read_timeout 20s;", "proxy_read_timeout 60s;", "proxy.proxy_read_timeout_s", "60 s", "20 s"),
    ("nginx", "max_fails=3", "max_fails=1", "proxy.max_fails", "1", "3"),
    ("nginx", "keepalive_timeout 60s;", "keepalive_timeout 90s;", "proxy.upstream_keepalive_timeout_s", "90 s", "60 s"),
    ("nginx", "proxy_next_upstream error;", "proxy_next_upstream error timeout;", "proxy.proxy_next_upstream",
     "'error timeout'", "'error'"),
    ("gunicorn", "keepalive = 75", "keepalive = 2", "gunicorn.keepalive_s", "2 s", "75 s"),
    ("gunicorn", '"GRACEFUL", "20"', '"GRACEFUL", "30"', "gunicorn.graceful_timeout_s", "30 s", "20 s"),
    ("sql", "statement_timeout = '5s'", "statement_timeout = '5'", "postgres.statement_timeout_s", "0.005 s", "5 s"),
    ("sql", "= 10000;", "= 10;", "postgres.idle_in_transaction_session_timeout_s", "0.01 s", "10 s"),
    ("python", "timeout=2.0,", "timeout=30.0,", "app.pool_timeout_s", "30 s", "2 s"),
    ("python", "max_waiting=16", "max_waiting=0", "app.pool_max_waiting", "0", "16"),
    ("python", "tcp_user_timeout=8000", "tcp_user_timeout=8", "libpq.tcp_user_timeout_s", "0.008 s", "8 s"),
    ("python", "RETRY_BUDGET_RATIO = 0.1", "RETRY_BUDGET_RATIO = 0.5", "retry.budget_ratio", "0.5", "0.1"),
    ("python", "total=2", "total=4", "retry.attempts", "5", "3"),  # urllib3 counts retries, not attempts
    ("yaml", "terminationGracePeriodSeconds: 40", "terminationGracePeriodSeconds: 30",
     "kubernetes.termination_grace_period_s", "30 s", "40 s"),
    ("yaml", "proxy-read-timeout: \"20\"", "proxy-read-timeout: \"60\"", "proxy.proxy_read_timeout_s", "60 s", "20 s"),
    ("yaml", "timeout_seconds=60", "timeout_seconds=120", "alb.idle_timeout_s", "120 s", "60 s"),
    ("yaml", "path: /readyz", "path: /", "kubernetes.readiness_path", "'/'", "'/readyz'"),
    ("table", "| 20 s |", "| 60 s |", "proxy.proxy_read_timeout_s", "60 s", "20 s"),
    # A sync worker's timeout is the WSGI rung (10 s), not the event loop's heartbeat (30 s).
    ("gunicorn-wsgi", "timeout = 10", "timeout = 31", "wsgi.sync_timeout_s", "31 s", "10 s"),
    ("gunicorn-wsgi", '"sync"', '"gthread"', "wsgi.worker_class", "'gthread'", "'sync'"),
    ("table", "sleep | 10 s |", "sleep | 5 s |", "kubernetes.pre_stop_sleep_s", "5 s", "10 s"),
    ("table", "`max_fails` | 3 |", "`max_fails` | 1 |", "proxy.max_fails", "1", "3"),
]


@pytest.mark.parametrize(("kind", "old", "new", "key", "found", "expected"), PLANTED,
                         ids=[f"{p[0]}:{p[3]}" for p in PLANTED])
def test_a_planted_mismatch_is_caught_with_paper_line_found_and_expected(tmp_path, kind, old, new, key, found,
                                                                         expected) -> None:
    assert old in SNIPPETS[kind]
    paper = write(tmp_path, "planted.md", *(s.replace(old, new) if k == kind else s for k, s in SNIPPETS.items()))
    problems = [p for p in check_recommended([paper]).problems if p.check == CHECK]
    assert len(problems) == 1, "\n".join(map(str, problems))
    (problem,) = problems
    assert (problem.paper, problem.line) == (paper, line_of(paper, new))
    assert problem.message.startswith(f"{key}: says ")
    assert f"({found}), but the recommended value is {expected} (drills/recommended.py: " in problem.message


def test_two_papers_that_disagree_are_reported_with_every_place(tmp_path) -> None:
    one = write(tmp_path, "one.md", NGINX)
    other = write(tmp_path, "other.md", YAML.replace('proxy-read-timeout: "20"', 'proxy-read-timeout: "30"'))
    problems = check_recommended([one, other]).problems
    (disagreement,) = [p for p in problems if p.check == DISAGREE]
    assert disagreement.message.startswith("proxy.proxy_read_timeout_s: the documents recommend different values")
    assert f"20 s (one.md:{line_of(one, 'proxy_read_timeout 20s')})" in disagreement.message
    assert f"30 s (other.md:{line_of(other, 'proxy-read-timeout')})" in disagreement.message
    assert [p.paper for p in problems if p.check == CHECK] == [other]  # and the one that left the source


def test_a_disputed_setting_is_reported_until_it_is_settled(tmp_path) -> None:
    source = replace(RECOMMENDED, gunicorn=replace(RECOMMENDED.gunicorn, workers=Disputed((2, 3), "who says which")))
    one = write(tmp_path, "one.md", "```python\n# gunicorn.conf.py\nworkers = 3\n```\n")
    other = write(tmp_path, "other.md", "```python\n# gunicorn.conf.py\nworkers = 2\n```\n")
    (problem,) = check_recommended([one, other], source=source).problems
    assert problem.check == DISAGREE
    assert problem.message.startswith("gunicorn.workers is disputed: 3 (one.md:7); 2 (other.md:7). who says which")
    (alone,) = check_recommended([one], source=source).problems
    assert "the documents now agree: settle it" in alone.message
    seven = write(tmp_path, "seven.md", "```python\n# gunicorn.conf.py\nworkers = 7\n```\n")
    assert any(p.check == CHECK and "2 or 3 (disputed)" in p.message
               for p in check_recommended([seven], source=source).problems)


def test_the_settled_source_has_no_dispute() -> None:
    assert RECOMMENDED.disputed() == {}


def test_a_waived_line_is_listed_and_not_compared(tmp_path) -> None:
    paper = write(tmp_path, "waived.md", NGINX.replace("proxy_read_timeout 20s;           # between two reads",
                                                       "proxy_read_timeout 2s;   # recommended: differs — a drill"))
    report = check_recommended([paper])
    assert report.problems == []
    assert report.blocks == [(f"waived.md:{line_of(paper, 'proxy_read_timeout 2s')}", "setting",
                              "not compared (proxy.proxy_read_timeout_s = 2s): a drill")]


def test_an_ingress_timeout_with_a_unit_is_an_error(tmp_path) -> None:
    paper = write(tmp_path, "units.md", YAML.replace('proxy-read-timeout: "20"', 'proxy-read-timeout: "20s"'))
    (problem,) = check_recommended([paper]).problems
    assert problem.line == line_of(paper, '"20s"') and "integer of seconds" in problem.message


def test_an_unknown_production_row_asks_for_the_source(tmp_path) -> None:
    paper = write(tmp_path, "table.md", TABLE + "| Pool | `max_lifetime` | 3600 s | – |\n")
    (problem,) = check_recommended([paper]).problems
    assert problem.line == line_of(paper, "max_lifetime") and "does not hold" in problem.message


def test_a_manifest_and_its_gunicorn_args_are_read(tmp_path) -> None:
    path = tmp_path / "configmap.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata:\n"
                    '  DRILLS_APP_POOL_TIMEOUT_S: "2.0"\n'
                    '  GUNICORN_CMD_ARGS: "--keep-alive 5 --timeout=30"\n', encoding="utf-8")
    (problem,) = check_recommended([], [path]).problems
    assert (problem.paper, problem.line) == (path, 6)
    assert problem.message.startswith("gunicorn.keepalive_s: says 5 (5 s), but the recommended value is 75 s")


def test_every_setting_a_reader_maps_to_is_in_the_source() -> None:
    keys = set(RECOMMENDED.flat())
    maps = [_NGINX, _GUNICORN, _GUNICORN_WSGI, _POOL, _CONSTANTS, _URLLIB3_RETRY, _CONNINFO, _INGRESS_NGINX, _ENV,
            _GUNICORN_ARGS]
    targets = {key for table in maps for key, _ in table.values()} | set(TABLE_SETTINGS.values())
    assert targets <= keys, targets - keys


def test_the_real_papers_and_manifests_differ_only_where_the_source_records_a_dispute() -> None:
    """Today's papers fail the check on purpose: every open dispute is reported, and nothing else."""
    papers = sorted(p for p in (ROOT / "papers").glob("*.md") if p.name != "README.md")
    report = check_recommended(papers, manifest_files(ROOT / "deploy" / "k8s"))
    reported = {p.message.split(" ", 1)[0] for p in report.problems}
    assert all(p.check == DISAGREE and " is disputed: " in p.message for p in report.problems), \
        "\n".join(map(str, report.problems))
    assert reported == set(RECOMMENDED.disputed())


# -- units ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("20s", 20), ("20000ms", 20), ("20", 20), ("1m30s", 90),
                                               ("1m 30s", 90), ("500ms", 0.5), ("2h", 7200), ("1d", 86400)])
def test_nginx_reads_a_bare_number_as_seconds(text, seconds) -> None:
    assert nginx_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "20 seconds", "1.5s", "ten", "20sec"])
def test_nginx_refuses_what_nginx_refuses(text) -> None:
    with pytest.raises(UnitError):
        nginx_seconds(text)


@pytest.mark.parametrize(("text", "bare", "seconds"), [("'5s'", "ms", 5), ("5000", "ms", 5), ("'5'", "ms", 0.005),
                                                       ("1min", "ms", 60), ("1.5s", "ms", 1.5), ("3", "s", 3),
                                                       ("'250us'", "ms", 0.00025), ("8000", "ms", 8)])
def test_postgres_reads_a_bare_number_in_the_parameters_unit(text, bare, seconds) -> None:
    assert postgres_seconds(text, bare) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["'5 seconds'", "5m", "soon", "''"])
def test_postgres_refuses_an_unknown_unit(text) -> None:
    with pytest.raises(UnitError):
        postgres_seconds(text)


def test_ingress_annotations_take_integer_seconds_only() -> None:
    assert ingress_seconds('"20"') == 20
    for text in ("20s", "1.5", "20000ms"):
        with pytest.raises(UnitError, match="integer of seconds"):
            ingress_seconds(text)


def test_tables_and_whole_seconds() -> None:
    assert [prose_seconds(t) for t in ("2 s", "8000 ms", "2 min", "65")] == [2, 8, 120, 65]
    assert whole_seconds("40") == 40
    for parse, text in ((prose_seconds, "2 parsecs"), (whole_seconds, "40s"), (whole_seconds, "1.5")):
        with pytest.raises(UnitError):
            parse(text)
