"""Notebook runs (papermill) and their HTML, stripping for commit, the report ``index.html``."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping
from html import escape
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import zmq
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune as md2html
from traitlets.config import Config

from therapy_turns.io.transcripts import FLAGS
from therapy_turns.paths import project_path, read_yaml
from therapy_turns.report.narrate import HTML, fill, provenance
from therapy_turns.store import load_table

log = logging.getLogger(__name__)
_QUIET = logging.getLogger(f"{__name__}.nbconvert")
_QUIET.setLevel(logging.ERROR)
#: Kernels on a CurveZMQ-encrypted connection where libzmq has it (no "TCP without encryption").
KERNEL = Config(KernelManager={"transport_encryption": "auto"} if zmq.has("curve") else {})


class ParameterError(ValueError):
    """A parameters file or an output path the notebook cannot be run with (one-line message)."""


def read_params(notebook: str | Path, params_file: str | Path | None = None) -> tuple[dict, dict]:
    """The values of ``params_file`` (none or empty: ``{}``) and the notebook's parameters."""
    params = (read_yaml(params_file) if params_file else None) or {}
    if not isinstance(params, dict):
        raise ParameterError(f"{params_file}: expected a mapping of parameter names to values")
    declared = pm.inspect_notebook(str(notebook))
    if unknown := sorted(set(params) - set(declared)):
        msg = f"{params_file}: unknown parameter(s) {unknown} for {notebook}; "
        raise ParameterError(msg + f"its parameters cell declares {sorted(declared)}")
    return params, declared


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    params_file: str | Path | None = None,
    overrides: Mapping[str, object] | None = None,
    kernel: str = "therapy-turns",
    html: bool = False,
) -> None:
    """Execute ``notebook`` into ``output`` with ``params_file`` and the declared ``overrides``."""
    notebook, output = Path(notebook), Path(output)
    if notebook.resolve() == output.resolve():
        raise ParameterError(f"{output}: is the notebook itself; refusing to execute it in place")
    params, declared = read_params(notebook, params_file)
    params |= {k: v for k, v in (overrides or {}).items() if k in declared}
    output.parent.mkdir(parents=True, exist_ok=True)
    failed, started, code = output.parent / "failed" / output.name, time.monotonic(), []
    failed.unlink(missing_ok=True)
    failed.with_suffix(".html").unlink(missing_ok=True)

    def on_notebook_start(notebook: nbformat.NotebookNode, **_: object) -> None:  # nbclient hook
        code[:] = [i for i, c in enumerate(notebook.cells) if c.cell_type == "code"]

    def on_cell_start(cell: nbformat.NotebookNode, cell_index: int, **_: object) -> None:
        if cell_index in code:  # progress: each code cell logged as it starts
            first = (cell.source.strip().splitlines() or [""])[0][:60]
            k, secs = code.index(cell_index) + 1, time.monotonic() - started
            log.info("%s: cell %d/%d, %.0f s: %s", output.stem, k, len(code), secs, first)

    options = dict(kernel_name=kernel, cwd=str(notebook.parent), progress_bar=False, config=KERNEL)
    hooks = dict(on_notebook_start=on_notebook_start, on_cell_start=on_cell_start)
    try:
        pm.execute_notebook(str(notebook), str(output), params, **options, **hooks)
    except Exception:
        if output.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            write_html(shutil.move(output, failed))
            log.error("%s failed; partial output in %s", output.stem, failed)
        raise
    if html:
        write_html(output)
    log.info("%s: done in %.0f s", output.stem, time.monotonic() - started)


def write_html(executed: str | Path) -> None:
    """Render an executed notebook as ``<name>.html`` beside it (nbconvert, in this process)."""
    exporter = HTMLExporter(log=_QUIET)  # its "alternative text missing" warning: lab template
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    Path(executed).with_suffix(".html").write_text(body, encoding="utf-8")


def strip_notebook(notebook: str | Path, executed: str | Path | None = None) -> None:
    """Clear outputs but of ``nbval-check-output`` cells (refreshed from ``executed`` if given)."""
    nb = nbformat.read(notebook, as_version=4)
    ran = {c.get("id"): c for c in nbformat.read(executed, as_version=4).cells} if executed else {}
    for cell in (c for c in nb.cells if c.cell_type == "code"):
        if "nbval-check-output" in cell.metadata.get("tags", []):
            cell.metadata["keep_output"] = True
            if src := ran.get(cell.get("id")):
                cell.outputs = [o for o in src.outputs if o.get("output_type") != "stream"]
                cell.execution_count = src.execution_count
        else:
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    nb.metadata.pop("papermill", None)
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, notebook)


