"""The ``emotion`` measure: per turn valence, arousal and dominance (EmoBank-trained linear model,
1-5), the rule layer, VADER compound and NRC emotion rates (definitions in ``docs/emotion.md``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
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
    analyzer,
    load_rules,
    rule_view,
)
from therapy_turns.measures.registry import Column, Measure, patient_slopes, register, speaker_means
from therapy_turns.measures.views import Tokens
from therapy_turns.paths import MODEL_DIR
from therapy_turns.schema import KEYS, PATIENT

DIMENSIONS = ("valence", "arousal", "dominance")
MODEL_FILE = MODEL_DIR / "emotion_vad.npz"
#: Names of the dense (non-lexical) model inputs, in order.
DENSE_FEATURES = ("rule_compound", "rule_pos", "rule_neg", "vader_compound", "vader_pos")
DENSE_FEATURES += ("vader_neg", *NRC_KEYS, "log_words", "exclamations", "questions", "allcaps")
DENSE_FEATURES += ("negations", "modifiers", "first_person")
#: the score columns of a turn (word and sentence counts are the features table's)
SCORE_COLUMNS = [*DIMENSIONS, "valence_rules", "vader_compound", *NRC_KEYS]


@dataclass
class Unit:
    """One scored span: its rule-layer and NRC scores, VADER scores and model inputs."""

    rule: SpanScores
    vader: dict[str, float]
    items: list[str]  # lexical items: words (``NOT_`` inside a negation scope), then bigrams
    dense: list[float]  # DENSE_FEATURES (rates per word)


def unit(v: RuleView, lo: int, hi: int, text: str) -> Unit:
    """The :class:`Unit` of ``doc[lo:hi]`` (text ``text``)."""
    sc, vd = v.scores(lo, hi), analyzer().polarity_scores(text)
    alpha, lemma, per = v.base.alpha, v.lemma, 1.0 / max(sc.n, 1)
    words = [("NOT_" if i in sc.negated else "") + lemma[i] for i in range(lo, hi) if alpha[i]]
    low, text_, word = v.lower[lo:hi], v.base.text[lo:hi], v.word[lo:hi]
    allcaps = sum(w and t.isupper() and len(t) > 1 for w, t in zip(word, text_, strict=True))
    first = sum(w and lw in FIRST_PERSON for w, lw in zip(word, low, strict=True))
    joined = "".join(low)  # the '!' and '?' in it are the tokens' (one character)
    dense = [sc.compound, sc.pos * per, sc.neg * per, vd["compound"], vd["pos"], vd["neg"]]
    dense += [sc.nrc[k] / 100.0 for k in NRC_KEYS] + [math.log1p(sc.n), float(joined.count("!"))]
    dense += [float(joined.count("?")), allcaps * per, sc.n_negators * per, sc.n_modifiers * per]
    bigrams = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    return Unit(sc, vd, words + bigrams, [*dense, first * per])


def span_unit(span: Doc | Span, rules: Rules | None = None) -> Unit:
    """The :class:`Unit` of a Doc or Span."""
    return unit(*rule_view(span, rules), span.text)


def design_matrix(
    units: Sequence[Unit], vocab: dict[str, int], dense_mean: np.ndarray, dense_sd: np.ndarray
) -> sparse.csr_matrix:
    """Rows: the units' L2-normalised lexical counts over ``vocab``, standardised dense inputs."""
    cols = [[vocab[w] for w in u.items if w in vocab] for u in units]
    rows = np.repeat(np.arange(len(units)), [len(c) for c in cols])
    lex = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, [j for c in cols for j in c])), shape=(len(units), len(vocab))
    )  # repeated items summed
    lex.data /= np.repeat(np.sqrt(lex.multiply(lex).sum(axis=1).A1), np.diff(lex.indptr))
    dense = np.asarray([u.dense for u in units], dtype=np.float64).reshape(len(units), -1)
    return sparse.hstack([lex, sparse.csr_matrix((dense - dense_mean) / dense_sd)], format="csr")


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
            arrays = [z[k] for k in ("coef", "intercept", "dense_mean", "dense_sd")]
            return cls(vocab, *arrays, json.loads(str(z["meta"])))

    def save(self, path: str | Path = MODEL_FILE) -> None:
        """Write the model as a compressed ``.npz`` (byte-stable)."""
        vocab = np.asarray(sorted(self.vocab, key=self.vocab.__getitem__), dtype=str)
        arrays = {k: getattr(self, k) for k in ("intercept", "dense_mean", "dense_sd")}
        meta = np.asarray(json.dumps(self.meta, sort_keys=True))
        np.savez_compressed(
            path, vocab=vocab, coef=self.coef.astype(np.float32), **arrays, meta=meta
        )

    def predict_units(self, units: Sequence[Unit]) -> np.ndarray:
        """Predictions (n, 3) on the 1-5 scale, clipped (rows are independent)."""
        if not units:
            return np.zeros((0, 3))
        x = design_matrix(units, self.vocab, self.dense_mean, self.dense_sd)
        return np.clip(np.asarray(x @ self.coef.T.astype(np.float64)) + self.intercept, 1.0, 5.0)

    def predict(self, spans: Sequence[Doc | Span], rules: Rules | None = None) -> np.ndarray:
        """Predictions (n, 3) for valence, arousal, dominance of each span as one unit."""
        return self.predict_units([span_unit(s, rules) for s in spans])


