"""The retry-amplification drill's parameters and stacks: bad values fail before anything starts,
naming the parameter; each layer's policy is where its configuration says."""

from __future__ import annotations

import pytest

from drills.catalog.retry_amplification.configurations import (
    NAIVE_NEXT_UPSTREAM,
    naive_stack,
    recommended_stack,
    stack_config,
    storm_stack,
)
from drills.catalog.retry_amplification.falsifiers import FALSIFIERS
from drills.catalog.retry_amplification.params import Params
from drills.errors import ParameterError
from drills.recommended import RECOMMENDED


@pytest.mark.parametrize(("changes", "named"), [
    ({"naive_nginx_tries": 4}, "naive_nginx_tries"),  # more tries than replicas
    ({"fault_delay_s": 0.3}, "statement_timeout_s + 0.2"),  # the fault must outlast statement_timeout
    ({"jitter_clients": 20}, "jitter_clients"),  # too few to fill the bins
    ({"key_hold_s": 0.4}, "lock_timeout_s + 0.1"),  # the first must still hold its key
    ({"storm_fault_hold_s": 0.06}, "storm_fault_hold_s"),  # a fault that overloads nothing
    ({"storm_hold_s": 0.2, "storm_fault_hold_s": 0.3}, "storm_hold_s"),  # no room to recover with a budget
    ({"recovery_limit_s": 7.0}, "recovery_limit_s + recovery_hold_s"),
    ({"naive_app_attempts": 5, "statement_timeout_s": 0.6, "fault_delay_s": 1.0}, "naive_app_attempts"),
    ({"lock_timeout_s": 0.5}, "lock_timeout_s + 0.05"),  # a lock wait cut as a slow statement
    ({"deadlock_timeout_s": 0.4}, "deadlock_timeout_s + 0.05"),
    ({"configurations": "recommended,storm"}, "configurations"),
])
def test_bad_parameters_are_refused_by_name(changes: dict[str, object], named: str) -> None:
    with pytest.raises(ParameterError) as error:
        Params(**changes)  # type: ignore[arg-type]
    assert named in str(error.value)


def test_the_recommended_policy_is_the_papers_scaled() -> None:
    params = Params()
    stack = recommended_stack(params)
    assert stack.client_retry is not None
    assert stack.client_retry.attempts == RECOMMENDED.retry.attempts
    assert stack.client_retry.backoff_base_s == pytest.approx(RECOMMENDED.retry.client_backoff_base_s * 0.2)
    assert stack.client_retry.budget_ratio == RECOMMENDED.retry.budget_ratio
    assert stack.proxy.next_upstream == RECOMMENDED.proxy.proxy_next_upstream
    assert stack.service.retry_on == "serialization" and stack.service.idempotency


def test_every_layer_of_the_naive_stack_retries_everything() -> None:
    params = Params()
    stack = naive_stack(params)
    assert stack.proxy.next_upstream == NAIVE_NEXT_UPSTREAM and stack.proxy.max_fails == 0
    assert stack.proxy.next_upstream_tries == params.naive_nginx_tries
    assert stack.service.retry_on == "operational" and not stack.service.idempotency
    assert stack.client_retry is not None and stack.client_retry.methods == "all"


def test_the_storms_differ_in_the_budget_only() -> None:
    params = Params()
    with_budget, without = storm_stack(params, budget=True), storm_stack(params, budget=False)
    assert with_budget.client_retry is not None and without.client_retry is not None
    assert with_budget.client_retry.budget_ratio == params.budget_ratio and without.client_retry.budget_ratio == 0
    assert (with_budget.postgres, with_budget.service, with_budget.proxy) == (without.postgres, without.service,
                                                                               without.proxy)


def test_a_reused_falsifier_names_a_stack_the_drill_runs_and_the_others_one_it_does_not() -> None:
    params = Params()
    runs = {name: stack_config(params, name) for name in ("recommended", "naive", "budget", "no-budget")}
    for falsifier in FALSIFIERS:
        harmful = falsifier.stack(params, stack_config(params, falsifier.configuration))
        assert harmful != runs[falsifier.configuration], falsifier.name
        if falsifier.same_as is None:
            assert harmful not in runs.values(), falsifier.name
        else:
            assert any(harmful == stack for stack in runs.values()), falsifier.name
