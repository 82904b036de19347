"""Emotional trajectories (notebook 03): smoothing, trends, start-end change, change points, UED."""

import logging
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.analysis.stats import Names, fit_mixedlm, ols_term
from therapy_turns.io.transcripts import analysable
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS

log = logging.getLogger(__name__)
PAIR = ["session_id", "speaker"]
NAN2 = (math.nan, math.nan)


def _per_series(traj: pd.DataFrame, rows: Callable, columns: Names) -> pd.DataFrame:
    groups = traj.sort_values([*PAIR, "position"]).groupby(PAIR, sort=True)
    out = [(sid, spk, *r) for (sid, spk), g in groups for r in rows(g)]
    return pd.DataFrame(out, columns=[*PAIR, *columns])


def _rows(df: pd.DataFrame, turns: pd.DataFrame | None, exclude: Names, speaker: str | None):
    if turns is not None:
        df = df.merge(analysable(turns, exclude)[KEYS], on=KEYS, how="inner")
    return df if speaker is None else df[df["speaker"] == speaker]


def smooth(values: Sequence[float], window: int = 5, method: str = "rolling") -> np.ndarray:
    """Centred ``rolling`` mean over ``window`` points or ``lowess`` (frac window / n)."""
    x = np.asarray(values, dtype=float)
    if window < 1 or method not in ("rolling", "lowess"):
        raise ValueError(f"window must be >= 1, method 'rolling' or 'lowess': {window}, {method!r}")
    if method == "rolling":
        return pd.Series(x).rolling(window, center=True, min_periods=1).mean().to_numpy()
    if len(x) < 3:
        return x.copy()
    from statsmodels.nonparametric.smoothers_lowess import lowess

    frac = min(1.0, window / len(x))  # NaN points are left out and stay NaN
    return lowess(x, np.arange(len(x), dtype=float), frac=frac, it=0, return_sorted=False)


def trajectory(
    scores: pd.DataFrame,
    value: str = "valence",
    speaker: str | None = "patient",
    window: int = 5,
    method: str = "rolling",
    turns: pd.DataFrame | None = None,
    exclude: Names = DEFAULT_EXCLUDE,
) -> pd.DataFrame:
    """One speaker's (None: both) ``value`` per session: ``position``, ``progress``, ``smooth``."""
    df = _rows(scores[[*KEYS, value]], turns, exclude, speaker).rename(columns={value: "value"})
    df = df[df["value"].notna()].sort_values([*PAIR, "turn"], kind="stable")
    g = df.groupby(PAIR, sort=True)
    df["position"] = g.cumcount()
    df["progress"] = (df["position"] / (g["value"].transform("size") - 1)).fillna(0.0)
    df["smooth"] = g["value"].transform(lambda v: smooth(v.to_numpy(), window, method))
    return df.reset_index(drop=True)[[*KEYS, "position", "progress", "value", "smooth"]]


def session_trends(traj: pd.DataFrame, x: str = "position") -> pd.DataFrame:
    """OLS slope of ``value`` on ``x`` per session and speaker with its t CI and p."""

    def fit(g: pd.DataFrame) -> list[tuple]:
        ok = len(g) >= 3 and g[x].nunique() > 1
        return [(len(g), *(ols_term(f"value ~ {x}", g, x) if ok else NAN2 * 2))]

    return _per_series(traj, fit, ["n", "slope", "ci_low", "ci_high", "p"])


