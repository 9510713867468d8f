"""The notebooks' Jupyter kernel ("drills"): registered for this environment's interpreter, the
default of `drills run`/`verify`; and `make lab`'s JupyterLab, whose root holds what the notebooks link to."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from drills import catalog
from drills.cli import main
from drills.errors import ParameterError
from drills.execute import KERNEL, KERNEL_DISPLAY_NAME, ensure_kernel
from drills.lab import OPEN_AT, lab_argv
from drills.paths import notebooks_dir, project_root


def kernel_json(folder: Path) -> dict:
    return json.loads((folder / "kernel.json").read_text(encoding="utf-8"))


def test_the_kernel_is_registered_for_this_interpreter_under_the_prefix(tmp_path: Path) -> None:
    kernels = tmp_path / "share" / "jupyter" / "kernels"
    found = ensure_kernel(prefix=tmp_path, kernel_dirs=[kernels])
    assert found == kernels / KERNEL
    spec = kernel_json(found)
    assert spec["argv"][0] == sys.executable and spec["display_name"] == KERNEL_DISPLAY_NAME
    before = (found / "kernel.json").stat().st_mtime_ns
    assert ensure_kernel(prefix=tmp_path, kernel_dirs=[kernels]) == found
    assert (found / "kernel.json").stat().st_mtime_ns == before  # already right: left alone


def test_a_kernel_of_another_interpreter_in_the_prefix_is_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "share" / "jupyter" / "kernels" / KERNEL
    folder.mkdir(parents=True)
    (folder / "kernel.json").write_text(json.dumps({"argv": ["/old/venv/bin/python", "-m", "ipykernel_launcher",
                                                             "-f", "{connection_file}"],
                                                    "display_name": "old", "language": "python"}))
    assert ensure_kernel(prefix=tmp_path, kernel_dirs=[folder.parent]) == folder
    assert kernel_json(folder)["argv"][0] == sys.executable


def test_a_foreign_kernel_that_shadows_ours_is_refused_with_what_to_do(tmp_path: Path) -> None:
    other = tmp_path / "user" / "kernels" / KERNEL
    other.mkdir(parents=True)
    (other / "kernel.json").write_text(json.dumps({"argv": ["/somewhere/else/python", "-m", "ipykernel_launcher"],
                                                   "display_name": "other", "language": "python"}))
    prefix = tmp_path / "venv"
    with pytest.raises(ParameterError, match=f"runs /somewhere/else/python.*jupyter kernelspec remove {KERNEL}"):
        ensure_kernel(prefix=prefix, kernel_dirs=[other.parent, prefix / "share" / "jupyter" / "kernels"])


@pytest.mark.parametrize("command", ["run", "verify"])
def test_run_and_verify_use_the_notebooks_kernel_by_default(command: str) -> None:
    option = next(p for p in main.commands[command].params if p.name == "kernel")
    assert option.default == KERNEL


def test_run_notebook_registers_the_default_kernel_before_papermill_starts(monkeypatch, tmp_path: Path) -> None:
    from drills.execute import notebook

    class Registered(Exception):
        pass

    def ensure() -> Path:
        raise Registered

    monkeypatch.setattr(notebook, "ensure_kernel", ensure)
    drill = catalog.get("timeout-ladder")
    with pytest.raises(Registered):
        notebook.run_notebook(drill, drill.params(), run_dir=tmp_path)


def test_jupyterlab_serves_the_project_so_the_notebooks_links_to_the_papers_work() -> None:
    argv = lab_argv(["--no-browser"])
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"] and argv[-1] == "--no-browser"
    root = Path(next(a for a in argv if a.startswith("--ServerApp.root_dir=")).split("=", 1)[1])
    assert root == project_root()
    links = []
    for path in notebooks_dir().glob("*.ipynb"):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            links += re.findall(r"\]\((\.\./[^)#]+)", "".join(cell["source"]))
    assert len(links) >= len(catalog.all_drills())
    for link in links:
        target = (notebooks_dir() / link).resolve()
        assert target.is_relative_to(root) and target.is_file(), link
    # it opens at notebooks/, inside the root
    assert f"--LabApp.default_url={OPEN_AT}" in argv
    assert (root / OPEN_AT.removeprefix("/lab/tree/")).resolve() == notebooks_dir()


def test_make_lab_starts_it_through_drills_lab() -> None:
    makefile = (project_root() / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlab:", 1)[1].split("\n\n", 1)[0]
    assert "$(VPY) -m drills.lab $(LAB_ARGS)" in recipe and "--notebook-dir" not in recipe
    assert "ensure_kernel()" in makefile.split("$(STAMP):", 1)[1].split("\nsetup:", 1)[0]
