"""Token views of parsed Docs: every attribute the table functions read, taken once per Doc.

Reading ``tok.lower_`` or ``doc.text`` builds a spaCy ``Token`` object per token on every access;
on corpora of thousands of sessions that costs as much as the analyses themselves. A
:class:`DocView` reads the token attributes once with :meth:`Doc.to_array` and keeps them as
plain lists (string ids resolved through a shared, bounded memo), which the feature, emotion and
technique code index instead of iterating the Doc.

Within :func:`shared_views` every :meth:`DocView.of` of the same Doc returns the same view, so
the table functions of one analysis chunk read each Doc once between them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from spacy.tokens import Doc

__all__ = ["DocView", "lookup_strings", "norm", "shared_views"]

_APOS = str.maketrans({"’": "'", "‘": "'"})

_ATTRS = ["ORTH", "LOWER", "LEMMA", "POS", "TAG", "DEP", "HEAD", "MORPH", "IS_PUNCT", "IS_SPACE",
          "IS_STOP", "SENT_START", "SPACY", "IS_ALPHA", "IS_UPPER", "IDX"]
#: memo entries kept before a cache is emptied (string ids are the same in every vocab, so the
#: memo is shared; the bound keeps it small on corpora with very large vocabularies)
CACHE_MAX = 500_000
_STRINGS: dict[int, str] = {0: ""}  # string id -> string
_NORMS: dict[int, str] = {}  # string id -> norm(string)
_LOWERS: dict[int, str] = {}  # string id -> string.lower()
_MORPHS: dict[int, tuple[bool, str | None]] = {}  # morph id -> (finite, Past|Pres|None)
_local = threading.local()  # .shared: the current shared_views() registry of this thread


def norm(text: str) -> str:
    """Lower case with curly apostrophes made straight (how word lists are compared)."""
    return text.translate(_APOS).lower()


def lookup_strings(keys: Sequence[int], strings: Any, cache: dict[int, str] = _STRINGS,
                   fn: Callable[[str], str] | None = None) -> list[str]:
    """The strings (``fn`` applied, if given) of string-store ids ``keys``, memoised in
    ``cache`` (emptied when it holds more than :data:`CACHE_MAX` entries)."""
    missing = set(keys).difference(cache)
    if missing:
        if len(cache) > CACHE_MAX:
            cache.clear()
            missing = set(keys)
        for h in missing:
            cache[h] = strings[h] if fn is None else fn(strings[h])
    return list(map(cache.__getitem__, keys))


@dataclass
class DocView:
    """The token attributes of one Doc, read once with :meth:`Doc.to_array` (no Token objects).

    The values are exactly the Token attributes they stand for: ``text`` = ``tok.text``,
    ``lower`` = ``tok.lower_``, ``low`` = ``norm(tok.text)``, ``lemma`` = ``norm(tok.lemma_)``,
    ``pos``/``tag``/``dep`` = ``tok.pos_``/``tag_``/``dep_``, ``head`` = ``tok.head.i - tok.i``,
    ``punct``/``space``/``stop``/``alpha``/``upper`` = ``tok.is_*``, ``idx`` = ``tok.idx``,
    ``ws`` = ``tok.whitespace_``, ``sent_start`` = ``SENT_START == 1`` (as spaCy's Matcher
    reads ``IS_SENT_START``); ``word``: neither punctuation, space nor a clitic (``'s``,
    ``n't``).
    """

    doc: Doc
    text: list[str]
    lower: list[str]
    low: list[str]
    lemma: list[str]
    lemma_ids: list[int]
    pos: list[str]
    tag: list[str]
    dep: list[str]
    head: np.ndarray
    morph: list[int]
    punct: list[bool]
    space: list[bool]
    stop: list[bool]
    alpha: list[bool]
    upper: list[bool]
    idx: list[int]
    sent_start: list[bool]
    ws: list[str]
    word: list[bool]

    @classmethod
    def of(cls, doc: Doc) -> DocView:
        """The view of ``doc`` (the one already made, inside :func:`shared_views`)."""
        shared = getattr(_local, "shared", None)
        if shared is not None:
            v = shared.get(id(doc))
            if v is None or v.doc is not doc:
                v = shared[id(doc)] = cls._read(doc)
            return v
        return cls._read(doc)

    @classmethod
    def _read(cls, doc: Doc) -> DocView:
        strings = doc.vocab.strings
        arr = doc.to_array(_ATTRS)
        cols = arr.T.tolist() if len(doc) else [[] for _ in _ATTRS]
        (orth, lower, lemma, pos, tag, dep, _, morph, punct, space, stop, sent_start, ws, alpha,
         upper, idx) = cols
        low = lookup_strings(orth, strings, _NORMS, norm)
        punct_b = [bool(p) for p in punct]
        space_b = [bool(p) for p in space]
        word = [not (p or s or lw.startswith("'") or lw == "n't")
                for p, s, lw in zip(punct_b, space_b, low, strict=True)]
        return cls(doc=doc, text=lookup_strings(orth, strings),
                   lower=lookup_strings(lower, strings), low=low,
                   lemma=lookup_strings(lemma, strings, _NORMS, norm), lemma_ids=lemma,
                   pos=lookup_strings(pos, strings), tag=lookup_strings(tag, strings),
                   dep=lookup_strings(dep, strings),
                   head=arr[:, 6].view(np.int64) if len(doc) else np.zeros(0, np.int64),
                   morph=morph, punct=punct_b, space=space_b, stop=[bool(s) for s in stop],
                   alpha=[bool(a) for a in alpha], upper=[bool(u) for u in upper], idx=idx,
                   sent_start=[s == 1 for s in sent_start], ws=[" " if w else "" for w in ws],
                   word=word)

    @cached_property
    def lemma_lower(self) -> list[str]:
        """``tok.lemma_.lower()`` (curly apostrophes kept, unlike ``lemma``)."""
        return lookup_strings(self.lemma_ids, self.doc.vocab.strings, _LOWERS, str.lower)

    @cached_property
    def doc_text(self) -> str:
        """``doc.text`` (spaCy rebuilds it through a Token object per token on every access)."""
        return "".join([t + w for t, w in zip(self.text, self.ws, strict=True)])

    def span_text(self, lo: int, hi: int) -> str:
        """``doc[lo:hi].text`` (a slice of :attr:`doc_text` by the tokens' offsets)."""
        if hi <= lo:
            return ""
        return self.doc_text[self.idx[lo]:self.idx[hi - 1] + len(self.text[hi - 1])]

    @property
    def match_attrs(self) -> tuple[list[str], list[str], list[bool], list[bool]]:
        """The token attributes :class:`~therapy_turns.matching.PatternSet` reads."""
        return self.lower, self.pos, self.sent_start, self.punct

    @cached_property
    def low_types(self) -> set[str]:
        """The distinct ``low`` values."""
        return set(self.low)

    @cached_property
    def lemma_types(self) -> set[str]:
        """The distinct ``lemma`` values."""
        return set(self.lemma)

    @cached_property
    def lower_types(self) -> set[str]:
        """The distinct ``lower`` values."""
        return set(self.lower)

    def tense(self, i: int) -> tuple[bool, str | None]:
        """``(finite, tense)`` of token ``i``: ``"Fin" in VerbForm`` and Past/Pres (or None)."""
        h = self.morph[i]
        out = _MORPHS.get(h)
        if out is None:
            m = self.doc[i].morph
            tense = m.get("Tense")
            out = ("Fin" in m.get("VerbForm"),
                   "Past" if "Past" in tense else "Pres" if "Pres" in tense else None)
            _MORPHS[h] = out
        return out


@contextmanager
def shared_views() -> Iterator[None]:
    """Within the block, :meth:`DocView.of` makes one view per Doc and hands the same one to
    every caller; the views (and the Docs they hold) are dropped when the outermost block
    ends. The registry is per thread (threads running other chunks keep their own)."""
    outer = getattr(_local, "shared", None)
    _local.shared = {} if outer is None else outer
    try:
        yield
    finally:
        _local.shared = outer
