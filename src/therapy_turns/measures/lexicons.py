"""The word lists and patterns of the linguistic features (``lexicons/*.yaml``) and
:class:`PhraseCounter`, which counts their matches per turn."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc
from spacy.util import filter_spans
from spacy.vocab import Vocab

from therapy_turns.measures.views import Tokens, norm
from therapy_turns.nlp import word_tokenizer
from therapy_turns.paths import LEXICON_DIR, read_yaml

#: the word-family columns of the features table and their lexicon files
FAMILIES = [("body_words", "body_sensation"), ("cognitive_words", "cognitive_process")]
FAMILIES += [("feeling_words", "feeling")]
MARKERS = ("skeptic", "slow_down", "vague", "catastrophic", "intellectualising")


@lru_cache(maxsize=32)
def load_lexicon(name: str) -> dict[str, Any]:
    """The parsed YAML file ``lexicons/<name>.yaml``."""
    return read_yaml(LEXICON_DIR / f"{name}.yaml")


@dataclass
class PhraseCounter:
    """Counts matches of ``entries`` (single words: lower-cased text, or lemma if ``use_lemma``;
    ``word*`` prefixes; multi-word phrases, tokenised like spaCy's English tokenizer) and of
    Matcher ``patterns`` in Docs; ``exclude_after``: phrase -> words after which a match of the
    phrase is dropped. Overlapping matches count once (:func:`spacy.util.filter_spans`)."""

    entries: Sequence[str]
    patterns: Sequence[list[dict[str, Any]]] = ()
    use_lemma: bool = True
    exclude_after: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.words: set[str] = set()
        self.phrases: list[list[str]] = []
        prefixes = []
        for raw in self.entries:
            e = norm(str(raw)).strip()
            if e.endswith("*") and " " not in e:
                prefixes.append(e[:-1])
                continue
            toks = [t.text for t in word_tokenizer()(e)]
            if len(toks) == 1:
                self.words.add(toks[0])
            else:
                self.phrases.append(toks)
        self.prefixes = tuple(sorted(prefixes))
        self._exclude = {norm(k): {norm(w) for w in v} for k, v in self.exclude_after.items()}
        self._matchers: dict[int, tuple[Vocab, PhraseMatcher | None, Matcher | None]] = {}
        self._first_words = _first_words(self.patterns)

    def matchers(self, vocab: Vocab) -> tuple[PhraseMatcher | None, Matcher | None]:
        """The ``PhraseMatcher`` of the multi-word entries (straight and curly apostrophes) and
        the ``Matcher`` of the patterns for ``vocab`` (None if there are none)."""
        got = self._matchers.get(id(vocab))
        if got is None or got[0] is not vocab:
            pm = m = None
            if self.phrases:
                pm = PhraseMatcher(vocab, attr="LOWER")
                curly = [[t.replace("'", "’") for t in p] for p in self.phrases]
                pm.add("P", [Doc(vocab, words=p) for p in self.phrases + curly])
            if self.patterns:
                m = Matcher(vocab)
                m.add("M", [list(p) for p in self.patterns])
            got = self._matchers[id(vocab)] = (vocab, pm, m)
        return got[1], got[2]

    def word_hits(self, t: Tokens) -> np.ndarray:
        """Per token of ``t``: does it match a single word (its ``low``, or its lemma if
        ``use_lemma``) or a prefix (``low``, punctuation excluded)?"""
        hit = t.isin("ORTH", self.words)
        if self.use_lemma:
            hit |= t.isin("LEMMA", self.words - {""})
        if self.prefixes:
            prefixes = self.prefixes
            hit |= t.where("ORTH", lambda s: s.startswith(prefixes)) & ~t.flag("IS_PUNCT")
        return hit

    def matches(
        self, t: Tokens, keep_bounds: bool = False
    ) -> tuple[np.ndarray, dict[int, list[tuple[int, int]]]]:
        """Per Doc of ``t``: the number of non-overlapping matches and, with ``keep_bounds``, the
        ``(start, end)`` of the matches of each Doc that has some (keyed by Doc position)."""
        hit = self.word_hits(t)
        counts = t.count(hit)
        phrases, patterns = self.matchers(t.vocab) if t.vocab is not None else (None, None)
        bounds: dict[int, list[tuple[int, int]]] = {}
        if phrases is None and patterns is None and not self._exclude and not keep_bounds:
            return counts, bounds
        # the Matcher runs on the Docs holding a word some pattern must start with
        matchable = (
            t.any(t.isin("LOWER", self._first_words, normed=False))
            if self._first_words is not None
            else np.ones(t.n_docs, dtype=bool)
        )
        for k, local in t.positions(hit):
            doc = t.docs[k]
            found = [doc[i : i + 1] for i in local]
            if phrases is not None:
                found += phrases(doc, as_spans=True)
            if patterns is not None and matchable[k]:
                found += patterns(doc, as_spans=True)
            if self._exclude:  # drop a phrase right after one of its excluded words
                before = [norm(doc[s.start - 1].text) if s.start else None for s in found]
                after = [self._exclude.get(norm(s.text), ()) for s in found]
                found = [s for s, b, a in zip(found, before, after, strict=True) if b not in a]
            kept = [(s.start, s.end) for s in filter_spans(found)]
            counts[k] = len(kept)
            if kept and keep_bounds:
                bounds[k] = kept
        return counts, bounds

    def count(self, doc: Doc) -> int:
        """Number of non-overlapping matches in ``doc``."""
        return int(self.matches(Tokens([doc]))[0][0])


def _first_words(patterns: Sequence[Sequence[Mapping[str, Any]]]) -> frozenset[str] | None:
    """The ``LOWER`` values every match of ``patterns`` starts with, if each pattern's first
    token is a required ``LOWER`` string or ``IN`` list; else None."""
    words: set[str] = set()
    for p in patterns:
        first = p[0] if p else {}
        value = first.get("LOWER")
        if set(first) != {"LOWER"}:
            return None
        if isinstance(value, str):
            words.add(value)
        elif isinstance(value, Mapping) and set(value) == {"IN"}:
            words.update(value["IN"])
        else:
            return None
    return frozenset(words)


@dataclass
class Lexicons:
    """Every word list and pattern set the features use, loaded from ``lexicons/*.yaml``."""

    pronouns: dict[str, frozenset[str]]
    function_words: dict[str, frozenset[str] | str]
    hedges: PhraseCounter
    certainty: PhraseCounter
    certainty_window: int
    negations: frozenset[str]
    future_modals: frozenset[str]
    going_to: tuple[tuple[str, ...], ...]
    families: dict[str, PhraseCounter]
    markers: dict[str, PhraseCounter]


def _words(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(norm(str(v)) for v in values)


@lru_cache(maxsize=1)
def lexicons() -> Lexicons:
    """Load (once) every lexicon file into matchers and word sets."""
    fw: dict[str, frozenset[str] | str] = {}
    for cat, val in load_lexicon("function_words")["categories"].items():
        fw[cat] = val["pos"] if isinstance(val, dict) else _words(val)
    hed = load_lexicon("hedges")
    cert = load_lexicon("certainty")
    tense = load_lexicon("tense")
    markers = load_lexicon("markers")["markers"]
    return Lexicons(
        pronouns={k: _words(v) for k, v in load_lexicon("pronouns")["categories"].items()},
        function_words=fw,
        hedges=PhraseCounter(
            hed["entries"], use_lemma=False, exclude_after=hed.get("exclude_after", {})
        ),
        certainty=PhraseCounter(cert["entries"], use_lemma=False),
        certainty_window=int(cert["negation_window"]),
        negations=_words(load_lexicon("negations")["entries"]),
        future_modals=_words(tense["future_modals"]),
        going_to=tuple(tuple(norm(w) for w in seq) for seq in tense["going_to"]),
        families={col: PhraseCounter(load_lexicon(name)["entries"]) for col, name in FAMILIES},
        markers={
            m: PhraseCounter(
                markers[m].get("phrases", []), markers[m].get("patterns", []), use_lemma=False
            )
            for m in MARKERS
        },
    )
