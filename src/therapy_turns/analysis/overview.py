"""Corpus overview (notebook 01): turns and words per session and speaker, and artefacts."""

from __future__ import annotations

import pandas as pd

from therapy_turns.io.transcripts import FLAGS
from therapy_turns.schema import count_words


def with_words(turns: pd.DataFrame) -> pd.DataFrame:
    """The turn table plus ``words``: :func:`therapy_turns.schema.count_words` of the speech."""
    return turns.assign(words=turns["text"].fillna("").map(count_words))


def session_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """One row per session and speaker: turns, words, mean and median words per turn."""
    g = with_words(turns).groupby(["session_id", "speaker"], sort=True)["words"]
    out = g.agg(turns="size", words="sum", mean_words="mean", median_words="median")
    return out.round({"mean_words": 1}).reset_index()


def artefact_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """Artefact flags counted per session (turns flagged)."""
    return turns.groupby("session_id", sort=True)[FLAGS].sum().astype(int).reset_index()
