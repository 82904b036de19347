"""Report machinery: validated papermill runs (the index is built by :mod:`.index`).

- :func:`run_notebook` executes ``notebooks/X.ipynb`` into another file (never in place) with
  parameters from ``params/X.yaml``; a key the notebook's ``parameters`` cell does not declare is
  an error (papermill itself only warns). Progress is logged cell by cell; a run that fails
  leaves its partial output (notebook and HTML) in ``failed/`` beside the output.
- :func:`strip_notebook` clears outputs for commit, keeping the nbval check cells.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path

import nbformat
import papermill as pm
import zmq
from jupyter_client.manager import KernelManager
from nbconvert import HTMLExporter
from papermill.engines import NBClientEngine, papermill_engines

from therapy_turns.paths import read_yaml
from therapy_turns.report.index import FAILED_DIR, build_index

__all__ = ["build_index", "run_notebook", "strip_notebook", "write_html"]

log = logging.getLogger(__name__)
_QUIET = logging.getLogger(f"{__name__}.nbconvert")
_QUIET.setLevel(logging.ERROR)

#: Parameters make passes to every notebook that declares them (the corpus being analysed).
COMMON_PARAMETERS = ("corpus", "analysis_dir", "figures_dir", "metadata", "redact")


class ParameterError(ValueError):
    """A parameters file names a key the notebook's parameters cell does not declare."""


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, str]]:
    """The parameters declared in the notebook's cell tagged ``parameters`` (name → info)."""
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


class EncryptedKernelManager(KernelManager):
    """A local kernel whose connection is CurveZMQ-encrypted when libzmq supports it (so the
    kernel has no reason to warn "running over TCP without encryption")."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if zmq.has("curve"):
            self.transport_encryption = "auto"


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, logging each code cell as it starts (notebook name, cell
    number, seconds since the start, first line of the code)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):  # noqa: ANN001, ANN206
        start, name = time.monotonic(), kwargs.pop("progress_name", "notebook")
        code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
        cell_start = nb_man.cell_start

        def logged(cell, cell_index=None, **kw):  # noqa: ANN001, ANN202
            if cell_index in code:
                first = cell.source.strip().splitlines()[0][:60] if cell.source.strip() else ""
                log.info("%s: cell %d/%d, %.0f s: %s", name, code.index(cell_index) + 1,
                         len(code), time.monotonic() - start, first)
            return cell_start(cell, cell_index, **kw)

        nb_man.cell_start = logged
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


papermill_engines.register("therapy-turns", ProgressEngine)


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
    notebook is also rendered as HTML beside it. If the run fails, the partial output is moved
    to ``failed/<name>.ipynb`` (and ``.html``) beside ``output`` and the error re-raised.
    """
    notebook, output = Path(notebook), Path(output)
    if notebook.resolve() == output.resolve():
        raise ValueError(f"refusing to execute {notebook} in place")
    params = load_params(params_file)
    validate_params(notebook, params, str(params_file))
    declared = notebook_parameters(notebook)
    params.update({k: v for k, v in (overrides or {}).items() if k in declared})
    output.parent.mkdir(parents=True, exist_ok=True)
    failed = output.parent / FAILED_DIR / output.name
    started = time.monotonic()
    for stale in (failed, failed.with_suffix(".html")):
        stale.unlink(missing_ok=True)
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            parameters=params,
            kernel_name=kernel,
            cwd=str(cwd or notebook.parent),
            progress_bar=False,
            log_output=False,
            engine_name="therapy-turns",
            progress_name=output.stem,
            kernel_manager_class=EncryptedKernelManager,
        )
    except Exception:
        if output.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(output, failed)
            write_html(failed)
            log.error("%s failed; partial output in %s", output.stem, failed)
        raise
    if html:
        write_html(output)
    log.info("%s: done in %.0f s", output.stem, time.monotonic() - started)
    return output


def write_html(executed: str | Path) -> Path:
    """Render an executed notebook as ``<name>.html`` beside it (nbconvert's HTML exporter, in
    this process rather than a new ``jupyter nbconvert`` one)."""
    executed = Path(executed)
    exporter = HTMLExporter(log=_QUIET)  # its "alternative text missing" warning: lab template
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    out = executed.with_suffix(".html")
    out.write_text(body, encoding="utf-8")
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
