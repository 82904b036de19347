"""The ``emotion`` measure: valence/arousal/dominance, rule layer, VADER, NRC; its validation."""

from __future__ import annotations

import json
import logging
import math
from collections import namedtuple
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from nrclex import NRCLex
from scipy import sparse, stats
from spacy.tokens import Doc, Span
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from therapy_turns.analysis.dynamics import ued
from therapy_turns.measures.registry import Column, Measure, patient_slopes, register, speaker_means
from therapy_turns.measures.views import Tokens
from therapy_turns.nlp import load_pipeline, parse
from therapy_turns.paths import LEXICON_DIR, MODEL_DIR, project_path, project_root, read_yaml
from therapy_turns.schema import KEYS, PATIENT

log = logging.getLogger(__name__)

NRC_EMOTIONS = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise", "trust")
NRC_EMOTIONS += ("positive", "negative")
NRC_KEYS = tuple(f"nrc_{e}" for e in NRC_EMOTIONS)
DIMENSIONS = ("valence", "arousal", "dominance")
MODEL_FILE = MODEL_DIR / "emotion_vad.npz"
DENSE_FEATURES = ("rule_compound", "rule_pos", "rule_neg", "vader_compound", "vader_pos")
DENSE_FEATURES += ("vader_neg", *NRC_KEYS, "log_words", "exclamations", "questions", "allcaps")
DENSE_FEATURES += ("negations", "modifiers", "first_person")
#: the score columns of a turn (word and sentence counts are the features table's)
SCORE_COLUMNS = [*DIMENSIONS, "valence_rules", "vader_compound", *NRC_KEYS]
#: per-turn scores whose patient series get Utterance Emotion Dynamics, and the metrics kept
UED_COLUMNS = ("valence", "arousal")
UED_METRICS = ("home_mean", "variability_sd", "rmssd", "displaced_share", "peak_distance")
UED_METRICS += ("rise_rate", "recovery_rate")
#: one scored span (``docs/emotion.md``): words, rule-layer (token, value) terms, their sum,
#: compound, positive and -negative sums, negated tokens, NRC, VADER, model items, dense inputs
Unit = namedtuple("Unit", "n terms raw compound pos neg negated nrc vader items dense")


@lru_cache(maxsize=1)
def load_rules() -> SimpleNamespace:
    """The rule-layer settings (``lexicons/emotion_rules.yaml``; VADER's ``lexicon``, cached)."""
    raw, mods = read_yaml(LEXICON_DIR / "emotion_rules.yaml"), {}
    for spec in (raw.pop("intensifiers"), raw.pop("diminishers")):
        mods |= {tuple(str(w).lower().split()): float(spec["value"]) for w in spec["words"]}
    sets = {k: frozenset(v) for k, v in raw.items() if isinstance(v, list)}
    return SimpleNamespace(lexicon=analyzer().lexicon, modifiers=mods, **raw | sets)


analyzer = lru_cache(maxsize=1)(SentimentIntensityAnalyzer)  # VADER's analyzer, one per process


@lru_cache(maxsize=1)
def nrc_lexicon() -> dict[str, tuple[int, ...]]:
    """NRC word -> how often each of :data:`NRC_EMOTIONS` is listed for it (as NRCLex counts)."""
    return {w: tuple(map(emos.count, NRC_EMOTIONS)) for w, emos in NRCLex().__lexicon__.items()}


def _lookup(t: Tokens, table: Mapping[str, object], missing: object) -> np.ndarray:
    """Per token: ``table`` of its lower case, else of its lower-cased lemma, else ``missing``."""
    (lows, low), (lems, lem) = t.types("LOWER", False), t.types("LEMMA", False)
    found = np.array([s in table for s in lows], dtype=bool)[low]
    by_low = np.array([table.get(s, missing) for s in lows] or [missing])[low]
    by_lem = np.array([table.get(s.lower(), missing) for s in lems] or [missing])[lem]
    return np.where(found.reshape(-1, *[1] * (by_low.ndim - 1)), by_low, by_lem)


