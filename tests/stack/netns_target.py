"""The target machine of tests/stack/test_multihost.py: the whole stack, run inside a network namespace.

    ip netns exec <target namespace> python tests/stack/netns_target.py --listen-host 10.213.77.1 --info FILE

Starts ``local_stack`` (PostgreSQL, the service, nginx) with nginx listening on the namespace's own
address only, writes what the test needs to ``--info`` (JSON: nginx's port and access log, the
processes), then serves until SIGTERM (or its parent's death, which sends SIGTERM), when the stack
unwinds as it does after Ctrl-C. The stack's readiness checks run here, inside the namespace.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from drills.stack import ServiceConfig, StackConfig, local_stack


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen-host", required=True)
    parser.add_argument("--info", type=Path, required=True)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)
    config = StackConfig(service=ServiceConfig(workers=1, pool_min_size=2, pool_max_size=2))
    with local_stack(config, listen_host=args.listen_host) as stack:
        assert stack.proxy.dir is not None
        info = {"port": stack.proxy.port, "access_log": str(stack.proxy.dir / "access.log"),
                "pids": [os.getpid(), *(p for p in (stack.postgres.pid, stack.proxy.pid) if p),
                         *stack.service_pids()]}
        tmp = args.info.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(args.info)  # whole, or not at all: the test polls for it
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
