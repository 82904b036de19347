"""Report machinery: validated papermill runs and the self-contained ``index.html``.

- :func:`run_notebook` executes ``notebooks/X.ipynb`` into another file (never in place) with
  parameters from ``params/X.yaml``; a key the notebook's ``parameters`` cell does not declare is
  an error (papermill itself only warns).
- :func:`build_index` collects the executed notebooks' narrative (markdown), figures and tables,
  with no code cells, into one HTML file with a generated methods section.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Mapping
from pathlib import Path

import nbformat
import pandas as pd

from therapy_turns.paths import project_path, read_yaml

log = logging.getLogger(__name__)

#: Parameters make passes to every notebook that declares them (the corpus being analysed).
COMMON_PARAMETERS = ("corpus", "analysis_dir", "figures_dir", "metadata", "redact")


class ParameterError(ValueError):
    """A parameters file names a key the notebook's parameters cell does not declare."""


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, str]]:
    """The parameters declared in the notebook's cell tagged ``parameters`` (name → info)."""
    import papermill as pm

    return dict(pm.inspect_notebook(str(notebook)))


def load_params(params_file: str | Path | None) -> dict[str, object]:
    """Read a ``params/*.yaml`` file (an empty file is an empty mapping)."""
    if params_file is None:
        return {}
    data = read_yaml(params_file) or {}
    if not isinstance(data, dict):
        raise ParameterError(f"{params_file}: expected a mapping of parameter names to values")
    return data


def validate_params(
    notebook: str | Path, params: Mapping[str, object], source: str = "parameters"
) -> None:
    """Raise :class:`ParameterError` if ``params`` has a key the notebook does not declare."""
    declared = notebook_parameters(notebook)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ParameterError(
            f"{source}: unknown parameter(s) {unknown} for {notebook}; "
            f"its parameters cell declares {sorted(declared)}"
        )


def run_notebook(
    notebook: str | Path,
    output: str | Path,
    params_file: str | Path | None = None,
    overrides: Mapping[str, object] | None = None,
    kernel: str = "therapy-turns",
    cwd: str | Path | None = None,
    html: bool = False,
) -> Path:
    """Execute ``notebook`` into ``output`` with validated parameters.

    ``overrides`` (the corpus, folders, ...) are applied after the file and passed only when the
    notebook declares them, so one make rule serves every notebook. With ``html`` the executed
    notebook is also rendered as HTML beside it.
    """
    import papermill as pm

    notebook, output = Path(notebook), Path(output)
    if notebook.resolve() == output.resolve():
        raise ValueError(f"refusing to execute {notebook} in place")
    params = load_params(params_file)
    validate_params(notebook, params, str(params_file))
    declared = notebook_parameters(notebook)
    params.update({k: v for k, v in (overrides or {}).items() if k in declared})
    output.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(
        str(notebook),
        str(output),
        parameters=params,
        kernel_name=kernel,
        cwd=str(cwd or notebook.parent),
        progress_bar=False,
        log_output=False,
    )
    if html:
        write_html(output)
    return output


def write_html(executed: str | Path) -> Path:
    """Render an executed notebook as ``<name>.html`` beside it (nbconvert's HTML exporter, in
    this process rather than a new ``jupyter nbconvert`` one)."""
    from nbconvert import HTMLExporter

    executed = Path(executed)
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(executed, as_version=4))
    out = executed.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


