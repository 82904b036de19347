"""Figures of the turn lengths and linguistic features (notebooks 01, 02)."""

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from therapy_turns.analysis.language import with_words
from therapy_turns.measures.lexicons import MARKERS
from therapy_turns.viz import plots

SPEAKERS = dict(hue="speaker", palette=plots.SPEAKER_COLORS)
BOX = dict(x="speaker", order=plots.SPEAKER_ORDER, fliersize=1.5, linewidth=0.7)
POINTS = dict(x="segment", errorbar=("ci", 95), seed=0, dodge=0.25, hue_order=plots.SPEAKER_ORDER)
POINTS |= dict(markersize=3, linewidth=1, err_kws={"linewidth": 0.8})
EACH = dict(units="session_id", estimator=None, alpha=0.35, linewidth=0.8)
SMOOTH = dict(lowess=True, scatter=False, color="black", line_kws={"linewidth": 1.5})
HEAT = dict(fmt="", cmap="Blues", vmin=0, vmax=1, cbar=False, linewidths=0.5, annot_kws={"size": 6})


def _per_feature(plot, data: pd.DataFrame, cols: Sequence[str], height: float, xlabel: str, **kw):
    """A panel per feature ``plot`` draws (by speaker), four to a row."""
    fig, axes = plots.grid(len(cols), min(len(cols), 4), height)
    for i, (ax, col) in enumerate(zip(axes, cols, strict=False)):
        plot(data, y=col, ax=ax, legend=i == 0 and plot is sns.pointplot, **SPEAKERS, **kw)
        ax.set(xlabel=xlabel, ylabel="")
        ax.set_title(plots.column_label(col), fontsize=7)
    if plot is sns.pointplot and len(cols):
        axes[0].legend(fontsize=6, frameon=False)
    return fig


def plot_distributions(df: pd.DataFrame, cols: Sequence[str]) -> plt.Figure:
    """Box plots of ``cols`` by speaker, a panel per feature (turn-level values)."""
    return _per_feature(sns.boxplot, df, cols, 1.8, "", **BOX)


def plot_trajectories(df: pd.DataFrame, cols: Sequence[str]) -> plt.Figure:
    """Mean of each feature per session segment and speaker (95% CI over sessions' means)."""
    means = df.groupby(["session_id", "speaker", "segment"], observed=True)[list(cols)].mean()
    return _per_feature(sns.pointplot, means.reset_index(), cols, 1.9, "session segment", **POINTS)


def plot_marker_profile(
    profile: pd.DataFrame, archetypes: Mapping[str, str] | None = None
) -> list[plt.Figure]:
    """Patient markers per 1000 patient words, a row per session (and archetype), paged."""
    rates = profile.set_index("session_id")[list(MARKERS)]
    lab = plots.session_labels(rates.index)
    rates.index = [lab[s] + (f" ({archetypes.get(s, '?')})" if archetypes else "") for s in lab]
    xlabel = "Marker (per 1000 patient words; shade = share of column maximum)"
    shade, width = rates / rates.max().replace(0, 1), plots.COLUMN_WIDTH * 1.6
    return plots.plot_session_heat(rates.round(1), shade, xlabel, width, 1.4, **HEAT)


def plot_lsm(df: pd.DataFrame) -> plt.Figure:
    """``lsm`` and ``reflect_overlap`` of each patient->therapist pair across the session."""
    t = df[df["speaker"] == "therapist"].dropna(subset=["lsm"])
    fig, axes = plt.subplots(1, 2, figsize=(plots.TEXT_WIDTH, 2.3), sharex=True, layout="tight")
    names = {"lsm": "Language style matching", "reflect_overlap": "Reflection overlap"}
    for ax, (col, name) in zip(axes, names.items(), strict=True):
        sns.lineplot(t, x="position", y=col, ax=ax, color=plots.SPEAKER_COLORS["therapist"], **EACH)
        sns.regplot(t, x="position", y=col, ax=ax, **SMOOTH)
        ax.set(xlabel="Position in session (0 = start, 1 = end)", ylabel=name, ylim=(0, 1))
    return fig


def plot_turn_lengths(turns: pd.DataFrame) -> plt.Figure:
    """Words per turn across the session, one line per session, a panel per speaker."""
    t = with_words(turns)
    fig, axes = plt.subplots(1, 2, figsize=(plots.TEXT_WIDTH, 2.4), sharey=True, layout="tight")
    for ax, speaker in zip(axes, plots.SPEAKER_ORDER, strict=True):
        d, color = t[t.speaker == speaker], plots.SPEAKER_COLORS[speaker]
        sns.lineplot(d, x="exchange", y="words", ax=ax, color=color, **EACH)
        sns.lineplot(d, x="exchange", y="words", ax=ax, color=color, errorbar=None, linewidth=2)
        xlabel = "Exchange (patient→therapist pair)"
        ax.set(title=speaker.capitalize(), xlabel=xlabel, ylabel="Words per turn")
    return fig
