"""Turn- and sentence-level affect: valence, arousal, dominance, VADER and NRC emotions.

Every function reads spaCy Docs that were parsed once by the shared step (tagger, parser,
lemmatizer; NER off); nothing is re-parsed here.

Scores
------
``valence``, ``arousal``, ``dominance``
    Predicted on EmoBank's 1-5 scale (Buechel & Hahn 2017; 1 = very negative / calm /
    controlled, 3 = neutral, 5 = very positive / excited / in control), clipped to [1, 5].
    A sentence is scored by the shipped linear model (:mod:`measures.emotion_model`, ridge
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

import bisect
import itertools
import json
import logging
import math
import operator
import string
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from nrclex import NRCLex
from scipy import sparse
from spacy.tokens import Doc, Span
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
)

from therapy_turns.measures.views import DocView
from therapy_turns.paths import LEXICON_DIR, MODEL_DIR, read_yaml

log = logging.getLogger(__name__)

KEYS = ["session_id", "turn", "speaker"]
NRC_EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise",
                "trust", "positive", "negative")
DIMENSIONS = ("valence", "arousal", "dominance")
MODEL_FILE = MODEL_DIR / "emotion_vad.npz"
RULES_FILE = LEXICON_DIR / "emotion_rules.yaml"
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
    raw = read_yaml(RULES_FILE)
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
#: lower-case tokens counted as first person (dense feature ``first_person``)
_FIRST_PERSON = frozenset({"i", "me", "my", "myself", "mine"})


@dataclass
class _View:
    """The token attributes of one Doc that the scores read (lists of the shared
    :class:`~measures.views.DocView`), plus what the scores derive per token, computed once
    per Doc rather than once per span (a turn's Doc is read for each sentence and again for the
    whole turn): the negators and their scopes under ``rules``, the rule-layer lexicon value,
    the NRC emotion counts, and the per-token terms of the dense features. Every span function
    below works on index ranges of it instead of re-iterating the Doc."""

    base: DocView
    text: list[str]
    lower: list[str]  # tok.lower_
    lemma: list[str]  # tok.lemma_.lower()
    punct: list[bool]
    alpha: list[bool]
    negator: list[bool]
    scopes: dict[int, list[int]]  # negator -> the words in its scope (no negators)
    word: list[bool]  # neither punctuation nor space
    words_before: list[int]  # words among tokens 0..i-1 (length len(doc) + 1)
    valence: list[float | None]  # rules lexicon value of a word that is no negator, else None
    scored: list[int]  # the tokens with a valence
    modifier_at: list[int]  # the tokens that are the first word of some modifier
    contrast_at: list[int]  # the contrast words
    nrc: list[tuple[int, ...] | None]  # NRC counts per NRC_EMOTIONS of a word, else None
    nrc_at: list[int]  # the tokens with NRC counts
    allcaps: list[bool]  # a word, upper case, longer than one character
    first_person: list[bool]  # a word in _FIRST_PERSON

    @classmethod
    def of(cls, doc: Doc, rules: Rules) -> _View:
        b = DocView.of(doc)
        dep, lower, lemma = b.dep, b.lower, b.lemma_lower
        negator = [d == "neg" or (d == "det" and w in rules.neg_determiners)
                   or (d == "prep" and w in rules.neg_prepositions)
                   for d, w in zip(dep, lower, strict=True)]
        word = [not (p or s) for p, s in zip(b.punct, b.space, strict=True)]
        lexicon, nrc_lex = rules.lexicon, _nrc_emotion_vectors()
        valence = [None if neg or not w else lexicon[lo] if lo in lexicon else lexicon.get(le)
                   for w, lo, le, neg in zip(word, lower, lemma, negator, strict=True)]
        nrc = [nrc_lex.get(lo if lo in nrc_lex else le) if w else None
               for w, lo, le in zip(word, lower, lemma, strict=True)]
        firsts = _modifier_index(rules)[1]
        return cls(
            b, b.text, lower, lemma, b.punct, b.alpha, negator,
            _scopes(b, negator, word, rules), word,
            list(itertools.accumulate(word, initial=0)), valence,
            _positions(map(operator.is_not, valence, itertools.repeat(None))),
            _positions(map(firsts.__contains__, lower)),
            _positions(map(rules.contrast.__contains__, lower)), nrc,
            _positions(map(operator.is_not, nrc, itertools.repeat(None))),
            [w and u and len(t) > 1 for w, u, t in zip(word, b.upper, b.text, strict=True)],
            [w and lo in _FIRST_PERSON for w, lo in zip(word, lower, strict=True)])

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
        n, starts_at = len(doc), self.base.sent_start
        starts = [0, *(i for i in range(1, n) if starts_at[i])]
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
                out.update(i for i in cand if i < hi)
        return out

    def word_count(self, lo: int, hi: int) -> int:
        """:func:`word_count` of ``doc[lo:hi]``."""
        return self.words_before[hi] - self.words_before[lo]


def _positions(flags: Iterable[object]) -> list[int]:
    """The indices of the true items of ``flags``."""
    return list(itertools.compress(itertools.count(), flags))


def _scopes(b: DocView, negator: list[bool], word: list[bool], rules: Rules
            ) -> dict[int, list[int]]:
    """Negator index -> the words 1..``neg_window`` after it in its scope that are no negators
    (see :func:`negated_tokens`), read from the head offsets. spaCy's ``Token.subtree`` is the token
    and its descendants, so ``i`` is in the subtree of ``top`` when walking up the heads from
    ``i`` reaches ``top``; the last step names the child of ``top`` whose subtree holds ``i``
    (the neg scope leaves out children labelled ``neg_stops``)."""
    negators = _positions(negator)
    if not negators:
        return {}
    n = len(negator)
    heads = (np.arange(n) + b.head).tolist()
    dep = b.dep

    def child_under(i: int, top: int) -> int | None:
        """-1 if ``i == top``; the child of ``top`` above ``i``; None if ``i`` is not under
        ``top``."""
        if i == top:
            return -1
        for _ in range(n):  # a tree has no path longer than n (guards against bad heads)
            h = heads[i]
            if h == top:
                return i
            if h == i:
                return None
            i = h
        return None

    scopes: dict[int, list[int]] = {}
    for k in negators:
        window = [i for i in range(k + 1, min(k + rules.neg_window, n - 1) + 1)
                  if word[i] and not negator[i]]
        if dep[k] == "neg":
            top = heads[k]
            scopes[k] = [i for i in window if (c := child_under(i, top)) is not None
                         and (c == -1 or dep[c] not in rules.neg_stops)]
        else:
            top = heads[k] if dep[k] == "det" else k
            scopes[k] = [i for i in window if child_under(i, top) is not None]
    return scopes


def _modifier_ends(low: Sequence[str], starts: Sequence[int], rules: Rules
                   ) -> dict[int, list[tuple[int, float]]]:
    """For each position in ``low`` (lower-cased tokens): the modifiers ``(start, value)``
    ending there (in the order: longest first, then by start). Only ``starts`` are tried: the
    positions, in order, holding the first word of some modifier."""
    ends: dict[int, list[tuple[int, float]]] = {}
    mods = rules.modifiers
    for n in _modifier_index(rules)[0]:
        for i in starts:
            key = tuple(low[i:i + n])
            if len(key) == n and key in mods:
                ends.setdefault(i + n - 1, []).append((i, mods[key]))
    return ends


_MOD_INDEX: dict[int, tuple[Rules, list[int], frozenset[str]]] = {}


def _modifier_index(rules: Rules) -> tuple[list[int], frozenset[str]]:
    """Distinct modifier lengths, longest first, and the first words of the modifiers (cached
    per Rules object)."""
    hit = _MOD_INDEX.get(id(rules))
    if hit is None or hit[0] is not rules:
        hit = _MOD_INDEX[id(rules)] = (
            rules, sorted({len(k) for k in rules.modifiers}, reverse=True),
            frozenset(k[0] for k in rules.modifiers))
    return hit[1], hit[2]


@dataclass
class _SpanScores:
    """Everything the scores need from one span, computed in one pass over its tokens."""

    n: int  # words
    terms: list[tuple[int, float, bool, float, float]]  # TokenScore fields but the text
    raw: float
    compound: float
    pos: float
    neg: float
    n_modifiers: int
    n_negators: int
    negated: set[int]


def _span_scores(v: _View, lo: int, hi: int, rules: Rules) -> _SpanScores:
    """Rule-layer scores of ``doc[lo:hi]`` (:func:`token_scores`, :func:`rule_score`); only the
    tokens with a lexicon value (:attr:`_View.scored`) are visited."""
    neg = v.negated(lo, hi)
    at = v.modifier_at
    starts = [i - lo for i in at[bisect.bisect_left(at, lo):bisect.bisect_left(at, hi)]]
    mod_ends = _modifier_ends(v.lower[lo:hi], starts, rules) if starts else {}
    mod_positions = {p for e, lst in mod_ends.items() for s, _ in lst for p in range(s, e + 1)}
    at = v.contrast_at
    k = bisect.bisect_left(at, hi) - 1
    last_contrast = at[k] - lo if k >= 0 and at[k] >= lo else None
    valence, punct, scored = v.valence, v.punct, v.scored
    scalar = load_rules().negation_scalar  # as TokenScore.value
    terms, vals = [], []
    for i in scored[bisect.bisect_left(scored, lo):bisect.bisect_left(scored, hi)]:
        k = i - lo
        if k in mod_positions:
            continue
        base = valence[i]
        factor = 1.0
        if mod_ends:  # modifiers ending 1..window tokens before, no punctuation between
            for d in range(1, rules.window + 1):
                j = k - d
                if j < 0 or punct[lo + j]:
                    break
                for _, value in mod_ends.get(j, []):
                    factor *= 1.0 + value
        weight = 1.0
        if last_contrast is not None:
            weight = rules.before if k < last_contrast else rules.after
        negated = i in neg
        terms.append((i, base, negated, factor, weight))
        x = base * factor * weight
        vals.append(x * scalar if negated else x)
    raw = float(sum(vals))
    return _SpanScores(
        n=v.word_count(lo, hi), terms=terms, raw=raw,
        compound=raw / math.sqrt(raw * raw + rules.alpha),
        pos=float(sum([x for x in vals if x > 0])), neg=float(-sum([x for x in vals if x < 0])),
        n_modifiers=sum(map(len, mod_ends.values())),
        n_negators=sum(v.negator[lo:hi]), negated=neg)


@lru_cache(maxsize=1)
def _nrc_emotion_vectors() -> dict[str, tuple[int, ...]]:
    """NRC lexicon word -> how often each of :data:`NRC_EMOTIONS` is listed for it (as NRCLex
    counts them)."""
    out = {}
    for w, emos in NRCLex().__lexicon__.items():
        c = Counter(emos)
        out[w] = tuple(c.get(e, 0) for e in NRC_EMOTIONS)
    return out


_NRC_KEYS = tuple(f"nrc_{e}" for e in NRC_EMOTIONS)


def _nrc(v: _View, lo: int, hi: int, n: int, neg: set[int]) -> dict[str, float]:
    """:func:`nrc_rates` of ``doc[lo:hi]`` (``n`` words, ``neg`` its negated tokens)."""
    if not n:
        return dict.fromkeys(_NRC_KEYS, 0.0)
    at, nrc = v.nrc_at, v.nrc
    hits = [nrc[i] for i in at[bisect.bisect_left(at, lo):bisect.bisect_left(at, hi)]
            if i not in neg]
    counts = [sum(x) for x in zip(*hits, strict=True)] if hits else [0] * len(NRC_EMOTIONS)
    return {k: 100.0 * c / n for k, c in zip(_NRC_KEYS, counts, strict=True)}


def _lexical_words(v: _View, lo: int, hi: int, neg: set[int]) -> list[str]:
    """The words :func:`lexical_features` counts in ``doc[lo:hi]`` (its bigrams join successive
    words with a space)."""
    alpha = itertools.compress(range(lo, hi), v.alpha[lo:hi])
    lemma = v.lemma
    if neg:
        return [(NEG_PREFIX if i in neg else "") + lemma[i] for i in alpha]
    return [lemma[i] for i in alpha]


def _lexical_columns(words: list[str], vocab: dict[str, int]) -> list[int]:
    """The ``vocab`` column of each lexical item of ``words`` (the words, then their bigrams,
    see :func:`_lexical_words`), -1 for an item not in ``vocab``. Bigrams are looked up as pairs
    in :func:`_bigram_index` without building their strings."""
    cols = list(map(vocab.get, words, itertools.repeat(-1)))
    cols += map(_bigram_index(vocab).get, zip(words, words[1:], strict=False),
                itertools.repeat(-1))
    return cols


_BIGRAM_INDEX: dict[int, tuple[dict[str, int], dict[tuple[str, str], int]]] = {}


def _bigram_index(vocab: dict[str, int]) -> dict[tuple[str, str], int]:
    """``(a, b) -> vocab[f"{a} {b}"]`` for every key of ``vocab`` cut at each of its spaces
    (so ``(a, b)`` is found exactly when ``f"{a} {b}"`` is a key, whatever spaces ``a`` or
    ``b`` hold); cached per vocabulary object."""
    hit = _BIGRAM_INDEX.get(id(vocab))
    if hit is None or hit[0] is not vocab:
        index = {(key[:k], key[k + 1:]): j for key, j in vocab.items()
                 for k, ch in enumerate(key) if ch == " "}
        hit = _BIGRAM_INDEX[id(vocab)] = (vocab, index)
    return hit[1]


def _dense(v: _View, lo: int, hi: int, sc: _SpanScores, vd: dict[str, float],
           nrc: dict[str, float]) -> list[float]:
    """:func:`dense_features` of ``doc[lo:hi]`` from its rule scores, VADER scores and NRC
    rates."""
    n = sc.n
    per = 1.0 / max(n, 1)
    # the tokens' lower case run together: the '!' and '?' in it are the tokens' (one character)
    low = "".join(v.lower[lo:hi])
    row = [sc.compound, sc.pos * per, sc.neg * per, vd["compound"], vd["pos"], vd["neg"],
           *(nrc[k] / 100.0 for k in _NRC_KEYS), math.log1p(n),
           float(low.count("!")), float(low.count("?")),
           sum(v.allcaps[lo:hi]) * per, sc.n_negators * per, sc.n_modifiers * per,
           sum(v.first_person[lo:hi]) * per]
    return row


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
    return [TokenScore(i, v.text[i], base, negated, factor, weight)
            for i, base, negated, factor, weight in _span_scores(v, lo, hi, rules).terms]


def rule_score(span: Doc | Span, rules: Rules | None = None) -> dict[str, float]:
    """Rule-layer valence of ``span``: ``raw`` (sum of token values), ``compound``
    (``raw / sqrt(raw^2 + alpha)``, in [-1, 1]), ``pos`` and ``neg`` (sums of the positive and
    of the absolute negative token values)."""
    rules = rules or load_rules()
    v, lo, hi = _span_view(span, rules)
    sc = _span_scores(v, lo, hi, rules)
    return {"raw": sc.raw, "compound": sc.compound, "pos": sc.pos, "neg": sc.neg}


# --------------------------------------------------------------------------- NRC and VADER
def nrc_tokens(span: Doc | Span, rules: Rules | None = None) -> list[str]:
    """Lexicon keys of the words of ``span`` to count: lower-case form if in the NRC lexicon,
    else the lemma; tokens inside a negation scope, punctuation and spaces are dropped."""
    v, lo, hi = _span_view(span, rules or load_rules())
    neg = v.negated(lo, hi)
    lex = _nrc_emotion_vectors()
    return [v.lower[i] if v.lower[i] in lex else v.lemma[i] for i in range(lo, hi)
            if v.word[i] and i not in neg]


def word_count(span: Doc | Span) -> int:
    """Tokens that are neither punctuation nor whitespace."""
    return sum(1 for t in span if not (t.is_punct or t.is_space))


def nrc_rates(span: Doc | Span, rules: Rules | None = None) -> dict[str, float]:
    """``nrc_<emotion>``: NRC hits per 100 words (0 for an empty span)."""
    v, lo, hi = _span_view(span, rules or load_rules())
    return _nrc(v, lo, hi, v.word_count(lo, hi), v.negated(lo, hi))


_PUNCTUATION = string.punctuation  # what VADER strips from words


class _SentiWords:
    """What VADER's scoring reads of a ``SentiText`` (the text stripped, its words), plus per
    word what :class:`_WindowedVader` reads instead of re-deriving it (see
    :meth:`_WindowedVader._form`), and the word valences VADER computes before its "but"
    rule."""

    def __init__(self, text: str, forms: list[tuple[str, str, bool, bool, bool, bool]]) -> None:
        self.text = text
        # per word, as tuples (one transposition of ``forms``; VADER only reads them)
        self.words_and_emoticons: tuple[str, ...]
        self.lows: tuple[str, ...]  # lower case
        self.scored: tuple[bool, ...]  # in the lexicon and no booster
        self.upper: tuple[bool, ...]  # str.isupper()
        self.loud: tuple[bool, ...]  # see _plain_words
        self.idiom_first: tuple[bool, ...]  # first word of a pair in _IDIOM_PAIRS
        (self.words_and_emoticons, self.lows, self.scored, self.upper, self.loud,
         self.idiom_first) = zip(*forms, strict=True) if forms else ((),) * 6
        self.sentiments: list[float] = []

    @cached_property
    def is_cap_diff(self) -> bool:
        """``allcap_differential`` of the words: some but not all are ALL CAPS."""
        n = len(self.upper)
        return 0 < n - sum(self.upper) < n


#: VADER reads words ``i - _BACK`` to ``i + _AHEAD`` to score word ``i`` (see _WindowedVader)
_BACK, _AHEAD = 3, 2
#: entries of a _WindowedVader's word memo kept before it is emptied
_FORMS_MAX = 200_000


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
    - Only the words VADER scores are visited (:meth:`_score_words`); a word no rule can touch
      gets its lexicon value without the call (:func:`_plain_words`); what is read of each
      whitespace-separated token is memoised (:meth:`_form`); the "but" rule
      (:func:`_but_check`) and ``_sift_sentiment_scores`` are VADER's arithmetic without its
      repeated lower-casing and zero visits.

    The test suite compares the scores with the unmodified analyser on random texts made of
    VADER's trigger words, cut into random "sentences", on every idiom cut by a sentence end,
    and the "but" rule on random valence lists.
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
        st = self._read(text)
        self._score_words(st, None)
        return st

    def joined_scores(self, text: str, parts: Sequence[_SentiWords | None]) -> dict[str, float]:
        """:meth:`polarity_scores` of ``text``, reusing the valences of ``parts`` (the
        :meth:`valences` of its sentences, in order; None entries are skipped) where they are
        VADER's valences in ``text`` too (see the class docstring)."""
        if not self._emoji_chars.isdisjoint(text):
            return super().polarity_scores(text)
        st = self._read(text)
        self._score_words(st, self._known(st, parts))
        return self.scores_of(st)

    def _read(self, text: str) -> _SentiWords:
        """``text`` stripped and split into VADER's words (with :meth:`_form` of each)."""
        text = text.strip()
        forms, form = self._forms, self._form
        return _SentiWords(text, [forms.get(w) or form(w) for w in text.split()])

    @cached_property
    def _forms(self) -> dict[str, tuple[str, str, bool, bool, bool, bool]]:
        return {}

    def _form(self, token: str) -> tuple[str, str, bool, bool, bool, bool]:
        """What is read of a whitespace-separated token, memoised (bounded): VADER's word for
        it (punctuation stripped unless that leaves two characters or fewer, as
        ``SentiText``), its lower case, whether VADER scores it (in the lexicon, no booster),
        ``isupper()``, whether it is loud or the first word of an idiom pair
        (:func:`_plain_words`)."""
        word = token if len(s := token.strip(_PUNCTUATION)) <= 2 else s
        low = word.lower()
        if len(self._forms) >= _FORMS_MAX:
            self._forms.clear()
        out = self._forms[token] = (
            word, low, low not in BOOSTER_DICT and low in self.lexicon, word.isupper(),
            low in _LOUD or "n't" in low, low in _IDIOM_FIRSTS)
        return out

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
            if p.is_cap_diff != st.is_cap_diff and any(p.upper):
                continue
            known[at + _BACK:start - _AHEAD] = p.sentiments[_BACK:-_AHEAD]
        return known

    def _score_words(self, st: _SentiWords, known: list[float | None] | None) -> None:
        """VADER 3.3.2's loop over the words of ``st`` (setting ``st.sentiments``), visiting
        only the words it scores: others (boosters, words not in the lexicon) and "kind"
        before "of" get 0. A word's valence is taken from ``known`` if there, else is the bare
        lexicon value where :func:`_plain_words` shows nothing could change it, else is
        computed by VADER's ``sentiment_valence`` (which appends it to the list it is given
        and reads no other valence)."""
        words, lows, upper = st.words_and_emoticons, st.lows, st.upper
        n, lexicon = len(words), self.lexicon
        sentiments: list[float] = [0] * n
        plain: list[bool] | None = None
        for i in itertools.compress(range(n), st.scored):
            if lows[i] == "kind" and i < n - 1 and lows[i + 1] == "of":
                continue
            if known is not None and (x := known[i]) is not None:
                sentiments[i] = x
                continue
            if plain is None:
                plain = _plain_words(st)
            if plain[i] and not upper[i]:
                sentiments[i] = lexicon[lows[i]]
            else:
                sentiments[i] = self.sentiment_valence(0, st, words[i], i, [])[0]
        st.sentiments = sentiments

    def scores_of(self, st: _SentiWords) -> dict[str, float]:
        """VADER's "but" rule (:func:`_but_check`, only when "but" occurs; on a copy: it edits
        the list) and ``score_valence``."""
        sentiments = st.sentiments
        if "but" in st.lows:
            sentiments = _but_check(st.lows, list(sentiments))
        return self.score_valence(sentiments, st.text)

    @staticmethod
    def _sift_sentiment_scores(sentiments: list[float]) -> tuple[float, float, int]:
        """VADER's sums of the positive and of the negative valences (each plus or minus 1),
        and the count of zeros, visiting only the non-zero valences: the sums see the same
        values in the same order (a zero, 0 or -0.0, only counts as neutral)."""
        nonzero = [x for x in sentiments if x]
        pos_sum = neg_sum = 0.0
        for x in nonzero:
            if x > 0:
                pos_sum += float(x) + 1
            if x < 0:
                neg_sum += float(x) - 1
        return pos_sum, neg_sum, len(sentiments) - len(nonzero)

    @cached_property
    def _emoji_chars(self) -> frozenset[str]:
        return frozenset(k for k in self.emojis if len(k) == 1)

    def _negation_check(self, valence: float, words_and_emoticons: Sequence[str], start_i: int,
                        i: int) -> float:
        if i < 3:
            return SentimentIntensityAnalyzer._negation_check(valence, words_and_emoticons,
                                                              start_i, i)
        return SentimentIntensityAnalyzer._negation_check(
            valence, words_and_emoticons[i - 3:i + 1], start_i, 3)

    def _special_idioms_check(self, valence: float, words_and_emoticons: Sequence[str], i: int
                              ) -> float:
        if i < 3:
            return SentimentIntensityAnalyzer._special_idioms_check(valence, words_and_emoticons, i)
        return SentimentIntensityAnalyzer._special_idioms_check(
            valence, words_and_emoticons[i - 3:i + 3], 3)


