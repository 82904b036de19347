"""The one-session figure of the explorer and notebook 00: emotion trajectory above the
technique timeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from therapy_turns.viz.plots import SPEAKER_COLORS


def plot_session(s: pd.DataFrame, kept: pd.DataFrame, codes: Sequence[str],
                 layers: Mapping[str, int], colors: Mapping[str, str], session_id: str,
                 badges: Sequence[str] = ("valence", "arousal"), width: float = 4.6) -> Figure:
    """Emotion trajectory (valence and arousal per turn, both speakers) above the technique
    timeline (one row per code, a mark at every therapist turn carrying it). ``s`` holds every
    turn of the session (the explorer's session table), ``kept`` the analysable ones; turns not
    kept are shaded. ``layers`` maps a code to 0 (form) or 1 (ACT process)."""
    fig = Figure(figsize=(width, 2.6 + 0.16 * max(len(codes), 3)), layout="constrained")
    gs = fig.add_gridspec(2, 1, height_ratios=[2.4, 0.35 + 0.16 * max(len(codes), 3)])
    ax, ax2 = fig.add_subplot(gs[0]), None
    ax2 = fig.add_subplot(gs[1], sharex=ax)
    excluded = sorted(set(s["turn"]) - set(kept["turn"]))
    for a in (ax, ax2):
        for x in excluded:
            a.axvspan(x - 0.5, x + 0.5, color="#dddddd", lw=0, zorder=0)
    for dim, style in (("valence", "-"), ("arousal", ":")):
        for spk, g in kept.groupby("speaker", sort=True):
            ax.plot(g["turn"], g[dim], style, marker="o", ms=2.5, lw=1.2,
                    color=SPEAKER_COLORS.get(spk, "#444"), label=f"{spk} {dim}",
                    alpha=1.0 if spk == "patient" else 0.6)
    ax.axhline(3, color="#999", lw=0.6, zorder=0)
    vals = kept[[c for c in badges if c in kept]].to_numpy(dtype=float)
    vals = vals[np.isfinite(vals)]
    lo, hi = (min(vals.min(), 3.0), max(vals.max(), 3.0)) if vals.size else (1.0, 5.0)
    pad = max(0.1, (hi - lo) * 0.1)
    ax.set_ylim(max(1.0, lo - pad), min(5.0, hi + pad))
    ax.set_ylabel("score (EmoBank 1–5)")
    ax.set_title(f"{session_id}: emotion trajectory", loc="left")
    if ax.lines[1:]:
        ax.legend(ncols=2, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.02),
                  fontsize=6.5)
    ax.tick_params(labelbottom=False)
    for k, code in enumerate(codes):
        xs = [t for t, row in zip(s["turn"], s["codes"], strict=True)
              if any(c == code for _, c in row)]
        layer = layers.get(code, 9)
        ax2.scatter(xs, [k] * len(xs), s=16 if layer == 0 else 20, marker="s" if layer == 0
                    else "o", color=colors[code], lw=0)
    n_forms = sum(layers.get(c, 9) == 0 for c in codes)
    if 0 < n_forms < len(codes):
        ax2.axhline(n_forms - 0.5, color="#bbb", lw=0.6)
    ax2.set_yticks(range(len(codes)), [c.replace("_", " ") for c in codes], fontsize=6)
    ax2.set_ylim(len(codes) - 0.5 if codes else 0.5, -0.5)
    ax2.set_xlabel("turn")
    ax2.set_title("technique timeline: forms (squares), ACT processes (dots)" if codes else
                  "technique timeline (no codes)", loc="left")
    ax2.set_xlim(-0.5, s["turn"].max() + 0.5)
    return fig
