"""Turn- and sentence-level affect: valence, arousal, dominance, VADER and NRC emotions.

Every function reads spaCy Docs that were parsed once by the shared step (tagger, parser,
lemmatizer; NER off); nothing is re-parsed here.

Scores
------
``valence``, ``arousal``, ``dominance``
    Predicted on EmoBank's 1-5 scale (Buechel & Hahn 2017; 1 = very negative / calm /
    controlled, 3 = neutral, 5 = very positive / excited / in control), clipped to [1, 5].
    A sentence is scored by the shipped linear model (:mod:`therapy_turns.emotion_model`, ridge
    regression trained on EmoBank train, selected on dev, CC BY-SA 4.0); a turn is the
    word-count-weighted mean of its sentences. Inputs of the model: negation-marked lemma
    unigrams and bigrams (L2-normalised counts) plus dense features (rule layer, VADER, NRC,
    punctuation). Pearson r with human ratings on EmoBank dev
    (``benchmarks/emotion_validation.py``):
    valence 0.62, arousal 0.47, dominance 0.29 (dominance is weakly supported: use with care).
    Like any regression the predictions are shrunk toward the mean (about 3).
``valence_rules``
    The rule layer alone (:func:`rule_score`): VADER word valences composed on the dependency
    parse with negation, intensifier/diminisher and contrast rules from
    ``lexicons/emotion_rules.yaml``; normalised to [-1, 1] like VADER's compound.
``vader_compound``
    VADER 3.3.2 compound of the text as written (reference column), in [-1, 1].
``nrc_<emotion>``
    NRC Emotion Lexicon (as shipped in nrclex 4.1.0) hits per 100 words for anger, anticipation,
    disgust, fear, joy, sadness, surprise, trust, positive, negative. Tokens are looked up by
    lower-case form, then lemma; a token inside a negation scope is not counted.
``n_words``
    Tokens that are not punctuation or whitespace.

Empty texts get ``n_words = 0`` and NaN scores.
"""

from __future__ import annotations

import json
import logging
import math
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from nrclex import NRCLex
from scipy import sparse
from spacy.tokens import Doc, Span, Token
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    SentimentIntensityAnalyzer,
    allcap_differential,
)

from .views import DocView

log = logging.getLogger(__name__)

KEYS = ["session_id", "turn", "speaker"]
NRC_EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise",
                "trust", "positive", "negative")
DIMENSIONS = ("valence", "arousal", "dominance")
MODEL_DIR = Path(__file__).with_name("models")
MODEL_FILE = MODEL_DIR / "emotion_vad.npz"
RULES_FILE = Path(__file__).with_name("lexicons") / "emotion_rules.yaml"
#: Names of the dense (non-lexical) model inputs, in order.
DENSE_FEATURES = (
    "rule_compound", "rule_pos", "rule_neg", "vader_compound", "vader_pos", "vader_neg",
    *(f"nrc_{e}" for e in NRC_EMOTIONS), "log_words", "exclamations", "questions",
    "allcaps", "negations", "modifiers", "first_person",
)
NEG_PREFIX = "NOT_"


# --------------------------------------------------------------------------- rule layer
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


def _vader_lexicon() -> dict[str, float]:
    import vaderSentiment

    path = Path(vaderSentiment.__file__).with_name("vader_lexicon.txt")
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            out[parts[0]] = float(parts[1])
    return out


@lru_cache(maxsize=1)
def load_rules() -> Rules:
    """The rule layer with the VADER lexicon and the shipped YAML settings (cached)."""
    raw = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    mods: dict[tuple[str, ...], float] = {}
    for key in ("intensifiers", "diminishers"):
        for w in raw[key]["words"]:
            mods[tuple(str(w).lower().split())] = float(raw[key]["value"])
    return Rules(
        lexicon=_vader_lexicon(), negation_scalar=float(raw["negation_scalar"]),
        neg_determiners=frozenset(raw["negators"]["determiner"]),
        neg_prepositions=frozenset(raw["negators"]["preposition"]),
        neg_window=int(raw["negation_window"]),
        neg_stops=frozenset(raw["negation_scope_stops"]), modifiers=mods,
        window=int(raw["modifier_window"]), contrast=frozenset(raw["contrast"]["words"]),
        before=float(raw["contrast"]["before"]), after=float(raw["contrast"]["after"]),
        alpha=float(raw["normalisation_alpha"]))


@dataclass(frozen=True)
class TokenScore:
    """One sentiment-bearing token and how the rules changed its lexicon valence."""

    i: int  # doc index
    text: str
    base: float  # lexicon valence (-4..4)
    negated: bool
    modifier: float  # product of (1 + value) over its modifiers
    contrast: float  # contrast weight (1, ``before`` or ``after``)

    @property
    def value(self) -> float:
        """``base * modifier * contrast``, times the negation scalar if negated."""
        v = self.base * self.modifier * self.contrast
        return v * load_rules().negation_scalar if self.negated else v


