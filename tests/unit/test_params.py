"""Drill parameters (drills.params, via the timeout-ladder's Params).

Strings from the CLI and guesses from papermill are converted to each field's type; unknown names,
wrong types, impossible values and impossible combinations are a one-line ParameterError that names
the parameter and the value, raised before any process starts.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drills.catalog.timeout_ladder import CONFIGURATIONS, Ladder, Params
from drills.errors import DrillsError, ParameterError

FIELDS = [f.name for f in dataclasses.fields(Params)]


def assert_one_line_naming(exc: ParameterError, *names: str) -> None:
    message = str(exc)
    assert "\n" not in message and "\r" not in message, message
    for name in names:
        assert name in message, (name, message)


# -- defaults and conversion ----------------------------------------------------------------------


def test_defaults_are_valid_and_keep_the_ladder_in_order() -> None:
    p = Params()
    assert p.statement_timeout_s < p.request_budget_s < p.proxy_read_timeout_s < p.client_timeout_s
    assert p.inverted_proxy_read_timeout_s < p.inverted_statement_timeout_s
    assert p.selected_configurations() == list(CONFIGURATIONS)
    assert Params.from_mapping({}) == p
    assert Params.from_mapping(p.to_dict()) == p


def test_strings_are_converted_to_the_field_type() -> None:
    p = Params.from_mapping({"statement_timeout_s": "0.8", "workers": "3", "configurations": "recommended"})
    assert p.statement_timeout_s == 0.8 and type(p.statement_timeout_s) is float
    assert p.workers == 3 and type(p.workers) is int
    assert p.selected_configurations() == ["recommended"]


def test_surrounding_spaces_in_cli_strings_are_accepted() -> None:
    p = Params.from_mapping({"statement_timeout_s": " 0.75 ", "repeats": " 4"})
    assert (p.statement_timeout_s, p.repeats) == (0.75, 4)


def test_int_is_accepted_for_a_float_field() -> None:
    p = Params.from_mapping({"client_timeout_s": 5})
    assert p.client_timeout_s == 5.0 and type(p.client_timeout_s) is float


def test_whole_float_is_accepted_for_an_int_field_but_not_a_fraction() -> None:
    """Papermill may hand over 3.0 for 3; 2.5 workers is refused."""
    assert type(Params.from_mapping({"workers": 3.0}).workers) is int
    with pytest.raises(ParameterError) as info:
        Params.from_mapping({"workers": 2.5})
    assert_one_line_naming(info.value, "workers", "2.5", "whole number")


@pytest.mark.parametrize(("name", "value"), [("statement_timeout_s", True), ("workers", False),
                                             ("repeats", True), ("tolerance_pct", False)])
def test_bool_is_rejected_for_numbers(name: str, value: bool) -> None:
    """True is an int in Python, but never a sensible number of seconds or workers."""
    with pytest.raises(ParameterError) as info:
        Params.from_mapping({name: value})
    assert info.value.name == name and info.value.value is value
    assert_one_line_naming(info.value, name, repr(value))


@pytest.mark.parametrize(("name", "value", "allowed"), [
    ("statement_timeout_s", "abc", "must be a number of seconds"),
    ("tolerance_ms", "fast", "must be a number"),
    ("workers", "abc", "must be a whole number"),
    ("workers", "3.0", "must be a whole number"),
    ("configurations", 3, "must be a string"),
    ("statement_timeout_s", None, "must be a number of seconds"),
])
def test_unconvertible_values_name_parameter_and_value(name: str, value: object, allowed: str) -> None:
    with pytest.raises(ParameterError) as info:
        Params.from_mapping({name: value})
    assert str(info.value) == f"parameter {name}={value!r}: {allowed}"
    assert isinstance(info.value, ValueError) and isinstance(info.value, DrillsError)


def test_unknown_names_are_refused_listing_the_known_ones() -> None:
    with pytest.raises(ParameterError) as info:
        Params.from_mapping({"workerz": "4", "statement_timeout_s": "1"})
    assert info.value.name == "workerz"
    assert_one_line_naming(info.value, "workerz", "'4'", "unknown parameter", *FIELDS)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", math.nan, math.inf])
def test_non_finite_floats_are_refused(value) -> None:
    with pytest.raises(ParameterError) as info:
        Params.from_mapping({"statement_timeout_s": value})
    assert_one_line_naming(info.value, "statement_timeout_s")


def test_nan_is_refused_when_constructing_directly() -> None:
    with pytest.raises(ParameterError, match="tolerance_ms=nan: must be a finite number"):
        Params(tolerance_ms=math.nan)


# -- from_namespace (a notebook's globals) -----------------------------------------------------------


def _helper() -> None:
    """A function defined in a notebook cell."""


def notebook_namespace(**parameters: object) -> dict[str, object]:
    """What a notebook's globals look like right after its parameters cell."""
    return {
        "__name__": "__main__", "__builtins__": __builtins__, "_": None, "__": None, "_i1": "import os",
        "_oh": {}, "In": ["", "import os"], "Out": {}, "get_ipython": lambda: None, "exit": object(),
        "quit": object(), "open": open, "os": os, "math": math, "Path": Path, "helper": _helper,
        "print_": print, "out_dir": "runs/20260101T000000Z-timeout-ladder",
        **parameters,
    }


