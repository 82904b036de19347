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

Frame = pd.DataFrame | None
#: The label of a marked turn (``t12``) above its triangle.
MARK_NOTE = dict(xytext=(0, 6), textcoords="offset points", ha="center", fontsize=6)
MARK_NOTE["color"] = "#CC79A7"


def plot_validation(pred: pd.DataFrame, dims: Sequence[str] = ("valence", "arousal")):
    """Predicted vs human ratings on EmoBank dev, one panel per dimension; titles give the
    model's r and that of the first baseline of the dimension (VADER compound for valence, NRC
    high-arousal rate for arousal)."""
    fig, axes = plt.subplots(1, len(dims), figsize=(TEXT_WIDTH * 0.75, 2.6), squeeze=False)
    for ax, dim in zip(axes[0], dims, strict=True):
        x, y = pred[dim[0].upper()].to_numpy(float), pred[dim].to_numpy(float)
        ax.scatter(x, y, s=4, alpha=0.35, color=PALETTE[0], linewidths=0, rasterized=True)
        lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--")
        title = f"{dim}: model r = {stats.pearsonr(x, y)[0]:.2f} (n = {len(x)})"
        for column, name in [(c, n) for d, c, n in BASELINES if d == dim][:1]:
            title += f"\n{name}: r = {stats.pearsonr(pred[column].to_numpy(float), x)[0]:.2f}"
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(f"human {dim} (EmoBank dev, 1-5)")
        ax.set_ylabel(f"predicted {dim}")
    fig.tight_layout()
    return fig


def _draw(ax: plt.Axes, traj: pd.DataFrame, sid: str, cps: Frame, marks: Frame, notes: bool):
    """One session's trajectory per speaker: home-base band, turns, smooth line, change points
    (dashed, between turns) and the turns in ``marks`` as triangles."""
    for spk, g in traj[traj["session_id"] == sid].groupby("speaker", sort=True):
        color = SPEAKER_COLORS.get(spk, "0.3")
        mean, sd = home_base(g["value"].to_numpy(float))
        span = [g["turn"].min(), g["turn"].max()]
        band = dict(color=color, alpha=0.12, lw=0, label="home base (mean ± 1 SD)")
        ax.fill_between(span, mean - sd, mean + sd, **band)
        ax.axhline(mean, color=color, lw=0.6, alpha=0.5)
        ax.plot(g["turn"], g["value"], "o", ms=2.5, color=color, alpha=0.55, label="turn")
        ax.plot(g["turn"], g["smooth"], "-", lw=1.4, color=color, label="smoothed")
        if cps is not None:
            turns = cps.loc[(cps["session_id"] == sid) & (cps["speaker"] == spk), "turn"]
            for k, t in enumerate(turns):
                label = "change point" if k == 0 else None
                ax.axvline(t - 0.5, color="0.25", ls="--", lw=0.8, label=label)
        if marks is not None and len(marks):
            m = g.merge(marks[["session_id", "turn"]].drop_duplicates(), on=["session_id", "turn"])
            ax.plot(m["turn"], m["value"], "v", ms=5, color="#CC79A7", label="asks to slow down")
            for t, v in zip(m["turn"], m["value"], strict=True) if notes else []:
                ax.annotate(f"t{t}", (t, v), **MARK_NOTE)


