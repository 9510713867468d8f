"""The CI workflows are valid GitHub Actions workflows (the schema GitHub publishes, vendored by
check-jsonschema, offline) and do what the README says: tests on push and pull request, nightly
verification that proposes the papers back, least privilege."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / ".github" / "workflows").glob("*.yml"))


def check(path: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent)) or "check-jsonschema"
    return subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(path)],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_passes_the_schema(path: Path) -> None:
    result = check(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_broken_workflow_fails_the_schema(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOWS[0].read_text(encoding="utf-8").replace("runs-on:", "run-on:"), encoding="utf-8")
    assert check(broken).returncode != 0


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS[0].parent / name).read_text(encoding="utf-8"))


def test_tests_run_on_every_push_and_pull_request_with_pip_caching() -> None:
    flow = load("test.yml")
    assert set(flow[True]) >= {"push", "pull_request"}  # YAML 1.1 reads the key "on" as True
    assert flow["permissions"] == {"contents": "read"}
    steps = flow["jobs"]["test"]["steps"]
    assert any(s.get("with", {}).get("cache") == "pip" for s in steps)
    assert any("make test" in s.get("run", "") for s in steps)


def test_the_nightly_verification_proposes_the_papers_and_keeps_the_runs() -> None:
    flow = load("verify.yml")
    assert "schedule" in flow[True] and flow["permissions"] == {"contents": "write", "pull-requests": "write"}
    text = (WORKFLOWS[0].parent / "verify.yml").read_text(encoding="utf-8")
    assert "--junit-xml" in text and "$GITHUB_STEP_SUMMARY" in text and "gh pr create" in text
    assert "upload-artifact" in text and "runs/" in text
