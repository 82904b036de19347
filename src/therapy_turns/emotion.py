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
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from nrclex import NRCLex
from scipy import sparse
from spacy.tokens import Doc, Span, Token
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

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
    rules = rules or load_rules()
    out: set[int] = set()
    for tok in span:
        low = tok.lower_
        if tok.dep_ == "neg":
            head = tok.head
            skip: set[int] = set()
            for child in head.children:
                if child.dep_ in rules.neg_stops:
                    skip.update(t.i for t in child.subtree)
            cand = [t.i for t in head.subtree if t.i not in skip]
        elif tok.dep_ == "det" and low in rules.neg_determiners:
            cand = [t.i for t in tok.head.subtree]
        elif tok.dep_ == "prep" and low in rules.neg_prepositions:
            cand = [t.i for t in tok.subtree]
        else:
            continue
        out.update(i for i in cand if 0 < i - tok.i <= rules.neg_window)
    lo, hi = span[0].i if len(span) else 0, span[-1].i if len(span) else -1
    doc = span.doc if isinstance(span, Span) else span
    negators = negator_tokens(span, rules)
    return {i for i in out if lo <= i <= hi and i not in negators
            and not (doc[i].is_punct or doc[i].is_space)}


def negator_tokens(span: Doc | Span, rules: Rules | None = None) -> set[int]:
    """Doc indices of the tokens that open a negation scope (see :func:`negated_tokens`)."""
    rules = rules or load_rules()
    return {t.i for t in span if t.dep_ == "neg"
            or (t.dep_ == "det" and t.lower_ in rules.neg_determiners)
            or (t.dep_ == "prep" and t.lower_ in rules.neg_prepositions)}


def _modifier_tokens(toks: Sequence[Token], rules: Rules) -> dict[int, list[tuple[int, float]]]:
    """For each position in ``toks``: the modifiers ``(end position, value)`` ending there."""
    ends: dict[int, list[tuple[int, float]]] = {}
    low = [t.lower_ for t in toks]
    for n in sorted({len(k) for k in rules.modifiers}, reverse=True):
        for i in range(len(toks) - n + 1):
            key = tuple(low[i:i + n])
            if key in rules.modifiers:
                ends.setdefault(i + n - 1, []).append((i, rules.modifiers[key]))
    return ends


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
    toks = list(span)
    neg = negated_tokens(span, rules)
    negators = negator_tokens(span, rules)
    mod_ends = _modifier_tokens(toks, rules)
    mod_positions = {p for e, lst in mod_ends.items() for s, _ in lst for p in range(s, e + 1)}
    contrast_at = [k for k, t in enumerate(toks) if t.lower_ in rules.contrast]
    last_contrast = contrast_at[-1] if contrast_at else None
    out = []
    for k, t in enumerate(toks):
        if k in mod_positions or t.i in negators or t.is_punct or t.is_space:
            continue
        base = rules.lexicon.get(t.lower_)
        if base is None:
            base = rules.lexicon.get(t.lemma_.lower())
        if base is None:
            continue
        factor = 1.0
        for d in range(1, rules.window + 1):
            j = k - d
            if j < 0 or toks[j].is_punct:
                break
            for _, value in mod_ends.get(j, []):
                factor *= 1.0 + value
        weight = 1.0
        if last_contrast is not None:
            weight = rules.before if k < last_contrast else rules.after
        out.append(TokenScore(t.i, t.text, base, t.i in neg, factor, weight))
    return out


def rule_score(span: Doc | Span, rules: Rules | None = None) -> dict[str, float]:
    """Rule-layer valence of ``span``: ``raw`` (sum of token values), ``compound``
    (``raw / sqrt(raw^2 + alpha)``, in [-1, 1]), ``pos`` and ``neg`` (sums of the positive and
    of the absolute negative token values)."""
    rules = rules or load_rules()
    vals = [s.value for s in token_scores(span, rules)]
    raw = float(sum(vals))
    return {"raw": raw, "compound": raw / math.sqrt(raw * raw + rules.alpha),
            "pos": float(sum(v for v in vals if v > 0)),
            "neg": float(-sum(v for v in vals if v < 0))}


