"""Figures of the therapist techniques and their shifts (notebooks 04 and 05)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.analysis.shifts import PermutationResult, row_normalise
from therapy_turns.viz.plots import PALETTE, paginate, per_page, session_labels

#: Above this many sessions the entropy figure draws thin unlabelled lines and their mean.
LEGEND_SESSIONS = 12
#: Heat maps of shares, annotated with two decimals.
SHARES = dict(vmin=0, vmax=1, cmap="Blues", annot=True, fmt=".2f", cbar=False)
SMALL = {"size": 6}


def _code(column: str) -> str:
    """``form_open_question`` → ``open_question``."""
    return column.split("_", 1)[1]


def plot_code_frequencies(freq: pd.DataFrame) -> list[plt.Figure]:
    """Heatmap: share of therapist turns with each code (columns) per session (rows), paged to
    fit a printable page."""
    labels = session_labels(freq.index)
    figs = []
    for page in paginate(list(freq.index), per_page(0.3, 1.8)):
        f = freq.loc[page].rename(index=labels)
        fig, ax = plt.subplots(figsize=(7.0, 0.3 * len(f) + 1.8))
        sns.heatmap(f, ax=ax, annot_kws=SMALL, **SHARES)
        ticks = [_code(c.get_text()) for c in ax.get_xticklabels()]
        ax.set_xticklabels(ticks, rotation=45, ha="right")
        ax.set_xlabel("code (share of therapist turns)")
        ax.set_ylabel("session")
        fig.tight_layout()
        figs.append(fig)
    return figs


def plot_ethogram(
    codes: pd.DataFrame,
    patient: pd.DataFrame,
    columns: Sequence[str],
    markers: Sequence[str],
    row: float = 0.065,
) -> list[plt.Figure]:
    """Per session: therapist turn × code raster, patient marker turns as ticks beneath it;
    sessions paged so that each page fits a printable page."""
    sessions = sorted(codes["session_id"].unique())
    labels = session_labels(sessions, 40)
    rows = len(columns) + len(markers)
    height = row * rows + 0.3
    xmax = codes["turn"].max() + 1 if len(codes) else 1
    ticks = [_code(c) for c in columns] + [f"patient: {m}" for m in markers]
    figs = []
    for page in paginate(sessions, per_page(height, 0.7)):
        size = (7.0, height * len(page) + 0.7)
        fig, axes = plt.subplots(max(1, len(page)), 1, figsize=size, sharex=True, squeeze=False)
        for ax, sid in zip(axes[:, 0], page, strict=False):
            g = codes[codes.session_id == sid]
            for j, c in enumerate(columns):
                t = g.loc[g[c].astype(bool), "turn"]
                ax.scatter(t, np.full(len(t), j), marker="s", s=7, color="#D55E00", linewidths=0)
            p = patient[patient.session_id == sid]
            for k, m in enumerate(markers):
                t = p.loc[p[m].fillna(0) > 0, "turn"]
                y = np.full(len(t), len(columns) + k)
                ax.scatter(t, y, marker="|", s=20, color=PALETTE[k % 2 * 2])
            ax.set_yticks(range(rows))
            ax.set_yticklabels(ticks, fontsize=4.5)
            ax.set_ylim(rows - 0.5, -0.5)
            ax.set_xlim(-1, xmax)
            ax.set_title(labels[sid], fontsize=7, loc="left")
        axes[-1, 0].set_xlabel("turn")
        fig.tight_layout(h_pad=0.3)
        figs.append(fig)
    return figs


def plot_transitions(res: PermutationResult) -> plt.Figure:
    """Observed row-normalised transitions and observed/expected ratio (within-session null);
    cells with permutation p < 0.05 are starred."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.0, 3.0))
    sns.heatmap(row_normalise(res.observed), ax=a1, annot_kws=SMALL, **SHARES)
    a1.set_title("P(next | current), observed")
    ratio = res.observed / res.null_mean.replace(0, np.nan)
    labels = ratio.round(2).astype(str) + res.p_cell.map(lambda p: "*" if p < 0.05 else "")
    ratios = dict(center=0, cmap="RdBu_r", annot=labels, fmt="", cbar=False)
    sns.heatmap(np.log2(ratio), ax=a2, annot_kws=SMALL, **ratios)
    a2.set_title(f"observed / shuffled (p = {res.p_value:.3f})")
    for a in (a1, a2):
        a.set_xlabel("next therapist turn")
        a.set_ylabel("current therapist turn")
    fig.tight_layout()
    return fig


