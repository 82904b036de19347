"""One figure style for every notebook, and the one way figures and tables are saved.

Figures are written as vector PDF and 300-dpi PNG with no creation dates or software strings in
their metadata, so ``make -B report`` twice gives byte-identical files.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython import get_ipython
from IPython.display import Image, display

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


def save_fig(fig: plt.Figure, name: str, figures_dir: str | Path = "figures",
             show: bool | None = None) -> FigureFiles:
    """Save ``fig`` as ``<figures_dir>/<name>.pdf`` and ``.png`` (300 dpi), reproducibly; in a
    notebook (``show`` None) also show it once and close it."""
    out = output_dir(figures_dir)
    paths = FigureFiles([out / f"{name}.pdf", out / f"{name}.png"])
    fig.savefig(paths[0], metadata={"CreationDate": None, "ModDate": None, "Producer": None,
                                    "Creator": "therapy-turns"})
    fig.savefig(paths[1], dpi=300, metadata={"Software": None})
    log.info("saved %s", ", ".join(map(str, paths)))
    if in_kernel() if show is None else show:
        show_fig(fig, name, paths)
    plt.close(fig)
    return paths


def save_table(df: pd.DataFrame, name: str, figures_dir: str | Path = "figures",
               float_format: str = "%.3f", caption: str | None = None) -> list[Path]:
    """Write a key table as CSV and as a booktabs LaTeX table beside the figures."""
    out = output_dir(figures_dir)
    csv, tex = out / f"{name}.csv", out / f"{name}.tex"
    df.to_csv(csv, index=False, float_format=float_format, lineterminator="\n")
    latex = df.to_latex(index=False, float_format=lambda x: float_format % x, caption=caption,
                        label=f"tab:{name}", escape=True)
    tex.write_text(latex, encoding="utf-8")
    return [csv, tex]
