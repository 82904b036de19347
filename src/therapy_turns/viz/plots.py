"""Figure style, shared layouts and labels, forest plots, and the one way figures are saved."""

import io
import logging
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython import get_ipython
from IPython.display import Image, display

from therapy_turns.analysis.stats import Frame, Names
from therapy_turns.measures import registry
from therapy_turns.paths import DATA_DIR, PACKAGE_DIR, project_path, read_yaml

log = logging.getLogger(__name__)

#: Okabe-Ito colour-blind-safe palette; patient and therapist keep their colours everywhere.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
SPEAKER_COLORS = {"patient": "#0072B2", "therapist": "#D55E00"}
#: Inches: one column, the full width of a two-column paper, the tallest figure (fits A4/letter).
COLUMN_WIDTH, TEXT_WIDTH, PAGE_HEIGHT = 3.4, 7.0, 10.0
NOTE = dict(xytext=(0, 4), textcoords="offset points", ha="center", size=5)
MAX_DRAWN_LEVELS = 12  # a factor with more levels is drawn with its largest groups only
#: Sessions-table statistics as words, units of undocumented measures, figures' fixed labels.
FIGURE_LABELS = read_yaml(DATA_DIR / "figure_labels.yaml")
STATS, UNITS, LABELS = (FIGURE_LABELS[k] for k in ("stats", "units", "labels"))


def set_style() -> None:
    """Seaborn's paper/ticks theme, the Okabe-Ito palette and ``therapy_turns.mplstyle``."""
    sns.set_theme(context="paper", style="ticks", palette=PALETTE, font="DejaVu Sans")
    plt.style.use(PACKAGE_DIR / "therapy_turns.mplstyle")


def output_dir(figures_dir: str | Path) -> Path:
    """``$THERAPY_TURNS_FIGURES`` if set (``make test``), else ``figures_dir`` in the project."""
    out = Path(os.environ.get("THERAPY_TURNS_FIGURES") or project_path(figures_dir))
    out.mkdir(parents=True, exist_ok=True)
    return out


def png(fig: plt.Figure) -> bytes:
    """The figure as a 110-dpi PNG without metadata (reproducible)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    return buf.getvalue()


def save_fig(
    fig: plt.Figure | Sequence[plt.Figure] | None, name: str, figures_dir: str | Path = "figures"
) -> None:
    """Save a figure or its pages (``name-p01``, ...) as PDF and 300-dpi PNG; show it in Jupyter."""
    out = output_dir(figures_dir)
    for f in [*out.glob(f"{name}.p[dn][fg]"), *out.glob(f"{name}-p[0-9][0-9]*.p[dn][fg]")]:
        f.unlink()
    figs = [] if fig is None else [fig] if isinstance(fig, plt.Figure) else list(fig)
    stems = [name] if len(figs) == 1 else [f"{name}-p{k:02d}" for k in range(1, len(figs) + 1)]
    pages = [[str(out / f"{stem}.{ext}") for ext in ("pdf", "png")] for stem in stems]
    pdf_meta = {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": "therapy-turns"}
    for f, (pdf, png_file) in zip(figs, pages, strict=True):
        f.savefig(pdf, metadata=pdf_meta)
        f.savefig(png_file, dpi=300, metadata={"Software": None})
        plt.close(f)
    if not figs:
        log.info("%s: nothing to draw, no figure", name)
        return
    log.info("saved %s (%d pages)", ", ".join(pages[0]), len(pages))
    if getattr(get_ipython(), "kernel", None) is not None:
        meta = {"figure": name, "files": pages[0], "pages": pages[1:]}
        display(Image(png(figs[0]), format="png", alt=name, metadata={"therapy_turns": meta}))


def save_table(
    df: Frame,
    name: str,
    figures_dir: str | Path = "figures",
    float_format: str = "%.3f",
    caption: str | None = None,
    latex: bool = True,
) -> None:
    """Write a key table as CSV and (``latex``) as a booktabs LaTeX table beside the figures."""
    out = output_dir(figures_dir)
    df.to_csv(out / f"{name}.csv", index=False, float_format=float_format, lineterminator="\n")
    if latex:
        kw = dict(caption=caption, label=f"tab:{name}", escape=True, encoding="utf-8")
        df.to_latex(out / f"{name}.tex", index=False, float_format=float_format, **kw)


def paginate(items: Sequence, height: float, fixed: float, per_row: int = 1) -> list[list]:
    """``items`` in pages of as many rows of ``per_row`` ``height`` inches tall as fit a page."""
    n = max(1, int((PAGE_HEIGHT - fixed) // height)) * per_row
    return [list(items[i : i + n]) for i in range(0, len(items), n)] or [[]]


def grid(n: int, ncols: int, height: float, fixed: float = 0.0, **kw) -> tuple[plt.Figure, list]:
    """A full-width figure of ``n`` panels ``ncols`` to a row (unused axes hidden)."""
    nrows = max(1, -(-n // ncols))
    size = (TEXT_WIDTH, min(height * nrows + fixed, PAGE_HEIGHT))
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False, layout="tight", **kw)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def fig_legend(fig: plt.Figure, axes: Sequence[plt.Axes], **kw) -> None:
    """One figure legend of the labelled artists of ``axes`` (the first per label)."""
    legend: dict[str, object] = {}
    for h, lab in (p for ax in axes for p in zip(*ax.get_legend_handles_labels(), strict=True)):
        legend.setdefault(lab, h)
    fig.legend(list(legend.values()), list(legend), **kw)


def session_labels(ids: Sequence[str], width: int = 16) -> dict[str, str]:
    """Short unique labels: ids without the words all share at start and end, shortened."""
    ids = [str(i) for i in dict.fromkeys(ids)]
    if all(len(i) <= width for i in ids):
        return {i: i for i in ids}
    pre, suf = os.path.commonprefix(ids), os.path.commonprefix([i[::-1] for i in ids])[::-1]
    head, tail = re.match(r".*[_\-./ ]|", pre).group(), re.search(r"[_\-./ ].*|$", suf).group()
    cut = {i: i[len(head) : len(i) - len(tail)] or i for i in ids}
    keep = max(4, (width - 1) // 2)
    for short in (
        lambda c: re.split(r"[_\-./ ]", c)[0] or c,
        lambda c: c if len(c) <= width else f"{c[: width - 1]}…",
        lambda c: c if len(c) <= width else f"{c[:keep]}…{c[-(width - keep - 1) :]}",
    ):
        labels = {i: short(c) for i, c in cut.items()}
        if len(set(labels.values())) == len(labels) and max(map(len, labels.values())) <= width:
            return labels
    return cut


def column_label(name: str, width: int = 28) -> str:
    """A column's name and unit (registry, :data:`UNITS`), plus its sessions-table statistic."""
    table, col, stat = ([None, None] + str(name).split(registry.SEP))[-3:]
    if table == "techniques" and stat == "rate":
        return textwrap.fill(col.split("_", 1)[-1].replace("_", " ") + f" [{STATS[stat]}]", width)
    column = col if table else stat
    label = UNITS.get(column, column.replace("_", " "))
    columns = (c for n, m in registry.measures().items() if table in (None, n) for c in m.columns)
    if c := next((c for c in columns if c.name == column), None):
        unit = "" if c.unit in ("", "text", "code", "codes") else f" [{c.unit}]"
        label = re.split(r"[:(,;]", c.meaning)[0].strip() + unit
    stat = f" ({STATS.get(stat, stat.replace('_', ' '))})" if table else ""
    return textwrap.fill(label + stat, width)


