"""Turn-level linguistic features prepared for analysis: exclusion policy and position in the
session, speaker summaries, patient marker rates per session and the archetype check (notebook
02). The features themselves are :mod:`therapy_turns.measures.features`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from therapy_turns.io.transcripts import analysable
from therapy_turns.measures.lexicons import MARKERS, load_lexicon
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS

POSITION_LABELS = ("early", "middle", "late")


def analysable_features(feats: pd.DataFrame, turns: pd.DataFrame,
                        exclude: Sequence[str] = DEFAULT_EXCLUDE,
                        n_bins: int = 3) -> pd.DataFrame:
    """Feature rows of the turns kept under the exclusion policy, with position columns.

    Adds ``position`` (turn / last turn index of the session, 0-1, computed before exclusion),
    ``segment`` (``n_bins`` equal position bins: early/middle/late for 3, else 1..n) and
    ``therapist`` (1.0 for therapist rows; the MixedLM speaker contrast, patient = reference).
    """
    last = turns.groupby("session_id")["turn"].transform("max").replace(0, 1)
    pos = turns[KEYS].assign(position=turns["turn"] / last)
    kept = analysable(turns, exclude)[KEYS]
    out = feats.merge(kept, on=KEYS, how="inner").merge(pos, on=KEYS, how="left")
    labels = list(POSITION_LABELS) if n_bins == 3 else [str(i + 1) for i in range(n_bins)]
    out["segment"] = pd.cut(out["position"], bins=np.linspace(0, 1, n_bins + 1),
                            labels=labels, include_lowest=True)
    out["therapist"] = (out["speaker"] == "therapist").astype(float)
    return out.sort_values(["session_id", "turn"], kind="stable").reset_index(drop=True)


def speaker_summary(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Median and interquartile range of ``cols`` by speaker (rows: feature)."""
    g = df.groupby("speaker")[list(cols)]
    med, q1, q3 = g.median().T, g.quantile(0.25).T, g.quantile(0.75).T
    out = pd.concat({"median": med, "q1": q1, "q3": q3}, axis=1)
    out.columns = [f"{spk}_{stat}" for stat, spk in out.columns]
    return out[sorted(out.columns, key=lambda c: (c.split("_")[0], ["median", "q1", "q3"].index(
        c.split("_")[1])))]


def marker_profile(df: pd.DataFrame, per: int = 1000) -> pd.DataFrame:
    """Patient markers per session: matches per ``per`` patient words, and patient word count."""
    p = df[df["speaker"] == "patient"]
    cols = [f"marker_{m}" for m in MARKERS]
    g = p.groupby("session_id", sort=True)
    words = g["n_words"].sum()
    rates = g[cols].sum().div(words.where(words > 0), axis=0) * per
    rates.columns = list(MARKERS)
    return rates.assign(patient_words=words).reset_index()


def marker_archetypes() -> dict[str, str]:
    """Marker -> the client archetype it is designed to pick out (``markers.yaml``)."""
    raw = load_lexicon("markers")["markers"]
    return {m: raw[m]["archetype"] for m in MARKERS}


def archetype_check(profile: pd.DataFrame, archetypes: Mapping[str, str],
                    markers: Sequence[str] = ("skeptic", "vague", "intellectualising")
                    ) -> pd.DataFrame:
    """Do the sessions of each marker's archetype have the highest rates of that marker?

    ``archetypes`` maps session_id -> archetype label (e.g. a metadata column; sessions not in
    it are ignored). For each marker: the lowest rate among the archetype's sessions, the highest
    rate among the other labelled sessions, and ``result`` = ``pass`` when the former is strictly
    greater, ``fail`` when not, ``skipped`` (with the reason) when the archetype or the other
    sessions are absent. No labelled session at all: an empty table. A check, not an invariant:
    it may fail on any corpus.
    """
    target = marker_archetypes()
    prof = profile[profile["session_id"].isin(list(archetypes))]
    label = prof["session_id"].map(archetypes)
    rows = []
    for m in markers if len(prof) else ():
        inside = prof.loc[label == target[m], m]
        outside = prof.loc[label != target[m], m]
        row = {"marker": m, "archetype": target[m], "n_sessions": int(inside.size),
               "min_archetype": np.nan, "max_others": np.nan, "result": "skipped", "note": ""}
        if inside.empty or outside.empty:
            row["note"] = (f"no session labelled {target[m]!r}" if inside.empty
                           else "no session with another label")
        else:
            lo, hi = float(inside.min()), float(outside.max())
            row.update(min_archetype=lo, max_others=hi, result="pass" if lo > hi else "fail")
        rows.append(row)
    return pd.DataFrame(rows, columns=["marker", "archetype", "n_sessions", "min_archetype",
                                       "max_others", "result", "note"])
