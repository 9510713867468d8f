"""JupyterLab as `make lab` starts it: the notebooks are listed, a drill notebook runs top to bottom on a
kernel the server started, and stopping the server leaves nothing running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from drills.paths import notebooks_dir
from drills.stack.ports import pick_free_port

pytestmark = pytest.mark.slow

TOKEN = uuid.uuid4().hex
SMALL = ('configurations = "recommended"\nrepeats = 1\nstatement_timeout_s = 0.3\nrequest_budget_s = 0.5\n'
         'proxy_read_timeout_s = 0.8\nclient_timeout_s = 1.2\n')


def api(port: int, path: str, method: str = "GET", body: dict | None = None) -> object:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = response.read()
        return json.loads(payload) if payload else None


def execute(port: int, kernel_id: str, code: str, timeout_s: float = 300) -> list[dict]:
    """Run ``code`` on the kernel through the server's websocket; return its messages; raise on error."""
    import websocket

    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}",
                                     timeout=timeout_s)
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                                   "session": uuid.uuid4().hex, "version": "5.3"},
                        "parent_header": {}, "metadata": {}, "channel": "shell",
                        "content": {"code": code, "silent": False, "store_history": False,
                                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    messages = []
    try:
        while True:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            messages.append(message)
            if message["msg_type"] == "execute_reply":
                if message["content"]["status"] != "ok":
                    raise AssertionError(f"{message['content'].get('ename')}: {message['content'].get('evalue')}")
                return messages
    finally:
        ws.close()


def test_a_drill_notebook_runs_on_a_kernel_jupyterlab_started(tmp_path: Path, pg_binaries, nginx_binary,
                                                              no_leftovers, list_stack_processes) -> None:
    port = pick_free_port()
    lab = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={TOKEN}", "--allow-root", f"--notebook-dir={notebooks_dir()}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "DRILLS_RUNS_DIR": str(tmp_path / "runs")})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                listing = api(port, "/api/contents")
                break
            except OSError:
                assert lab.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        names = {item["name"] for item in listing["content"]}  # type: ignore[index]
        assert {"timeout-ladder.ipynb", "pool-exhaustion.ipynb", "load-capacity.ipynb"} <= names

        kernel = api(port, "/api/kernels", "POST", {"name": "python3"})
        notebook = nbformat.read(notebooks_dir() / "timeout-ladder.ipynb", as_version=4)
        code_cells = [c for c in notebook.cells if c.cell_type == "code"]
        for cell in code_cells:
            execute(port, kernel["id"], cell.source)  # type: ignore[index]
            if "parameters" in cell.metadata.get("tags", []):
                execute(port, kernel["id"], SMALL)  # the change a user makes in the parameters cell
        runs = list((tmp_path / "runs").glob("*-timeout-ladder"))
        assert len(runs) == 1 and (runs[0] / "findings.json").is_file()
        findings = json.loads((runs[0] / "findings.json").read_text())
        assert findings["parameters"]["statement_timeout_s"] == 0.3
        assert {f["key"]: f["verdict"] for f in findings["findings"]}["recommended.innermost-first"] == "held"
        api(port, f"/api/kernels/{kernel['id']}", "DELETE")  # type: ignore[index]
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=10)
    assert not list_stack_processes()
