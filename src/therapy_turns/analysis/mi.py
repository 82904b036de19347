"""Motivational-interviewing measures: MITI/MISC session indices and the lag-1 sequential
analysis of client talk after each therapist behaviour (definitions: docs/analysis.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from therapy_turns.analysis.stats import next_turn, shares

BEHAVIOURS = ("reflection", "question", "therapist_input", "other")
FORMS = {"complex": ("complex_reflection",), "refl": ("simple_reflection", "complex_reflection")}
FORMS |= {"open": ("open_question",), "quest": ("open_question", "closed_question")}
FORMS |= {"mia": ("affirmation", "seeking_collaboration", "emphasizing_autonomy")}
FORMS |= {"mina": ("persuade", "confront")}
TALK = ("change", "sustain")
INDICES = tuple(f"{b}_rate" for b in BEHAVIOURS) + tuple(
    "reflection_question_ratio complex_reflection_share open_question_share mi_adherent_rate "
    "mi_non_adherent_rate mi_adherent_share change_talk_share".split()
)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype("float64")


def session_indices(techniques: pd.DataFrame, client: pd.DataFrame | None = None) -> pd.DataFrame:
    """The MI session indices (:data:`INDICES`), one row per session (index ``session_id``)."""
    t = techniques.reset_index(drop=True)
    forms = t["form"] if "form" in t else pd.Series("", index=t.index)
    forms = forms.fillna("").astype(str).str.split(";").explode()
    c = {"n": 1} | {b: t["main_behaviour"] == b for b in BEHAVIOURS}
    c |= {k: forms.isin(v).groupby(level=0).any() for k, v in FORMS.items()}
    c = pd.DataFrame(c).groupby(t["session_id"].astype(str).to_numpy(), sort=True).sum()
    out = pd.DataFrame({f"{b}_rate": _ratio(c[b], c.n) for b in BEHAVIOURS})
    out["reflection_question_ratio"] = _ratio(c.reflection, c.question)
    out["complex_reflection_share"] = _ratio(c.complex, c.refl)
    out["open_question_share"] = _ratio(c.open, c.quest)
    out["mi_adherent_rate"], out["mi_non_adherent_rate"] = _ratio(c.mia, c.n), _ratio(c.mina, c.n)
    out["mi_adherent_share"] = _ratio(c.mia, c.mia + c.mina)
    out["change_talk_share"] = np.nan
    if client is not None and len(client):
        sid = client["session_id"].astype(str)
        ct, st = ((client.client_talk == k).groupby(sid).sum() for k in TALK)
        out = out.reindex(out.index.union(ct.index))
        out["change_talk_share"] = _ratio(ct, ct + st).reindex(out.index)
    out.index.name = "session_id"
    return out


def sequential(techniques: pd.DataFrame, client: pd.DataFrame) -> pd.DataFrame:
    """P(next patient turn is change / sustain talk | therapist behaviour) vs the base rate."""
    pairs = next_turn(techniques, client, "client_talk")
    talk = pd.DataFrame({t: pairs["next_code"] == t for t in TALK}, index=pairs.index)
    out = shares(talk, pairs["main_behaviour"], BEHAVIOURS, ["behaviour", "talk"])
    base = pd.DataFrame({t: client["client_talk"] == t for t in TALK}, index=client.index)
    base = shares(base, np.zeros(len(client)), [0], ["_", "talk"]).drop(columns="_")
    out = out.merge(base.add_prefix("base_"), left_on="talk", right_on="base_talk")
    out["ratio"] = out["share"] / out["base_share"].replace(0, np.nan)
    names = {"share": "p", "ci_low": "low", "ci_high": "high", "base_share": "base_rate"}
    names |= {"base_ci_low": "base_low", "base_ci_high": "base_high"}
    out = out.drop(columns="base_talk").rename(columns=names)
    return out.sort_values("talk", kind="stable").reset_index(drop=True)