def mixed_trend(traj: pd.DataFrame, x: str = "progress") -> pd.DataFrame:
    """MixedLM ``value ~ x``, random intercept and slope per session: fixed effects, variances."""
    if traj["speaker"].nunique() > 1:
        raise ValueError("mixed_trend expects one speaker's trajectory")
    if traj["session_id"].nunique() < 2:
        raise ValueError("mixed_trend needs at least two sessions")
    fit, used, converged, notes = fit_mixedlm(f"value ~ {x}", traj, True, f"~{x}")
    if fit is None:
        raise ValueError(f"mixed_trend: no optimiser could fit the model: {'; '.join(notes)}")
    if not converged:
        log.warning("MixedLM did not converge; read the estimates with care")
    ci, cov = fit.conf_int(), fit.cov_re.to_numpy()
    rows = [(t, v, fit.bse_fe[t], *ci.loc[t], fit.pvalues[t]) for t, v in fit.fe_params.items()]
    var = ("var_intercept", cov[0, 0]), ("var_slope", cov[1, 1]), ("cov", cov[0, 1])
    rows += [(t, v, *NAN2 * 2) for t, v in (*var, ("var_residual", fit.scale))]
    out = pd.DataFrame(rows, columns=["term", "estimate", "se", "ci_low", "ci_high", "p"])
    info = {"n_obs": int(fit.nobs), "n_groups": traj["session_id"].nunique()}
    info |= {"converged": converged, "optimizer": used, "warnings": "; ".join(notes)}
    return out.astype({c: float for c in out.columns[1:]}).assign(**info)


def start_end_change(traj: pd.DataFrame, frac: float = 0.25, n_boot: int = 2000) -> pd.DataFrame:
    """Mean of the last k values minus the first k per series and speaker, bootstrap CIs."""

    def boot(stat, *samples: np.ndarray) -> tuple[float, float]:  # noqa: ANN001
        ci = stats.bootstrap(samples, stat, n_resamples=n_boot, method="percentile", rng=0)
        return tuple(map(float, ci.confidence_interval))

    def change(g: pd.DataFrame) -> list[tuple]:
        v = g["value"].to_numpy(float)
        k = max(2, math.ceil(frac * len(v)))
        if len(v) < 2 * k:
            return []
        a, b = v[:k], v[-k:]
        ci = boot(lambda a, b, axis=-1: b.mean(axis=axis) - a.mean(axis=axis), a, b)
        return [(k, a.mean(), b.mean(), b.mean() - a.mean(), *ci)]

    out = _per_series(traj, change, ["k", "start", "end", "change", "ci_low", "ci_high"])
    pooled = [
        ("all", spk, int(g["k"].median()), g["start"].mean(), g["end"].mean(), g["change"].mean())
        + (boot(np.mean, g["change"].to_numpy(float)) if len(g) > 1 else NAN2)
        for spk, g in out.groupby("speaker", sort=True)
    ]
    return pd.concat([out, pd.DataFrame(pooled, columns=out.columns)], ignore_index=True)


def change_points(
    values: Sequence[float],
    model: str = "l2",
    penalty: float = 3.0,
    min_size: int = 3,
    standardize: bool = True,
) -> list[int]:
    """0-based starts of new segments of a (z-scored) series (``ruptures.Pelt``)."""
    x = np.asarray(values, dtype=float)
    sd = x.std(ddof=1) if standardize and len(x) > 1 else 1.0
    if len(x) < 2 * min_size or not sd > 0:
        return []
    x = (x - x.mean()) / sd if standardize else x
    import ruptures as rpt

    algo = rpt.Pelt(model=model, min_size=min_size, jump=1).fit(x.reshape(len(x), -1))
    return [int(b) for b in algo.predict(pen=penalty) if b < len(x)]


def session_change_points(
    traj: pd.DataFrame, model: str = "l2", penalty: float = 3.0, min_size: int = 3
) -> pd.DataFrame:
    """:func:`change_points` of ``value`` per session and speaker: ``turn``, segment means."""

    def found(g: pd.DataFrame) -> list[tuple]:
        v = g["value"].to_numpy(float)
        cps = change_points(v, model, penalty, min_size)
        bounds = zip([0, *cps], cps, [*cps[1:], len(v)], strict=False)
        return [(c, int(g["turn"].iloc[c]), v[a:c].mean(), v[c:b].mean()) for a, c, b in bounds]

    return _per_series(traj, found, ["position", "turn", "before", "after"])


