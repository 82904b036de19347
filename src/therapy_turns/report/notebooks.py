"""Validated papermill runs of the notebooks, their HTML, and stripping them for commit."""

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
from therapy_turns.report.index import FAILED_DIR

log = logging.getLogger(__name__)
_QUIET = logging.getLogger(f"{__name__}.nbconvert")
_QUIET.setLevel(logging.ERROR)


class ParameterError(ValueError):
    """A parameters file names a key the notebook's parameters cell does not declare."""


def notebook_parameters(notebook: str | Path) -> dict[str, dict[str, str]]:
    """The parameters declared in the notebook's cell tagged ``parameters`` (name → info)."""
    return dict(pm.inspect_notebook(str(notebook)))


def load_params(params_file: str | Path | None) -> dict[str, object]:
    """Read a ``params/*.yaml`` file (none or an empty file: an empty mapping)."""
    data = (read_yaml(params_file) if params_file else None) or {}
    if not isinstance(data, dict):
        raise ParameterError(f"{params_file}: expected a mapping of parameter names to values")
    return data


def validate_params(notebook: str | Path, params: Mapping, source: str = "parameters") -> dict:
    """The notebook's declared parameters; :class:`ParameterError` for an undeclared key."""
    declared = notebook_parameters(notebook)
    if unknown := sorted(set(params) - set(declared)):
        raise ParameterError(
            f"{source}: unknown parameter(s) {unknown} for {notebook}; "
            f"its parameters cell declares {sorted(declared)}"
        )
    return declared


class EncryptedKernelManager(KernelManager):
    """A local kernel on a CurveZMQ-encrypted connection where libzmq supports it (no warning
    "running over TCP without encryption")."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if zmq.has("curve"):
            self.transport_encryption = "auto"


class ProgressEngine(NBClientEngine):
    """papermill's nbclient engine, logging each code cell as it starts."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):  # noqa: ANN001, ANN206
        start, name = time.monotonic(), kwargs.pop("progress_name", "notebook")
        code = [i for i, c in enumerate(nb_man.nb.cells) if c.cell_type == "code"]
        cell_start = nb_man.cell_start

        def logged(cell, cell_index=None, **kw):  # noqa: ANN001, ANN202
            if cell_index in code:
                first = (cell.source.strip().splitlines() or [""])[0][:60]
                k, secs = code.index(cell_index) + 1, time.monotonic() - start
                log.info("%s: cell %d/%d, %.0f s: %s", name, k, len(code), secs, first)
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
    html: bool = False,
) -> Path:
    """Execute ``notebook`` into ``output`` (never in place) with the validated parameters of
    ``params_file`` and the ``overrides`` it declares; ``html`` also renders it. A failed run's
    partial output moves to ``failed/`` beside ``output`` and the error is re-raised."""
    notebook, output = Path(notebook), Path(output)
    if notebook.resolve() == output.resolve():
        raise ValueError(f"refusing to execute {notebook} in place")
    params = load_params(params_file)
    declared = validate_params(notebook, params, str(params_file))
    params |= {k: v for k, v in (overrides or {}).items() if k in declared}
    output.parent.mkdir(parents=True, exist_ok=True)
    failed, started = output.parent / FAILED_DIR / output.name, time.monotonic()
    failed.unlink(missing_ok=True)
    failed.with_suffix(".html").unlink(missing_ok=True)
    options = dict(kernel_name=kernel, cwd=str(notebook.parent), progress_bar=False)
    options |= dict(log_output=False, engine_name="therapy-turns", progress_name=output.stem)
    try:
        pm.execute_notebook(
            str(notebook),
            str(output),
            params,
            kernel_manager_class=EncryptedKernelManager,
            **options,
        )
    except Exception:
        if output.exists():
            failed.parent.mkdir(parents=True, exist_ok=True)
            write_html(shutil.move(output, failed))
            log.error("%s failed; partial output in %s", output.stem, failed)
        raise
    if html:
        write_html(output)
    log.info("%s: done in %.0f s", output.stem, time.monotonic() - started)
    return output


def write_html(executed: str | Path) -> Path:
    """Render an executed notebook as ``<name>.html`` beside it (nbconvert, in this process)."""
    exporter = HTMLExporter(log=_QUIET)  # its "alternative text missing" warning: lab template
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    out = Path(executed).with_suffix(".html")
    out.write_text(body, encoding="utf-8")
    return out


def strip_notebook(notebook: str | Path, executed: str | Path | None = None) -> Path:
    """Clear outputs and execution counts except in cells tagged ``nbval-check-output``, which
    take their outputs from ``executed`` (the papermill run) when given."""
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
    return Path(notebook)
