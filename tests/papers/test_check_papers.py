"""drills check-papers: the real papers pass, and a broken copy of each kind of snippet is caught."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drills.papercheck import Problem, check_papers, code_blocks, manifest_files
from drills.papercheck.recommended import DISAGREE
from drills.paths import manifests_dir, papers_dir
from drills.recommended import RECOMMENDED

pytestmark = pytest.mark.slow  # starts PostgreSQL for the SQL blocks


def open_disputes(problems: list[Problem]) -> list[Problem]:
    """The settings drills/recommended.py marks Disputed, reported until the planners settle them."""
    return [p for p in problems if p.check == DISAGREE and " is disputed: " in p.message]


def test_every_paper_passes(pg_binaries, nginx_binary) -> None:
    report = check_papers(sorted(p for p in papers_dir().glob("*.md") if p.name != "README.md"),
                          manifest_files(manifests_dir()))
    disputes = open_disputes(report.problems)
    assert [p for p in report.problems if p not in disputes] == [], "\n".join(map(str, report.problems))
    assert {p.message.split(" ", 1)[0] for p in disputes} == set(RECOMMENDED.disputed())
    kinds = {kind for _, kind, _ in report.blocks}
    assert {"nginx", "yaml", "python", "sql", "bash"} <= kinds
    # Every block is accounted for: checked by a tool, or explicitly not code.
    assert all(how for _, _, how in report.blocks)


def break_snippet(tmp_path: Path, paper: str, kind: str, old: str, new: str) -> tuple[Path, int]:
    """A copy of ``paper`` (with its figures) whose first ``kind`` block containing ``old`` has it replaced."""
    copy = tmp_path / paper
    shutil.copytree(papers_dir(), tmp_path, dirs_exist_ok=True)
    text = copy.read_text(encoding="utf-8")
    block = next(b for b in code_blocks(copy, text) if b.kind == kind and old in b.text)
    lines = text.splitlines(keepends=True)
    for index in range(block.line, len(lines)):
        if old in lines[index]:
            lines[index] = lines[index].replace(old, new, 1)
            copy.write_text("".join(lines), encoding="utf-8")
            return copy, index + 1
    raise AssertionError("snippet not found")


BROKEN = [
    # (paper, kind, text in the snippet, broken text, tool that must catch it, words in its message)
    ("timeout-ladders.md", "nginx", "proxy_read_timeout 20s;", "proxy_read_timeout ten_seconds;", "nginx -t",
     "invalid value"),
    ("timeout-ladders.md", "yaml", "timeoutSeconds: 2", "timeoutSecs: 2", "kubernetes schema", "timeoutSecs"),
    ("timeout-ladders.md", "python", "keepalive = 75", "keepalive = = 75", "python", "invalid syntax"),
    ("timeout-ladders.md", "python", "keepalive = 75", "keep_alive = 75", "gunicorn config",
     "'keep_alive' is not a Gunicorn setting"),
    ("timeout-ladders.md", "sql", "statement_timeout = '5s'", "statement_timeout = 'soon'", "postgresql",
     "statement_timeout"),
    ("load-testing.md", "bash", "--master", "--master; fi", "bash -n", "unexpected token"),
]


@pytest.mark.parametrize(("paper", "kind", "old", "new", "check", "words"), BROKEN,
                         ids=[f"{b[1]}:{b[4]}" for b in BROKEN])
def test_a_broken_snippet_is_caught_with_paper_line_and_message(tmp_path, paper, kind, old, new, check, words,
                                                                pg_binaries, nginx_binary) -> None:
    copy, line = break_snippet(tmp_path, paper, kind, old, new)
    problems = [p for p in check_papers([copy]).problems if p.check == check]
    assert problems, f"{check} did not catch {new!r}"
    assert problems[0].paper == copy
    assert abs(problems[0].line - line) <= 1, (problems[0], line)
    assert words in problems[0].message


def test_postgresql_settings_block_is_started_and_read_back(tmp_path, pg_binaries) -> None:
    paper = tmp_path / "settings.md"
    paper.write_text("# t\n\n```ini\nstatement_timeout = '5s'\nmax_connections = 40\n```\n\n"
                     "```conf\nshared_buffers = lots\n```\n", encoding="utf-8")
    problems = [p for p in check_papers([paper]).problems if p.check == "postgresql"]
    assert len(problems) == 1 and problems[0].line == 9  # the conf block's first line
    assert problems[0].message.startswith('FATAL:  invalid value for parameter "shared_buffers"')


def test_structure_quoted_defaults_and_unknown_kinds(tmp_path) -> None:
    paper = tmp_path / "timeout-ladders.md"
    shutil.copytree(papers_dir(), tmp_path, dirs_exist_ok=True)
    text = paper.read_text(encoding="utf-8")
    text = text.replace("## Anti-Patterns", "## Mistakes")
    text = text.replace("`statement_timeout_s=1.0`", "`statement_timeout_s=0.7`", 1)
    text = text.replace("(timeout-ladders.md)", "(no-such-paper.md)")
    text = text.replace("### Drill: timeout-ladder", "### Drill: timeout-ladder\n\nSee also `drills run ladder-x`.")
    text += "\n```toml\nx = 1\n```\n"
    paper.write_text(text, encoding="utf-8")
    found = {(p.check, p.message.split(" (")[0].split(";")[0]) for p in check_papers([paper]).problems}
    assert ("structure", "missing section '## Anti-Patterns'") in found
    assert any(check == "drill defaults" and "statement_timeout_s=0.7" in m for check, m in found)
    assert any(check == "drill" and "ladder-x" in m for check, m in found)
    assert any(check == "kind" for check, _ in found)


def test_cli_exit_codes(tmp_path) -> None:
    ladder = subprocess.run([sys.executable, "-m", "drills.cli", "check-papers", str(papers_dir() / "timeout-ladders.md")],
                            capture_output=True, text=True, timeout=300)
    assert ladder.returncode == 0, ladder.stderr
    assert re.fullmatch(r"\d+ blocks \(\d+ checked by their tool\), 0 problem\(s\)\n", ladder.stdout), ladder.stdout
    bad = tmp_path / "bad.md"
    bad.write_text("# only a title\n", encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "drills.cli", "check-papers", str(bad)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    assert f"{bad}:1: [structure] missing section '## Executive Summary'" in result.stderr
