"""Figures of model tables and session-level comparisons (notebooks 02, 03, 06)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.analysis.sessions import SEP
from therapy_turns.viz.plots import TEXT_WIDTH


def plot_coefficients(table: pd.DataFrame, terms: Sequence[str] | None = None,
                      title: str | None = None):  # -> matplotlib Figure
    """Forest plot of a :func:`mixedlm_table`: one panel per term, outcomes on the y axis."""
    t = table[table["term"] != "not fitted"]
    terms = list(terms) if terms is not None else [x for x in t["term"].unique()
                                                   if x != "Intercept"]
    outcomes = list(dict.fromkeys(t["outcome"]))
    fig, axes = plt.subplots(1, len(terms), figsize=(TEXT_WIDTH, 0.3 * len(outcomes) + 1.0),
                             sharey=True, squeeze=False)
    ypos = {o: i for i, o in enumerate(reversed(outcomes))}
    for ax, term in zip(axes[0], terms, strict=True):
        d = t[t["term"] == term]
        y = d["outcome"].map(ypos)
        ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["ci_low"],
                                            d["ci_high"] - d["estimate"]],
                    fmt="o", color="black", markersize=3, linewidth=1, capsize=0)
        ax.axvline(0, color="grey", linewidth=0.6, linestyle="--")
        ax.set(title=term, xlabel="Estimate (95% CI)")
    axes[0][0].set_yticks(range(len(outcomes)), list(reversed(outcomes)))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def measure_label(name: str, width: int = 30) -> str:
    """A measure name for figures: ``table__column__stat`` as ``table · column · stat``,
    wrapped at ``width`` characters."""
    return textwrap.fill(str(name).replace(SEP, " · ").replace("_", " "), width)


def plot_group_measures(sessions: pd.DataFrame, measures: Sequence[str], factor: str,
                        ncols: int = 3):  # -> matplotlib Figure
    """One panel per measure: every session as a point by group, group means as bars (the
    horizontal jitter is seeded, so the figure is reproducible)."""
    nrows = int(np.ceil(len(measures) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH, 2.0 * nrows), squeeze=False)
    order = sorted(sessions[factor].dropna().astype(str).unique())
    d = sessions.assign(**{factor: sessions[factor].astype("string")})
    state = np.random.get_state()  # seaborn jitters with the global RNG: fix it, then restore
    np.random.seed(0)
    for ax, m in zip(axes.flat, measures, strict=False):
        sns.barplot(d, x=factor, y=m, order=order, errorbar=None, color="0.85", ax=ax)
        sns.stripplot(d, x=factor, y=m, order=order, color="black", size=3, jitter=0.15, ax=ax,
                      alpha=1.0 if len(d) <= 60 else 0.4)
        ax.set(xlabel="", ylabel="")
        ax.set_title(measure_label(m), fontsize=7)
        ax.tick_params(axis="x", labelrotation=20)
    np.random.set_state(state)
    for ax in list(axes.flat)[len(measures):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def plot_intervals(table: pd.DataFrame, estimate: str, low: str, high: str, label: str,
                   panel: str, xlabel: str, ref: float = 0.0, ncols: int = 4
                   ):  # -> matplotlib Figure
    """Forest plot: one panel per value of ``panel`` (wrapped ``ncols`` to a row, so many
    groups stay readable), rows labelled by ``label``."""
    panels = list(dict.fromkeys(table[panel]))
    labels = list(dict.fromkeys(table[label]))
    ncols = max(1, min(ncols, len(panels)))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharey=True,
                             figsize=(TEXT_WIDTH, nrows * (0.28 * len(labels) + 0.9) + 0.3))
    ypos = {lab: i for i, lab in enumerate(reversed(labels))}
    for ax, pv in zip(axes.flat, panels, strict=False):
        t = table[table[panel] == pv]
        y = t[label].map(ypos)
        ax.errorbar(t[estimate], y, xerr=[(t[estimate] - t[low]).clip(lower=0).fillna(0),
                                          (t[high] - t[estimate]).clip(lower=0).fillna(0)],
                    fmt="o", color="black", markersize=3, linewidth=1, capsize=0)
        ax.axvline(ref, color="grey", linewidth=0.6, linestyle="--")
        ax.set_title(textwrap.fill(str(pv), 24), fontsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    axes[0][0].set_yticks(range(len(labels)), [measure_label(v, 45) for v in reversed(labels)])
    fig.supxlabel(xlabel, fontsize=8)
    fig.tight_layout()
    return fig
