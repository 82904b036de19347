"""Shared model-fitting helpers: tidy mixed-effects tables with 95% confidence intervals.

Each helper returns a plain DataFrame (one row per coefficient) that notebooks display and
:func:`therapy_turns.plots.save_table` writes. Small-sample caveat: with few sessions (the five
seeds) the random-intercept variance is poorly identified and Wald CIs are optimistic; the
tables carry ``n_groups`` and ``converged`` so a reader can judge.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

MIXEDLM_COLUMNS = ["outcome", "term", "estimate", "std_err", "z", "p_value", "ci_low", "ci_high",
                   "n_obs", "n_groups", "group_var", "converged", "boundary"]


def mixedlm_table(data: pd.DataFrame, outcomes: Sequence[str], rhs: str,
                  groups: str = "session_id", standardize: bool = True, alpha: float = 0.05,
                  reml: bool = True) -> pd.DataFrame:
    """Fit ``outcome ~ rhs`` with a random intercept per ``groups`` for each outcome (MixedLM).

    Rows with a missing outcome are dropped per model. With ``standardize`` the outcome is
    z-scored first (coefficients in SD units, comparable across outcomes). Returns the fixed
    effects with Wald ``1 - alpha`` CIs (columns :data:`MIXEDLM_COLUMNS`); ``group_var`` is the
    estimated random-intercept variance, ``converged`` the optimiser's flag (False also when
    statsmodels warned about convergence), ``boundary`` True when the random-intercept variance
    is estimated at zero (sessions do not differ beyond the fixed effects, or too few sessions to
    tell; the fit is then an ordinary regression). An outcome that cannot be fitted
    (constant, too few groups, singular design) gives one row with ``term`` = "not fitted".
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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                model = smf.mixedlm(f"{y} ~ {rhs}", d, groups=d[groups])
                res = model.fit(reml=reml, method=["lbfgs", "powell"])
            except (np.linalg.LinAlgError, ValueError) as e:  # e.g. a constant predictor
                log.warning("MixedLM %s ~ %s not fitted: %s", y, rhs, e)
                rows.append({"outcome": y, "term": "not fitted", "n_obs": len(d),
                             "n_groups": n_groups, "converged": False})
                continue
        msgs = [str(w.message).lower() for w in caught]
        warned = any("converge" in m and "boundary" not in m for m in msgs)
        boundary = any("boundary" in m for m in msgs) or float(res.cov_re.iloc[0, 0]) < 1e-8
        for w in caught:
            log.info("MixedLM %s: %s", y, w.message)
        ci = res.conf_int(alpha=alpha)
        fe = res.fe_params.index
        for term in fe:
            rows.append({
                "outcome": y, "term": term, "estimate": float(res.fe_params[term]),
                "std_err": float(res.bse_fe[term]), "z": float(res.tvalues[term]),
                "p_value": float(res.pvalues[term]), "ci_low": float(ci.loc[term, 0]),
                "ci_high": float(ci.loc[term, 1]), "n_obs": int(res.nobs), "n_groups": n_groups,
                "group_var": float(res.cov_re.iloc[0, 0]),
                "converged": bool(res.converged) and not warned, "boundary": boundary,
            })
    return pd.DataFrame(rows, columns=MIXEDLM_COLUMNS)


def plot_coefficients(table: pd.DataFrame, terms: Sequence[str] | None = None,
                      title: str | None = None):  # -> matplotlib Figure
    """Forest plot of a :func:`mixedlm_table`: one panel per term, outcomes on the y axis."""
    import matplotlib.pyplot as plt

    from .plots import TEXT_WIDTH

    t = table[table["term"] != "not fitted"]
    terms = list(terms) if terms is not None else [x for x in t["term"].unique()
                                                   if x != "Intercept"]
    outcomes = list(dict.fromkeys(t["outcome"]))
    fig, axes = plt.subplots(1, len(terms), figsize=(TEXT_WIDTH, 0.3 * len(outcomes) + 1.0),
                             sharey=True, squeeze=False)
    ypos = {o: i for i, o in enumerate(reversed(outcomes))}
    for ax, term in zip(axes[0], terms, strict=True):
        d = t[t["term"] == term]
        y = d["outcome"].map(ypos)
        ax.errorbar(d["estimate"], y, xerr=[d["estimate"] - d["ci_low"],
                                            d["ci_high"] - d["estimate"]],
                    fmt="o", color="black", markersize=3, linewidth=1, capsize=0)
        ax.axvline(0, color="grey", linewidth=0.6, linestyle="--")
        ax.set(title=term, xlabel="Estimate (95% CI)")
    axes[0][0].set_yticks(range(len(outcomes)), list(reversed(outcomes)))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
