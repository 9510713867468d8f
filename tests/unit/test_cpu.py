"""CPU sampling of the stack's processes through psutil (Linux and macOS), not /proc."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from drills.stack import cpu
from drills.stack.cpu import CpuSampler, children


def test_children_lists_direct_children_and_nothing_for_a_gone_pid() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert child.pid not in children(os.getpid())
    assert children(child.pid) == []  # gone: no error


def test_the_sampler_sees_a_busy_process_and_an_idle_one() -> None:
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    sampler = CpuSampler(lambda: [os.getpid(), idle.pid, 999_999_999], interval_s=0.1).start()
    try:
        time.sleep(0.25)
        start = time.time()
        while time.time() - start < 0.6:  # one core busy in this process, briefly
            sum(i * i for i in range(10_000))
        end = time.time()
        time.sleep(0.15)
    finally:
        sampler.stop()
        idle.kill()
        idle.wait()
    assert sampler.readings and all(999_999_999 not in r for _, r in sampler.readings)  # no such pid: skipped
    assert 30 <= sampler.max_pct(start, end) <= 200
    assert sampler.total_pct(start, end) >= 30
    idle_only = [(t, {idle.pid: r[idle.pid]}) for t, r in sampler.readings if idle.pid in r]
    assert len(idle_only) >= 3
    quiet = CpuSampler([idle.pid])
    quiet.readings = idle_only
    assert quiet.max_pct(start, end) < 20


def test_sampling_reads_no_proc_files() -> None:
    assert "/proc" not in Path(cpu.__file__).read_text(encoding="utf-8")


def test_the_sweep_ends_a_process_working_in_a_dead_runs_dir_through_psutil(tmp_path: Path) -> None:
    from drills.stack import leftovers

    left = tmp_path / "drills-pg-left"
    left.mkdir()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], cwd=left)
    named = subprocess.Popen([sys.executable, "-c", "import time, sys; time.sleep(30)", str(left / "data")])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], cwd=tmp_path)
    try:
        ended = leftovers._end_processes_in(left)
        assert child.wait(timeout=10) == -9 and named.wait(timeout=10) == -9
        assert {child.pid, named.pid} <= set(ended) and other.pid not in ended and other.poll() is None
    finally:
        for process in (child, named, other):
            process.kill()
            process.wait()
