"""The quickstart's first analysis fits on one screen: import to a figure in at most 10 lines
(issue 12). ``tests/cli/test_notebooks.py`` runs the notebook; this reads its first cell that
calls ``gee_cscc.analyze``."""

from __future__ import annotations

from pathlib import Path

import nbformat

QUICKSTART = Path(__file__).resolve().parents[2] / "notebooks" / "quickstart.ipynb"


def test_first_analysis_is_at_most_ten_lines_from_import_to_a_figure():
    nb = nbformat.read(QUICKSTART, as_version=4)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    first = next(i for i, src in enumerate(cells) if "gee_cscc.analyze(" in src)
    assert all("import" not in src for src in cells[:first])  # nothing set up before it
    lines = [line for line in cells[first].splitlines() if line.strip()]
    assert lines[0].startswith(("import ", "from ")) and ".plot." in lines[-1]
    assert len(lines) <= 10, lines
