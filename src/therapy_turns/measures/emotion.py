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
    The rule layer alone (:func:`measures.emotion_rules.rule_score`, summed over the turn's
    sentences): VADER word valences composed on the dependency parse with negation,
    intensifier/diminisher and contrast rules; normalised to [-1, 1] like VADER's compound.
``vader_compound``
    VADER 3.3.2 compound of the text as written (reference column), in [-1, 1].
``nrc_<emotion>``
    NRC Emotion Lexicon hits per 100 words for anger, anticipation, disgust, fear, joy,
    sadness, surprise, trust, positive, negative; negated tokens are not counted.

Word and sentence counts of a turn are the ``features`` table's (one definition of a word,
:mod:`therapy_turns.schema`). Empty texts get NaN scores. The ``emotion`` measure of the registry
(:data:`MEASURE`) declares these columns and their session aggregations (speaker means, the
patient's slope over the session, Utterance Emotion Dynamics of valence and arousal).
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from spacy.tokens import Doc, Span

from therapy_turns.analysis.dynamics import ued
from therapy_turns.measures.emotion_rules import (
    FIRST_PERSON,
    NRC_EMOTIONS,
    NRC_KEYS,
    Rules,
    RuleView,
    SpanScores,
    load_rules,
    rule_view,
    vader_scores,
)
from therapy_turns.measures.registry import Column, Measure, patient_slopes, register, speaker_means
from therapy_turns.measures.views import DocView, Tokens
from therapy_turns.nlp import load_pipeline, pipe_texts
from therapy_turns.paths import MODEL_DIR
from therapy_turns.schema import KEYS, PATIENT

log = logging.getLogger(__name__)

DIMENSIONS = ("valence", "arousal", "dominance")
MODEL_FILE = MODEL_DIR / "emotion_vad.npz"
#: Names of the dense (non-lexical) model inputs, in order.
DENSE_FEATURES = (
    "rule_compound", "rule_pos", "rule_neg", "vader_compound", "vader_pos", "vader_neg",
    *NRC_KEYS, "log_words", "exclamations", "questions",
    "allcaps", "negations", "modifiers", "first_person",
)
NEG_PREFIX = "NOT_"


# --------------------------------------------------------------------------- model inputs
def _lexical_words(v: RuleView, lo: int, hi: int, neg: set[int]) -> list[str]:
    """The lower-case lemmas of the alphabetic tokens of ``doc[lo:hi]``, prefixed ``NOT_``
    inside a negation scope."""
    alpha = v.base.alpha
    return [(NEG_PREFIX if i in neg else "") + v.lemma[i] for i in range(lo, hi) if alpha[i]]


def _dense(v: RuleView, lo: int, hi: int, sc: SpanScores, vd: dict[str, float],
           nrc: dict[str, float]) -> list[float]:
    """:func:`dense_features` of ``doc[lo:hi]`` from its rule scores, VADER scores and NRC
    rates."""
    n = sc.n
    per = 1.0 / max(n, 1)
    low, text = v.lower[lo:hi], v.base.text[lo:hi]
    word = v.word[lo:hi]
    allcaps = sum(w and t.isupper() and len(t) > 1 for w, t in zip(word, text, strict=True))
    first = sum(w and lw in FIRST_PERSON for w, lw in zip(word, low, strict=True))
    joined = "".join(low)  # the '!' and '?' in it are the tokens' (one character)
    return [sc.compound, sc.pos * per, sc.neg * per, vd["compound"], vd["pos"], vd["neg"],
            *(nrc[k] / 100.0 for k in NRC_KEYS), math.log1p(n),
            float(joined.count("!")), float(joined.count("?")),
            allcaps * per, sc.n_negators * per, sc.n_modifiers * per, first * per]


@dataclass
class _Unit:
    """One scored span: its model inputs and the scores read off them."""

    scores: SpanScores
    vader: dict[str, float]
    nrc: dict[str, float]
    lexical: list[int]  # vocabulary column of each lexical item (-1: not in it)
    dense: list[float]  # DENSE_FEATURES


def _unit(v: RuleView, lo: int, hi: int, text: str, vocab: dict[str, int]) -> _Unit:
    """Everything about ``doc[lo:hi]`` (text ``text``); its lexical items (words, then the
    bigrams of successive words) are counted by their column in ``vocab``."""
    sc = v.scores(lo, hi)
    vd = vader_scores(text)
    nrc = v.nrc(lo, hi, sc.negated)
    words = _lexical_words(v, lo, hi, sc.negated)
    items = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return _Unit(sc, vd, nrc, [vocab.get(w, -1) for w in items], _dense(v, lo, hi, sc, vd, nrc))


def lexical_features(span: Doc | Span, rules: Rules | None = None) -> Counter[str]:
    """Counts of the lower-case lemmas of the alphabetic tokens, prefixed ``NOT_`` inside a
    negation scope, and of the bigrams of successive such items (joined by a space)."""
    v, lo, hi = rule_view(span, rules)
    words = _lexical_words(v, lo, hi, v.negated(lo, hi))
    return Counter(words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)])


