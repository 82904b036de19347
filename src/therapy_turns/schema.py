"""The project's shared vocabulary, defined once and imported everywhere.

Word
    A spaCy token that is neither punctuation nor whitespace nor a contraction clitic (``'s``,
    ``n't`` ...): "I don't know." has 3 words. Rates "per 100 words" divide by this count (LIWC's
    convention). :func:`count_words` tokenises with the pipeline's own tokenizer, so it equals
    the count on the pipeline's Doc of the same text.
Content lemma
    The lower-cased lemma (else form) of an alphabetic word of three or more characters that is
    not a stop word and whose coarse POS is in :data:`CONTENT_POS` (reflections, reflective
    overlap).
Position in the session
    A turn's number over the session's last turn number (:func:`session_position`): 0 for the
    first turn, 1 for the last; NaN in a one-turn session, where it is undefined.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from spacy.tokenizer import Tokenizer
    from spacy.tokens import Doc, Span

#: the keys of every turn-level table: a turn is (session_id, turn); speaker travels with it
KEYS = ["session_id", "turn", "speaker"]
#: what identifies a turn (tables without a speaker column join on it)
TURN_ID = ["session_id", "turn"]
#: the two speaker roles, in the order tables and figures show them
PATIENT, THERAPIST = "patient", "therapist"
SPEAKERS = (PATIENT, THERAPIST)
#: artefact flags left out of analyses by default (no speech to analyse)
DEFAULT_EXCLUDE = ("generation_error", "missing_answer")
#: coarse POS of content words (Universal Dependencies open classes; AUX excluded)
CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV"})
CONTENT_MIN_CHARS = 3

_APOS = str.maketrans({"’": "'", "‘": "'"})


def is_clitic(form: str) -> bool:
    """Is ``form`` (any case, straight or curly apostrophe) a contraction clitic?"""
    form = form.translate(_APOS).lower()
    return form.startswith("'") or form == "n't"


def is_word(form: str, is_punct: bool, is_space: bool) -> bool:
    """Is a token with text ``form`` and these flags a word?"""
    return not (is_punct or is_space or is_clitic(form))


def words(tokens: Doc | Span | Iterable) -> list:
    """The word tokens of a Doc, Span or iterable of spaCy tokens."""
    return [t for t in tokens if is_word(t.text, t.is_punct, t.is_space)]


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    from therapy_turns.nlp import word_tokenizer  # spaCy loads on first use, not on import

    return word_tokenizer()


def count_words(text: str) -> int:
    """Words in ``text`` (spaCy's English tokenizer; no parse needed)."""
    return len(words(_tokenizer()(text or "")))


def is_content(text: str, pos: str, is_alpha: bool, is_stop: bool) -> bool:
    """Is a token a content word (its lemma a content lemma)?"""
    return is_alpha and not is_stop and pos in CONTENT_POS and len(text) >= CONTENT_MIN_CHARS


def content_lemmas(tokens: Doc | Span | Iterable) -> set[str]:
    """The content lemmas of a Doc, Span or iterable of spaCy tokens."""
    content = (t for t in tokens if is_content(t.text, t.pos_, t.is_alpha, t.is_stop))
    return {(t.lemma_ or t.text).lower() for t in content}


def session_position(turns: pd.DataFrame) -> pd.Series:
    """Each turn's position in its session, turn / last turn (0..1; NaN for a one-turn session),
    the last turn taken over the rows of ``turns`` (pass every turn, not the analysed ones)."""
    last = turns.groupby("session_id")["turn"].transform("max")
    return (turns["turn"] / last.where(last > 0)).astype("float64")
