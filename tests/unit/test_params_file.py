"""`drills run/verify -f/--params-file FILE.yaml`: a YAML mapping of parameters, checked like `-p`
(the nearest valid name for an unknown one, the allowed range for a bad value), `-p` over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from drills.cli import EXIT_ERROR, main
from drills.cli import measure as commands


class Started(Exception):
    """Raised where a drill would start: everything before it was checked."""


@pytest.fixture
def started(monkeypatch) -> list:
    calls: list = []

    def run_notebook(drill, params, **kwargs):
        calls.append(params)
        raise Started

    monkeypatch.setattr(commands, "run_notebook", run_notebook)
    return calls


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_run_takes_its_parameters_from_the_file_typed_by_the_field(tmp_path: Path, started: list) -> None:
    path = write(tmp_path, "statement_timeout_s: 0.8\nrepeats: 3\nconfigurations: [recommended, inverted]\n")
    result = invoke("run", "timeout-ladder", "--params-file", str(path))
    assert isinstance(result.exception, Started), result.output
    params = started[0]
    assert (params.statement_timeout_s, params.repeats, params.configurations) == (0.8, 3, "recommended,inverted")


def test_p_overrides_the_file(tmp_path: Path, started: list) -> None:
    path = write(tmp_path, "statement_timeout_s: 0.8\nrepeats: 3\n")
    result = invoke("run", "timeout-ladder", "-f", str(path), "-p", "repeats=2")
    assert isinstance(result.exception, Started), result.output
    assert (started[0].statement_timeout_s, started[0].repeats) == (0.8, 2)


def test_an_unknown_name_in_the_file_gets_the_nearest_valid_one(tmp_path: Path, started: list) -> None:
    result = invoke("run", "timeout-ladder", "-f", str(write(tmp_path, "statement_timeout: 0.8\n")))
    assert result.exit_code == EXIT_ERROR and not started
    assert "parameter statement_timeout=0.8: unknown parameter; did you mean statement_timeout_s?" in result.output


def test_a_bad_value_in_the_file_names_the_parameter_and_what_is_allowed(tmp_path: Path, started: list) -> None:
    result = invoke("run", "timeout-ladder", "-f", str(write(tmp_path, "client_timeout_s: 0\n")))
    assert result.exit_code == EXIT_ERROR and not started
    assert "parameter client_timeout_s=0.0: must be > 0 s" in result.output
    result = invoke("run", "timeout-ladder", "-f", str(write(tmp_path, "repeats: many\n")))
    assert result.exit_code == EXIT_ERROR and "parameter repeats='many': must be a whole number" in result.output


@pytest.mark.parametrize(("text", "message"), [
    ("- statement_timeout_s\n- 0.8\n", "must be a YAML mapping of parameter names to values"),
    ("statement_timeout_s: [0.8\n", "cannot be read as YAML"),
    ("statement_timeout_s: {value: 0.8}\n", "must be a single value"),
])
def test_a_file_that_is_not_a_mapping_of_values_is_refused(tmp_path: Path, started: list, text: str,
                                                            message: str) -> None:
    result = invoke("run", "timeout-ladder", "-f", str(write(tmp_path, text)))
    assert result.exit_code == EXIT_ERROR and message in result.output and not started


def test_verify_checks_the_file_for_every_selected_drill_and_p_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(commands, "new_verify_dir", lambda: (_ for _ in ()).throw(Started()))
    result = invoke("verify", "timeout-ladder", "-f", str(write(tmp_path, "workerz: 2\n")))
    assert result.exit_code == EXIT_ERROR and "no selected drill has this parameter; did you mean workers?" in result.output
    result = invoke("verify", "timeout-ladder", "-f", str(write(tmp_path, "client_timeout_s: 0\n")))
    assert result.exit_code == EXIT_ERROR and "parameter client_timeout_s=0.0: must be > 0 s" in result.output
    result = invoke("verify", "timeout-ladder", "-f", str(tmp_path / "params.yaml"), "-p", "client_timeout_s=2.5")
    assert isinstance(result.exception, Started), result.output  # checked and planned; the drills would start now


def test_help_shows_the_option() -> None:
    for command in ("run", "verify"):
        assert "-f, --params-file FILE" in invoke(command, "--help").output