def dense_features(span: Doc | Span, rules: Rules | None = None) -> np.ndarray:
    """The :data:`DENSE_FEATURES` of ``span`` (rates are per word)."""
    v, lo, hi = rule_view(span, rules)
    return np.asarray(_unit(v, lo, hi, span.text, {}).dense, dtype=np.float64)


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

    def predict_rows(self, rows: _Rows) -> np.ndarray:
        """Predictions (n, 3) for the rows gathered in ``rows``."""
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
        """The design matrix: per row the counts of the lexical items over ``vocab``,
        L2-normalised, then the standardised dense features."""
        n, width = len(self.lengths), len(vocab)
        cols = np.asarray(self.cols, dtype=np.int64)
        rows = np.repeat(np.arange(n, dtype=np.int64), self.lengths)
        keep = cols >= 0
        lex = sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])),
                                shape=(n, width))  # repeated items summed
        norms = np.sqrt(lex.multiply(lex).sum(axis=1).A1)
        lex.data /= np.repeat(norms, np.diff(lex.indptr))
        dense = np.asarray(self.dense, dtype=np.float64).reshape(n, len(DENSE_FEATURES))
        return sparse.hstack([lex, sparse.csr_matrix((dense - dense_mean) / dense_sd)],
                             format="csr")


def design_matrix(spans: Sequence[Doc | Span], vocab: dict[str, int], dense_mean: np.ndarray,
                  dense_sd: np.ndarray, rules: Rules | None = None) -> sparse.csr_matrix:
    """Rows: L2-normalised lexical counts over ``vocab``, then the standardised dense
    features (a sparse CSR matrix; rows are spans)."""
    rows = _Rows()
    for v, lo, hi, text in _span_views(spans, rules):
        rows.add(_unit(v, lo, hi, text, vocab))
    return rows.matrix(vocab, dense_mean, dense_sd)


def _span_views(spans: Sequence[Doc | Span], rules: Rules | None
                ) -> Iterable[tuple[RuleView, int, int, str]]:
    """``(view of the span's Doc, start, end, text)`` per span (one view per Doc)."""
    rules = rules or load_rules()
    views: dict[int, RuleView] = {}
    for span in spans:
        doc = span.doc if isinstance(span, Span) else span
        v = views.get(id(doc))
        if v is None or v.doc is not doc:
            v = views[id(doc)] = RuleView(doc, rules)
        yield (v, span.start, span.end, span.text) if isinstance(span, Span) else \
            (v, 0, len(span), span.text)


@lru_cache(maxsize=1)
def load_model() -> LinearVAD:
    """The shipped model (cached)."""
    return LinearVAD.load(MODEL_FILE)


