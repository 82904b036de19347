"""The question detector shared by the feature table and the technique coder.

:func:`question_type` classifies one sentence (a spaCy ``Span``) as ``"open"``, ``"closed"`` or
``None`` (not a question put to the other speaker). Word lists live in
``lexicons/questions.yaml`` (rationale: MITI 4.2.1 open/closed question definitions).

Rules, in order (all matching is on lower-cased token text; straight and curly apostrophes are
equivalent):

1. **Question mark.** A sentence is a question candidate if it holds a ``?`` that is *not inside
   quotation marks*. Quote depth is counted over the whole Doc, so a quotation opened in an
   earlier sentence still counts. A ``?`` inside quotes is quoted or role-played speech
   (``ask yourself: "What is this?"``) → ``None``.
2. **Rhetorical.** A candidate whose text (up to the ``?``) contains a rhetorical phrase
   (``"supposed to help"``, ``"what's the point"``, ``"why bother"`` ...) → ``None``. These are
   challenges, counted by the ``marker_skeptic`` patterns of the feature table instead.
3. **Clause heads.** The text up to the ``?`` is cut into clauses at unquoted commas, semicolons,
   colons and dashes; a clause's head is its first token that is neither punctuation nor a
   discourse marker (``so``, ``and``, ``okay`` ...). Heads are read from the *last* clause back to
   the first; the first decisive head wins:

   - a wh-word other than ``when``/``where`` (``what, how, why, who, which`` ...) → ``"open"``;
   - an auxiliary or modal followed (after an optional ``n't``/``not``) by a subject (a pronoun,
     noun, proper noun or determiner: subject-auxiliary inversion) → ``"closed"`` (yes/no and tag
     questions: ``"Do you ...?"``, ``"..., isn't it?"``), except that an elicitation verb
     (``tell, describe, say, explain`` ...) within the next three tokens makes it ``"open"``
     (``"Can you tell me ...?"``, as MITI codes it). A yes/no frame stays closed even when it
     embeds a wh-clause (``"Can you think of what ...?"``).
   - ``when``/``where`` can be subordinators (``"Is it hard, when that happens?"``), so they
     decide (``"open"``) only if no other head does.
4. Otherwise a candidate starting with an elicitation phrase (``"Tell me more?"``) is ``"open"``,
   and any other candidate (a declarative question, ``"You mean the job?"``, or ``"..., right?"``)
   is ``"closed"``.
5. **Without a question mark**, a sentence whose first head starts an elicitation phrase
   (``"Tell me more about that."``, ``"Describe the feeling."``) is ``"open"``; anything else is
   ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from spacy.tokens import Doc, Span

from therapy_turns.measures.views import DocView, norm
from therapy_turns.paths import LEXICON_DIR, read_yaml

QUESTION_TYPES = ("open", "closed")
_BOUNDARIES = {",", ";", ":", "—", "–", "-", "--", "…", "(", ")"}
_SUBJECT_POS = {"PRON", "PROPN", "NOUN", "DET"}
_SUBJECT_WORDS = {"i", "you", "we", "they", "he", "she", "it", "that", "this", "there", "those",
                  "these", "anything", "anyone", "someone", "something", "everything"}
_WEAK_WH = {"when", "where"}
_NEGATORS = {"n't", "not"}


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    """The question lexicon (``lexicons/questions.yaml``), with word lists as lower-case sets."""
    path = LEXICON_DIR / "questions.yaml"
    raw = read_yaml(path)
    lex: dict[str, Any] = {k: {norm(w) for w in v} for k, v in raw.items()}
    lex["rhetorical_re"] = re.compile(
        r"\b(?:" + "|".join(re.escape(norm(p)) for p in sorted(raw["rhetorical"])) + r")\b")
    lex["open_prompt_seqs"] = sorted(tuple(norm(p).split()) for p in raw["open_prompts"])
    lex["quotes"] = lex["quotes_open"] | lex["quotes_close"] | lex["quotes_toggle"]
    return lex


def _quote_flags(texts: Iterable[str]) -> list[bool]:
    """For each token text in order: is the token inside quotation marks?"""
    lex = lexicon()
    texts = list(texts)
    if lex["quotes"].isdisjoint(texts):
        return [False] * len(texts)
    opening, closing, toggling = lex["quotes_open"], lex["quotes_close"], lex["quotes_toggle"]
    depth, toggle, inside = 0, False, []
    for t in texts:
        if t in opening:
            inside.append(True)
            depth += 1
            continue
        if t in closing:
            inside.append(True)
            depth = max(0, depth - 1)
            continue
        if t in toggling:
            inside.append(True)
            toggle = not toggle
            continue
        inside.append(depth > 0 or toggle)
    return inside


def _clause_heads(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> list[int]:
    """The head token (index in the Doc) of each clause in tokens ``start:end`` of the Doc of
    ``v`` (see the module docstring, rule 3)."""
    markers = lexicon()["discourse_markers"]
    text, low, punct, space = v.text, v.low, v.punct, v.space
    heads: list[int] = []
    need_head = True
    for i in range(start, end):
        if text[i] in _BOUNDARIES and not quoted[i]:
            need_head = True
            continue
        if not need_head or quoted[i]:
            continue
        if punct[i] or space[i] or low[i] in markers:
            continue
        heads.append(i)
        need_head = False
    return heads


def _first_head(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> int | None:
    """``_clause_heads(v, start, end, quoted)[0]`` (or None), without reading past it: the
    first token that is not quoted, not a clause boundary, punctuation, whitespace or discourse
    marker."""
    markers = lexicon()["discourse_markers"]
    text, low, punct, space = v.text, v.low, v.punct, v.space
    for i in range(start, end):
        if quoted[i] or text[i] in _BOUNDARIES or punct[i] or space[i] or low[i] in markers:
            continue
        return i
    return None


def _is_inverted(v: DocView, aux: int) -> bool:
    """Is token ``aux`` followed by a subject (after an optional negation)?"""
    j = aux + 1
    if j < len(v.low) and v.low[j] in _NEGATORS:
        j += 1
    if j >= len(v.low):
        return False
    return v.low[j] in _SUBJECT_WORDS or v.pos[j] in _SUBJECT_POS


def _elicits(v: DocView, aux: int) -> bool:
    verbs = lexicon()["elicitation_verbs"]
    return any(w in verbs for w in v.low[aux + 1: aux + 4])


def _starts_open_prompt(v: DocView, head: int) -> bool:
    first = v.low[head]
    for seq in lexicon()["open_prompt_seqs"]:
        if seq and seq[0] != first:  # cannot match: skip building the token window
            continue
        if tuple(v.low[head: head + len(seq)]) == seq:
            return True
    return False


def quote_mask(doc: Doc, texts: Sequence[str] | None = None) -> list[bool]:
    """Per token of ``doc``: is it inside quotation marks (quote characters included)?
    ``texts``: the token texts of ``doc``, if the caller has them."""
    return _quote_flags(tok.text for tok in doc) if texts is None else _quote_flags(texts)


def question_type(sent: Span, quoted: Sequence[bool] | None = None) -> str | None:
    """Classify ``sent`` as an ``"open"`` or ``"closed"`` question, or ``None`` (no question).

    ``None`` also for questions inside quotation marks (role-played or quoted speech) and for
    rhetorical questions such as "how is that supposed to help?" (see the module docstring for
    the rules). Needs only token texts and coarse POS (``pos_``; used as a fallback for subjects).
    ``quoted``: :func:`quote_mask` of ``sent.doc`` if the caller has it (saves recounting the
    quotation marks from the start of the Doc for every sentence). The tokens are read from the
    Doc's :class:`~therapy_turns.measures.views.DocView` (see :func:`sentence_question_type`).
    """
    v = DocView.of(sent.doc)
    if quoted is None:
        quoted = _quote_flags(v.text[:sent.end])
    return sentence_question_type(v, sent.start, sent.end, quoted)


def sentence_question_type(v: DocView, start: int, end: int, quoted: Sequence[bool]
                           ) -> str | None:
    """:func:`question_type` of the sentence ``start:end`` of the Doc of ``v`` (its
    :class:`~measures.views.DocView`); ``quoted``: :func:`quote_mask` of the Doc (at least
    up to ``end``)."""
    lex = lexicon()
    text = v.text
    qmark = None
    for i in range(start, end):
        if text[i].endswith("?") and not quoted[i]:
            qmark = i
    if qmark is None:  # only the first clause head matters (rule 5)
        head = _first_head(v, start, end, quoted)
        return "open" if head is not None and _starts_open_prompt(v, head) else None
    heads = _clause_heads(v, start, qmark, quoted)
    said = norm(" ".join([text[i] for i in range(start, qmark) if not quoted[i]]))
    said = said.replace(" n't", "n't").replace(" 's", "'s")
    if lex["rhetorical_re"].search(said):
        return None
    weak = False
    for head in reversed(heads):
        w = v.low[head]
        if w in lex["wh_words"]:
            if w in _WEAK_WH:
                weak = True
                continue
            return "open"
        if w in lex["auxiliaries"] and _is_inverted(v, head):
            return "open" if _elicits(v, head) else "closed"
    if weak:
        return "open"
    if heads and _starts_open_prompt(v, heads[0]):
        return "open"
    return "closed"


def count_questions(doc: Doc, quoted: Sequence[bool] | None = None,
                    sentences: Iterable[tuple[int, int]] | None = None) -> dict[str, int]:
    """Counts of ``open``, ``closed`` and ``total`` questions over the sentences of ``doc``
    (``quoted``: :func:`quote_mask` of the Doc and ``sentences``: the ``(start, end)`` of
    ``doc.sents``, if the caller already has them)."""
    counts = {"open": 0, "closed": 0, "total": 0}
    if len(doc) == 0:
        return counts
    v = DocView.of(doc)
    if quoted is None:
        quoted = _quote_flags(v.text)
    if sentences is None:
        sentences = [(s.start, s.end) for s in doc.sents]
    for start, end in sentences:
        kind = sentence_question_type(v, start, end, quoted)
        if kind is not None:
            counts[kind] += 1
            counts["total"] += 1
    return counts
