"""Rendering the verified block, the nginx config, and redaction.

render_block is deterministic and shows one row per finding with its verdict; markdown_table keeps
'|' inside cells; render_config makes every proxy choice explicit (ms units, no retries, no
ejection, keep-alive on or off) and parse_directives reads it back; redact() masks passwords in
libpq conninfo strings and URLs and leaves everything else alone.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.export.render import VERDICT_MARK, markdown_table, render_block
from drills.findings import AtLeast, AtMost, Chart, Findings, Hypothesis, Provenance
from drills.history import PaperStamp
from drills.redact import redact
from drills.stack.proxy import READ_BACK_DIRECTIVES, ProxyConfig, parse_directives, render_config

PREFIX = Path("/tmp/drills-nginx-test")


def sample_findings() -> Findings:
    return Findings(
        drill="timeout-ladder",
        paper="timeout-ladders.md",
        run_id="20260101T000000Z-timeout-ladder",
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:01:02Z",
        parameters={"statement_timeout_s": 1.0, "workers": 2, "configurations": "recommended,inverted",
                    "note": "two words", "empty": None, "grid": [0.5, 1.25]},
        provenance=Provenance(commit="abc1234", platform="Linux-6.1-x86_64", measuring_s=61.5,
                              versions={"zlib": "1.3", "nginx": "1.26.0", "python": "3.11.9", "postgresql": "16.4"}),
        settings={"recommended": {"postgres": {"statement_timeout": "1s"},
                                  "nginx": {"proxy_read_timeout": "2500ms", "upstream": {"keepalive": "8"}}},
                  "evidence": {"recommended": {"upstream_timeouts": 0}}},
        findings=[
            Hypothesis("recommended.statement-timeout-on-time", "PostgreSQL cancels on time.",
                       AtLeast(100, "%"), True).judge(100.0, 12, "12/12 within ±50 ms"),
            Hypothesis("recommended.no-proxy-errors", "No proxy 502 | 504.", AtMost(0, "requests"),
                       True).judge(2.0, 30, "2 of 30 requests"),
            Hypothesis("inverted.proxy-504", "nginx answers 504.", AtLeast(100, "%"), False).judge(None, 0),
        ],
        charts=[Chart("latency", "latency.png", "Client latency by injected delay"),
                Chart("orphans", "orphans.png", "Queries left running")],
        tables={"requests": [["configuration", "observed"], ["recommended", "database ×2"]]},
    )


LINKS = {"latency": "figures/timeout-ladder-latency.png"}


# -- render_block -----------------------------------------------------------------------------------


def test_render_block_is_deterministic() -> None:
    """Same findings, same bytes: twice in a row and for an equal copy."""
    assert render_block(sample_findings(), LINKS) == render_block(sample_findings(), LINKS)


def test_render_block_round_trips_through_the_findings_file(tmp_path: Path) -> None:
    """What export renders from findings.json equals what the run would render in memory."""
    original = sample_findings()
    original.save(tmp_path)
    assert render_block(Findings.load(tmp_path), LINKS) == render_block(original, LINKS)


def test_one_row_per_finding_with_its_verdict() -> None:
    findings = sample_findings()
    block = render_block(findings, LINKS)
    rows = [line for line in block.splitlines() if line.startswith('| <a id="v-timeout-ladder-')]
    assert len(rows) == len(findings.findings)
    for row, f in zip(rows, findings.findings):
        # Each row carries an anchor the prose links to: [measured](#v-<drill>-<key>).
        assert row.startswith(f'| <a id="v-timeout-ladder-{f.key.replace(".", "-")}"></a>`{f.key}` |')
        assert f"| {VERDICT_MARK[f.verdict]} |" in row
        about = "the recommended configuration" if f.recommended else "an anti-pattern's harm"
        assert row.endswith(f"| {about} | not falsified in this run |")
    assert "| 100 % |" in rows[0] and "| 2 requests |" in rows[1] and "| — |" in rows[2]
    assert "No proxy 502 \\| 504." in rows[1]


def test_header_gives_status_and_counts() -> None:
    first_line = render_block(sample_findings(), LINKS).splitlines()[0]
    assert first_line == "#### Verified: `timeout-ladder` — FAILED (1 held, 1 failed, 1 inconclusive)"


def test_figure_links_given_are_shown_and_others_omitted() -> None:
    block = render_block(sample_findings(), LINKS)
    assert "![Client latency by injected delay](figures/timeout-ladder-latency.png)" in block
    assert "Queries left running" not in block  # no link was given for that chart
    assert "![" not in render_block(sample_findings(), {})


def test_block_has_no_password_and_a_stable_layout() -> None:
    block = render_block(sample_findings(), LINKS)
    assert "password" not in block.lower()
    # It ends with the stamp `drills status` reads: the run and its verdicts, as data.
    assert block.endswith(" -->\n") and not block.endswith("\n\n")
    stamp = PaperStamp.read(f"<!-- verified:timeout-ladder:begin -->{block}<!-- verified:timeout-ladder:end -->",
                            "timeout-ladder")
    assert stamp is not None and stamp.run_id == "20260101T000000Z-timeout-ladder"
    assert stamp.verdicts["recommended.no-proxy-errors"] == "failed" and stamp.passed is False
    # Parameters, read-back settings and provenance fold away; the short summary table stands open.
    assert block.count("<details>") == block.count("</details>") == 3
    # Versions: known components first in the fixed order, the rest alphabetically.
    provenance = block[block.index("<summary>Provenance</summary>"):]
    order = [provenance.index(f"\n| {name} |") for name in ("python", "postgresql", "nginx", "zlib")]
    assert order == sorted(order)
    assert "| `empty` | — |" in block and "| `grid` | 0.5, 1.25 |" in block and "| `note` | two words |" in block
    assert "| recommended | nginx | upstream.keepalive | `8` |" in block


def test_redacted_block_never_shows_a_planted_secret() -> None:
    """Export redacts the rendered block: a secret in parameters does not reach the paper."""
    findings = sample_findings()
    findings.parameters["dsn"] = "host=127.0.0.1 password=hunter2secret"
    assert "hunter2secret" not in redact(render_block(findings, LINKS))


# -- markdown_table -----------------------------------------------------------------------------------


def test_markdown_table_escapes_pipes_and_newlines() -> None:
    table = markdown_table([["a|b", "c"], ["x | y", "line1\nline2"]])
    assert table == "| a\\|b | c |\n|---|---|\n| x \\| y | line1 line2 |\n"


cells = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\\"), max_size=12)


@given(st.integers(1, 4).flatmap(lambda n: st.lists(st.lists(cells, min_size=n, max_size=n), min_size=1, max_size=5)))
def test_property_every_row_has_as_many_cells_as_the_header(rows: list[list[str]]) -> None:
    """Whatever the cell text, each table line splits into exactly the header's number of cells."""
    lines = markdown_table(rows).rstrip("\n").split("\n")  # Markdown breaks lines at \n (and \r)
    assert len(lines) == len(rows) + 1
    for line in lines:
        assert len(re.split(r"(?<!\\)\|", line)) == len(rows[0]) + 2, line


