"""The self-contained ``reports/index.html``: every executed notebook's narrative (markdown),
figures (embedded PNG, with links to the PDF and to further pages) and tables, no code cells,
plus a generated methods section. Notebooks that failed (``reports/failed/``) are listed with
their error and a link to the partial output."""

from __future__ import annotations

import html
import json
import logging
import os
import re
from pathlib import Path

import nbformat
import pandas as pd
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from therapy_turns.io.transcripts import FLAGS
from therapy_turns.paths import project_path
from therapy_turns.report.provenance import provenance
from therapy_turns.store import load_table

log = logging.getLogger(__name__)

#: Where :func:`therapy_turns.report.notebooks.run_notebook` leaves a failed run's partial output.
FAILED_DIR = "failed"

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.45;color:#222}
h1{border-bottom:2px solid #0072B2}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
img{max-width:100%;height:auto}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;
display:block;max-width:100%;overflow-x:auto}
td,th{border-bottom:1px solid #ddd;padding:.2rem .5rem;text-align:right}
th{background:#f4f4f4}pre{background:#f8f8f8;padding:.5rem;overflow-x:auto;font-size:.8rem}
nav a{margin-right:1rem}.methods td{text-align:left}
figure{margin:1rem 0}figcaption{font-size:.8rem;color:#555}
.failed{border-left:4px solid #D55E00;padding-left:.8rem}.failed pre{color:#8a2b00}
nav a.failed-link{color:#D55E00}
"""


def figure_metadata(output: nbformat.NotebookNode) -> dict[str, object] | None:
    """The ``therapy_turns`` metadata :func:`therapy_turns.viz.plots.show_fig` attaches to a
    figure output (name, files, further pages), or None for other images."""
    md = output.get("metadata", {})
    return md.get("image/png", {}).get("therapy_turns") or md.get("therapy_turns")


def _link(path: str, base: Path, text: str) -> str:
    rel = os.path.relpath(path, base)
    return f'<a href="{html.escape(Path(rel).as_posix())}">{html.escape(text)}</a>'


def _figure_html(png: str, meta: dict[str, object] | None, base: Path) -> str:
    img = f'src="data:image/png;base64,{png.strip()}"'
    if not meta:
        return f'<img alt="figure" {img}>'
    name = str(meta.get("figure", "figure"))
    links = [_link(f, base, Path(f).suffix[1:].upper()) for f in meta.get("files", [])]
    pages = meta.get("pages") or []
    if pages:
        links.append(f"{len(pages) + 1} pages; further pages: " + ", ".join(
            _link(page[0], base, Path(page[0]).stem.rsplit("-", 1)[-1]) for page in pages))
    return (f'<figure data-figure="{html.escape(name)}"><img alt="{html.escape(name)}" {img}>'
            f"<figcaption>{html.escape(name)} · {' · '.join(links)}</figcaption></figure>")


def outputs_html(cell: nbformat.NotebookNode, base: Path) -> list[str]:
    """A code cell's outputs as HTML: figures, tables, results and printed text (no code)."""
    parts = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/png" in data:
            parts.append(_figure_html(data["image/png"], figure_metadata(out), base))
        elif "text/html" in data:
            parts.append("".join(data["text/html"]))  # pandas escapes cell contents
        elif "text/markdown" in data:
            parts.append(markdown2html_mistune("".join(data["text/markdown"])))
        elif "text/plain" in data and out.get("output_type") == "execute_result":
            parts.append(f"<pre>{html.escape(''.join(data['text/plain']))}</pre>")
        elif out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append(f"<pre>{html.escape(''.join(out['text']))}</pre>")
        elif out.get("output_type") == "error":
            parts.append(f"<pre class='error'>{html.escape(out.get('ename', ''))}: "
                         f"{html.escape(out.get('evalue', ''))}</pre>")
    return parts


def _unique_ids(body: str, prefix: str) -> str:
    """Prefix the heading anchors mistune writes, so sections never share an id."""
    body = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', body)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', body)


def notebook_section(path: Path, base: Path | None = None
                     ) -> tuple[str, str, dict[str, object]]:
    """Title, narrative HTML (markdown and outputs, no code) and parameters of a run."""
    nb = nbformat.read(path, as_version=4)
    base = base or path.parent
    title, parts = path.stem, []
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "parameters" in tags or "injected-parameters" in tags or "provenance" in tags:
            continue
        if cell.cell_type == "markdown":
            src = "".join(cell.source)
            if title == path.stem and src.lstrip().startswith("# "):
                title = src.lstrip()[2:].splitlines()[0].strip()
                src = "\n".join(src.lstrip().splitlines()[1:])
            if src.strip() == "## Provenance":
                continue
            parts.append(markdown2html_mistune(src))
        elif cell.cell_type == "code":
            parts.extend(outputs_html(cell, base))
    params = nb.metadata.get("papermill", {}).get("parameters", {})
    return title, _unique_ids("\n".join(parts), path.stem), params


def failure(path: Path) -> str:
    """The error a failed run stopped at (papermill's exception, else the first error output)."""
    nb = nbformat.read(path, as_version=4)
    pm = nb.metadata.get("papermill", {})
    if pm.get("exception"):
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    return f"{out.get('ename', '')}: {out.get('evalue', '')}"
    return "the notebook did not finish"


def methods_table(corpus: str | Path, analysis_dir: str | Path) -> pd.DataFrame:
    """Methods facts generated from the package: pipeline, versions, corpus checksum, counts."""
    turns = load_table("turns", corpus, analysis_dir)
    rows = provenance(corpus)
    extra = pd.DataFrame(
        {
            "item": ["sessions", "turns"]
            + [f"turns flagged {f}" for f in FLAGS]
            + ["default exclusion"],
            "value": [str(turns.session_id.nunique()), str(len(turns))]
            + [str(int(turns[f].sum())) for f in FLAGS]
            + [
                "turns flagged generation_error or missing_answer, and turns with no "
                "speech left after removing artefacts; meta notes never count"
            ],
        }
    )
    return pd.concat([rows[~rows["item"].eq("git commit")], extra], ignore_index=True)


def corpus_name(corpus: str | Path) -> str:
    """The corpus as a reader knows it: its folder or file name, never an absolute path."""
    name = Path(str(corpus).rstrip("/")).name
    return name or str(corpus)


def build_index(
    reports_dir: str | Path, corpus: str | Path, analysis_dir: str | Path, out: str | Path
) -> Path:
    """Write the self-contained report: one section per executed notebook (and per failed one,
    with its error), plus methods."""
    reports_dir, out = project_path(reports_dir), project_path(out)
    runs = {p.stem: p for p in reports_dir.glob("*.ipynb")}
    failed = {p.stem: p for p in (reports_dir / FAILED_DIR).glob("*.ipynb")
              if p.stem not in runs}
    sections, nav, params = [], [], {}
    for stem in sorted(runs | failed):
        anchor = stem
        if stem in failed:
            nb_path = failed[stem]
            link = _link(str(nb_path.with_suffix(".html")), out.parent, "partial output")
            nav.append(f'<a class="failed-link" href="#{anchor}">{html.escape(stem)} (failed)</a>')
            sections.append(
                f'<section id="{anchor}" class="failed"><h2>{html.escape(stem)}: failed</h2>'
                f"<p>This notebook stopped with an error; its results are missing from the "
                f"report. The {link} shows the cells that ran.</p>"
                f"<pre>{html.escape(failure(nb_path))}</pre></section>")
            continue
        nb_path = runs[stem]
        title, body, p = notebook_section(nb_path, out.parent)
        params[stem] = p
        nav.append(f'<a href="#{anchor}">{html.escape(title)}</a>')
        link = _link(str(nb_path.with_suffix(".html")), out.parent, "Executed notebook (with code)")
        sections.append(
            f'<section id="{anchor}"><h2>{html.escape(title)}</h2><p>{link}</p>{body}</section>'
        )
    methods = methods_table(corpus, analysis_dir).to_html(index=False, classes="methods")
    param_html = "".join(
        f"<h3>{html.escape(k)}</h3>"
        f"<pre>{html.escape(json.dumps(v, indent=1, sort_keys=True))}</pre>"
        for k, v in params.items()
    )
    name = html.escape(corpus_name(corpus))
    doc = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>therapy-turns report: {name}</title><style>{_CSS}</style>"
        f"</head><body><h1>therapy-turns report: {name}</h1>"
        f"<nav>{''.join(nav)}<a href='#methods'>Methods</a></nav>{''.join(sections)}"
        f"<section id='methods'><h2>Methods</h2>{methods}<h3>Parameters</h3>{param_html}"
        f"</section></body></html>\n"
    )
    out.write_text(doc, encoding="utf-8")
    log.info("wrote %s (%d sections, %d failed)", out, len(sections), len(failed))
    return out