# --------------------------------------------------------------------------- token view
@dataclass
class _View:
    """The token attributes of one Doc that the scores read (lists of the shared
    :class:`~therapy_turns.views.DocView`, plus the negators and their scopes under ``rules``);
    every span function below works on index ranges of it instead of re-iterating the Doc."""

    base: DocView
    text: list[str]
    lower: list[str]  # tok.lower_
    lemma: list[str]  # tok.lemma_.lower()
    punct: list[bool]
    space: list[bool]
    alpha: list[bool]
    upper: list[bool]
    negator: list[bool]
    scopes: dict[int, list[int]]  # negator index -> in-window candidates of its scope
    idx: list[int]  # character offset of each token
    sent_start: list[bool]  # SENT_START == 1

    @classmethod
    def of(cls, doc: Doc, rules: Rules) -> _View:
        b = DocView.of(doc)
        dep, lower = b.dep, b.lower
        negator = [d == "neg" or (d == "det" and w in rules.neg_determiners)
                   or (d == "prep" and w in rules.neg_prepositions)
                   for d, w in zip(dep, lower, strict=True)]
        scopes: dict[int, list[int]] = {}
        for k in (k for k, flag in enumerate(negator) if flag):
            tok = doc[k]
            if dep[k] == "neg":
                head = tok.head
                skip: set[int] = set()
                for child in head.children:
                    if child.dep_ in rules.neg_stops:
                        skip.update(t.i for t in child.subtree)
                cand = [t.i for t in head.subtree if t.i not in skip]
            elif dep[k] == "det":
                cand = [t.i for t in tok.head.subtree]
            else:
                cand = [t.i for t in tok.subtree]
            scopes[k] = [i for i in cand if 0 < i - k <= rules.neg_window]
        return cls(b, b.text, lower, b.lemma_lower, b.punct, b.space, b.alpha, b.upper,
                   negator, scopes, b.idx, b.sent_start)

    @property
    def doc(self) -> Doc:
        """The Doc viewed."""
        return self.base.doc

    def sentences(self) -> list[tuple[int, int]]:
        """``(start, end)`` of ``doc.sents`` (read from the sentence starts when no user hook
        replaces them; ``doc.sents`` raises as usual on a Doc without sentence boundaries)."""
        doc = self.doc
        if "sents" in doc.user_hooks or not doc.has_annotation("SENT_START"):
            return [(s.start, s.end) for s in doc.sents]
        n = len(doc)
        starts = [0, *(i for i in range(1, n) if self.sent_start[i])]
        return list(zip(starts, [*starts[1:], n], strict=True)) if n else []

    @property
    def doc_text(self) -> str:
        """``doc.text``."""
        return self.base.doc_text

    def span_text(self, lo: int, hi: int) -> str:
        """``doc[lo:hi].text``."""
        return self.base.span_text(lo, hi)

    def negated(self, lo: int, hi: int) -> set[int]:
        """:func:`negated_tokens` of ``doc[lo:hi]``."""
        out: set[int] = set()
        for k, cand in self.scopes.items():
            if lo <= k < hi:
                out.update(cand)
        return {i for i in out if lo <= i < hi and not self.negator[i]
                and not (self.punct[i] or self.space[i])}

    def word_count(self, lo: int, hi: int) -> int:
        """:func:`word_count` of ``doc[lo:hi]``."""
        p, s = self.punct, self.space
        return sum(1 for i in range(lo, hi) if not (p[i] or s[i]))


def _modifier_ends(low: Sequence[str], rules: Rules) -> dict[int, list[tuple[int, float]]]:
    """For each position in ``low`` (lower-cased tokens): the modifiers ``(start, value)``
    ending there."""
    ends: dict[int, list[tuple[int, float]]] = {}
    for n in _modifier_lengths(rules):
        for i in range(len(low) - n + 1):
            key = tuple(low[i:i + n])
            if key in rules.modifiers:
                ends.setdefault(i + n - 1, []).append((i, rules.modifiers[key]))
    return ends


_MOD_LENGTHS: dict[int, tuple[Rules, list[int]]] = {}


def _modifier_lengths(rules: Rules) -> list[int]:
    """Distinct modifier lengths, longest first (cached per Rules object)."""
    hit = _MOD_LENGTHS.get(id(rules))
    if hit is None or hit[0] is not rules:
        hit = _MOD_LENGTHS[id(rules)] = (rules, sorted({len(k) for k in rules.modifiers},
                                                       reverse=True))
    return hit[1]


