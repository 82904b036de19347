"""Technique shifts across therapist turns and their coupling with the patient's emotion
(notebooks 04, 05). Inputs: the techniques table (one row per therapist turn) and per-turn patient
tables keyed ``session_id, turn``. Sequences never cross a session; randomness comes only from
``numpy.random.default_rng(seed)``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.analysis.stats import adjust_p, fit_mixedlm, share_ci
from therapy_turns.schema import TURN_ID as KEYS
from therapy_turns.schema import session_position

Names = Sequence[str]


def _states(codes: pd.DataFrame, col: str, states: Sequence[str] | None) -> list[str]:
    return list(states) if states is not None else sorted(codes[col].astype(str).unique())


def _count(seqs: list[np.ndarray], k: int) -> np.ndarray:
    """k x k counts of consecutive pairs in each index sequence."""
    m = np.zeros((k, k), dtype=np.int64)
    for a in seqs:
        np.add.at(m, (a[:-1], a[1:]), 1)
    return m


def row_normalise(counts: pd.DataFrame) -> pd.DataFrame:
    """Row proportions (rows without transitions stay NaN)."""
    return counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)


@dataclass
class PermutationResult:
    """Transition counts ``from`` (rows) → ``to`` (columns) against a within-session shuffled
    null: two-sided p per cell, the statistic sum((observed - null_mean)^2 / null_mean) over
    cells with null_mean > 0 and its p, ``(k + 1) / (n_perm + 1)``."""

    observed: pd.DataFrame
    null_mean: pd.DataFrame
    p_cell: pd.DataFrame
    statistic: float
    p_value: float
    n_perm: int


def permutation_test(
    codes: pd.DataFrame,
    col: str = "main_behaviour",
    n_perm: int = 2000,
    seed: int = 0,
    states: Names | None = None,
) -> PermutationResult:
    """Do consecutive therapist codes of a session follow each other more (or less) than chance?
    The null shuffles each session's codes (keeping its technique mix)."""
    st = _states(codes, col, states)
    index = {s: i for i, s in enumerate(st)}
    groups = codes.sort_values(KEYS).groupby("session_id", sort=True)[col]
    seqs = [np.array([index[x] for x in g.astype(str)], dtype=np.int64) for _, g in groups]
    obs = _count(seqs, len(st)).astype(float)
    rng = np.random.default_rng(seed)
    null = [_count([rng.permutation(s) for s in seqs], len(st)) for _ in range(n_perm)]
    null = np.array(null, dtype=float).reshape(n_perm, *obs.shape)
    mean = null.mean(axis=0)
    ok = mean > 0

    def stat(m: np.ndarray) -> float:
        return float((((m - mean) ** 2)[ok] / mean[ok]).sum())

    s_obs, s_null = stat(obs), np.array([stat(n) for n in null])
    low = np.minimum((null >= obs).sum(axis=0), (null <= obs).sum(axis=0))
    p_cell = np.minimum(1.0, 2 * (low + 1) / (n_perm + 1))
    p = float(((s_null >= s_obs).sum() + 1) / (n_perm + 1))
    axes = {"index": pd.Index(st, name="from"), "columns": pd.Index(st, name="to")}
    frames = (pd.DataFrame(m, **axes) for m in (obs, mean, p_cell))
    return PermutationResult(*frames, s_obs, p, n_perm)


def entropy_bits(values: Sequence[str]) -> float:
    """Shannon entropy (bits) of the empirical distribution of ``values``."""
    _, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return float(stats.entropy(counts, base=2)) + 0.0


def transition_entropy(codes: Sequence[str]) -> float:
    """Conditional entropy H(next | current), bits, of a code sequence (plug-in estimate over the
    observed transitions): 0 when each code is always followed by the same one; NaN below two."""
    codes = [c for c in codes if isinstance(c, str) and c]
    if len(codes) < 2:
        return float("nan")
    table = pd.crosstab(pd.Series(codes[:-1]), pd.Series(codes[1:])).to_numpy(float)
    rows = table.sum(axis=1)
    return float(rows / rows.sum() @ stats.entropy(table, base=2, axis=1)) + 0.0


