"""pyproject.toml's extras and the Makefile targets that install them: the heavy optional parts
(JupyterLab, the Kubernetes schemas) out of the base install, yet everything `make verify`,
`make test`, `make lab` and `make check-papers` need installed by them."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from drills.papercheck import tools
from drills.papercheck.blocks import Block

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 80}]}\n"


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def requirements(names: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(r.name): r for r in map(Requirement, names)}


def make_prerequisites(target: str) -> list[str]:
    """The prerequisites of ``target`` in the Makefile (its rule's line, before any ``##``)."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:([^#\n]*)", text, re.M)
    assert match, f"no rule for {target}"
    return match.group(1).split()


def test_jupyterlab_and_the_kubernetes_schemas_are_extras_not_base_requirements() -> None:
    base = requirements(project()["dependencies"])
    extras = project()["optional-dependencies"]
    assert "jupyterlab" not in base and "kubernetes-validate" not in base
    assert set(requirements(extras["lab"])) == {"jupyterlab"}
    assert set(requirements(extras["kubernetes"])) == {"kubernetes-validate"}


def test_the_test_extra_brings_both_extras_because_the_suite_uses_them() -> None:
    own = [r for r in map(Requirement, project()["optional-dependencies"]["test"]) if r.name == "drills"]
    assert len(own) == 1 and own[0].extras == {"lab", "kubernetes"}


def test_kubernetes_validate_bound_admits_only_releases_that_ship_the_schemas_check_papers_asks_for() -> None:
    requirement = requirements(project()["optional-dependencies"]["kubernetes"])["kubernetes-validate"]
    # 1.34.0's wheel stops at the v1.33.0 schemas; 1.34.1 is the first with v1.34.0.
    assert tools.KUBERNETES_VERSION == "1.34.0"
    assert not requirement.specifier.contains("1.34.0")
    assert requirement.specifier.contains(tools.KUBERNETES_VALIDATE_MIN)
    assert requirement.specifier.contains("1.37.0")


def test_the_installed_kubernetes_validate_ships_the_schemas_and_satisfies_the_bound() -> None:
    from kubernetes_validate.utils import all_versions

    assert tools.KUBERNETES_VERSION in all_versions()
    requirement = requirements(project()["optional-dependencies"]["kubernetes"])["kubernetes-validate"]
    assert requirement.specifier.contains(importlib.metadata.version("kubernetes-validate"))
    assert tools.kubernetes_schemas_missing() is None


def test_check_papers_says_how_to_install_kubernetes_validate_when_it_is_missing(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "kubernetes_validate", None)  # import fails as if not installed
    monkeypatch.setitem(sys.modules, "kubernetes_validate.utils", None)
    how, problems = tools.BlockChecker().kubernetes(Block(Path("p.md"), 3, "yaml", MANIFEST))
    assert how.startswith("not checked")
    assert len(problems) == 1 and "pip install 'kubernetes-validate>=1.34.1'" in problems[0].message


def test_check_papers_refuses_a_kubernetes_validate_without_the_schemas(monkeypatch) -> None:
    import kubernetes_validate.utils

    monkeypatch.setattr(kubernetes_validate.utils, "all_versions", lambda: ["1.25.0", "1.33.0"])
    missing = tools.kubernetes_schemas_missing()
    assert missing is not None and "no Kubernetes 1.34.0 schemas (it has 1.25.0 to 1.33.0)" in missing
    _, problems = tools.BlockChecker().kubernetes(Block(Path("p.md"), 3, "yaml", MANIFEST))
    assert problems and "kubernetes-validate>=1.34.1" in problems[0].message


def test_a_kind_without_a_schema_is_reported_with_its_message() -> None:
    block = Block(Path("p.md"), 3, "yaml", "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: x}\n")
    _, problems = tools.BlockChecker().kubernetes(block)
    assert len(problems) == 1 and "Couldn't find schema for kind Gadget" in problems[0].message


@pytest.mark.parametrize(("target", "extra"), [("test", "test"), ("lint", "test"), ("lab", "lab"),
                                               ("check-papers", "kubernetes")])
def test_each_make_target_installs_the_extra_it_needs(target: str, extra: str) -> None:
    assert "$(VENV)/.extra-" + extra in make_prerequisites(target)
    assert extra in project()["optional-dependencies"]


def test_make_verify_needs_no_extra() -> None:
    assert not [p for p in make_prerequisites("verify") if ".extra-" in p]
    recipe = (ROOT / "Makefile").read_text(encoding="utf-8").split("\n$(VENV)/.extra-%:")[1].split("\n\n")[0]
    assert "-e '.[$*]'" in recipe
