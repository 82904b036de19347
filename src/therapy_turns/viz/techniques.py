"""Figures of the therapist techniques, their shifts and what follows them (notebooks 04, 05)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.analysis.shifts import PermutationResult, row_normalise
from therapy_turns.viz.models import plot_intervals
from therapy_turns.viz.plots import (
    PALETTE,
    TEXT_WIDTH,
    paginate,
    plot_session_heat,
    plot_shares,
    session_labels,
)

#: Above this many sessions the entropy figure draws thin unlabelled lines and their mean.
LEGEND_SESSIONS = 12
#: Heat maps of shares, annotated with two decimals.
SHARES = dict(vmin=0, vmax=1, cmap="Blues", fmt=".2f", cbar=False, annot_kws={"size": 6})
#: The ethogram's marks: therapist codes, patient markers.
CODE = dict(marker="s", s=7, color="#D55E00", linewidths=0)
MARKER = dict(marker="|", s=20, color=PALETTE[0])


def _code(column: str) -> str:
    """``form_open_question`` → ``open_question``."""
    return column.split("_", 1)[1]


def plot_code_frequencies(freq: pd.DataFrame) -> list[plt.Figure]:
    """Heat map: share of therapist turns with each code (columns) per session (rows), paged."""
    f = freq.rename(index=session_labels(freq.index), columns=_code)
    return plot_session_heat(f, f, "code (share of therapist turns)", TEXT_WIDTH, 1.8, **SHARES)


def plot_ethogram(
    codes: pd.DataFrame, patient: pd.DataFrame, columns: Sequence[str], markers: Sequence[str]
) -> list[plt.Figure]:
    """Per session: therapist turn × code raster, patient marker turns as ticks beneath; paged."""
    labels = session_labels(codes["session_id"].unique(), 40)
    rows = {c: j for j, c in enumerate([*columns, *markers])}
    height = 0.065 * len(rows) + 0.3
    figs = []
    for page in paginate(sorted(labels), height, 0.7):
        size = (TEXT_WIDTH, height * len(page) + 0.7)
        fig, axes = plt.subplots(max(1, len(page)), 1, figsize=size, sharex=True, squeeze=False)
        for ax, sid in zip(axes[:, 0], page, strict=False):
            for frame, cols, mark in ((codes, columns, CODE), (patient, markers, MARKER)):
                g = frame[frame.session_id == sid].melt("turn", list(cols))
                g = g[g["value"].fillna(0).astype(float) > 0]
                ax.scatter(g["turn"], g["variable"].map(rows), **mark)
            ticks = [_code(c) for c in columns] + [f"patient: {m}" for m in markers]
            ax.set_yticks(range(len(rows)), ticks, fontsize=4.5)
            ax.set(ylim=(len(rows) - 0.5, -0.5), xlim=(-1, codes["turn"].max() + 1))
            ax.set_title(labels[sid], fontsize=7, loc="left")
        axes[-1, 0].set_xlabel("turn")
        fig.tight_layout(h_pad=0.3)
        figs.append(fig)
    return figs


def plot_transitions(res: PermutationResult) -> plt.Figure:
    """Observed transition shares and observed/shuffled ratios (starred: permutation p < 0.05)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0))
    sns.heatmap(row_normalise(res.observed), ax=a1, annot=True, **SHARES)
    a1.set_title("P(next | current), observed")
    ratio = res.observed / res.null_mean.replace(0, np.nan)
    stars = ratio.round(2).astype(str) + res.p_cell.map(lambda p: "*" if p < 0.05 else "")
    ratios = dict(center=0, cmap="RdBu_r", annot=stars, fmt="", cbar=False, annot_kws={"size": 6})
    sns.heatmap(np.log2(ratio), ax=a2, **ratios)
    a2.set_title(f"observed / shuffled (p = {res.p_value:.3f})")
    for a in (a1, a2):
        a.set(xlabel="next therapist turn", ylabel="current therapist turn")
    fig.tight_layout()
    return fig


def plot_entropy(ent: pd.DataFrame, window: int) -> plt.Figure:
    """Sliding-window technique entropy per session (many sessions: thin lines and their mean)."""
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    n = ent["session_id"].nunique()
    few = n <= LEGEND_SESSIONS
    d = ent.assign(session=ent["session_id"].map(session_labels(ent["session_id"], 10)))
    if few:
        sns.lineplot(d, x="turn", y="entropy", hue="session", lw=1, ax=ax)
    else:
        thin = dict(units="session", estimator=None, lw=0.4, color="0.6", alpha=0.4)
        sns.lineplot(d, x="turn", y="entropy", ax=ax, **thin)
        mean = dict(errorbar=None, lw=1.6, color=PALETTE[1], label=f"mean of {n} sessions")
        sns.lineplot(d, x="turn", y="entropy", ax=ax, **mean)
    ax.set(xlabel="turn", ylabel=f"entropy of last {window} codes (bits)")
    ax.legend(title="session" if few else None, fontsize=6, ncols=2 if few else 1)
    return fig


def plot_responsiveness(resp: pd.DataFrame, marker: str) -> plt.Figure:
    """Share of each next code after a patient marker vs otherwise, with Wilson 95% CIs."""
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    n = resp.groupby("condition")["n"].transform("first")
    d = resp.assign(condition=resp["condition"] + [f" (n={k})" for k in n])
    plot_shares(ax, d, "code", "condition", [PALETTE[0], PALETTE[2]])
    ax.set(ylabel="share of next therapist turns", title=f"after {marker}")
    ax.legend(fontsize=6)
    return fig


def plot_forest(table: pd.DataFrame, value: str = "valence") -> list[plt.Figure] | None:
    """Forest plot of per-code coupling estimates with 95% CIs (adjusted p in the labels)."""
    rows = zip(table["code"], table["n_with"], table["p_adj"], strict=True)
    t = table.assign(label=[f"{_code(c)} (n={n}, p_adj={p:.2f})" for c, n, p in rows])
    xlabel = f"difference in patient {value} change (t-1 → t+1)"
    return plot_intervals(t, "estimate", "ci_low", "ci_high", "label", None, xlabel, tick=str)


def plot_sequential(table: pd.DataFrame) -> plt.Figure:
    """P(change / sustain talk next | therapist main behaviour), Wilson 95% CIs, base rates."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    n = table["n"].astype(int).astype(str)
    d = table.rename(columns={"p": "share", "low": "ci_low", "high": "ci_high"}).assign(
        behaviour=table["behaviour"].str.replace("_", " ") + "\n(n=" + n + ")",
        talk=table["talk"] + " talk next",
    )
    colours = [PALETTE[2], PALETTE[1]]
    plot_shares(ax, d, "behaviour", "talk", colours, dodge=0.3, rotation=0)
    base = table.groupby("talk", sort=False)["base_rate"].first()
    for colour, rate in zip(colours, base, strict=True):
        ax.axhline(rate, color=colour, ls="--", lw=1)
    ax.set(ylim=(0, 1), ylabel="P(client talk in next turn)")
    ax.set_xlabel("therapist main behaviour (dashed: client base rate)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