def test_markdown_table_keeps_carriage_returns_inside_the_row() -> None:
    table = markdown_table([["h"], ["a\rb"]])
    assert len(re.split(r"\r\n|\r|\n", table.rstrip("\n"))) == 3


# -- render_config / parse_directives -------------------------------------------------------------------


def directives(text: str) -> dict[str, list[str]]:
    """Every directive in a config: name -> values (comments dropped)."""
    found: dict[str, list[str]] = {}
    for raw in text.splitlines():
        match = re.match(r"^\s*([a-z_]+)\s+(.*?);\s*$", raw.split("#", 1)[0])
        if match:
            found.setdefault(match.group(1), []).append(match.group(2))
    return found


def test_render_config_makes_every_choice_explicit() -> None:
    config = ProxyConfig(connect_timeout_s=0.25, read_timeout_s=2.5, send_timeout_s=2.5,
                         upstream_keepalive_timeout_s=4.0)
    text = render_config(config, 8080, [9090], PREFIX)
    d = directives(text)
    assert d["proxy_connect_timeout"] == ["250ms"]
    assert d["proxy_read_timeout"] == ["2500ms"]
    assert d["proxy_send_timeout"] == ["2500ms"]
    assert d["keepalive_timeout"] == ["4000ms"]
    assert d["proxy_next_upstream"] == ["off"]
    assert d["proxy_next_upstream_tries"] == ["1"]
    assert d["server"] == ["127.0.0.1:9090 max_fails=0 fail_timeout=10s"]
    assert d["listen"] == ["127.0.0.1:8080"]
    assert d["keepalive"] == ["8"]
    assert d["proxy_http_version"] == ["1.1"]
    assert 'Connection ""' in d["proxy_set_header"]
    for name, values in d.items():
        if "timeout" in name:
            assert all(re.fullmatch(r"\d+(ms|s)", v) for v in values), (name, values)
        if name.startswith("proxy_") and name.endswith("_timeout"):
            assert all(v.endswith("ms") for v in values), (name, values)
    assert f"pid {PREFIX}/nginx.pid" in text and "daemon off" in text