def plot_trajectory(
    traj: pd.DataFrame,
    session_id: str,
    cps: Frame = None,
    marks: Frame = None,
    value_label: str = "valence",
) -> plt.Figure:
    """One session's trajectory: raw turns, smooth line, home-base band, change points (dashed,
    between turns) and the turns in ``marks`` (``session_id, turn``) as triangles."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.6))
    _draw(ax, traj, session_id, cps, marks, True)
    ax.set_xlabel("turn in session")
    ax.set_ylabel(column_label(value_label))
    speakers = ", ".join(sorted(traj.loc[traj["session_id"] == session_id, "speaker"].unique()))
    ax.set_title(f"{session_id}: {speakers} {value_label}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_small_multiples(
    traj: pd.DataFrame,
    cps: Frame = None,
    marks: Frame = None,
    value_label: str = "valence",
    ncols: int = 3,
) -> list[plt.Figure]:
    """One panel per session (shared y axis) in the style of :func:`plot_trajectory`, paged so
    that each page fits a printable page (same y range on every page)."""
    ids = sorted(traj["session_id"].unique())
    labels = session_labels(ids)
    lo, hi = traj[["value", "smooth"]].min().min(), traj[["value", "smooth"]].max().max()
    pad = 0.05 * (hi - lo) if hi > lo else 0.1
    figs = []
    row_height = 1.6
    for page in paginate(ids, per_page(row_height, 0.9) * ncols):
        nrows = max(1, math.ceil(len(page) / ncols))
        size = (TEXT_WIDTH, row_height * nrows + 0.6)
        fig, axes = plt.subplots(nrows, ncols, figsize=size, sharey=True, squeeze=False)
        for ax, sid in zip(axes.flat, page, strict=False):
            _draw(ax, traj, sid, cps, marks, False)
            ax.set_title(labels[sid], fontsize=8)
            ax.set_xlabel("turn")
            ax.set_ylim(lo - pad, hi + pad)
        for ax in axes.flat[len(page) :]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel(column_label(value_label, width=18))
        legend: dict[str, object] = {}
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                legend.setdefault(lab, h)
        fig.legend(
            list(legend.values()),
            list(legend),
            loc="lower center",
            frameon=False,
            fontsize=7,
            ncols=4,
            bbox_to_anchor=(0.5, 0.0),
        )
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        figs.append(fig)
    return figs


def plot_composition(comp: pd.DataFrame):
    """Grouped bars: mean NRC rate (± SEM) per emotion in each phase (:func:`phase_composition`)."""
    p = comp["phase"]
    phases = list(p.cat.categories) if hasattr(p, "cat") else list(dict.fromkeys(p))
    cols = list(dict.fromkeys(comp["column"]))
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.4))
    width = 0.8 / len(phases)
    for k, ph in enumerate(phases):
        g = comp[comp["phase"] == ph].set_index("column").reindex(cols)
        xs = np.arange(len(cols)) + (k - (len(phases) - 1) / 2) * width
        ax.bar(
            xs,
            g["mean"],
            width,
            yerr=g["sem"],
            color=PALETTE[k % len(PALETTE)],
            label=ph,
            error_kw={"lw": 0.6, "capsize": 1.5},
        )
    names = [c.removeprefix("nrc_") for c in cols]
    ax.set_xticks(np.arange(len(cols)), names, rotation=30, ha="right")
    ax.set_ylabel("NRC words per 100 words")
    ax.legend(
        title="session phase",
        title_fontsize=7,
        frameon=False,
        ncol=len(phases),
        loc="lower center",
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.tight_layout()
    return fig


def plot_trends(
    trends: pd.DataFrame, mixed: pd.DataFrame, x_label: str = "progress"
) -> list[plt.Figure]:
    """Forest plot: per-session OLS slopes with 95% CIs and the MixedLM fixed slope (on every
    page), paged to fit a printable page."""
    slope = mixed[mixed["term"] == x_label]
    labels = session_labels(trends["session_id"])
    figs = []
    for page in paginate(list(range(len(trends))), per_page(0.25, 1.1)):
        t = trends.iloc[page]
        rows = [
            (labels[s], e, a, b, PALETTE[0])
            for s, e, a, b in zip(
                t["session_id"], t["slope"], t["ci_low"], t["ci_high"], strict=True
            )
        ]
        if len(slope):
            s = slope.iloc[0]
            rows.append(("MixedLM", s["estimate"], s["ci_low"], s["ci_high"], PALETTE[1]))
        ys = np.arange(len(rows))[::-1]
        fig, ax = plt.subplots(figsize=(COLUMN_WIDTH, 0.25 * len(rows) + 1.1))
        for y, (_, e, a, b, c) in zip(ys, rows, strict=True):
            ax.plot([a, b], [y, y], color=c, lw=1.2)
            ax.plot(e, y, "D" if c == PALETTE[1] else "o", color=c, ms=4)
        ax.axvline(0, color="0.5", lw=0.7, ls=":")
        ax.set_yticks(ys, [r[0] for r in rows], fontsize=6)
        ax.set_xlabel(f"slope per unit {x_label} (95% CI)")
        fig.tight_layout()
        figs.append(fig)
    return figs
