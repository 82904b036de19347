"""Validation of the valence/arousal/dominance model on EmoBank dev beside lexicon baselines
(training: ``benchmarks/train_emotion_model.py``, ``make emotion-model``; ``docs/emotion.md``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.measures.emotion import (
    DIMENSIONS,
    MODEL_FILE,
    Unit,
    load_model,
    span_unit,
)
from therapy_turns.nlp import load_pipeline, parse
from therapy_turns.paths import project_path, project_root

log = logging.getLogger(__name__)

DEFAULT_DATA = project_root().parent / "shared" / "data" / "emobank" / "emobank_train_dev.csv"
DEFAULT_CACHE = "build/emobank/parse-cache"
TARGETS = {"valence": "V", "arousal": "A", "dominance": "D"}


def load_emobank(path: str | Path = DEFAULT_DATA) -> pd.DataFrame:
    """EmoBank train+dev rows (``id, split, V, A, D, text``), sorted by split then id."""
    df = pd.read_csv(
        project_path(path), dtype={"id": str, "split": str, "text": str}, keep_default_na=False
    )
    df = df[df["split"].isin(["train", "dev"])]
    return df.sort_values(["split", "id"], kind="stable").reset_index(drop=True)


def emobank_units(texts: pd.Series, cache_dir: str | Path | None) -> list[Unit]:
    """Each text parsed (cached) and scored as one :class:`Unit`."""
    cache = project_path(cache_dir) if cache_dir else None
    return [span_unit(d) for d in parse(texts.tolist(), load_pipeline(), cache)]


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


#: Dev-set scores shipped beside the model (ids, human ratings, scores; no text), written by
#: ``make emotion-model`` so the validation figure can be drawn where EmoBank is not at hand.
SHIPPED_DEV = MODEL_FILE.with_name("emobank_dev_predictions.csv")


def dev_predictions(
    data: str | Path = DEFAULT_DATA, cache_dir: str | Path | None = DEFAULT_CACHE
) -> pd.DataFrame:
    """EmoBank dev rows: human ratings ``V, A, D``, the model's and :data:`BASELINES`' scores
    (each text one unit); without EmoBank at ``data``, the shipped :data:`SHIPPED_DEV`."""
    if not project_path(data).is_file():
        log.warning("%s not found; reading the shipped dev scores %s", data, SHIPPED_DEV.name)
        return pd.read_csv(SHIPPED_DEV)
    dev = load_emobank(data).query("split == 'dev'").reset_index(drop=True)
    units = emobank_units(dev["text"], cache_dir)  # each text one unit
    pred = load_model().predict_units(units).T
    out = dev[["id", "V", "A", "D", "text"]].assign(**dict(zip(DIMENSIONS, pred, strict=True)))
    nrc = pd.DataFrame([u.rule.nrc for u in units])
    vader = np.array([u.vader["compound"] for u in units])
    return out.assign(
        vader_compound=vader,
        vader_intensity=np.abs(vader),
        valence_rules=[u.rule.compound for u in units],
        nrc_valence=nrc["nrc_positive"] - nrc["nrc_negative"],
        nrc_arousal=sum(nrc[f"nrc_{e}"] for e in NRC_AROUSAL),
    )


def validation_summary(pred: pd.DataFrame) -> pd.DataFrame:
    """Pearson r (95% Fisher-z CI) of every scorer with the human rating of its dimension:
    ``dimension, scorer, r, ci_low, ci_high, n``; the model rows first."""
    rows = []
    entries = [(d, d, "model (ridge, EmoBank train)") for d in DIMENSIONS] + [*BASELINES]
    for dim, col, name in entries:
        res = stats.pearsonr(pred[col].to_numpy(float), pred[TARGETS[dim]].to_numpy(float))
        (lo, hi), n = res.confidence_interval(0.95), len(pred)
        rows.append((dim, name, col, float(res.statistic), float(lo), float(hi), n))
    return pd.DataFrame(
        rows, columns=["dimension", "scorer", "column", "r", "ci_low", "ci_high", "n"]
    )
