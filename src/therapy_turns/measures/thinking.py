"""The ``thinking`` measure: the words of the therapist's hidden reasoning (``thinking`` column of
full transcripts) for :mod:`therapy_turns.analysis.events`' thinking-refers rule; no aggregation."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from spacy.language import Language
from spacy.tokens import Doc

from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.nlp import load_pipeline, pipe_texts
from therapy_turns.schema import KEYS, THERAPIST

MEANING = "lower-case lemmas and word forms of the turn's thinking (no punctuation), sorted"
COLUMNS = (Column("thinking_words", MEANING, "text", (THERAPIST,)),)


def word_sets(texts: Sequence[str], nlp: Language | None = None) -> list[frozenset[str]]:
    """Per text, the lemmas and word forms of its tokens (not punctuation or space), lower-case."""
    docs = pipe_texts(nlp or load_pipeline(), list(texts))
    tokens = ([t for t in d if not (t.is_space or t.is_punct)] for d in docs)
    return [frozenset(w for t in d for w in (t.lemma_.lower(), t.lower_)) for d in tokens]


def compute_thinking(turns: pd.DataFrame, docs: Sequence[Doc] = ()) -> pd.DataFrame:
    """One row per therapist turn: keys and ``thinking_words`` ("" without thinking)."""
    t = turns.loc[turns["speaker"] == THERAPIST]
    text = t.get("thinking", pd.Series("", index=t.index)).fillna("").astype(str)
    todo = list(dict.fromkeys(x for x in text if x))
    words = dict(zip(todo, word_sets(todo), strict=True)) if todo else {}
    joined = [" ".join(sorted(words[x])) if x else "" for x in text]
    return t[KEYS].assign(thinking_words=joined).reset_index(drop=True)


DESCRIPTION = "the words of the therapist's hidden reasoning (full transcripts), for notebook 07"
MEASURE = register(Measure("thinking", compute_thinking, DESCRIPTION, COLUMNS, aggregates=()))
