"""Figures of the corpus overview (notebook 01)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from therapy_turns.analysis.overview import with_words
from therapy_turns.viz.plots import SPEAKER_COLORS, SPEAKER_ORDER, TEXT_WIDTH


def plot_turn_lengths(turns: pd.DataFrame) -> plt.Figure:
    """Words per turn across the session, one line per session, a panel per speaker."""
    t = with_words(turns)
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.4), sharey=True)
    for ax, speaker in zip(axes, SPEAKER_ORDER, strict=True):
        d, color = t[t.speaker == speaker], SPEAKER_COLORS[speaker]
        each = dict(units="session_id", estimator=None, alpha=0.35, linewidth=0.8)
        sns.lineplot(d, x="exchange", y="words", ax=ax, color=color, **each)
        sns.lineplot(d, x="exchange", y="words", ax=ax, color=color, errorbar=None, linewidth=2)
        xlabel = "Exchange (patient→therapist pair)"
        ax.set(title=speaker.capitalize(), xlabel=xlabel, ylabel="Words per turn")
    fig.tight_layout()
    return fig
