"""Technique shifts, their coupling with the patient's emotion, MI session indices and client talk
after each behaviour (notebooks 04, 05); sequences never cross a session; seeded randomness."""

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.analysis.dynamics import change_points
from therapy_turns.analysis.stats import Names, adjust_p, fit_mixedlm, next_turn, share_ci, shares
from therapy_turns.schema import TURN_ID as KEYS
from therapy_turns.schema import session_position

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


def row_normalise(counts: pd.DataFrame) -> pd.DataFrame:
    """Row proportions (rows without transitions stay NaN)."""
    return counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)


class PermutationResult(NamedTuple):
    """Transition counts ``from`` -> ``to`` against a within-session shuffled null."""

    observed: pd.DataFrame
    null_mean: pd.DataFrame
    p_cell: pd.DataFrame
    statistic: float
    p_value: float
    n_perm: int


def permutation_test(
    codes: pd.DataFrame, col: str = "main_behaviour", n_perm: int = 2000, seed: int = 0
) -> PermutationResult:
    """Do consecutive therapist codes follow each other more or less than chance?"""
    st = sorted(codes[col].astype(str).unique())
    index = {s: i for i, s in enumerate(st)}
    groups = codes.sort_values(KEYS).groupby("session_id", sort=True)[col]
    seqs = [np.array([index[x] for x in g.astype(str)], dtype=np.int64) for _, g in groups]

    def count(seqs: list[np.ndarray]) -> np.ndarray:
        m = np.zeros((len(st), len(st)))
        for a in seqs:
            np.add.at(m, (a[:-1], a[1:]), 1)
        return m

    obs, rng = count(seqs), np.random.default_rng(seed)
    null = np.array([count([rng.permutation(s) for s in seqs]) for _ in range(n_perm)])
    mean = null.mean(axis=0)
    ok = mean > 0
    s_obs, *s_null = ((((m - mean) ** 2)[ok] / mean[ok]).sum() for m in (obs, *null))
    low = np.minimum((null >= obs).sum(axis=0), (null <= obs).sum(axis=0))
    p_cell = np.minimum(1.0, 2 * (low + 1) / (n_perm + 1))
    p = float(((np.array(s_null) >= s_obs).sum() + 1) / (n_perm + 1))
    axes = {"index": pd.Index(st, name="from"), "columns": pd.Index(st, name="to")}
    frames = (pd.DataFrame(m, **axes) for m in (obs, mean, p_cell))
    return PermutationResult(*frames, float(s_obs), p, n_perm)


def transition_entropy(codes: Sequence[str]) -> float:
    """Conditional entropy H(next | current), bits, of a code sequence; NaN below two codes."""
    codes = [c for c in codes if isinstance(c, str) and c]
    if len(codes) < 2:
        return float("nan")
    table = pd.crosstab(pd.Series(codes[:-1]), pd.Series(codes[1:])).to_numpy(float)
    rows = table.sum(axis=1)
    return float(rows / rows.sum() @ stats.entropy(table, base=2, axis=1)) + 0.0


def windowed_entropy(
    codes: pd.DataFrame, col: str = "main_behaviour", window: int = 5
) -> pd.DataFrame:
    """``session_id, turn, entropy`` (bits) of the codes of the last ``window`` turns."""
    d = codes.sort_values(KEYS).reset_index(drop=True)
    onehot = pd.get_dummies(d[col].astype(str), dtype=float).groupby(d["session_id"])
    counts = onehot.rolling(window).sum().droplevel(0).sort_index()
    ent = stats.entropy(counts.to_numpy(), base=2, axis=1) + 0.0
    return d[KEYS].assign(turn=d["turn"].astype(int), entropy=ent)


def perseveration(
    codes: pd.DataFrame, patient: pd.DataFrame, marker: str, col: str, min_length: int = 3
) -> pd.DataFrame:
    """Runs of ``min_length`` or more identical codes and the ``marker`` turns inside them."""
    d = codes.sort_values(KEYS).assign(code=lambda x: x[col].astype(str))
    g = d.groupby(((d.code != d.code.shift()) | (d.session_id != d.session_id.shift())).cumsum())
    runs = g[["session_id", "code"]].first().assign(start_turn=g["turn"].first())
    runs = runs.assign(end_turn=g["turn"].last(), length=g.size())
    runs = runs[runs["length"] >= min_length].reset_index(drop=True)
    m = patient[patient[marker].fillna(0) > 0]
    runs["n_marked_patient_turns"] = [
        int(((m.session_id == s) & m.turn.between(a, b, "neither")).sum())
        for s, a, b in runs[["session_id", "start_turn", "end_turn"]].itertuples(index=False)
    ]
    order = ["length", "n_marked_patient_turns"]
    return runs.sort_values(order, ascending=False, kind="stable").reset_index(drop=True)


