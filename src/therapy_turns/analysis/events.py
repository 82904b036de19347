"""Event-locked analysis: what happens in the patient's turns around an event, and how the
therapist answers it.

An *event* sits on the patient turn whose reply it conditions (``event`` column of the turn
table: type keys joined by ``;``; see :mod:`therapy_turns.io.events`). Positions are counted in
the patient's *own* turns (lag -1 = the patient's previous turn, +1 = the next one); the
therapist turns between them are not counted. An event annotated on a therapist turn is moved
to the next patient turn of the session (the reply it conditions).

- :func:`locked_means`: per event type, measure and lag -3..+3 the mean over events with a 95 %
  t interval (statsmodels ``DescrStatsW``);
- :func:`event_effects`: the *change* from lag -1 to the event turn against the same change at
  the session's patient turns without any event: mean change at events with its t interval, a
  linear mixed model ``change ~ is_event`` with a random intercept per session
  (:func:`therapy_turns.analysis.stats.mixedlm_table`, statsmodels MixedLM), and a within-session
  permutation test (event labels reshuffled among each session's patient turns, seeded; scipy's
  ``permutation_test`` has no strata); p-values Holm-corrected across types × measures
  (statsmodels ``multipletests``);
- :func:`therapist_response`: the next therapist turn's main behaviour and ACT processes after
  each event type against after the patient turns without an event, with Wilson intervals
  (statsmodels ``proportion_confint``);
- :func:`thinking_response`: whether the therapist's hidden thinking in that turn refers to the
  perturbation. Rule: the thinking text's spaCy lemmas (lower-case, and the lower-case word
  forms) include a cue of the event's type or a generic "something shifted" cue (``thinking_cues``
  in ``data/events.yaml``). The same rule applied to the thinking after patient turns without an
  event gives the rate expected without one.

Excluded turns (the exclusion policy, e.g. generation errors) keep their position but have no
value, so a lag never skips over them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from spacy.language import Language
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW

from therapy_turns.analysis.shifts import next_therapist_code, wilson
from therapy_turns.analysis.stats import mixedlm_table
from therapy_turns.io.artefacts import analyse_turn_text
from therapy_turns.io.events import SEPARATOR, event_counts
from therapy_turns.io.transcripts import analysable
from therapy_turns.nlp import load_pipeline, pipe_texts
from therapy_turns.paths import DATA_DIR, read_yaml

log = logging.getLogger(__name__)

KEYS = ["session_id", "turn"]
LAGS = tuple(range(-3, 4))
NO_EVENT = "no event"
#: the default patient measures: affect, length, markers and questions
MEASURES = ("valence", "arousal", "dominance", "n_words", "marker_skeptic", "marker_slow_down",
            "marker_vague", "q_total")
EFFECT_COLUMNS = ["event", "measure", "n_events", "n_sessions", "mean_change", "ci_low",
                  "ci_high", "baseline_change", "n_baseline", "estimate", "est_ci_low",
                  "est_ci_high", "p_mixed", "p_perm", "p_adj", "p_perm_adj", "converged", "note"]


# --------------------------------------------------------------------------- event positions
def event_rows(turns: pd.DataFrame) -> pd.DataFrame:
    """One row per event: ``session_id, turn, event`` on the patient turn it conditions (an
    event on a therapist turn moves to the session's next patient turn; none left: dropped,
    logged). Several events on one turn give several rows."""
    t = turns.sort_values(KEYS)
    nxt = t["turn"].where(t["speaker"] == "patient").groupby(t["session_id"]).bfill()
    ev = t.assign(target=nxt)[t["event"].fillna("") != ""]
    lost = ev["target"].isna()
    if lost.any():
        log.warning("%d events after the last patient turn of their session left out", lost.sum())
    ev = ev[~lost].assign(turn=lambda d: d["target"].astype("int64"),
                          event=lambda d: d["event"].str.split(SEPARATOR))
    ev = ev[["session_id", "turn", "event"]].explode("event")
    return ev[ev["event"] != ""].reset_index(drop=True)


def marker_events(turns: pd.DataFrame, features: pd.DataFrame, marker: str) -> pd.DataFrame:
    """A copy of ``turns`` whose events are the patient turns with ``marker`` > 0 (the
    ``features`` column, e.g. ``marker_slow_down``): the event of a corpus without events."""
    if marker not in features.columns:
        raise ValueError(f"marker {marker!r} is not a column of the features table")
    on = features.loc[features[marker].fillna(0) > 0, KEYS].assign(_m=True)
    t = turns.drop(columns=["event"], errors="ignore").merge(on, on=KEYS, how="left")
    t["event"] = np.where(t["_m"].eq(True) & (t["speaker"] == "patient"), marker, "")
    return t.drop(columns="_m")


@dataclass(frozen=True)
class EventSource:
    """The events an analysis uses: ``turns`` with their ``event`` column, and a sentence that
    says which events these are."""

    turns: pd.DataFrame
    kind: str  # "events", "marker" or "none"
    description: str


def choose_events(turns: pd.DataFrame, features: pd.DataFrame,
                  fallback_marker: str = "marker_slow_down",
                  annotated: str | None = None) -> EventSource:
    """The corpus's events when it has any, else the patient turns with ``fallback_marker``.
    ``annotated``: the events file given to ``analyze`` (named in the description)."""
    counts = event_counts(turns)
    if counts:
        listed = ", ".join(f"{k} ({n})" for k, n in counts.items())
        lines = "event_text" in turns and turns["event_text"].fillna("").str.contains(
            r"^---", regex=True, flags=re.M).any()
        own = "event lines of the transcripts" if lines else "`event` column of the transcripts"
        src = f"annotations in `{annotated}`" if annotated else own
        if annotated and lines:
            src += f" and {own}"
        return EventSource(turns, "events", f"The corpus has {sum(counts.values())} events "
                           f"({src}): {listed}. These are the events analysed.")
    t = marker_events(turns, features, fallback_marker)
    n = int((t["event"] != "").sum())
    if n == 0:
        return EventSource(t, "none", f"The corpus has no events, and no patient turn has the "
                           f"marker `{fallback_marker}` used in their place: the sections below "
                           f"are empty.")
    return EventSource(t, "marker", f"The corpus has no events. The analysis uses the {n} "
                       f"patient turns with the marker `{fallback_marker}` as events instead.")


def event_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """Per event type: ``n_events``, ``n_sessions`` with one, and the patient turns they sit on
    as ``first_turn``/``last_turn`` (turn numbers)."""
    ev = event_rows(turns)
    out = ev.groupby("event").agg(n_events=("turn", "size"), n_sessions=("session_id", "nunique"),
                                  first_turn=("turn", "min"), last_turn=("turn", "max"))
    return out.reset_index()


# --------------------------------------------------------------------------- measures
def measure_table(turns: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                  measures: Sequence[str] = MEASURES,
                  exclude: Sequence[str] = ("generation_error", "missing_answer")
                  ) -> pd.DataFrame:
    """The patient's turns in session order: ``session_id, turn, pos`` (index among the
    patient's own turns), ``event``, and each measure (taken from the first table in ``tables``
    that has it; NaN on turns the exclusion policy leaves out)."""
    p = turns.loc[turns["speaker"] == "patient", [*KEYS, "event"]].sort_values(KEYS)
    p = p.assign(event=p["event"].fillna(""))
    p["pos"] = p.groupby("session_id").cumcount()
    keep = analysable(turns, exclude)
    kept = set(zip(keep["session_id"], keep["turn"], strict=True))
    ok = np.array([k in kept for k in zip(p["session_id"], p["turn"], strict=True)], bool)
    for m in measures:
        src = next((df for df in tables.values() if m in df.columns), None)
        if src is None:
            have = sorted({c for df in tables.values() for c in df.columns})
            raise ValueError(f"measure {m!r} is in none of the tables {sorted(tables)}; "
                             f"numeric columns include {have[:12]} ...")
        p = p.merge(src[[*KEYS, m]].drop_duplicates(KEYS), on=KEYS, how="left")
        p[m] = pd.to_numeric(p[m], errors="coerce").astype("float64").where(ok)
    return p.reset_index(drop=True)


def _by_position(mt: pd.DataFrame, events: pd.DataFrame, measures: Sequence[str],
                 lags: Sequence[int]) -> pd.DataFrame:
    """``events`` with, per lag, the measures of the patient turn ``pos + lag``."""
    ev = events.merge(mt[[*KEYS, "pos"]], on=KEYS, how="inner")
    parts = []
    for lag in lags:
        at = mt[["session_id", "pos", *measures]].assign(pos=lambda d, k=lag: d["pos"] - k)
        parts.append(ev.merge(at, on=["session_id", "pos"], how="left").assign(lag=lag))
    return pd.concat(parts, ignore_index=True)


def locked(mt: pd.DataFrame, events: pd.DataFrame, measures: Sequence[str] = MEASURES,
           lags: Sequence[int] = LAGS) -> pd.DataFrame:
    """Long table ``event, session_id, turn, lag, measure, value``: each event's measures at
    each lag (NaN where the session has no patient turn at that lag or it is excluded)."""
    wide = _by_position(mt, events, measures, lags)
    long = wide.melt(id_vars=["event", *KEYS, "lag"], value_vars=list(measures),
                     var_name="measure", value_name="value")
    return long.sort_values(["event", "measure", *KEYS, "lag"]).reset_index(drop=True)


def _tconf(x: np.ndarray, alpha: float) -> tuple[float, float]:
    if len(x) < 2 or np.all(x == x[0]):
        m = float(x.mean()) if len(x) else np.nan
        return (m, m) if len(x) >= 2 else (np.nan, np.nan)
    lo, hi = DescrStatsW(x).tconfint_mean(alpha=alpha)
    return float(lo), float(hi)


def locked_means(long: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per ``event, measure, lag``: ``n`` events with a value, ``mean`` and its t interval
    (``ci_low``, ``ci_high``)."""
    rows = []
    for (ev, m, lag), g in long.dropna(subset=["value"]).groupby(["event", "measure", "lag"]):
        x = g["value"].to_numpy(float)
        lo, hi = _tconf(x, alpha)
        rows.append({"event": ev, "measure": m, "lag": int(lag), "n": len(x),
                     "mean": float(x.mean()), "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=["event", "measure", "lag", "n", "mean", "ci_low",
                                       "ci_high"])


