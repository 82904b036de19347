"""The question detector shared by the feature table and the technique coder: a sentence is an
``"open"`` or ``"closed"`` question or ``None``. Rules: ``docs/codebook.md`` ("Question
detector"); word lists: ``lexicons/questions.yaml`` (MITI 4.2.1 / MISC 2.5 definitions)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from spacy.tokens import Doc, Span

from therapy_turns.measures.views import DocView, norm
from therapy_turns.paths import LEXICON_DIR, read_yaml

_BOUNDARIES = {",", ";", ":", "—", "–", "-", "--", "…", "(", ")"}
_SUBJECT_POS = {"PRON", "PROPN", "NOUN", "DET"}
_SUBJECT_WORDS = set(
    "i you we they he she it that this there those these anything anyone someone something "
    "everything".split()
)
_WEAK_WH = {"when", "where"}  # may be subordinators: decide only if no other head does


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    """The question lexicon (``lexicons/questions.yaml``), with word lists as lower-case sets."""
    raw = read_yaml(LEXICON_DIR / "questions.yaml")
    lex: dict[str, Any] = {k: {norm(w) for w in v} for k, v in raw.items()}
    lex["rhetorical_re"] = re.compile(
        r"\b(?:" + "|".join(re.escape(norm(p)) for p in sorted(raw["rhetorical"])) + r")\b"
    )
    lex["open_prompt_seqs"] = sorted(tuple(norm(p).split()) for p in raw["open_prompts"])
    lex["quotes"] = lex["quotes_open"] | lex["quotes_close"] | lex["quotes_toggle"]
    return lex


def quote_mask(doc: Doc, texts: Sequence[str] | None = None) -> list[bool]:
    """Per token of ``doc`` (or of the token ``texts``): is it inside quotation marks (quote
    characters included)? Depth is counted over the whole Doc; a straight ``"`` toggles."""
    lex = lexicon()
    texts = [t.text for t in doc] if texts is None else list(texts)
    if lex["quotes"].isdisjoint(texts):
        return [False] * len(texts)
    depth, toggle, inside = 0, False, []
    for t in texts:
        depth += (t in lex["quotes_open"]) - (depth > 0 and t in lex["quotes_close"])
        toggle ^= t in lex["quotes_toggle"]
        inside.append(t in lex["quotes"] or depth > 0 or toggle)
    return inside


def _clause_heads(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> Iterator[int]:
    """The first token of each clause (cut at unquoted commas, dashes ...) that is not quoted,
    punctuation or a discourse marker."""
    markers = lexicon()["discourse_markers"]
    need_head = True
    for i in range(start, end):
        if v.text[i] in _BOUNDARIES and not quoted[i]:
            need_head = True
        elif need_head and not (quoted[i] or v.punct[i] or v.space[i] or v.low[i] in markers):
            need_head = False
            yield i


def _is_inverted(v: DocView, aux: int) -> bool:
    """Is token ``aux`` followed by a subject (after an optional negation)?"""
    j = aux + 1 + (aux + 1 < len(v.low) and v.low[aux + 1] in ("n't", "not"))
    return j < len(v.low) and (v.low[j] in _SUBJECT_WORDS or v.pos[j] in _SUBJECT_POS)


def _starts_open_prompt(v: DocView, head: int) -> bool:
    return any(
        tuple(v.low[head : head + len(seq)]) == seq
        for seq in lexicon()["open_prompt_seqs"]
        if seq[0] == v.low[head]
    )


def question_type(sent: Span, quoted: Sequence[bool] | None = None) -> str | None:
    """:func:`sentence_question_type` of a spaCy sentence (``quoted``: :func:`quote_mask`)."""
    v = DocView.of(sent.doc)
    quoted = quote_mask(sent.doc, v.text) if quoted is None else quoted
    return sentence_question_type(v, sent.start, sent.end, quoted)


def sentence_question_type(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> str | None:
    """``"open"``, ``"closed"`` or None for the sentence ``start:end`` of the Doc of ``v``;
    None also for quoted and rhetorical questions."""
    lex = lexicon()
    qmark = max(
        (i for i in range(start, end) if v.text[i].endswith("?") and not quoted[i]), default=None
    )
    if qmark is None:  # only an elicitation opener ("Tell me more.") makes a question
        head = next(_clause_heads(v, start, end, quoted), None)
        return "open" if head is not None and _starts_open_prompt(v, head) else None
    said = norm(" ".join(v.text[i] for i in range(start, qmark) if not quoted[i]))
    if lex["rhetorical_re"].search(said.replace(" n't", "n't").replace(" 's", "'s")):
        return None
    heads = list(_clause_heads(v, start, qmark, quoted))
    weak = False
    for head in reversed(heads):  # the last decisive clause head wins
        w = v.low[head]
        if w in lex["wh_words"]:
            if w not in _WEAK_WH:
                return "open"
            weak = True
        elif w in lex["auxiliaries"] and _is_inverted(v, head):
            elicits = any(x in lex["elicitation_verbs"] for x in v.low[head + 1 : head + 4])
            return "open" if elicits else "closed"
    return "open" if weak or (heads and _starts_open_prompt(v, heads[0])) else "closed"


def count_questions(
    doc: Doc,
    quoted: Sequence[bool] | None = None,
    sentences: Iterable[tuple[int, int]] | None = None,
) -> dict[str, int]:
    """Counts of ``open``, ``closed`` and ``total`` questions over the sentences of ``doc``."""
    counts = {"open": 0, "closed": 0, "total": 0}
    if len(doc) == 0:
        return counts
    v = DocView.of(doc)
    quoted = quote_mask(doc, v.text) if quoted is None else quoted
    for start, end in sentences or [(s.start, s.end) for s in doc.sents]:
        kind = sentence_question_type(v, start, end, quoted)
        if kind is not None:
            counts[kind] += 1
            counts["total"] += 1
    return counts