@dataclass
class _SpanScores:
    """Everything the scores need from one span, computed in one pass over its tokens."""

    n: int  # words
    token_scores: list[TokenScore]
    raw: float
    compound: float
    pos: float
    neg: float
    n_modifiers: int
    n_negators: int
    negated: set[int]


def _span_scores(v: _View, lo: int, hi: int, rules: Rules) -> _SpanScores:
    """Rule-layer scores of ``doc[lo:hi]`` (:func:`token_scores`, :func:`rule_score`)."""
    low = v.lower[lo:hi]
    neg = v.negated(lo, hi)
    mod_ends = _modifier_ends(low, rules)
    mod_positions = {p for e, lst in mod_ends.items() for s, _ in lst for p in range(s, e + 1)}
    contrast_at = [k for k, w in enumerate(low) if w in rules.contrast]
    last_contrast = contrast_at[-1] if contrast_at else None
    lexicon, punct, space, negator = rules.lexicon, v.punct, v.space, v.negator
    scores = []
    for k in range(hi - lo):
        i = lo + k
        if k in mod_positions or negator[i] or punct[i] or space[i]:
            continue
        base = lexicon.get(low[k])
        if base is None:
            base = lexicon.get(v.lemma[i])
        if base is None:
            continue
        factor = 1.0
        for d in range(1, rules.window + 1):
            j = k - d
            if j < 0 or punct[lo + j]:
                break
            for _, value in mod_ends.get(j, []):
                factor *= 1.0 + value
        weight = 1.0
        if last_contrast is not None:
            weight = rules.before if k < last_contrast else rules.after
        scores.append(TokenScore(i, v.text[i], base, i in neg, factor, weight))
    scalar = load_rules().negation_scalar  # as TokenScore.value
    vals = []
    for s in scores:
        x = s.base * s.modifier * s.contrast
        vals.append(x * scalar if s.negated else x)
    raw = float(sum(vals))
    return _SpanScores(
        n=v.word_count(lo, hi), token_scores=scores, raw=raw,
        compound=raw / math.sqrt(raw * raw + rules.alpha),
        pos=float(sum(x for x in vals if x > 0)), neg=float(-sum(x for x in vals if x < 0)),
        n_modifiers=sum(len(x) for x in mod_ends.values()),
        n_negators=sum(v.negator[lo:hi]), negated=neg)


@lru_cache(maxsize=1)
def _nrc_emotion_counts() -> dict[str, Counter[str]]:
    """NRC lexicon word -> counts of its emotions (as NRCLex counts them)."""
    return {w: Counter(emos) for w, emos in NRCLex().__lexicon__.items()}


def _nrc(v: _View, lo: int, hi: int, n: int, neg: set[int]) -> dict[str, float]:
    """:func:`nrc_rates` of ``doc[lo:hi]`` (``n`` words, ``neg`` its negated tokens)."""
    lex = _nrc_emotion_counts()
    counts: Counter[str] = Counter()
    for i in range(lo, hi):
        if v.punct[i] or v.space[i] or i in neg:
            continue
        w = v.lower[i] if v.lower[i] in lex else v.lemma[i]
        c = lex.get(w)
        if c is not None:
            counts.update(c)
    return {f"nrc_{e}": (100.0 * counts.get(e, 0) / n if n else 0.0) for e in NRC_EMOTIONS}


def _lexical(v: _View, lo: int, hi: int, neg: set[int]) -> Counter[str]:
    """:func:`lexical_features` of ``doc[lo:hi]``."""
    words = [(NEG_PREFIX if i in neg else "") + v.lemma[i] for i in range(lo, hi) if v.alpha[i]]
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)])


def _dense(v: _View, lo: int, hi: int, sc: _SpanScores, vd: dict[str, float],
           nrc: dict[str, float]) -> np.ndarray:
    """:func:`dense_features` of ``doc[lo:hi]`` from its rule scores, VADER scores and NRC
    rates."""
    n = sc.n
    words = [i for i in range(lo, hi) if not (v.punct[i] or v.space[i])]
    low = v.lower[lo:hi]
    per = 1.0 / max(n, 1)
    row = [sc.compound, sc.pos * per, sc.neg * per, vd["compound"], vd["pos"], vd["neg"],
           *(nrc[f"nrc_{e}"] / 100.0 for e in NRC_EMOTIONS), math.log1p(n),
           float(sum(t.count("!") for t in low)), float(sum(t.count("?") for t in low)),
           sum(1 for i in words if v.upper[i] and len(v.text[i]) > 1) * per,
           sc.n_negators * per,
           sc.n_modifiers * per,
           sum(1 for i in words if v.lower[i] in ("i", "me", "my", "myself", "mine")) * per]
    return np.asarray(row, dtype=np.float64)


