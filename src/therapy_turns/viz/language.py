"""Figures of the linguistic features (notebook 02)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.measures.features import COLUMNS, MARKERS
from therapy_turns.viz.plots import (
    COLUMN_WIDTH,
    SPEAKER_COLORS,
    SPEAKER_ORDER,
    TEXT_WIDTH,
    column_label,
    paginate,
    per_page,
    session_labels,
)


def plot_distributions(df: pd.DataFrame, cols: Sequence[str]):  # -> matplotlib Figure
    """Box plots of ``cols`` by speaker, one small panel per feature (turn-level values)."""
    n = len(cols)
    ncol = min(n, 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(TEXT_WIDTH, 1.8 * nrow), squeeze=False)
    for ax, col in zip(axes.flat, cols, strict=False):
        sns.boxplot(df, x="speaker", y=col, hue="speaker", order=SPEAKER_ORDER,
                    palette=SPEAKER_COLORS, ax=ax, fliersize=1.5, linewidth=0.7, legend=False)
        ax.set(xlabel="", ylabel="")
        ax.set_title(column_label(col, COLUMNS), fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_trajectories(df: pd.DataFrame, cols: Sequence[str]):  # -> matplotlib Figure
    """Mean of each feature per session segment and speaker (95% CI over sessions' means)."""
    means = (df.groupby(["session_id", "speaker", "segment"], observed=True)[list(cols)]
             .mean().reset_index())
    n = len(cols)
    ncol = min(n, 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(TEXT_WIDTH, 1.9 * nrow), squeeze=False)
    for i, (ax, col) in enumerate(zip(axes.flat, cols, strict=False)):
        sns.pointplot(means, x="segment", y=col, hue="speaker", hue_order=SPEAKER_ORDER,
                      palette=SPEAKER_COLORS, errorbar=("ci", 95), seed=0, dodge=0.25, ax=ax,
                      markersize=3, linewidth=1, err_kws={"linewidth": 0.8},
                      legend=i == 0)
        ax.set(xlabel="session segment", ylabel="")
        ax.set_title(column_label(col, COLUMNS), fontsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    if n:
        axes.flat[0].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def plot_marker_profile(profile: pd.DataFrame, archetypes: Mapping[str, str] | None = None
                        ) -> list[plt.Figure]:
    """Heat map of patient markers per 1000 patient words, one row per session (labelled with
    its archetype when given), paged to fit a printable page; shade = share of the column's
    maximum over the whole corpus."""
    rates = profile.set_index("session_id")[list(MARKERS)]
    scale = rates.max().replace(0, 1)
    labels = session_labels(rates.index)
    figs = []
    for page in paginate(list(rates.index), per_page(0.3, 1.4)):
        r = rates.loc[page]
        r.index = [labels[s] + (f" ({archetypes.get(s, '?')})" if archetypes else "")
                   for s in page]
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH * 1.6, 0.3 * len(r) + 1.4))
        sns.heatmap(r / scale, annot=r.round(1), fmt="", cmap="Blues", vmin=0, vmax=1,
                    cbar=False, linewidths=0.5, ax=ax, annot_kws={"fontsize": 6})
        ax.set(xlabel="Marker (per 1000 patient words; shade = share of column maximum)",
               ylabel="session")
        ax.tick_params(axis="x", labelrotation=30)
        ax.tick_params(axis="y", labelsize=6)
        fig.tight_layout()
        figs.append(fig)
    return figs


def plot_lsm(df: pd.DataFrame):  # -> matplotlib Figure
    """``lsm`` and ``reflect_overlap`` of each patient->therapist pair across the session."""
    t = df[df["speaker"] == "therapist"].dropna(subset=["lsm"])
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.3), sharex=True)
    for ax, col, lab in zip(axes, ("lsm", "reflect_overlap"),
                            ("Language style matching", "Reflection overlap"), strict=True):
        sns.lineplot(t, x="position", y=col, units="session_id", estimator=None, ax=ax,
                     color=SPEAKER_COLORS["therapist"], alpha=0.3, linewidth=0.7)
        sns.regplot(t, x="position", y=col, lowess=True, scatter=False, ax=ax,
                    color="black", line_kws={"linewidth": 1.5})
        ax.set(xlabel="Position in session (0 = start, 1 = end)", ylabel=lab, ylim=(0, 1))
    fig.tight_layout()
    return fig
