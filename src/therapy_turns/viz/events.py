"""Figures of the event-locked analysis (notebook 07): the patient's measures around events, the
effect forest plot and the therapist's response."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from therapy_turns.analysis.events import NO_EVENT
from therapy_turns.viz.plots import PALETTE, TEXT_WIDTH

#: Shares with Wilson CIs (bounds a rounding error past a share of 0 are clipped).
SHARE = dict(fmt="o", capsize=2)
TICKS = dict(rotation=30, ha="right")


def _words(name: str) -> str:
    return name.replace("_", " ")


def _err(d: pd.DataFrame, value: str, low: str, high: str) -> np.ndarray:
    return np.clip([d[value] - d[low], d[high] - d[value]], 0, None)


def plot_locked(means: pd.DataFrame, measures: Sequence[str]) -> plt.Figure:
    """Event-locked averages: one column per event type, one row per measure; the mean over
    events at each lag of the patient's own turns with its 95 % CI band (n at lag 0 in the
    title)."""
    types = sorted(means["event"].unique())
    size = (TEXT_WIDTH, 1.35 * len(measures) + 0.6)
    fig, axes = plt.subplots(
        len(measures), max(len(types), 1), figsize=size, sharex=True, sharey="row", squeeze=False
    )
    for j, ev in enumerate(types):
        for i, m in enumerate(measures):
            ax = axes[i, j]
            g = means[(means.event == ev) & (means.measure == m)].sort_values("lag")
            ax.fill_between(
                g["lag"], g["ci_low"], g["ci_high"], color=PALETTE[0], alpha=0.2, linewidth=0
            )
            ax.plot(g["lag"], g["mean"], marker="o", ms=2.5, color=PALETTE[0], lw=1)
            ax.axvline(0, color="0.5", lw=0.6, ls="--")
            if i == 0:
                n0 = g.loc[g.lag == 0, "n"]
                n = int(n0.iloc[0]) if len(n0) else 0
                ax.set_title(f"{_words(ev)} (n={n})", fontsize=7)
            if j == 0:
                ax.set_ylabel(_words(m.replace("marker_", "")))
            if i == len(measures) - 1:
                ax.set_xlabel("patient turn (lag)")
    axes[-1, 0].set_xticks(sorted(means["lag"].unique()))
    fig.tight_layout()
    return fig


def plot_effects(effects: pd.DataFrame, measures: Sequence[str]) -> plt.Figure:
    """Forest plot: per measure (panel) and event type (row), the mixed-model difference between
    the change lag -1 → event turn and the change at turns without an event, 95 % CI; labels give
    n events and the Holm-adjusted permutation p."""
    size = (TEXT_WIDTH, 0.3 * effects["event"].nunique() + 1.2)
    fig, axes = plt.subplots(1, len(measures), figsize=size, sharey=True, squeeze=False)
    types = sorted(effects["event"].unique())
    y = {ev: k for k, ev in enumerate(reversed(types))}
    note = dict(xytext=(0, 5), textcoords="offset points", ha="center", fontsize=5)
    for ax, m in zip(axes[0], measures, strict=True):
        d = effects[(effects.measure == m) & effects["estimate"].notna()]
        err = _err(d, "estimate", "est_ci_low", "est_ci_high")
        ax.errorbar(
            d["estimate"], d["event"].map(y), xerr=err, ms=3, color=PALETTE[1], lw=1, **SHARE
        )
        for _, r in d.iterrows():
            text = f"n={r['n_events']}, p={r['p_perm_adj']:.2f}"
            ax.annotate(text, (r["estimate"], y[r["event"]]), **note)
        ax.axvline(0, color="0.5", lw=0.6, ls="--")
        ax.set_title(_words(m.replace("marker_", "")), fontsize=7)
        ax.set_xlabel("Δ change vs no event")
    axes[0][0].set_yticks(list(y.values()), [_words(ev) for ev in y])
    axes[0][0].set_ylim(-0.6, len(types) - 0.3)
    fig.tight_layout()
    return fig


def plot_therapist_response(resp: pd.DataFrame, thinking: pd.DataFrame | None = None):
    """The therapist's next turn: share of each main behaviour and ACT process after each event
    type and after turns without an event (Wilson 95 % CIs); with ``thinking`` a third panel: the
    share whose hidden thinking refers to the event, against the same rule's rate after turns
    without one."""
    show_thinking = thinking is not None and len(thinking)
    panels = ["main_behaviour", "act_process"] + (["thinking"] if show_thinking else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(TEXT_WIDTH, 2.6), squeeze=False)
    conds = [*sorted(set(resp["condition"]) - {NO_EVENT}), NO_EVENT]
    width = 0.8 / len(conds)
    for ax, fam in zip(axes[0], panels, strict=True):
        if fam == "thinking":
            x = np.arange(len(thinking))
            for k, (col, lo, hi, label, colour) in enumerate(
                [
                    ("share", "ci_low", "ci_high", "after the event", PALETTE[1]),
                    ("share_base", "base_low", "base_high", "after no event", "0.4"),
                ]
            ):
                err = _err(thinking, col, lo, hi)
                ax.errorbar(
                    x + (k - 0.5) * 0.3,
                    thinking[col],
                    yerr=err,
                    ms=3,
                    color=colour,
                    label=label,
                    **SHARE,
                )
            ax.set_xticks(x, [_words(e) for e in thinking["event"]], **TICKS)
            ax.set_title("thinking refers to the event", fontsize=7)
            ax.legend(fontsize=5, loc="upper center", ncol=2, frameon=False)
            ax.set_ylim(-0.05, 1.25)
            ax.set_yticks([0, 0.5, 1])
            continue
        d = resp[resp.family == fam]
        codes = list(dict.fromkeys(d["code"]))
        for k, cond in enumerate(conds):
            g = d[d.condition == cond].set_index("code").reindex(codes)
            colour = "0.4" if cond == NO_EVENT else PALETTE[k % len(PALETTE)]
            n = int(g["n"].max()) if g["n"].notna().any() else 0
            x = np.arange(len(codes)) + (k - (len(conds) - 1) / 2) * width
            ax.errorbar(
                x,
                g["share"],
                yerr=_err(g, "share", "ci_low", "ci_high"),
                fmt="o",
                ms=2.5,
                capsize=1.5,
                lw=0.8,
                color=colour,
                label=f"{_words(cond)} (n={n})",
            )
        ax.set_xticks(range(len(codes)), [_words(c) for c in codes], **TICKS)
        ax.set_title(_words(fam), fontsize=7)
        ax.set_ylim(-0.05, 1.05)
    axes[0][0].set_ylabel("share of next therapist turns")
    handles = axes[0][0].get_legend_handles_labels()
    fig.legend(*handles, loc="upper center", ncol=len(conds), fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig
