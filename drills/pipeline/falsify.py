"""Falsifiers: a harmful configuration under which a hypothesis must come out *failed*.

A check that holds whatever the system did is not a check. Each drill declares, for every
hypothesis it judges, a :class:`Falsifier`: the anti-pattern put in the slot of the configuration
the hypothesis is about (the inverted ladder where the recommended one runs), or the mechanism the
claim rests on switched off. ``drills falsify`` runs the drill once per falsifier, with that one
configuration's stack replaced and the drill's parameters — its predictions — unchanged, judges as
usual, and requires every hypothesis the falsifier names to come out failed. One that held, or was
inconclusive, is *blind*: the run fails, and the paper says which check is blind and why.

Two things keep falsifying affordable without judging anything but a real run of the harmful stack:

* a falsifier may send only the part of the slot's load its hypotheses are judged on
  (:attr:`Falsifier.narrow`: e.g. only the peak step, for a claim about the peak) — never other
  predictions, which stay the parameters';
* where the harmful stack *is* another configuration's stack and the slot measures it the same way
  (:attr:`Falsifier.same_as`), the drill's own run already took that measurement: it is judged in
  the slot's place instead of being taken again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from ..errors import ExportError
from ..files import write_atomic
from ..findings import Finding, Verdict
from ..params import DrillParams
from ..stack import StackConfig

P = TypeVar("P", bound=DrillParams)

FALSIFICATION_FILE = "falsification.json"


@dataclass(frozen=True)
class Falsifier(Generic[P]):
    """A harmful stack in one configuration's slot, and the hypotheses it must make fail."""

    #: Stable id, shown in papers: "proxy-gives-up-first".
    name: str
    #: What is harmful about it, in a few words, for the paper: "the inverted ladder's stack".
    harm: str
    #: The configuration whose stack it replaces; only that configuration runs.
    configuration: str
    #: The harmful stack, made from the parameters and the stack the configuration would start.
    stack: Callable[[P, StackConfig], StackConfig]
    #: The hypothesis keys it must make fail.
    catches: tuple[str, ...]
    #: Parameter changes that narrow the slot's load to what ``catches`` are judged on; only the
    #: parameters the drill's ``LOAD_FIELDS`` names (the load's shape, never a prediction).
    narrow: Callable[[P], dict[str, object]] | None = None
    #: (slot measurement, the drill run's measurement): where the harmful stack is the stack of the
    #: configuration that took the second, measured by the same procedure as the first, the drill
    #: run's measurement is judged in the slot's place (see :func:`reusable`).
    same_as: tuple[str, str] | None = None

    def params_for(self, params: P) -> P:
        """The drill's parameters with the falsifier's narrower load (checked like any others)."""
        if self.narrow is None:
            return params
        changes = self.narrow(params)
        allowed = type(params).LOAD_FIELDS
        if not set(changes) <= set(allowed):
            raise ValueError(f"falsifier {self.name} may narrow only the load ({', '.join(allowed) or 'nothing'}), "
                             f"not {', '.join(sorted(set(changes) - set(allowed)))}")
        return params.replace(**changes)

    def measurements(self, of_configuration: Sequence[str]) -> tuple[str, ...]:
        """The configuration's measurements this falsifier takes: those its hypotheses are judged on.

        Where a hypothesis key starts with the measurement it is judged on
        ("no-shedding.p99-breaks-slo"), a falsifier of the step load alone does not also pay for the
        overload run on its stack; where the keys name none of them, it takes them all.
        """
        judged_on = {key.split(".", 1)[0] for key in self.catches}
        named = tuple(m for m in of_configuration if m in judged_on)
        return named if judged_on <= set(named) else tuple(of_configuration)


@dataclass(frozen=True)
class Catch:
    """What one hypothesis got under its falsifier."""

    key: str
    falsifier: str
    harm: str
    #: The hypothesis's verdict under the falsifier: only FAILED means the check can fail.
    verdict: Verdict
    observed: str
    detail: str
    #: How the harmful stack was measured, where not by the slot's whole load on a stack of its own:
    #: "only concurrency_steps=128", "judged on this run's recommended-keepalive measurement".
    how: str = ""

    @property
    def caught(self) -> bool:
        return self.verdict is Verdict.FAILED

    def summary(self) -> str:
        """"caught: failed, 12 requests — <the numbers>" or "BLIND: held, …": what the paper shows."""
        head = "caught by" if self.caught else "BLIND under"
        harm = f"{self.harm}; {self.how}" if self.how else self.harm
        return f"{head} `{self.falsifier}` ({harm}): {self.verdict.value}, {self.observed} — {self.detail}"


@dataclass
class Falsification:
    """Every falsifier of one drill, run: which hypotheses were caught, which are blind."""

    drill: str
    catches: list[Catch] = field(default_factory=list)
    #: Hypotheses the drill judged that no falsifier names.
    unfalsified: list[str] = field(default_factory=list)
    #: Falsifiers that could not run, and why (an error is not a catch).
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def blind(self) -> list[Catch]:
        return [c for c in self.catches if not c.caught]

    @property
    def passed(self) -> bool:
        return not self.blind and not self.unfalsified and not self.errors and bool(self.catches)

    def for_key(self, key: str) -> Catch | None:
        return next((c for c in self.catches if c.key == key), None)

    def summary(self) -> str:
        caught = sum(c.caught for c in self.catches)
        text = f"{'FALSIFIED' if self.passed else 'BLIND CHECKS'}: {caught}/{len(self.catches)} hypotheses caught"
        if self.blind:
            text += "; blind: " + ", ".join(f"{c.key} ({c.verdict.value} under {c.falsifier})" for c in self.blind)
        if self.unfalsified:
            text += "; no falsifier: " + ", ".join(self.unfalsified)
        if self.errors:
            text += "; could not run: " + ", ".join(f"{n} ({e})" for n, e in self.errors.items())
        return text

    # -- persistence ----------------------------------------------------------------------------

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FALSIFICATION_FILE
        write_atomic(path, json.dumps(dataclasses.asdict(self), indent=1, default=_plain) + "\n")
        return path

    @classmethod
    def load(cls, run_dir: Path) -> Falsification | None:
        """The falsification saved beside a run's findings, or None when none was run."""
        path = Path(run_dir) / FALSIFICATION_FILE
        if not path.is_file():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            catches = [Catch(**{**c, "verdict": Verdict(c["verdict"])}) for c in raw["catches"]]
            return cls(raw["drill"], catches, list(raw.get("unfalsified", [])), dict(raw.get("errors", {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ExportError(f"{path}: not a falsification this drills can read ({exc}); run `drills falsify` "
                              "again") from None


def catches_of(falsifier: Falsifier[Any], findings: Sequence[Finding], how: str = "") -> list[Catch]:
    """What each hypothesis the falsifier names got under it (a missing one: inconclusive)."""
    by_key = {f.key: f for f in findings}
    out = []
    for key in falsifier.catches:
        f = by_key.get(key)
        out.append(Catch(key, falsifier.name, falsifier.harm, f.verdict if f else Verdict.INCONCLUSIVE,
                         f.observed_text if f else "—", f.detail if f else "the hypothesis was not judged", how))
    return out


def unfalsified(falsifiers: Sequence[Falsifier[Any]], keys: Sequence[str]) -> list[str]:
    """The hypothesis keys no falsifier names."""
    named = {k for f in falsifiers for k in f.catches}
    return [k for k in keys if k not in named]


def _plain(value: object) -> object:
    if isinstance(value, Verdict):
        return value.value
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