def plot_entropy(ent: pd.DataFrame, window: int) -> plt.Figure:
    """Sliding-window technique entropy per session: one labelled line per session, or above
    :data:`LEGEND_SESSIONS` sessions thin unlabelled lines and the mean over sessions."""
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    n = ent["session_id"].nunique()
    labels = session_labels(ent["session_id"].unique(), 10)
    thin = dict(lw=0.4, color="0.6", alpha=0.4)
    for sid, g in ent.groupby("session_id", sort=True):
        style = dict(lw=1, label=labels[sid]) if n <= LEGEND_SESSIONS else thin
        ax.plot(g["turn"], g["entropy"], **style)
    if n > LEGEND_SESSIONS:
        mean = ent.groupby("turn")["entropy"].mean()
        label = f"mean of {n} sessions"
        ax.plot(mean.index, mean.to_numpy(), lw=1.6, color=PALETTE[1], label=label)
    ax.set_xlabel("turn")
    ax.set_ylabel(f"entropy of last {window} codes (bits)")
    few = n <= LEGEND_SESSIONS
    ax.legend(title="session" if few else None, fontsize=6, ncols=2 if few else 1)
    return fig


def plot_responsiveness(resp: pd.DataFrame, marker: str) -> plt.Figure:
    """Share of each next code after a patient marker vs otherwise, with Wilson 95% CIs."""
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    codes = list(dict.fromkeys(resp["code"]))
    for k, (cond, g) in enumerate(resp.groupby("condition", sort=True)):
        x = np.arange(len(codes)) + (k - 0.5) * 0.25
        g = g.set_index("code").loc[codes]
        # Wilson bounds can sit a rounding error past the share (e.g. share 0): clip at 0
        err = np.clip([g["share"] - g["ci_low"], g["ci_high"] - g["share"]], 0, None)
        label = f"{cond} (n={int(g['n'].iloc[0])})"
        ax.errorbar(
            x, g["share"], yerr=err, fmt="o", ms=3, capsize=2, color=PALETTE[k * 2], label=label
        )
    ax.set_xticks(range(len(codes)))
    ax.set_xticklabels(codes, rotation=30, ha="right")
    ax.set_ylabel("share of next therapist turns")
    ax.set_title(f"after {marker}", fontsize=8)
    ax.legend(fontsize=6)
    return fig


def plot_forest(table: pd.DataFrame, value: str = "valence") -> plt.Figure:
    """Forest plot of per-code coupling estimates with 95% CIs (adjusted p in the labels)."""
    t = table.dropna(subset=["estimate"]).iloc[::-1]
    fig, ax = plt.subplots(figsize=(3.4, 0.22 * len(t) + 1.0))
    y = np.arange(len(t))
    err = [t["estimate"] - t["ci_low"], t["ci_high"] - t["estimate"]]
    ax.errorbar(t["estimate"], y, xerr=err, fmt="o", ms=3, capsize=2, color="#D55E00")
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set_yticks(y)
    rows = zip(t["code"], t["n_with"], t["p_adj"], strict=True)
    ax.set_yticklabels([f"{_code(c)} (n={n}, p_adj={p:.2f})" for c, n, p in rows], fontsize=6)
    ax.set_xlabel(f"difference in patient {value} change (t-1 → t+1)")
    return fig
