"""Figures of the emotion scores and trajectories (notebook 03)."""

import matplotlib.pyplot as plt
import pandas as pd
from scipy import stats

from therapy_turns.analysis.dynamics import home_base
from therapy_turns.measures.emotion_model import BASELINES
from therapy_turns.viz import plots

Frame = pd.DataFrame | None
MARK, NOTE = plots.PALETTE[3], dict(xytext=(0, 6), textcoords="offset points", ha="center")


def plot_validation(pred: pd.DataFrame) -> plt.Figure:
    """Predicted vs human ratings on EmoBank dev with r of the model and the first baseline."""
    fig, axes = plt.subplots(1, 2, figsize=(plots.TEXT_WIDTH * 0.75, 2.6), layout="tight")
    for ax, dim in zip(axes, ("valence", "arousal"), strict=True):
        x, y = pred[dim[0].upper()].to_numpy(float), pred[dim].to_numpy(float)
        ax.scatter(x, y, s=4, alpha=0.35, color=plots.PALETTE[0], linewidths=0, rasterized=True)
        ax.axline((3, 3), slope=1, color="0.6", lw=0.8, ls="--")
        _, column, name = next(b for b in BASELINES if b[0] == dim)
        r, base = stats.pearsonr(x, y)[0], stats.pearsonr(pred[column].to_numpy(float), x)[0]
        title = f"{dim}: model r = {r:.2f} (n = {len(x)})\n{name}: r = {base:.2f}"
        ax.set(title=title, xlabel=f"human {dim} (EmoBank dev, 1-5)", ylabel=f"predicted {dim}")
        ax.title.set_fontsize(8)
    return fig


def _draw(ax: plt.Axes, traj: pd.DataFrame, sid: str, cps: Frame, marks: Frame, notes: bool):
    """Per speaker: home-base band, turns, smooth line, change points, ``marks`` as triangles."""
    for spk, g in traj[traj["session_id"] == sid].groupby("speaker", sort=True):
        c = plots.SPEAKER_COLORS.get(spk, "0.3")
        mean, sd = home_base(g["value"].to_numpy(float))
        band = dict(color=c, alpha=0.12, lw=0, label="home base (mean ± 1 SD)")
        ax.fill_between([g["turn"].min(), g["turn"].max()], mean - sd, mean + sd, **band)
        ax.axhline(mean, color=c, lw=0.6, alpha=0.5)
        ax.plot(g["turn"], g["value"], "o", ms=2.5, color=c, alpha=0.55, label="turn")
        ax.plot(g["turn"], g["smooth"], "-", lw=1.4, color=c, label="smoothed")
        cp = [] if cps is None else g.merge(cps, on=["session_id", "speaker", "turn"])["turn"]
        for k, t in enumerate(cp):
            ax.axvline(t - 0.5, color="0.25", ls="--", lw=0.8, label=None if k else "change point")
        if marks is not None and len(marks):
            m = g.merge(marks[["session_id", "turn"]].drop_duplicates())
            ax.plot(m["turn"], m["value"], "v", ms=5, color=MARK, label="asks to slow down")
            for t, v in zip(m["turn"], m["value"], strict=True) if notes else []:
                ax.annotate(f"t{t}", (t, v), color=MARK, fontsize=6, **NOTE)


def plot_trajectory(
    traj: pd.DataFrame, session_id: str, cps: Frame, marks: Frame, value_label: str
) -> plt.Figure:
    """One session's trajectory, change points and marked turns (``marks``: session_id, turn)."""
    fig, ax = plt.subplots(figsize=(plots.TEXT_WIDTH, 2.6), layout="tight")
    _draw(ax, traj, session_id, cps, marks, True)
    speakers = ", ".join(sorted(traj.loc[traj["session_id"] == session_id, "speaker"].unique()))
    ax.set(xlabel="turn in session", ylabel=plots.column_label(value_label))
    ax.set_title(f"{session_id}: {speakers} {value_label}")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def plot_small_multiples(
    traj: pd.DataFrame, cps: Frame, marks: Frame, value_label: str, ncols: int = 3
) -> list[plt.Figure]:
    """A panel per session in the style of :func:`plot_trajectory` (one y range), paged."""
    ids = sorted(traj["session_id"].unique())
    labels = plots.session_labels(ids)
    lo, hi = traj[["value", "smooth"]].min().min(), traj[["value", "smooth"]].max().max()
    pad = 0.05 * (hi - lo) if hi > lo else 0.1
    figs = []
    for page in plots.paginate(ids, 1.6, 0.9, ncols):
        fig, axes = plots.grid(len(page), ncols, 1.6, 0.6, sharey=True)
        for k, (ax, sid) in enumerate(zip(axes, page, strict=False)):
            _draw(ax, traj, sid, cps, marks, False)
            ax.set_title(labels[sid], fontsize=8)
            ax.set(xlabel="turn", ylim=(lo - pad, hi + pad))
            ax.set_ylabel(plots.column_label(value_label, width=18) if k % ncols == 0 else "")
        legend = dict(loc="lower center", fontsize=7, ncols=4, bbox_to_anchor=(0.5, 0.0))
        plots.fig_legend(fig, axes, **legend)
        fig.get_layout_engine().set(rect=(0, 0.07, 1, 1))
        figs.append(fig)
    return figs


def plot_composition(comp: pd.DataFrame) -> plt.Figure:
    """Grouped bars: mean NRC rate (± SEM) per emotion in each session phase."""
    wide = comp.pivot_table("mean sem".split(), "column", "phase", observed=True, sort=False)
    fig, ax = plt.subplots(figsize=(plots.TEXT_WIDTH, 2.4), layout="tight")
    bars = dict(width=0.8, color=plots.PALETTE, error_kw={"lw": 0.6, "capsize": 1.5})
    wide["mean"].plot.bar(yerr=wide["sem"], ax=ax, xlabel="", **bars)
    names = [c.removeprefix("nrc_") for c in wide.index]
    ax.set_xticks(ax.get_xticks(), names, rotation=30, ha="right")
    ax.set_ylabel("NRC words per 100 words")
    legend = dict(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(wide["mean"].columns))
    ax.legend(title="session phase", title_fontsize=7, frameon=False, **legend)
    return fig


def plot_trends(trends: pd.DataFrame, mixed: pd.DataFrame, x_label: str) -> list[plt.Figure]:
    """Forest plot: per-session OLS slopes with 95% CIs and the MixedLM fixed slope, paged."""
    rows = trends.assign(label=trends["session_id"].map(plots.session_labels(trends["session_id"])))
    fixed = mixed[mixed["term"] == x_label].assign(label="MixedLM (all sessions)")
    t = pd.concat([rows.rename(columns={"slope": "estimate"}), fixed])
    xlabel = f"slope per unit {x_label} (95% CI)"
    return plots.plot_intervals(t, "estimate", "ci_low", "ci_high", "label", None, xlabel, tick=str)
