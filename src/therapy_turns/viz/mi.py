"""Figures of the MI measures (:mod:`therapy_turns.analysis.mi`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from therapy_turns.analysis.mi import TALK

TALK_COLORS = {"change": "#1b9e77", "sustain": "#d95f02"}


def plot_sequential(table: pd.DataFrame) -> plt.Figure:
    """P(change / sustain talk in the next patient turn | therapist main behaviour) with 95%
    Wilson CIs (:func:`analysis.mi.sequential`); dashed lines: the client's base rates."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    behaviours = list(dict.fromkeys(table.behaviour))
    x = np.arange(len(behaviours))
    for j, talk in enumerate(TALK):
        part = table[table.talk == talk].set_index("behaviour").reindex(behaviours)
        # Wilson bounds can sit a rounding error past a share of 0 or 1: clip at 0
        err = np.clip(np.vstack([part.p - part.low, part.high - part.p]), 0, None)
        c = TALK_COLORS[talk]
        ax.errorbar(
            x + (j - 0.5) * 0.22,
            part.p,
            yerr=err,
            fmt="o",
            color=c,
            capsize=3,
            label=f"{talk} talk next",
        )
        ax.axhline(float(part.base_rate.iloc[0]), color=c, ls="--", lw=1)
    n = table.drop_duplicates("behaviour").set_index("behaviour").n.reindex(behaviours)
    labels = [f"{b.replace('_', ' ')}\n(n={int(k)})" for b, k in zip(behaviours, n, strict=True)]
    ax.set_xticks(x, labels)
    ax.set_ylabel("P(client talk in next turn)")
    ax.set_ylim(0, 1)
    ax.set_xlabel("therapist main behaviour (dashed: client base rate)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
