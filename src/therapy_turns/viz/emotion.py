"""Figures of the emotion scores and trajectories (notebook 03)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from scipy import stats

from therapy_turns.analysis.dynamics import home_base
from therapy_turns.measures.emotion_model import BASELINES
from therapy_turns.viz.models import plot_intervals
from therapy_turns.viz.plots import (
    PALETTE,
    SPEAKER_COLORS,
    TEXT_WIDTH,
    column_label,
    fig_legend,
    grid,
    paginate,
    session_labels,
)

Frame = pd.DataFrame | None


def plot_validation(pred: pd.DataFrame, dims: Sequence[str] = ("valence", "arousal")):
    """Predicted vs human ratings on EmoBank dev with r of the model and the first baseline."""
    fig, axes = plt.subplots(1, len(dims), figsize=(TEXT_WIDTH * 0.75, 2.6), squeeze=False)
    for ax, dim in zip(axes[0], dims, strict=True):
        x, y = pred[dim[0].upper()].to_numpy(float), pred[dim].to_numpy(float)
        ax.scatter(x, y, s=4, alpha=0.35, color=PALETTE[0], linewidths=0, rasterized=True)
        lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8, ls="--")
        _, column, name = next(b for b in BASELINES if b[0] == dim)
        base = stats.pearsonr(pred[column].to_numpy(float), x)[0]
        title = f"{dim}: model r = {stats.pearsonr(x, y)[0]:.2f} (n = {len(x)})"
        ax.set_title(f"{title}\n{name}: r = {base:.2f}", fontsize=8)
        ax.set(xlabel=f"human {dim} (EmoBank dev, 1-5)", ylabel=f"predicted {dim}")
    fig.tight_layout()
    return fig


def _draw(ax: plt.Axes, traj: pd.DataFrame, sid: str, cps: Frame, marks: Frame, notes: bool):
    """Per speaker: home-base band, turns, smooth line, change points, ``marks`` as triangles."""
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
            ax.plot(m["turn"], m["value"], "v", ms=5, color=PALETTE[3], label="asks to slow down")
            for t, v in zip(m["turn"], m["value"], strict=True) if notes else []:
                note = dict(xytext=(0, 6), textcoords="offset points", ha="center", fontsize=6)
                ax.annotate(f"t{t}", (t, v), color=PALETTE[3], **note)


def plot_trajectory(
    traj: pd.DataFrame, session_id: str, cps: Frame, marks: Frame, value_label: str
) -> plt.Figure:
    """One session's trajectory, change points and marked turns (``marks``: session_id, turn)."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.6))
    _draw(ax, traj, session_id, cps, marks, True)
    ax.set(xlabel="turn in session", ylabel=column_label(value_label))
    speakers = ", ".join(sorted(traj.loc[traj["session_id"] == session_id, "speaker"].unique()))
    ax.set_title(f"{session_id}: {speakers} {value_label}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def plot_small_multiples(
    traj: pd.DataFrame, cps: Frame, marks: Frame, value_label: str, ncols: int = 3
) -> list[plt.Figure]:
    """A panel per session in the style of :func:`plot_trajectory` (one y range), paged."""
    ids = sorted(traj["session_id"].unique())
    labels = session_labels(ids)
    lo, hi = traj[["value", "smooth"]].min().min(), traj[["value", "smooth"]].max().max()
    pad = 0.05 * (hi - lo) if hi > lo else 0.1
    figs = []
    for page in paginate(ids, 1.6, 0.9, ncols):
        fig, axes = grid(len(page), ncols, 1.6, 0.6, sharey=True)
        for k, (ax, sid) in enumerate(zip(axes, page, strict=False)):
            _draw(ax, traj, sid, cps, marks, False)
            ax.set(title=labels[sid], xlabel="turn", ylim=(lo - pad, hi + pad))
            ax.title.set_fontsize(8)
            ax.set_ylabel(column_label(value_label, width=18) if k % ncols == 0 else "")
        fig_legend(fig, axes, loc="lower center", fontsize=7, ncols=4, bbox_to_anchor=(0.5, 0.0))
        fig.tight_layout(rect=(0, 0.05, 1, 1))
        figs.append(fig)
    return figs


def plot_composition(comp: pd.DataFrame):
    """Grouped bars: mean NRC rate (± SEM) per emotion in each session phase."""
    wide = comp.pivot_table(
        index="column", columns="phase", values=["mean", "sem"], observed=True, sort=False
    )
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.4))
    error = {"lw": 0.6, "capsize": 1.5}
    wide["mean"].plot.bar(yerr=wide["sem"], ax=ax, width=0.8, color=PALETTE, error_kw=error)
    ax.set_xticks(ax.get_xticks(), [c.removeprefix("nrc_") for c in wide.index], rotation=30)
    plt.setp(ax.get_xticklabels(), ha="right")
    ax.set(xlabel="", ylabel="NRC words per 100 words")
    kw = dict(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(wide["mean"].columns))
    ax.legend(title="session phase", title_fontsize=7, frameon=False, **kw)
    fig.tight_layout()
    return fig


def plot_trends(trends: pd.DataFrame, mixed: pd.DataFrame, x_label: str) -> list[plt.Figure]:
    """Forest plot: per-session OLS slopes with 95% CIs and the MixedLM fixed slope, paged."""
    labels = session_labels(trends["session_id"])
    rows = trends.assign(label=trends["session_id"].map(labels), estimate=trends["slope"])
    fixed = mixed[mixed["term"] == x_label].assign(label="MixedLM (all sessions)")
    xlabel = f"slope per unit {x_label} (95% CI)"
    return plot_intervals(
        pd.concat([rows, fixed]), "estimate", "ci_low", "ci_high", "label", None, xlabel, tick=str
    )
