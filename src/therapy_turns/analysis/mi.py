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


def session_indices(
    techniques: pd.DataFrame, client: pd.DataFrame | None = None, behaviour: str = "main_behaviour"
) -> pd.DataFrame:
    """The MI session indices of the module docstring, one row per session (index
    ``session_id``). ``techniques``: therapist turns with ``session_id``, ``form`` and
    ``behaviour`` columns; ``client``: patient turns with ``session_id``, ``client_talk``."""
    t = techniques.reset_index(drop=True)
    sid = t["session_id"].astype(str).to_numpy()
    forms = t["form"] if "form" in t else pd.Series("", index=t.index)
    forms = forms.fillna("").astype(str).str.split(";").explode()
    c = {b: t[behaviour] == b for b in BEHAVIOURS}
    c |= {k: forms.isin(v).groupby(level=0).any() for k, v in FORMS.items()}
    c = pd.DataFrame(c).groupby(sid, sort=True).sum()
    n = pd.Series(sid).groupby(sid, sort=True).size()
    out = pd.DataFrame({f"{b}_rate": _ratio(c[b], n) for b in BEHAVIOURS})
    out["reflection_question_ratio"] = _ratio(c.reflection, c.question)
    out["complex_reflection_share"] = _ratio(c.complex, c.refl)
    out["open_question_share"] = _ratio(c.open, c.quest)
    out["mi_adherent_rate"], out["mi_non_adherent_rate"] = _ratio(c.mia, n), _ratio(c.mina, n)
    out["mi_adherent_share"] = _ratio(c.mia, c.mia + c.mina)
    out["change_talk_share"] = np.nan
    if client is not None and len(client):
        cl = client.assign(session_id=client["session_id"].astype(str))
        ct = (cl.client_talk == "change").groupby(cl.session_id).sum()
        st = (cl.client_talk == "sustain").groupby(cl.session_id).sum()
        out = out.reindex(out.index.union(ct.index))
        out["change_talk_share"] = _ratio(ct, ct + st).reindex(out.index)
    out.index.name = "session_id"
    return out


def next_client_pairs(
    techniques: pd.DataFrame, client: pd.DataFrame, behaviour: str = "main_behaviour"
) -> pd.DataFrame:
    """Therapist turn → the patient turn right after it (turn ``t + 1`` of the same session, in
    ``client``): ``session_id, turn, behaviour, client_talk``."""
    t = techniques[["session_id", "turn", behaviour]].assign(speaker="therapist")
    c = client[["session_id", "turn", "client_talk"]].assign(speaker="patient")
    both = pd.concat([t, c], ignore_index=True).astype({"session_id": str})
    both = both.sort_values(["session_id", "turn"], kind="stable")
    nxt = both.shift(-1)
    same = (nxt.session_id == both.session_id) & (nxt.turn == both.turn + 1)
    same &= (both.speaker == "therapist") & (nxt.speaker == "patient")
    pairs = both.loc[same, ["session_id", "turn"]].assign(
        behaviour=both[behaviour][same].astype(str), client_talk=nxt.client_talk[same].astype(str)
    )
    return pairs.reset_index(drop=True)


def sequential(
    techniques: pd.DataFrame,
    client: pd.DataFrame,
    behaviour: str = "main_behaviour",
    behaviours: Sequence[str] = BEHAVIOURS,
    alpha: float = 0.05,
) -> pd.DataFrame:
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
    columns = "k n p low high base_k base_n base_rate base_low base_high ratio".split()
    return pd.DataFrame(rows, columns=["behaviour", "talk", *columns])
