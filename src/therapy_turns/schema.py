"""The project's shared vocabulary, defined once and imported everywhere: turn keys, speakers,
the default exclusion policy, what a *word* is and what a *content lemma* is.

Word
    A spaCy token that is neither punctuation nor whitespace nor a contraction clitic (``'s``,
    ``'m``, ``'ve``, ``n't`` ...): "I don't know." has 3 words (*I, do, know*). Rates "per 100
    words" divide by this count (the LIWC convention: a clitic adds to a category, not to the
    word count). Tokens are spaCy's English tokenizer's, so :func:`count_words` on a text equals
    the count on the pipeline's Doc of that text (the pipeline tokenises with the same tokenizer).
Content lemma
    The lower-cased lemma (the lower-cased form when there is no lemma) of a word that is
    alphabetic, longer than two characters, not a spaCy stop word and whose coarse POS is in
    :data:`CONTENT_POS`. Used for reflections (techniques) and reflective overlap (features).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from spacy.tokenizer import Tokenizer
from spacy.tokens import Doc, Span

from therapy_turns.nlp import word_tokenizer

#: the keys of every turn-level table: a turn is (session_id, turn); speaker travels with it
KEYS = ["session_id", "turn", "speaker"]
#: what identifies a turn (tables without a speaker column join on it)
TURN_ID = ["session_id", "turn"]
#: the two speaker roles of the turn table, in the order tables and figures show them
PATIENT, THERAPIST = "patient", "therapist"
SPEAKERS = (PATIENT, THERAPIST)
#: artefact flags left out of analyses by default (no speech to analyse)
DEFAULT_EXCLUDE = ("generation_error", "missing_answer")
#: coarse POS of content words (Universal Dependencies open classes; AUX excluded)
CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV"})
#: shortest content lemma (characters of the token)
CONTENT_MIN_CHARS = 3

_APOS = str.maketrans({"’": "'", "‘": "'"})


def is_clitic(form: str) -> bool:
    """Is ``form`` (any case, straight or curly apostrophe) a contraction clitic (``'s``,
    ``'m``, ``n't`` ...)?"""
    form = form.translate(_APOS).lower()
    return form.startswith("'") or form == "n't"


def is_word(form: str, is_punct: bool, is_space: bool) -> bool:
    """Is a token with text ``form`` and these flags a word (see the module docstring)?"""
    return not (is_punct or is_space or is_clitic(form))


def words(tokens: Doc | Span | Iterable) -> list:
    """The word tokens of a Doc or Span (or any iterable of spaCy tokens)."""
    return [t for t in tokens if is_word(t.text, t.is_punct, t.is_space)]


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    return word_tokenizer()


def count_words(text: str) -> int:
    """Words in ``text`` (tokenised by spaCy's English tokenizer; no parse needed)."""
    return len(words(_tokenizer()(text or "")))


def is_content(text: str, pos: str, is_alpha: bool, is_stop: bool) -> bool:
    """Is a token a content word whose lemma counts as a content lemma?"""
    return is_alpha and not is_stop and pos in CONTENT_POS and len(text) >= CONTENT_MIN_CHARS


def content_lemma(text: str, lemma: str) -> str:
    """The content lemma of a content token: its lower-cased lemma, else its lower-cased form."""
    return (lemma or text).lower()


def content_lemmas(tokens: Doc | Span | Iterable) -> set[str]:
    """The set of content lemmas of a Doc or Span (or any iterable of spaCy tokens)."""
    return {content_lemma(t.text, t.lemma_) for t in tokens
            if is_content(t.text, t.pos_, t.is_alpha, t.is_stop)}
