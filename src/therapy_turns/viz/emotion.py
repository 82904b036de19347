"""Figures of the emotion scores and trajectories (notebook 03)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.analysis.dynamics import home_base
from therapy_turns.measures.emotion_model import BASELINES
from therapy_turns.viz.plots import (
    COLUMN_WIDTH,
    PALETTE,
    SPEAKER_COLORS,
    TEXT_WIDTH,
    column_label,
    paginate,
    per_page,
    session_labels,
)


def plot_validation(pred: pd.DataFrame, dims: Sequence[str] = ("valence", "arousal")):
    """Predicted vs human ratings on EmoBank dev, one panel per dimension; titles give the
    model's r and that of the first baseline of the dimension (VADER compound for valence, NRC
    high-arousal rate for arousal)."""
    human = {"valence": "V", "arousal": "A", "dominance": "D"}
    fig, axes = plt.subplots(1, len(dims), figsize=(TEXT_WIDTH * 0.75, 2.6), squeeze=False)
    for ax, dim in zip(axes[0], dims, strict=True):
        x, y = pred[human[dim]].to_numpy(float), pred[dim].to_numpy(float)
        ax.scatter(x, y, s=4, alpha=0.35, color=PALETTE[0], linewidths=0, rasterized=True)
        lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--")
        r = stats.pearsonr(x, y)[0]
        base = next(((c, n) for d, c, n in BASELINES if d == dim), None)
        extra = ""
        if base is not None:
            rb = stats.pearsonr(pred[base[0]].to_numpy(float), x)[0]
            extra = f"\n{base[1]}: r = {rb:.2f}"
        ax.set_title(f"{dim}: model r = {r:.2f} (n = {len(x)}){extra}", fontsize=8)
        ax.set_xlabel(f"human {dim} (EmoBank dev, 1-5)")
        ax.set_ylabel(f"predicted {dim}")
    fig.tight_layout()
    return fig


def _draw(ax, g: pd.DataFrame, cps: pd.DataFrame | None, marks: pd.DataFrame | None,
          color: str, annotate: bool) -> None:
    mean, sd = home_base(g["value"].to_numpy(float))
    x0, x1 = g["turn"].min(), g["turn"].max()
    ax.fill_between([x0, x1], mean - sd, mean + sd, color=color, alpha=0.12, lw=0,
                    label="home base (mean ± 1 SD)")
    ax.axhline(mean, color=color, lw=0.6, alpha=0.5)
    ax.plot(g["turn"], g["value"], "o", ms=2.5, color=color, alpha=0.55, label="turn")
    ax.plot(g["turn"], g["smooth"], "-", lw=1.4, color=color, label="smoothed")
    if cps is not None:
        for k, t in enumerate(cps["turn"]):
            ax.axvline(t - 0.5, color="0.25", ls="--", lw=0.8,
                       label="change point" if k == 0 else None)
    if marks is not None and len(marks):
        m = g.merge(marks[["session_id", "turn"]].drop_duplicates(), on=["session_id", "turn"])
        ax.plot(m["turn"], m["value"], "v", ms=5, color="#CC79A7", label="asks to slow down")
        if annotate:
            for t, v in zip(m["turn"], m["value"], strict=True):
                ax.annotate(f"t{t}", (t, v), xytext=(0, 6), textcoords="offset points",
                            ha="center", fontsize=6, color="#CC79A7")


def plot_trajectory(traj: pd.DataFrame, session_id: str, cps: pd.DataFrame | None = None,
                    marks: pd.DataFrame | None = None, value_label: str = "valence"):
    """One session's trajectory: raw turns, smooth line, home-base band, change points (dashed,
    between turns) and the turns in ``marks`` (``session_id, turn``) as triangles."""
    g = traj[traj["session_id"] == session_id]
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.6))
    for spk, gs in g.groupby("speaker", sort=True):
        c = None if cps is None else cps[(cps["session_id"] == session_id)
                                         & (cps["speaker"] == spk)]
        _draw(ax, gs, c, marks, SPEAKER_COLORS.get(spk, "0.3"), True)
    ax.set_xlabel("turn in session")
    ax.set_ylabel(column_label(value_label))
    ax.set_title(f"{session_id}: {', '.join(sorted(g['speaker'].unique()))} {value_label}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_small_multiples(traj: pd.DataFrame, cps: pd.DataFrame | None = None,
                         marks: pd.DataFrame | None = None, value_label: str = "valence",
                         ncols: int = 3, row_height: float = 1.6) -> list[plt.Figure]:
    """One panel per session (shared y axis) in the style of :func:`plot_trajectory`, paged so
    that each page fits a printable page (same y range on every page)."""
    ids = sorted(traj["session_id"].unique())
    labels = session_labels(ids)
    rows_per_page = per_page(row_height, 0.9)
    lo, hi = traj[["value", "smooth"]].min().min(), traj[["value", "smooth"]].max().max()
    pad = 0.05 * (hi - lo) if hi > lo else 0.1
    figs = []
    for page in paginate(ids, rows_per_page * ncols):
        nrows = max(1, math.ceil(len(page) / ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH, row_height * nrows + 0.6),
                                 sharey=True, squeeze=False)
        for ax, sid in zip(axes.flat, page, strict=False):
            g = traj[traj["session_id"] == sid]
            for spk, gs in g.groupby("speaker", sort=True):
                c = None if cps is None else cps[(cps["session_id"] == sid)
                                                 & (cps["speaker"] == spk)]
                _draw(ax, gs, c, marks, SPEAKER_COLORS.get(spk, "0.3"), False)
            ax.set_title(labels[sid], fontsize=8)
            ax.set_xlabel("turn")
            ax.set_ylim(lo - pad, hi + pad)
        for ax in axes.flat[len(page):]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel(column_label(value_label, width=18))
        legend: dict[str, object] = {}
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                legend.setdefault(lab, h)
        fig.legend(list(legend.values()), list(legend), loc="lower center", frameon=False,
                   fontsize=7, ncols=4, bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        figs.append(fig)
    return figs


def plot_composition(comp: pd.DataFrame):
    """Grouped bars: mean NRC rate (± SEM) per emotion in each phase (:func:`phase_composition`)."""
    phases = list(comp["phase"].cat.categories) if hasattr(comp["phase"], "cat") else list(
        dict.fromkeys(comp["phase"]))
    cols = list(dict.fromkeys(comp["column"]))
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.4))
    width = 0.8 / len(phases)
    for k, ph in enumerate(phases):
        g = comp[comp["phase"] == ph].set_index("column").reindex(cols)
        xs = np.arange(len(cols)) + (k - (len(phases) - 1) / 2) * width
        ax.bar(xs, g["mean"], width, yerr=g["sem"], color=PALETTE[k % len(PALETTE)], label=ph,
               error_kw={"lw": 0.6, "capsize": 1.5})
    ax.set_xticks(np.arange(len(cols)), [c.removeprefix("nrc_") for c in cols], rotation=30,
                  ha="right")
    ax.set_ylabel("NRC words per 100 words")
    ax.legend(title="session phase", title_fontsize=7, frameon=False, ncol=len(phases),
              loc="lower center", bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout()
    return fig


def plot_trends(trends: pd.DataFrame, mixed: pd.DataFrame, x_label: str = "progress"
                ) -> list[plt.Figure]:
    """Forest plot: per-session OLS slopes with 95% CIs and the MixedLM fixed slope (on every
    page), paged to fit a printable page."""
    slope = mixed.set_index("term").drop(index=["Intercept", "var_intercept", "var_slope", "cov",
                                                "var_residual"], errors="ignore")
    labels = session_labels(trends["session_id"])
    figs = []
    for page in paginate(list(range(len(trends))), per_page(0.25, 1.1)):
        t = trends.iloc[page]
        names = [labels[s] for s in t["session_id"]]
        est, lo, hi = list(t["slope"]), list(t["ci_low"]), list(t["ci_high"])
        colors = [PALETTE[0]] * len(t)
        if len(slope):
            names.append("MixedLM")
            est.append(slope["estimate"].iloc[0])
            lo.append(slope["ci_low"].iloc[0])
            hi.append(slope["ci_high"].iloc[0])
            colors.append(PALETTE[1])
        ys = np.arange(len(names))[::-1]
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 0.25 * len(names) + 1.1))
        for y, e, a, b, c in zip(ys, est, lo, hi, colors, strict=True):
            ax.plot([a, b], [y, y], color=c, lw=1.2)
            ax.plot(e, y, "D" if c == PALETTE[1] else "o", color=c, ms=4)
        ax.axvline(0, color="0.5", lw=0.7, ls=":")
        ax.set_yticks(ys, names, fontsize=6)
        ax.set_xlabel(f"slope per unit {x_label} (95% CI)")
        fig.tight_layout()
        figs.append(fig)
    return figs