@lru_cache(maxsize=1)
def load_model() -> LinearVAD:
    """The shipped model (cached)."""
    return LinearVAD.load(MODEL_FILE)


def score_docs(
    docs: Sequence[Doc], model: LinearVAD | None = None, rules: Rules | None = None
) -> list[dict[str, float]]:
    """:data:`SCORE_COLUMNS` of each Doc (NaN without words): valence/arousal/dominance the
    word-weighted mean of its sentences' predictions, the rule layer summed over them, VADER the
    mean of their compounds, NRC on the whole Doc."""
    rules, model = rules or load_rules(), model or load_model()
    units: list[Unit] = []
    outs: list[dict[str, float]] = []
    groups: list[tuple[dict[str, float], list[int]]] = []  # output, its sentences' words
    for doc, view in zip(docs, Tokens(docs).views(), strict=True):
        v = RuleView(doc, rules, view)
        outs.append(out := dict.fromkeys(SCORE_COLUMNS, math.nan))
        if v.word_count(0, len(doc)) == 0:
            continue
        sents = [s for s in doc.sents if v.word_count(s.start, s.end) > 0]
        mine = [unit(v, s.start, s.end, view.span_text(s.start, s.end)) for s in sents]
        units += mine
        raw = sum(u.rule.raw for u in mine)
        out["valence_rules"] = raw / math.sqrt(raw * raw + rules.alpha)
        # VADER's recipe for a paragraph: the mean of its sentences' compounds
        out["vader_compound"] = sum(u.vader["compound"] for u in mine) / len(mine)
        out.update(v.nrc(0, len(doc), v.negated(0, len(doc))))
        groups.append((out, [u.rule.n for u in mine]))
    pred, a = model.predict_units(units), 0
    for out, counts in groups:
        w, a = np.asarray(counts, dtype=float), a + len(counts)
        means = w @ pred[a - len(counts) : a].copy() / w.sum()
        out.update(zip(DIMENSIONS, means.tolist(), strict=True))
    return outs


def score_turns(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per turn keyed ``session_id, turn, speaker`` with :data:`SCORE_COLUMNS`
    (``docs[i]``: the Doc of ``turns.text.iloc[i]``; every turn, flagged ones too)."""
    if len(turns) != len(docs):
        raise ValueError(
            f"turns has {len(turns)} rows but docs has {len(docs)} Docs: they must be "
            "row-aligned (docs[i] is the parse of turns.text.iloc[i])"
        )
    out = pd.DataFrame(score_docs(docs), columns=SCORE_COLUMNS)
    return pd.concat([turns[KEYS].reset_index(drop=True), out], axis=1)


#: per-turn scores whose patient series get Utterance Emotion Dynamics, and the metrics kept
UED_COLUMNS = ("valence", "arousal")
UED_METRICS = ("home_mean", "variability_sd", "rmssd", "displaced_share", "peak_distance")
UED_METRICS += ("rise_rate", "recovery_rate")


def patient_ued(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``<score>__patient_ued_<metric>``: Utterance Emotion Dynamics
    (:func:`therapy_turns.analysis.dynamics.ued`) of each session's patient series of the
    :data:`UED_COLUMNS` scores, for the metrics of :data:`UED_METRICS`."""
    pat = rows[rows.speaker == PATIENT]
    cols = [c for c in UED_COLUMNS if c in pat.columns]
    names = [f"{c}__patient_ued_{m}" for c in cols for m in UED_METRICS]
    out = {}
    for sid, g in pat.groupby("session_id", sort=False):
        dyn = [ued(g[c].to_numpy(float)) for c in cols]
        out[sid] = [u[m] for u in dyn for m in UED_METRICS]
    return pd.DataFrame.from_dict(out, orient="index", columns=names).rename_axis("session_id")


_NRC = "NRC lexicon {} words outside negation scopes"
_COLS = [Column(d, f"predicted {d} (EmoBank 1-5 scale, 3 = neutral)", "1-5") for d in DIMENSIONS]
_COLS += [Column("valence_rules", "rule layer: VADER valences composed on the parse", "-1..1")]
_COLS += [Column("vader_compound", "mean VADER 3.3.2 compound of the sentences", "-1..1")]
COLUMNS = (*_COLS, *(Column(f"nrc_{e}", _NRC.format(e), "per 100 words") for e in NRC_EMOTIONS))
DESCRIPTION = "per-turn affect: valence/arousal/dominance (EmoBank-trained model), rule layer, "
DESCRIPTION += "VADER compound, NRC emotions"
AGGREGATES = (speaker_means, patient_slopes, patient_ued)
MEASURE = Measure("emotion", score_turns, DESCRIPTION, COLUMNS, AGGREGATES, skip_backchannels=True)
register(MEASURE)