class RuleView:
    """The rule layer on a block of Docs (token attributes read once), spans as block indices."""

    def __init__(self, docs: Sequence[Doc], rules: SimpleNamespace) -> None:
        self.rules, t = rules, Tokens(docs)
        self.lower, self.lemma = t.strings("LOWER"), t.strings("LEMMA", str.lower)
        self.text, self.dep = t.strings("ORTH"), t.strings("DEP")
        self.head = t.column("HEAD").view(np.int64).tolist()
        self.punct, self.alpha = t.flag("IS_PUNCT").tolist(), t.flag("IS_ALPHA").tolist()
        self.bounds = t.start.tolist()  # each Doc's first token, then the end of the block
        self.start, self.end = t.start[t.doc_of].tolist(), t.start[t.doc_of + 1].tolist()
        lexical = ~t.flag("IS_PUNCT") & ~t.flag("IS_SPACE")  # clitics too (words: ``t.word``)
        neg = t.isin("DEP", {"neg"}, False)
        for dep, words in (("det", rules.neg_determiners), ("prep", rules.neg_prepositions)):
            neg |= t.isin("DEP", {dep}, False) & t.isin("LOWER", words, False)
        self.negator, self.lexical = neg.tolist(), lexical.tolist()
        value = _lookup(t, rules.lexicon, math.nan)  # lower case first, then lemma
        self.value = np.where(neg | ~lexical, math.nan, value).tolist()  # NaN: no valence
        zero = (0,) * len(NRC_EMOTIONS)
        self.emotions = _lookup(t, nrc_lexicon(), zero).reshape(-1, len(zero)) * lexical[:, None]
        lows, low = t.types("LOWER", False)
        marks = [
            t.word,  # words (therapy_turns.schema: clitics are not words) before each token
            t.where("ORTH", lambda s: s.isupper() and len(s) > 1, False) & lexical,
            t.isin("LOWER", {"i", "me", "my", "myself", "mine"}, False) & lexical,
            *(np.array([s.count(c) for s in lows], dtype=np.int64)[low] for c in "!?"),
            neg,
        ]  # cumulative counts: words, all-caps, first person, '!', '?', negators
        self.marks = [np.concatenate(([0], np.cumsum(m, dtype=np.int64))).tolist() for m in marks]
        self.scopes = {k: self._scope(k) for k in np.flatnonzero(neg).tolist()}
        at = np.flatnonzero(t.isin("LOWER", {m[0] for m in rules.modifiers}, False)).tolist()
        #: per Doc (its first token): (first, last) token of its modifier phrases, longest first
        self.modifiers: dict[int, list[tuple[int, int]]] = {}
        for n in sorted({len(m) for m in rules.modifiers}, reverse=True):
            for i in at:
                if i + n <= self.end[i] and tuple(self.lower[i : i + n]) in rules.modifiers:
                    self.modifiers.setdefault(self.start[i], []).append((i, i + n - 1))

    def _scope(self, k: int) -> list[int]:
        dep, head, rules = self.dep[k], self.head, self.rules
        top = k if dep == "prep" else k + head[k]
        out = []
        for i in range(k + 1, min(k + rules.neg_window + 1, self.end[k])):
            if not self.lexical[i] or self.negator[i]:
                continue
            path = [i]  # i and its ancestors (Token.ancestors, read off the head offsets)
            while head[path[-1]] and len(path) <= self.end[k] - self.start[k]:
                path.append(path[-1] + head[path[-1]])
            if top in path and not (
                dep == "neg" and i != top and self.dep[path[path.index(top) - 1]] in rules.neg_stops
            ):
                out.append(i)
        return out

    def negated(self, lo: int, hi: int) -> set[int]:
        """Indices of the tokens of span ``lo:hi`` in the scope of a negator in it."""
        return {i for k in range(lo, hi) if self.negator[k] for i in self.scopes[k] if i < hi}

    def word_count(self, lo: int, hi: int) -> int:
        """Words of span ``lo:hi``."""
        return self.marks[0][hi] - self.marks[0][lo]

    def nrc(self, lo: int, hi: int, neg: set[int]) -> dict[str, float]:
        """NRC hits per 100 words of span ``lo:hi``, skipping the tokens in ``neg``."""
        n, em = self.word_count(lo, hi), self.emotions
        counts = (em[lo:hi].sum(axis=0) - em[sorted(neg)].sum(axis=0)).tolist()
        return {k: 100.0 * c / n if n else 0.0 for k, c in zip(NRC_KEYS, counts, strict=True)}

    def unit(self, lo: int, hi: int, text: str) -> Unit:
        """The :class:`Unit` of span ``lo:hi`` (text ``text``; ``docs/emotion.md``)."""
        rules, low, punct, neg = self.rules, self.lower, self.punct, self.negated(lo, hi)
        mods = self.modifiers.get(self.start[lo], []) if hi > lo else []
        mods = [(s, e) for s, e in mods if lo <= s and e < hi]
        in_mod = {p for s, e in mods for p in range(s, e + 1)}
        contrast = [i for i in range(lo, hi) if low[i] in rules.contrast]
        terms = []
        for i in range(lo, hi):
            base, factor = self.value[i], 1.0
            if math.isnan(base) or i in in_mod:
                continue
            for s, e in mods:  # ending 1..window tokens before, no punctuation between
                if 1 <= i - e <= rules.window and not any(punct[e:i]):
                    factor *= 1.0 + rules.modifiers[tuple(low[s : e + 1])]
            weight = 1.0 if not contrast else rules.before if i < contrast[-1] else rules.after
            value = base * factor * weight * (rules.negation_scalar if i in neg else 1.0)
            terms.append((self.text[i], value))
        raw = float(sum(v for _, v in terms))
        pos = float(sum(v for _, v in terms if v > 0))
        negs = float(-sum(v for _, v in terms if v < 0))
        n, allcaps, first, excl, ques, negators = (m[hi] - m[lo] for m in self.marks)
        vd, nrc, per = analyzer().polarity_scores(text), self.nrc(lo, hi, neg), 1.0 / max(n, 1)
        lemma, alpha = self.lemma, self.alpha
        words = [("NOT_" if i in neg else "") + lemma[i] for i in range(lo, hi) if alpha[i]]
        dense = [raw / math.sqrt(raw * raw + rules.alpha), pos * per, negs * per, vd["compound"]]
        dense += [vd["pos"], vd["neg"], *(nrc[k] / 100.0 for k in NRC_KEYS), math.log1p(n)]
        dense += [float(excl), float(ques), allcaps * per, negators * per, len(mods) * per]
        items = words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
        return Unit(n, terms, raw, dense[0], pos, negs, neg, nrc, vd, items, [*dense, first * per])