def windowed_entropy(
    codes: pd.DataFrame, col: str = "main_behaviour", window: int = 5
) -> pd.DataFrame:
    """``session_id, turn, entropy``: entropy of the codes of the last ``window`` therapist turns
    (the current one included; NaN for a session's first ``window - 1``)."""
    rows = []
    for sid, g in codes.sort_values(KEYS).groupby("session_id", sort=True):
        v = g[col].astype(str).to_numpy()
        for i, t in enumerate(g["turn"]):
            entropy = entropy_bits(v[i + 1 - window : i + 1]) if i + 1 >= window else np.nan
            rows.append((sid, int(t), entropy))
    return pd.DataFrame(rows, columns=["session_id", "turn", "entropy"])


def run_lengths(codes: pd.DataFrame, col: str = "main_behaviour") -> pd.DataFrame:
    """Maximal runs of one code over consecutive therapist turns: ``session_id, code,
    start_turn, end_turn, length`` (in therapist turns)."""
    d = codes.sort_values(KEYS)
    c = d[col].astype(str)
    run = ((c != c.shift()) | (d.session_id != d.session_id.shift())).cumsum()
    g = d.assign(code=c).groupby(run, sort=False)
    first = g[["session_id", "code", "turn"]].first().rename(columns={"turn": "start_turn"})
    out = first.assign(end_turn=g["turn"].last(), length=g["turn"].size())
    return out.reset_index(drop=True)


def perseveration(
    codes: pd.DataFrame,
    patient: pd.DataFrame,
    marker: str,
    col: str = "main_behaviour",
    min_length: int = 3,
) -> pd.DataFrame:
    """Runs of ``min_length`` or more identical codes with ``n_marked_patient_turns``: the
    patient turns inside the run with ``marker`` > 0 (the therapist repeating a technique while
    the patient keeps asking, e.g., to slow down). ``patient``: patient rows with ``marker``."""
    runs = run_lengths(codes, col)
    runs = runs[runs["length"] >= min_length].copy()
    m = patient[patient[marker].fillna(0) > 0][KEYS]
    runs["n_marked_patient_turns"] = [
        len(m[(m.session_id == r.session_id) & (m.turn > r.start_turn) & (m.turn < r.end_turn)])
        for r in runs.itertuples()
    ]
    order = ["length", "n_marked_patient_turns"]
    return runs.sort_values(order, ascending=False, kind="stable").reset_index(drop=True)


def technique_change_points(
    codes: pd.DataFrame, columns: Sequence[str], penalty: float = 3.0, min_size: int = 3
) -> pd.DataFrame:
    """``session_id, turn`` of the first therapist turn of each new segment of the mix of the
    indicator ``columns`` (ruptures PELT, L2 cost)."""
    import ruptures as rpt

    rows = []
    for sid, g in codes.sort_values(KEYS).groupby("session_id", sort=True):
        x = g[list(columns)].astype(float).to_numpy()
        if len(x) >= 2 * min_size:
            bkps = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(x).predict(pen=penalty)
            rows += [(sid, int(g["turn"].iloc[b])) for b in bkps[:-1]]
    return pd.DataFrame(rows, columns=["session_id", "turn"])


def next_therapist_code(
    codes: pd.DataFrame, turns: pd.DataFrame, col: str = "main_behaviour"
) -> pd.DataFrame:
    """``session_id, turn, next_turn, next_code``: each patient turn directly followed by a
    therapist turn, and that turn's code."""
    t = turns.sort_values(KEYS)[[*KEYS, "speaker"]]
    nxt = t.groupby("session_id")[["turn", "speaker"]].shift(-1)
    keep = (t.speaker == "patient") & (nxt.speaker == "therapist")
    t = t[keep].assign(next_turn=nxt.loc[keep, "turn"].astype(int))
    named = codes[[*KEYS, col]].rename(columns={"turn": "next_turn", col: "next_code"})
    m = t.merge(named, on=["session_id", "next_turn"], how="inner")
    return m[[*KEYS, "next_turn", "next_code"]].reset_index(drop=True)


