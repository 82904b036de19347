"""Figure/table writers and the HTML report: reproducible bytes, escaping, no code cells."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from therapy_turns import cli, pipeline  # noqa: E402
from therapy_turns.report import notebooks as reporting  # noqa: E402
from therapy_turns.report.notebooks import build_index  # noqa: E402
from therapy_turns.viz import plots  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_figure_redirect(monkeypatch):
    monkeypatch.delenv("THERAPY_TURNS_FIGURES", raising=False)


def test_figures_redirect_for_test_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("THERAPY_TURNS_FIGURES", str(tmp_path / "scratch"))
    plots.save_fig(_figure(), "y", "figures")
    assert sorted(p.name for p in (tmp_path / "scratch").iterdir()) == ["y.pdf", "y.png"]


def _figure() -> plt.Figure:
    plots.set_style()
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [1, 3, 2], color=plots.SPEAKER_COLORS["patient"])
    ax.set_title("valence")
    return fig


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_save_fig_writes_pdf_and_png_with_identical_bytes_each_time(tmp_path):
    plots.save_fig(_figure(), "x", tmp_path / "a")
    plots.save_fig(_figure(), "x", tmp_path / "b")
    a, b = ([d / "x.pdf", d / "x.png"] for d in (tmp_path / "a", tmp_path / "b"))
    assert [_digest(p) for p in a] == [_digest(p) for p in b]
    pdf = a[0].read_bytes()
    assert b"CreationDate" not in pdf and b"ModDate" not in pdf
    png = a[1].read_bytes()
    assert b"Software" not in png and png[16:24] != b""  # header present, no software stamp
    # 300 dpi: the pHYs chunk stores pixels per metre (300 / 0.0254 = 11811)
    assert (11811).to_bytes(4, "big") in png[:200]


def test_save_table_writes_csv_and_booktabs_latex(tmp_path):
    df = pd.DataFrame({"code": ["open_question", "a_b"], "kappa": [0.71234, 0.5]})
    plots.save_table(df, "agreement", tmp_path)
    csv, tex = tmp_path / "agreement.csv", tmp_path / "agreement.tex"
    assert csv.read_text() == "code,kappa\nopen_question,0.712\na_b,0.500\n"
    latex = tex.read_text()
    assert "\\toprule" in latex and "\\midrule" in latex and "\\bottomrule" in latex
    assert "open\\_question" in latex and "0.712" in latex


def _executed_notebook(path: Path) -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("corpus = 'seeds'")
    params.metadata["tags"] = ["parameters"]
    out_cell = nbformat.v4.new_code_cell("secret_code_line = 1")
    out_cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": png}),
        nbformat.v4.new_output("stream", name="stdout", text="Patient: <script>alert(1)</script>"),
    ]
    nb.cells = [nbformat.v4.new_markdown_cell("# Overview title\n\nThe claim."), params, out_cell]
    nb.metadata["papermill"] = {"parameters": {"corpus": "seeds"}}
    nbformat.write(nb, path)


def test_build_index_is_self_contained_escaped_and_has_methods(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    _executed_notebook(reports / "01-x.ipynb")
    pipeline.build_tables(ROOT / "seeds", tmp_path / "analysis", [], progress=False)  # turns
    out = build_index(reports, "seeds", tmp_path / "analysis", reports / "index.html")
    html = out.read_text()
    assert "<h2>Overview title</h2>" in html and "The claim." in html
    assert "secret_code_line" not in html, "no code cells in the report"
    assert "<script>" not in html and "&lt;script&gt;" in html, "transcript text is escaped"
    assert 'src="data:image/png;base64,' in html, "figures are embedded"
    assert 'href="01-x.html"' in html
    assert "corpus sha256" in html and "turns flagged generation_error" in html
    assert "<td>253</td>" in html  # seed turns, as counted by hand from the labels


def test_run_notebook_refuses_in_place(tmp_path, capsys):
    nb = ROOT / "notebooks" / "01-corpus-overview.ipynb"
    with pytest.raises(ValueError, match="in place"):
        reporting.run_notebook(nb, nb)
    assert cli.main(["run-notebook", str(nb), str(nb)]) == 2  # one line, no traceback
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"therapy-turns run-notebook: {nb}: is the notebook itself; "
                   "refusing to execute it in place"]


def test_strip_notebook_keeps_only_check_outputs(tmp_path):
    nb = nbformat.v4.new_notebook()
    keep = nbformat.v4.new_code_cell("1 + 1")
    keep.metadata["tags"] = ["nbval-check-output"]
    drop = nbformat.v4.new_code_cell("2 + 2")
    for c, v in ((keep, "2"), (drop, "4")):
        c.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": v},
                                            execution_count=1)]
        c.execution_count = 1
    nb.cells = [keep, drop]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    reporting.strip_notebook(path)
    cells = nbformat.read(path, as_version=4).cells
    assert cells[0].outputs[0]["data"]["text/plain"] == "2" and cells[0].metadata["keep_output"]
    assert cells[1].outputs == [] and cells[1].execution_count is None
