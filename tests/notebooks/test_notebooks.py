"""The notebooks are executed so that they cannot rot: every cell must run without error, and every cell that
draws a chart must show it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))
# A cell draws a chart when it plots through pandas, opens matplotlib axes or calls training.plots; each such
# cell must show an image once executed, whatever matplotlib's backend.
DRAWS = re.compile(r"\.plot\b|plt\.subplots|plots\.\w+\(")


def chart_cells(notebook: nbformat.NotebookNode) -> list[int]:
    return [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code" and DRAWS.search(cell.source)]


def test_the_chart_rule_finds_charts_in_every_notebook_that_draws() -> None:
    drawn = {path.name: chart_cells(nbformat.read(path, as_version=4)) for path in NOTEBOOKS}
    assert all(drawn.values()), drawn
    assert not DRAWS.search("import matplotlib.pyplot as plt\nframe.plotting_done = 1")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [
        o
        for cell in notebook.cells
        if cell.cell_type == "code"
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    blank = [
        i
        for i in chart_cells(notebook)
        if not any("image/png" in o.get("data", {}) for o in notebook.cells[i].get("outputs", []))
    ]
    assert not blank, f"{path.name}: cells {blank} draw a chart but show no image"
