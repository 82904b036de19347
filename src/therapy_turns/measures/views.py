"""Token attributes of Docs by ``Doc.to_array``: flat arrays of many Docs, lists of one Doc."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from spacy.tokens import Doc

from therapy_turns.schema import is_clitic

_APOS = str.maketrans({"’": "'", "‘": "'"})

ATTRS = tuple(  # the columns of Tokens.arr (Doc.to_array attributes)
    "ORTH LOWER LEMMA POS TAG DEP HEAD MORPH IS_PUNCT IS_SPACE SENT_START IS_ALPHA IDX".split()
)


def norm(text: str) -> str:
    """Lower case with curly apostrophes made straight (how word lists are compared)."""
    return text.translate(_APOS).lower()


def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a / b`` where ``b > 0``, NaN elsewhere."""
    return np.divide(a, b, out=np.full(len(b), np.nan), where=b > 0)


class Tokens:
    """The tokens of Docs (one vocab) as flat arrays; string predicates run once per string."""

    def __init__(self, docs: Sequence[Doc]) -> None:
        self.docs, self.n_docs = list(docs), len(docs)
        self.vocab = self.docs[0].vocab if self.docs else None
        arrs = [d.to_array(ATTRS) for d in self.docs]
        self.n_tokens = np.fromiter(map(len, arrs), np.int64, self.n_docs)
        self.start = np.concatenate([[0], np.cumsum(self.n_tokens)])
        self.doc_of = np.repeat(np.arange(self.n_docs), self.n_tokens)
        self.arr = np.concatenate([np.zeros((0, len(ATTRS)), dtype=np.uint64), *arrs])
        self._types, self._lists, self.codes = {}, {}, {}  # caches of types(), strings(); code()

    @cached_property
    def word(self) -> np.ndarray:
        """Per token: a word (no punctuation, space or clitic)?"""
        return ~self.flag("IS_PUNCT") & ~self.flag("IS_SPACE") & ~self.where("ORTH", is_clitic)

    def column(self, attr: str) -> np.ndarray:
        """The raw ``to_array`` column of ``attr``."""
        return self.arr[:, ATTRS.index(attr)]

    def flag(self, attr: str) -> np.ndarray:
        """A boolean attribute (``IS_PUNCT`` ...) as a bool array."""
        return self.column(attr).astype(bool)

    def types(self, attr: str, normed: bool = True) -> tuple[list[str], np.ndarray]:
        """The distinct strings of ``attr`` (:func:`norm`ed) and per token its string's index."""
        if (attr, normed) not in self._types:
            inv, ids = pd.factorize(self.column(attr))
            strs = [(norm if normed else str)(self.vocab.strings[h]) for h in ids.tolist()]
            self._types[(attr, normed)] = (strs, inv)
        return self._types[(attr, normed)]

    def strings(self, attr: str, fn: Callable[[str], str] | None = None) -> list[str]:
        """Per token: the string of ``attr`` (``fn`` of it, run once per distinct string)."""
        if (attr, fn) not in self._lists:
            strs, inv = self.types(attr, normed=False)
            vals = np.asarray(strs if fn is None else [fn(s) for s in strs], dtype=object)
            self._lists[(attr, fn)] = vals[inv].tolist()
        return self._lists[(attr, fn)]

    def where(self, attr: str, pred: Callable[[str], bool], normed: bool = True) -> np.ndarray:
        """Per token: ``pred`` of its string (evaluated once per distinct string)."""
        strs, inv = self.types(attr, normed)
        return np.fromiter(map(pred, strs), dtype=bool, count=len(strs))[inv]

    def isin(self, attr: str, values: Any, normed: bool = True) -> np.ndarray:
        """Per token: is its string in ``values``?"""
        return self.where(attr, values.__contains__, normed)

    def code(self, attr: str, normed: bool = True) -> np.ndarray:
        """Per token: its string's integer code in :attr:`codes` (new strings added)."""
        strs, inv = self.types(attr, normed)
        return np.array([self.codes.setdefault(s, len(self.codes)) for s in strs], np.int64)[inv]

    def count(self, mask: np.ndarray) -> np.ndarray:
        """Per Doc: the number of its tokens where ``mask`` holds."""
        return np.bincount(self.doc_of[mask], minlength=self.n_docs)

    def positions(
        self, mask: np.ndarray, docs: np.ndarray | None = None
    ) -> Iterator[tuple[int, list[int]]]:
        """``(k, indices in Doc k where mask holds)`` for every Doc ``k`` (or where ``docs``)."""
        idx = np.flatnonzero(mask)
        cuts, start = np.searchsorted(idx, self.start).tolist(), self.start.tolist()
        for k in range(self.n_docs) if docs is None else np.flatnonzero(docs).tolist():
            yield k, (idx[cuts[k] : cuts[k + 1]] - start[k]).tolist()

    def views(self) -> list[DocView]:
        """A :class:`DocView` of every Doc, its lists cut from this block's."""
        bounds = self.start.tolist()
        return [DocView(d, (self, bounds[k], bounds[k + 1])) for k, d in enumerate(self.docs)]


class DocView:
    """One Doc's token attributes as lists cut from a block's :class:`Tokens`, read when used."""

    def __init__(self, doc: Doc, block: tuple[Tokens, int, int] | None = None) -> None:
        self.doc = doc
        self._t, lo, hi = block or (Tokens([doc]), 0, len(doc))
        self._s = slice(lo, hi)  # its tokens in the block

    text = cached_property(lambda self: self._t.strings("ORTH")[self._s])
    lower = cached_property(lambda self: self._t.strings("LOWER")[self._s])
    low = cached_property(lambda self: self._t.strings("ORTH", norm)[self._s])
    lemma = cached_property(lambda self: self._t.strings("LEMMA", norm)[self._s])
    pos = cached_property(lambda self: self._t.strings("POS")[self._s])
    tag = cached_property(lambda self: self._t.strings("TAG")[self._s])
    dep = cached_property(lambda self: self._t.strings("DEP")[self._s])
    punct = cached_property(lambda self: self._t.column("IS_PUNCT")[self._s].astype(bool).tolist())
    space = cached_property(lambda self: self._t.column("IS_SPACE")[self._s].astype(bool).tolist())
    idx = cached_property(lambda self: self._t.column("IDX")[self._s].tolist())
    doc_text = cached_property(lambda self: self.doc.text)

    def span_text(self, lo: int, hi: int) -> str:
        """``doc[lo:hi].text``."""
        end = self.idx[hi - 1] + len(self.text[hi - 1]) if hi > lo else 0
        return self.doc_text[self.idx[lo] : end] if hi > lo else ""
