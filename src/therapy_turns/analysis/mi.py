"""Motivational-interviewing measures: MITI/MISC session indices and the lag-1 sequential
analysis of client talk after each therapist behaviour (definitions: docs/analysis.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from therapy_turns.analysis.stats import share_ci

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


def next_client_pairs(techniques: pd.DataFrame, client: pd.DataFrame) -> pd.DataFrame:
    """``session_id, turn, behaviour, client_talk``: therapist turns followed by a patient turn."""
    t = techniques[["session_id", "turn", "main_behaviour"]].assign(speaker="therapist")
    c = client[["session_id", "turn", "client_talk"]].assign(speaker="patient")
    both = pd.concat([t, c], ignore_index=True).astype({"session_id": str})
    both = both.sort_values(["session_id", "turn"], kind="stable")
    nxt = both.shift(-1)
    same = (nxt.session_id == both.session_id) & (nxt.turn == both.turn + 1)
    same &= (both.speaker == "therapist") & (nxt.speaker == "patient")
    pairs = both.loc[same, ["session_id", "turn"]].assign(
        behaviour=both.main_behaviour[same].astype(str),
        client_talk=nxt.client_talk[same].astype(str),
    )
    return pairs.reset_index(drop=True)


def sequential(techniques: pd.DataFrame, client: pd.DataFrame) -> pd.DataFrame:
    """P(next patient turn is change / sustain talk | therapist behaviour) and the base rate,
    with Wilson CIs, and their ``ratio``."""
    pairs = next_client_pairs(techniques, client)
    rows = []
    for talk in TALK:
        base = share_ci(int((client.client_talk == talk).sum()), len(client))
        for b in BEHAVIOURS:
            sel = pairs.client_talk[pairs.behaviour == b]
            mine = share_ci(int((sel == talk).sum()), len(sel))
            rows.append((b, talk, *mine, *base, mine[2] / base[2] if base[2] else np.nan))
    columns = "k n p low high base_k base_n base_rate base_low base_high ratio".split()
    return pd.DataFrame(rows, columns=["behaviour", "talk", *columns])
