"""A notebook saved with outputs (as JupyterLab saves one) is staged without them: nbstripout as the
git filter that .gitattributes names and `make setup` installs; the committed notebooks are already
what the filter makes of them, so it never shows them as changed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drills import catalog
from drills.paths import notebooks_dir, project_root

ROOT = project_root()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
                          env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo),
                               "PATH": "/usr/bin:/bin", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}).stdout


def with_outputs(notebook: dict) -> dict:
    """The notebook as JupyterLab saves it after a run: outputs, execution counts, a new cell id."""
    for number, cell in enumerate(c for c in notebook["cells"] if c["cell_type"] == "code"):
        cell["execution_count"] = number + 1
        cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["p95 812 ms\n"]}]
    notebook["cells"].append({"cell_type": "code", "execution_count": 9, "id": "f00dcafe", "metadata": {},
                              "outputs": [{"output_type": "execute_result", "execution_count": 9, "metadata": {},
                                           "data": {"text/plain": ["42"]}}], "source": ["6 * 7"]})
    return notebook


def test_gitattributes_route_every_notebook_through_the_filter() -> None:
    lines = (ROOT / ".gitattributes").read_text(encoding="utf-8").splitlines()
    assert "*.ipynb filter=nbstripout" in lines and "*.ipynb diff=ipynb" in lines


@pytest.mark.skipif(shutil.which("git", path="/usr/bin:/bin") is None, reason="git not installed")
def test_a_notebook_saved_with_outputs_is_staged_without_them(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    git(repo, "init", "-q")
    shutil.copy(ROOT / ".gitattributes", repo / ".gitattributes")
    # as `make git-filter` does, with this interpreter
    subprocess.run([sys.executable, "-m", "nbstripout", "--install", "--attributes", ".gitattributes"],
                   cwd=repo, check=True, capture_output=True, env={"GIT_CONFIG_GLOBAL": "/dev/null",
                                                                   "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin"})
    assert (repo / ".gitattributes").read_bytes() == (ROOT / ".gitattributes").read_bytes()  # nothing appended
    source = notebooks_dir() / catalog.get("timeout-ladder").notebook
    saved = repo / "notebooks" / source.name
    saved.write_text(json.dumps(with_outputs(json.loads(source.read_text(encoding="utf-8"))), indent=1) + "\n")
    git(repo, "add", "notebooks")
    staged = json.loads(git(repo, "show", f":notebooks/{source.name}"))
    code = [c for c in staged["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    assert staged["metadata"]["kernelspec"]["name"] == "drills"  # the kernel the notebooks name survives
    assert saved.read_text(encoding="utf-8").count('"outputs": []') < len(code)  # the working copy keeps them


@pytest.mark.parametrize("drill", catalog.all_drills(), ids=lambda d: d.name)
def test_committed_notebooks_are_what_the_filter_makes_of_them(drill) -> None:
    path = notebooks_dir() / drill.notebook
    stripped = subprocess.run([sys.executable, "-m", "nbstripout", "-t"], input=path.read_bytes(),
                              capture_output=True, check=True).stdout
    assert stripped == path.read_bytes(), f"{drill.notebook}: run it through nbstripout before committing"


def test_make_setup_installs_the_filter() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    setup = makefile.split("$(STAMP):", 1)[1].split("\nsetup:", 1)[0]
    assert "$(MAKE) --no-print-directory git-filter" in setup
    recipe = makefile.split("\ngit-filter:", 1)[1].split("\n\n", 1)[0]
    assert "-m nbstripout --install --attributes .gitattributes" in recipe
