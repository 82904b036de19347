"""Shared model-fitting helpers: tidy mixed-effects tables with 95% confidence intervals.

Each helper returns a plain DataFrame (one row per coefficient) that notebooks display and
:func:`therapy_turns.viz.plots.save_table` writes. Small-sample caveat: with few sessions (the five
seeds) the random-intercept variance is poorly identified and Wald CIs are optimistic; the
tables carry ``n_groups`` and ``converged`` so a reader can judge.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm as stats_norm

log = logging.getLogger(__name__)

MIXEDLM_COLUMNS = ["outcome", "term", "estimate", "std_err", "z", "p_value", "ci_low", "ci_high",
                   "n_obs", "n_groups", "group_var", "converged", "boundary", "optimizer",
                   "warnings"]
#: statsmodels' optimisers in the order :func:`fit_mixedlm` tries them (its default list first).
OPTIMIZERS = ("bfgs", "lbfgs", "cg", "powell", "nm")


def fit_mixedlm(model, reml: bool = True, optimizers: Sequence[str] = OPTIMIZERS):  # noqa: ANN001, ANN201
    """Fit a statsmodels ``MixedLM`` with each optimiser in turn until one converges without a
    convergence warning. Returns ``(result or None, optimiser used, converged, messages)``:
    ``messages`` lists, per optimiser tried, its error or its warnings, so a table can say
    truthfully what happened. Without any convergent fit the last fit that ran is returned with
    ``converged`` False."""
    best, used, notes = None, "", []
    for name in optimizers:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
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


def fixed_effect_se(exog_groups: Sequence[np.ndarray], tau: float, scale: float) -> np.ndarray:
    """Standard errors of the fixed effects of a random-intercept model given its variance
    components: ``sqrt(diag(scale * (sum_g X_g' V_g^-1 X_g)^-1))`` with
    ``V_g = I + tau * 1 1'`` (``tau`` = intercept variance / residual variance).

    This is the GLS covariance that lme4 reports; unlike statsmodels' Hessian-based ``bse_fe`` it
    stays finite when the intercept variance is estimated at the boundary (``tau`` = 0, where it
    reduces to the OLS covariance).
    """
    k = exog_groups[0].shape[1]
    xtvx = np.zeros((k, k))
    for x in exog_groups:
        n = x.shape[0]
        colsum = x.sum(axis=0)
        xtvx += x.T @ x - (tau / (1 + n * tau)) * np.outer(colsum, colsum)
    return np.sqrt(np.diag(scale * np.linalg.inv(xtvx)))


def mixedlm_table(data: pd.DataFrame, outcomes: Sequence[str], rhs: str,
                  groups: str = "session_id", standardize: bool = True, alpha: float = 0.05,
                  reml: bool = True) -> pd.DataFrame:
    """Fit ``outcome ~ rhs`` with a random intercept per ``groups`` for each outcome (MixedLM).

    Rows with a missing outcome are dropped per model. With ``standardize`` the outcome is
    z-scored first (coefficients in SD units, comparable across outcomes). Returns the fixed
    effects with Wald ``1 - alpha`` CIs and normal p-values from :func:`fixed_effect_se`
    (columns :data:`MIXEDLM_COLUMNS`); ``group_var`` is the estimated random-intercept variance,
    ``converged`` whether an optimiser converged without a convergence warning
    (:func:`fit_mixedlm` tries statsmodels' optimisers in turn; ``optimizer`` names the one
    used, ``warnings`` every error and warning met on the way), ``boundary`` True when the
    random-intercept variance is estimated at zero (sessions do not differ beyond the fixed
    effects, or too few sessions to tell). The REML solution is then ordinary least squares, and
    the estimates and SEs are taken from an OLS fit (statsmodels' MixedLM returns unusable
    intercepts and Hessian SEs there). An outcome that cannot be fitted (constant, too few
    groups, singular design) gives one row
    with ``term`` = "not fitted".
    """
    import statsmodels.formula.api as smf

    rows = []
    for y in outcomes:
        d = data.dropna(subset=[y]).copy()
        n_groups = int(d[groups].nunique())
        sd = d[y].std()
        if len(d) < 3 or n_groups < 2 or not np.isfinite(sd) or sd == 0:
            rows.append({"outcome": y, "term": "not fitted", "n_obs": len(d),
                         "n_groups": n_groups, "converged": False})
            continue
        if standardize:
            d[y] = (d[y] - d[y].mean()) / sd
        try:
            model = smf.mixedlm(f"{y} ~ {rhs}", d, groups=d[groups])
        except (np.linalg.LinAlgError, ValueError) as e:  # e.g. a constant predictor
            model, notes = None, [str(e)]
        res, used, converged, notes = fit_mixedlm(model, reml) if model is not None else (
            None, "", False, notes)
        if res is None:
            log.warning("MixedLM %s ~ %s not fitted: %s", y, rhs, "; ".join(notes))
            rows.append({"outcome": y, "term": "not fitted", "n_obs": len(d),
                         "n_groups": n_groups, "converged": False, "warnings": "; ".join(notes)})
            continue
        for note in notes:
            log.info("MixedLM %s: %s", y, note)
        boundary = (any("boundary" in m.lower() for m in notes if m.startswith(used))
                    or float(res.cov_re.iloc[0, 0]) < 1e-8)
        group_var = float(res.cov_re.iloc[0, 0])
        if boundary:  # the REML solution at zero intercept variance is ordinary least squares
            ols = smf.ols(f"{y} ~ {rhs}", d).fit()
            params, se, group_var = ols.params, ols.bse.to_numpy(), 0.0
        else:
            params = res.fe_params
            se = fixed_effect_se(model.exog_li, group_var / res.scale, res.scale)
        zcrit = stats_norm.ppf(1 - alpha / 2)
        for k, term in enumerate(params.index):
            est = float(params[term])
            z = est / se[k]
            rows.append({
                "outcome": y, "term": term, "estimate": est, "std_err": float(se[k]),
                "z": float(z), "p_value": float(2 * stats_norm.sf(abs(z))),
                "ci_low": est - zcrit * se[k], "ci_high": est + zcrit * se[k],
                "n_obs": int(res.nobs), "n_groups": n_groups, "group_var": group_var,
                "converged": converged, "boundary": boundary, "optimizer": used,
                "warnings": "; ".join(notes),
            })
    return pd.DataFrame(rows, columns=MIXEDLM_COLUMNS)
