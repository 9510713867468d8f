"""What a drill found: hypotheses judged on measurements, with the numbers they were judged on.

A verdict is one of held, failed or inconclusive. Zero samples, or a missing or non-finite
measurement, is inconclusive, never held. A failed hypothesis is a finding, not an exception.
A fourth verdict, not judged, marks a hypothesis the drill could not test on the deployment it
ran against (a staging target it does not own cannot be restarted with other settings): it says
why, and it neither passes nor fails a run.

``Findings`` is what a run leaves in its folder as ``findings.json``; the export step reads it
back to write the paper's verified section.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ExportError

FINDINGS_FILE = "findings.json"
SCHEMA_VERSION = 1


class Verdict(str, enum.Enum):
    HELD = "held"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    NOT_JUDGED = "not judged"


# -- bounds: explicit, each with its limit, tolerance and unit -------------------------------------


@dataclass(frozen=True)
class AtMost:
    limit: float
    unit: str
    tolerance: float = 0.0

    def admits(self, value: float) -> bool:
        return value <= self.limit + self.tolerance

    def __str__(self) -> str:
        tol = f" (+{_num(self.tolerance)} {self.unit} tolerance)" if self.tolerance else ""
        return f"≤ {_num(self.limit)} {self.unit}{tol}".replace("  ", " ")


@dataclass(frozen=True)
class AtLeast:
    limit: float
    unit: str
    tolerance: float = 0.0

    def admits(self, value: float) -> bool:
        return value >= self.limit - self.tolerance

    def __str__(self) -> str:
        tol = f" (−{_num(self.tolerance)} {self.unit} tolerance)" if self.tolerance else ""
        return f"≥ {_num(self.limit)} {self.unit}{tol}".replace("  ", " ")


@dataclass(frozen=True)
class Within:
    target: float
    tolerance: float
    unit: str

    def admits(self, value: float) -> bool:
        return abs(value - self.target) <= self.tolerance

    def __str__(self) -> str:
        return f"{_num(self.target)} ± {_num(self.tolerance)} {self.unit}"


Bound = AtMost | AtLeast | Within


@dataclass(frozen=True)
class Hypothesis:
    """A claim the paper makes, and the bound a measurement must meet for it to hold."""

    #: Stable id, used in papers and run history: "<configuration>.<name>".
    key: str
    #: The sentence the paper makes.
    claim: str
    bound: Bound
    #: True when the claim is about the configuration the paper recommends: only those decide
    #: whether a run passes (a failed or inconclusive one fails it).
    recommended: bool
    min_samples: int = 1

    @property
    def configuration(self) -> str:
        return self.key.split(".", 1)[0]

    def judge(self, observed: float | None, samples: int, detail: str = "") -> Finding:
        """Judge ``observed`` (measured over ``samples`` samples) against the bound."""
        need = max(1, self.min_samples)  # zero samples never hold, whatever min_samples says
        if samples < need or observed is None or not math.isfinite(observed):
            why = f"{samples} sample(s), need at least {need}"
            if observed is None or (isinstance(observed, float) and not math.isfinite(observed)):
                why += "; no measurement"
            return Finding.of(self, None if observed is None or not math.isfinite(observed) else observed,
                              samples, Verdict.INCONCLUSIVE, f"{why}. {detail}".strip())
        verdict = Verdict.HELD if self.bound.admits(observed) else Verdict.FAILED
        return Finding.of(self, observed, samples, verdict, detail)

    def inconclusive(self, observed: float | None, samples: int, why: str) -> Finding:
        """A finding that cannot be judged although samples exist (e.g. a saturated generator)."""
        return Finding.of(self, observed, samples, Verdict.INCONCLUSIVE, why)

    def not_judged(self, why: str) -> Finding:
        """A hypothesis this run could not test at all, and why (e.g. it needs to own the stack)."""
        return Finding.of(self, None, 0, Verdict.NOT_JUDGED, why)


@dataclass(frozen=True)
class Finding:
    """A judged hypothesis; keeps the numbers so a reader can re-judge it."""

    key: str
    claim: str
    recommended: bool
    expected: str
    observed: float | None
    unit: str
    samples: int
    verdict: Verdict
    detail: str = ""

    @classmethod
    def of(cls, hypothesis: Hypothesis, observed: float | None, samples: int, verdict: Verdict, detail: str) -> Finding:
        return cls(
            key=hypothesis.key,
            claim=hypothesis.claim,
            recommended=hypothesis.recommended,
            expected=str(hypothesis.bound),
            observed=observed,
            unit=hypothesis.bound.unit,
            samples=samples,
            verdict=verdict,
            detail=detail,
        )

    @property
    def observed_text(self) -> str:
        return "—" if self.observed is None else f"{_num(self.observed)} {self.unit}".strip()


@dataclass(frozen=True)
class Chart:
    """A figure file in the run folder."""

    name: str
    file: str
    caption: str


@dataclass
class Findings:
    """Everything one drill run produced, as saved in ``<run folder>/findings.json``."""

    drill: str
    paper: str
    run_id: str
    started_at: str
    finished_at: str
    #: The drill's parameters as it ran with them.
    parameters: dict[str, Any]
    #: Who ran what where: commit, versions, host (no secrets).
    provenance: dict[str, Any]
    #: Per configuration, the settings each component reported back (SHOW, nginx -T, ...).
    settings: dict[str, Any]
    findings: list[Finding]
    charts: list[Chart] = field(default_factory=list)
    #: Small summary tables: name -> rows (first row is the header).
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    #: Raw per-request observations, for re-analysis.
    observations: list[dict[str, Any]] = field(default_factory=list)
    #: None for the embedded local stack; for a deployment the drill does not own, what it was
    #: (URL without credentials, database host, what the drill could not do there).
    target: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    # -- outcome --------------------------------------------------------------------------------

    @property
    def passed(self) -> bool:
        """True when every judged hypothesis about a recommended configuration held."""
        gating = [f for f in self.findings if f.recommended and f.verdict is not Verdict.NOT_JUDGED]
        return bool(gating) and all(f.verdict is Verdict.HELD for f in gating)

    def counts(self) -> dict[Verdict, int]:
        return {v: sum(1 for f in self.findings if f.verdict is v) for v in Verdict}

    def summary(self) -> str:
        """"PASSED: 6 held, 0 failed, 0 inconclusive" (and "3 not judged" when any were not)."""
        counts = self.counts()
        text = (f"{'PASSED' if self.passed else 'FAILED'}: {counts[Verdict.HELD]} held, "
                f"{counts[Verdict.FAILED]} failed, {counts[Verdict.INCONCLUSIVE]} inconclusive")
        return text + (f", {counts[Verdict.NOT_JUDGED]} not judged" if counts[Verdict.NOT_JUDGED] else "")

    # -- persistence ----------------------------------------------------------------------------

    def to_json(self) -> str:
        """JSON with any password that slipped into a value replaced by ``***``."""
        from .redact import redact_value

        plain = json.loads(json.dumps(dataclasses.asdict(self), default=_json_default))
        return json.dumps(redact_value(plain), indent=2, sort_keys=False) + "\n"

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / FINDINGS_FILE
        write_atomic(path, self.to_json())
        return path

    @classmethod
    def load(cls, run_dir: Path) -> Findings:
        path = Path(run_dir) / FINDINGS_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ExportError(f"{path}: no findings here; the run did not finish (run the drill again)") from None
        except NotADirectoryError:
            raise ExportError(f"{run_dir}: not a run folder (give the folder that holds {FINDINGS_FILE})") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ExportError(f"{path}: not valid JSON ({exc}); the run was cut off (run the drill again)") from None
        except OSError as exc:
            raise ExportError(f"{path}: cannot be read ({exc.strerror})") from None
        if not isinstance(raw, dict) or raw.get("schema_version") != SCHEMA_VERSION:
            raise ExportError(
                f"{path}: findings schema {raw.get('schema_version') if isinstance(raw, dict) else '?'} "
                f"is not {SCHEMA_VERSION}; this run was made by another version of drills (run the drill again)"
            )
        try:
            raw["findings"] = [Finding(**{**f, "verdict": Verdict(f["verdict"])}) for f in raw["findings"]]
            raw["charts"] = [Chart(**c) for c in raw.get("charts", [])]
            return cls(**raw)
        except (TypeError, KeyError, ValueError) as exc:
            raise ExportError(f"{path}: findings are incomplete ({exc}); run the drill again") from None

    # -- display in notebooks -------------------------------------------------------------------

    def verdict_rows(self) -> list[list[str]]:
        rows = [["hypothesis", "expected", "observed", "n", "verdict", "numbers"]]
        for f in self.findings:
            rows.append([f.key, f.expected, f.observed_text, str(f.samples), f.verdict.value, f.detail])
        return rows

    def __repr__(self) -> str:
        lines = [f"{self.drill} run {self.run_id}: {self.summary()}"]
        lines += [f"  {f.verdict.value:<12} {f.key}: {f.observed_text} (expected {f.expected}, n={f.samples})"
                  for f in self.findings]
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        from .export.render import markdown_table

        head = f"**{self.drill}** — {self.summary()}\n\n"
        return head + markdown_table(self.verdict_rows())


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write ``text`` to ``path`` via a temp file in the same folder and ``os.replace``.

    A reader (or a crash) sees the old file or the new one, never half of one. The temp file's name
    carries the writer's pid, so a writer killed half-way (SIGKILL runs no cleanup) leaves a file
    that the next write to the same folder recognises as orphaned and removes.
    """
    path = Path(path)
    remove_orphaned_temp_files(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


TEMP_SUFFIX = ".drills-tmp"


def remove_orphaned_temp_files(folder: Path) -> list[Path]:
    """Remove temp files of write_atomic whose writer is gone; return them."""
    removed = []
    for tmp in Path(folder).glob(f".*{TEMP_SUFFIX}"):
        parts = tmp.name.rsplit(".", 3)  # .<name>.<pid>.<random>.drills-tmp
        try:
            pid = int(parts[-3])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not _alive(pid):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _num(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.4g}"


def _json_default(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
