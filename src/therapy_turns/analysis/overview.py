"""Corpus overview: how many turns and words each session and speaker has, and its artefacts."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from therapy_turns.io.transcripts import FLAGS
from therapy_turns.viz.plots import SPEAKER_COLORS, SPEAKER_ORDER, TEXT_WIDTH

_WORD = re.compile(r"[A-Za-z0-9]+(?:['’-][A-Za-z0-9]+)*")


def word_count(text: str) -> int:
    """Words as runs of letters/digits, keeping inner apostrophes and hyphens ("don't" = 1)."""
    return len(_WORD.findall(text))


def with_words(turns: pd.DataFrame) -> pd.DataFrame:
    """The turn table plus a ``words`` column counted on the speech (``text``)."""
    return turns.assign(words=turns["text"].map(word_count))


def session_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """One row per session and speaker: turns, words, mean and median words per turn."""
    t = with_words(turns)
    g = t.groupby(["session_id", "speaker"], sort=True)["words"]
    return pd.DataFrame(
        {
            "turns": g.size(),
            "words": g.sum(),
            "mean_words": g.mean().round(1),
            "median_words": g.median(),
        }
    ).reset_index()


def artefact_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """Artefact flags counted per session (turns flagged)."""
    return turns.groupby("session_id", sort=True)[FLAGS].sum().astype(int).reset_index()


def plot_turn_lengths(turns: pd.DataFrame) -> plt.Figure:
    """Words per turn across the session, one line per session, a panel per speaker."""
    t = with_words(turns)
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.4), sharey=True)
    for ax, speaker in zip(axes, SPEAKER_ORDER, strict=True):
        d = t[t.speaker == speaker]
        sns.lineplot(
            d,
            x="exchange",
            y="words",
            units="session_id",
            estimator=None,
            ax=ax,
            color=SPEAKER_COLORS[speaker],
            alpha=0.35,
            linewidth=0.8,
        )
        sns.lineplot(
            d,
            x="exchange",
            y="words",
            ax=ax,
            color=SPEAKER_COLORS[speaker],
            errorbar=None,
            linewidth=2,
        )
        ax.set(
            title=speaker.capitalize(),
            xlabel="Exchange (patient→therapist pair)",
            ylabel="Words per turn",
        )
    fig.tight_layout()
    return fig