def _link(path: str | Path, base: Path, text: str) -> str:
    return f'<a href="{escape(Path(os.path.relpath(path, base)).as_posix())}">{escape(text)}</a>'


def _error(out: dict) -> str:
    return f"{out.get('ename', '')}: {out.get('evalue', '')}"


def notebook_section(path: Path, base: Path) -> tuple[str, str, dict[str, object]]:
    """Title, narrative HTML (no code; anchors prefixed with the notebook's name), parameters."""
    nb = nbformat.read(path, as_version=4)
    title, parts = path.stem, []
    for cell in nb.cells:
        if {"parameters", "injected-parameters", "provenance"} & set(cell.metadata.get("tags", [])):
            continue
        for out in cell.get("outputs", []):  # figures linking their files, tables, text
            data, kind, md = out.get("data", {}), out.get("output_type"), out.get("metadata", {})
            if "image/png" in data:
                meta = md.get("image/png", {}).get("therapy_turns")  # from viz.plots.save_fig
                img = f'src="data:image/png;base64,{data["image/png"].strip()}"'
                if not meta:
                    parts.append(f'<img alt="figure" {img}>')
                    continue
                name = escape(meta["figure"])
                links = [_link(f, base, Path(f).suffix[1:].upper()) for f in meta["files"]]
                if pages := meta["pages"]:
                    further = [_link(p[0], base, Path(p[0]).stem.rsplit("-", 1)[-1]) for p in pages]
                    links.append(f"{len(pages) + 1} pages; further pages: " + ", ".join(further))
                parts.append(fill("figure", name=name, img=img, links=" · ".join(links)))
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
        if cell.cell_type == "code":
            continue
        src = "".join(cell.source).lstrip()
        if title == path.stem and src.startswith("# "):
            title, _, src = src[2:].partition("\n")
            title = title.strip()
        if src.strip() != "## Provenance":
            parts.append(md2html(src))
    body = re.sub(r'(id="|href="#)([^"]+)"', rf'\1{path.stem}-\2"', "\n".join(parts))
    return title, body, nb.metadata.get("papermill", {}).get("parameters", {})


def build_index(
    reports_dir: str | Path, corpus: str | Path, analysis_dir: str | Path, out: str | Path
) -> Path:
    """Write the report: a section per executed (or failed) notebook, then the methods."""
    reports_dir, out = project_path(reports_dir), project_path(out)
    runs = {p.stem: p for p in reports_dir.glob("*.ipynb")}
    failed = {p.stem: p for p in (reports_dir / "failed").glob("*.ipynb") if p.stem not in runs}
    sections, nav, params = [], [], {}
    for stem in sorted(runs | failed):
        name = escape(stem)
        if stem in failed:
            link = _link(failed[stem].with_suffix(".html"), out.parent, "partial output")
            nav.append(f'<a class="failed-link" href="#{stem}">{name} (failed)</a>')
            nb = nbformat.read(failed[stem], as_version=4)  # the error the run stopped at
            errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
            ok = errors and nb.metadata.get("papermill", {}).get("exception")
            error = escape(_error(errors[0]) if ok else "the notebook did not finish")
            sections.append(fill("failed", stem=stem, name=name, link=link, error=error))
            continue
        title, body, params[stem] = notebook_section(runs[stem], out.parent)
        link = _link(runs[stem].with_suffix(".html"), out.parent, "Executed notebook (with code)")
        nav.append(f'<a href="#{stem}">{escape(title)}</a>')
        sections.append(fill("section", stem=stem, title=escape(title), link=link, body=body))
    turns, rows = load_table("turns", corpus, analysis_dir), provenance(corpus)
    extra = {"sessions": turns.session_id.nunique(), "turns": len(turns)}
    extra |= {f"turns flagged {f}": int(turns[f].sum()) for f in FLAGS}
    extra["default exclusion"] = HTML["exclusion"]
    extra = pd.DataFrame({"item": list(extra), "value": [str(v) for v in extra.values()]})
    methods = pd.concat([rows[~rows["item"].eq("git commit")], extra], ignore_index=True)
    name = escape(Path(str(corpus).rstrip("/")).name or str(corpus))
    shown = {k: escape(json.dumps(v, indent=1, sort_keys=True)) for k, v in params.items()}
    html = dict(name=name, nav="".join(nav), sections="".join(sections))
    html["params"] = "".join(fill("params", name=escape(k), values=v) for k, v in shown.items())
    html["methods"] = methods.to_html(index=False, classes="methods")
    out.write_text(fill("index", **html), encoding="utf-8")
    log.info("wrote %s (%d sections, %d failed)", out, len(sections), len(failed))
    return out