# --------------------------------------------------------------------------- NRC and VADER
@lru_cache(maxsize=1)
def _nrc_lexicon() -> frozenset[str]:
    return frozenset(NRCLex().__lexicon__)


def nrc_tokens(span: Doc | Span, rules: Rules | None = None) -> list[str]:
    """Lexicon keys of the words of ``span`` to count: lower-case form if in the NRC lexicon,
    else the lemma; tokens inside a negation scope, punctuation and spaces are dropped."""
    neg = negated_tokens(span, rules)
    lex = _nrc_lexicon()
    out = []
    for t in span:
        if t.is_punct or t.is_space or t.i in neg:
            continue
        out.append(t.lower_ if t.lower_ in lex else t.lemma_.lower())
    return out


def word_count(span: Doc | Span) -> int:
    """Tokens that are neither punctuation nor whitespace."""
    return sum(1 for t in span if not (t.is_punct or t.is_space))


def nrc_rates(span: Doc | Span, rules: Rules | None = None) -> dict[str, float]:
    """``nrc_<emotion>``: NRC hits per 100 words (0 for an empty span)."""
    n = word_count(span)
    lex = NRCLex()
    lex.load_token_list(nrc_tokens(span, rules))
    counts = lex.raw_emotion_scores
    return {f"nrc_{e}": (100.0 * counts.get(e, 0) / n if n else 0.0) for e in NRC_EMOTIONS}


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def vader_scores(text: str) -> dict[str, float]:
    """VADER polarity scores (``compound``, ``pos``, ``neg``, ``neu``) of ``text``."""
    return _vader().polarity_scores(text)


# --------------------------------------------------------------------------- model features
def lexical_features(span: Doc | Span, rules: Rules | None = None) -> Counter[str]:
    """Counts of the lower-case lemmas of the alphabetic tokens, prefixed ``NOT_`` inside a
    negation scope, and of the bigrams of successive such items (joined by a space)."""
    neg = negated_tokens(span, rules)
    words = [(NEG_PREFIX if t.i in neg else "") + t.lemma_.lower() for t in span if t.is_alpha]
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)])


def dense_features(span: Doc | Span, rules: Rules | None = None) -> np.ndarray:
    """The :data:`DENSE_FEATURES` of ``span`` (rates are per word)."""
    rules = rules or load_rules()
    n = word_count(span)
    rs = rule_score(span, rules)
    vd = vader_scores(span.text)
    nrc = nrc_rates(span, rules)
    words = [t for t in span if not (t.is_punct or t.is_space)]
    low = [t.lower_ for t in span]
    mods = sum(len(v) for v in _modifier_tokens(list(span), rules).values())
    per = 1.0 / max(n, 1)
    row = [rs["compound"], rs["pos"] * per, rs["neg"] * per, vd["compound"], vd["pos"], vd["neg"],
           *(nrc[f"nrc_{e}"] / 100.0 for e in NRC_EMOTIONS), math.log1p(n),
           float(sum(t.count("!") for t in low)), float(sum(t.count("?") for t in low)),
           sum(1 for t in words if t.is_upper and len(t) > 1) * per,
           len(negator_tokens(span, rules)) * per,
           mods * per,
           sum(1 for t in words if t.lower_ in ("i", "me", "my", "myself", "mine")) * per]
    return np.asarray(row, dtype=np.float64)


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
        x = self.design(spans, rules)
        return np.clip(np.asarray(x @ self.coef.T.astype(np.float64)) + self.intercept, 1.0, 5.0)


