"""The lexical layer of the affect scores: VADER (``vaderSentiment``), the dependency-based rule
layer (:class:`Rules` from ``lexicons/emotion_rules.yaml``, every setting honoured) and NRC emotion
rates, over Docs parsed once (rules in ``docs/emotion.md``)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from functools import lru_cache

from nrclex import NRCLex
from spacy.tokens import Doc, Span
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from therapy_turns.measures.views import DocView
from therapy_turns.paths import LEXICON_DIR, read_yaml

NRC_EMOTIONS = tuple(
    "anger anticipation disgust fear joy sadness surprise trust positive negative".split()
)
NRC_KEYS = tuple(f"nrc_{e}" for e in NRC_EMOTIONS)
#: lower-case tokens counted as first person (dense model feature ``first_person``)
FIRST_PERSON = frozenset({"i", "me", "my", "myself", "mine"})


@dataclass(frozen=True)
class Rules:
    """The rule-layer settings (see ``lexicons/emotion_rules.yaml``)."""

    lexicon: dict[str, float]
    negation_scalar: float = -0.74
    neg_determiners: frozenset[str] = frozenset({"no"})
    neg_prepositions: frozenset[str] = frozenset({"without"})
    neg_window: int = 3
    neg_stops: frozenset[str] = frozenset({"conj", "cc"})
    modifiers: dict[tuple[str, ...], float] = field(default_factory=dict)
    window: int = 3
    contrast: frozenset[str] = frozenset({"but"})
    before: float = 0.5
    after: float = 1.5
    alpha: float = 15.0


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    """The rule layer with the VADER lexicon and the shipped YAML settings (cached)."""
    raw = read_yaml(LEXICON_DIR / "emotion_rules.yaml")
    mods = {
        tuple(str(w).lower().split()): float(raw[k]["value"])
        for k in ("intensifiers", "diminishers")
        for w in raw[k]["words"]
    }
    return Rules(
        lexicon=analyzer().lexicon,
        negation_scalar=float(raw["negation_scalar"]),
        neg_determiners=frozenset(raw["negators"]["determiner"]),
        neg_prepositions=frozenset(raw["negators"]["preposition"]),
        neg_window=int(raw["negation_window"]),
        neg_stops=frozenset(raw["negation_scope_stops"]),
        modifiers=mods,
        window=int(raw["modifier_window"]),
        contrast=frozenset(raw["contrast"]["words"]),
        before=float(raw["contrast"]["before"]),
        after=float(raw["contrast"]["after"]),
        alpha=float(raw["normalisation_alpha"]),
    )


@lru_cache(maxsize=1)
def analyzer() -> SentimentIntensityAnalyzer:
    """VADER's analyzer (one per process)."""
    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def nrc_lexicon() -> dict[str, tuple[int, ...]]:
    """NRC word -> how often each of :data:`NRC_EMOTIONS` is listed for it (as NRCLex counts)."""
    return {w: tuple(map(emos.count, NRC_EMOTIONS)) for w, emos in NRCLex().__lexicon__.items()}


@dataclass
class SpanScores:
    """The rule layer's reading of one span."""

    n: int  # words
    terms: list[tuple[str, float]]  # sentiment-bearing tokens and their values after the rules
    raw: float  # sum of the token values
    compound: float  # raw / sqrt(raw^2 + alpha)
    pos: float  # sum of the positive token values
    neg: float  # sum of the absolute negative token values
    n_modifiers: int
    n_negators: int
    negated: set[int]  # doc indices of the tokens inside a negation scope
    nrc: dict[str, float]  # NRC hits per 100 words outside negation scopes


