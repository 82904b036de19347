"""The explorer's one-session figure (notebook 00): emotion trajectory above technique timeline."""

from collections.abc import Sequence
from functools import lru_cache

import matplotlib as mpl
import pandas as pd
from matplotlib.figure import Figure

from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.viz.plots import PALETTE, SPEAKER_COLORS


@lru_cache(maxsize=1)
def code_order() -> dict[str, tuple[int, int]]:
    """Code → (layer, position) from ``data/codebook.yaml`` (forms 0, ACT processes 1)."""
    book = read_yaml(DATA_DIR / "codebook.yaml")
    layers = enumerate(("forms", "act_processes"))
    return {c: (k, i) for k, layer in layers for i, c in enumerate(book.get(layer, {}))}


def code_color(code: str) -> str:
    """A stable colour per code: ACT processes Okabe-Ito, forms tab10, else grey."""
    layer, i = code_order().get(code, (9, 0))
    if layer == 1:
        return {"#F0E442": "#8C7A00"}.get(c := PALETTE[i % len(PALETTE)], c)
    return mpl.colors.to_hex(mpl.colormaps["tab10"](i % 10)) if layer == 0 else "#777777"


def plot_session(
    s: pd.DataFrame, kept: pd.DataFrame, codes: Sequence[str], session_id: str
) -> Figure:
    """Valence and arousal per kept turn above the turns of ``s`` carrying each code."""
    rows = 0.16 * max(len(codes), 3)
    fig = Figure(figsize=(4.6, 2.6 + rows), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[2.4, 0.35 + rows])
    for a in (ax, ax2):
        for x in sorted(set(s["turn"]) - set(kept["turn"])):
            a.axvspan(x - 0.5, x + 0.5, color="#dddddd", lw=0, zorder=0)
    for dim, style in (("valence", "-"), ("arousal", ":")):
        for spk, g in kept.groupby("speaker", sort=True):
            line = dict(marker="o", ms=2.5, lw=1.2, alpha=1.0 if spk == "patient" else 0.6)
            c, label = SPEAKER_COLORS.get(spk, "#444"), f"{spk} {dim}"
            ax.plot(g["turn"], g[dim], style, color=c, label=label, **line)
    ax.axhline(3, color="#999", lw=0.6, zorder=0)
    vals = [3.0, *kept.filter(["valence", "arousal"]).stack().dropna()]
    lo, hi = min(vals), max(vals)
    pad = max(0.1, (hi - lo) * 0.1)
    ax.set(ylim=(max(1.0, lo - pad), min(5.0, hi + pad)), ylabel="score (EmoBank 1–5)")
    ax.set_title(f"{session_id}: emotion trajectory", loc="left")
    if ax.lines[1:]:
        ax.legend(ncols=2, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.02), fontsize=6.5)
    forms = [code_order().get(c, (9, 0))[0] == 0 for c in codes]
    for k, (code, form) in enumerate(zip(codes, forms, strict=True)):
        xs = s.loc[[code in {c for _, c in row} for row in s["codes"]], "turn"]
        mark = dict(s=16, marker="s") if form else dict(s=20, marker="o")
        ax2.scatter(xs, [k] * len(xs), color=code_color(code), lw=0, **mark)
    if 0 < sum(forms) < len(codes):
        ax2.axhline(sum(forms) - 0.5, color="#bbb", lw=0.6)
    ax2.set_yticks(range(len(codes)), [c.replace("_", " ") for c in codes], fontsize=6)
    ax2.set(ylim=(len(codes) - 0.5 if codes else 0.5, -0.5), xlim=(-0.5, s["turn"].max() + 0.5))
    title = "forms (squares), ACT processes (dots)" if codes else "(no codes)"
    ax2.set_title(f"technique timeline{':' if codes else ''} {title}", loc="left")
    ax2.set_xlabel("turn")
    return fig
