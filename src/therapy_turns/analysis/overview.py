"""Corpus overview: how many turns and words each session and speaker has, and its artefacts."""

from __future__ import annotations

import re

import pandas as pd

from therapy_turns.io.transcripts import FLAGS

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
