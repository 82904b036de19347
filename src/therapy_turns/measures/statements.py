"""Statement rules of the technique coder (MITI 4.2.1): directions, reflections, simple vs
complex. A therapist sentence no cue rule codes is tested here; the decision rules and their
manual sections are in ``docs/codebook.md``."""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

from therapy_turns.measures.views import DocView
from therapy_turns.schema import is_content

LEAD_SKIP = frozenset({"just", "now", "so", "and", "then", "okay", "ok", "well", "first", "next",
                       "also", "again", "gently", "simply", "slowly", "um", "uh", "right", "yeah",
                       "oh", "alright", "but", ","})
_DIRECTION_PHRASES = ("let's", "i'd like you to", "i want you to", "i would like you to")
_YOU = frozenset({"you", "your", "yours", "yourself", "you're", "you've", "you'd", "you'll"})
_ACKNOWLEDGE = frozenset({"good", "great", "okay", "fine", "sure", "alright", "right", "cool",
                          "lovely", "yeah", "yes"})


@dataclass(frozen=True)
class ReflectionSettings:
    """Thresholds of the reflection rules (``settings`` of ``technique_patterns.yaml``)."""

    min_overlap_plain: float  # share of content lemmas said by the client (no lead-in, no "you")
    min_content_plain: int  # content lemmas such a restatement needs
    complex_min_novelty: float  # share of new content lemmas that makes a reflection complex
    complex_min_content: int  # content lemmas a statement needs before novelty can count
    statement_default: bool = True  # any other uncoded statement about the client's world
    generic_min_content: int = 5  # a longer statement sharing no client word is information


def _first_word(v: DocView, start: int, end: int) -> int | None:
    return next((i for i in range(start, end)
                 if not (v.punct[i] or v.space[i] or v.low[i] in LEAD_SKIP)), None)


def imperative(v: DocView, start: int, end: int) -> bool:
    """Does the sentence ``start:end`` open with an imperative verb (not ``let``/``be``, not
    ``you know``)?"""
    i = _first_word(v, start, end)
    return i is not None and v.tag[i] == "VB" and v.low[i] not in ("be", "let") \
        and not (i > 0 and v.low[i - 1] == "you")


def is_direction(v: DocView, start: int, end: int) -> bool:
    """Does the sentence open with a direction (imperative, ``let's``, ``I'd like you to``)?"""
    i = _first_word(v, start, end)
    text = v.span_text(start, end).lower().replace("’", "'")
    return i is not None and (v.low[i] in ("let", "let's") or imperative(v, start, end)
                              or any(p in text for p in _DIRECTION_PHRASES))


def content_lemmas(v: DocView, start: int, end: int) -> set[str]:
    """The content lemmas (:func:`therapy_turns.schema.is_content`) of tokens ``start:end``."""
    cut = slice(start, end)
    return {lemma for lemma, alpha, stop, p, text in zip(
        v.lemma_lower[cut], v.alpha[cut], v.stop[cut], v.pos[cut], v.text[cut], strict=True)
            if is_content(text, p, alpha, stop)}


def addresses_client(v: DocView, start: int, end: int) -> bool:
    """Does the sentence speak of the client (``you``/``your`` ...), the fillers ``you know`` /
    ``you see`` aside?"""
    for i in range(start, end):
        if v.low[i] not in _YOU:
            continue
        after = v.low[i + 2] if i + 2 < end else ""
        filler = v.low[i] == "you" and i + 1 < end and v.low[i + 1] in ("know", "see") and (
            after in (",", "", ".", "um", "uh", "like", "i") or v.punct[min(i + 2, end - 1)])
        if not filler:
            return True
    return False


def reflection(v: DocView, start: int, end: int, client: set[str] | None, stem: str | None,
               st: ReflectionSettings, stem_is_complex: bool = False, after_input: bool = False
               ) -> str | None:
    """The rule id if the statement ``start:end`` reflects the client turn (content lemmas
    ``client``; None: no client turn, only a lead-in ``stem`` counts), ``"info"`` if it is
    general information, else None. ``after_input``: the turn gives information or advice, so
    only a lead-in or repeated client words make a reflection."""
    own = any(v.low[i] in ("i", "we") and v.dep[i] in ("nsubj", "nsubjpass", "expl")
              for i in range(start, end))  # the therapist speaks of themselves
    if stem is not None and (stem_is_complex or not own):
        return stem
    if client is None or own:
        return None
    content = content_lemmas(v, start, end) - _ACKNOWLEDGE
    if not content:  # "Good.", "Okay, fine.": MISC 2.5 Facilitate
        return None
    overlap = len(content & client) / len(content)
    if overlap >= st.min_overlap_plain and (len(content) >= st.min_content_plain
                                            or overlap == 1.0):
        return f"refl_overlap_{overlap:.2f}"
    if after_input:
        return None
    you = addresses_client(v, start, end)
    if not overlap and not you and len(content) >= st.generic_min_content:
        return "info"
    return "refl_you" if you else "refl_statement" if st.statement_default else None


def complexity(v: DocView, start: int, end: int, client: set[str], complex_stem: bool,
               cues: Sequence[str], st: ReflectionSettings, client_words: Set[str] = frozenset()
               ) -> tuple[str, str]:
    """``(simple|complex, reason)`` of a reflection: a complex lead-in, a complex cue (texts
    ``cues``) the client did not say (``client_words``), or mostly new content words; else
    simple (MITI 4.2.1: when in doubt, simple)."""
    if complex_stem:
        return "complex", "stem"
    new_cues = [c for c in cues
                if not all(w in client_words or w in client for w in c.lower().split())]
    if new_cues:
        return "complex", f"cue:{new_cues[0]}"
    content = content_lemmas(v, start, end)
    if len(content) >= st.complex_min_content:
        novelty = 1.0 - len(content & client) / len(content)
        if novelty >= st.complex_min_novelty:
            return "complex", f"novel_{novelty:.2f}"
    return "simple", "default"