def span_unit(span: Doc | Span, rules: SimpleNamespace | None = None) -> Unit:
    """The :class:`Unit` of a Doc or Span (its own :class:`RuleView`)."""
    whole = span[:] if isinstance(span, Doc) else span
    return RuleView([whole.doc], rules or load_rules()).unit(whole.start, whole.end, span.text)


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
    dense = np.asarray([u.dense for u in units], dtype=np.float64).reshape(-1, len(dense_sd))
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
        """Read a model written by ``benchmarks/train_emotion_model.py``."""
        with np.load(path, allow_pickle=False) as z:
            vocab = {str(w): i for i, w in enumerate(z["vocab"].tolist())}
            arrays = [z[k] for k in ("coef", "intercept", "dense_mean", "dense_sd")]
            return cls(vocab, *arrays, json.loads(str(z["meta"])))

    def predict_units(self, units: Sequence[Unit]) -> np.ndarray:
        """Predictions (n, 3) on the 1-5 scale, clipped (rows are independent)."""
        x = design_matrix(units, self.vocab, self.dense_mean, self.dense_sd)
        return np.clip(np.asarray(x @ self.coef.T.astype(np.float64)) + self.intercept, 1.0, 5.0)


load_model = lru_cache(maxsize=1)(LinearVAD.load)  # the shipped model, read once


def score_turns(
    turns: pd.DataFrame, docs: Sequence[Doc], rules: SimpleNamespace | None = None
) -> pd.DataFrame:
    """One row per turn (``docs[i]``: the Doc of ``turns.text.iloc[i]``): :data:`SCORE_COLUMNS`."""
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    rules = rules or load_rules()
    v, units, groups = RuleView(docs, rules), [], []  # groups: output, first unit, unit words
    outs = [dict.fromkeys(SCORE_COLUMNS, math.nan) for _ in docs]
    for doc, out, a, b in zip(docs, outs, v.bounds, v.bounds[1:], strict=False):
        if v.word_count(a, b) == 0:
            continue
        text, sents = doc.text, [s for s in doc.sents if v.word_count(a + s.start, a + s.end)]
        mine = [v.unit(a + s.start, a + s.end, text[s.start_char : s.end_char]) for s in sents]
        groups.append((out, len(units), np.array([u.n for u in mine], dtype=float)))
        units += mine
        raw = sum(u.raw for u in mine)
        out["valence_rules"] = raw / math.sqrt(raw * raw + rules.alpha)
        # VADER's recipe for a paragraph: the mean of its sentences' compounds
        out["vader_compound"] = sum(u.vader["compound"] for u in mine) / len(mine)
        out.update(v.nrc(a, b, v.negated(a, b)))
    pred = load_model().predict_units(units)
    for out, lo, w in groups:  # the mean of its sentences' predictions, weighted by their words
        means = w @ pred[lo : lo + len(w)].copy() / w.sum()
        out.update(zip(DIMENSIONS, means.tolist(), strict=True))
    scores = pd.DataFrame(outs, columns=SCORE_COLUMNS)
    return pd.concat([turns[KEYS].reset_index(drop=True), scores], axis=1)


