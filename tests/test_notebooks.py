"""Committed notebooks are thin, parameterized and carry no outputs."""

import ast

import nbformat
import pytest

from analysis import config

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))


def test_the_required_notebooks_exist():
    names = {path.name for path in NOTEBOOKS}
    assert {"national.ipynb", "province.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_has_no_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_has_one_parameters_cell_first_among_code_cells(path):
    code = [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]
    tagged = [cell for cell in code if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert code[0] is tagged[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_defines_no_functions_or_classes(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "code":
            tree = ast.parse(cell.source)
            defined = [node for node in ast.walk(tree)
                       if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Lambda))]
            assert not defined, f"{path.name}: logic belongs in analysis/, not the notebook"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_markdown_types_no_numbers(path):
    """Numbers a reader sees come from the ledger or computation, never typed in markdown."""
    import re

    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type == "markdown":
            typed = re.findall(r"\d+(?:[.,]\d+)*\s*(?:%|million|thousand)", cell.source)
            assert not typed, f"{path.name}: typed number(s) {typed} in markdown"


def _cells(notebook) -> list[tuple[str, str, list]]:
    return [(cell.cell_type, cell.source.strip(), sorted(cell.metadata.get("tags", [])))
            for cell in notebook.cells]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_matches_its_reviewable_text_twin(path):
    """Each notebook has a jupytext py:percent twin with the same cells, so diffs are readable.

    After editing either file: `.venv/bin/jupytext --sync notebooks/<name>.ipynb`.
    """
    import jupytext

    twin = path.with_suffix(".py")
    assert twin.exists(), f"{path.name} has no text twin {twin.name}"
    assert _cells(jupytext.read(twin)) == _cells(nbformat.read(path, as_version=4)), (
        f"{path.name} and {twin.name} differ: run `.venv/bin/jupytext --sync {path}`")


@pytest.mark.parametrize("name", ["province.ipynb", "national.ipynb"])
def test_report_notebooks_expose_the_analysis_spec_as_parameters(name):
    from analysis.estimators.spec import AnalysisSpec

    notebook = nbformat.read(config.NOTEBOOKS_DIR / name, as_version=4)
    cell = next(c for c in notebook.cells if "parameters" in c.metadata.get("tags", []))
    namespace: dict = {}
    exec(cell.source, namespace)  # the parameters cell is plain assignments
    spec_fields = AnalysisSpec().to_parameters()
    assert set(spec_fields) <= set(namespace)
    assert AnalysisSpec.from_parameters(**{k: namespace[k] for k in spec_fields}) == \
        AnalysisSpec(name=namespace["analysis_name"] or "")
