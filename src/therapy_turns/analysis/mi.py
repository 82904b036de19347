"""Motivational-interviewing measures: session indices as MI research reports them, and the
sequential analysis of client language after each therapist behaviour.

Session indices (:func:`session_indices`; MITI 4.2.1 summary scores, MISC 2.5 client codes),
per session over the therapist turns of the techniques table and the patient turns of the
client table:

- ``<behaviour>_rate``: share of therapist turns whose main behaviour is ``question``,
  ``reflection``, ``therapist_input``, ``other``;
- ``reflection_question_ratio``: reflection turns / question turns (main behaviours; MITI R:Q);
- ``complex_reflection_share``: turns with a complex reflection / turns with any reflection
  (simple or complex; MITI %CR);
- ``open_question_share``: turns with an open question / turns with any question (MISC %OQ);
- ``mi_adherent_rate``, ``mi_non_adherent_rate``: share of therapist turns with an MI-adherent
  form (affirm, seeking collaboration, emphasizing autonomy) / an MI-non-adherent form
  (persuade without permission, confront); ``mi_adherent_share``: MIA / (MIA + MINA) turns;
- ``change_talk_share``: patient turns coded change talk / (change + sustain talk) (%CT).

An index whose denominator is 0 is NaN (a session without questions has no % open questions).
Forms are read from the ``form`` column (';'-joined), so the same function scores gold codes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

BEHAVIOURS = ("reflection", "question", "therapist_input", "other")
MIA_FORMS = ("affirmation", "seeking_collaboration", "emphasizing_autonomy")
MINA_FORMS = ("persuade", "confront")
REFLECTION_FORMS = ("simple_reflection", "complex_reflection")
QUESTION_FORMS = ("open_question", "closed_question")
TALK = ("change", "sustain")
INDICES = (*(f"{b}_rate" for b in BEHAVIOURS), "reflection_question_ratio",
           "complex_reflection_share", "open_question_share", "mi_adherent_rate",
           "mi_non_adherent_rate", "mi_adherent_share", "change_talk_share")


def _has(forms: pd.Series, codes: Sequence[str]) -> np.ndarray:
    """Does each ';'-joined form string hold one of ``codes``?"""
    sets = forms.fillna("").astype(str).str.split(";")
    want = set(codes)
    return np.array([bool(want.intersection(s)) for s in sets], dtype=bool)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype("float64")


def session_indices(techniques: pd.DataFrame, client: pd.DataFrame | None = None,
                    behaviour: str = "main_behaviour") -> pd.DataFrame:
    """The MI session indices of the module docstring, one row per session (index
    ``session_id``). ``techniques``: therapist turns with ``session_id``, ``form`` and
    ``behaviour`` columns; ``client``: patient turns with ``session_id``, ``client_talk``."""
    t = techniques.assign(session_id=techniques["session_id"].astype(str))
    g = t.groupby("session_id", sort=True)
    n = g.size()
    out = pd.DataFrame(index=n.index)
    for b in BEHAVIOURS:
        out[f"{b}_rate"] = _ratio((t[behaviour] == b).groupby(t.session_id).sum(), n)
    counts = (t[behaviour].to_numpy()[:, None] == np.array(["reflection", "question"])).astype(int)
    c = pd.DataFrame(counts, columns=["r", "q"]).groupby(t.session_id.to_numpy()).sum()
    out["reflection_question_ratio"] = _ratio(c.r, c.q)
    forms = t["form"] if "form" in t else pd.Series("", index=t.index)
    flags = pd.DataFrame({
        "complex": _has(forms, ["complex_reflection"]), "refl": _has(forms, REFLECTION_FORMS),
        "open": _has(forms, ["open_question"]), "quest": _has(forms, QUESTION_FORMS),
        "mia": _has(forms, MIA_FORMS), "mina": _has(forms, MINA_FORMS)},
        index=t.index).groupby(t.session_id).sum()
    out["complex_reflection_share"] = _ratio(flags.complex, flags.refl)
    out["open_question_share"] = _ratio(flags.open, flags.quest)
    out["mi_adherent_rate"] = _ratio(flags.mia, n)
    out["mi_non_adherent_rate"] = _ratio(flags.mina, n)
    out["mi_adherent_share"] = _ratio(flags.mia, flags.mia + flags.mina)
    out["change_talk_share"] = np.nan
    if client is not None and len(client):
        cl = client.assign(session_id=client["session_id"].astype(str))
        ct = (cl.client_talk == "change").groupby(cl.session_id).sum()
        st = (cl.client_talk == "sustain").groupby(cl.session_id).sum()
        out = out.reindex(out.index.union(ct.index))
        out["change_talk_share"] = _ratio(ct, ct + st).reindex(out.index)
    out.index.name = "session_id"
    return out


# --------------------------------------------------------------------------- sequential
def next_client_pairs(techniques: pd.DataFrame, client: pd.DataFrame,
                      behaviour: str = "main_behaviour") -> pd.DataFrame:
    """Therapist turn → the patient turn right after it (lag 1: turn ``t + 1`` of the same
    session is a patient turn in ``client``): ``session_id, turn, behaviour, client_talk``."""
    t = techniques[["session_id", "turn", behaviour]].assign(
        session_id=techniques.session_id.astype(str), speaker="therapist")
    c = client[["session_id", "turn", "client_talk"]].assign(
        session_id=client.session_id.astype(str), speaker="patient")
    both = pd.concat([t, c], ignore_index=True).sort_values(["session_id", "turn"],
                                                            kind="stable")
    nxt = both.shift(-1)
    same = (nxt.session_id == both.session_id) & (both.speaker == "therapist") \
        & (nxt.speaker == "patient") & (nxt.turn == both.turn + 1)
    pairs = pd.DataFrame({"session_id": both.session_id[same], "turn": both.turn[same],
                          "behaviour": both[behaviour][same].astype(str),
                          "client_talk": nxt.client_talk[same].astype(str)})
    return pairs.reset_index(drop=True)


def _wilson(k: int, n: int, alpha: float) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
    return float(low), float(high)


def sequential(techniques: pd.DataFrame, client: pd.DataFrame, behaviour: str = "main_behaviour",
               behaviours: Sequence[str] = BEHAVIOURS, alpha: float = 0.05) -> pd.DataFrame:
    """P(next patient turn is change / sustain talk | therapist behaviour) with Wilson CIs,
    beside the client's base rate (share of all patient turns of ``client`` coded so).

    One row per (behaviour, talk): ``k`` of ``n`` following patient turns, ``p``, ``low``,
    ``high``, ``base_k``, ``base_n``, ``base_rate``, ``base_low``, ``base_high``, and ``ratio``
    = p / base rate. Behaviours with no pair get ``n`` = 0 and NaN.
    """
    pairs = next_client_pairs(techniques, client, behaviour)
    base_n = len(client)
    rows = []
    for talk in TALK:
        base_k = int((client.client_talk == talk).sum())
        base = base_k / base_n if base_n else np.nan
        b_low, b_high = _wilson(base_k, base_n, alpha)
        for b in behaviours:
            sel = pairs.client_talk[pairs.behaviour == b]
            k, n = int((sel == talk).sum()), len(sel)
            low, high = _wilson(k, n, alpha)
            p = k / n if n else np.nan
            rows.append({"behaviour": b, "talk": talk, "k": k, "n": n, "p": p, "low": low,
                         "high": high, "base_k": base_k, "base_n": base_n, "base_rate": base,
                         "base_low": b_low, "base_high": b_high,
                         "ratio": p / base if base else np.nan})
    return pd.DataFrame(rows)
