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

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from IPython import get_ipython
from IPython.display import Image, display

from therapy_turns.measures import registry
from therapy_turns.paths import PACKAGE_DIR, project_path

log = logging.getLogger(__name__)

#: Okabe-Ito colour-blind-safe palette; patient and therapist keep their colours everywhere.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
SPEAKER_COLORS = {"patient": "#0072B2", "therapist": "#D55E00"}
SPEAKER_ORDER = ["patient", "therapist"]
#: Widths in inches for a two-column paper (single column, full width); the largest figure
#: drawn is PAGE_HEIGHT tall, to fit a printable A4 or US letter page with margins.
COLUMN_WIDTH, TEXT_WIDTH, PAGE_HEIGHT = 3.4, 7.0, 10.0
#: Resolution of the figure shown in a notebook (the saved PNG keeps 300 dpi).
SHOW_DPI = 110
#: Names and units of measures that no registered measure documents (session summaries).
UNITS = {
    "transition_entropy": "technique transition entropy [bits]",
    "patient_word_share": "patient share of words [0–1]",
}


def set_style() -> None:
    """Seaborn ticks theme, Okabe-Ito palette, fonts sized for a two-column paper
    (``therapy_turns.mplstyle``)."""
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, font="DejaVu Sans")
    plt.style.use(PACKAGE_DIR / "therapy_turns.mplstyle")


def output_dir(figures_dir: str | Path) -> Path:
    """``$THERAPY_TURNS_FIGURES`` if set (``make test``: committed figures stay as they are), else
    ``figures_dir`` under the project root."""
    out = Path(os.environ.get("THERAPY_TURNS_FIGURES") or project_path(figures_dir))
    out.mkdir(parents=True, exist_ok=True)
    return out


class FigureFiles(list):
    """The files :func:`save_fig` wrote (a list of paths); displays as nothing in a notebook,
    where the figure itself has been shown."""

    def _ipython_display_(self) -> None:
        return None


def show_fig(fig: plt.Figure, name: str, files: Sequence[Path], pages: Sequence[Sequence[Path]]):
    """Show ``fig`` as a PNG output whose metadata names the figure and its files (the report
    index reads it to link the PDF and any further pages)."""
    meta = {"figure": name, "files": [str(f) for f in files]}
    meta["pages"] = [[str(f) for f in page] for page in pages]
    display(Image(data=png(fig), format="png", alt=name, metadata={"therapy_turns": meta}))