#: Lower-case words that can change the valence VADER gives a word up to 3 words after or 2
#: before them: negations (VADER's NEGATE; also any word containing "n't"), boosters, "no",
#: "so"/"this" (after "never", or right before), "least".
_LOUD = frozenset({*NEGATE, *(k for k in BOOSTER_DICT if " " not in k), "no", "so", "this",
                   "least"})
#: Adjacent word pairs of VADER's multi-word idioms and boosters (``_special_idioms_check``
#: only changes a valence when one of its word sequences, all of them adjacent words, is one).
_IDIOM_PAIRS = frozenset(p for k in [*SPECIAL_CASES, *BOOSTER_DICT] if " " in k
                         for p in itertools.pairwise(k.split()))
_IDIOM_FIRSTS = frozenset(a for a, _ in _IDIOM_PAIRS)


def _plain_words(st: _SentiWords) -> list[bool]:
    """Per word of ``st``: whether VADER's ``sentiment_valence`` certainly returns the bare
    lexicon value for it unless it is in ALL CAPS (checked by the caller).

    That valence reads words ``i - 3..i + 2`` (see :class:`_WindowedVader`); it departs from
    the lexicon value only through a word of :data:`_LOUD` or containing "n't" among words
    ``i - 3..i`` (the "no", negation, booster, "never so", "least" rules; "or"/"nor",
    "at"/"very", "doubt" only act next to one of those; of the words after ``i`` only idioms
    and "no" itself read any), an idiom or booster phrase within ``i - 3..i + 2`` (it contains
    an adjacent pair of :data:`_IDIOM_PAIRS`), or its own capitals. Otherwise every step adds
    0.0 to it (scalars of non-boosters) or leaves it as is; the lexicon has no zero values, so
    ``x + 0.0 == x``. The checks VADER makes on ``w.lower()`` are made here on the lower case
    again, which is the same (``str.lower`` is idempotent; tested on every code point)."""
    lows = st.lows
    n = len(lows)
    plain = [True] * n
    # words that read a loud word (st.loud) as theirs or as one of the 3 before
    spans = [(j, j + _BACK) for j in itertools.compress(range(n), st.loud)]
    # words whose window holds an idiom pair j, j + 1
    spans += [(j + 1 - _AHEAD, j + _BACK) for j in itertools.compress(range(n - 1), st.idiom_first)
              if (lows[j], lows[j + 1]) in _IDIOM_PAIRS]
    for lo, hi in spans:
        plain[max(lo, 0):hi + 1] = [False] * (min(hi, n - 1) + 1 - max(lo, 0))
    return plain


