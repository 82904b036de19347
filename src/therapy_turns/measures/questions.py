"""The question detector of the feature table and the technique coder: a sentence is an ``"open"``
or ``"closed"`` question or ``None``. Rules: ``docs/codebook.md`` ("Question detector"); word
lists: ``lexicons/questions.yaml``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from spacy.tokens import Doc

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
    rhetorical = "|".join(re.escape(norm(p)) for p in sorted(raw["rhetorical"]))
    lex["rhetorical_re"] = re.compile(rf"\b(?:{rhetorical})\b")
    lex["open_prompt_seqs"] = sorted(tuple(norm(p).split()) for p in raw["open_prompts"])
    lex["quotes"] = lex["quotes_open"] | lex["quotes_close"] | lex["quotes_toggle"]
    return lex


def quote_mask(doc: Doc, texts: Sequence[str] | None = None) -> list[bool]:
    """Per token of ``doc`` (its token ``texts``): inside quotation marks, quotes included?"""
    lex = lexicon()
    texts = [t.text for t in doc] if texts is None else texts
    if lex["quotes"].isdisjoint(texts):
        return [False] * len(texts)
    depth, toggle, inside = 0, False, []
    for t in texts:
        depth += (t in lex["quotes_open"]) - (depth > 0 and t in lex["quotes_close"])
        toggle ^= t in lex["quotes_toggle"]
        inside.append(t in lex["quotes"] or depth > 0 or toggle)
    return inside


def _clause_heads(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> Iterator[int]:
    """The first unquoted, non-punctuation, non-marker token of each clause."""
    markers, need_head = lexicon()["discourse_markers"], True
    for i in range(start, end):
        if v.text[i] in _BOUNDARIES and not quoted[i]:
            need_head = True
        elif need_head and not (quoted[i] or v.punct[i] or v.space[i] or v.low[i] in markers):
            need_head = False
            yield i


def _starts_open_prompt(v: DocView, head: int) -> bool:
    seqs = lexicon()["open_prompt_seqs"]
    return any(tuple(v.low[head : head + len(s)]) == s for s in seqs if s[0] == v.low[head])


def sentence_question_type(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> str | None:
    """``open``, ``closed`` or None (no, quoted or rhetorical question) of ``start:end``."""
    lex = lexicon()
    marks = (i for i in range(start, end) if v.text[i].endswith("?") and not quoted[i])
    qmark = max(marks, default=None)
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
        elif w in lex["auxiliaries"]:
            j = head + 1 + (head + 1 < len(v.low) and v.low[head + 1] in ("n't", "not"))
            if j < len(v.low) and (v.low[j] in _SUBJECT_WORDS or v.pos[j] in _SUBJECT_POS):
                elicits = any(x in lex["elicitation_verbs"] for x in v.low[head + 1 : head + 4])
                return "open" if elicits else "closed"  # an inverted auxiliary
    return "open" if weak or (heads and _starts_open_prompt(v, heads[0])) else "closed"
