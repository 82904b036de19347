"""Notebook 07's measures: ``events`` (event types per turn) and ``thinking`` (its hidden words)."""

from collections.abc import Mapping, Sequence

import pandas as pd
from spacy.tokens import Doc

from therapy_turns.io.transcripts import EVENT_TYPES, OTHER_EVENT, SEPARATOR
from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.nlp import load_pipeline, pipe_texts
from therapy_turns.schema import KEYS, THERAPIST

EVENT = "type keys of the events on this turn, ';'-joined ('' if none)"
COLUMNS = (Column("event", EVENT, "text"), Column("n_events", "events on this turn", "count"))
THINKING = "lower-case lemmas and word forms of the turn's thinking (no punctuation), sorted"


def compute_events(turns: pd.DataFrame, docs: Sequence[Doc] = ()) -> pd.DataFrame:
    """One row per turn: keys, ``event`` and ``n_events`` (the Docs are not needed)."""
    ev = turns.get("event", pd.Series("", index=turns.index)).fillna("").astype(str)
    n = [len([k for k in v.split(SEPARATOR) if k]) for v in ev]
    out = turns[KEYS].assign(event=ev, n_events=n).astype({"n_events": "int64"})
    return out.reset_index(drop=True)


def type_counts(rows: pd.DataFrame, measure: Measure, tables: Mapping | None = None):
    """``n`` and ``<type>``: events per session, in all and per type (pattern types always)."""
    keys = rows["event"].fillna("").astype(str).str.split(SEPARATOR)
    keys = rows[["session_id"]].assign(key=keys).explode("key")
    types = [*EVENT_TYPES, OTHER_EVENT]
    types += sorted(set(keys["key"]) - set(types) - {""})
    counts = pd.crosstab(keys["session_id"], keys["key"]).reindex(columns=types, fill_value=0)
    n = rows.groupby("session_id", sort=False)["n_events"].sum()
    return pd.concat([n.rename("n"), counts.reindex(n.index)], axis=1).rename_axis(columns=None)


def word_sets(texts: Sequence[str]) -> list[frozenset[str]]:
    """Per text, the lemmas and word forms of its tokens (not punctuation or space), lower-case."""
    docs = pipe_texts(load_pipeline(), list(texts))
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


_ABOUT = "events per turn (perturbations, annotated events) and their count per session and type"
MEASURE = register(Measure("events", compute_events, _ABOUT, COLUMNS, (type_counts,)))
ABOUT = "the words of the therapist's hidden reasoning (full transcripts), for notebook 07"
THINKING_COLUMNS = (Column("thinking_words", THINKING, "text", (THERAPIST,)),)
THINKING_MEASURE = register(Measure("thinking", compute_thinking, ABOUT, THINKING_COLUMNS, ()))