# --------------------------------------------------------------------------- index.html
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:60rem;margin:2rem auto;
padding:0 1rem;line-height:1.45;color:#222}
h1{border-bottom:2px solid #0072B2}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
img{max-width:100%;height:auto}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
td,th{border-bottom:1px solid #ddd;padding:.2rem .5rem;text-align:right}
th{background:#f4f4f4}pre{background:#f8f8f8;padding:.5rem;overflow-x:auto;font-size:.8rem}
nav a{margin-right:1rem}.methods td{text-align:left}
"""


def _markdown(src: str) -> str:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    return markdown2html_mistune(src)


def _outputs_html(cell: nbformat.NotebookNode) -> list[str]:
    parts = []
    for out in cell.get("outputs", []):
        data = out.get("data", {})
        if "image/png" in data:
            parts.append(
                f'<img alt="figure" src="data:image/png;base64,{data["image/png"].strip()}">'
            )
        elif "text/html" in data:
            parts.append("".join(data["text/html"]))  # pandas escapes cell contents
        elif "text/plain" in data and out.get("output_type") == "execute_result":
            parts.append(f"<pre>{html.escape(''.join(data['text/plain']))}</pre>")
        elif out.get("output_type") == "stream" and out.get("name") == "stdout":
            parts.append(f"<pre>{html.escape(''.join(out['text']))}</pre>")
    return parts


def notebook_section(path: Path) -> tuple[str, str, dict[str, object]]:
    """Title, narrative HTML (markdown and outputs, no code) and parameters of a run."""
    nb = nbformat.read(path, as_version=4)
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
            parts.append(_markdown(src))
        elif cell.cell_type == "code":
            parts.extend(_outputs_html(cell))
    params = nb.metadata.get("papermill", {}).get("parameters", {})
    return title, "\n".join(parts), params


def methods_table(corpus: str | Path, analysis_dir: str | Path) -> pd.DataFrame:
    """Methods facts generated from the package: pipeline, versions, corpus checksum, counts."""
    from therapy_turns.io.transcripts import FLAGS
    from therapy_turns.pipeline import load_table
    from therapy_turns.report.provenance import provenance

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


def build_index(
    reports_dir: str | Path, corpus: str | Path, analysis_dir: str | Path, out: str | Path
) -> Path:
    """Write the self-contained report: one section per executed notebook plus methods."""
    reports_dir, out = project_path(reports_dir), project_path(out)
    sections, nav, params = [], [], {}
    for nb_path in sorted(reports_dir.glob("*.ipynb")):
        title, body, p = notebook_section(nb_path)
        anchor = nb_path.stem
        params[nb_path.stem] = p
        nav.append(f'<a href="#{anchor}">{html.escape(title)}</a>')
        link = (
            f'<p><a href="{html.escape(nb_path.stem)}.html">Executed notebook (with code)</a></p>'
        )
        sections.append(
            f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{link}{body}</section>'
        )
    methods = methods_table(corpus, analysis_dir).to_html(index=False, classes="methods")
    param_html = "".join(
        f"<h3>{html.escape(k)}</h3>"
        f"<pre>{html.escape(json.dumps(v, indent=1, sort_keys=True))}</pre>"
        for k, v in params.items()
    )
    doc = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>therapy-turns report: {html.escape(str(corpus))}</title><style>{_CSS}</style>"
        f"</head><body><h1>therapy-turns report: {html.escape(str(corpus))}</h1>"
        f"<nav>{''.join(nav)}<a href='#methods'>Methods</a></nav>{''.join(sections)}"
        f"<section id='methods'><h2>Methods</h2>{methods}<h3>Parameters</h3>{param_html}"
        f"</section></body></html>\n"
    )
    out.write_text(doc, encoding="utf-8")
    log.info("wrote %s (%d sections)", out, len(sections))
    return out


CHECK_TAG = "nbval-check-output"


def strip_notebook(notebook: str | Path, executed: str | Path | None = None) -> Path:
    """Clear every output and execution count except in cells tagged ``nbval-check-output``.

    With ``executed`` (the same notebook run by papermill), the check cells take their outputs
    from it: look at them before committing — they are the hand-verified expectations nbval
    compares against.
    """
    nb = nbformat.read(notebook, as_version=4)
    ran = nbformat.read(executed, as_version=4) if executed else None
    ran_cells = {c.get("id"): c for c in ran.cells} if ran else {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if CHECK_TAG in cell.metadata.get("tags", []):
            cell.metadata["keep_output"] = True
            if cell.get("id") in ran_cells:
                src = ran_cells[cell["id"]]
                cell.outputs = [o for o in src.outputs if o.get("output_type") != "stream"]
                cell.execution_count = src.execution_count
        else:
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    nbformat.write(nb, notebook)
    return Path(notebook)
