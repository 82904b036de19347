"""Shared statistics: p-value correction, Wilson and t intervals, MixedLM fitting and tables."""

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

log = logging.getLogger(__name__)
Names, Frame = Sequence[str], pd.DataFrame
Z95 = norm.ppf(0.975)
MIXEDLM_COLUMNS = (
    "outcome term estimate std_err z p_value ci_low ci_high n_obs n_groups group_var converged "
    "boundary optimizer warnings"
).split()


def adjust_p(p: Sequence[float], method: str = "holm") -> np.ndarray:
    """Multiple-comparison adjusted p-values (statsmodels ``multipletests``), NaNs kept."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    out, ok = np.full_like(p, np.nan), ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def share_ci(k: int, n: int) -> tuple[int, int, float, float, float]:
    """``k, n``, the share ``k / n`` and its Wilson score interval (NaNs for ``n`` = 0)."""
    from statsmodels.stats.proportion import proportion_confint

    if n == 0:
        return k, n, np.nan, np.nan, np.nan
    lo, hi = proportion_confint(k, n, method="wilson")
    return k, n, k / n, float(lo), float(hi)


def shares(hits: pd.DataFrame, groups: Sequence, order: Names, names: Names) -> pd.DataFrame:
    """Per group in ``order`` and column of boolean ``hits``: ``k, n``, share, Wilson CI."""
    g = hits.fillna(False).astype(bool).groupby(np.asarray(groups))
    k, n = g.sum().reindex(order, fill_value=0), g.size().reindex(order, fill_value=0)
    keys = [(c, c if isinstance(c, tuple) else (c,)) for c in hits.columns]
    rows = [(grp, *key, *share_ci(int(k[c][grp]), int(n[grp]))) for grp in order for c, key in keys]
    return pd.DataFrame(rows, columns=[*names, "k", "n", "share", "ci_low", "ci_high"])


def next_turn(first: pd.DataFrame, then: pd.DataFrame, col: str, carry: Names = ()) -> pd.DataFrame:
    """``first`` rows with ``next_turn`` and its ``col`` in ``then`` (``next_code``)."""
    nxt = then[["session_id", "turn", col, *carry]]
    nxt = nxt.rename(columns={"turn": "next_turn", col: "next_code"})
    first = first.sort_values(["session_id", "turn"]).assign(next_turn=lambda d: d["turn"] + 1)
    return first.merge(nxt, on=["session_id", "next_turn"]).reset_index(drop=True)


def t_interval(x: np.ndarray) -> tuple[float, float]:
    """t interval of the mean (statsmodels ``DescrStatsW``); no spread: the mean twice."""
    from statsmodels.stats.weightstats import DescrStatsW

    if len(x) < 2 or np.all(x == x[0]):
        return (float(x.mean()),) * 2 if len(x) > 1 else (np.nan, np.nan)
    return tuple(map(float, DescrStatsW(x).tconfint_mean()))


def ols_term(formula: str, data: pd.DataFrame, term: str) -> tuple[float, ...]:
    """OLS ``formula``: ``term``'s estimate, t interval and p."""
    import statsmodels.formula.api as smf

    res = smf.ols(formula, data).fit()
    lo, hi = res.conf_int().loc[term]
    return float(res.params[term]), float(lo), float(hi), float(res.pvalues[term])


def fit_mixedlm(formula: str, data: pd.DataFrame, reml: bool = True, re_formula: str | None = None):
    """MixedLM by session, each optimiser in turn: ``(result, optimiser, converged, notes)``."""
    import statsmodels.formula.api as smf

    model = smf.mixedlm(formula, data, groups=data["session_id"], re_formula=re_formula)
    best, used, notes = None, "", []
    for name in ("bfgs", "lbfgs", "cg", "powell", "nm"):
        with warnings.catch_warnings(record=True, action="always") as caught:
            try:
                res = model.fit(reml=reml, method=[name])
            except (np.linalg.LinAlgError, ValueError) as e:
                notes.append(f"{name}: {e}")
                continue
        msgs = list(dict.fromkeys(str(w.message).splitlines()[0] for w in caught))
        warned = any("converge" in m.lower() and "boundary" not in m.lower() for m in msgs)
        best, used = res, name
        notes.extend(f"{name}: {m}" for m in msgs)
        if bool(res.converged) and not warned:
            return res, name, True, notes
    return best, used, False, notes


def mixedlm_table(data: Frame, outcomes: Names, rhs: str, standardize: bool = True) -> Frame:
    """Per outcome, MixedLM ``outcome ~ rhs`` with a random intercept per session."""
    import statsmodels.formula.api as smf

    rows = []
    for y in outcomes:
        d = data.dropna(subset=[y]).copy()
        groups, sd = int(d["session_id"].nunique()), d[y].std()
        failed = dict(outcome=y, term="not fitted", n_obs=len(d), n_groups=groups, converged=False)
        if len(d) < 3 or groups < 2 or not np.isfinite(sd) or sd == 0:
            rows.append(failed)
            continue
        d[y] = (d[y] - d[y].mean()) / sd if standardize else d[y]
        try:
            res, used, converged, notes = fit_mixedlm(f"{y} ~ {rhs}", d)
        except (np.linalg.LinAlgError, ValueError) as e:  # e.g. a constant predictor
            res, notes = None, [str(e)]
        if res is None:
            log.warning("MixedLM %s ~ %s not fitted: %s", y, rhs, "; ".join(notes))
            rows.append({**failed, "warnings": "; ".join(notes)})
            continue
        said = " ".join(m.lower() for m in notes if m.startswith(used))
        group_var = float(res.cov_re.iloc[0, 0])
        boundary = group_var < 1e-8 or "boundary" in said
        if boundary:  # the REML solution at zero intercept variance is ordinary least squares
            ols, group_var = smf.ols(f"{y} ~ {rhs}", d).fit(), 0.0
        params, se = (ols.params, ols.bse) if boundary else (res.fe_params, res.bse_fe)
        info = (int(res.nobs), groups, group_var, converged, boundary, used, "; ".join(notes))
        for term, est, s in zip(params.index, params.to_numpy(float), se, strict=True):
            z = est / s
            row = (y, term, est, s, z, 2 * norm.sf(abs(z)), est - Z95 * s, est + Z95 * s, *info)
            rows.append(dict(zip(MIXEDLM_COLUMNS, row, strict=True)))
    return pd.DataFrame(rows, columns=MIXEDLM_COLUMNS)