def png(fig: plt.Figure, dpi: int = SHOW_DPI) -> bytes:
    """The figure as PNG bytes, without metadata (reproducible)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _write(fig: plt.Figure, stem: Path) -> list[Path]:
    pdf, png = stem.with_name(stem.name + ".pdf"), stem.with_name(stem.name + ".png")
    meta = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": "therapy-turns"}
    fig.savefig(pdf, metadata=meta)
    fig.savefig(png, dpi=300, metadata={"Software": None})
    return [pdf, png]


def save_fig(
    fig: plt.Figure | Sequence[plt.Figure] | None,
    name: str,
    figures_dir: str | Path = "figures",
    show: bool | None = None,
) -> FigureFiles:
    """Save ``fig`` (or the pages of one figure: ``name-p01``, ...) as ``<figures_dir>/<name>.pdf``
    and 300-dpi ``.png``, reproducibly, replacing any earlier run's files; in a Jupyter kernel
    (``show`` None) also show the first page, its metadata listing the others for the report."""
    out = output_dir(figures_dir)
    for f in [*out.glob(f"{name}.p*"), *out.glob(f"{name}-p[0-9][0-9]*.p*")]:
        if f.suffix in (".pdf", ".png"):
            f.unlink()
    figs = [] if fig is None else [fig] if isinstance(fig, plt.Figure) else list(fig)
    if not figs:
        log.info("%s: nothing to draw, no figure", name)
        return FigureFiles()
    stems = [name] if len(figs) == 1 else [f"{name}-p{k:02d}" for k in range(1, len(figs) + 1)]
    pages = [_write(f, out / stem) for f, stem in zip(figs, stems, strict=True)]
    log.info(
        "saved %s (%d page%s)", ", ".join(map(str, pages[0])), len(pages), "s" * (len(pages) > 1)
    )
    shell = get_ipython()
    if show if show is not None else getattr(shell, "kernel", None) is not None:
        show_fig(figs[0], name, pages[0], pages[1:])
    for f in figs:
        plt.close(f)
    return FigureFiles(pages[0])


def paginate(items: Sequence[object], per_page: int) -> list[list[object]]:
    """``items`` in pages of at most ``per_page`` (at least one page, possibly empty)."""
    per_page = max(1, per_page)
    return [list(items[i : i + per_page]) for i in range(0, len(items), per_page)] or [[]]


def per_page(item_height: float, fixed: float = 0.8, height: float = PAGE_HEIGHT) -> int:
    """How many items of ``item_height`` inches fit on a page below ``fixed`` inches of titles
    and axes."""
    return max(1, int((height - fixed) // item_height))


def save_table(
    df: pd.DataFrame,
    name: str,
    figures_dir: str | Path = "figures",
    float_format: str = "%.3f",
    caption: str | None = None,
    latex: bool = True,
) -> FigureFiles:
    """Write a key table as CSV and (``latex``) as a booktabs LaTeX table beside the figures."""
    out = output_dir(figures_dir)
    files = FigureFiles([out / f"{name}.csv"])
    df.to_csv(files[0], index=False, float_format=float_format, lineterminator="\n")
    if latex:
        files.append(out / f"{name}.tex")
        kw = dict(caption=caption, label=f"tab:{name}", escape=True)
        tex = df.to_latex(index=False, float_format=lambda x: float_format % x, **kw)
        files[1].write_text(tex, encoding="utf-8")
    return files


def session_labels(ids: Sequence[str], width: int = 16) -> dict[str, str]:
    """Short, unique labels for session ids: as they are up to ``width`` characters, else
    without the words all ids share at start and end (``annomi_…_transcript``), as the first
    remaining word, or cut with an ellipsis at the end or in the middle, whichever is unique."""
    ids = [str(i) for i in dict.fromkeys(ids)]
    if all(len(i) <= width for i in ids):
        return {i: i for i in ids}
    seps = "_-./ "
    head = os.path.commonprefix(ids) if len(ids) > 1 else ""
    head = head[: max(head.rfind(s) for s in seps) + 1]
    tail = os.path.commonprefix([i[::-1] for i in ids])[::-1] if len(ids) > 1 else ""
    tail = tail[min([tail.find(s) for s in seps if s in tail], default=len(tail)) :]
    cut = {i: i[len(head) : len(i) - len(tail)] or i for i in ids}
    keep = max(4, (width - 1) // 2)
    for short in (
        lambda c: re.split(r"[_\-./ ]", c)[0] or c,
        lambda c: c if len(c) <= width else f"{c[: width - 1]}…",
        lambda c: c if len(c) <= width else f"{c[:keep]}…{c[-(width - keep - 1) :]}",
    ):
        labels = {i: short(c) for i, c in cut.items()}
        if len(set(labels.values())) == len(labels) and all(
            len(v) <= width for v in labels.values()
        ):
            return labels
    return cut


def column_label(column: str, width: int = 28, table: str | None = None) -> str:
    """An axis or panel label for a measure column: its name (the meaning its measure declares
    in the registry, up to the first ``:``, ``(``, ``,`` or ``;``; ``table`` narrows the search)
    and unit in brackets, else :data:`UNITS`, else the column as words; wrapped at ``width``."""
    label = UNITS.get(column, column.replace("_", " "))
    for c in (c for n, m in registry.measures().items() if table in (None, n) for c in m.columns):
        if c.name == column:
            unit = "" if c.unit in ("", "text", "code", "codes") else f" [{c.unit}]"
            label = re.split(r"[:(,;]", c.meaning)[0].strip() + unit
            break
    return textwrap.fill(label, width)
