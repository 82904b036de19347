"""The report on a corpus that is not the seeds says nothing that is only true of the seeds.

A small corpus is generated from the seed texts with other session ids, lengths and speaker
labels, as one CSV, with metadata whose columns are not the seeds'; the key notebooks run on it
(project kernel) and their HTML and the index are searched for seed ids and seed-only text."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import nbformat
import pytest

from therapy_turns.pipeline import build_tables
from therapy_turns.report import notebooks

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from foreign_corpus import foreign_corpus  # noqa: E402

SEED_IDS = [p.stem for p in (ROOT / "seeds").glob("*.txt")] or ["000_9fc736dfb9bb5c37"]
SEED_ONLY = ["On the seeds", "Intellectualizer", "Hopeless Skeptic", "Overwhelmed Avoider",
             "51, 51, 50", "five synthetic", "With five sessions", "model_a", "fidelity"]
NOTEBOOKS = ["01-corpus-overview", "02-linguistic-features", "03-emotional-trajectory",
             "06-group-comparisons"]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("foreign")
    csv, meta = foreign_corpus(tmp, sessions=6)
    build = tmp / "build"
    build_tables(csv.parent, build, metadata=meta, progress=False)
    reports = tmp / "reports"
    env = {"THERAPY_TURNS_FIGURES": str(tmp / "figures"), "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for name in NOTEBOOKS:
            notebooks.run_notebook(
                ROOT / "notebooks" / f"{name}.ipynb", reports / f"{name}.ipynb",
                ROOT / "params" / f"{name}.yaml",
                {"corpus": str(csv.parent), "analysis_dir": str(build),
                 "figures_dir": str(tmp / "figures"), "metadata": str(meta)},
                html=True)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    notebooks.build_index(reports, csv.parent, build, reports / "index.html")
    return reports


def test_no_seed_id_or_seed_only_text_in_the_report(report):
    pages = {p.name: p.read_text() for p in report.glob("*.html")}
    assert "index.html" in pages and len(pages) == len(NOTEBOOKS) + 1
    for name, page in pages.items():
        for sid in SEED_IDS:
            assert sid[:8] not in page, f"seed id {sid} in {name}"
        for phrase in SEED_ONLY:
            assert phrase not in page, f"seed-only text {phrase!r} in {name}"


def test_metadata_columns_of_another_corpus_are_factors_and_outcomes(report):
    nb = nbformat.read(report / "06-group-comparisons.ipynb", as_version=4)
    text = "\n".join("".join(o.get("data", {}).get("text/markdown", ""))
                     for c in nb.cells for o in c.get("outputs", []))
    assert "Factors: `arm` and `site`; outcomes: `wai_total`" in text
    assert "`notes` (a different value in every session)" in text
    page = (report / "index.html").read_text()
    assert "clinic-" in page and "failed" not in page.split("<nav>")[1].split("</nav>")[0]
    embedded = re.findall(r'<figure data-figure="([^"]+)"', page)
    assert "06-outcome-correlations" in embedded and "06-group-measures" in embedded
