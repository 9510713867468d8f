"""constraints.txt: written from the environment, installed from by set-up, and checked against the
installed versions at run time, with the result (and the file's sha256) in every run's provenance."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from pathlib import Path

from packaging.requirements import Requirement

from drills import constraints, provenance
from drills.constraints import ConstraintsCheck, check, describe, freeze, parse
from drills.export.render import render_block
from drills.findings import Findings, Provenance

ROOT = Path(__file__).resolve().parents[2]
def make_findings(provenance: Provenance) -> Findings:
    return Findings(drill="timeout-ladder", paper="timeout-ladders.md", run_id="20260101T000000Z-timeout-ladder",
                    started_at="2026-01-01T00:00:00Z", finished_at="2026-01-01T00:01:00Z", parameters={},
                    provenance=provenance, settings={}, findings=[])


ENV = {"PyYAML": "6.0.4", "typing_extensions": "4.16.0", "numpy": "2.4.6", "drills": "0.1.0", "pip": "26.0"}


def test_freeze_pins_every_distribution_but_the_project_and_pips_tools_sorted_and_normalized() -> None:
    text = freeze(ENV)
    pins = [line for line in text.splitlines() if not line.startswith("#")]
    assert pins == ["numpy==2.4.6", "pyyaml==6.0.4", "typing-extensions==4.16.0"]
    assert parse(text) == {"numpy": "2.4.6", "pyyaml": "6.0.4", "typing-extensions": "4.16.0"}
    assert freeze(ENV) == text  # no timestamp: refreshing an unchanged environment keeps the sha256


def test_parse_skips_comments_markers_and_other_lines() -> None:
    assert parse("# c\n\nFoo_Bar==1.0  # why\nbaz==2; python_version<'4'\n-e .\nqux>=3\n") == {
        "foo-bar": "1.0", "baz": "2"}


def test_an_environment_as_pinned_matches_and_names_the_files_sha256(tmp_path: Path) -> None:
    path = tmp_path / "constraints.txt"
    path.write_text(freeze(ENV), encoding="utf-8")
    result = check(path, ENV)
    assert result == ConstraintsCheck("constraints.txt", hashlib.sha256(path.read_bytes()).hexdigest(), True, [], [])
    assert describe(result) == f"as pinned in `constraints.txt` (sha256 `{result.sha256[:16]}`)"


def test_another_version_or_an_unpinned_distribution_does_not_match(tmp_path: Path) -> None:
    path = tmp_path / "constraints.txt"
    path.write_text(freeze(ENV), encoding="utf-8")
    result = check(path, {**ENV, "numpy": "2.4.5", "ipdb": "0.13"})
    assert result is not None and not result.matches
    assert result.differs == ["numpy 2.4.5 (pinned 2.4.6)"] and result.unpinned == ["ipdb 0.13"]
    assert describe(result).startswith("not as pinned in `constraints.txt`")
    assert "1 differ: numpy 2.4.5 (pinned 2.4.6); 1 not pinned: ipdb 0.13" in describe(result)
    # a distribution the file pins but this environment lacks (an extra not installed) is fine
    assert check(path, {"numpy": "2.4.6"}).matches  # type: ignore[union-attr]


def test_no_file_is_no_claim(tmp_path: Path) -> None:
    assert check(tmp_path / "constraints.txt", ENV) is None
    assert "not pinned" in describe(None)


def test_the_check_reads_the_installed_versions_at_run_time(tmp_path: Path) -> None:
    path = tmp_path / "constraints.txt"
    path.write_text(freeze(constraints.installed()), encoding="utf-8")
    assert check(path).matches  # type: ignore[union-attr]
    path.write_text(freeze({**constraints.installed(), "pytest": "0.0.1"}), encoding="utf-8")
    result = check(path)
    assert result is not None and not result.matches and result.differs[0].startswith("pytest ")


def test_provenance_records_the_check_of_the_repositorys_constraints_file(tmp_path: Path) -> None:
    (tmp_path / "constraints.txt").write_text("pytest==0.0.1\n", encoding="utf-8")
    prov = provenance.collect(tmp_path, {})
    assert prov.constraints is not None and prov.constraints.file == "constraints.txt"
    assert not prov.constraints.matches and any(d.startswith("pytest ") for d in prov.constraints.differs)
    assert provenance.collect(tmp_path / "elsewhere", {}).constraints is None


def test_findings_keep_the_check_through_json_and_read_runs_made_before_it(tmp_path: Path) -> None:
    result = ConstraintsCheck("constraints.txt", "ab" * 32, False, ["numpy 2.4.5 (pinned 2.4.6)"], [])
    findings = make_findings(provenance=Provenance(commit="abc", constraints=result))
    findings.save(tmp_path)
    assert Findings.load(tmp_path).provenance.constraints == result
    raw = json.loads((tmp_path / "findings.json").read_text(encoding="utf-8"))
    del raw["provenance"]["constraints"]
    (tmp_path / "findings.json").write_text(json.dumps(raw), encoding="utf-8")
    assert Findings.load(tmp_path).provenance.constraints is None


def test_the_papers_provenance_table_says_whether_the_packages_were_as_pinned() -> None:
    result = ConstraintsCheck("constraints.txt", "cd" * 32, True)
    block = render_block(make_findings(provenance=Provenance(constraints=result)), {})
    assert "| Python packages | as pinned in `constraints.txt` (sha256 `cdcdcdcdcdcdcdcd`) |" in block
    differs = dataclasses.replace(result, matches=False, differs=["numpy 2.4.5 (pinned 2.4.6)"])
    assert "not as pinned in `constraints.txt`" in render_block(make_findings(Provenance(constraints=differs)), {})
    assert "Python packages" not in render_block(make_findings(provenance=Provenance()), {})


def test_the_committed_file_pins_every_requirement_of_pyproject_within_its_bounds() -> None:
    pins = parse((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    every = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    for requirement in map(Requirement, every):
        if requirement.name == "drills":
            continue
        name = constraints.canonical(requirement.name)
        assert name in pins, f"{name} is not pinned: make constraints"
        assert requirement.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} vs {requirement}"
    assert "drills" not in pins and "pip" not in pins


def test_set_up_installs_every_part_with_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "PIP_INSTALL := $(VPY) -m pip install -q -c $(CONSTRAINTS)" in makefile
    commands = [line.strip().lstrip("@") for line in makefile.splitlines() if line.startswith("\t")]
    installs = [c for c in commands if ("pip install" in c or "$(PIP_INSTALL)" in c) and " -e " in c
                and not c.startswith("echo")]
    # every install of the project, but the one that rewrites the file from pyproject.toml's bounds
    assert len(installs) == 3 and sum(c.startswith("$(PIP_INSTALL) -e ") for c in installs) == 2
    assert next(c for c in installs if not c.startswith("$(PIP_INSTALL)")).endswith("-e '.[test]'")
    assert "$(STAMP): pyproject.toml $(CONSTRAINTS)" in makefile
    assert "-m drills.constraints freeze --output $(CONSTRAINTS)" in makefile
