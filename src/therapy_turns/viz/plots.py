"""One figure style for every notebook, and the one way figures and tables are saved.

Figures are written as vector PDF and 300-dpi PNG with no creation dates or software strings in
their metadata, so ``make -B report`` twice gives byte-identical files.
"""

from __future__ import annotations

import io
import logging
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython import get_ipython
from IPython.display import Image, display

from therapy_turns.measures import registry
from therapy_turns.paths import project_path

log = logging.getLogger(__name__)

#: Okabe-Ito colour-blind-safe palette; patient and therapist keep their colours everywhere.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
SPEAKER_COLORS = {"patient": "#0072B2", "therapist": "#D55E00"}
SPEAKER_ORDER = ["patient", "therapist"]
#: Widths in inches for a two-column paper (single column, full width).
COLUMN_WIDTH, TEXT_WIDTH = 3.4, 7.0


def set_style() -> None:
    """Seaborn ticks theme, Okabe-Ito palette, fonts sized for a two-column paper."""
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, font="DejaVu Sans", rc={
        "font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "xtick.labelsize": 7,
        "ytick.labelsize": 7, "legend.fontsize": 7, "figure.dpi": 110, "savefig.dpi": 300,
        "savefig.bbox": "tight", "pdf.fonttype": 42, "svg.hashsalt": "therapy-turns",
        "axes.spines.top": False, "axes.spines.right": False,
    })
    mpl.rcParams["path.simplify"] = True


def output_dir(figures_dir: str | Path) -> Path:
    """Where figures and tables go: ``$THERAPY_TURNS_FIGURES`` if set (``make test`` points it at
    a scratch folder so validating notebooks never rewrites the committed figures), else
    ``figures_dir`` under the project root."""
    out = Path(os.environ.get("THERAPY_TURNS_FIGURES") or project_path(figures_dir))
    out.mkdir(parents=True, exist_ok=True)
    return out


class FigureFiles(list):
    """The files :func:`save_fig` wrote (a list of paths). In a notebook the figure itself has
    already been shown, so the list displays as nothing (no ``[PosixPath(...)]`` under it)."""

    def _ipython_display_(self) -> None:
        return None


#: Resolution of the figure shown in a notebook (the saved PNG keeps 300 dpi).
SHOW_DPI = 110


