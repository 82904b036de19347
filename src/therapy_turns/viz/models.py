"""Forest plots of estimates with intervals, and session-level group comparisons (02, 03, 05-07)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.measures.registry import SEP
from therapy_turns.viz.plots import TEXT_WIDTH, column_label, grid, paginate

#: Statistics of the sessions table (``table__column__stat``) as words.
STATS = {
    "patient": "patient, session mean",
    "therapist": "therapist, session mean",
    "patient_slope": "patient, slope over the session",
    "rate": "share of therapist turns",
    "patient_ued_variability_sd": "patient, SD (UED variability)",
    "patient_ued_rmssd": "patient, RMSSD (UED)",
}
#: Notes above the points of a forest plot.
NOTE = dict(textcoords="offset points", ha="center", fontsize=5)
#: A factor with more levels than this is drawn with its largest groups only.
MAX_DRAWN_LEVELS = 12


def measure_label(name: str, width: int = 30) -> str:
    """``features__pron_i__patient`` as ``first-person ... [per 100 words] (patient, ...)``."""
    parts = str(name).split(SEP)
    if len(parts) != 3:
        return column_label(parts[-1], width)
    table, col, stat = parts
    if table == "techniques" and stat == "rate":
        head = col.split("_", 1)[-1].replace("_", " ") + " [share of therapist turns]"
        return textwrap.fill(head, width)
    head = column_label(col, 10_000, table)
    return textwrap.fill(f"{head} ({STATS.get(stat, stat.replace('_', ' '))})", width)


def plot_intervals(
    table: pd.DataFrame,
    estimate: str,
    low: str,
    high: str,
    label: str,
    panel: str | None,
    xlabel: str,
    note: str | None = None,
    tick: Callable[[str], str] = lambda v: measure_label(v, 45),
    ncols: int = 4,
) -> list[plt.Figure] | None:
    """Forest plot: ``estimate`` (``low``–``high``) per row ``label``, a panel per ``panel`` value,
    ``note`` above the points; paged (None without estimates)."""
    t = table.dropna(subset=[estimate]).assign(_panel=table[panel] if panel else "")
    if t.empty:
        return None
    panels, labels = list(dict.fromkeys(t["_panel"])), list(dict.fromkeys(t[label]))
    ncols = min(ncols, len(panels))
    figs = []
    for rows in paginate(labels, 0.22, 1.5):
        y = {r: -k for k, r in enumerate(rows)}
        height = 0.22 * len(rows) + 0.7
        for page in paginate(panels, height, 0.5, ncols):
            fig, axes = grid(len(page), ncols, height, 0.5, sharey=True)
            fig.set_figwidth(min(TEXT_WIDTH, 2.4 + 1.6 * ncols))
            for ax, pv in zip(axes, page, strict=False):
                d = t[(t["_panel"] == pv) & t[label].isin(rows)]
                err = [(d[estimate] - d[low]).clip(lower=0), (d[high] - d[estimate]).clip(lower=0)]
                ys = d[label].map(y)
                ax.errorbar(d[estimate], ys, xerr=np.nan_to_num(err), fmt="o", color="k", ms=3)
                for x, yy, text in zip(d[estimate], ys, d[note] if note else [], strict=False):
                    ax.annotate(text, (x, yy), xytext=(0, 4), **NOTE)
                ax.axvline(0, color="grey", linewidth=0.6, linestyle="--")
                ax.set_title(textwrap.fill(str(pv), 24), fontsize=7)
            axes[0].set_yticks(list(y.values()), [tick(r) for r in rows], fontsize=6)
            axes[0].set_ylim(-len(rows) + 0.5, 0.6)
            fig.supxlabel(xlabel, fontsize=8)
            fig.tight_layout()
            figs.append(fig)
    return figs


def plot_coefficients(table: pd.DataFrame) -> list[plt.Figure] | None:
    """Forest plot of a :func:`mixedlm_table`: a panel per term but the intercept."""
    t = table[~table["term"].isin(["not fitted", "Intercept"])]
    return plot_intervals(
        t, "estimate", "ci_low", "ci_high", "outcome", "term", "Estimate, SD units (95% CI)"
    )


def plot_group_measures(
    sessions: pd.DataFrame, measures: Sequence[str], factor: str | None, ncols: int = 3
) -> plt.Figure | None:
    """A panel per measure: sessions as points by group, group means as markers (largest groups)."""
    if factor is None or not len(measures):
        return None
    sizes = sessions[factor].dropna().astype(str).value_counts()
    order = sorted(sizes.index[:MAX_DRAWN_LEVELS])
    d = sessions.assign(**{factor: sessions[factor].astype("string")})
    d = d[d[factor].isin(order)]
    fig, axes = grid(len(measures), ncols, 2.1)
    state = np.random.get_state()  # seaborn jitters with the global RNG: fix it, then restore
    np.random.seed(0)
    points = dict(color="black", size=2.5, jitter=0.15, alpha=1.0 if len(d) <= 60 else 0.4)
    means = dict(errorbar=None, linestyle="none", marker="_", markersize=14, markeredgewidth=2)
    for ax, m in zip(axes, measures, strict=False):
        sns.stripplot(d, x=factor, y=m, order=order, ax=ax, **points)
        sns.pointplot(d, x=factor, y=m, order=order, color="#D55E00", ax=ax, **means)
        ax.set(xlabel="", ylabel="")
        ax.set_title(measure_label(m, 34), fontsize=6.5)
        ax.tick_params(axis="x", labelrotation=30, labelsize=6)
    np.random.set_state(state)
    if len(sizes) > MAX_DRAWN_LEVELS:
        fig.suptitle(f"{factor}: the {MAX_DRAWN_LEVELS} largest of {len(sizes)} groups", fontsize=8)
    fig.tight_layout()
    return fig
