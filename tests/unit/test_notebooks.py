"""Each drill's notebook: a parameters cell that matches the drill's Params, no committed outputs."""

from __future__ import annotations

import json

import papermill
import pytest

from drills import catalog
from drills.execute import KERNEL, KERNEL_DISPLAY_NAME
from drills.paths import notebooks_dir, papers_dir


@pytest.mark.parametrize("drill", catalog.all_drills(), ids=lambda d: d.name)
def test_parameters_cell_declares_every_parameter_with_its_default(drill) -> None:
    notebook = json.loads((notebooks_dir() / drill.notebook).read_text(encoding="utf-8"))
    # the kernel `make setup` registers for the venv's interpreter, and `drills run` uses by default
    assert notebook["metadata"]["kernelspec"]["name"] == KERNEL
    assert notebook["metadata"]["kernelspec"]["display_name"] == KERNEL_DISPLAY_NAME
    assert notebook["metadata"]["kernelspec"].get("language") == "python"
    tagged = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    namespace: dict[str, object] = {}
    exec("".join(tagged[0]["source"]), namespace)  # values only, by convention and by this test
    namespace.pop("__builtins__")
    assert set(namespace) == set(drill.params.field_types()) | {"out_dir"}
    assert drill.params.from_namespace(namespace) == drill.params()
    # papermill parses the cell itself (`-p`, `inspect_notebook`) and skips a line it cannot read,
    # warning "Passed unknown parameter" later: a comment with "=" in it is enough.
    assert set(papermill.inspect_notebook(str(notebooks_dir() / drill.notebook))) == set(namespace)
    # The cell after it checks the parameters before anything else runs.
    following = notebook["cells"][notebook["cells"].index(tagged[0]) + 1]
    assert f'drill = get("{drill.name}")\nparams = drill.params_from(globals())' in "".join(following["source"])


@pytest.mark.parametrize("drill", catalog.all_drills(), ids=lambda d: d.name)
def test_notebook_is_committed_without_outputs(drill) -> None:
    notebook = json.loads((notebooks_dir() / drill.notebook).read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None


@pytest.mark.parametrize("drill", catalog.all_drills(), ids=lambda d: d.name)
def test_paper_has_the_drill_markers_once(drill) -> None:
    text = (papers_dir() / drill.paper).read_text(encoding="utf-8")
    assert text.count(f"<!-- verified:{drill.name}:begin -->") == 1
    assert text.count(f"<!-- verified:{drill.name}:end -->") == 1
