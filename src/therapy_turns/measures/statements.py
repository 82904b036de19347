"""Statement rules of the technique coder: directions and reflections (MITI 4.2.1).

A therapist sentence that is not a question is a *statement*. The technique coder
(:mod:`measures.techniques`) first applies the cue rules of ``technique_patterns.yaml`` (affirm,
giving information, persuade ...); a statement none of them codes is tested here:

* :func:`is_direction`: does it open with an imperative, ``let's`` or ``I'd like you to``? (MISC 2.5
  Direct: a direction with no other code is Persuade.)
* :func:`reflection`: does it convey what the client said or meant? MITI 4.2.1 defines a
  reflection by what it does, not by a lead-in: "It sounds like ...", "Part of you ...", but also
  a plain declarative restatement ("So it's the mornings that are hardest.", "Two years.").
  A statement is a reflection when it has a reflection lead-in, or (without one) when the
  therapist is not speaking of themselves (no ``I``/``we`` subject) and either addresses the
  client's experience (``you``/``your``, the filler "you know" aside) or repeats the client's
  content words.
* :func:`complexity`: simple or complex. Complex when it adds meaning (MITI 4.2.1 Complex
  Reflection): a complex lead-in, a feeling/value/metaphor cue the client did not say, or mostly
  new content words in a longer statement; otherwise simple (MITI's default when in doubt).
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass

from spacy.tokens import Span

from therapy_turns.measures.views import DocView
from therapy_turns.schema import is_content

LEAD_SKIP = frozenset({"just", "now", "so", "and", "then", "okay", "ok", "well", "first", "next",
                       "also", "again", "gently", "simply", "slowly", "um", "uh", "right", "yeah",
                       "oh", "alright", "but", ","})
_DIRECTION_PHRASES = ("i'd like you to", "i want you to", "i would like you to")
_OWN_SUBJECTS = frozenset({"i", "we"})
_SUBJECT_DEPS = frozenset({"nsubj", "nsubjpass", "expl"})
_YOU = frozenset({"you", "your", "yours", "yourself", "you're", "you've", "you'd", "you'll"})
_FILLER_AFTER_YOU = frozenset({"know", "see"})
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
    generic_min_content: int = 99


def first_word(v: DocView, start: int, end: int) -> int | None:
    """Index of the first token of ``start:end`` that is not punctuation, space or a discourse
    marker (``so``, ``okay``, ``um`` ...), or None."""
    return next((i for i in range(start, end)
                 if not (v.punct[i] or v.space[i] or v.low[i] in LEAD_SKIP)), None)


def is_direction(sent: Span, view: DocView | None = None) -> bool:
    """Does ``sent`` open with a direction (imperative verb, ``let's``, ``I'd like you to``)?
    ``view``: :class:`~therapy_turns.measures.views.DocView` of ``sent.doc``, if the caller has
    it."""
    v = view or DocView.of(sent.doc)
    first = first_word(v, sent.start, sent.end)
    if first is None:
        return False
    if v.low[first] in ("let", "let's"):
        return True
    if v.tag[first] == "VB" and v.low[first] != "be" and not _after_you(v, first):
        return True
    text = v.span_text(sent.start, sent.end).lower().replace("’", "'")
    return "let's" in text or any(p in text for p in _DIRECTION_PHRASES)


def imperative(v: DocView, start: int, end: int) -> bool:
    """Does the sentence ``start:end`` open with an imperative verb (not ``let's``)?"""
    first = first_word(v, start, end)
    return first is not None and v.tag[first] == "VB" and v.low[first] not in ("be", "let") \
        and not _after_you(v, first)


def _after_you(v: DocView, i: int) -> bool:
    """Is token ``i`` right after ``you`` (``you know``: no imperative)?"""
    return i > 0 and v.low[i - 1] == "you"


def content_lemmas(v: DocView, start: int, end: int) -> set[str]:
    """The content lemmas (:func:`therapy_turns.schema.content_lemmas`: alphabetic, not a stop
    word, content POS, at least 3 characters) of tokens ``start:end`` of the Doc of ``v``."""
    cut = slice(start, end)
    return {lemma for lemma, alpha, stop, p, text in zip(
        v.lemma_lower[cut], v.alpha[cut], v.stop[cut], v.pos[cut], v.text[cut], strict=True)
            if is_content(text, p, alpha, stop)}


def addresses_client(v: DocView, start: int, end: int) -> bool:
    """Does the sentence speak of the client (``you``/``your`` ...), not counting the fillers
    ``you know`` / ``you see``?"""
    for i in range(start, end):
        w = v.low[i]
        if w not in _YOU:
            continue
        nxt = v.low[i + 1] if i + 1 < end else ""
        if w == "you" and nxt in _FILLER_AFTER_YOU:
            after = v.low[i + 2] if i + 2 < end else ""
            if after in (",", "", ".", "um", "uh", "like", "i") or v.punct[min(i + 2, end - 1)]:
                continue
        return True
    return False


def speaks_of_self(v: DocView, start: int, end: int) -> bool:
    """Is ``I`` or ``we`` a subject in the sentence (the therapist speaking of themselves)?"""
    return any(v.low[i] in _OWN_SUBJECTS and v.dep[i] in _SUBJECT_DEPS for i in range(start, end))


def reflection(v: DocView, start: int, end: int, client: set[str] | None, stem: str | None,
               st: ReflectionSettings, stem_is_complex: bool = False, after_input: bool = False
               ) -> str | None:
    """The rule id if the statement ``start:end`` reflects the client turn, else None.

    ``client``: content lemmas of the client turn before (None: no client turn; then only a
    lead-in makes a reflection, e.g. in a coded table without client context). ``stem``: the id
    of a reflection lead-in rule that matched in the statement (a simple lead-in such as
    "So ..." does not count when the therapist speaks of themselves). ``after_input``: an
    earlier sentence of the turn gave information, advice or an exercise step; the statement
    then continues the input and is a reflection only by lead-in, ``you`` or repeated client
    words."""
    own = speaks_of_self(v, start, end)
    if stem is not None and (stem_is_complex or not own):
        return stem  # a lead-in marks a reflection even where the client turn is not at hand
    if client is None or own:
        return None
    content = content_lemmas(v, start, end) - _ACKNOWLEDGE
    if not content:  # "Good.", "Okay, fine.": MISC 2.5 Facilitate, no reflection
        return None
    overlap = len(content & client) / len(content) if client else 0.0
    if overlap >= st.min_overlap_plain and (len(content) >= st.min_content_plain
                                            or overlap == 1.0):
        return f"refl_overlap_{overlap:.2f}"
    if after_input:
        return None
    you = addresses_client(v, start, end)
    if not overlap and len(content) >= st.generic_min_content and not you:
        return "info"
    if you:
        return "refl_you"
    if st.statement_default:
        return "refl_statement"
    return None


def complexity(v: DocView, start: int, end: int, client: set[str], complex_stem: bool,
               cues: Sequence[str], st: ReflectionSettings, client_words: Set[str] = frozenset()
               ) -> tuple[str, str]:
    """``(simple|complex, reason)`` of a reflection (MITI 4.2.1; simple when in doubt).
    ``cues``: the texts of the complex-cue matches in the sentence (feeling, value, metaphor,
    double-sided, inference words); a cue whose words the client said (``client_words``: their
    lower-case words and lemmas) does not count."""
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
