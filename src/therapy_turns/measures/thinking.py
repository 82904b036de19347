"""The ``thinking`` measure: the words of the therapist's hidden reasoning (the turn table's
``thinking`` column, in full transcripts), for the thinking-refers rule of
:mod:`therapy_turns.analysis.events`. No session aggregation.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from spacy.language import Language
from spacy.tokens import Doc

from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.nlp import load_pipeline, pipe_texts
from therapy_turns.schema import KEYS, THERAPIST

COLUMNS = (
    Column(
        "thinking_words",
        "lower-case lemmas and word forms of the turn's thinking (no punctuation), sorted",
        "text",
        (THERAPIST,),
    ),
)


def word_sets(texts: Sequence[str], nlp: Language | None = None) -> list[frozenset[str]]:
    """Per text, the lemmas and word forms of its tokens (not punctuation or space), lower-case."""
    docs = pipe_texts(nlp or load_pipeline(), list(texts))
    return [
        frozenset(
            w for t in d if not (t.is_space or t.is_punct) for w in (t.lemma_.lower(), t.lower_)
        )
        for d in docs
    ]


def compute_thinking(turns: pd.DataFrame, docs: Sequence[Doc] = ()) -> pd.DataFrame:
    """One row per therapist turn: keys and ``thinking_words`` ("" without thinking)."""
    t = turns.loc[turns["speaker"] == THERAPIST]
    text = t["thinking"].fillna("").astype(str) if "thinking" in t else pd.Series("", t.index)
    todo = list(dict.fromkeys(x for x in text if x))
    words = dict(zip(todo, word_sets(todo), strict=True)) if todo else {}
    joined = [" ".join(sorted(words[x])) if x else "" for x in text]
    return t[KEYS].assign(thinking_words=joined).reset_index(drop=True)


MEASURE = register(
    Measure(
        "thinking",
        compute_thinking,
        "the words of the therapist's hidden reasoning (full transcripts), for notebook 07",
        COLUMNS,
        aggregates=(),
    )
)