def technique_change_points(
    codes: pd.DataFrame, columns: Names, penalty: float = 3.0
) -> pd.DataFrame:
    """``session_id, turn`` starting each new segment of the mix of the indicator ``columns``."""
    rows = []
    for sid, g in codes.sort_values(KEYS).groupby("session_id", sort=True):
        x = g[list(columns)].astype(float).to_numpy()
        rows += [(sid, int(g["turn"].iloc[b])) for b in change_points(x, "l2", penalty, 3, False)]
    return pd.DataFrame(rows, columns=["session_id", "turn"])


def responsiveness(
    codes: pd.DataFrame,
    turns: pd.DataFrame,
    patient: pd.DataFrame,
    marker: str,
    col: str = "main_behaviour",
    states: Names | None = None,
) -> pd.DataFrame:
    """Shares of next therapist codes after patient turns with ``marker`` > 0 and without."""
    nx = next_turn(turns.loc[turns["speaker"] == "patient", KEYS], codes, col)
    nx = nx.merge(patient[[*KEYS, marker]], on=KEYS, how="left")
    cond = np.where(nx[marker].fillna(0) > 0, "after_marker", "otherwise")
    states = sorted(codes[col].astype(str).unique()) if states is None else states
    hits = pd.DataFrame({s: nx["next_code"] == s for s in states}, index=nx.index)
    return shares(hits, cond, ["after_marker", "otherwise"], ["condition", "code"])


def coupling_data(
    codes: pd.DataFrame, turns: pd.DataFrame, emotion: pd.DataFrame, indicators: Names, value: str
) -> pd.DataFrame:
    """Per therapist turn: the patient's ``prior`` and ``after`` value, ``delta``, indicators."""
    t = turns.sort_values(KEYS)[[*KEYS, "speaker"]]
    t = t.merge(emotion[[*KEYS, value]], on=KEYS, how="left")
    t.loc[t.speaker != "patient", value] = np.nan
    g = t.groupby("session_id")[value]
    t["prior"] = g.transform(lambda s: s.ffill().shift(1))
    t["after"] = g.transform(lambda s: s.bfill().shift(-1))
    t["position"] = session_position(t)
    t = t[t.speaker == "therapist"].drop(columns=["speaker", value])
    d = t.merge(codes[[*KEYS, *indicators]], on=KEYS, how="inner")
    d["delta"] = d["after"] - d["prior"]
    d[list(indicators)] = d[list(indicators)].astype(int)
    return d.dropna(subset=["prior", "after"]).reset_index(drop=True)


def coupling_model(
    data: pd.DataFrame, indicators: Names, method: str = "holm", min_count: int = 5
) -> pd.DataFrame:
    """Per code, MixedLM ``delta ~ code + prior + position``: estimate, CI, p, ``p_adj``."""
    import statsmodels.formula.api as smf

    rows = []
    for code in indicators:
        n_with, fit = int(data[code].sum()), (np.nan,) * 4 + (False,)
        note = f"skipped: fewer than {min_count} turns with/without the code"
        if min(n_with, len(data) - n_with) >= min_count:
            model = smf.mixedlm(f"delta ~ {code} + prior + position", data, groups=data.session_id)
            res, used, ok, notes = fit_mixedlm(model, reml=False)
            note = f"fit failed: {'; '.join(notes)}" if res is None else "; ".join([used, *notes])
            if res is not None:
                est = (res.params[code], *res.conf_int().loc[code], res.pvalues[code])
                fit = (*map(float, est), ok)
        rows.append((code, len(data), n_with, *fit, note))
    columns = "code n n_with estimate ci_low ci_high p converged note".split()
    out = pd.DataFrame(rows, columns=columns)
    out.insert(7, "p_adj", adjust_p(out["p"].to_numpy(float), method))
    return out


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
    out.columns = ["behaviour", "talk", "k", "n", "p", "low", "high"]
    base = {t: share_ci(int((client["client_talk"] == t).sum()), len(client)) for t in TALK}
    cols = ["base_k", "base_n", "base_rate", "base_low", "base_high"]
    out = out.join(pd.DataFrame.from_dict(base, orient="index", columns=cols), on="talk")
    out["ratio"] = out["p"] / out["base_rate"].replace(0, np.nan)
    return out.sort_values("talk", kind="stable").reset_index(drop=True)
