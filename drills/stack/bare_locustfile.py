"""A bare FastHttpUser: what Locust costs without the drills' recording (``make bench`` compares them).

Closed-loop users with no think time sending one GET, as ``locustfile.py`` does, and nothing else:
no listener, no pacing, no files. Run with ``-u``/``-t``; the path comes from ``DRILLS_BARE_PATH``.
"""

from __future__ import annotations

import os

from locust import FastHttpUser, constant, task

PATH = os.environ.get("DRILLS_BARE_PATH", "/healthz")


class BareUser(FastHttpUser):
    wait_time = constant(0)
    max_retries = 0

    @task
    def request(self) -> None:
        self.client.get(PATH, name="drill")