# --------------------------------------------------------------------------- scoring
#: Scores of a span with no words: every score is NaN (never 0, which would read as neutral).
_EMPTY_SCORES: dict[str, float] = {
    **{d: math.nan for d in DIMENSIONS}, "valence_rules": math.nan, "vader_compound": math.nan,
    **{f"nrc_{e}": math.nan for e in NRC_EMOTIONS}}


def score_span(span: Doc | Span, model: LinearVAD | None = None, rules: Rules | None = None
               ) -> dict[str, float]:
    """All scores of one span (a sentence or a whole doc) scored as one unit."""
    return _score_spans([span], model or load_model(), rules)[0]


def _score_spans(spans: Sequence[Doc | Span], model: LinearVAD, rules: Rules | None = None
                 ) -> list[dict[str, float]]:
    """:func:`score_span` of each span, with one model prediction for all of them."""
    outs: list[dict[str, float]] = []
    rows = _Rows()
    scored: list[tuple[dict[str, float], dict[str, float]]] = []  # output, its other scores
    for v, lo, hi, text in _span_views(spans, rules):
        n = v.word_count(lo, hi)
        outs.append({"n_words": n})
        if n == 0:
            outs[-1].update(_EMPTY_SCORES)
            continue
        u = _unit(v, lo, hi, text, model.vocab)
        rows.add(u)
        scored.append((outs[-1], {"valence_rules": u.scores.compound,
                                  "vader_compound": u.vader["compound"], **u.nrc}))
    pred = model.predict_rows(rows)
    for k, (out, rest) in enumerate(scored):
        out.update(dict(zip(DIMENSIONS, pred[k].tolist(), strict=True)))
        out.update(rest)
    return outs


def _sentences(v: RuleView) -> list[Span]:
    """The sentences of the Doc of ``v`` that hold a word."""
    return [s for s in v.doc.sents if v.word_count(s.start, s.end) > 0] if len(v.doc) else []


def score_doc(doc: Doc, model: LinearVAD | None = None, rules: Rules | None = None
              ) -> dict[str, float]:
    """Scores of a whole text: valence/arousal/dominance are the word-weighted mean of its
    sentences' predictions; VADER and NRC rates are computed on the whole text, the rule layer
    is the sum of its sentences' raw scores, normalised (the contrast rule acts within each
    sentence)."""
    return _score_docs([doc], model or load_model(), rules)[0]


def _score_docs(docs: Sequence[Doc], model: LinearVAD, rules: Rules | None = None
                ) -> list[dict[str, float]]:
    """:func:`score_doc` of each Doc, with one model prediction for all their sentences."""
    rules = rules or load_rules()
    outs: list[dict[str, float]] = []
    rows = _Rows()
    groups: list[tuple[dict[str, float], list[int], dict[str, float]]] = []
    one_vocab = len({id(d.vocab) for d in docs}) == 1  # then the token lists are read at once
    views = Tokens(docs).views() if one_vocab else [DocView(d) for d in docs]
    for doc, view in zip(docs, views, strict=True):  # output, sentences' word counts, scores
        v = RuleView(doc, rules, view)
        n = v.word_count(0, len(doc))
        sents = _sentences(v)
        out: dict[str, float] = {"n_words": n, "n_sentences": len(sents)}
        outs.append(out)
        if n == 0:
            out.update(_EMPTY_SCORES)
            continue
        texts = [v.base.span_text(s.start, s.end) for s in sents]
        units = [_unit(v, s.start, s.end, t, model.vocab) for s, t in zip(sents, texts,
                                                                           strict=True)]
        text = v.base.doc_text
        for u in units:
            rows.add(u)
        raw = sum(u.scores.raw for u in units)
        rest = {"valence_rules": raw / math.sqrt(raw * raw + rules.alpha),
                "vader_compound": (units[0].vader if len(sents) == 1 and texts[0] == text
                                   else vader_scores(text))["compound"],
                **v.nrc(0, len(doc), v.negated(0, len(doc)))}
        groups.append((out, [u.scores.n for u in units], rest))
    pred = model.predict_rows(rows)
    a = 0
    for out, counts, rest in groups:
        b = a + len(counts)
        w = np.asarray(counts, dtype=float)
        means = w @ pred[a:b].copy() / w.sum()
        out.update({**dict(zip(DIMENSIONS, means.tolist(), strict=True)), **rest})
        a = b
    return outs


