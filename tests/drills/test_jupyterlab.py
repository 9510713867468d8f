"""JupyterLab as `make lab` starts it (python -m drills.lab): the notebooks are listed, a drill notebook
runs top to bottom on the notebooks' kernel the server started, and stopping the server leaves nothing running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from drills.execute import KERNEL, ensure_kernel
from drills.lab import lab_argv
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
    ws, msg_id = start_execute(port, kernel_id, code, timeout_s)
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


@contextlib.contextmanager
def jupyterlab(runs: Path):
    """JupyterLab as `make lab` starts it, headless on loopback; yields (port, the notebook listing)."""
    port = pick_free_port()
    ensure_kernel()  # as make setup and `python -m drills.lab` do
    lab = subprocess.Popen(
        lab_argv(["--no-browser", f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.token={TOKEN}", "--allow-root"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**os.environ, "DRILLS_RUNS_DIR": str(runs)})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                listing = api(port, "/api/contents/notebooks")  # the root is the project
                break
            except OSError:
                assert lab.poll() is None and time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        yield port, listing
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=10)


def test_a_drill_notebook_runs_on_a_kernel_jupyterlab_started(tmp_path: Path, pg_binaries, nginx_binary,
                                                              no_leftovers, list_stack_processes) -> None:
    with jupyterlab(tmp_path / "runs") as (port, listing):
        names = {item["name"] for item in listing["content"]}  # type: ignore[index]
        assert {"timeout-ladder.ipynb", "pool-exhaustion.ipynb", "load-capacity.ipynb"} <= names
        assert api(port, "/api/contents/papers/timeout-ladders.md?content=0")  # the notebooks' ../papers/ links

        kernel = api(port, "/api/kernels", "POST", {"name": KERNEL})  # the one the notebooks name
        run_notebook_cells(port, kernel["id"], SMALL)  # type: ignore[index]
        runs = list((tmp_path / "runs").glob("*-timeout-ladder"))
        assert len(runs) == 1 and (runs[0] / "findings.json").is_file()
        findings = json.loads((runs[0] / "findings.json").read_text())
        assert findings["parameters"]["statement_timeout_s"] == 0.3
        assert {f["key"]: f["verdict"] for f in findings["findings"]}["recommended.innermost-first"] == "held"
        api(port, f"/api/kernels/{kernel['id']}", "DELETE")  # type: ignore[index]
    assert not list_stack_processes()


def run_notebook_cells(port: int, kernel_id: str, parameters: str, upto_run: bool = False) -> None:
    """Run the timeout-ladder notebook's cells as a user does, with ``parameters`` typed into the
    parameters cell; ``upto_run`` stops before the cell that runs the drill."""
    notebook = nbformat.read(notebooks_dir() / "timeout-ladder.ipynb", as_version=4)
    for cell in [c for c in notebook.cells if c.cell_type == "code"]:
        if upto_run and "run_drill(" in cell.source:
            return
        execute(port, kernel_id, cell.source)
        if "parameters" in cell.metadata.get("tags", []):
            execute(port, kernel_id, parameters)


def start_execute(port: int, kernel_id: str, code: str, timeout_s: float = 120):
    """Send ``code`` to the kernel without waiting; returns the open websocket and the message id."""
    import websocket

    ws = websocket.create_connection(f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}",
                                     timeout=timeout_s)
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                                   "session": uuid.uuid4().hex, "version": "5.3"},
                        "parent_header": {}, "metadata": {}, "channel": "shell",
                        "content": {"code": code, "silent": False, "store_history": False,
                                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    return ws, msg_id


def wait_for_stack(list_stack_processes, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not any("drills.app.main" in cmd for cmd in list_stack_processes().values()):
        assert time.monotonic() < deadline, "the drill did not start its stack"
        time.sleep(0.1)


def wait_until_gone(list_stack_processes, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while list_stack_processes():
        assert time.monotonic() < deadline, f"left running: {list_stack_processes()}"
        time.sleep(0.1)


LONG = SMALL.replace("repeats = 1", "repeats = 6")  # long enough to be interrupted mid-way


def test_interrupt_and_restart_of_the_kernel_in_jupyterlab_leave_nothing(
        tmp_path: Path, pg_binaries, nginx_binary, no_leftovers, list_stack_processes) -> None:
    """The two buttons a JupyterLab user presses on a running drill: Interrupt (the drill unwinds its
    stack, the kernel lives on) and Restart (the kernel dies mid-drill; its stack dies with it and
    the next run sweeps its temp dirs)."""
    with jupyterlab(tmp_path / "runs") as (port, _):
        kernel = api(port, "/api/kernels", "POST", {"name": KERNEL})["id"]  # type: ignore[index]
        run_notebook_cells(port, kernel, LONG, upto_run=True)

        # Interrupt while the drill's requests flow.
        ws, msg_id = start_execute(port, kernel, "findings = run_drill(drill, params, run_dir)")
        wait_for_stack(list_stack_processes)
        time.sleep(1.0)
        api(port, f"/api/kernels/{kernel}/interrupt", "POST")
        reply = None
        while reply is None:
            message = json.loads(ws.recv())
            if message.get("parent_header", {}).get("msg_id") == msg_id and message["msg_type"] == "execute_reply":
                reply = message["content"]
        ws.close()
        assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", reply
        wait_until_gone(list_stack_processes, 20)
        execute(port, kernel, "assert 1 + 1 == 2")  # the kernel lives on

        # Restart while the drill runs again.
        ws, _ = start_execute(port, kernel, "findings = run_drill(drill, params, run_dir)")
        wait_for_stack(list_stack_processes)
        time.sleep(1.0)
        api(port, f"/api/kernels/{kernel}/restart", "POST")
        ws.close()
        wait_until_gone(list_stack_processes, 30)

        # The restarted kernel runs the notebook again; that run's start sweeps what the dead one left.
        run_notebook_cells(port, kernel, SMALL)
        finished = [p for p in (tmp_path / "runs").glob("*-timeout-ladder") if (p / "findings.json").is_file()]
        assert len(finished) == 1
        api(port, f"/api/kernels/{kernel}", "DELETE")
    assert not list_stack_processes()
