"""The notebooks: ``quickstart.ipynb`` runs top to bottom; ``earth_engine.ipynb`` is checked.

The quickstart runs in a Jupyter kernel of this interpreter (a ``python3`` kernelspec written
for the test, so a user's own ``python3`` kernel cannot be picked up); its local engine lives
in the kernel process and does not touch this one's ``ee``. The Earth Engine notebook needs
an account, so it is not run: its cells must compile, and every ``gee_cscc`` name it uses must
exist, be public, and be called with keyword arguments its signature accepts.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from typing import Any

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def code_cells(name: str) -> list[str]:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata["kernelspec"]["name"] == "python3"
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


# --- static checks ------------------------------------------------------------------------------


def resolve(dotted: str) -> Any:
    """The object a dotted ``gee_cscc`` name refers to (importing modules on the way)."""
    parts = dotted.split(".")
    obj: Any = importlib.import_module(parts[0])
    for i, part in enumerate(parts[1:], start=1):
        if hasattr(obj, part):
            obj = getattr(obj, part)
        else:  # a submodule not imported yet
            obj = importlib.import_module(".".join(parts[: i + 1]))
    return obj


def check_public(dotted: str) -> None:
    parts = dotted.split(".")
    for i in range(1, len(parts)):
        name = parts[i]
        assert not name.startswith("_"), f"{dotted}: '{name}' is private"
        owner = resolve(".".join(parts[:i]))
        if inspect.ismodule(owner) and hasattr(owner, "__all__"):
            submodule = inspect.ismodule(getattr(owner, name, None))
            assert name in owner.__all__ or submodule, f"{dotted}: not in {owner.__name__}.__all__"


class GeeCsccUses(ast.NodeVisitor):
    """The ``gee_cscc`` names a program uses, and its calls to them."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> dotted gee_cscc path
        self.names: set[str] = set()
        self.calls: list[tuple[str, ast.Call]] = []

    def visit_Import(self, node: ast.Import) -> None:
        for a in node.names:
            if a.name.split(".")[0] == "gee_cscc":
                local = a.asname or a.name.split(".")[0]
                self.aliases[local] = a.name if a.asname else "gee_cscc"
                self.names.add(a.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.split(".")[0] == "gee_cscc":
            for a in node.names:
                assert a.name != "*", "no star imports from gee_cscc"
                self.aliases[a.asname or a.name] = f"{module}.{a.name}"
                self.names.add(f"{module}.{a.name}")

    def dotted(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.dotted(node)
        if name:
            self.names.add(name)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        if name:
            self.calls.append((name, node))
        self.generic_visit(node)


def check_notebook_api(name: str) -> set[str]:
    """Compile the cells, then check every ``gee_cscc`` name and call; returns the names."""
    cells = code_cells(name)
    for i, source in enumerate(cells):
        for line in source.splitlines():
            assert not line.lstrip().startswith(("%", "!")), f"cell {i}: IPython magic {line!r}"
        compile(source, f"{name}, code cell {i}", "exec")
    uses = GeeCsccUses()
    uses.visit(ast.parse("\n\n".join(cells)))  # the cells share one namespace
    for dotted in sorted(uses.names):
        try:
            resolve(dotted)
        except (ImportError, AttributeError) as exc:
            raise AssertionError(f"{name} uses {dotted}, which does not exist: {exc}") from None
        check_public(dotted)
    for dotted, call in uses.calls:
        target = resolve(dotted)
        signature = inspect.signature(target)
        params = signature.parameters
        var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for kw in call.keywords:
            if kw.arg is not None and not var_kw:
                assert kw.arg in params, f"{name}: {dotted}() has no argument {kw.arg!r}"
        if not any(isinstance(a, ast.Starred) for a in call.args):
            keywords = {kw.arg: None for kw in call.keywords if kw.arg is not None}
            try:
                signature.bind_partial(*[None] * len(call.args), **keywords)
            except TypeError as exc:
                raise AssertionError(f"{name}: bad call of {dotted}(): {exc}") from None
    return uses.names


def test_earth_engine_notebook_uses_only_the_public_api():
    names = check_notebook_api("earth_engine.ipynb")
    for needed in (
        "gee_cscc.workflow.analyze.analyze",
        "gee_cscc.config.Config",
        "gee_cscc.method.regions_from_features",
        "gee_cscc.cloud.export_image",
        "gee_cscc.cloud.wait_for_tasks",
        "gee_cscc.cloud.share_asset",
    ):
        assert needed in names, needed
    source = "\n".join(code_cells("earth_engine.ipynb"))
    for needed in ("ee.Authenticate()", "ee.Initialize(project=", "MODIS/061/MOD17A3HGF"):
        assert needed in source, needed
    assert "geemap.Map(" in source and ".addLayer(" in source
    assert "scale_factor=0.1" in source and 'band="Npp"' in source


def test_quickstart_uses_only_the_public_api():
    names = check_notebook_api("quickstart.ipynb")
    for needed in (
        "gee_cscc.engine.LocalEngine",
        "gee_cscc.workflow.analyze.analyze",
        "gee_cscc.method.regions_from_features",
        "gee_cscc.workflow.pull.open_image",
        "gee_cscc.report.write_report",
    ):
        assert needed in names, needed


def test_the_checker_catches_a_missing_name(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("from gee_cscc.cloud.exports import export_image\n")]
    )
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells.append(nbformat.v4.new_code_cell("export_image(None, asset_idd='x')"))
    nbformat.write(nb, tmp_path / "bad.ipynb")
    monkeypatch.setitem(globals(), "NOTEBOOKS", tmp_path)
    with pytest.raises(AssertionError, match="asset_idd"):
        check_notebook_api("bad.ipynb")
    nb.cells.append(
        nbformat.v4.new_code_cell("import gee_cscc.cloud.exports as gx\ngx.export_images")
    )
    nb.cells.pop(1)
    nbformat.write(nb, tmp_path / "bad.ipynb")
    with pytest.raises(AssertionError, match="export_images"):
        check_notebook_api("bad.ipynb")


# --- the quickstart, executed --------------------------------------------------------------------


def outputs_of(nb: Any) -> tuple[str, int]:
    """All text output of a notebook, and the number of images it shows."""
    texts, images = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                texts.append(out["text"])
            elif out.get("output_type") in ("execute_result", "display_data"):
                texts.append(out["data"].get("text/plain", ""))
                images += "image/png" in out["data"]
            assert out.get("output_type") != "error", out
    return "\n".join(texts), images


def test_quickstart_runs_top_to_bottom(tmp_path, monkeypatch):
    from ipykernel.kernelspec import write_kernel_spec
    from nbclient import NotebookClient

    jupyter = tmp_path / "jupyter"
    write_kernel_spec(jupyter / "kernels" / "python3")  # this interpreter, by absolute path
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))  # searched before any user kernel
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no jupyter_core migration warning
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    work = tmp_path / "work"
    work.mkdir()
    nb = nbformat.read(NOTEBOOKS / "quickstart.ipynb", as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=300,
        startup_timeout=120,
        resources={"metadata": {"path": str(work)}},
    )
    client.execute()
    text, images = outputs_of(nb)
    assert images >= 2  # the maps and the decay curve
    for expected in ("BJ", "TJ", "HB", "ALL", "tau_pos", "q_pos_share", "cscc"):
        assert expected in text, expected
    report = work / "quickstart-out" / "report.html"
    assert report.is_file() and "SYNTHETIC" in report.read_text(encoding="utf-8").upper()
    assert len(list((work / "quickstart-out" / "figures").glob("*.png"))) >= 5