def _but_check(lows: Sequence[str], sentiments: list[float]) -> list[float]:
    """VADER 3.3.2's ``_but_check`` on ``sentiments`` (edited in place) given the lower-case
    words ``lows`` (which contain "but"), step by step: for each position ``k``, the value
    there is scaled at the *first* position holding an equal value (``list.index``) by 0.5
    before the first "but" and 1.5 after it. VADER writes ``pop(si)`` then ``insert(si, x)``,
    which is ``sentiments[si] = x``, and re-lower-cases the words, which ``lows`` already are."""
    bi = lows.index("but")
    for k in range(len(sentiments)):
        x = sentiments[k]
        si = sentiments.index(x)
        if si < bi:
            sentiments[si] = x * 0.5
        elif si > bi:
            sentiments[si] = x * 1.5
    return sentiments


def _find_sublist(words: tuple[str, ...], part: tuple[str, ...], start: int) -> int | None:
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
    words = _lexical_words(v, lo, hi, v.negated(lo, hi))
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)])


def dense_features(span: Doc | Span, rules: Rules | None = None) -> np.ndarray:
    """The :data:`DENSE_FEATURES` of ``span`` (rates are per word)."""
    rules = rules or load_rules()
    v, lo, hi = _span_view(span, rules)
    return np.asarray(_unit(v, lo, hi, span.text, rules, {}).dense, dtype=np.float64)