class RuleView:
    """The rule layer on one Doc: per token its lower case, lemma, lexical-token flag, negator
    flag, lexicon valence, NRC counts and negation scope, each read once."""

    def __init__(self, doc: Doc, rules: Rules, view: DocView | None = None) -> None:
        self.doc, self.rules = doc, rules
        self.base = b = view or DocView(doc)
        self.lower, self.lemma = b.lower, b.lemma_lower
        self.word = [not (p or s) for p, s in zip(b.punct, b.space, strict=True)]
        self.negator = [
            d == "neg"
            or (d == "det" and w in rules.neg_determiners)
            or (d == "prep" and w in rules.neg_prepositions)
            for d, w in zip(b.dep, self.lower, strict=True)
        ]
        #: words (therapy_turns.schema: clitics are not words) among tokens 0..i-1
        self.words_before = list(itertools.accumulate(b.word, initial=0))
        lex, nrc = rules.lexicon, nrc_lexicon()
        self.value, self.emotions = [], []  # lower case first, then lemma; None: not a word
        for ng, w, lw, lm in zip(self.negator, self.word, self.lower, self.lemma, strict=True):
            self.value.append(None if ng or not w else lex[lw] if lw in lex else lex.get(lm))
            self.emotions.append(None if not w else nrc[lw] if lw in nrc else nrc.get(lm))
        self.scopes = {k: self._scope(k) for k, neg in enumerate(self.negator) if neg}
        firsts = {m[0] for m in rules.modifiers}
        at = [i for i, w in enumerate(self.lower) if w in firsts]
        #: (first, last) token of each modifier phrase, longest first, then by position
        self.modifiers = [
            (i, i + n - 1)
            for n in sorted({len(m) for m in rules.modifiers}, reverse=True)
            for i in at
            if i + n <= len(doc) and tuple(self.lower[i : i + n]) in rules.modifiers
        ]

    def _scope(self, k: int) -> list[int]:
        dep, head, rules = self.base.dep[k], self.base.head, self.rules
        top = k if dep == "prep" else k + int(head[k])
        out = []
        for i in range(k + 1, min(k + rules.neg_window + 1, len(self.doc))):
            if not self.word[i] or self.negator[i]:
                continue
            path = [i]  # i and its ancestors (Token.ancestors, read off the head offsets)
            while head[path[-1]] and len(path) <= len(self.doc):
                path.append(path[-1] + int(head[path[-1]]))
            if top in path and not (
                dep == "neg"
                and i != top
                and self.base.dep[path[path.index(top) - 1]] in rules.neg_stops
            ):
                out.append(i)
        return out

    def negated(self, lo: int, hi: int) -> set[int]:
        """Doc indices of the tokens of ``doc[lo:hi]`` in the scope of a negator in it."""
        return {i for k in range(lo, hi) if self.negator[k] for i in self.scopes[k] if i < hi}

    def word_count(self, lo: int, hi: int) -> int:
        """Words of ``doc[lo:hi]``."""
        return self.words_before[hi] - self.words_before[lo]

    def nrc(self, lo: int, hi: int, neg: set[int]) -> dict[str, float]:
        """NRC hits per 100 words of ``doc[lo:hi]``, skipping the tokens in ``neg``."""
        n, em = self.word_count(lo, hi), self.emotions
        hits = [em[i] for i in range(lo, hi) if em[i] and i not in neg]
        counts = [sum(x) for x in zip(*hits, strict=True)] or [0] * len(NRC_KEYS)
        return {k: 100.0 * c / n if n else 0.0 for k, c in zip(NRC_KEYS, counts, strict=True)}

    def scores(self, lo: int, hi: int) -> SpanScores:
        """The rule layer on ``doc[lo:hi]`` (``docs/emotion.md``)."""
        rules, low, punct = self.rules, self.lower, self.base.punct
        neg = self.negated(lo, hi)
        mods = [(s, e) for s, e in self.modifiers if lo <= s and e < hi]
        in_mod = {p for s, e in mods for p in range(s, e + 1)}
        contrast = [i for i in range(lo, hi) if low[i] in rules.contrast]
        terms = []
        for i in range(lo, hi):
            base, factor = self.value[i], 1.0
            if base is None or i in in_mod:
                continue
            for s, e in mods:  # ending 1..window tokens before, no punctuation between
                if 1 <= i - e <= rules.window and not any(punct[e:i]):
                    factor *= 1.0 + rules.modifiers[tuple(low[s : e + 1])]
            weight = 1.0 if not contrast else rules.before if i < contrast[-1] else rules.after
            value = base * factor * weight * (rules.negation_scalar if i in neg else 1.0)
            terms.append((self.base.text[i], value))
        raw = float(sum(v for _, v in terms))
        return SpanScores(
            n=self.word_count(lo, hi),
            terms=terms,
            raw=raw,
            compound=raw / math.sqrt(raw * raw + rules.alpha),
            pos=float(sum(v for _, v in terms if v > 0)),
            neg=float(-sum(v for _, v in terms if v < 0)),
            n_modifiers=len(mods),
            n_negators=sum(self.negator[lo:hi]),
            negated=neg,
            nrc=self.nrc(lo, hi, neg),
        )


def rule_view(span: Doc | Span, rules: Rules | None = None) -> tuple[RuleView, int, int]:
    """The :class:`RuleView` of ``span``'s Doc and the span's token bounds."""
    doc = span.doc if isinstance(span, Span) else span
    lo, hi = (span.start, span.end) if isinstance(span, Span) else (0, len(doc))
    return RuleView(doc, rules or load_rules()), lo, hi


def span_scores(span: Doc | Span, rules: Rules | None = None) -> SpanScores:
    """The rule layer and NRC rates of ``span`` (``docs/emotion.md``)."""
    v, lo, hi = rule_view(span, rules)
    return v.scores(lo, hi)
