"""Figures of the event-locked analysis (notebook 07): the patient's measures around events, the
effect forest plot and the therapist's response."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from therapy_turns.analysis.events import NO_EVENT
from therapy_turns.viz.plots import PALETTE, TEXT_WIDTH


def _label(measure: str) -> str:
    return measure.replace("marker_", "").replace("_", " ")


def plot_locked(means: pd.DataFrame, measures: Sequence[str]):  # -> matplotlib Figure
    """Event-locked averages: one column per event type, one row per measure; the mean over
    events at each lag of the patient's own turns with its 95 % CI band (n at lag 0 in the
    title)."""
    types = sorted(means["event"].unique())
    fig, axes = plt.subplots(len(measures), max(len(types), 1),
                             figsize=(TEXT_WIDTH, 1.35 * len(measures) + 0.6),
                             sharex=True, sharey="row", squeeze=False)
    for j, ev in enumerate(types):
        for i, m in enumerate(measures):
            ax = axes[i, j]
            g = means[(means.event == ev) & (means.measure == m)].sort_values("lag")
            ax.fill_between(g["lag"], g["ci_low"], g["ci_high"], color=PALETTE[0], alpha=0.2,
                            linewidth=0)
            ax.plot(g["lag"], g["mean"], marker="o", ms=2.5, color=PALETTE[0], lw=1)
            ax.axvline(0, color="0.5", lw=0.6, ls="--")
            if i == 0:
                n0 = g.loc[g.lag == 0, "n"]
                ax.set_title(f"{ev.replace('_', ' ')} (n={int(n0.iloc[0]) if len(n0) else 0})",
                             fontsize=7)
            if j == 0:
                ax.set_ylabel(_label(m))
            if i == len(measures) - 1:
                ax.set_xlabel("patient turn (lag)")
    lags = sorted(means["lag"].unique())
    axes[-1, 0].set_xticks(lags)
    fig.tight_layout()
    return fig


def plot_effects(effects: pd.DataFrame, measures: Sequence[str]):  # -> matplotlib Figure
    """Forest plot: per measure (panel) and event type (row), the mixed-model difference between
    the change lag -1 → event turn and the change at turns without an event, 95 % CI; labels give
    n events and the Holm-adjusted permutation p."""
    fig, axes = plt.subplots(1, len(measures), figsize=(TEXT_WIDTH, 0.3 * effects[
        "event"].nunique() + 1.2), sharey=True, squeeze=False)
    types = sorted(effects["event"].unique())
    y = {ev: k for k, ev in enumerate(reversed(types))}
    for ax, m in zip(axes[0], measures, strict=True):
        d = effects[(effects.measure == m) & effects["estimate"].notna()]
        ys = d["event"].map(y)
        err = np.clip([d["estimate"] - d["est_ci_low"], d["est_ci_high"] - d["estimate"]], 0,
                      None)
        ax.errorbar(d["estimate"], ys, xerr=err, fmt="o", ms=3, capsize=2, color=PALETTE[1],
                    lw=1)
        for _, r in d.iterrows():
            ax.annotate(f"n={r['n_events']}, p={r['p_perm_adj']:.2f}", (r["estimate"], y[
                r["event"]]), xytext=(0, 5), textcoords="offset points", ha="center",
                fontsize=5)
        ax.axvline(0, color="0.5", lw=0.6, ls="--")
        ax.set_title(_label(m), fontsize=7)
        ax.set_xlabel("Δ change vs no event")
    axes[0][0].set_yticks(list(y.values()), [ev.replace("_", " ") for ev in y])
    axes[0][0].set_ylim(-0.6, len(types) - 0.3)
    fig.tight_layout()
    return fig


def plot_therapist_response(resp: pd.DataFrame, thinking: pd.DataFrame | None = None):
    """The therapist's next turn: share of each main behaviour and ACT process after each event
    type and after turns without an event (Wilson 95 % CIs); with ``thinking`` a third panel: the
    share whose hidden thinking refers to the event, against the same rule's rate after turns
    without one."""
    panels = ["main_behaviour", "act_process"] + (["thinking"] if thinking is not None
                                                  and len(thinking) else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(TEXT_WIDTH, 2.6), squeeze=False)
    conds = [*sorted(set(resp["condition"]) - {NO_EVENT}), NO_EVENT]
    width = 0.8 / len(conds)
    for ax, fam in zip(axes[0], panels, strict=True):
        if fam == "thinking":
            x = np.arange(len(thinking))
            for k, (col, lo, hi, label, colour) in enumerate([
                    ("share", "ci_low", "ci_high", "after the event", PALETTE[1]),
                    ("share_base", "base_low", "base_high", "after no event", "0.4")]):
                err = np.clip([thinking[col] - thinking[lo], thinking[hi] - thinking[col]], 0,
                              None)
                ax.errorbar(x + (k - 0.5) * 0.3, thinking[col], yerr=err, fmt="o", ms=3,
                            capsize=2, color=colour, label=label)
            ax.set_xticks(x, [e.replace("_", " ") for e in thinking["event"]], rotation=30,
                          ha="right")
            ax.set_title("thinking refers to the event", fontsize=7)
            ax.legend(fontsize=5, loc="upper center", ncol=2, frameon=False)
            ax.set_ylim(-0.05, 1.25)
            ax.set_yticks([0, 0.5, 1])
            continue
        d = resp[resp.family == fam]
        codes = list(dict.fromkeys(d["code"]))
        for k, cond in enumerate(conds):
            g = d[d.condition == cond].set_index("code").reindex(codes)
            err = np.clip([g["share"] - g["ci_low"], g["ci_high"] - g["share"]], 0, None)
            colour = "0.4" if cond == NO_EVENT else PALETTE[k % len(PALETTE)]
            n = int(g["n"].max()) if g["n"].notna().any() else 0
            ax.errorbar(np.arange(len(codes)) + (k - (len(conds) - 1) / 2) * width, g["share"],
                        yerr=err, fmt="o", ms=2.5, capsize=1.5, lw=0.8, color=colour,
                        label=f"{cond.replace('_', ' ')} (n={n})")
        ax.set_xticks(range(len(codes)), [c.replace("_", " ") for c in codes], rotation=30,
                      ha="right")
        ax.set_title(fam.replace("_", " "), fontsize=7)
        ax.set_ylim(-0.05, 1.05)
    axes[0][0].set_ylabel("share of next therapist turns")
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="upper center", ncol=len(conds),
               fontsize=6, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    return fig