def _span_view(span: Doc | Span, rules: Rules, views: dict[int, _View] | None = None
               ) -> tuple[_View, int, int]:
    """The view of ``span``'s Doc (memoised per Doc in ``views`` if given) and its token
    bounds."""
    doc = span.doc if isinstance(span, Span) else span
    v = views.get(id(doc)) if views is not None else None
    if v is None:
        v = _View.of(doc, rules)
        if views is not None:
            views[id(doc)] = v
    return (v, span.start, span.end) if isinstance(span, Span) else (v, 0, len(span))


def negated_tokens(span: Doc | Span, rules: Rules | None = None) -> set[int]:
    """Doc indices of the tokens of ``span`` that lie inside a negation scope.

    Negators: (1) a token with dependency ``neg`` (not, n't, never) scopes over its head's
    subtree, leaving out the subtrees of the head's children whose label is in
    ``negation_scope_stops`` (conjoined and subordinate clauses, e.g. the clause after "but");
    (2) a determiner listed in ``negators.determiner`` ("no") scopes over its head's subtree;
    (3) a preposition in ``negators.preposition`` ("without") over its own subtree. In every
    case only tokens 1..``negation_window`` positions after the negator are in scope (so in
    "I don't think it is bad" the word "bad", 4 tokens on, is not negated, as in VADER).
    Negators and punctuation are never in scope.
    """
    v, lo, hi = _span_view(span, rules or load_rules())
    return v.negated(lo, hi)


def negator_tokens(span: Doc | Span, rules: Rules | None = None) -> set[int]:
    """Doc indices of the tokens that open a negation scope (see :func:`negated_tokens`)."""
    v, lo, hi = _span_view(span, rules or load_rules())
    return {i for i in range(lo, hi) if v.negator[i]}


def _modifier_tokens(toks: Sequence[Token], rules: Rules) -> dict[int, list[tuple[int, float]]]:
    """For each position in ``toks``: the modifiers ``(start position, value)`` ending there."""
    return _modifier_ends([t.lower_ for t in toks], rules)


def token_scores(span: Doc | Span, rules: Rules | None = None) -> list[TokenScore]:
    """The sentiment-bearing tokens of ``span`` with the rules applied.

    - Lexicon valence: VADER lexicon value of the lower-case token, else of its lemma; tokens
      that are modifiers (intensifier/diminisher words) or negators (:func:`negator_tokens`,
      e.g. "no" in "no hope") carry none.
    - Intensifiers/diminishers: multiply by ``1 + value`` for each modifier phrase whose last
      token is 1..``window`` tokens before the word, in the span, with no punctuation between.
    - Negation: inside a scope of :func:`negated_tokens`, multiply by ``negation_scalar``.
    - Contrast: with a contrast word in the span, words before the last one are weighted
      ``before`` and words after it ``after``.
    """
    rules = rules or load_rules()
    v, lo, hi = _span_view(span, rules)
    return _span_scores(v, lo, hi, rules).token_scores


def rule_score(span: Doc | Span, rules: Rules | None = None) -> dict[str, float]:
    """Rule-layer valence of ``span``: ``raw`` (sum of token values), ``compound``
    (``raw / sqrt(raw^2 + alpha)``, in [-1, 1]), ``pos`` and ``neg`` (sums of the positive and
    of the absolute negative token values)."""
    rules = rules or load_rules()
    v, lo, hi = _span_view(span, rules)
    sc = _span_scores(v, lo, hi, rules)
    return {"raw": sc.raw, "compound": sc.compound, "pos": sc.pos, "neg": sc.neg}


# --------------------------------------------------------------------------- NRC and VADER
@lru_cache(maxsize=1)
def _nrc_lexicon() -> frozenset[str]:
    return frozenset(NRCLex().__lexicon__)


def nrc_tokens(span: Doc | Span, rules: Rules | None = None) -> list[str]:
    """Lexicon keys of the words of ``span`` to count: lower-case form if in the NRC lexicon,
    else the lemma; tokens inside a negation scope, punctuation and spaces are dropped."""
    v, lo, hi = _span_view(span, rules or load_rules())
    neg = v.negated(lo, hi)
    lex = _nrc_lexicon()
    return [v.lower[i] if v.lower[i] in lex else v.lemma[i] for i in range(lo, hi)
            if not (v.punct[i] or v.space[i] or i in neg)]


def word_count(span: Doc | Span) -> int:
    """Tokens that are neither punctuation nor whitespace."""
    return sum(1 for t in span if not (t.is_punct or t.is_space))


def nrc_rates(span: Doc | Span, rules: Rules | None = None) -> dict[str, float]:
    """``nrc_<emotion>``: NRC hits per 100 words (0 for an empty span)."""
    v, lo, hi = _span_view(span, rules or load_rules())
    return _nrc(v, lo, hi, v.word_count(lo, hi), v.negated(lo, hi))


_PUNCTUATION = string.punctuation  # what VADER strips from words


