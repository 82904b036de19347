"""Emotional trajectories and their dynamics, per speaker and session.

Input is a per-turn score table keyed ``session_id, turn, speaker`` (e.g.
:func:`measures.emotion.score_turns`). :func:`trajectory` selects one speaker's series per
session, drops excluded and empty turns, and numbers the speaker's turns ``position`` = 0, 1, ...
in session order; every other function works on that ``position`` axis (so a patient's series
has no gaps where the therapist spoke) and reports the session ``turn`` where a turn is meant.

Measures
--------
- Smoothing (:func:`smooth`): centred rolling mean or LOWESS, window in speaker turns.
- Trend (:func:`session_trends`, :func:`mixed_trend`): OLS slope per session with a 95% CI;
  across sessions a linear mixed model with a random intercept and slope per session.
- Start-vs-end change (:func:`start_end_change`): mean of the last minus the first turns, with
  a percentile bootstrap CI.
- Change points (:func:`change_points`): ``ruptures`` PELT, model and penalty as parameters.
- Utterance Emotion Dynamics (:func:`ued`, :func:`ued_table`) after Hipson & Mohammad (2021).

``ruptures`` and ``statsmodels`` are imported by the functions that use them: the analysis step
needs only :func:`ued` from this module, and those imports cost about a second per process.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.analysis.stats import fit_mixedlm
from therapy_turns.io.transcripts import analysable
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS

log = logging.getLogger(__name__)



# --------------------------------------------------------------------------- trajectories
def smooth(values: Sequence[float] | np.ndarray, window: int = 5, method: str = "rolling"
           ) -> np.ndarray:
    """Smoothed copy of ``values``.

    ``rolling``: centred moving average over ``window`` points, shrinking at the ends (mean of
    the points available). ``lowess``: LOWESS (statsmodels, no robustness iterations) with
    ``frac = min(1, window / n)``. NaNs are ignored by both.
    """
    x = np.asarray(values, dtype=float)
    if window < 1:
        raise ValueError("window must be >= 1")
    if method == "rolling":
        return pd.Series(x).rolling(window, center=True, min_periods=1).mean().to_numpy()
    if method == "lowess":
        n = len(x)
        if n < 3:
            return x.copy()
        from statsmodels.nonparametric.smoothers_lowess import lowess

        pos = np.arange(n, dtype=float)
        ok = ~np.isnan(x)
        fit = lowess(x[ok], pos[ok], frac=min(1.0, window / n), it=0, return_sorted=False)
        out = np.full(n, np.nan)
        out[ok] = fit
        return out
    raise ValueError(f"method must be 'rolling' or 'lowess', got {method!r}")


def trajectory(scores: pd.DataFrame, value: str = "valence", speaker: str | None = "patient",
               window: int = 5, method: str = "rolling", turns: pd.DataFrame | None = None,
               exclude: Sequence[str] = DEFAULT_EXCLUDE) -> pd.DataFrame:
    """One speaker's series per session with its smooth line.

    Rows of ``scores`` whose ``value`` is NaN (empty turns) are dropped; if ``turns`` (the turn
    table) is given, only :func:`~therapy_turns.io.transcripts.analysable` turns under ``exclude``
    are kept. ``speaker=None`` keeps both speakers (positions are then per speaker).
    Columns: ``session_id, turn, speaker, position`` (0-based index of the speaker's kept turns
    in the session), ``progress`` (position / (n - 1), 0 for a single turn), ``value``,
    ``smooth``.
    """
    df = scores[[*KEYS, value]].rename(columns={value: "value"})
    if turns is not None:
        keep = analysable(turns, exclude)[KEYS]
        df = df.merge(keep, on=KEYS, how="inner")
    if speaker is not None:
        df = df[df["speaker"] == speaker]
    df = df[df["value"].notna()].sort_values(["session_id", "speaker", "turn"], kind="stable")
    parts = []
    for _, g in df.groupby(["session_id", "speaker"], sort=True):
        g = g.copy()
        n = len(g)
        g["position"] = np.arange(n)
        g["progress"] = g["position"] / (n - 1) if n > 1 else 0.0
        g["smooth"] = smooth(g["value"].to_numpy(), window, method)
        parts.append(g)
    cols = [*KEYS, "position", "progress", "value", "smooth"]
    if not parts:
        return pd.DataFrame(columns=cols)
    return pd.concat(parts, ignore_index=True)[cols]


# --------------------------------------------------------------------------- trends
def session_trends(traj: pd.DataFrame, x: str = "position", alpha: float = 0.05) -> pd.DataFrame:
    """OLS of ``value`` on ``x`` (``position``, ``turn`` or ``progress``) per session and speaker.

    Columns: ``session_id, speaker, n, slope, ci_low, ci_high, p`` (CI at ``1 - alpha``,
    t distribution). Series with fewer than 3 points get NaN.
    """
    import statsmodels.formula.api as smf

    rows = []
    for (sid, spk), g in traj.groupby(["session_id", "speaker"], sort=True):
        row = {"session_id": sid, "speaker": spk, "n": len(g), "slope": math.nan,
               "ci_low": math.nan, "ci_high": math.nan, "p": math.nan}
        if len(g) >= 3 and g[x].nunique() > 1:
            fit = smf.ols(f"value ~ {x}", data=g).fit()
            lo, hi = fit.conf_int(alpha).loc[x]
            row.update(slope=float(fit.params[x]), ci_low=float(lo), ci_high=float(hi),
                       p=float(fit.pvalues[x]))
        rows.append(row)
    return pd.DataFrame(rows)


def mixed_trend(traj: pd.DataFrame, x: str = "progress", alpha: float = 0.05) -> pd.DataFrame:
    """Linear mixed model ``value ~ x`` with a random intercept and a random slope of ``x``
    per session (statsmodels MixedLM, REML, lbfgs), fitted to one speaker's ``traj``.

    Returns a tidy table: rows ``Intercept`` and ``x`` (fixed effects: ``estimate, se, ci_low,
    ci_high, p``) plus ``var_intercept``, ``var_slope``, ``cov`` and ``var_residual`` (variance
    components in ``estimate``), with ``n_obs``, ``n_groups``, ``converged``, ``optimizer`` and
    ``warnings`` on every row (statsmodels' optimisers tried in turn:
    :func:`therapy_turns.analysis.stats.fit_mixedlm`).
    Needs at least two sessions.
    """
    if traj["speaker"].nunique() > 1:
        raise ValueError("mixed_trend expects one speaker's trajectory")
    if traj["session_id"].nunique() < 2:
        raise ValueError("mixed_trend needs at least two sessions")
    import statsmodels.formula.api as smf

    model = smf.mixedlm(f"value ~ {x}", traj, groups=traj["session_id"], re_formula=f"~{x}")
    fit, used, converged, notes = fit_mixedlm(model, reml=True)
    if fit is None:
        raise ValueError(f"mixed_trend: no optimiser could fit the model: {'; '.join(notes)}")
    ci = fit.conf_int(alpha)
    rows = []
    for term in ("Intercept", x):
        rows.append({"term": term, "estimate": float(fit.fe_params[term]),
                     "se": float(fit.bse_fe[term]), "ci_low": float(ci.loc[term, 0]),
                     "ci_high": float(ci.loc[term, 1]), "p": float(fit.pvalues[term])})
    cov = fit.cov_re.to_numpy()
    for term, v in (("var_intercept", cov[0, 0]), ("var_slope", cov[1, 1]), ("cov", cov[0, 1]),
                    ("var_residual", fit.scale)):
        rows.append({"term": term, "estimate": float(v), "se": math.nan, "ci_low": math.nan,
                     "ci_high": math.nan, "p": math.nan})
    out = pd.DataFrame(rows)
    out["n_obs"] = int(fit.nobs)
    out["n_groups"] = int(traj["session_id"].nunique())
    out["converged"] = converged
    out["optimizer"] = used
    out["warnings"] = "; ".join(notes)
    if not converged:
        log.warning("MixedLM did not converge; read the estimates with care")
    return out


def bootstrap_ci(stat, samples: Sequence[np.ndarray], n_boot: int = 2000, alpha: float = 0.05,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of ``stat(*samples, axis=-1)``, resampling each sample
    independently with replacement (:func:`scipy.stats.bootstrap`, ``rng=seed``)."""
    res = stats.bootstrap([np.asarray(s, dtype=float) for s in samples], stat,
                          n_resamples=n_boot, confidence_level=1 - alpha, method="percentile",
                          rng=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _change(first: np.ndarray, last: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean of ``last`` minus mean of ``first`` along ``axis``."""
    return last.mean(axis=axis) - first.mean(axis=axis)


def _edge(n: int, frac: float, n_min: int) -> int:
    return max(n_min, int(math.ceil(frac * n)))


def start_end_change(traj: pd.DataFrame, frac: float = 0.25, n_min: int = 2,
                     n_boot: int = 2000, seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Start-vs-end change per session and speaker, and pooled over sessions.

    For a series of n points, ``k = max(n_min, ceil(frac * n))``; change = mean of the last k
    values minus mean of the first k (series with n < 2k are skipped). Per session the CI is a
    percentile bootstrap resampling the first and the last k values independently. The
    ``session_id == "all"`` row (one per speaker) is the mean change over sessions with a CI from
    resampling sessions. Columns: ``session_id, speaker, k, start, end, change, ci_low,
    ci_high``.
    """
    rows = []
    for (sid, spk), g in traj.groupby(["session_id", "speaker"], sort=True):
        v = g.sort_values("position")["value"].to_numpy(float)
        k = _edge(len(v), frac, n_min)
        if len(v) < 2 * k:
            continue
        first, last = v[:k], v[-k:]
        lo, hi = bootstrap_ci(_change, [first, last], n_boot, alpha, seed)
        rows.append({"session_id": sid, "speaker": spk, "k": k, "start": first.mean(),
                     "end": last.mean(), "change": last.mean() - first.mean(),
                     "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows, columns=["session_id", "speaker", "k", "start", "end", "change",
                                      "ci_low", "ci_high"])
    pooled = []
    for spk, g in out.groupby("speaker", sort=True):
        ch = g["change"].to_numpy(float)
        lo, hi = (bootstrap_ci(np.mean, [ch], n_boot, alpha, seed) if len(ch) > 1
                  else (math.nan, math.nan))
        pooled.append({"session_id": "all", "speaker": spk, "k": int(g["k"].median()),
                       "start": g["start"].mean(), "end": g["end"].mean(),
                       "change": ch.mean(), "ci_low": lo, "ci_high": hi})
    return pd.concat([out, pd.DataFrame(pooled, columns=out.columns)], ignore_index=True) \
        if pooled else out


# --------------------------------------------------------------------------- change points
def change_points(values: Sequence[float] | np.ndarray, model: str = "l2", penalty: float = 3.0,
                  min_size: int = 3, jump: int = 1, standardize: bool = True) -> list[int]:
    """Change points of a series by ``ruptures.Pelt(model, min_size, jump)`` with ``penalty``.

    Returns the 0-based indices at which a new segment starts (ruptures' breakpoints without the
    final ``n``), sorted. With ``standardize`` (default) the series is z-scored first (sample
    SD), so for ``l2`` the penalty is in units of the series variance and comparable across
    measures and sessions; a constant series then has no change point. Too short a series
    (fewer than ``2 * min_size`` points) gives ``[]``.
    """
    x = np.asarray(values, dtype=float)
    if len(x) < 2 * min_size:
        return []
    if standardize:
        sd = x.std(ddof=1)
        if not sd > 0:
            return []
        x = (x - x.mean()) / sd
    import ruptures as rpt

    algo = rpt.Pelt(model=model, min_size=min_size, jump=jump).fit(x.reshape(-1, 1))
    return [int(b) for b in algo.predict(pen=penalty) if b < len(x)]


def session_change_points(traj: pd.DataFrame, column: str = "value", model: str = "l2",
                          penalty: float = 3.0, min_size: int = 3, standardize: bool = True
                          ) -> pd.DataFrame:
    """:func:`change_points` per session and speaker: ``session_id, speaker, position, turn``
    (``turn`` is the session turn index where the new segment starts), plus ``before`` and
    ``after``: the means of the segments either side."""
    rows = []
    for (sid, spk), g in traj.groupby(["session_id", "speaker"], sort=True):
        g = g.sort_values("position")
        v = g[column].to_numpy(float)
        cps = change_points(v, model, penalty, min_size, standardize=standardize)
        bounds = [0, *cps, len(v)]
        for j, cp in enumerate(cps):
            rows.append({"session_id": sid, "speaker": spk, "position": cp,
                         "turn": int(g["turn"].iloc[cp]),
                         "before": float(v[bounds[j]:cp].mean()),
                         "after": float(v[cp:bounds[j + 2]].mean())})
    return pd.DataFrame(rows, columns=["session_id", "speaker", "position", "turn", "before",
                                       "after"])


# --------------------------------------------------------------------------- UED
@dataclass(frozen=True)
class Displacement:
    """A run of at least ``min_run`` consecutive points outside the home base on one side.

    ``start``/``end``: first and last position (inclusive); ``side``: +1 above, -1 below;
    ``peak``: position of the point farthest from the home-base mean (first if tied);
    ``peak_distance``: how far that point lies beyond the home-base edge,
    ``|x_peak - mean| - sd``; ``rise_rate``: ``peak_distance / (peak - start + 1)`` (distance per
    turn from leaving the home base to the peak); ``recovery_rate``:
    ``peak_distance / (end + 1 - peak)`` (per turn from the peak to the first point back in the
    home base), NaN when the series ends before returning.
    """

    start: int
    end: int
    side: int
    peak: int
    peak_distance: float
    rise_rate: float
    recovery_rate: float


def home_base(values: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """``(mean, sd)`` of the series; the home base is ``[mean - sd, mean + sd]`` (sample SD,
    ddof=1)."""
    x = np.asarray(values, dtype=float)
    return float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0


def displacements(values: Sequence[float] | np.ndarray, min_run: int = 3) -> list[Displacement]:
    """The :class:`Displacement` runs of ``values`` (a point exactly on the band edge is
    inside the home base)."""
    x = np.asarray(values, dtype=float)
    mean, sd = home_base(x)
    side = np.where(x > mean + sd, 1, np.where(x < mean - sd, -1, 0))
    out = []
    i, n = 0, len(x)
    while i < n:
        if side[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < n and side[j + 1] == side[i]:
            j += 1
        if j - i + 1 >= min_run:
            dist = np.abs(x[i:j + 1] - mean)
            peak = i + int(np.argmax(dist))
            pd_ = float(dist.max() - sd)
            rec = pd_ / (j + 1 - peak) if j + 1 < n else math.nan
            out.append(Displacement(i, j, int(side[i]), peak, pd_, pd_ / (peak - i + 1), rec))
        i = j + 1
    return out


def ued(values: Sequence[float] | np.ndarray, min_run: int = 3) -> dict[str, float]:
    """Utterance Emotion Dynamics of one series (Hipson & Mohammad 2021).

    - ``n``: points; ``home_mean``, ``home_low``, ``home_high``: the home base mean and band
      ``mean -/+ sd``;
    - ``variability_sd``: emotional variability, the sample SD (ddof=1);
    - ``rmssd``: temporal variability, ``sqrt(mean((x[t+1] - x[t])^2))``;
    - ``n_displacements``, ``displaced_share`` (share of points inside a displacement);
    - ``peak_distance``, ``rise_rate``, ``recovery_rate``: means over displacements (see
      :class:`Displacement`; NaN with no displacement; recovery ignores unrecovered ones).
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    mean, sd = home_base(x) if len(x) else (math.nan, math.nan)
    disp = displacements(x, min_run) if len(x) > 1 else []
    rec = [d.recovery_rate for d in disp if not math.isnan(d.recovery_rate)]
    return {
        "n": len(x), "home_mean": mean, "home_low": mean - sd, "home_high": mean + sd,
        "variability_sd": sd if len(x) > 1 else math.nan,
        "rmssd": float(np.sqrt(np.mean(np.diff(x) ** 2))) if len(x) > 1 else math.nan,
        "n_displacements": len(disp),
        "displaced_share": (sum(d.end - d.start + 1 for d in disp) / len(x)) if len(x) else 0.0,
        "peak_distance": float(np.mean([d.peak_distance for d in disp])) if disp else math.nan,
        "rise_rate": float(np.mean([d.rise_rate for d in disp])) if disp else math.nan,
        "recovery_rate": float(np.mean(rec)) if rec else math.nan,
    }


def ued_table(traj: pd.DataFrame, column: str = "value", min_run: int = 3) -> pd.DataFrame:
    """:func:`ued` per session and speaker: ``session_id, speaker`` plus the UED columns."""
    rows = []
    for (sid, spk), g in traj.groupby(["session_id", "speaker"], sort=True):
        rows.append({"session_id": sid, "speaker": spk,
                     **ued(g.sort_values("position")[column].to_numpy(float), min_run)})
    return pd.DataFrame(rows)


def displacement_table(traj: pd.DataFrame, column: str = "value", min_run: int = 3
                       ) -> pd.DataFrame:
    """Every displacement, one row each: ``session_id, speaker`` and the
    :class:`Displacement` fields, plus ``start_turn``/``end_turn`` (session turn indices)."""
    rows = []
    for (sid, spk), g in traj.groupby(["session_id", "speaker"], sort=True):
        g = g.sort_values("position")
        for d in displacements(g[column].to_numpy(float), min_run):
            rows.append({"session_id": sid, "speaker": spk, **asdict(d),
                         "start_turn": int(g["turn"].iloc[d.start]),
                         "end_turn": int(g["turn"].iloc[d.end])})
    cols = ["session_id", "speaker", *Displacement.__dataclass_fields__, "start_turn", "end_turn"]
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------- composition
def phase_composition(scores: pd.DataFrame, columns: Sequence[str], speaker: str = "patient",
                      phases: Sequence[str] = ("beginning", "middle", "end"),
                      turns: pd.DataFrame | None = None,
                      exclude: Sequence[str] = DEFAULT_EXCLUDE) -> pd.DataFrame:
    """Mean of ``columns`` per session phase for one speaker, over all sessions.

    Each session's kept turns of ``speaker`` are cut into ``len(phases)`` parts of (nearly)
    equal size by position (``numpy.array_split``). Long format: ``phase, column, mean, sem,
    n_turns`` (``sem`` over turns)."""
    df = scores[[*KEYS, *columns]]
    if turns is not None:
        df = df.merge(analysable(turns, exclude)[KEYS], on=KEYS, how="inner")
    df = df[df["speaker"] == speaker].dropna(subset=list(columns))
    labelled = []
    for _, g in df.sort_values(["session_id", "turn"]).groupby("session_id", sort=True):
        for name, idx in zip(phases, np.array_split(np.arange(len(g)), len(phases)), strict=True):
            labelled.append(g.iloc[idx].assign(phase=name))
    if not labelled:
        return pd.DataFrame(columns=["phase", "column", "mean", "sem", "n_turns"])
    long = pd.concat(labelled).melt(id_vars=["phase"], value_vars=list(columns),
                                    var_name="column")
    out = long.groupby(["phase", "column"], sort=False)["value"].agg(
        mean="mean", sem="sem", n_turns="count").reset_index()
    out["phase"] = pd.Categorical(out["phase"], categories=list(phases), ordered=True)
    return out.sort_values(["phase", "column"]).reset_index(drop=True)


def select_session(traj: pd.DataFrame, session: str = "", marks: pd.DataFrame | None = None
                   ) -> str:
    """The session id to draw: ``session`` (an id or a unique prefix of one). If ``session`` is
    empty or matches no session (e.g. a seed id passed to another corpus; logged as a warning),
    the session with the most rows in ``marks`` (ties: first id), else the first session.
    A prefix matching several sessions is an error."""
    ids = sorted(traj["session_id"].unique())
    if session:
        hits = [s for s in ids if s == session or s.startswith(session)]
        if len(hits) > 1:
            raise ValueError(f"session {session!r} matches {len(hits)} sessions: {hits[:5]}")
        if hits:
            return hits[0]
        log.warning("session %r not in the corpus; drawing the one with most marks", session)
    if marks is not None and len(marks):
        counts = marks.groupby("session_id").size().reindex(ids, fill_value=0)
        return str(counts.idxmax())
    return ids[0]
