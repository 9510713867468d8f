"""What one drill run found, as saved in its folder (``findings.json``) and read back by the export.

``Findings`` holds the judged hypotheses (``drills.findings.verdicts``) with everything needed to
re-read them: parameters, provenance, the settings each component reported, tables, charts and the
raw observations.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ExportError
from ..files import write_atomic
from .table import markdown_table
from .verdicts import Finding, Verdict

FINDINGS_FILE = "findings.json"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Chart:
    """A figure file in the run folder."""

    name: str
    file: str
    caption: str


@dataclass(frozen=True)
class ConstraintsCheck:
    """The installed Python distributions compared, at run time, with the constraints file set-up
    installs from (``drills.constraints``)."""

    #: The file's name (``constraints.txt``) and the sha256 of its bytes.
    file: str
    sha256: str
    #: True when every installed distribution is pinned there at its installed version.
    matches: bool
    #: "name installed (pinned version)" for each installed distribution at another version.
    differs: list[str] = field(default_factory=list)
    #: "name version" for each installed distribution the file does not pin.
    unpinned: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Provenance:
    """Who ran what, where (no secrets): read into every verified section."""

    commit: str = "unknown"
    #: Package and server versions: python, postgresql, nginx, gunicorn, psycopg, …
    versions: dict[str, str] = field(default_factory=dict)
    platform: str = "unknown"
    #: The CPU model, logical CPUs and memory of the host that ran the drill (and, on the local
    #: stack, every component: the figures are this one machine's).
    machine: str = "unknown"
    python_executable: str = ""
    #: Seconds from the drill's start until its findings were assembled.
    measuring_s: float | None = None
    #: The paper's prose when the drill ran: `drills status` calls the paper stale if it changes.
    paper_prose_sha256: str | None = None
    #: The environment against constraints.txt (its sha256, matched or not); None without the file.
    constraints: ConstraintsCheck | None = None
    #: What sent the drill's requests ("Locust", "the drill's own HTTP client"); "" in older runs.
    load_generator: str = ""


@dataclass(frozen=True)
class TargetInfo:
    """A deployment the drill did not own, as findings and papers show it (no credentials)."""

    url: str
    #: True for a loopback URL.
    local: bool
    #: The database host(s) observed through DRILLS_TARGET_DSN, or None without it.
    database: str | None = None
    max_rps: float | None = None
    max_duration_s: float | None = None
    #: What the drill could not do there (Capability values).
    cannot: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    provenance: Provenance
    #: Per configuration, the settings each component reported back (SHOW, nginx -T, ...).
    settings: dict[str, dict[str, Any]]
    findings: list[Finding]
    charts: list[Chart] = field(default_factory=list)
    #: Small summary tables: name -> rows (first row is the header).
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    #: Raw per-request observations, for re-analysis.
    observations: list[dict[str, Any]] = field(default_factory=list)
    #: None for the embedded local stack; for a deployment the drill does not own, what it was
    #: (URL without credentials, database host, what the drill could not do there).
    target: TargetInfo | None = None
    #: The falsifier whose harmful stack this run measured (drills.pipeline.falsify), or None for
    #: the drill's own run. A falsifier's run is never exported or recorded in a history.
    falsifier: str | None = None
    schema_version: int = SCHEMA_VERSION

    # -- outcome --------------------------------------------------------------------------------

    @property
    def passed(self) -> bool:
        """True when every judged hypothesis held: those about the recommended configuration, and
        the harms the paper says an anti-pattern causes (a harm that does not reproduce makes the
        paper wrong too). Not judged (on a target the drill does not own) neither passes nor fails."""
        judged = [f for f in self.findings if f.verdict is not Verdict.NOT_JUDGED]
        return bool(judged) and all(f.verdict is Verdict.HELD for f in judged)

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
        from ..redact import redact_value

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
            constraints = raw["provenance"].get("constraints")
            raw["provenance"] = Provenance(**{**raw["provenance"],
                                              "constraints": ConstraintsCheck(**constraints) if constraints else None})
            raw["target"] = TargetInfo(**raw["target"]) if raw.get("target") else None
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
        head = f"**{self.drill}** — {self.summary()}\n\n"
        return head + markdown_table(self.verdict_rows())


def _json_default(value: object) -> object:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