def displacements(values: Sequence[float], min_run: int = 3) -> pd.DataFrame:
    """Runs of ``min_run`` or more points beyond the home base, with their peak and rates."""
    x = np.asarray(values, dtype=float)
    mean, sd = float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0
    side = np.where(x > mean + sd, 1, np.where(x < mean - sd, -1, 0))
    dist = np.abs(x - mean)
    start = np.flatnonzero(np.r_[True, side[1:] != side[:-1]])
    end = np.r_[start[1:], len(x)] - 1
    keep = (side[start] != 0) & (end - start + 1 >= min_run)
    start, end = start[keep], end[keep]
    peak = np.array([a + np.argmax(dist[a : b + 1]) for a, b in zip(start, end, strict=True)], int)
    out = pd.DataFrame({"start": start, "end": end, "side": side[start], "peak": peak})
    out["peak_distance"] = top = dist[peak] - sd
    out["rise_rate"] = top / (peak - start + 1)
    out["recovery_rate"] = np.where(end + 1 < len(x), top / (end + 1 - peak), np.nan)
    return out


def ued(values: Sequence[float], min_run: int = 3) -> dict[str, float]:
    """Utterance Emotion Dynamics of one series (Hipson & Mohammad 2021; docs/emotion.md)."""
    x = pd.Series(values, dtype=float).dropna().to_numpy()
    mean, sd = (float(x.mean()), float(x.std(ddof=1)) if len(x) > 1 else 0.0) if len(x) else NAN2
    disp = displacements(x, min_run) if len(x) > 1 else pd.DataFrame(columns=["start", "end"])
    out = {"n": len(x), "home_mean": mean, "home_low": mean - sd, "home_high": mean + sd}
    out["variability_sd"] = sd if len(x) > 1 else math.nan
    out["rmssd"] = float(np.sqrt(np.mean(np.diff(x) ** 2))) if len(x) > 1 else math.nan
    out["n_displacements"] = len(disp)
    out["displaced_share"] = (disp.end - disp.start + 1).sum() / len(x) if len(x) else 0.0
    for k in ("peak_distance", "rise_rate", "recovery_rate"):
        out[k] = float(disp[k].mean()) if len(disp) else math.nan
    return out


def ued_table(traj: pd.DataFrame, column: str = "value", min_run: int = 3) -> pd.DataFrame:
    """:func:`ued` per session and speaker."""
    return _per_series(traj, lambda g: [ued(g[column], min_run).values()], list(ued([0.0])))


def phase_composition(
    scores: pd.DataFrame,
    columns: Names,
    speaker: str = "patient",
    turns: pd.DataFrame | None = None,
    exclude: Names = DEFAULT_EXCLUDE,
) -> pd.DataFrame:
    """Mean and SEM over turns of ``columns`` in each third of the sessions' ``speaker`` turns."""
    df = _rows(scores[[*KEYS, *columns]], turns, exclude, speaker).dropna(subset=list(columns))
    df = df.sort_values(["session_id", "turn"])
    g = df.groupby("session_id")
    third = 3 * g.cumcount() // g["turn"].transform("size")
    df["phase"] = pd.Categorical.from_codes(third, ["beginning", "middle", "end"], ordered=True)
    long = df.melt(id_vars=["phase"], value_vars=list(columns), var_name="column")
    g = long.groupby(["phase", "column"], observed=True)["value"]
    return g.agg(mean="mean", sem="sem", n_turns="count").reset_index()


def select_session(traj: pd.DataFrame, session: str = "", marks: pd.DataFrame | None = None) -> str:
    """``session`` (an id or unique prefix), else the one with most ``marks``, else the first."""
    ids = sorted(traj["session_id"].unique())
    hits = [s for s in ids if session and s.startswith(session)]
    if len(hits) > 1:
        raise ValueError(f"session {session!r} matches {len(hits)} sessions: {hits[:5]}")
    if hits:
        return hits[0]
    if session:
        log.warning("session %r not in the corpus; drawing the one with most marks", session)
    if marks is not None and len(marks):
        return str(marks.groupby("session_id").size().reindex(ids, fill_value=0).idxmax())
    return ids[0]