def plot_intervals(
    table: Frame,
    label: str,
    panel: str | None,
    xlabel: str,
    cols: Sequence[str] = ("estimate", "ci_low", "ci_high"),
    note: str | None = None,
    tick=lambda row: column_label(row, 45),
) -> list[plt.Figure] | None:
    """Forest plot: ``cols`` (estimate, low, high) per ``label`` row and ``panel`` value, paged."""
    t = table.dropna(subset=cols[:1]).assign(_panel=table[panel] if panel else "")
    panels, labels = list(dict.fromkeys(t["_panel"])), list(dict.fromkeys(t[label]))
    ncols, figs = min(4, len(panels)), []
    for rows in paginate(labels, 0.22, 1.5) if len(t) else []:
        y, height = {r: -k for k, r in enumerate(rows)}, 0.22 * len(rows) + 0.7
        for page in paginate(panels, height, 0.5, ncols):
            fig, axes = grid(len(page), ncols, height, 0.5, sharey=True)
            fig.set_figwidth(min(TEXT_WIDTH, 2.4 + 1.6 * ncols))
            for ax, pv in zip(axes, page, strict=False):
                d = t[(t["_panel"] == pv) & t[label].isin(rows)]
                err = np.abs(d[list(cols[1:])].to_numpy() - d[[cols[0]]].to_numpy()).T
                ax.errorbar(d[cols[0]], d[label].map(y), xerr=np.nan_to_num(err), fmt="ok", ms=3)
                for x, yy, text in zip(d[cols[0]], d[label].map(y), d.get(note, []), strict=False):
                    ax.annotate(text, (x, yy), **NOTE)
                ax.axvline(0, color="grey", linewidth=0.6, linestyle="--")
                ax.set_title(textwrap.fill(str(pv), 24), fontsize=7)
            axes[0].set_yticks(list(y.values()), [tick(r) for r in rows], fontsize=6)
            axes[0].set_ylim(-len(rows) + 0.5, 0.6)
            fig.supxlabel(xlabel, fontsize=8)
            figs.append(fig)
    return figs or None


def plot_coefficients(table: Frame) -> list[plt.Figure] | None:
    """Forest plot of a :func:`mixedlm_table`: a panel per term but the intercept."""
    t = table[~table["term"].isin(["not fitted", "Intercept"])]
    return plot_intervals(t, "outcome", "term", LABELS["coefficients"])


def plot_group_measures(sessions: Frame, measures: Names, factor: str | None) -> plt.Figure | None:
    """A panel per measure: sessions as points by group, group means as markers (largest groups)."""
    if factor is None or not len(measures):
        return None
    sizes = sessions[factor].dropna().astype(str).value_counts()
    order = sorted(sizes.index[:MAX_DRAWN_LEVELS])
    d = sessions[sessions[factor].astype("string").isin(order)].astype({factor: "string"})
    fig, axes = grid(len(measures), 3, 2.1)
    state = np.random.get_state()  # seaborn jitters with the global RNG: fix it, then restore
    np.random.seed(0)
    points = dict(color="black", size=2.5, jitter=0.15, alpha=1.0 if len(d) <= 60 else 0.4)
    means = dict(errorbar=None, linestyle="none", marker="_", markersize=14, markeredgewidth=2)
    for ax, m in zip(axes, measures, strict=False):
        sns.stripplot(d, x=factor, y=m, order=order, ax=ax, **points)
        sns.pointplot(d, x=factor, y=m, order=order, color="#D55E00", ax=ax, **means)
        ax.set(xlabel="", ylabel="")
        ax.set_title(column_label(m, 34), fontsize=6.5)
        ax.tick_params(axis="x", labelrotation=30, labelsize=6)
    np.random.set_state(state)
    if len(sizes) > MAX_DRAWN_LEVELS:
        fig.suptitle(f"{factor}: the {MAX_DRAWN_LEVELS} largest of {len(sizes)} groups", fontsize=8)
    return fig
