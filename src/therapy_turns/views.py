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
import pandas as pd
from spacy.tokens import Doc, MorphAnalysis

__all__ = ["ATTRS", "DocView", "Tokens", "lookup_norms", "lookup_strings", "morph_tense", "norm",
           "shared_views"]

_APOS = str.maketrans({"’": "'", "‘": "'"})

#: the columns of :attr:`DocView.arr` (``Doc.to_array`` attributes), in order
ATTRS = ("ORTH", "LOWER", "LEMMA", "POS", "TAG", "DEP", "HEAD", "MORPH", "IS_PUNCT", "IS_SPACE",
          "IS_STOP", "SENT_START", "SPACY", "IS_ALPHA", "IS_UPPER", "IDX")
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


def morph_tense(vocab: Any, key: int) -> tuple[bool, str | None]:
    """``(finite, tense)`` of the morphological analysis ``key``: ``"Fin" in VerbForm`` and
    ``"Past"``/``"Pres"`` from ``Tense`` (Past first), or None; memoised."""
    out = _MORPHS.get(key)
    if out is None:
        m = MorphAnalysis.from_id(vocab, key)
        tense = m.get("Tense")
        out = _MORPHS[key] = ("Fin" in m.get("VerbForm"),
                              "Past" if "Past" in tense else "Pres" if "Pres" in tense else None)
    return out


