"""The shared vocabulary, defined once: turn keys, speakers, word, content lemma, position."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from spacy.tokenizer import Tokenizer
    from spacy.tokens import Doc, Span

KEYS = ["session_id", "turn", "speaker"]  # of every turn-level table; speaker travels along
TURN_ID = ["session_id", "turn"]  # what identifies a turn (tables without a speaker join on it)
PATIENT, THERAPIST = "patient", "therapist"
SPEAKERS = (PATIENT, THERAPIST)  # in the order tables and figures show them
DEFAULT_EXCLUDE = ("generation_error", "missing_answer")  # artefacts left out by default
#: content words: alphabetic, no stop word, an open-class coarse POS (no AUX), a minimum length
CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV"})
CONTENT_MIN_CHARS = 3


def split_codes(value: object) -> list[str]:
    """The codes of a ``;``-joined table cell (empty or missing: none)."""
    return [c.strip() for c in value.split(";") if c.strip()] if isinstance(value, str) else []


def is_clitic(form: str) -> bool:
    """Is ``form`` (any case, straight or curly apostrophe) a clitic (``'s``, ``n't``)?"""
    form = form.replace("’", "'").replace("‘", "'").lower()
    return form.startswith("'") or form == "n't"


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    import spacy  # spaCy loads on first use, not on import (analysis/ imports no spaCy)

    return spacy.blank("en").tokenizer


def text_words(text: str) -> list:
    """The words of ``text`` (the pipeline's tokenizer): no punctuation, space or clitic tokens."""
    tokens = _tokenizer()(text or "")
    return [t for t in tokens if not (t.is_punct or t.is_space or is_clitic(t.text))]


def count_words(text: str) -> int:
    """The number of :func:`text_words` of ``text``."""
    return len(text_words(text))


def phrase_docs(phrases: Iterable[str]) -> list[Doc]:
    """``phrases`` lower-cased, also with curly apostrophes, as Docs of the word tokenizer."""
    texts = {p.lower() for ph in phrases for p in (ph, ph.replace("'", "’"))}
    return [_tokenizer()(p) for p in sorted(texts)]


def content_lemmas(tokens: Doc | Span | Iterable) -> set[str]:
    """The lower-cased lemmas (else forms) of the content words of a Doc, Span or tokens."""
    content = (t for t in tokens if t.is_alpha and not t.is_stop and t.pos_ in CONTENT_POS)
    return {(t.lemma_ or t.text).lower() for t in content if len(t.text) >= CONTENT_MIN_CHARS}


def session_position(turns: pd.DataFrame) -> pd.Series:
    """Turn / last turn of its session among ``turns`` (pass every turn); NaN for one turn."""
    last = turns.groupby("session_id")["turn"].transform("max")
    return (turns["turn"] / last.where(last > 0)).astype("float64")
