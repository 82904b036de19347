"""Figures of model tables and session-level comparisons (notebooks 02, 03, 06)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.measures.registry import SEP
from therapy_turns.viz.plots import PAGE_HEIGHT, TEXT_WIDTH, column_label, paginate

#: Statistics of the sessions table (``table__column__stat``) as words.
STATS = {
    "patient": "patient, session mean",
    "therapist": "therapist, session mean",
    "patient_slope": "patient, slope over the session",
    "rate": "share of therapist turns",
    "patient_ued_variability_sd": "patient, SD (UED variability)",
    "patient_ued_rmssd": "patient, RMSSD (UED)",
}
#: A factor with more levels than this is drawn with its largest groups only.
MAX_DRAWN_LEVELS = 12


def measure_label(name: str, width: int = 30) -> str:
    """A measure name for figures, with its unit: ``features__pron_i__patient`` as
    ``first-person singular pronouns [per 100 words] (patient, session mean)``, wrapped at
    ``width``; undocumented names as words."""
    parts = str(name).split(SEP)
    if len(parts) != 3:
        return column_label(parts[-1], width)
    table, col, stat = parts
    if table == "techniques" and stat == "rate":
        head = col.split("_", 1)[-1].replace("_", " ") + " [share of therapist turns]"
        return textwrap.fill(head, width)
    head = column_label(col, 10_000, table)
    return textwrap.fill(f"{head} ({STATS.get(stat, stat.replace('_', ' '))})", width)


def plot_coefficients(table: pd.DataFrame) -> list[plt.Figure] | None:
    """Forest plot of a :func:`mixedlm_table` (:func:`plot_intervals`): one panel per term but
    the intercept, outcomes as rows; None when nothing was fitted."""
    t = table[~table["term"].isin(["not fitted", "Intercept"])]
    return plot_intervals(
        t, "estimate", "ci_low", "ci_high", "outcome", "term", "Estimate, SD units (95% CI)"
    )


def plot_group_measures(
    sessions: pd.DataFrame, measures: Sequence[str], factor: str | None, ncols: int = 3
) -> plt.Figure | None:
    """One panel per measure: every session as a point by group and the group mean as a bar
    marker (no bar from zero: the axis shows the data's range); with more than
    :data:`MAX_DRAWN_LEVELS` groups only the largest are drawn (said in the title). The jitter is
    seeded, so the figure is reproducible. None without a factor."""
    if factor is None or not len(measures):
        return None
    nrows = int(np.ceil(len(measures) / ncols))
    sizes = sessions[factor].dropna().astype(str).value_counts()
    order = sorted(sizes.index[:MAX_DRAWN_LEVELS])
    d = sessions.assign(**{factor: sessions[factor].astype("string")})
    d = d[d[factor].isin(order)]
    size = (TEXT_WIDTH, min(2.1 * nrows, PAGE_HEIGHT))
    fig, axes = plt.subplots(nrows, ncols, figsize=size, squeeze=False)
    state = np.random.get_state()  # seaborn jitters with the global RNG: fix it, then restore
    np.random.seed(0)
    points = dict(color="black", size=2.5, jitter=0.15, alpha=1.0 if len(d) <= 60 else 0.4)
    means = dict(errorbar=None, linestyle="none", marker="_", markersize=14, markeredgewidth=2)
    for ax, m in zip(axes.flat, measures, strict=False):
        sns.stripplot(d, x=factor, y=m, order=order, ax=ax, **points)
        sns.pointplot(d, x=factor, y=m, order=order, color="#D55E00", ax=ax, **means)
        ax.set(xlabel="", ylabel="")
        ax.set_title(measure_label(m, 34), fontsize=6.5)
        ax.tick_params(axis="x", labelrotation=30, labelsize=6)
    np.random.set_state(state)
    for ax in axes.flat[len(measures) :]:
        ax.set_visible(False)
    if len(sizes) > MAX_DRAWN_LEVELS:
        title = f"{factor}: the {MAX_DRAWN_LEVELS} largest of {len(sizes)} groups"
        fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig


def plot_intervals(
    table: pd.DataFrame,
    estimate: str,
    low: str,
    high: str,
    label: str,
    panel: str,
    xlabel: str,
    ref: float = 0.0,
    ncols: int = 4,
) -> list[plt.Figure] | None:
    """Forest plot: one panel per value of ``panel`` (wrapped ``ncols`` to a row, so many
    groups stay readable), rows labelled by ``label``, paged to fit a printable page; None when
    there is no estimate."""
    table = table.dropna(subset=[estimate])
    if table.empty:
        return None
    panels, labels = list(dict.fromkeys(table[panel])), list(dict.fromkeys(table[label]))
    ncols = max(1, min(ncols, len(panels)))
    panel_h = 0.22 * len(labels) + 0.7
    ypos = {lab: i for i, lab in enumerate(reversed(labels))}
    figs = []
    for page in paginate(panels, max(1, int((PAGE_HEIGHT - 2.0) // panel_h)) * ncols):
        nrows = int(np.ceil(len(page) / ncols))
        size = (TEXT_WIDTH, nrows * panel_h + 0.5)
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True, figsize=size)
        for ax, pv in zip(axes.flat, page, strict=False):
            t = table[table[panel] == pv]
            err = [(t[estimate] - t[low]), (t[high] - t[estimate])]
            err = [e.clip(lower=0).fillna(0) for e in err]
            ax.errorbar(
                t[estimate],
                t[label].map(ypos),
                xerr=err,
                fmt="o",
                color="black",
                markersize=3,
                linewidth=1,
                capsize=0,
            )
            ax.axvline(ref, color="grey", linewidth=0.6, linestyle="--")
            ax.set_title(textwrap.fill(str(pv), 24), fontsize=7)
        for ax in axes.flat[len(page) :]:
            ax.set_visible(False)
        ticks = [measure_label(v, 45) for v in reversed(labels)]
        axes[0][0].set_yticks(range(len(labels)), ticks, fontsize=6)
        fig.supxlabel(xlabel, fontsize=8)
        fig.tight_layout()
        figs.append(fig)
    return figs
