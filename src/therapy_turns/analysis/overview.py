"""Corpus overview: how many turns and words each session and speaker has, and its artefacts."""

from __future__ import annotations

import pandas as pd

from therapy_turns.io.transcripts import FLAGS
from therapy_turns.schema import count_words


def with_words(turns: pd.DataFrame) -> pd.DataFrame:
    """The turn table plus a ``words`` column counted on the speech (``text``): words as
    :func:`therapy_turns.schema.count_words` counts them (the features table's ``n_words``)."""
    return turns.assign(words=turns["text"].fillna("").map(count_words))


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