def design_matrix(spans: Sequence[Doc | Span], vocab: dict[str, int], dense_mean: np.ndarray,
                  dense_sd: np.ndarray, rules: Rules | None = None) -> sparse.csr_matrix:
    """Rows: L2-normalised lexical counts over ``vocab``, then the standardised dense
    features (a sparse CSR matrix; rows are spans)."""
    rules = rules or load_rules()
    rows, cols, vals = [], [], []
    dense = np.zeros((len(spans), len(DENSE_FEATURES)))
    for r, span in enumerate(spans):
        hits = sorted((vocab[w], c) for w, c in lexical_features(span, rules).items()
                      if w in vocab)
        norm = math.sqrt(sum(c * c for _, c in hits))
        for j, c in hits:
            rows.append(r)
            cols.append(j)
            vals.append(c / norm)
        dense[r] = dense_features(span, rules)
    lex = sparse.csr_matrix((vals, (rows, cols)), shape=(len(spans), len(vocab)))
    return sparse.hstack([lex, sparse.csr_matrix((dense - dense_mean) / dense_sd)],
                         format="csr")


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
    n = word_count(span)
    out: dict[str, float] = {"n_words": n}
    if n == 0:
        return {**out, **_EMPTY_SCORES}
    model = model or load_model()
    pred = model.predict([span])[0]
    out.update(dict(zip(DIMENSIONS, pred.tolist(), strict=True)))
    out["valence_rules"] = rule_score(span)["compound"]
    out["vader_compound"] = vader_scores(span.text)["compound"]
    out.update(nrc_rates(span))
    return out


def _sentences(doc: Doc) -> list[Span]:
    return [s for s in doc.sents if word_count(s) > 0] if len(doc) else []


def score_doc(doc: Doc, model: LinearVAD | None = None) -> dict[str, float]:
    """Scores of a whole text: valence/arousal/dominance are the word-weighted mean of its
    sentences' predictions; the rule layer, VADER and NRC rates are computed on the whole text
    (the contrast rule acts within each sentence)."""
    n = word_count(doc)
    sents = _sentences(doc)
    out: dict[str, float] = {"n_words": n, "n_sentences": len(sents)}
    if n == 0:
        return {**out, **_EMPTY_SCORES}
    model = model or load_model()
    pred = model.predict(sents)
    w = np.asarray([word_count(s) for s in sents], dtype=float)
    out.update(dict(zip(DIMENSIONS, (w @ pred / w.sum()).tolist(), strict=True)))
    raw = sum(rule_score(s)["raw"] for s in sents)
    out["valence_rules"] = raw / math.sqrt(raw * raw + load_rules().alpha)
    out["vader_compound"] = vader_scores(doc.text)["compound"]
    out.update(nrc_rates(doc))
    return out


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
    model = load_model()
    rows = [score_doc(d, model) for d in docs]
    out = pd.DataFrame(rows, columns=SCORE_COLUMNS)
    out = pd.concat([turns[KEYS].reset_index(drop=True), out], axis=1)
    return out.astype({"n_words": "int64", "n_sentences": "int64"})


def score_sentences(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per sentence (with at least one word): the turn keys, ``sentence`` (0-based
    within the turn), ``text`` and the scores of :func:`score_span` for that sentence."""
    _check(turns, docs)
    model = load_model()
    rows = []
    keys = turns[KEYS].to_dict("records")
    for key, doc in zip(keys, docs, strict=True):
        for k, sent in enumerate(_sentences(doc)):
            rows.append({**key, "sentence": k, "text": sent.text, **score_span(sent, model)})
    cols = [*KEYS, "sentence", "text", *[c for c in SCORE_COLUMNS if c != "n_sentences"]]
    return pd.DataFrame(rows, columns=cols)


def score_texts(texts: Iterable[str], nlp=None) -> pd.DataFrame:
    """Convenience for ad-hoc use: parse ``texts`` once and score each as a doc."""
    from .nlp import load_pipeline

    nlp = nlp or load_pipeline()
    model = load_model()
    return pd.DataFrame([score_doc(d, model) for d in nlp.pipe(list(texts))],
                        columns=SCORE_COLUMNS)
