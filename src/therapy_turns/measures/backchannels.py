"""Backchannels ("Yeah.", "Mm-hmm."; ``data/backchannels.yaml``), left out of emotion summaries."""

import pandas as pd

from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import text_words

_RULE = read_yaml(DATA_DIR / "backchannels.yaml")
_WORDS = frozenset(str(w).lower() for w in _RULE["words"])
#: a turn with more letters than ``max_words`` of the longest listed words is none (not tokenized)
_MAX_LETTERS = int(_RULE["max_words"]) * max(map(len, _WORDS))


def is_backchannel(text: str) -> bool:
    """Is ``text`` at most ``max_words`` words (``mm-hmm`` one), all listed backchannel words?"""
    if sum(map(str.isalpha, str(text))) > _MAX_LETTERS:
        return False
    found = text_words(str(text))
    doc = found[0].doc if found else []
    joined = sum(t.text == "-" and not (t.whitespace_ or doc[t.i - 1].whitespace_) for t in doc[1:])
    n = len(found) - joined  # "mm-hmm" is one word of the length rule, two listed words
    return 0 < n <= int(_RULE["max_words"]) and _WORDS.issuperset(w.lower_ for w in found)


def mask(turns: pd.DataFrame) -> pd.Series:
    """Boolean Series over ``turns``: which turns are backchannels (on their ``text``)."""
    return turns["text"].fillna("").map(is_backchannel).astype(bool)


def without(turns: pd.DataFrame, exclude: bool = True) -> pd.DataFrame:
    """``turns`` without backchannels when ``exclude`` (the default), else unchanged."""
    return turns[~mask(turns)] if exclude else turns


def summary(turns: pd.DataFrame, speaker: str = "patient", exclude: bool = True) -> str:
    """One sentence: how many of ``speaker``'s turns are backchannels and what happens to them."""
    t = turns[turns["speaker"] == speaker]
    m = mask(t)
    share = f" ({100 * m.mean():.0f}%)" if len(t) else ""
    examples = ", ".join(f"“{x}”" for x in t.loc[m, "text"].str.strip().value_counts().index[:3])
    what = "left out of the trajectory and the session means (`exclude_backchannels`)"
    what = what if exclude else "kept (`exclude_backchannels` is off)"
    return (
        f"{int(m.sum())} of {len(t)} {speaker} turns{share} are backchannels or minimal "
        f"responses{' such as ' + examples if examples else ''}: {what}."
    )