class _SentiWords:
    """What VADER's scoring reads of a ``SentiText`` (the text stripped, its words and their
    lower case; computed when first read, whether only some words are in capitals,
    ``allcap_differential``), plus the word valences VADER computes before its "but" rule."""

    def __init__(self, text: str) -> None:
        self.text = text.strip()
        self.words_and_emoticons = [w if len(s := w.strip(_PUNCTUATION)) <= 2 else s
                                    for w in self.text.split()]
        self.lows = [w.lower() for w in self.words_and_emoticons]
        self.sentiments: list[float] = []
        self._cap_diff: bool | None = None

    @property
    def is_cap_diff(self) -> bool:
        if self._cap_diff is None:
            self._cap_diff = allcap_differential(self.words_and_emoticons)
        return self._cap_diff


#: VADER reads words ``i - _BACK`` to ``i + _AHEAD`` to score word ``i`` (see _WindowedVader)
_BACK, _AHEAD = 3, 2


class _WindowedVader(SentimentIntensityAnalyzer):
    """VADER 3.3.2 with the same scores, minus repeated work.

    The valence VADER gives word ``i`` (``sentiment_valence``: lexicon value, "no", ALL-CAPS,
    boosters, negation, "never so", "without doubt", idioms, "least") reads only words
    ``i - 3`` to ``i + 2`` of the text's word list, whether ``i`` is at least 3 and at most
    ``len - 3`` (the bounds tests), and the text-wide ``is_cap_diff`` flag, which matters only
    for ALL-CAPS words among ``i - 3`` to ``i``. Only then do the "but" rule and
    ``score_valence`` (with the text's '!' and '?' counts) read the whole text. Hence:

    - ``_negation_check`` and ``_special_idioms_check`` are handed just that window, re-indexed
      (VADER lower-cases the whole word list on every call, several times per sentiment word,
      a quadratic cost on long texts); every comparison they make is the same (the window
      keeps the length tests against the end of the text, and ``i - 3 >= 0`` whenever they
      are called from ``sentiment_valence``). For a smaller ``i`` the whole list is passed.
    - :meth:`joined_scores` scores a turn from its sentences' valences: where a sentence's
      word list occurs in the turn's word list and word ``k`` of it has its whole window
      inside the sentence (``3 <= k <= len - 3``), every value listed above is the same in
      both texts except perhaps ``is_cap_diff``, so the sentence's valence is reused if the
      two flags agree or no word of the sentence is in capitals. (They can differ only for a
      sentence with no ALL-CAPS word or with nothing else, as the flag is "some but not all
      words".) Other words are scored as VADER scores them; then the "but" rule and
      ``score_valence`` run on the whole turn.

    The test suite compares the scores with the unmodified analyser on random texts made of
    VADER's trigger words, cut into random "sentences".
    """

    def polarity_scores(self, text: str) -> dict[str, float]:
        """VADER's scores of ``text``."""
        st = self.valences(text)
        return super().polarity_scores(text) if st is None else self.scores_of(st)

    def valences(self, text: str) -> _SentiWords | None:
        """The words of ``text`` and their valences before the "but" rule (None if the text
        has an emoji character: VADER first replaces emoji by their descriptions; a text without
        any comes out of that pass unchanged, so it is scored directly)."""
        if not self._emoji_chars.isdisjoint(text):
            return None
        st = _SentiWords(text)
        self._score_words(st, None)
        return st

    def joined_scores(self, text: str, parts: Sequence[_SentiWords | None]) -> dict[str, float]:
        """:meth:`polarity_scores` of ``text``, reusing the valences of ``parts`` (the
        :meth:`valences` of its sentences, in order; None entries are skipped) where they are
        VADER's valences in ``text`` too (see the class docstring)."""
        if not self._emoji_chars.isdisjoint(text):
            return super().polarity_scores(text)
        st = _SentiWords(text)
        self._score_words(st, self._known(st, parts))
        return self.scores_of(st)

    @staticmethod
    def _known(st: _SentiWords, parts: Sequence[_SentiWords | None]) -> list[float | None]:
        """Per word of ``st``: the valence of the same word in one of ``parts`` when it is
        certainly VADER's valence in ``st``, else None."""
        words = st.words_and_emoticons
        known: list[float | None] = [None] * len(words)
        start = 0
        for p in parts:
            if p is None or len(p.words_and_emoticons) <= _BACK + _AHEAD:
                continue
            pw = p.words_and_emoticons
            at = _find_sublist(words, pw, start)
            if at is None:
                continue
            start = at + len(pw)
            if p.is_cap_diff != st.is_cap_diff and any(w.isupper() for w in pw):
                continue
            known[at + _BACK:start - _AHEAD] = p.sentiments[_BACK:-_AHEAD]
        return known

    def _score_words(self, st: _SentiWords, known: list[float | None] | None) -> None:
        """VADER 3.3.2's loop over the words of ``st`` (filling ``st.sentiments``): the
        per-word call skipped where it would add 0, or where ``known`` has the value."""
        words, lows, sentiments = st.words_and_emoticons, st.lows, st.sentiments
        last, lexicon = len(words) - 1, self.lexicon
        for i, low in enumerate(lows):
            # boosters, "kind of", and words not in the lexicon score 0
            if low in BOOSTER_DICT or low not in lexicon or (
                    low == "kind" and i < last and lows[i + 1] == "of"):
                sentiments.append(0)
            elif known is not None and (x := known[i]) is not None:
                sentiments.append(x)
            else:
                self.sentiment_valence(0, st, words[i], i, sentiments)

    def scores_of(self, st: _SentiWords) -> dict[str, float]:
        """VADER's "but" rule (only when "but" occurs; on a copy: it edits the list) and
        ``score_valence``."""
        sentiments = st.sentiments
        if "but" in st.lows:
            sentiments = self._but_check(st.words_and_emoticons, list(sentiments))
        return self.score_valence(sentiments, st.text)

    @cached_property
    def _emoji_chars(self) -> frozenset[str]:
        return frozenset(k for k in self.emojis if len(k) == 1)

    def _negation_check(self, valence: float, words_and_emoticons: list[str], start_i: int,
                        i: int) -> float:
        if i < 3:
            return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons,
                                                              start_i, i)
        return SentimentIntensityAnalyzer._negation_check(
            valence, words_and_emoticons[i - 3:i + 1], start_i, 3)

    def _special_idioms_check(self, valence: float, words_and_emoticons: list[str], i: int
                              ) -> float:
        if i < 3:
            return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons, i)
        return SentimentIntensityAnalyzer._special_idioms_check(
            valence, words_and_emoticons[i - 3:i + 3], 3)