def test_from_namespace_ignores_ipython_names_modules_functions_and_out_dir() -> None:
    p = Params.from_namespace(notebook_namespace(workers=3, statement_timeout_s="0.8"))
    assert p == Params(workers=3, statement_timeout_s=0.8)


def test_from_namespace_with_no_parameters_gives_defaults() -> None:
    assert Params.from_namespace(notebook_namespace()) == Params()


@pytest.mark.parametrize(("name", "value"), [("workerz", 4), ("timeout", 1.0), ("results", [1, 2])])
def test_from_namespace_rejects_an_unknown_plain_value(name: str, value: object) -> None:
    """A misspelled `-p workerz 4` fails instead of being silently ignored."""
    with pytest.raises(ParameterError) as info:
        Params.from_namespace(notebook_namespace(**{name: value}))
    assert info.value.name == name
    assert_one_line_naming(info.value, name, "unknown parameter", "workers")


def test_from_namespace_converts_like_from_mapping() -> None:
    with pytest.raises(ParameterError, match="workers='many'"):
        Params.from_namespace(notebook_namespace(workers="many"))


# -- impossible values and relations --------------------------------------------------------------


INVALID = {
    "statement timeout zero": ({"statement_timeout_s": 0}, "statement_timeout_s"),
    "client timeout negative": ({"client_timeout_s": -1}, "client_timeout_s"),
    "proxy timeout absurd": ({"proxy_read_timeout_s": 601}, "proxy_read_timeout_s"),
    "inverted not inverted": ({"inverted_proxy_read_timeout_s": 2.0}, "inverted_proxy_read_timeout_s"),
    "inverted beyond statement": ({"inverted_proxy_read_timeout_s": 2.5}, "inverted_statement_timeout_s"),
    "concurrency above pool": ({"concurrency": 5}, "concurrency"),
    "concurrency zero": ({"concurrency": 0}, "concurrency"),
    "pool above max_connections": ({"workers": 8, "pool_max_size": 4}, "max_connections"),
    "pool above max_connections 2": ({"max_connections": 12}, "pool_max_size"),
    "block not past heartbeat": ({"heartbeat_block_s": 3.0}, "heartbeat_block_s"),
    "block names gunicorn": ({"heartbeat_block_s": 2.5}, "gunicorn_timeout_s"),
    "await not past heartbeat": ({"heartbeat_await_s": 2.0}, "heartbeat_await_s"),
    "gunicorn timeout zero": ({"gunicorn_timeout_s": 0}, "gunicorn_timeout_s"),
    "unknown configuration": ({"configurations": "recommended,bogus"}, "bogus"),
    "pool min above max": ({"pool_min_size": 5}, "pool_max_size"),
    "workers zero": ({"workers": 0}, "workers"),
    "repeats too many": ({"repeats": 21}, "repeats"),
    "sample interval too fine": ({"sample_interval_s": 0.001}, "sample_interval_s"),
    "tolerance_pct above 100": ({"tolerance_pct": 101}, "tolerance_pct"),
}