@dataclass
class _Unit:
    """One scored span: its model inputs and the scores read off them."""

    scores: _SpanScores
    vader: dict[str, float]
    senti: _SentiWords | None  # VADER's word valences (None: the text has emoji)
    nrc: dict[str, float]
    lexical: list[int]  # vocabulary column of each lexical item (-1: not in it)
    dense: list[float]  # DENSE_FEATURES


def _unit(v: _View, lo: int, hi: int, text: str, rules: Rules, vocab: dict[str, int]
          ) -> _Unit:
    """Everything about ``doc[lo:hi]`` (text ``text``) in one pass; its lexical items are
    counted by their column in ``vocab`` (those not in it are dropped)."""
    sc = _span_scores(v, lo, hi, rules)
    senti = _vader().valences(text)
    vd = vader_scores(text) if senti is None else _vader().scores_of(senti)
    nrc = _nrc(v, lo, hi, sc.n, sc.negated)
    return _Unit(sc, vd, senti, nrc, _lexical_columns(_lexical_words(v, lo, hi, sc.negated), vocab),
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

    def _predict_rows(self, rows: _Rows) -> np.ndarray:
        if not rows.lengths:
            return np.zeros((0, 3))
        return self.predict_matrix(rows.matrix(self.vocab, self.dense_mean, self.dense_sd))


class _Rows:
    """The model inputs of scored spans, gathered row by row in flat lists (so that nothing
    else of a span need be kept until the one prediction for all of them)."""

    def __init__(self) -> None:
        self.lengths: list[int] = []  # lexical items per row
        self.cols: list[int] = []  # their vocabulary columns (-1: not in it), row after row
        self.dense: list[float] = []  # DENSE_FEATURES, row after row

    def add(self, u: _Unit) -> None:
        """Append the row of ``u``."""
        self.lengths.append(len(u.lexical))
        self.cols += u.lexical
        self.dense += u.dense

    def matrix(self, vocab: dict[str, int], dense_mean: np.ndarray, dense_sd: np.ndarray
               ) -> sparse.csr_matrix:
        """The design matrix (the lexical columns are those of ``vocab``).

        The lexical part is built directly as CSR arrays with numpy: per row, the distinct
        columns in order with their counts divided by the L2 norm of the counts. The values are
        those of ``c / math.sqrt(sum(c * c))`` per row: the counts and their sums of squares
        are integers (exact in float64 below 2**53, in any order) and square root and division
        are correctly rounded; the entries, their order and so the product with the
        coefficients are the same as from the coordinate form."""
        n, width = len(self.lengths), len(vocab)
        cols = np.asarray(self.cols, dtype=np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), self.lengths)
        keep = cols >= 0
        keys, counts = np.unique(rows[keep] * width + cols[keep], return_counts=True)
        rows, cols = np.divmod(keys, width)
        counts = counts.astype(np.float64)
        norms = np.sqrt(np.bincount(rows, weights=counts * counts, minlength=n))
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
        lex = sparse.csr_matrix((counts / norms[rows], cols.astype(np.int32),
                                 indptr.astype(np.int32)), shape=(n, width))
        dense = np.asarray(self.dense, dtype=np.float64).reshape(n, len(DENSE_FEATURES))
        return sparse.hstack([lex, sparse.csr_matrix((dense - dense_mean) / dense_sd)],
                             format="csr")


