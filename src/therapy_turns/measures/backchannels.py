"""Backchannels and minimal responses ("Yeah.", "Mm-hmm.", "Okay, right."): turns that keep the
floor with the other speaker rather than say something. The word list and the length rule are in
``data/backchannels.yaml`` (with references); emotion trajectories and session means leave these
turns out by default, because a scored "Yeah." is the model's neutral guess, not the patient's
affect, and with many of them it dominates a session's mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

from therapy_turns.paths import DATA_DIR, read_yaml

_WORD = re.compile(r"[a-z]+(?:[-'][a-z]+)*")


@dataclass(frozen=True)
class Rule:
    """At most ``max_words`` words, every one in ``words``."""

    max_words: int
    words: frozenset[str]


@lru_cache(maxsize=1)
def rule() -> Rule:
    """The shipped rule (``data/backchannels.yaml``)."""
    raw = read_yaml(DATA_DIR / "backchannels.yaml")
    return Rule(int(raw["max_words"]), frozenset(str(w).lower() for w in raw["words"]))


def is_backchannel(text: str, r: Rule | None = None) -> bool:
    """True when ``text`` is a backchannel or minimal response under rule ``r``."""
    r = r or rule()
    words = _WORD.findall(str(text).lower())
    return 0 < len(words) <= r.max_words and all(w in r.words for w in words)


def mask(turns: pd.DataFrame) -> pd.Series:
    """Boolean Series over ``turns``: which turns are backchannels (on their ``text``)."""
    r = rule()
    return turns["text"].fillna("").map(lambda t: is_backchannel(t, r)).astype(bool)


def without(turns: pd.DataFrame, exclude: bool = True) -> pd.DataFrame:
    """``turns`` without backchannels when ``exclude`` (the default), else unchanged."""
    return turns[~mask(turns)] if exclude else turns


def summary(turns: pd.DataFrame, speaker: str = "patient", exclude: bool = True) -> str:
    """One sentence: how many of ``speaker``'s turns are backchannels and what happens to them."""
    t = turns[turns["speaker"] == speaker]
    m = mask(t)
    share = f" ({100 * m.mean():.0f}%)" if len(t) else ""
    examples = ", ".join(f"“{x}”" for x in t.loc[m, "text"].str.strip().value_counts().index[:3])
    what = (
        "left out of the trajectory and the session means (`exclude_backchannels`)"
        if exclude
        else "kept (`exclude_backchannels` is off)"
    )
    return (
        f"{int(m.sum())} of {len(t)} {speaker} turns{share} are backchannels or minimal "
        f"responses{' such as ' + examples if examples else ''}: {what}."
    )