def patient_ued(rows: pd.DataFrame, measure: Measure, tables: Mapping | None = None):
    """``<score>__patient_ued_<metric>``: Utterance Emotion Dynamics of the patient's series."""
    cols = [c for c in UED_COLUMNS if c in rows.columns]  # (a table may lack one)
    groups = rows[rows.speaker == PATIENT].groupby("session_id", sort=False)
    dyn = {sid: [ued(g[c].to_numpy(float)) for c in cols] for sid, g in groups}
    out = {sid: [u[m] for u in d for m in UED_METRICS] for sid, d in dyn.items()}
    names = [f"{c}__patient_ued_{m}" for c in cols for m in UED_METRICS]
    return pd.DataFrame.from_dict(out, orient="index", columns=names).rename_axis("session_id")


# --- validation on EmoBank dev (notebook 03, benchmarks/emotion_validation.py)
DEFAULT_DATA = project_root().parent / "shared" / "data" / "emobank" / "emobank_train_dev.csv"
DEFAULT_CACHE = "build/emobank/parse-cache"
TARGETS = {"valence": "V", "arousal": "A", "dominance": "D"}
#: Baselines printed beside the model: (dimension, column, description).
BASELINES = (
    ("valence", "vader_compound", "VADER compound"),
    ("valence", "valence_rules", "rule layer (VADER lexicon on the parse)"),
    ("valence", "nrc_valence", "NRC (positive - negative) per word"),
    ("arousal", "nrc_arousal", "NRC high-arousal emotions per word"),
    ("arousal", "vader_intensity", "|VADER compound|"),
)
#: NRC categories counted by the ``nrc_arousal`` baseline (high-arousal emotions).
NRC_AROUSAL = ("anger", "fear", "surprise", "anticipation", "joy")
#: dev-set scores shipped beside the model (no text): the validation where EmoBank is not at hand
SHIPPED_DEV = MODEL_FILE.with_name("emobank_dev_predictions.csv")


def dev_predictions(
    data: str | Path = DEFAULT_DATA, cache_dir: str | Path | None = DEFAULT_CACHE
) -> pd.DataFrame:
    """EmoBank dev ratings and every scorer's scores (without EmoBank: :data:`SHIPPED_DEV`)."""
    if not project_path(data).is_file():
        log.warning("%s not found; reading the shipped dev scores %s", data, SHIPPED_DEV.name)
        return pd.read_csv(SHIPPED_DEV)
    types = {"id": str, "split": str, "text": str}
    dev = pd.read_csv(project_path(data), dtype=types, keep_default_na=False)
    dev = dev[dev["split"] == "dev"].sort_values("id", kind="stable").reset_index(drop=True)
    cache = project_path(cache_dir) if cache_dir else None
    units = [span_unit(d) for d in parse(dev["text"].tolist(), load_pipeline(), cache)]
    pred = load_model().predict_units(units).T
    out = dev[["id", "V", "A", "D", "text"]].assign(**dict(zip(DIMENSIONS, pred, strict=True)))
    nrc, vader = pd.DataFrame([u.nrc for u in units]), [u.vader["compound"] for u in units]
    out = out.assign(vader_compound=vader, vader_intensity=np.abs(vader))
    out = out.assign(valence_rules=[u.compound for u in units])
    arousal = sum(nrc[f"nrc_{e}"] for e in NRC_AROUSAL)
    return out.assign(nrc_valence=nrc["nrc_positive"] - nrc["nrc_negative"], nrc_arousal=arousal)


def validation_summary(pred: pd.DataFrame) -> pd.DataFrame:
    """Pearson r (95% CI) of every scorer with the human rating of its dimension."""
    rows, entries = [], [(d, d, "model (ridge, EmoBank train)") for d in DIMENSIONS] + [*BASELINES]
    for dim, col, name in entries:
        res = stats.pearsonr(pred[col].to_numpy(float), pred[TARGETS[dim]].to_numpy(float))
        rows.append((dim, name, col, res.statistic, *res.confidence_interval(0.95), len(pred)))
    columns = ["dimension", "scorer", "column", "r", "ci_low", "ci_high", "n"]
    return pd.DataFrame(rows, columns=columns)


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