def design_matrix(spans: Sequence[Doc | Span], vocab: dict[str, int], dense_mean: np.ndarray,
                  dense_sd: np.ndarray, rules: Rules | None = None) -> sparse.csr_matrix:
    """Rows: L2-normalised lexical counts over ``vocab``, then the standardised dense
    features (a sparse CSR matrix; rows are spans)."""
    rules = rules or load_rules()
    views: dict[int, _View] = {}
    rows = _Rows()
    for span in spans:
        v, lo, hi = _span_view(span, rules, views)
        rows.add(_unit(v, lo, hi, span.text, rules, vocab))
    return rows.matrix(vocab, dense_mean, dense_sd)


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
    rows = _Rows()
    scored: list[tuple[dict[str, float], dict[str, float]]] = []  # output, its other scores
    for span in spans:
        v, lo, hi = _span_view(span, rules, views)
        n = v.word_count(lo, hi)
        outs.append({"n_words": n})
        if n == 0:
            outs[-1].update(_EMPTY_SCORES)
            continue
        u = _unit(v, lo, hi, span.text, rules, model.vocab)
        rows.add(u)
        scored.append((outs[-1], {"valence_rules": u.scores.compound,
                                  "vader_compound": u.vader["compound"], **u.nrc}))
    pred = model._predict_rows(rows)
    for k, (out, rest) in enumerate(scored):
        out.update(dict(zip(DIMENSIONS, pred[k].tolist(), strict=True)))
        out.update(rest)
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
    rows = _Rows()
    groups: list[tuple[dict[str, float], list[int], dict[str, float]]] = []
    for doc in docs:  # output, its sentences' word counts (rows in order), other scores
        v = _View.of(doc, rules)
        n = v.word_count(0, len(doc))
        sents = [b for b in v.sentences() if v.word_count(*b) > 0] if len(doc) else []
        out: dict[str, float] = {"n_words": n, "n_sentences": len(sents)}
        outs.append(out)
        if n == 0:
            out.update(_EMPTY_SCORES)
            continue
        units = [_unit(v, lo, hi, v.span_text(lo, hi), rules, model.vocab) for lo, hi in sents]
        for u in units:
            rows.add(u)
        raw = sum(u.scores.raw for u in units)
        rest = {"valence_rules": raw / math.sqrt(raw * raw + rules.alpha),
                "vader_compound": _vader().joined_scores(
                    v.doc_text, [u.senti for u in units])["compound"],
                **_nrc(v, 0, len(doc), n, v.negated(0, len(doc)))}
        groups.append((out, [u.scores.n for u in units], rest))
    pred = model._predict_rows(rows)
    a = 0
    for out, counts, rest in groups:
        b = a + len(counts)
        w = np.asarray(counts, dtype=float)
        means = w @ pred[a:b].copy() / w.sum()
        out.update({**dict(zip(DIMENSIONS, means.tolist(), strict=True)), **rest})
        a = b
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
    ones too); apply :func:`therapy_turns.io.transcripts.analysable` before analysing.
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
    from therapy_turns.nlp import load_pipeline

    nlp = nlp or load_pipeline()
    return pd.DataFrame(_score_docs(list(nlp.pipe(list(texts))), load_model()),
                        columns=SCORE_COLUMNS)
