"""Figures of the event-locked analysis (notebook 07)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd

from therapy_turns.viz.models import plot_intervals
from therapy_turns.viz.plots import PALETTE, TEXT_WIDTH, fig_legend, plot_shares


def _words(name: str) -> str:
    """``marker_slow_down`` → ``slow down``."""
    return name.removeprefix("marker_").replace("_", " ")


def plot_locked(means: pd.DataFrame, measures: Sequence[str]) -> plt.Figure:
    """Mean (95 % CI) of each measure (row) at each patient-turn lag around each event type."""
    types = sorted(means["event"].unique())
    size = (TEXT_WIDTH, 1.35 * len(measures) + 0.6)
    fig, axes = plt.subplots(
        len(measures), max(len(types), 1), figsize=size, sharex=True, sharey="row", squeeze=False
    )
    for j, ev in enumerate(types):
        for i, m in enumerate(measures):
            ax = axes[i, j]
            g = means[(means.event == ev) & (means.measure == m)].sort_values("lag")
            ax.fill_between(g["lag"], g["ci_low"], g["ci_high"], color=PALETTE[0], alpha=0.2, lw=0)
            ax.plot(g["lag"], g["mean"], marker="o", ms=2.5, color=PALETTE[0], lw=1)
            ax.axvline(0, color="0.5", lw=0.6, ls="--")
            n = g.loc[g.lag == 0, "n"].max()
            ax.set_title(
                f"{_words(ev)} (n={0 if pd.isna(n) else int(n)})" if i == 0 else "", fontsize=7
            )
            ax.set_ylabel(_words(m) if j == 0 else "")
    for ax in axes[-1]:
        ax.set_xlabel("patient turn (lag)")
    axes[-1, 0].set_xticks(sorted(means["lag"].unique()))
    fig.tight_layout()
    return fig


def plot_effects(effects: pd.DataFrame, measures: Sequence[str]) -> list[plt.Figure] | None:
    """Forest plot: the change lag -1 → event turn minus that without an event, per measure."""
    d = effects.sort_values("event", kind="stable").set_index("measure").loc[list(measures)]
    d = d.reset_index().assign(
        event=lambda x: x["event"].map(_words),
        measure=lambda x: x["measure"].map(_words),
        note=lambda x: [f"n={n}, p={p:.2f}" for n, p in zip(x.n_events, x.p_perm_adj, strict=True)],
    )
    xlabel = "Δ change vs no event"
    return plot_intervals(
        d, "estimate", "est_ci_low", "est_ci_high", "event", "measure", xlabel, "note", str
    )


def plot_therapist_response(resp: pd.DataFrame, thinking: pd.DataFrame | None = None):
    """Shares of codes (and of thinking that refers to the event) in the next therapist turn."""
    n = resp.groupby(["family", "condition"])["n"].transform("max").fillna(0).astype(int)
    d = resp.assign(x=resp["code"].map(_words), hue=resp["condition"].map(_words))
    d["hue"] += [f" (n={k})" for k in n]
    colours = [*PALETTE[: resp["condition"].nunique() - 1], "0.4"]  # no event (last) grey
    panels = [(_words(f), g, colours) for f, g in d.groupby("family", sort=False)]
    if thinking is not None and len(thinking):
        base = thinking[["event", "share_base", "base_low", "base_high"]]
        base.columns = ["event", "share", "ci_low", "ci_high"]
        t = pd.concat([thinking.assign(hue="after the event"), base.assign(hue="after no event")])
        title = "thinking refers to the event"
        panels.append((title, t.assign(x=t["event"].map(_words)), ["k", "0.4"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(TEXT_WIDTH, 2.6), squeeze=False)
    for ax, (title, g, palette) in zip(axes[0], panels, strict=True):
        plot_shares(ax, g, "x", "hue", palette, dodge=0.6)
        ax.get_legend().remove()
        ax.set(ylim=(-0.05, 1.05), title=title)
    axes[0][0].set_ylabel("share of next therapist turns")
    fig_legend(fig, axes[0], loc="upper center", ncol=4, fontsize=6)
    fig.tight_layout(rect=(0, 0, 1, 0.85))
    return fig