# --------------------------------------------------------------------------- effects
def permutation_p(change: np.ndarray, is_event: np.ndarray, groups: np.ndarray,
                  n_perm: int = 2000, seed: int = 0) -> float:
    """Two-sided p of the difference in mean ``change`` between event and other turns, event
    labels reshuffled within each group (session): ``(1 + #|perm| >= |obs|) / (1 + n_perm)``."""
    is_event = is_event.astype(bool)
    n_e, n = int(is_event.sum()), len(change)
    if n_e == 0 or n_e == n:
        return np.nan
    total = change.sum()

    def stat(s_e: np.ndarray | float) -> np.ndarray | float:
        return s_e / n_e - (total - s_e) / (n - n_e)

    obs = stat(change[is_event].sum())
    rng = np.random.default_rng(seed)
    s_e = np.zeros(n_perm)
    for g in sorted(set(groups.tolist())):
        idx = np.flatnonzero(groups == g)
        k = int(is_event[idx].sum())
        if k == 0 or k == len(idx):
            s_e += change[idx][is_event[idx]].sum()
            continue
        perms = rng.permuted(np.tile(np.arange(len(idx)), (n_perm, 1)), axis=1)[:, :k]
        s_e += change[idx][perms].sum(axis=1)
    null = stat(s_e)
    return float((1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (1 + n_perm))


def change_table(mt: pd.DataFrame, measures: Sequence[str] = MEASURES) -> pd.DataFrame:
    """``mt`` with ``<measure>_change``: the value minus the patient's previous turn's value."""
    out = mt.sort_values(["session_id", "pos"]).copy()
    for m in measures:
        out[f"{m}_change"] = out[m] - out.groupby("session_id")[m].shift(1)
    return out


def _fit_effect(d: pd.DataFrame, alpha: float) -> dict[str, object]:
    """``change ~ is_event`` with a random intercept per session (MixedLM via
    :func:`~therapy_turns.analysis.stats.mixedlm_table`). Where statsmodels cannot fit it
    because the sessions' changes do not differ (singular random-effects covariance), the
    model at zero intercept variance is ordinary least squares, fitted instead (``note``)."""
    fit = mixedlm_table(d, ["change"], "is_event", standardize=False, alpha=alpha)
    term = fit[fit["term"] == "is_event"]
    if not term.empty:
        r = term.iloc[0]
        return {"estimate": r["estimate"], "est_ci_low": r["ci_low"], "est_ci_high": r["ci_high"],
                "p_mixed": r["p_value"], "converged": bool(r["converged"]),
                "note": "random-intercept variance 0: OLS" if r["boundary"] else ""}
    ols = smf.ols("change ~ is_event", d).fit()
    lo, hi = ols.conf_int(alpha=alpha).loc["is_event"]
    return {"estimate": float(ols.params["is_event"]), "est_ci_low": float(lo),
            "est_ci_high": float(hi), "p_mixed": float(ols.pvalues["is_event"]),
            "converged": True, "note": "mixed model singular (sessions do not differ): OLS"}


def event_effects(mt: pd.DataFrame, measures: Sequence[str] = MEASURES, n_perm: int = 2000,
                  seed: int = 0, method: str = "holm", alpha: float = 0.05) -> pd.DataFrame:
    """Per event type × measure, the change lag -1 → event turn against the change at patient
    turns without an event (columns :data:`EFFECT_COLUMNS`): ``mean_change`` with its t
    interval, ``baseline_change``, the MixedLM estimate of ``is_event`` (random intercept per
    session) with its 95 % CI and p, the within-session permutation p, and both adjusted over
    all rows with ``method``."""
    ct = change_table(mt, measures)
    types = sorted({k for v in ct["event"] if v for k in v.split(SEPARATOR)})
    has = ct["event"].str.split(SEPARATOR)
    rows = []
    for ev in types:
        mine = has.apply(lambda ks, e=ev: e in ks).to_numpy()
        base = (ct["event"] == "").to_numpy()
        for m in measures:
            c = f"{m}_change"
            d = ct.loc[(mine | base) & ct[c].notna(), ["session_id", c]].rename(
                columns={c: "change"})
            d["is_event"] = mine[(mine | base) & ct[c].notna()].astype(int)
            x = d.loc[d.is_event == 1, "change"].to_numpy(float)
            lo, hi = _tconf(x, alpha)
            row = {"event": ev, "measure": m, "n_events": len(x),
                   "n_sessions": int(d.loc[d.is_event == 1, "session_id"].nunique()),
                   "mean_change": float(x.mean()) if len(x) else np.nan, "ci_low": lo,
                   "ci_high": hi, "baseline_change": float(d.loc[d.is_event == 0, "change"].mean()),
                   "n_baseline": int((d.is_event == 0).sum()), "note": ""}
            if len(x) == 0 or row["n_baseline"] == 0:
                row["note"] = "no event (or no other turn) with a previous patient turn"
                rows.append(row)
                continue
            row.update(_fit_effect(d, alpha))
            row["p_perm"] = permutation_p(d["change"].to_numpy(float), d["is_event"].to_numpy(),
                                          d["session_id"].to_numpy(), n_perm, seed)
            rows.append(row)
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    for p, adj in (("p_mixed", "p_adj"), ("p_perm", "p_perm_adj")):
        ok = out[p].notna()
        if ok.any():
            out.loc[ok, adj] = multipletests(out.loc[ok, p].astype(float), method=method)[1]
    return out


# --------------------------------------------------------------------------- therapist
def _conditions(turns: pd.DataFrame) -> pd.DataFrame:
    """``session_id, turn, condition``: each patient turn's event types (one row per type), or
    ``no event``."""
    ev = event_rows(turns)
    pat = turns.loc[turns["speaker"] == "patient", KEYS].merge(
        ev.rename(columns={"event": "condition"}), on=KEYS, how="left")
    return pat.fillna({"condition": NO_EVENT})


def therapist_response(turns: pd.DataFrame, codes: pd.DataFrame,
                       act_columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Share of next therapist turns with each main behaviour and each ACT process after each
    event type and after patient turns without an event: ``condition, family, code, k, n,
    share, ci_low, ci_high`` (Wilson 95 %; turns are not independent, the CIs are descriptive).
    ACT processes are multi-label: their shares need not sum to 1."""
    act_columns = list(act_columns if act_columns is not None
                       else [c for c in codes.columns if c.startswith("act_")
                             and pd.api.types.is_bool_dtype(codes[c])])
    nxt = next_therapist_code(codes, turns, "main_behaviour").merge(_conditions(turns), on=KEYS)
    t = turns.sort_values(KEYS)
    nxt = nxt.merge(t.assign(next_turn=t.groupby("session_id")["turn"].shift(-1))[
        [*KEYS, "next_turn"]], on=KEYS).astype({"next_turn": "int64"})
    nxt = nxt.merge(codes[["session_id", "turn", *act_columns]].rename(
        columns={"turn": "next_turn"}), on=["session_id", "next_turn"], how="left")
    behaviours = sorted(codes["main_behaviour"].dropna().unique())
    rows = []
    conds = [*sorted(set(nxt["condition"]) - {NO_EVENT}), NO_EVENT]
    for cond in conds:
        sub = nxt[nxt["condition"] == cond]
        n = len(sub)
        for fam, code, hit in (
                [("main_behaviour", b, sub["next_code"] == b) for b in behaviours]
                + [("act_process", a.removeprefix("act_"), sub[a].fillna(False).astype(bool))
                   for a in act_columns]):
            k = int(hit.sum())
            lo, hi = wilson(k, n)
            rows.append({"condition": cond, "family": fam, "code": code, "k": k, "n": n,
                         "share": k / n if n else np.nan, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=["condition", "family", "code", "k", "n", "share",
                                       "ci_low", "ci_high"])


def thinking_cues(path: str | Path | None = None) -> dict[str, frozenset[str]]:
    """Cue words per event type (and ``any``) for :func:`thinking_response`
    (``thinking_cues`` of ``data/events.yaml`` or another file)."""
    raw = read_yaml(path or DATA_DIR / "events.yaml").get("thinking_cues", {})
    return {str(k): frozenset(w.lower() for w in v) for k, v in raw.items()}


def word_sets(texts: Sequence[str], nlp: Language | None = None) -> list[frozenset[str]]:
    """Per text, its spaCy lemmas and word forms, lower-case (one ``nlp.pipe`` pass)."""
    nlp = nlp or load_pipeline()
    return [frozenset({t.lemma_.lower() for t in doc} | {t.lower_ for t in doc})
            for doc in pipe_texts(nlp, list(texts))]


def refers(words: frozenset[str], event: str, cues: Mapping[str, frozenset[str]]) -> str:
    """The cues of ``event`` (or ``any``) among ``words``, sorted and joined by ``,``; "" when
    none: the text does not refer to the event."""
    want = cues.get(event, frozenset()) | cues.get("any", frozenset())
    return ",".join(sorted(words & want))


def thinking_response(turns: pd.DataFrame, cues: Mapping[str, frozenset[str]] | None = None,
                      nlp: Language | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Whether the next therapist turn's thinking refers to the event (rule in the module
    docstring). Returns ``(per_event, summary)``: per event ``session_id, turn, event,
    next_turn, cues``; per type ``event, k, n, share, ci_low, ci_high`` and the same rule's
    ``k_base, n_base, share_base, base_low, base_high`` on the thinking after patient turns
    without an event. Turns without thinking text or with a generator placeholder in its place
    are left out (plain transcripts have none), and so are event types without cue words of
    their own (e.g. a marker used as the event, or an annotated type): for them the rule is not
    defined."""
    cues = dict(cues) if cues is not None else thinking_cues()
    t = turns.sort_values(KEYS)
    nxt = t.assign(next_turn=t.groupby("session_id")["turn"].shift(-1),
                   next_speaker=t.groupby("session_id")["speaker"].shift(-1),
                   next_thinking=t.groupby("session_id")["thinking"].shift(-1))
    nxt = nxt[(nxt["next_speaker"] == "therapist") & (nxt["next_thinking"].fillna("") != "")]
    # a generator placeholder ("[Thinking part is not generated ...]") is no thinking
    real = [bool(analyse_turn_text(x, "therapist")["text"]) for x in nxt["next_thinking"]]
    nxt = nxt[np.array(real, bool)] if len(nxt) else nxt
    nxt = nxt[[*KEYS, "next_turn", "next_thinking"]].merge(_conditions(turns), on=KEYS)
    types = sorted(set(nxt["condition"]) - {NO_EVENT})
    uncued = [ty for ty in types if ty not in cues]
    if uncued:  # the generic cues alone would understate a reference: not scored
        log.info("no thinking cues for event types %s: left out of the thinking rule", uncued)
        types = [ty for ty in types if ty in cues]
    ev = nxt[nxt["condition"].isin(types)].reset_index(drop=True)
    base = nxt[nxt["condition"] == NO_EVENT]
    texts = list(dict.fromkeys(nxt["next_thinking"]))
    words = dict(zip(texts, word_sets(texts, nlp), strict=True)) if texts else {}
    ev["cues"] = [refers(words[x], ty, cues) for x, ty in zip(ev["next_thinking"],
                                                               ev["condition"], strict=True)]
    per_event = ev.rename(columns={"condition": "event"})[
        ["session_id", "turn", "event", "next_turn", "cues"]].astype({"next_turn": "int64"})
    rows = []
    for ty in types:
        k, n = int((per_event.loc[per_event.event == ty, "cues"] != "").sum()), int(
            (per_event.event == ty).sum())
        kb = sum(refers(words[x], ty, cues) != "" for x in base["next_thinking"])
        nb = len(base)
        lo, hi = wilson(k, n)
        blo, bhi = wilson(kb, nb)
        rows.append({"event": ty, "k": k, "n": n, "share": k / n if n else np.nan,
                     "ci_low": lo, "ci_high": hi, "k_base": kb, "n_base": nb,
                     "share_base": kb / nb if nb else np.nan, "base_low": blo, "base_high": bhi})
    summary = pd.DataFrame(rows, columns=["event", "k", "n", "share", "ci_low", "ci_high",
                                          "k_base", "n_base", "share_base", "base_low",
                                          "base_high"])
    return per_event, summary
