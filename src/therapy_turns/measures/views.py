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
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from spacy.tokens import Doc, MorphAnalysis

__all__ = ["ATTRS", "DocView", "Tokens", "is_clitic", "lookup_norms", "lookup_strings",
           "morph_tense", "norm", "shared_views"]

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


def is_clitic(form: str) -> bool:
    """Is the :func:`norm` form ``form`` a contraction clitic (``'s``, ``'m``, ``n't`` ...)?"""
    return form.startswith("'") or form == "n't"


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


class _Block:
    """The ``to_array`` rows of a block of Docs (one vocab) and the token lists made from them,
    each built for the whole block on first request (strings resolved once per distinct id)."""

    def __init__(self, docs: Sequence[Doc]) -> None:
        self.strings = docs[0].vocab.strings
        self.arrs = [d.to_array(ATTRS) for d in docs]
        self.ends = np.cumsum([len(a) for a in self.arrs]).tolist()
        self.starts = [0, *self.ends[:-1]]
        flat = (np.concatenate(self.arrs) if self.ends[-1]
                else np.zeros((0, len(ATTRS)), dtype=np.uint64))
        self.col = {a: flat[:, i] for i, a in enumerate(ATTRS)}
        self._lists: dict[str, Any] = {}

    def _types(self, attr: str, normed: bool) -> tuple[list[str], np.ndarray]:
        inv, ids = pd.factorize(self.col[attr])
        keys = ids.tolist()
        found = lookup_norms(keys, self.strings) if normed else lookup_strings(keys, self.strings)
        return found, inv

    def _strs(self, attr: str, normed: bool = False) -> list[str]:
        found, inv = self._types(attr, normed)
        return np.asarray(found, dtype=object)[inv].tolist()

    def _flag(self, attr: str) -> list[bool]:
        return self.col[attr].astype(bool).tolist()

    def _word(self) -> list[bool]:
        forms, inv = self._types("ORTH", normed=True)
        clitic = np.fromiter(map(is_clitic, forms), dtype=bool, count=len(forms))[inv]
        c = self.col
        return (~(c["IS_PUNCT"].astype(bool) | c["IS_SPACE"].astype(bool) | clitic)).tolist()

    def column(self, name: str) -> Any:
        """The block-wide list (or array) of the :class:`DocView` attribute ``name``."""
        got = self._lists.get(name)
        if got is None:
            c = self.col
            make: dict[str, Callable[[], Any]] = {
                "text": lambda: self._strs("ORTH"), "lower": lambda: self._strs("LOWER"),
                "low": lambda: self._strs("ORTH", normed=True),
                "lemma": lambda: self._strs("LEMMA", normed=True),
                "lemma_ids": lambda: c["LEMMA"].tolist(), "pos": lambda: self._strs("POS"),
                "tag": lambda: self._strs("TAG"), "dep": lambda: self._strs("DEP"),
                "head": lambda: c["HEAD"].view(np.int64), "morph": lambda: c["MORPH"].tolist(),
                "punct": lambda: self._flag("IS_PUNCT"), "space": lambda: self._flag("IS_SPACE"),
                "stop": lambda: self._flag("IS_STOP"), "alpha": lambda: self._flag("IS_ALPHA"),
                "upper": lambda: self._flag("IS_UPPER"), "idx": lambda: c["IDX"].tolist(),
                "sent_start": lambda: (c["SENT_START"] == 1).tolist(),
                "ws": lambda: np.where(c["SPACY"] != 0, " ", "").tolist(), "word": self._word,
            }
            got = self._lists[name] = make[name]()
        return got


class _Column:
    """A :class:`DocView` attribute: the Doc's slice of its block's list, made on first access
    and then stored on the view (so later reads are plain attribute reads)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, view: DocView | None, owner: type | None = None) -> Any:
        if view is None:
            return self
        value = view._block.column(self.name)[view._lo:view._hi]
        view.__dict__[self.name] = value
        return value


class DocView:
    """The token attributes of one Doc, read with :meth:`Doc.to_array` (no Token objects).

    The values are exactly the Token attributes they stand for: ``text`` = ``tok.text``,
    ``lower`` = ``tok.lower_``, ``low`` = ``norm(tok.text)``, ``lemma`` = ``norm(tok.lemma_)``,
    ``pos``/``tag``/``dep`` = ``tok.pos_``/``tag_``/``dep_``, ``head`` = ``tok.head.i - tok.i``,
    ``punct``/``space``/``stop``/``alpha``/``upper`` = ``tok.is_*``, ``idx`` = ``tok.idx``,
    ``ws`` = ``tok.whitespace_``, ``sent_start`` = ``SENT_START == 1`` (as spaCy's Matcher
    reads ``IS_SENT_START``); ``word``: neither punctuation, space nor a clitic (``'s``,
    ``n't``); ``lemma_ids``/``morph``: the ids of the lemma and morphological analysis. ``arr``
    is the ``Doc.to_array(ATTRS)`` array they are read from (string ids). Each list is made
    when first read, for every Doc read together with this one (:meth:`many`).
    """

    text: list[str] = _Column()
    lower: list[str] = _Column()
    low: list[str] = _Column()
    lemma: list[str] = _Column()
    lemma_ids: list[int] = _Column()
    pos: list[str] = _Column()
    tag: list[str] = _Column()
    dep: list[str] = _Column()
    head: np.ndarray = _Column()
    morph: list[int] = _Column()
    punct: list[bool] = _Column()
    space: list[bool] = _Column()
    stop: list[bool] = _Column()
    alpha: list[bool] = _Column()
    upper: list[bool] = _Column()
    idx: list[int] = _Column()
    sent_start: list[bool] = _Column()
    ws: list[str] = _Column()
    word: list[bool] = _Column()

    def __init__(self, doc: Doc, block: _Block, k: int) -> None:
        self.doc = doc
        self.arr: np.ndarray = block.arrs[k]
        self._block, self._lo, self._hi = block, block.starts[k], block.ends[k]

    @classmethod
    def of(cls, doc: Doc) -> DocView:
        """The view of ``doc`` (the one already made, inside :func:`shared_views`)."""
        return cls.many([doc])[0]

    @classmethod
    def many(cls, docs: Sequence[Doc]) -> list[DocView]:
        """The views of ``docs``, read together (inside :func:`shared_views`, the views already
        made are reused and the new ones kept): each list is made once for all of them, each
        string column resolved once per distinct string id."""
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
            block = _Block(docs[lo:hi])
            out += [cls(d, block, k) for k, d in enumerate(docs[lo:hi])]
            lo = hi
        return out

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
        """The token attributes :class:`~therapy_turns.measures.matching.PatternSet` reads."""
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

    @cached_property
    def word(self) -> np.ndarray:
        """Per token: a word (as :attr:`DocView.word`: no punctuation, space or clitic)?"""
        return ~self.flag("IS_PUNCT") & ~self.flag("IS_SPACE") & ~self.where("ORTH", is_clitic)

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