def test_render_config_without_upstream_keepalive_closes_connections() -> None:
    text = render_config(ProxyConfig(upstream_keepalive=0), 8080, [9090], PREFIX)
    d = directives(text)
    assert "keepalive" not in d and "keepalive_timeout" not in d
    assert "Connection close" in d["proxy_set_header"]
    assert 'Connection ""' not in text


def test_render_config_honours_explicit_retry_and_failure_settings() -> None:
    text = render_config(ProxyConfig(next_upstream="error timeout", next_upstream_tries=3, max_fails=2,
                                     fail_timeout_s=7), 1, [2], PREFIX)
    d = directives(text)
    assert d["proxy_next_upstream"] == ["error timeout"]
    assert d["proxy_next_upstream_tries"] == ["3"]
    assert d["server"] == ["127.0.0.1:2 max_fails=2 fail_timeout=7s"]


ms = st.integers(1, 600_000)


@given(connect=ms, read=ms, send=ms, idle=ms, keepalive=st.integers(0, 64))
def test_property_parse_directives_reads_back_what_was_rendered(connect: int, read: int, send: int, idle: int,
                                                                keepalive: int) -> None:
    """Any whole-millisecond timeouts render and read back exactly, in ms."""
    config = ProxyConfig(connect_timeout_s=connect / 1000, read_timeout_s=read / 1000, send_timeout_s=send / 1000,
                         upstream_keepalive=keepalive, upstream_keepalive_timeout_s=idle / 1000)
    back = parse_directives(render_config(config, 8080, [9090], PREFIX), READ_BACK_DIRECTIVES)
    assert back["proxy_connect_timeout"] == f"{connect}ms"
    assert back["proxy_read_timeout"] == f"{read}ms"
    assert back["proxy_send_timeout"] == f"{send}ms"
    assert back["proxy_next_upstream"] == "off"
    if keepalive:
        assert (back["keepalive"], back["keepalive_timeout"]) == (str(keepalive), f"{idle}ms")
    else:
        assert "keepalive" not in back and "keepalive_timeout" not in back


def test_parse_directives_ignores_comments_and_keeps_the_first_value() -> None:
    dump = """# configuration file /tmp/x/nginx.conf:
# proxy_read_timeout 1ms;
http {
    proxy_read_timeout 2500ms;   # the real one
    #proxy_send_timeout 9ms;
    proxy_send_timeout   3000ms;
    proxy_read_timeout 7ms;
    keepalive_timeout 4000ms;
    server_tokens off;
    server {
        listen 127.0.0.1:1;
    }
}
"""
    names = ("proxy_read_timeout", "proxy_send_timeout", "keepalive", "keepalive_timeout", "server", "listen")
    assert parse_directives(dump, names) == {
        "proxy_read_timeout": "2500ms",
        "proxy_send_timeout": "3000ms",
        "keepalive_timeout": "4000ms",
        "listen": "127.0.0.1:1",
    }


