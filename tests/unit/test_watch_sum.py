"""The replicas' /metrics figures add up to the fleet's."""

from __future__ import annotations

import pytest

from drills.stack import StackConfig
from drills.watch import sum_metrics


def test_replicas_figures_are_summed_key_by_key() -> None:
    assert sum_metrics([{"waiting": 1.0, "size": 4.0}, {"waiting": 2.0, "size": 4.0}]) == {"waiting": 3.0, "size": 8.0}
    assert sum_metrics([]) == {}


@pytest.mark.parametrize("replicas", [0, 9])
def test_a_stack_refuses_replicas_outside_its_range(replicas) -> None:
    with pytest.raises(ValueError, match=f"replicas={replicas}: must be 1–8"):
        StackConfig(replicas=replicas)