def lookup_norms(keys: Sequence[int], strings: Any) -> list[str]:
    """:func:`norm` of the strings of ids ``keys`` (memoised like :func:`lookup_strings`)."""
    return lookup_strings(keys, strings, _NORMS, norm)


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
    ``n't``). ``arr`` is the ``Doc.to_array(ATTRS)`` array they were read from (string ids).
    """

    doc: Doc
    arr: np.ndarray
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
        return cls.many([doc])[0]

    @classmethod
    def many(cls, docs: Sequence[Doc]) -> list[DocView]:
        """The views of ``docs``, read together (inside :func:`shared_views`, the views already
        made are reused and the new ones kept): each string column is resolved once per
        distinct string id over all the Docs, not per Doc."""
        shared = getattr(_local, "shared", None)
        if shared is None:
            return cls._read_all(docs)
        todo = [d for d in docs if (v := shared.get(id(d))) is None or v.doc is not d]
        for d, v in zip(todo, cls._read_all(todo), strict=True):
            shared[id(d)] = v
        return [shared[id(d)] for d in docs]

    @classmethod
    def _read_all(cls, docs: Sequence[Doc]) -> list[DocView]:
        out: list[DocView] = []
        lo = 0
        while lo < len(docs):  # runs of Docs sharing a vocab
            vocab = docs[lo].vocab
            hi = next((i for i in range(lo, len(docs)) if docs[i].vocab is not vocab), len(docs))
            out += cls._read_block(docs[lo:hi])
            lo = hi
        return out

    @classmethod
    def _read_block(cls, docs: Sequence[Doc]) -> list[DocView]:
        strings = docs[0].vocab.strings
        arrs = [d.to_array(ATTRS) for d in docs]
        ends = np.cumsum([len(a) for a in arrs]).tolist()
        flat = np.concatenate(arrs) if ends[-1] else np.zeros((0, len(ATTRS)), np.uint64)
        col = {a: flat[:, i] for i, a in enumerate(ATTRS)}

        def types(attr: str, normed: bool = False) -> tuple[list[str], np.ndarray]:
            inv, ids = pd.factorize(col[attr])
            keys = ids.tolist()
            return (lookup_norms(keys, strings) if normed else lookup_strings(keys, strings)), inv

        def strs(attr: str, normed: bool = False) -> list[str]:
            found, inv = types(attr, normed)
            return np.asarray(found, dtype=object)[inv].tolist()

        low_types, low_inv = types("ORTH", normed=True)
        punct, space = col["IS_PUNCT"].astype(bool), col["IS_SPACE"].astype(bool)
        clitic = np.fromiter((w.startswith("'") or w == "n't" for w in low_types), dtype=bool,
                             count=len(low_types))[low_inv]
        lists = {
            "text": strs("ORTH"), "lower": strs("LOWER"),
            "low": np.asarray(low_types, dtype=object)[low_inv].tolist(),
            "lemma": strs("LEMMA", normed=True), "lemma_ids": col["LEMMA"].tolist(),
            "pos": strs("POS"), "tag": strs("TAG"), "dep": strs("DEP"),
            "morph": col["MORPH"].tolist(), "punct": punct.tolist(), "space": space.tolist(),
            "stop": col["IS_STOP"].astype(bool).tolist(),
            "alpha": col["IS_ALPHA"].astype(bool).tolist(),
            "upper": col["IS_UPPER"].astype(bool).tolist(), "idx": col["IDX"].tolist(),
            "sent_start": (col["SENT_START"] == 1).tolist(),
            "ws": np.where(col["SPACY"] != 0, " ", "").tolist(),
            "word": (~(punct | space | clitic)).tolist(),
        }
        head = col["HEAD"].view(np.int64)
        views = []
        for doc, arr, a, b in zip(docs, arrs, [0, *ends[:-1]], ends, strict=True):
            views.append(cls(doc=doc, arr=arr, head=head[a:b],
                             **{k: v[a:b] for k, v in lists.items()}))
        return views

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
        return morph_tense(self.doc.vocab, self.morph[i])


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


class Tokens:
    """The tokens of several Docs (their :class:`DocView` s, one vocab) as flat arrays.

    Row ``i`` is one token; :attr:`doc_of` gives its Doc's position, :attr:`start` each Doc's
    first row. String attributes are handled per distinct value: a predicate or a lookup runs
    once per distinct string of the chunk, and numpy spreads the result over the tokens, so
    counting word classes over thousands of turns costs a few array operations instead of a
    Python step per token. :meth:`count` sums a token mask per Doc.
    """

    def __init__(self, views: Sequence[DocView], codes: dict[str, int] | None = None) -> None:
        self.views = list(views)
        vocabs = {id(v.doc.vocab) for v in self.views}
        if len(vocabs) > 1:
            raise ValueError("Tokens: the Docs must share one vocab")
        self.vocab = self.views[0].doc.vocab if self.views else None
        self.n_docs = len(self.views)
        self.n_tokens = np.fromiter((len(v.text) for v in self.views), np.int64, self.n_docs)
        self.start = np.zeros(self.n_docs + 1, dtype=np.int64)
        np.cumsum(self.n_tokens, out=self.start[1:])
        self.doc_of = np.repeat(np.arange(self.n_docs), self.n_tokens)
        self.arr = (np.concatenate([v.arr for v in self.views]) if self.start[-1]
                    else np.zeros((0, len(ATTRS)), dtype=np.uint64))
        self._types: dict[tuple[str, bool], tuple[list[str], np.ndarray]] = {}
        self.codes: dict[str, int] = {} if codes is None else codes  # see code()

    def column(self, attr: str) -> np.ndarray:
        """The raw ``to_array`` column of ``attr`` (one of :data:`ATTRS`)."""
        return self.arr[:, ATTRS.index(attr)]

    def flag(self, attr: str) -> np.ndarray:
        """A boolean attribute (``IS_PUNCT`` ...) as a bool array."""
        return self.column(attr).astype(bool)

    def types(self, attr: str, normed: bool = True) -> tuple[list[str], np.ndarray]:
        """The distinct strings of ``attr`` (:func:`norm` applied if ``normed``) and, per
        token, the index of its string among them."""
        key = (attr, normed)
        got = self._types.get(key)
        if got is None:
            inv, ids = pd.factorize(self.column(attr))
            keys = ids.tolist()
            strings = self.vocab.strings if self.vocab is not None else {}
            strs = lookup_norms(keys, strings) if normed else lookup_strings(keys, strings)
            got = self._types[key] = (strs, inv)
        return got

    def where(self, attr: str, pred: Callable[[str], bool], normed: bool = True) -> np.ndarray:
        """Per token: ``pred`` of its string (evaluated once per distinct string)."""
        strs, inv = self.types(attr, normed)
        return np.fromiter(map(pred, strs), dtype=bool, count=len(strs))[inv]

    def isin(self, attr: str, values: Any, normed: bool = True) -> np.ndarray:
        """Per token: is its string in ``values``?"""
        return self.where(attr, values.__contains__, normed)

    def code(self, attr: str, normed: bool = True) -> np.ndarray:
        """Per token: an integer code of its string from :attr:`codes` (new strings are added),
        so the same string has the same code in every attribute (codes of ``ORTH`` and
        ``LEMMA`` compare) and in every ``Tokens`` given the same ``codes`` dict."""
        strs, inv = self.types(attr, normed)
        codes = self.codes
        return np.fromiter((codes.setdefault(s, len(codes)) for s in strs), dtype=np.int64,
                           count=len(strs))[inv]

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Per Doc: the number of its tokens where ``mask`` holds."""
        return np.bincount(self.doc_of[mask], minlength=self.n_docs)

    def any(self, mask: np.ndarray) -> np.ndarray:
        """Per Doc: does ``mask`` hold for some token?"""
        return self.count(mask) > 0

    def positions(self, mask: np.ndarray, docs: np.ndarray | None = None
                  ) -> Iterator[tuple[int, list[int]]]:
        """``(k, token indices within Doc k where mask holds)`` for every Doc ``k`` (or those
        where ``docs`` holds), in order."""
        idx = np.flatnonzero(mask)
        cuts = np.searchsorted(idx, self.start).tolist()
        start = self.start.tolist()
        for k in (range(self.n_docs) if docs is None else np.flatnonzero(docs).tolist()):
            yield k, (idx[cuts[k]:cuts[k + 1]] - start[k]).tolist()
