"""Motivational-interviewing measures: session indices (MITI 4.2.1 summary scores, MISC 2.5
client codes) and the lag-1 sequential analysis of client talk after each therapist behaviour.

Session indices over a session's therapist turns (techniques table; forms read from the
';'-joined ``form`` column, so gold codes score the same way) and patient turns (client table),
NaN where the denominator is 0: ``<behaviour>_rate`` (share of turns whose main behaviour is
reflection, question, therapist_input, other); ``reflection_question_ratio`` (MITI R:Q);
``complex_reflection_share`` (complex / any reflection, %CR); ``open_question_share`` (open /
any question, %OQ); ``mi_adherent_rate``, ``mi_non_adherent_rate`` (share of turns with an
MI-adherent form: affirm, seeking collaboration, emphasizing autonomy; with a non-adherent one:
persuade without permission, confront); ``mi_adherent_share`` (MIA / (MIA + MINA) turns);
``change_talk_share`` (change / (change + sustain) talk patient turns, %CT).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from therapy_turns.analysis.stats import share_ci

BEHAVIOURS = ("reflection", "question", "therapist_input", "other")
FORMS = {"complex": ("complex_reflection",), "refl": ("simple_reflection", "complex_reflection"),
         "open": ("open_question",), "quest": ("open_question", "closed_question"),
         "mia": ("affirmation", "seeking_collaboration", "emphasizing_autonomy"),
         "mina": ("persuade", "confront")}
TALK = ("change", "sustain")
INDICES = (*(f"{b}_rate" for b in BEHAVIOURS), "reflection_question_ratio",
           "complex_reflection_share", "open_question_share", "mi_adherent_rate",
           "mi_non_adherent_rate", "mi_adherent_share", "change_talk_share")


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype("float64")


def session_indices(techniques: pd.DataFrame, client: pd.DataFrame | None = None,
                    behaviour: str = "main_behaviour") -> pd.DataFrame:
    """The MI session indices of the module docstring, one row per session (index
    ``session_id``). ``techniques``: therapist turns with ``session_id``, ``form`` and
    ``behaviour`` columns; ``client``: patient turns with ``session_id``, ``client_talk``."""
    t = techniques.reset_index(drop=True)
    sid = t["session_id"].astype(str)
    forms = (t["form"] if "form" in t else pd.Series("", index=t.index)).fillna("").astype(
        str).str.split(";").explode()
    c = pd.DataFrame({**{b: t[behaviour] == b for b in BEHAVIOURS},
                      **{k: forms.isin(v).groupby(level=0).any() for k, v in FORMS.items()}}
                     ).groupby(sid.to_numpy(), sort=True).sum()
    n = sid.groupby(sid.to_numpy(), sort=True).size()
    out = pd.DataFrame({
        **{f"{b}_rate": _ratio(c[b], n) for b in BEHAVIOURS},
        "reflection_question_ratio": _ratio(c.reflection, c.question),
        "complex_reflection_share": _ratio(c.complex, c.refl),
        "open_question_share": _ratio(c.open, c.quest), "mi_adherent_rate": _ratio(c.mia, n),
        "mi_non_adherent_rate": _ratio(c.mina, n),
        "mi_adherent_share": _ratio(c.mia, c.mia + c.mina), "change_talk_share": np.nan})
    if client is not None and len(client):
        cl = client.assign(session_id=client["session_id"].astype(str))
        ct = (cl.client_talk == "change").groupby(cl.session_id).sum()
        st = (cl.client_talk == "sustain").groupby(cl.session_id).sum()
        out = out.reindex(out.index.union(ct.index))
        out["change_talk_share"] = _ratio(ct, ct + st).reindex(out.index)
    out.index.name = "session_id"
    return out


def next_client_pairs(techniques: pd.DataFrame, client: pd.DataFrame,
                      behaviour: str = "main_behaviour") -> pd.DataFrame:
    """Therapist turn → the patient turn right after it (turn ``t + 1`` of the same session, in
    ``client``): ``session_id, turn, behaviour, client_talk``."""
    t = techniques[["session_id", "turn", behaviour]].assign(
        session_id=techniques.session_id.astype(str), speaker="therapist")
    c = client[["session_id", "turn", "client_talk"]].assign(
        session_id=client.session_id.astype(str), speaker="patient")
    both = pd.concat([t, c], ignore_index=True).sort_values(["session_id", "turn"],
                                                            kind="stable")
    nxt = both.shift(-1)
    same = (nxt.session_id == both.session_id) & (both.speaker == "therapist") \
        & (nxt.speaker == "patient") & (nxt.turn == both.turn + 1)
    return pd.DataFrame({"session_id": both.session_id[same], "turn": both.turn[same],
                         "behaviour": both[behaviour][same].astype(str),
                         "client_talk": nxt.client_talk[same].astype(str)}).reset_index(drop=True)


def sequential(techniques: pd.DataFrame, client: pd.DataFrame, behaviour: str = "main_behaviour",
               behaviours: Sequence[str] = BEHAVIOURS, alpha: float = 0.05) -> pd.DataFrame:
    """P(next patient turn is change / sustain talk | therapist behaviour) with Wilson CIs beside
    the base rate over all patient turns of ``client``: per (behaviour, talk) ``k`` of ``n``
    following turns, ``p, low, high, base_k, base_n, base_rate, base_low, base_high`` and
    ``ratio`` = p / base rate (no pair: ``n`` 0 and NaN)."""
    pairs = next_client_pairs(techniques, client, behaviour)
    rows = []
    for talk in TALK:
        base = share_ci(int((client.client_talk == talk).sum()), len(client), alpha)
        for b in behaviours:
            sel = pairs.client_talk[pairs.behaviour == b]
            mine = share_ci(int((sel == talk).sum()), len(sel), alpha)
            rows.append((b, talk, *mine, *base, mine[2] / base[2] if base[2] else np.nan))
    return pd.DataFrame(rows, columns=["behaviour", "talk", "k", "n", "p", "low", "high",
                                       "base_k", "base_n", "base_rate", "base_low", "base_high",
                                       "ratio"])
