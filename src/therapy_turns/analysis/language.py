"""Corpus overview (notebook 01) and the features table prepared for notebook 02: analysed turns
with their position, speaker summaries, patient marker rates and the archetype check."""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from therapy_turns.analysis.stats import Names
from therapy_turns.io.transcripts import FLAGS, analysable
from therapy_turns.measures.features import MARKERS, load_lexicon
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS, count_words, session_position


def with_words(turns: pd.DataFrame) -> pd.DataFrame:
    """The turn table plus ``words``: :func:`therapy_turns.schema.count_words` of the speech."""
    return turns.assign(words=turns["text"].fillna("").map(count_words))


def session_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """One row per session and speaker: turns, words, mean and median words per turn."""
    g = with_words(turns).groupby(["session_id", "speaker"], sort=True)["words"]
    out = g.agg(turns="size", words="sum", mean_words="mean", median_words="median")
    return out.round({"mean_words": 1}).reset_index()


def artefact_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """Artefact flags counted per session (turns flagged)."""
    return turns.groupby("session_id", sort=True)[FLAGS].sum().astype(int).reset_index()


def analysable_features(
    feats: pd.DataFrame,
    turns: pd.DataFrame,
    exclude: Names = DEFAULT_EXCLUDE,
    n_bins: int = 3,
) -> pd.DataFrame:
    """Feature rows of the analysed turns with ``position``, ``segment`` and ``therapist``."""
    keep = analysable(turns.assign(position=session_position(turns)), exclude)
    out = feats.merge(keep[[*KEYS, "position"]], on=KEYS)
    labels = ["early", "middle", "late"] if n_bins == 3 else [str(i + 1) for i in range(n_bins)]
    bins = np.linspace(0, 1, n_bins + 1)
    out["segment"] = pd.cut(out["position"], bins=bins, labels=labels, include_lowest=True)
    out["therapist"] = (out["speaker"] == "therapist").astype(float)
    return out.sort_values(["session_id", "turn"], kind="stable").reset_index(drop=True)


def speaker_summary(df: pd.DataFrame, cols: Names) -> pd.DataFrame:
    """Median and quartiles of ``cols`` by speaker (``<speaker>_median``, ``_q1``, ``_q3``)."""
    g = df.groupby("speaker")[list(cols)]
    parts = {"median": g.median().T, "q1": g.quantile(0.25).T, "q3": g.quantile(0.75).T}
    speakers = sorted(parts["median"].columns)
    return pd.concat({f"{p}_{s}": parts[s][p] for p in speakers for s in parts}, axis=1)


def marker_profile(df: pd.DataFrame) -> pd.DataFrame:
    """Patient markers per session: matches per 1,000 patient words, and the word count."""
    g = df[df["speaker"] == "patient"].groupby("session_id", sort=True)
    words = g["n_words"].sum()
    rates = g[[f"marker_{m}" for m in MARKERS]].sum().div(words.where(words > 0), axis=0) * 1000
    rates.columns = list(MARKERS)
    return rates.assign(patient_words=words).reset_index()


def archetype_check(profile: pd.DataFrame, archetypes: Mapping[str, str]) -> pd.DataFrame:
    """Do the sessions of each marker's archetype have its highest rates (pass, fail, skipped)?"""
    raw = load_lexicon("markers")["markers"]
    prof = profile[profile["session_id"].isin(list(archetypes))]
    label = prof["session_id"].map(archetypes)
    rows = []
    for m in ("skeptic", "vague", "intellectualising") if len(prof) else ():
        target = raw[m]["archetype"]
        inside, outside = prof.loc[label == target, m], prof.loc[label != target, m]
        note = "" if len(inside) else f"no session labelled {target!r}"
        note = note or ("" if len(outside) else "no session with another label")
        lo, hi = (np.nan, np.nan) if note else (float(inside.min()), float(outside.max()))
        result = "skipped" if note else "pass" if lo > hi else "fail"
        rows.append((m, target, int(inside.size), lo, hi, result, note))
    columns = "marker archetype n_sessions min_archetype max_others result note".split()
    return pd.DataFrame(rows, columns=columns)
