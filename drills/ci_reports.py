"""What `drills verify` tells a CI system: JUnit XML (one test case per hypothesis) and a Markdown
summary for ``$GITHUB_STEP_SUMMARY``, so verdicts show natively where teams look.

A held hypothesis caught by its falsifier passes; a failed or inconclusive one is a ``<failure>``
carrying the numbers it was judged on; a blind check is a ``<failure>`` too; *not judged* (on a
target the drill does not own) is ``<skipped>``. A drill that could not run is an ``<error>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .findings import Findings, Verdict, markdown_table
from .pipeline import Falsification


@dataclass(frozen=True)
class DrillOutcome:
    """One drill of a verification: its findings (None when it could not run) and falsification."""

    drill: str
    paper: str
    findings: Findings | None
    falsification: Falsification | None = None
    error: str = ""
    wall_s: float = 0.0


def junit_xml(outcomes: Sequence[DrillOutcome]) -> str:
    """A JUnit XML document: a ``<testsuite>`` per drill, a ``<testcase>`` per hypothesis."""
    suites = ET.Element("testsuites", name="drills verify")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for outcome in outcomes:
        suite = ET.SubElement(suites, "testsuite", name=outcome.drill, timestamp=_timestamp(outcome))
        counts = dict.fromkeys(totals, 0)
        if outcome.findings is None:
            case = ET.SubElement(suite, "testcase", classname=outcome.drill, name="run")
            ET.SubElement(case, "error", message=outcome.error or "the drill could not run").text = outcome.error
            counts["tests"], counts["errors"] = 1, 1
        else:
            for f in outcome.findings.findings:
                case = ET.SubElement(suite, "testcase", classname=f"{outcome.drill}.{f.key.split('.', 1)[0]}",
                                     name=f.key, file=f"papers/{outcome.paper}")
                ET.SubElement(case, "system-out").text = f"{f.claim}\nexpected {f.expected}; observed {f.observed_text} " \
                                                         f"(n={f.samples}): {f.detail}"
                counts["tests"] += 1
                catch = outcome.falsification.for_key(f.key) if outcome.falsification else None
                if f.verdict is Verdict.NOT_JUDGED:
                    ET.SubElement(case, "skipped", message=f.detail)
                    counts["skipped"] += 1
                elif f.verdict is not Verdict.HELD:
                    ET.SubElement(case, "failure", message=f"{f.verdict.value}: expected {f.expected}, observed "
                                  f"{f.observed_text} (n={f.samples})", type=f.verdict.value).text = f.detail
                    counts["failures"] += 1
                elif catch is not None and not catch.caught:
                    ET.SubElement(case, "failure", message=f"blind check: {catch.verdict.value} under its falsifier "
                                  f"{catch.falsifier}", type="blind").text = catch.summary()
                    counts["failures"] += 1
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("time", f"{outcome.wall_s:.1f}")
    for key, value in totals.items():
        suites.set(key, str(value))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def summary_markdown(outcomes: Sequence[DrillOutcome], exported: Mapping[str, str] | None = None) -> str:
    """A Markdown summary: one row per drill, then every hypothesis that did not hold or is blind."""
    rows = [["paper", "drill", "verdict", "held", "failed", "inconclusive", "not judged", "can fail"]]
    notes = []
    for o in outcomes:
        if o.findings is None:
            rows.append([o.paper, f"`{o.drill}`", "⛔ could not run", "-", "-", "-", "-", "-"])
            notes.append(f"- `{o.drill}`: {o.error}")
            continue
        counts = o.findings.counts()
        f = o.falsification
        can_fail = "not run" if f is None else f"{sum(c.caught for c in f.catches)}/{len(f.catches)}" + (
            "" if f.passed else " ❌ blind")
        rows.append([o.paper, f"`{o.drill}`", "✅ PASSED" if o.findings.passed else "❌ FAILED",
                     str(counts[Verdict.HELD]), str(counts[Verdict.FAILED]), str(counts[Verdict.INCONCLUSIVE]),
                     str(counts[Verdict.NOT_JUDGED]), can_fail])
        notes += [f"- `{o.drill}` `{x.key}` {x.verdict.value}: expected {x.expected}, observed {x.observed_text} "
                  f"(n={x.samples}) — {x.detail}" for x in o.findings.findings
                  if x.verdict not in (Verdict.HELD, Verdict.NOT_JUDGED)]
        if f is not None and not f.passed:
            notes.append(f"- `{o.drill}` {f.summary()}")
    text = "## drills verify\n\n" + markdown_table(rows)
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    return text


def _timestamp(outcome: DrillOutcome) -> str:
    return outcome.findings.started_at.removesuffix("Z") if outcome.findings else ""