@pytest.mark.parametrize(("values", "named"), INVALID.values(), ids=INVALID.keys())
def test_impossible_values_and_relations_raise_one_line(values: dict, named: str) -> None:
    """Each impossible setting fails up front, in one line naming the parameter at fault."""
    with pytest.raises(ParameterError) as info:
        Params.from_mapping(values)
    assert_one_line_naming(info.value, named)


def test_relation_message_names_both_sides() -> None:
    with pytest.raises(ParameterError) as info:
        Params(inverted_proxy_read_timeout_s=2.0)
    assert str(info.value) == (
        "parameter inverted_proxy_read_timeout_s=2.0: must be < inverted_statement_timeout_s=2 "
        "(otherwise the inverted configuration is not inverted)")


def test_heartbeat_block_message_names_gunicorn_and_block() -> None:
    with pytest.raises(ParameterError) as info:
        Params(heartbeat_block_s=3.0)  # gunicorn_timeout_s=2: needs more than 3 s
    assert_one_line_naming(info.value, "gunicorn_timeout_s + 1", "heartbeat_block_s=3")


def test_relations_at_their_edges() -> None:
    """Just inside each relation is accepted: the checks are not stricter than they say."""
    Params(heartbeat_block_s=3.001)
    Params(concurrency=4, pool_max_size=4)
    Params(workers=3, pool_max_size=5, concurrency=4, max_connections=20)  # 3*5+2 = 17 = 20-3
    with pytest.raises(ParameterError):
        Params(workers=4, pool_max_size=4, max_connections=20)  # 4*4+2 = 18 > 17


def test_replace_converts_and_checks() -> None:
    assert Params().replace(workers="3").workers == 3
    with pytest.raises(ParameterError):
        Params().replace(concurrency=99)


@given(st.one_of(st.text(), st.floats().map(repr), st.integers().map(str)))
def test_property_any_string_either_converts_or_fails_with_one_line(text: str) -> None:
    """Whatever string arrives for a float field: a valid Params or a one-line ParameterError."""
    try:
        p = Params.from_mapping({"tolerance_ms": text})
    except ParameterError as exc:
        assert exc.name == "tolerance_ms"
        assert "\n" not in str(exc)
    else:
        assert p.tolerance_ms == float(text.strip()) and 1 <= p.tolerance_ms <= 10_000


# -- direct construction, ladder order, the connection budget --------------------------------------


def test_direct_construction_converts_and_checks_like_from_mapping() -> None:
    """Params(...) built in Python gets the same conversion and one-line errors as the CLI."""
    assert Params(statement_timeout_s="0.8") == Params.from_mapping({"statement_timeout_s": "0.8"})  # type: ignore[arg-type]
    assert isinstance(Params(statement_timeout_s=1).statement_timeout_s, float)
    with pytest.raises(ParameterError, match="statement_timeout_s='abc': must be a number"):
        Params(statement_timeout_s="abc")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="workers=True"):
        Params(workers=True)


def test_recommended_ladder_out_of_order_is_a_configuration_to_verify_not_refused() -> None:
    """An unwise ladder is what a user may want to verify: accepted, then judged (and failed)."""
    params = Params(statement_timeout_s=3.0, request_budget_s=3.5, proxy_read_timeout_s=2.5)  # both above it
    ladder = Ladder("recommended", 3.0, params.request_budget_s, params.proxy_read_timeout_s,
                    params.client_timeout_s)
    # A 3.5 s query crosses statement_timeout, but the proxy (2.5 s) answers first.
    assert ladder.expect(0.0, 3.5) == ("proxy-504", 2.5)


def test_connection_limit_message_is_arithmetically_consistent() -> None:
    with pytest.raises(ParameterError) as info:
        Params(workers=8, pool_max_size=4, max_connections=20)
    message = str(info.value)
    assert "pool_max_size=4" in message and "= 34 exceeds the 17 non-superuser slots" in message
    assert "pool_max_size ≤ 1" in message and "\n" not in message
