"""Figures of model tables and session-level comparisons (notebooks 02, 03, 06)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.measures.features import COLUMNS
from therapy_turns.measures.registry import SEP
from therapy_turns.viz.plots import PAGE_HEIGHT, TEXT_WIDTH, column_label, paginate

#: Statistics of the sessions table (``table__column__stat``) as words.
STATS = {"patient": "patient, session mean", "therapist": "therapist, session mean",
         "patient_slope": "patient, slope over the session", "rate": "share of therapist turns",
         "patient_ued_variability_sd": "patient, SD (UED variability)",
         "patient_ued_rmssd": "patient, RMSSD (UED)"}
#: A factor with more levels than this is drawn with its largest groups only.
MAX_DRAWN_LEVELS = 12


def measure_label(name: str, width: int = 30) -> str:
    """A measure name for figures, with its unit: ``features__pron_i__patient`` as
    ``first-person singular pronouns [per 100 words] (patient, session mean)``, wrapped at
    ``width``; undocumented names as words."""
    parts = str(name).split(SEP)
    if len(parts) == 3:
        table, col, stat = parts
        if table == "techniques" and stat == "rate":
            head = col.split("_", 1)[-1].replace("_", " ") + " [share of therapist turns]"
            return textwrap.fill(head, width)
        head = column_label(col, COLUMNS if table == "features" else {}, 10_000, table)
        return textwrap.fill(f"{head} ({STATS.get(stat, stat.replace('_', ' '))})", width)
    if len(parts) == 2:
        return textwrap.fill(column_label(parts[1], width=10_000), width)
    return column_label(str(name), width=width)


def plot_coefficients(table: pd.DataFrame, terms: Sequence[str] | None = None,
                      title: str | None = None, ncols: int = 4) -> list[plt.Figure] | None:
    """Forest plot of a :func:`mixedlm_table`: one panel per term (``ncols`` to a row), outcomes
    on the y axis, paged to fit a printable page; None when nothing was fitted."""
    t = table[table["term"] != "not fitted"]
    if t.empty:
        return None
    terms = list(terms) if terms is not None else [x for x in t["term"].unique()
                                                   if x != "Intercept"]
    outcomes = list(dict.fromkeys(t["outcome"]))
    ncols = max(1, min(ncols, len(terms)))
    panel_h = 0.3 * len(outcomes) + 1.0
    rows_per_page = max(1, int((PAGE_HEIGHT - 0.5) // panel_h))
    ypos = {o: i for i, o in enumerate(reversed(outcomes))}
    figs = []
    for page in paginate(terms, rows_per_page * ncols):
        nrows = int(np.ceil(len(page) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH, panel_h * nrows + 0.3),
                                 sharey=True, squeeze=False)
        for ax, term in zip(axes.flat, page, strict=False):
            d = t[t["term"] == term]
            y = d["outcome"].map(ypos)
            ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["ci_low"],
                                                d["ci_high"] - d["estimate"]],
                        fmt="o", color="black", markersize=3, linewidth=1, capsize=0)
            ax.axvline(0, color="grey", linewidth=0.6, linestyle="--")
            ax.set_title(textwrap.fill(term, 28), fontsize=7)
            ax.set_xlabel("Estimate, SD units (95% CI)", fontsize=7)
        for ax in list(axes.flat)[len(page):]:
            ax.set_visible(False)
        axes[0][0].set_yticks(range(len(outcomes)), [column_label(o, COLUMNS) for o in
                                                     reversed(outcomes)], fontsize=7)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        figs.append(fig)
    return figs


def plot_group_measures(sessions: pd.DataFrame, measures: Sequence[str], factor: str | None,
                        ncols: int = 3) -> plt.Figure | None:
    """One panel per measure: every session as a point by group and the group mean as a bar
    marker (no bar from zero: the axis shows the data's range); with more than
    :data:`MAX_DRAWN_LEVELS` groups only the largest are drawn (said in the title). The jitter is
    seeded, so the figure is reproducible. None without a factor."""
    if factor is None or not len(measures):
        return None
    nrows = int(np.ceil(len(measures) / ncols))
    sizes = sessions[factor].dropna().astype(str).value_counts()
    order = sorted(sizes.index[:MAX_DRAWN_LEVELS]) if len(sizes) > MAX_DRAWN_LEVELS else \
        sorted(sizes.index)
    d = sessions.assign(**{factor: sessions[factor].astype("string")})
    d = d[d[factor].isin(order)]
    fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH, min(2.1 * nrows, PAGE_HEIGHT)),
                             squeeze=False)
    state = np.random.get_state()  # seaborn jitters with the global RNG: fix it, then restore
    np.random.seed(0)
    for ax, m in zip(axes.flat, measures, strict=False):
        sns.stripplot(d, x=factor, y=m, order=order, color="black", size=2.5, jitter=0.15,
                      ax=ax, alpha=1.0 if len(d) <= 60 else 0.4)
        sns.pointplot(d, x=factor, y=m, order=order, errorbar=None, linestyle="none",
                      marker="_", markersize=14, markeredgewidth=2, color="#D55E00", ax=ax)
        ax.set(xlabel="", ylabel="")
        ax.set_title(measure_label(m, 34), fontsize=6.5)
        ax.tick_params(axis="x", labelrotation=30, labelsize=6)
    np.random.set_state(state)
    for ax in list(axes.flat)[len(measures):]:
        ax.set_visible(False)
    if len(sizes) > MAX_DRAWN_LEVELS:
        fig.suptitle(f"{factor}: the {MAX_DRAWN_LEVELS} largest of {len(sizes)} groups",
                     fontsize=8)
    fig.tight_layout()
    return fig


def plot_intervals(table: pd.DataFrame, estimate: str, low: str, high: str, label: str,
                   panel: str, xlabel: str, ref: float = 0.0, ncols: int = 4
                   ) -> list[plt.Figure] | None:
    """Forest plot: one panel per value of ``panel`` (wrapped ``ncols`` to a row, so many
    groups stay readable), rows labelled by ``label``, paged to fit a printable page; None when
    there is no estimate."""
    table = table.dropna(subset=[estimate])
    if table.empty:
        return None
    panels = list(dict.fromkeys(table[panel]))
    labels = list(dict.fromkeys(table[label]))
    ncols = max(1, min(ncols, len(panels)))
    panel_h = 0.22 * len(labels) + 0.7
    rows_per_page = max(1, int((PAGE_HEIGHT - 2.0) // panel_h))
    ypos = {lab: i for i, lab in enumerate(reversed(labels))}
    figs = []
    for page in paginate(panels, rows_per_page * ncols):
        nrows = int(np.ceil(len(page) / ncols))
        fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True,
                                 figsize=(TEXT_WIDTH, nrows * panel_h + 0.5))
        for ax, pv in zip(axes.flat, page, strict=False):
            t = table[table[panel] == pv]
            y = t[label].map(ypos)
            ax.errorbar(t[estimate], y, xerr=[(t[estimate] - t[low]).clip(lower=0).fillna(0),
                                              (t[high] - t[estimate]).clip(lower=0).fillna(0)],
                        fmt="o", color="black", markersize=3, linewidth=1, capsize=0)
            ax.axvline(ref, color="grey", linewidth=0.6, linestyle="--")
            ax.set_title(textwrap.fill(str(pv), 24), fontsize=7)
        for ax in list(axes.flat)[len(page):]:
            ax.set_visible(False)
        axes[0][0].set_yticks(range(len(labels)),
                              [measure_label(v, 45) for v in reversed(labels)], fontsize=6)
        fig.supxlabel(xlabel, fontsize=8)
        fig.tight_layout()
        figs.append(fig)
    return figs