def responsiveness(
    codes: pd.DataFrame,
    turns: pd.DataFrame,
    patient: pd.DataFrame,
    marker: str,
    col: str = "main_behaviour",
    states: Names | None = None,
) -> pd.DataFrame:
    """The therapist's next code after patient turns with ``marker`` > 0 (``after_marker``) and
    without (``otherwise``): ``condition, code, k, n, share, ci_low, ci_high`` (Wilson 95%;
    turns are not independent: the CIs are descriptive)."""
    nx = next_therapist_code(codes, turns, col).merge(patient[[*KEYS, marker]], on=KEYS, how="left")
    cond = np.where(nx[marker].fillna(0) > 0, "after_marker", "otherwise")
    rows, code_states = [], _states(codes, col, states)
    for c in ("after_marker", "otherwise"):
        nxt = nx.loc[cond == c, "next_code"]
        rows += [(c, s, *share_ci(int((nxt == s).sum()), len(nxt))) for s in code_states]
    return pd.DataFrame(rows, columns=["condition", "code", "k", "n", "share", "ci_low", "ci_high"])


def coupling_data(
    codes: pd.DataFrame,
    turns: pd.DataFrame,
    emotion: pd.DataFrame,
    indicators: Names,
    value: str = "valence",
) -> pd.DataFrame:
    """One row per therapist turn t with a patient turn before and after it: ``session_id, turn,
    prior`` (patient ``value`` at the last patient turn before t), ``after`` (the first after),
    ``position`` (``session_position``), the 0/1 ``indicators`` and ``delta = after - prior``."""
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


COUPLING_COLUMNS = "code n n_with estimate ci_low ci_high p p_adj converged note".split()


def coupling_model(
    data: pd.DataFrame, indicators: Sequence[str], method: str = "holm", min_count: int = 5
) -> pd.DataFrame:
    """Per code, MixedLM ``delta ~ code + prior + position`` with a random intercept per session
    (ML): the estimate is the difference in valence change between turns with and without the
    code, adjusted for prior valence and position; ``p_adj`` corrected across codes with
    ``method`` (``holm``, ``fdr_bh``). Codes in (or absent from) fewer than ``min_count`` turns
    are skipped (``note``). Columns ``code, n, n_with, estimate, ci_low, ci_high, p, p_adj,
    converged, note``."""
    import statsmodels.formula.api as smf

    rows = []
    for code in indicators:
        n_with = int(data[code].sum())
        fit, note = (np.nan,) * 4 + (False,), ""
        if min(n_with, len(data) - n_with) < min_count:
            note = f"skipped: fewer than {min_count} turns with/without the code"
        else:
            formula = f"delta ~ {code} + prior + position"
            model = smf.mixedlm(formula, data, groups=data["session_id"])
            res, used, converged, notes = fit_mixedlm(model, reml=False)
            note = f"fit failed: {'; '.join(notes)}" if res is None else "; ".join([used, *notes])
            if res is not None:
                lo, hi = res.conf_int().loc[code]
                values = (res.params[code], lo, hi, res.pvalues[code])
                fit = (*map(float, values), converged)
        rows.append((code, len(data), n_with, *fit, note))
    out = pd.DataFrame(rows, columns=COUPLING_COLUMNS[:7] + COUPLING_COLUMNS[8:])
    out.insert(7, "p_adj", adjust_p(out["p"].to_numpy(float), method))
    return out


def code_frequencies(codes: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Share of therapist turns with each indicator per session (rows: sessions)."""
    return codes.groupby("session_id", sort=True)[list(columns)].mean()