def in_kernel() -> bool:
    """True inside a Jupyter kernel (papermill, nbval, JupyterLab), where figures are shown."""
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def show_fig(fig: plt.Figure, name: str, files: Sequence[Path] = (),
             pages: Sequence[Sequence[Path]] = ()) -> None:
    """Show ``fig`` as a PNG output whose metadata names the figure and its files (the report
    index reads it to link the PDF and any further pages)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=SHOW_DPI, metadata={"Software": None})
    meta = {"figure": name, "files": [str(f) for f in files],
            "pages": [[str(f) for f in page] for page in pages]}
    display(Image(data=buf.getvalue(), format="png", alt=name, metadata={"therapy_turns": meta}))


def _write(fig: plt.Figure, stem: Path) -> list[Path]:
    paths = [stem.with_name(stem.name + ".pdf"), stem.with_name(stem.name + ".png")]
    fig.savefig(paths[0], metadata={"CreationDate": None, "ModDate": None, "Producer": None,
                                    "Creator": "therapy-turns"})
    fig.savefig(paths[1], dpi=300, metadata={"Software": None})
    return paths


def _remove_stale(out: Path, name: str) -> None:
    """Files of an earlier run of figure ``name`` (single file or pages) that this run replaces."""
    for f in [*out.glob(f"{name}.p*"), *out.glob(f"{name}-p[0-9][0-9]*.p*")]:
        if f.suffix in (".pdf", ".png"):
            f.unlink()


def save_fig(fig: plt.Figure | Sequence[plt.Figure] | None, name: str,
             figures_dir: str | Path = "figures", show: bool | None = None) -> FigureFiles:
    """Save ``fig`` as ``<figures_dir>/<name>.pdf`` and ``.png`` (300 dpi), reproducibly; in a
    notebook (``show`` None) also show it once and close it.

    A list of figures is the pages of one figure (per-session figures of a large corpus): one
    page is saved as ``name``; several as ``name-p01``, ``name-p02``, ... of which the notebook
    shows the first, its output metadata listing the others (the report links them). ``None``
    (a figure function with nothing to draw, e.g. no outcome column) saves nothing. Files of an
    earlier run of ``name`` are removed first, so no stale page survives.
    """
    out = output_dir(figures_dir)
    _remove_stale(out, name)
    figs = [] if fig is None else [fig] if isinstance(fig, plt.Figure) else list(fig)
    if not figs:
        log.info("%s: nothing to draw, no figure", name)
        return FigureFiles()
    if len(figs) == 1:
        pages = [_write(figs[0], out / name)]
    else:
        pages = [_write(f, out / f"{name}-p{k:02d}") for k, f in enumerate(figs, 1)]
    paths = FigureFiles(pages[0])
    log.info("saved %s (%d page%s)", ", ".join(map(str, paths)), len(pages),
             "s" if len(pages) > 1 else "")
    if in_kernel() if show is None else show:
        show_fig(figs[0], name, paths, pages[1:])
    for f in figs:
        plt.close(f)
    return paths


#: The largest figure drawn: fits a printable A4 or US letter page with margins (inches).
PAGE_WIDTH, PAGE_HEIGHT = 7.0, 10.0


def paginate(items: Sequence[object], per_page: int) -> list[list[object]]:
    """``items`` in pages of at most ``per_page`` (at least one page, possibly empty)."""
    per_page = max(1, per_page)
    return [list(items[i:i + per_page]) for i in range(0, len(items), per_page)] or [[]]


def per_page(item_height: float, fixed: float = 0.8, height: float = PAGE_HEIGHT) -> int:
    """How many items of ``item_height`` inches fit on a page below ``fixed`` inches of titles
    and axes."""
    return max(1, int((height - fixed) // item_height))


def save_table(df: pd.DataFrame, name: str, figures_dir: str | Path = "figures",
               float_format: str = "%.3f", caption: str | None = None,
               latex: bool = True) -> FigureFiles:
    """Write a key table as CSV and (``latex``) as a booktabs LaTeX table beside the figures.
    The returned paths display as nothing in a notebook."""
    out = output_dir(figures_dir)
    csv, tex = out / f"{name}.csv", out / f"{name}.tex"
    df.to_csv(csv, index=False, float_format=float_format, lineterminator="\n")
    if not latex:
        return FigureFiles([csv])
    latex_text = df.to_latex(index=False, float_format=lambda x: float_format % x, caption=caption,
                        label=f"tab:{name}", escape=True)
    tex.write_text(latex_text, encoding="utf-8")
    return FigureFiles([csv, tex])


def session_labels(ids: Sequence[str], width: int = 16) -> dict[str, str]:
    """Short, unique, readable labels for session ids on axes and panel titles.

    Ids of at most ``width`` characters stay as they are. Otherwise the words every id shares at
    the start and end (``annomi_…_transcript``, cut at ``_ - . /`` or spaces) are dropped; if
    the first remaining word is unique it is the label; otherwise a
    label still too long keeps its first ``width - 1`` characters and an ellipsis, or its start
    and end around the ellipsis when the start alone would repeat another label. Labels are
    unique: ids whose short forms collide keep their distinguishing part in full.
    """
    ids = [str(i) for i in dict.fromkeys(ids)]
    if all(len(i) <= width for i in ids):
        return {i: i for i in ids}
    seps = "_-./ "
    head = os.path.commonprefix(ids) if len(ids) > 1 else ""
    head = head[:max((head.rfind(s) for s in seps), default=-1) + 1]
    tail = os.path.commonprefix([i[::-1] for i in ids])[::-1] if len(ids) > 1 else ""
    cuts = [tail.find(s) for s in seps if s in tail]
    tail = tail[min(cuts):] if cuts else ""
    cut = {i: i[len(head):len(i) - len(tail)] or i for i in ids}

    def unique(labels: dict[str, str]) -> bool:
        return len(set(labels.values())) == len(labels)

    first = {i: re.split(r"[_\-./ ]", c)[0] or c for i, c in cut.items()}
    if unique(first) and all(len(f) <= width for f in first.values()):
        return first
    start = {i: c if len(c) <= width else f"{c[:width - 1]}…" for i, c in cut.items()}
    if unique(start):
        return start
    keep = max(4, (width - 1) // 2)
    ends = {i: c if len(c) <= width else f"{c[:keep]}…{c[-(width - keep - 1):]}"
            for i, c in cut.items()}
    return ends if unique(ends) else cut


#: Names and units of measures that no registered measure documents (session summaries).
UNITS: dict[str, str] = {
    "transition_entropy": "technique transition entropy [bits]",
    "patient_word_share": "patient share of words [0–1]",
}


def documented(column: str, table: str | None = None) -> tuple[str, str] | None:
    """``(meaning, unit)`` of ``column`` as its measure declares it in the registry
    (:mod:`therapy_turns.measures.registry`; ``table`` narrows the search), else None."""
    for name, m in registry.measures().items():
        if table not in (None, name):
            continue
        for c in m.columns:
            if c.name == column:
                return c.meaning, c.unit
    return None


def column_label(column: str, docs: dict[str, str] | None = None, width: int = 28,
                 table: str | None = None) -> str:
    """An axis or panel label for a measure column: its name (the declared meaning up to the
    first ``:``, ``(``, ``,`` or ``;``) and unit in brackets, from the measure registry, else
    ``docs`` (``"name: detail [unit]"``), else :data:`UNITS`; wrapped at ``width``. An
    undocumented column is shown as words."""
    reg = documented(column, table)
    if reg is not None:
        name = re.split(r"[:(,;]", reg[0])[0].strip()
        unit = reg[1] if reg[1] not in ("", "text", "code", "codes") else ""
        return textwrap.fill(name + (f" [{unit}]" if unit else ""), width)
    doc = (docs or {}).get(column) or UNITS.get(column)
    if not doc:
        return textwrap.fill(column.replace("_", " "), width)
    unit_match = re.search(r"\[([^\]]+)\]\s*$", doc)
    name = re.split(r"[:(,;]", doc.split("[")[0])[0].strip()
    return textwrap.fill(name + (f" [{unit_match.group(1)}]" if unit_match else ""), width)
