"""The JUnit XML and Markdown summary `drills verify` writes for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from drills.ci_reports import DrillOutcome, junit_xml, summary_markdown
from drills.findings import AtLeast, AtMost, Findings, Hypothesis, Provenance, Verdict
from drills.pipeline import Falsification, Falsifier
from drills.pipeline.falsify import catches_of


def findings() -> Findings:
    return Findings(
        drill="timeout-ladder", paper="timeout-ladders.md", run_id="r", started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:01:00Z", parameters={}, provenance=Provenance(), settings={},
        findings=[Hypothesis("recommended.held", "held claim", AtLeast(100, "%"), True).judge(100.0, 8, "8/8"),
                  Hypothesis("recommended.failed", "failed claim", AtMost(0, "requests"), True).judge(3.0, 30, "3 of 30"),
                  Hypothesis("inverted.none", "no data", AtLeast(100, "%"), False).judge(None, 0),
                  Hypothesis("recommended.remote", "a target", AtLeast(100, "%"), True).not_judged("cannot read logs")])


def blind() -> Falsification:
    f = Falsifier("no-harm", "nothing", "recommended", lambda p, s: s, ("recommended.held",))
    under = [Hypothesis("recommended.held", "held claim", AtLeast(100, "%"), True).judge(100.0, 8)]
    return Falsification("timeout-ladder", catches_of(f, under))


def test_one_test_case_per_hypothesis_with_failures_carrying_the_numbers() -> None:
    root = ET.fromstring(junit_xml([DrillOutcome("timeout-ladder", "timeout-ladders.md", findings(), blind()),
                                    DrillOutcome("load-capacity", "load-testing.md", None, error="nginx not found")]))
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "3"
    assert root.get("errors") == "1" and root.get("skipped") == "1"
    ladder, load = root.findall("testsuite")
    cases = {c.get("name"): c for c in ladder.findall("testcase")}
    assert set(cases) == {"recommended.held", "recommended.failed", "inverted.none", "recommended.remote"}
    failed = cases["recommended.failed"].find("failure")
    assert failed is not None and "observed 3 requests (n=30)" in failed.get("message") and failed.text == "3 of 30"
    assert cases["inverted.none"].find("failure").get("type") == Verdict.INCONCLUSIVE.value
    assert cases["recommended.held"].find("failure").get("type") == "blind"  # held, but its check is blind
    assert cases["recommended.remote"].find("skipped") is not None
    assert load.find("testcase/error").get("message") == "nginx not found"
    for suite in (ladder, load):  # the attributes CI systems read
        assert {"name", "tests", "failures", "errors", "skipped", "time"} <= set(suite.keys())


def test_the_summary_lists_each_drill_and_what_did_not_hold() -> None:
    text = summary_markdown([DrillOutcome("timeout-ladder", "timeout-ladders.md", findings(), blind()),
                             DrillOutcome("load-capacity", "load-testing.md", None, error="nginx not found")])
    assert text.startswith("## drills verify\n")
    assert "| timeout-ladders.md | `timeout-ladder` | ❌ FAILED | 1 | 1 | 1 | 1 | 0/1 ❌ blind |" in text
    assert "- `timeout-ladder` `recommended.failed` failed: expected ≤ 0 requests, observed 3 requests (n=30)" in text
    assert "BLIND CHECKS" in text and "⛔ could not run" in text and "nginx not found" in text
