"""Figures are shown where a reader looks: in the project kernel, in executed notebooks and in the
embedded report; a failing notebook leaves its partial output and still gets an index entry."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from therapy_turns import pipeline
from therapy_turns.report import notebooks

KERNEL = "therapy-turns"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(autouse=True)
def _kernel_imports_this_checkout(monkeypatch):
    """Kernels start in the notebook's folder: give them this checkout's package."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(SRC), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]))


def _notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A figure test\n\nTwo figures, then maybe more.")]
    params = nbformat.v4.new_code_cell('figures_dir: str = "figures"')
    params.metadata["tags"] = ["parameters"]
    nb.cells += [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": KERNEL, "language": "python"}
    nbformat.write(nb, path)
    return path


def test_a_plot_made_in_the_project_kernel_has_image_output(monkeypatch):
    """What `make lab` shows: plain pyplot in the project kernel, no backend chosen by hand."""
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("import matplotlib.pyplot as plt"),
                nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([1, 3, 2])")]
    NotebookClient(nb, kernel_name=KERNEL, timeout=120).execute()
    kinds = [o.output_type for o in nb.cells[1].outputs]
    assert any("image/png" in o.get("data", {}) for o in nb.cells[1].outputs), kinds


@pytest.fixture()
def tiny_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "s1.txt").write_text("Patient: I feel low today.\n\nTherapist: Tell me more.\n")
    return corpus


def test_index_embeds_every_saved_figure_and_shows_failures(tmp_path, tiny_corpus, monkeypatch):
    figures = tmp_path / "figs"
    monkeypatch.setenv("THERAPY_TURNS_FIGURES", str(figures))
    reports = tmp_path / "reports"
    ok = _notebook(tmp_path / "01-ok.ipynb",
                   "import matplotlib.pyplot as plt\nfrom therapy_turns.viz import plots",
                   "fig, ax = plt.subplots()\nax.plot([1, 2])\n"
                   "plots.save_fig(fig, 'ok-line', figures_dir)",
                   "fig, ax = plt.subplots()\nax.bar([1, 2], [3, 4])\n"
                   "plots.save_fig(fig, 'ok-bars', figures_dir)")
    bad = _notebook(tmp_path / "02-bad.ipynb",
                    "import matplotlib.pyplot as plt\nfrom therapy_turns.viz import plots",
                    "fig, ax = plt.subplots()\nplots.save_fig(fig, 'bad-before', figures_dir)",
                    "raise ValueError('metadata lacks column outcome_x')")
    notebooks.run_notebook(ok, reports / "01-ok.ipynb", kernel=KERNEL, html=True)
    with pytest.raises(Exception, match="outcome_x"):
        notebooks.run_notebook(bad, reports / "02-bad.ipynb", kernel=KERNEL, html=True)
    assert not (reports / "02-bad.ipynb").exists()
    assert (reports / "failed" / "02-bad.ipynb").exists()
    assert (reports / "failed" / "02-bad.html").exists()

    run = nbformat.read(reports / "01-ok.ipynb", as_version=4)
    shown = [o for c in run.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(shown) == 2, "each saved figure is shown once, nothing else"
    assert not any("PosixPath" in str(o.get("data", {})) for c in run.cells[2:]
                   for o in c.get("outputs", [])), "save_fig's return value prints nothing"

    pipeline.build_tables(tiny_corpus, tmp_path / "build", [], progress=False)  # turns only
    out = notebooks.build_index(reports, tiny_corpus, tmp_path / "build", reports / "index.html")
    page = out.read_text()
    saved = sorted(p.stem for p in figures.glob("*.png"))
    embedded = sorted(re.findall(r'<figure data-figure="([^"]+)"><img alt="[^"]*" '
                                 r'src="data:image/png;base64,', page))
    assert saved == ["bad-before", "ok-bars", "ok-line"]
    assert embedded == ["ok-bars", "ok-line"], "every figure of the successful run is embedded"
    assert "02-bad: failed" in page and "outcome_x" in page
    assert 'href="failed/02-bad.html"' in page
    assert 'href="../figs/ok-line.pdf"' in page
    assert len(re.findall(r'id="([^"]+)"', page)) == len(set(re.findall(r'id="([^"]+)"', page)))
    assert str(tmp_path) not in page.split("<body>")[0], "no absolute path in the title"