def _find_sublist(words: list[str], part: list[str], start: int) -> int | None:
    """The first ``j >= start`` with ``words[j:j + len(part)] == part`` (``part`` not empty),
    or None."""
    m, j = len(part), start
    while True:
        try:
            j = words.index(part[0], j, len(words) - m + 1)
        except ValueError:
            return None
        if words[j:j + m] == part:
            return j
        j += 1


@lru_cache(maxsize=1)
def _vader() -> _WindowedVader:
    return _WindowedVader()


def vader_scores(text: str) -> dict[str, float]:
    """VADER polarity scores (``compound``, ``pos``, ``neg``, ``neu``) of ``text``."""
    return _vader().polarity_scores(text)


# --------------------------------------------------------------------------- model features
def lexical_features(span: Doc | Span, rules: Rules | None = None) -> Counter[str]:
    """Counts of the lower-case lemmas of the alphabetic tokens, prefixed ``NOT_`` inside a
    negation scope, and of the bigrams of successive such items (joined by a space)."""
    v, lo, hi = _span_view(span, rules or load_rules())
    return _lexical(v, lo, hi, v.negated(lo, hi))


def dense_features(span: Doc | Span, rules: Rules | None = None) -> np.ndarray:
    """The :data:`DENSE_FEATURES` of ``span`` (rates are per word)."""
    rules = rules or load_rules()
    v, lo, hi = _span_view(span, rules)
    return _unit(v, lo, hi, span.text, rules).dense


@dataclass
class _Unit:
    """One scored span: its model inputs and the scores read off them."""

    scores: _SpanScores
    vader: dict[str, float]
    senti: _SentiWords | None  # VADER's word valences (None: the text has emoji)
    nrc: dict[str, float]
    lexical: Counter[str]
    dense: np.ndarray


def _unit(v: _View, lo: int, hi: int, text: str, rules: Rules) -> _Unit:
    """Everything about ``doc[lo:hi]`` (text ``text``) in one pass."""
    sc = _span_scores(v, lo, hi, rules)
    senti = _vader().valences(text)
    vd = vader_scores(text) if senti is None else _vader().scores_of(senti)
    nrc = _nrc(v, lo, hi, sc.n, sc.negated)
    return _Unit(sc, vd, senti, nrc, _lexical(v, lo, hi, sc.negated),
                 _dense(v, lo, hi, sc, vd, nrc))


