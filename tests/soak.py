"""Run every drill's real-stack test at its test parameters several times in a row: `make soak`.

A flaky drill test is a defect of the drill or the stack, not of luck. This runs each notebook test
``--runs`` times (one pytest session per round, so every round starts its own stacks), tallies the
outcome of every test in every round, and exits 1 unless every round passed. Its output is what the
README quotes. Long: about 3 minutes a round on two cores.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

TESTS = (
    "tests/drills/test_timeout_ladder.py::test_notebook_verifies_every_hypothesis",
    "tests/drills/test_pool_exhaustion.py::test_notebook_verifies_every_hypothesis",
    "tests/drills/test_load_capacity.py::test_notebook_finds_the_knee_and_sheds_load",
    # Failed in CI twice while its pool drill measured the service's CPU (capacity 63–72 against 80).
    "tests/drills/test_staging_target.py::test_pool_exhaustion_against_the_target_with_a_database",
    # Its keep-alive race is a fraction of a millisecond wide: once in ten rounds 8 bursts missed it.
    "tests/drills/test_proxy_upstreams.py::test_every_hypothesis_holds_on_the_real_stack",
    "tests/drills/test_proxy_upstreams.py::test_every_check_is_caught_by_its_falsifier_and_the_paper_says_so",
    "tests/drills/test_retry_amplification.py::test_every_hypothesis_holds_on_the_real_stack",
    "tests/drills/test_retry_amplification.py::test_every_check_is_caught_by_its_falsifier",
    "tests/drills/test_timeout_ladder_frameworks.py::test_notebook_verifies_every_hypothesis",
    "tests/drills/test_timeout_ladder_frameworks.py::test_every_check_is_caught_by_its_falsifier",
    # Its stack test failed once, unexplained, in a combined run on a busy machine (restarts under load).
    "tests/drills/test_rolling_restart.py::test_every_hypothesis_holds_on_the_real_stack",
    "tests/drills/test_rolling_restart.py::test_every_check_is_caught_by_its_falsifier",
    "tests/stack/test_rolling_restart_stack.py::test_a_restart_behind_a_prestop_delay_fails_nothing",
)


def run_round(junit: Path, tests: tuple[str, ...]) -> dict[str, tuple[str, float, str]]:
    """One pytest session over ``tests``; per test: outcome, seconds, and the first line of a failure."""
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junit-xml={junit}", *tests],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    results = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcome = "skipped" if case.find("skipped") is not None else "failed" if problem is not None else "passed"
        why = (problem.get("message") or "").splitlines()[0][:160] if problem is not None else ""
        results[name] = (outcome, float(case.get("time", 0)), why)
    return results


def label(key: str, modules: list[str]) -> str:
    """A result's module, and its test's first words where the module ran more than one."""
    module, test = key.split("::")[0], key.split("::")[-1]
    name = module.removeprefix("test_")
    return name if modules.count(module) == 1 else f"{name}/{'-'.join(test.removeprefix('test_').split('_')[:2])}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="rounds in a row (default 10)")
    parser.add_argument("--only", default="", help="soak only the tests whose id contains this text")
    args = parser.parse_args()
    if not 1 <= args.runs <= 100:
        parser.error(f"--runs={args.runs}: must be 1–100")
    tests = tuple(t for t in TESTS if args.only in t)
    if not tests:
        parser.error(f"--only={args.only!r}: no test of {', '.join(TESTS)} contains it")
    # SIGTERM unwinds like Ctrl-C, so the round's pytest and the temp folder are cleaned up.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    failures = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drills-soak-") as tmp:
        for round_ in range(1, args.runs + 1):
            results = run_round(Path(tmp) / f"round-{round_}.xml", tests)
            missing = [t.rsplit("::", 1)[-1] for t in tests if not any(k.endswith(t.rsplit("::", 1)[-1]) for k in results)]
            bad = {k: v for k, v in results.items() if v[0] != "passed"}
            failures += bool(bad or missing)
            modules = [k.split("::")[0] for k in results]
            line = ", ".join(f"{label(k, modules)} {v[0]} {v[1]:.0f} s" for k, v in results.items())
            print(f"round {round_:>2}/{args.runs}: {line}", flush=True)
            for name, (_, _, why) in bad.items():
                print(f"    {name}: {why}", flush=True)
            for name in missing:
                print(f"    {name}: did not run (collection or set-up failed; run it alone to see why)", flush=True)
    passed = args.runs - failures
    print(f"{passed}/{args.runs} rounds passed in {(time.monotonic() - started) / 60:.1f} min")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
