"""The features' word lists and patterns (``lexicons/*.yaml``); :class:`PhraseCounter`."""

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
FAMILIES = {"body_words": "body_sensation", "cognitive_words": "cognitive_process"}
FAMILIES["feeling_words"] = "feeling"
MARKERS = ("skeptic", "slow_down", "vague", "catastrophic", "intellectualising")
Bounds = dict[int, list[tuple[int, int]]]  # Doc position -> (start, end) of its matches


@lru_cache(maxsize=32)
def load_lexicon(name: str) -> dict[str, Any]:
    """The parsed YAML file ``lexicons/<name>.yaml``."""
    return read_yaml(LEXICON_DIR / f"{name}.yaml")


def words(values: Iterable[Any]) -> frozenset[str]:
    """Word-list entries as tokens are compared with them (:func:`views.norm`)."""
    return frozenset(norm(str(v)) for v in values)


def phrase_docs(phrases: Iterable[str]) -> list[Doc]:
    """``phrases`` lower-cased, also with curly apostrophes, as Docs of the word tokenizer."""
    texts = {p.lower() for ph in phrases for p in (ph, ph.replace("'", "’"))}
    return [word_tokenizer()(p) for p in sorted(texts)]


@dataclass(eq=False)
class PhraseCounter:
    """Counts matches of ``entries`` (a word: lower-cased text, or lemma if ``use_lemma``; ``w*``: a
    prefix; several words: a phrase; none right after its ``exclude_after`` words) and Matcher
    ``patterns``; overlapping matches count once (:func:`spacy.util.filter_spans`)."""

    entries: Sequence[str]
    patterns: Sequence[list[dict[str, Any]]] = ()
    use_lemma: bool = True
    exclude_after: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tokenizer, entries = word_tokenizer(), [norm(str(e)).strip() for e in self.entries]
        self.prefixes = tuple(e[:-1] for e in entries if e.endswith("*") and " " not in e)
        toks = [[t.text for t in tokenizer(e)] for e in entries if " " in e or not e.endswith("*")]
        self.words = {p[0] for p in toks if len(p) == 1}
        self.phrases = [p for p in toks if len(p) > 1]
        self.openers = {w for p in self.phrases for w in (p[0], p[0].replace("'", "’"))}
        self.exclude = {norm(k): words(v) for k, v in self.exclude_after.items()}
        # the Matcher runs on the tokens from each word a pattern starts with to the longest match
        if any(set(p[0]) != {"LOWER"} for p in self.patterns):
            raise ValueError(f"patterns must start with a LOWER word or IN list: {self.patterns}")
        first = [p[0]["LOWER"] for p in self.patterns]
        self.first_words = {w for v in first for w in ([v] if isinstance(v, str) else v["IN"])}
        ops = [[tok.get("OP", "!") for tok in p] for p in self.patterns]
        size = (sum(1 if o in "!?" else int(o[1:-1].split(",")[-1]) for o in p) for p in ops)
        unbounded = any(o in ("*", "+") or o.endswith(",}") for p in ops for o in p)
        self.reach = None if unbounded else max(size, default=0)
        self._matchers: dict[Vocab, tuple[PhraseMatcher | None, Matcher | None]] = {}

    def matches(self, t: Tokens, keep_bounds: bool = False) -> tuple[np.ndarray, Bounds]:
        """Per Doc of ``t``: its number of matches; with ``keep_bounds`` also their bounds."""
        hit = t.isin("ORTH", self.words)
        if self.use_lemma:
            hit |= t.isin("LEMMA", self.words - {""})
        if self.prefixes:
            hit |= t.where("ORTH", lambda s: s.startswith(self.prefixes)) & ~t.flag("IS_PUNCT")
        counts, bounds = t.count(hit), {}
        if not t.n_docs:
            return counts, bounds
        if t.vocab not in self._matchers:  # PhraseMatcher (straight and curly apostrophes), Matcher
            pm = m = None
            if self.phrases:
                pm = PhraseMatcher(t.vocab, attr="LOWER")
                curly = [[w.replace("'", "’") for w in p] for p in self.phrases]
                pm.add("P", [Doc(t.vocab, words=p) for p in self.phrases + curly])
            if self.patterns:
                m = Matcher(t.vocab)
                m.add("M", [list(p) for p in self.patterns])
            self._matchers[t.vocab] = (pm, m)
        phrases, patterns = self._matchers[t.vocab]
        # Docs that may hold a phrase or pattern, or whose word hits are filtered or kept
        firsts = t.isin("LOWER", self.first_words, normed=False)
        todo = t.any(firsts | t.isin("LOWER", self.openers, normed=False))
        todo |= t.any(hit) & bool(self.exclude or keep_bounds)
        pairs = zip(t.positions(hit, todo), t.positions(firsts, todo), strict=True)
        for (k, local), (_, heads) in pairs:
            doc = t.docs[k]
            found = [doc[i : i + 1] for i in local]
            if phrases is not None:
                found += phrases(doc, as_spans=True)
            if patterns is not None:
                found += [
                    s for i in heads for s in patterns(doc[i : i + self.reach], as_spans=True)
                ]
            if self.exclude:  # drop a phrase right after one of its excluded words
                before = [norm(doc[s.start - 1].text) if s.start else None for s in found]
                after = [self.exclude.get(norm(s.text), ()) for s in found]
                found = [s for s, b, a in zip(found, before, after, strict=True) if b not in a]
            kept = [(s.start, s.end) for s in filter_spans(found)]
            counts[k] = len(kept)
            if kept and keep_bounds:
                bounds[k] = kept
        return counts, bounds


@lru_cache(maxsize=1)
def lexicons() -> tuple[dict[str, frozenset[str] | str], dict[str, PhraseCounter]]:
    """Per features column: the word list (or POS) of a rate per 100 words (pronouns, function
    words, negations), and the :class:`PhraseCounter` of hedges, certainty, families, markers."""
    fw = load_lexicon("function_words")["categories"].items()
    rates = {k: words(v) for k, v in load_lexicon("pronouns")["categories"].items()}
    rates |= {f"fw_{c}": v["pos"] if isinstance(v, dict) else words(v) for c, v in fw}
    rates["negations"] = words(load_lexicon("negations")["entries"])
    hedges, markers = load_lexicon("hedges"), load_lexicon("markers")["markers"]
    out = {"hedges": PhraseCounter(hedges["entries"], (), False, hedges.get("exclude_after", {}))}
    out["certainty"] = PhraseCounter(load_lexicon("certainty")["entries"], use_lemma=False)
    for col, name in FAMILIES.items():
        out[col] = PhraseCounter(load_lexicon(name)["entries"])
    for m, spec in ((m, markers[m]) for m in MARKERS):
        out[f"marker_{m}"] = PhraseCounter(spec.get("phrases", ()), spec.get("patterns", ()), False)
    return rates, out