@dataclass(frozen=True)
class LinearVAD:
    """The shipped linear valence/arousal/dominance model (no pickle: a plain ``.npz``)."""

    vocab: dict[str, int]
    coef: np.ndarray  # (3, len(vocab) + len(DENSE_FEATURES))
    intercept: np.ndarray  # (3,)
    dense_mean: np.ndarray
    dense_sd: np.ndarray
    meta: dict[str, object]

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> LinearVAD:
        """Read a model written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            vocab = {str(w): i for i, w in enumerate(z["vocab"].tolist())}
            return cls(vocab, z["coef"], z["intercept"], z["dense_mean"], z["dense_sd"],
                       json.loads(str(z["meta"])))

    def save(self, path: str | Path = MODEL_FILE) -> None:
        """Write the model as an uncompressed-key, compressed ``.npz`` (byte-stable)."""
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        arrays = {"vocab": np.asarray(words, dtype=str), "coef": self.coef.astype(np.float32),
                  "intercept": self.intercept, "dense_mean": self.dense_mean,
                  "dense_sd": self.dense_sd,
                  "meta": np.asarray(json.dumps(self.meta, sort_keys=True))}
        np.savez_compressed(path, **arrays)

    def design(self, spans: Sequence[Doc | Span], rules: Rules | None = None
               ) -> sparse.csr_matrix:
        """The model's input matrix for ``spans`` (rows are spans)."""
        return design_matrix(spans, self.vocab, self.dense_mean, self.dense_sd, rules)

    def predict(self, spans: Sequence[Doc | Span], rules: Rules | None = None) -> np.ndarray:
        """Predictions (n, 3) for valence, arousal, dominance on the 1-5 scale, clipped."""
        if not spans:
            return np.zeros((0, 3))
        return self.predict_matrix(self.design(spans, rules))

    def predict_matrix(self, x: sparse.csr_matrix) -> np.ndarray:
        """Predictions (n, 3) for a design matrix ``x`` (rows are independent: predicting a
        stack of rows gives each row what predicting it alone gives)."""
        return np.clip(np.asarray(x @ self.coef.T.astype(np.float64)) + self.intercept, 1.0, 5.0)

    def _predict_units(self, units: Sequence[_Unit]) -> np.ndarray:
        return self.predict_matrix(_assemble(units, self.vocab, self.dense_mean, self.dense_sd))


def _assemble(units: Sequence[_Unit], vocab: dict[str, int], dense_mean: np.ndarray,
              dense_sd: np.ndarray) -> sparse.csr_matrix:
    rows, cols, vals = [], [], []
    dense = np.zeros((len(units), len(DENSE_FEATURES)))
    for r, u in enumerate(units):
        hits = sorted((vocab[w], c) for w, c in u.lexical.items() if w in vocab)
        norm = math.sqrt(sum(c * c for _, c in hits))
        for j, c in hits:
            rows.append(r)
            cols.append(j)
            vals.append(c / norm)
        dense[r] = u.dense
    lex = sparse.csr_matrix((vals, (rows, cols)), shape=(len(units), len(vocab)))
    return sparse.hstack([lex, sparse.csr_matrix((dense - dense_mean) / dense_sd)],
                         format="csr")


def design_matrix(spans: Sequence[Doc | Span], vocab: dict[str, int], dense_mean: np.ndarray,
                  dense_sd: np.ndarray, rules: Rules | None = None) -> sparse.csr_matrix:
    """Rows: L2-normalised lexical counts over ``vocab``, then the standardised dense
    features (a sparse CSR matrix; rows are spans)."""
    rules = rules or load_rules()
    views: dict[int, _View] = {}
    units = []
    for span in spans:
        v, lo, hi = _span_view(span, rules, views)
        units.append(_unit(v, lo, hi, span.text, rules))
    return _assemble(units, vocab, dense_mean, dense_sd)


@lru_cache(maxsize=1)
def load_model() -> LinearVAD:
    """The shipped model (cached)."""
    return LinearVAD.load(MODEL_FILE)


# --------------------------------------------------------------------------- scoring
#: Scores of a span with no words: every score is NaN (never 0, which would read as neutral).
_EMPTY_SCORES: dict[str, float] = {
    **{d: math.nan for d in DIMENSIONS}, "valence_rules": math.nan, "vader_compound": math.nan,
    **{f"nrc_{e}": math.nan for e in NRC_EMOTIONS}}


def score_span(span: Doc | Span, model: LinearVAD | None = None) -> dict[str, float]:
    """All scores of one span (a sentence or a whole doc) scored as one unit."""
    return _score_spans([span], model or load_model())[0]


def _score_spans(spans: Sequence[Doc | Span], model: LinearVAD) -> list[dict[str, float]]:
    """:func:`score_span` of each span, with one model prediction for all of them."""
    rules = load_rules()
    views: dict[int, _View] = {}
    outs: list[dict[str, float]] = []
    units: list[_Unit] = []
    scored: list[int] = []
    for span in spans:
        v, lo, hi = _span_view(span, rules, views)
        n = v.word_count(lo, hi)
        outs.append({"n_words": n})
        if n == 0:
            outs[-1].update(_EMPTY_SCORES)
            continue
        units.append(_unit(v, lo, hi, span.text, rules))
        scored.append(len(outs) - 1)
    pred = model._predict_units(units) if units else np.zeros((0, 3))
    for k, (r, u) in enumerate(zip(scored, units, strict=True)):
        out = outs[r]
        out.update(dict(zip(DIMENSIONS, pred[k].tolist(), strict=True)))
        out["valence_rules"] = u.scores.compound
        out["vader_compound"] = u.vader["compound"]
        out.update(u.nrc)
    return outs