#: the score columns of a turn or sentence (word and sentence counts are the features table's)
SCORE_COLUMNS = [*DIMENSIONS, "valence_rules", "vader_compound",
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
    return pd.concat([turns[KEYS].reset_index(drop=True), out], axis=1)


def score_sentences(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per sentence (with at least one word): the turn keys, ``sentence`` (0-based
    within the turn), ``text`` and the scores of :func:`score_span` for that sentence."""
    _check(turns, docs)
    model = load_model()
    keys = turns[KEYS].to_dict("records")
    heads, spans = [], []
    for key, doc in zip(keys, docs, strict=True):
        for k, sent in enumerate(_sentences(RuleView(doc, load_rules()))):
            heads.append({**key, "sentence": k, "text": sent.text})
            spans.append(sent)
    rows = [{**h, **s} for h, s in zip(heads, _score_spans(spans, model), strict=True)]
    cols = [*KEYS, "sentence", "text", *SCORE_COLUMNS]
    return pd.DataFrame(rows, columns=cols)


def score_texts(texts: Iterable[str], nlp=None) -> pd.DataFrame:
    """Convenience for ad-hoc use: parse ``texts`` once and score each as a doc."""
    nlp = nlp or load_pipeline()
    return pd.DataFrame(_score_docs(list(pipe_texts(nlp, list(texts))), load_model()),
                        columns=SCORE_COLUMNS)


# --------------------------------------------------------------------------- the measure
#: per-turn scores whose patient series get Utterance Emotion Dynamics (dynamics.ued)
UED_COLUMNS = ("valence", "arousal")
#: UED metrics kept as session measures
UED_METRICS = ("home_mean", "variability_sd", "rmssd", "displaced_share", "peak_distance",
               "rise_rate", "recovery_rate")


def patient_ued(rows: pd.DataFrame, measure: Measure,
                tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``<score>__patient_ued_<metric>``: Utterance Emotion Dynamics
    (:func:`therapy_turns.analysis.dynamics.ued`) of each session's patient series of the
    :data:`UED_COLUMNS` scores, for the metrics of :data:`UED_METRICS`."""
    pat = rows[rows.speaker == PATIENT]
    cols = [c for c in UED_COLUMNS if c in pat.columns]
    out: dict[str, list[float]] = {f"{c}__patient_ued_{m}": [] for c in cols for m in UED_METRICS}
    ids = []
    for sid, g in pat.groupby("session_id", sort=False):
        ids.append(sid)
        for c in cols:
            u = ued(g[c].to_numpy(float))
            for m in UED_METRICS:
                out[f"{c}__patient_ued_{m}"].append(u[m])
    return pd.DataFrame(out, index=pd.Index(ids, name="session_id"))


MEASURE = register(Measure(
    "emotion", score_turns, "per-turn affect: valence/arousal/dominance (EmoBank-trained model), "
    "rule layer, VADER compound, NRC emotions",
    (*(Column(d, f"predicted {d} (EmoBank 1-5 scale, 3 = neutral)", "1-5") for d in DIMENSIONS),
     Column("valence_rules", "rule layer: VADER valences composed on the parse", "-1..1"),
     Column("vader_compound", "VADER 3.3.2 compound of the text as written", "-1..1"),
     *(Column(f"nrc_{e}", f"NRC lexicon {e} words outside negation scopes", "per 100 words")
       for e in NRC_EMOTIONS)),
    aggregates=(speaker_means, patient_slopes, patient_ued), skip_backchannels=True))