# -- redact -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("host=127.0.0.1 password=hunter2 dbname=x", "host=127.0.0.1 password=*** dbname=x"),
    ("password='hunter 2' dbname=x", "password=*** dbname=x"),
    ("password = 'it\\'s secret' port=5", "password = *** port=5"),
    ("PASSWORD=Hunter2", "PASSWORD=***"),
    ("PGPASSWORD=hunter2 psql", "PGPASSWORD=*** psql"),
    ("postgresql://drills:hunter2@127.0.0.1:5432/db", "postgresql://drills:***@127.0.0.1:5432/db"),
    ("see https://user:p%40ss@example.com/x and more", "see https://user:***@example.com/x and more"),
    ("two: password=a password=b", "two: password=*** password=***"),
])
def test_redact_masks_passwords(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", [
    "postgresql://drills@127.0.0.1:5432/db",
    "http://127.0.0.1:8080/work?app_s=1.5&db_s=0",
    "reset your password via the portal",
    "statement_timeout=1000ms user=drills",
    "mailto:someone@example.com",
    "",
])
def test_redact_leaves_other_text_alone(text: str) -> None:
    assert redact(text) == text


secret = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~!$&*+,;%:"),
                 min_size=8, max_size=24)


@given(secret)
def test_property_conninfo_and_url_passwords_are_masked(pw: str) -> None:
    assert redact(f"host=h password={pw} port=5") == "host=h password=*** port=5"
    assert redact(f"password='{pw} {pw}'") == "password=***"
    assert redact(f"postgresql://drills:{pw}@127.0.0.1:5432/db") == "postgresql://drills:***@127.0.0.1:5432/db"


@given(st.text())
def test_property_text_without_passwords_or_urls_is_unchanged(text: str) -> None:
    """Only 'password=' and 'scheme://user:pw@' forms are touched; redact is idempotent."""
    if "password" not in text.lower() and "://" not in text:
        assert redact(text) == text
    assert redact(redact(text)) == redact(text)


def test_redact_takes_linear_time_on_long_words() -> None:
    """A 200 kB word once cost minutes (an unbounded URL scheme matched from every position)."""
    import time

    from drills.redact import redact

    started = time.monotonic()
    assert redact("x" * 200_000) == "x" * 200_000
    assert time.monotonic() - started < 1.0
    assert redact("y" * 50 + "postgresql://app:s3cret@db/app") == "y" * 50 + "postgresql://app:***@db/app"


def test_render_config_lists_every_replica_and_reads_them_all_back() -> None:
    text = render_config(ProxyConfig(max_fails=3), 8080, [9001, 9002, 9003], PREFIX)
    assert directives(text)["server"] == [f"127.0.0.1:{p} max_fails=3 fail_timeout=10s" for p in (9001, 9002, 9003)]
    assert parse_directives(text, READ_BACK_DIRECTIVES)["server"] == " | ".join(
        f"127.0.0.1:{p} max_fails=3 fail_timeout=10s" for p in (9001, 9002, 9003))


def test_upstream_attempts_are_read_from_the_access_log() -> None:
    from drills.stack.proxy import upstream_attempts

    log = ('1733.1 502 3.5 1.9, 1.6 502, 502 layer=- "GET /block?s=2.5 HTTP/1.1"\n'
           '1733.2 200 0.01 0.010 200 layer=- "GET /readyz HTTP/1.1"\n'
           '1733.3 502 1.8 1.8 502 layer=- "GET /block?s=2.5 HTTP/1.1"\n'
           '1733.4 502 0.0 - - layer=- "GET /block?s=2.5 HTTP/1.1"\n')
    assert upstream_attempts(log, "/block?") == [[1.9, 1.6], [1.8], []]
    assert upstream_attempts(log, "/readyz") == [[0.01]]


def test_upstream_attempt_log_keeps_when_nginx_logged_each_request() -> None:
    from drills.stack.proxy import upstream_attempt_log

    log = ('1733.125 502 3.5 1.9, 1.6 502, 502 layer=- "GET /block?s=2.5&tag=a HTTP/1.1"\n'
           '1733.250 200 0.01 0.010 200 layer=- "GET /readyz HTTP/1.1"\n')
    assert upstream_attempt_log(log, "/block?") == [(1733.125, [1.9, 1.6])]