def _sentences(doc: Doc) -> list[Span]:
    return [s for s in doc.sents if word_count(s) > 0] if len(doc) else []


def score_doc(doc: Doc, model: LinearVAD | None = None) -> dict[str, float]:
    """Scores of a whole text: valence/arousal/dominance are the word-weighted mean of its
    sentences' predictions; the rule layer, VADER and NRC rates are computed on the whole text
    (the contrast rule acts within each sentence)."""
    return _score_docs([doc], model or load_model())[0]


def _score_docs(docs: Sequence[Doc], model: LinearVAD) -> list[dict[str, float]]:
    """:func:`score_doc` of each Doc, with one model prediction for all their sentences."""
    rules = load_rules()
    outs: list[dict[str, float]] = []
    units: list[_Unit] = []
    groups: list[tuple[int, int, int, dict[str, float]]] = []  # row, units a:b, rest
    for doc in docs:
        v = _View.of(doc, rules)
        n = v.word_count(0, len(doc))
        sents = [b for b in v.sentences() if v.word_count(*b) > 0] if len(doc) else []
        out: dict[str, float] = {"n_words": n, "n_sentences": len(sents)}
        outs.append(out)
        if n == 0:
            out.update(_EMPTY_SCORES)
            continue
        first = len(units)
        units.extend(_unit(v, lo, hi, v.span_text(lo, hi), rules) for lo, hi in sents)
        raw = sum(u.scores.raw for u in units[first:])
        rest = {"valence_rules": raw / math.sqrt(raw * raw + rules.alpha),
                "vader_compound": _vader().joined_scores(
                    v.doc_text, [u.senti for u in units[first:]])["compound"],
                **_nrc(v, 0, len(doc), n, v.negated(0, len(doc)))}
        groups.append((len(outs) - 1, first, len(units), rest))
    pred = model._predict_units(units) if units else np.zeros((0, 3))
    for r, a, b, rest in groups:
        w = np.asarray([u.scores.n for u in units[a:b]], dtype=float)
        means = w @ pred[a:b].copy() / w.sum()
        outs[r].update({**dict(zip(DIMENSIONS, means.tolist(), strict=True)), **rest})
    return outs


SCORE_COLUMNS = ["n_words", "n_sentences", *DIMENSIONS, "valence_rules", "vader_compound",
                 *(f"nrc_{e}" for e in NRC_EMOTIONS)]


def _check(turns: pd.DataFrame, docs: Sequence[Doc]) -> None:
    if len(turns) != len(docs):
        raise ValueError(f"turns has {len(turns)} rows but docs has {len(docs)} Docs: they must be "
                         "row-aligned (docs[i] is the parse of turns.text.iloc[i])")


def score_turns(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per turn keyed ``session_id, turn, speaker`` with :data:`SCORE_COLUMNS`.

    ``docs[i]`` must be the Doc of ``turns.text.iloc[i]``. Rows come for every turn (flagged
    ones too); apply :func:`therapy_turns.transcripts.analysable` before analysing.
    """
    _check(turns, docs)
    rows = _score_docs(docs, load_model())
    out = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    out = pd.concat([turns[KEYS].reset_index(drop=True), out], axis=1)
    return out.astype({"n_words": "int64", "n_sentences": "int64"})


def score_sentences(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per sentence (with at least one word): the turn keys, ``sentence`` (0-based
    within the turn), ``text`` and the scores of :func:`score_span` for that sentence."""
    _check(turns, docs)
    model = load_model()
    keys = turns[KEYS].to_dict("records")
    heads, spans = [], []
    for key, doc in zip(keys, docs, strict=True):
        for k, sent in enumerate(_sentences(doc)):
            heads.append({**key, "sentence": k, "text": sent.text})
            spans.append(sent)
    rows = [{**h, **s} for h, s in zip(heads, _score_spans(spans, model), strict=True)]
    cols = [*KEYS, "sentence", "text", *[c for c in SCORE_COLUMNS if c != "n_sentences"]]
    return pd.DataFrame(rows, columns=cols)


def score_texts(texts: Iterable[str], nlp=None) -> pd.DataFrame:
    """Convenience for ad-hoc use: parse ``texts`` once and score each as a doc."""
    from .nlp import load_pipeline

    nlp = nlp or load_pipeline()
    return pd.DataFrame(_score_docs(list(nlp.pipe(list(texts))), load_model()),
                        columns=SCORE_COLUMNS)
