"""The self-contained ``reports/index.html``: each executed notebook's narrative, figures and tables
(no code), failed notebooks with their error, and a methods section generated from the package."""

from __future__ import annotations

import json
import logging
import os
import re
from html import escape
from pathlib import Path
from string import Template

import nbformat
import pandas as pd
from nbconvert.filters.markdown_mistune import markdown2html_mistune as md2html

from therapy_turns.io.transcripts import FLAGS
from therapy_turns.paths import DATA_DIR, project_path
from therapy_turns.report.provenance import provenance
from therapy_turns.store import load_table

log = logging.getLogger(__name__)

#: Where :func:`therapy_turns.report.notebooks.run_notebook` leaves a failed run's partial output.
FAILED_DIR = "failed"
SKIPPED_TAGS = {"parameters", "injected-parameters", "provenance"}
EXCLUSION = (
    "turns flagged generation_error or missing_answer, and turns with no speech left after "
    "removing artefacts; meta notes never count"
)


def _link(path: str | Path, base: Path, text: str) -> str:
    rel = Path(os.path.relpath(path, base)).as_posix()
    return f'<a href="{escape(rel)}">{escape(text)}</a>'


def _error(out: dict) -> str:
    return f"{out.get('ename', '')}: {out.get('evalue', '')}"


def outputs_html(cell: nbformat.NotebookNode, base: Path) -> list[str]:
    """A code cell's outputs as HTML: figures (captioned, linking the files :func:`save_fig`
    saved), tables, results and printed text (no code)."""
    parts = []
    for out in cell.get("outputs", []):
        data, kind, md = out.get("data", {}), out.get("output_type"), out.get("metadata", {})
        if "image/png" in data:
            meta = md.get("image/png", {}).get("therapy_turns") or md.get("therapy_turns")
            img = f'src="data:image/png;base64,{data["image/png"].strip()}"'
            if not meta:
                parts.append(f'<img alt="figure" {img}>')
                continue
            name = escape(str(meta.get("figure", "figure")))
            links = [_link(f, base, Path(f).suffix[1:].upper()) for f in meta.get("files", [])]
            if pages := meta.get("pages"):
                further = [_link(p[0], base, Path(p[0]).stem.rsplit("-", 1)[-1]) for p in pages]
                links.append(f"{len(pages) + 1} pages; further pages: " + ", ".join(further))
            parts.append(
                f'<figure data-figure="{name}"><img alt="{name}" {img}>'
                f"<figcaption>{name} · {' · '.join(links)}</figcaption></figure>"
            )
        elif "text/html" in data:
            parts.append("".join(data["text/html"]))  # pandas escapes cell contents
        elif "text/markdown" in data:
            parts.append(md2html("".join(data["text/markdown"])))
        elif "text/plain" in data and kind == "execute_result":
            parts.append(f"<pre>{escape(''.join(data['text/plain']))}</pre>")
        elif kind == "stream" and out.get("name") == "stdout":
            parts.append(f"<pre>{escape(''.join(out['text']))}</pre>")
        elif kind == "error":
            parts.append(f"<pre class='error'>{escape(_error(out))}</pre>")
    return parts


def notebook_section(path: Path, base: Path) -> tuple[str, str, dict[str, object]]:
    """Title, narrative HTML (markdown and outputs, no code; heading anchors prefixed with the
    notebook's name) and parameters of a run."""
    nb = nbformat.read(path, as_version=4)
    title, parts = path.stem, []
    for cell in nb.cells:
        if SKIPPED_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        if cell.cell_type == "code":
            parts.extend(outputs_html(cell, base))
            continue
        src = "".join(cell.source).lstrip()
        if title == path.stem and src.startswith("# "):
            title, _, src = src[2:].partition("\n")
            title = title.strip()
        if src.strip() != "## Provenance":
            parts.append(md2html(src))
    body = re.sub(r'(id="|href="#)([^"]+)"', rf'\1{path.stem}-\2"', "\n".join(parts))
    return title, body, nb.metadata.get("papermill", {}).get("parameters", {})


def failure(path: Path) -> str:
    """The error a failed run stopped at (its first error output)."""
    nb = nbformat.read(path, as_version=4)
    if nb.metadata.get("papermill", {}).get("exception"):
        for out in (o for c in nb.cells for o in c.get("outputs", [])):
            if out.get("output_type") == "error":
                return _error(out)
    return "the notebook did not finish"


def build_index(
    reports_dir: str | Path, corpus: str | Path, analysis_dir: str | Path, out: str | Path
) -> Path:
    """Write the report: one section per executed (or failed) notebook, plus methods. The title
    names the corpus folder, never an absolute path."""
    reports_dir, out = project_path(reports_dir), project_path(out)
    runs = {p.stem: p for p in reports_dir.glob("*.ipynb")}
    failed = {p.stem: p for p in (reports_dir / FAILED_DIR).glob("*.ipynb") if p.stem not in runs}
    sections, nav, params = [], [], {}
    for stem in sorted(runs | failed):
        name = escape(stem)
        if stem in failed:
            link = _link(failed[stem].with_suffix(".html"), out.parent, "partial output")
            nav.append(f'<a class="failed-link" href="#{stem}">{name} (failed)</a>')
            sections.append(
                f'<section id="{stem}" class="failed"><h2>{name}: failed</h2><p>This notebook '
                f"stopped with an error; its results are missing from the report. The {link} "
                f"shows the cells that ran.</p><pre>{escape(failure(failed[stem]))}</pre>"
                "</section>"
            )
            continue
        title, body, params[stem] = notebook_section(runs[stem], out.parent)
        title = escape(title)
        link = _link(runs[stem].with_suffix(".html"), out.parent, "Executed notebook (with code)")
        nav.append(f'<a href="#{stem}">{title}</a>')
        sections.append(f'<section id="{stem}"><h2>{title}</h2><p>{link}</p>{body}</section>')
    turns, rows = load_table("turns", corpus, analysis_dir), provenance(corpus)
    extra = {"sessions": turns.session_id.nunique(), "turns": len(turns)}
    extra |= {f"turns flagged {f}": int(turns[f].sum()) for f in FLAGS}
    extra["default exclusion"] = EXCLUSION
    extra = pd.DataFrame({"item": list(extra), "value": [str(v) for v in extra.values()]})
    methods = pd.concat([rows[~rows["item"].eq("git commit")], extra], ignore_index=True)
    page = Template((DATA_DIR / "index.html").read_text(encoding="utf-8")).substitute(
        name=escape(Path(str(corpus).rstrip("/")).name or str(corpus)),
        css=(DATA_DIR / "index.css").read_text(encoding="utf-8"),
        nav="".join(nav),
        sections="".join(sections),
        methods=methods.to_html(index=False, classes="methods"),
        params="".join(
            f"<h3>{escape(k)}</h3><pre>{escape(json.dumps(v, indent=1, sort_keys=True))}</pre>"
            for k, v in params.items()
        ),
    )
    out.write_text(page, encoding="utf-8")
    log.info("wrote %s (%d sections, %d failed)", out, len(sections), len(failed))
    return out
