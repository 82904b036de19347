"""Figures of the linguistic features (notebook 02)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.measures.lexicons import MARKERS
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

SPEAKERS = dict(hue="speaker", palette=SPEAKER_COLORS)
BOX = dict(x="speaker", order=SPEAKER_ORDER, fliersize=1.5, linewidth=0.7, legend=False)
POINTS = dict(x="segment", errorbar=("ci", 95), seed=0, dodge=0.25, hue_order=SPEAKER_ORDER)
POINTS |= dict(markersize=3, linewidth=1, err_kws={"linewidth": 0.8})
HEAT = dict(fmt="", cmap="Blues", vmin=0, vmax=1, cbar=False, linewidths=0.5)


def _panels(cols: Sequence[str], height: float) -> tuple[plt.Figure, list[plt.Axes]]:
    """One small panel per feature, four to a row; the unused ones switched off."""
    ncol = min(len(cols), 4)
    nrow = int(np.ceil(len(cols) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(TEXT_WIDTH, height * nrow), squeeze=False)
    for ax in axes.flat[len(cols) :]:
        ax.set_axis_off()
    return fig, list(axes.flat)


def plot_distributions(df: pd.DataFrame, cols: Sequence[str]) -> plt.Figure:
    """Box plots of ``cols`` by speaker, one small panel per feature (turn-level values)."""
    fig, axes = _panels(cols, 1.8)
    for ax, col in zip(axes, cols, strict=False):
        sns.boxplot(df, y=col, ax=ax, **BOX, **SPEAKERS)
        ax.set(xlabel="", ylabel="")
        ax.set_title(column_label(col), fontsize=7)
    fig.tight_layout()
    return fig


def plot_trajectories(df: pd.DataFrame, cols: Sequence[str]) -> plt.Figure:
    """Mean of each feature per session segment and speaker (95% CI over sessions' means)."""
    keys = ["session_id", "speaker", "segment"]
    means = df.groupby(keys, observed=True)[list(cols)].mean().reset_index()
    fig, axes = _panels(cols, 1.9)
    for i, (ax, col) in enumerate(zip(axes, cols, strict=False)):
        sns.pointplot(means, y=col, ax=ax, legend=i == 0, **POINTS, **SPEAKERS)
        ax.set(xlabel="session segment", ylabel="")
        ax.set_title(column_label(col), fontsize=7)
    if len(cols):
        axes[0].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def plot_marker_profile(
    profile: pd.DataFrame, archetypes: Mapping[str, str] | None = None
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
        r.index = [labels[s] + (f" ({archetypes.get(s, '?')})" if archetypes else "") for s in page]
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH * 1.6, 0.3 * len(r) + 1.4))
        sns.heatmap(r / scale, annot=r.round(1), ax=ax, annot_kws={"fontsize": 6}, **HEAT)
        xlabel = "Marker (per 1000 patient words; shade = share of column maximum)"
        ax.set(xlabel=xlabel, ylabel="session")
        ax.tick_params(axis="x", labelrotation=30)
        ax.tick_params(axis="y", labelsize=6)
        fig.tight_layout()
        figs.append(fig)
    return figs


def plot_lsm(df: pd.DataFrame) -> plt.Figure:
    """``lsm`` and ``reflect_overlap`` of each patient->therapist pair across the session."""
    t = df[df["speaker"] == "therapist"].dropna(subset=["lsm"])
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.3), sharex=True)
    names = {"lsm": "Language style matching", "reflect_overlap": "Reflection overlap"}
    lines = dict(units="session_id", estimator=None, color=SPEAKER_COLORS["therapist"], alpha=0.3)
    for ax, (col, name) in zip(axes, names.items(), strict=True):
        sns.lineplot(t, x="position", y=col, ax=ax, linewidth=0.7, **lines)
        smooth = dict(lowess=True, scatter=False, color="black", line_kws={"linewidth": 1.5})
        sns.regplot(t, x="position", y=col, ax=ax, **smooth)
        ax.set(xlabel="Position in session (0 = start, 1 = end)", ylabel=name, ylim=(0, 1))
    fig.tight_layout()
    return fig
