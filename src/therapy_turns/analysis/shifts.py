"""Technique shifts across turns and their coupling with the patient's emotion.

Inputs are the technique table (:func:`measures.techniques.code_turns`, one row per therapist
turn) and, where needed, per-turn patient tables (``features`` markers, ``emotion`` valence) keyed
``session_id, turn``. Everything is computed within sessions; sequences never cross a session
boundary. Randomness comes from ``numpy.random.default_rng(seed)`` only.

- :func:`transition_counts`, :func:`row_normalise`: the code-to-code transition matrix between
  consecutive therapist turns;
- :func:`permutation_test`: observed transitions against a within-session shuffled baseline;
- :func:`windowed_entropy`: technique diversity (Shannon entropy, bits) in sliding windows;
- :func:`run_lengths`, :func:`perseveration`: runs of one code, and patient markers in them;
- :func:`technique_change_points`: change points in the technique mix (ruptures PELT);
- :func:`responsiveness`: the therapist's next code after a patient marker versus otherwise, with
  Wilson 95% CIs;
- :func:`coupling_data`, :func:`coupling_model`: does the code at turn t go with the patient's
  valence change from turn t-1 to t+1 (MixedLM, random intercept per session, Holm/FDR).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.analysis.stats import fit_mixedlm
from therapy_turns.schema import TURN_ID as KEYS

log = logging.getLogger(__name__)


def _sequences(codes: pd.DataFrame, col: str) -> list[np.ndarray]:
    """Per session (sorted), the codes of its therapist turns in turn order."""
    df = codes.sort_values(KEYS)
    return [g[col].astype(str).to_numpy() for _, g in df.groupby("session_id", sort=True)]


def _states(codes: pd.DataFrame, col: str, states: Sequence[str] | None) -> list[str]:
    return list(states) if states is not None else sorted(codes[col].astype(str).unique())


def _count(seqs: list[np.ndarray], index: dict[str, int]) -> np.ndarray:
    k = len(index)
    m = np.zeros((k, k), dtype=np.int64)
    for s in seqs:
        if len(s) < 2:
            continue
        a = np.array([index[x] for x in s])
        np.add.at(m, (a[:-1], a[1:]), 1)
    return m


def transition_counts(codes: pd.DataFrame, col: str = "main_behaviour",
                      states: Sequence[str] | None = None) -> pd.DataFrame:
    """Counts of code ``from`` (rows) → code ``to`` (columns) between consecutive therapist turns
    of the same session."""
    st = _states(codes, col, states)
    m = _count(_sequences(codes, col), {s: i for i, s in enumerate(st)})
    return pd.DataFrame(m, index=pd.Index(st, name="from"), columns=pd.Index(st, name="to"))


def row_normalise(counts: pd.DataFrame) -> pd.DataFrame:
    """Row proportions (rows with no transitions stay NaN)."""
    return counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)


@dataclass
class PermutationResult:
    """Observed transition counts against a within-session shuffled null."""

    observed: pd.DataFrame
    null_mean: pd.DataFrame
    p_cell: pd.DataFrame  # two-sided per-cell permutation p-values
    statistic: float  # sum of (observed - null_mean)^2 / null_mean over cells with null_mean > 0
    p_value: float  # share of shuffles with a statistic >= the observed one ((k+1)/(n+1))
    n_perm: int


def permutation_test(codes: pd.DataFrame, col: str = "main_behaviour", n_perm: int = 2000,
                     seed: int = 0, states: Sequence[str] | None = None) -> PermutationResult:
    """Do consecutive codes follow each other more (or less) than chance?

    The null shuffles each session's codes (keeping each session's code frequencies), so it tests
    sequential structure beyond a session's technique mix.
    """
    st = _states(codes, col, states)
    index = {s: i for i, s in enumerate(st)}
    seqs = _sequences(codes, col)
    obs = _count(seqs, index).astype(float)
    rng = np.random.default_rng(seed)
    null = np.empty((n_perm, *obs.shape))
    for b in range(n_perm):
        null[b] = _count([rng.permutation(s) for s in seqs], index)
    mean = null.mean(axis=0)
    ok = mean > 0

    def stat(m: np.ndarray) -> float:
        return float((((m - mean) ** 2)[ok] / mean[ok]).sum())

    s_obs = stat(obs)
    s_null = np.array([stat(n) for n in null])
    ge = (null >= obs).sum(axis=0)
    le = (null <= obs).sum(axis=0)
    p_cell = np.minimum(1.0, 2 * (np.minimum(ge, le) + 1) / (n_perm + 1))
    frame = {"index": pd.Index(st, name="from"), "columns": pd.Index(st, name="to")}
    return PermutationResult(pd.DataFrame(obs, **frame), pd.DataFrame(mean, **frame),
                             pd.DataFrame(p_cell, **frame), s_obs,
                             float(((s_null >= s_obs).sum() + 1) / (n_perm + 1)), n_perm)


def entropy_bits(values: Sequence[str]) -> float:
    """Shannon entropy (bits) of the empirical distribution of ``values``."""
    _, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return float(stats.entropy(counts, base=2)) + 0.0


def transition_entropy(codes: Sequence[str]) -> float:
    """Conditional entropy H(next | current) in bits of a sequence of codes.

    ``sum_a p(a) * H(next | current = a)`` with probabilities estimated from the observed
    transitions (plug-in estimate). 0 when each code is always followed by the same code;
    NaN with fewer than two codes.
    """
    codes = [c for c in codes if isinstance(c, str) and c]
    if len(codes) < 2:
        return float("nan")
    table = pd.crosstab(pd.Series(codes[:-1]), pd.Series(codes[1:])).to_numpy(float)
    rows = table.sum(axis=1)
    return float(rows / rows.sum() @ stats.entropy(table, base=2, axis=1)) + 0.0


def windowed_entropy(codes: pd.DataFrame, col: str = "main_behaviour", window: int = 5
                     ) -> pd.DataFrame:
    """Entropy of the codes of the last ``window`` therapist turns (incl. the current one); NaN
    until a session has ``window`` therapist turns. Columns ``session_id, turn, entropy``."""
    rows = []
    for sid, g in codes.sort_values(KEYS).groupby("session_id", sort=True):
        vals = g[col].astype(str).to_numpy()
        for i, t in enumerate(g["turn"]):
            e = entropy_bits(vals[i - window + 1: i + 1]) if i + 1 >= window else np.nan
            rows.append({"session_id": sid, "turn": int(t), "entropy": e})
    return pd.DataFrame(rows, columns=["session_id", "turn", "entropy"])


def run_lengths(codes: pd.DataFrame, col: str = "main_behaviour") -> pd.DataFrame:
    """Maximal runs of the same code over consecutive therapist turns: ``session_id, code,
    start_turn, end_turn, length`` (length in therapist turns)."""
    rows = []
    for sid, g in codes.sort_values(KEYS).groupby("session_id", sort=True):
        vals, turns = g[col].astype(str).to_numpy(), g["turn"].to_numpy()
        start = 0
        for i in range(1, len(vals) + 1):
            if i == len(vals) or vals[i] != vals[start]:
                rows.append({"session_id": sid, "code": vals[start],
                             "start_turn": int(turns[start]), "end_turn": int(turns[i - 1]),
                             "length": i - start})
                start = i
    return pd.DataFrame(rows, columns=["session_id", "code", "start_turn", "end_turn", "length"])


def perseveration(codes: pd.DataFrame, patient: pd.DataFrame, marker: str,
                  col: str = "main_behaviour", min_length: int = 3) -> pd.DataFrame:
    """Runs of ≥ ``min_length`` identical codes with the number of patient turns inside the run
    (between its first and last therapist turn) that carry ``marker`` (> 0).

    A long run with many marked patient turns is the therapist repeating a technique while the
    patient keeps asking (e.g.) to slow down. ``patient``: rows keyed ``session_id, turn`` with
    a numeric ``marker`` column (patient turns only)."""
    runs = run_lengths(codes, col)
    runs = runs[runs["length"] >= min_length].copy()
    marked = patient[patient[marker].fillna(0) > 0][KEYS]
    n = []
    for r in runs.itertuples():
        m = marked[(marked.session_id == r.session_id) & (marked.turn > r.start_turn)
                   & (marked.turn < r.end_turn)]
        n.append(len(m))
    runs["n_marked_patient_turns"] = n
    return runs.sort_values(["length", "n_marked_patient_turns"], ascending=False,
                            kind="stable").reset_index(drop=True)


def technique_change_points(codes: pd.DataFrame, columns: Sequence[str], penalty: float = 3.0,
                            min_size: int = 3) -> pd.DataFrame:
    """Change points in the mix of indicator ``columns`` per session (ruptures PELT, L2 cost).

    Returns ``session_id, turn`` of the first therapist turn of each new segment."""
    import ruptures as rpt

    rows = []
    for sid, g in codes.sort_values(KEYS).groupby("session_id", sort=True):
        x = g[list(columns)].astype(float).to_numpy()
        if len(x) < 2 * min_size:
            continue
        bkps = rpt.Pelt(model="l2", min_size=min_size, jump=1).fit(x).predict(pen=penalty)
        rows += [{"session_id": sid, "turn": int(g["turn"].iloc[b])} for b in bkps[:-1]]
    return pd.DataFrame(rows, columns=["session_id", "turn"])


def next_therapist_code(codes: pd.DataFrame, turns: pd.DataFrame, col: str = "main_behaviour"
                        ) -> pd.DataFrame:
    """For each patient turn: the code of the therapist turn that directly follows it in the same
    session (``session_id, turn, next_code``; patient turns without one are left out)."""
    t = turns.sort_values(KEYS)[KEYS + ["speaker"]].copy()
    nxt = t.groupby("session_id")[["turn", "speaker"]].shift(-1)
    t["next_turn"], t["next_speaker"] = nxt["turn"], nxt["speaker"]
    t = t[(t.speaker == "patient") & (t.next_speaker == "therapist")]
    t = t.assign(next_turn=t["next_turn"].astype(int))
    m = t.merge(codes[KEYS + [col]].rename(columns={"turn": "next_turn", col: "next_code"}),
                on=["session_id", "next_turn"], how="inner")
    return m[KEYS + ["next_code"]].reset_index(drop=True)


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for ``k`` successes in ``n`` trials."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return (np.nan, np.nan)
    lo, hi = proportion_confint(k, n, alpha=alpha, method="wilson")
    return float(lo), float(hi)


def responsiveness(codes: pd.DataFrame, turns: pd.DataFrame, patient: pd.DataFrame, marker: str,
                   col: str = "main_behaviour", states: Sequence[str] | None = None
                   ) -> pd.DataFrame:
    """Distribution of the therapist's next code after patient turns with ``marker`` > 0 versus
    without: ``condition`` (after_marker | otherwise), ``code``, ``k``, ``n``, ``share``,
    ``ci_low``, ``ci_high`` (Wilson 95%). Turns are treated as independent (they are not: the
    CIs are descriptive)."""
    nx = next_therapist_code(codes, turns, col).merge(patient[KEYS + [marker]], on=KEYS,
                                                      how="left")
    nx["condition"] = np.where(nx[marker].fillna(0) > 0, "after_marker", "otherwise")
    st = _states(codes, col, states)
    rows = []
    for cond in ("after_marker", "otherwise"):
        sub = nx[nx.condition == cond]
        n = len(sub)
        for s in st:
            k = int((sub["next_code"] == s).sum())
            lo, hi = wilson(k, n)
            rows.append({"condition": cond, "code": s, "k": k, "n": n,
                         "share": k / n if n else np.nan, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- coupling
def coupling_data(codes: pd.DataFrame, turns: pd.DataFrame, emotion: pd.DataFrame,
                  indicators: Sequence[str], value: str = "valence") -> pd.DataFrame:
    """One row per therapist turn t with a patient turn before (t-1) and after (t+1) it.

    Columns: ``session_id, turn, prior`` (patient ``value`` at the last patient turn before t),
    ``after`` (at the first patient turn after t), ``delta = after - prior``, ``position``
    (t / last turn of the session, 0..1), and the 0/1 ``indicators``.
    """
    t = turns.sort_values(KEYS)[KEYS + ["speaker"]].merge(
        emotion[KEYS + [value]], on=KEYS, how="left")
    t.loc[t.speaker != "patient", value] = np.nan
    g = t.groupby("session_id")[value]
    t["prior"] = g.transform(lambda s: s.ffill().shift(1))
    t["after"] = g.transform(lambda s: s.bfill().shift(-1))
    t["position"] = t["turn"] / t.groupby("session_id")["turn"].transform("max").replace(0, 1)
    t = t[t.speaker == "therapist"].drop(columns=["speaker", value])
    d = t.merge(codes[KEYS + list(indicators)], on=KEYS, how="inner")
    d["delta"] = d["after"] - d["prior"]
    d[list(indicators)] = d[list(indicators)].astype(int)
    return d.dropna(subset=["prior", "after"]).reset_index(drop=True)


def coupling_model(data: pd.DataFrame, indicators: Sequence[str], method: str = "holm",
                   min_count: int = 5) -> pd.DataFrame:
    """Per code, a linear mixed model ``delta ~ code + prior + position`` with a random intercept
    per session (statsmodels MixedLM, ML fit); p-values corrected across codes with ``method``
    (``holm`` or ``fdr_bh``, statsmodels.stats.multitest).

    Codes present (or absent) in fewer than ``min_count`` turns are skipped (``note`` says so).
    Returns ``code, n, n_with, estimate, ci_low, ci_high, p, p_adj, converged, note`` — the
    estimate is the mean difference in valence change between turns with and without the code,
    adjusted for prior valence and position.
    """
    import statsmodels.formula.api as smf
    from statsmodels.stats.multitest import multipletests

    rows = []
    for code in indicators:
        n_with = int(data[code].sum())
        row = {"code": code, "n": len(data), "n_with": n_with, "estimate": np.nan,
               "ci_low": np.nan, "ci_high": np.nan, "p": np.nan, "converged": False, "note": ""}
        if min(n_with, len(data) - n_with) < min_count:
            row["note"] = f"skipped: fewer than {min_count} turns with/without the code"
            rows.append(row)
            continue
        model = smf.mixedlm(f"delta ~ {code} + prior + position", data,
                            groups=data["session_id"])
        fit, used, converged, notes = fit_mixedlm(model, reml=False)
        if fit is None:
            row["note"] = f"fit failed: {'; '.join(notes)}"
            rows.append(row)
            continue
        ci = fit.conf_int().loc[code]
        row.update(estimate=float(fit.params[code]), ci_low=float(ci[0]), ci_high=float(ci[1]),
                   p=float(fit.pvalues[code]), converged=converged,
                   note=f"{used}" + (f"; {'; '.join(notes)}" if notes else ""))
        rows.append(row)
    out = pd.DataFrame(rows)
    ok = out["p"].notna()
    out["p_adj"] = np.nan
    if ok.any():
        out.loc[ok, "p_adj"] = multipletests(out.loc[ok, "p"], method=method)[1]
    return out[["code", "n", "n_with", "estimate", "ci_low", "ci_high", "p", "p_adj",
                "converged", "note"]]


def code_frequencies(codes: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Share of therapist turns with each indicator per session (rows: sessions)."""
    return codes.groupby("session_id", sort=True)[list(columns)].mean()
