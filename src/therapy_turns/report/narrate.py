"""Sentences computed from results, so a notebook's text is true of the corpus it ran on.

Each function takes a result table the notebooks already compute and returns a :class:`Text`
(markdown shown as the cell's output, read by the report index). Commentary that is only true
of the seeds lives in ``data/seed_notes.yaml`` and is shown by :func:`seed_note` only when the
corpus is the seeds.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from therapy_turns.paths import DATA_DIR, project_path, read_yaml

SEEDS = "seeds"
SEED_NOTES = DATA_DIR / "seed_notes.yaml"


class Text(str):
    """A computed paragraph: markdown in a notebook (nothing at all when empty)."""

    def _ipython_display_(self) -> None:
        if self.strip():
            display(Markdown(str(self)))

    def __add__(self, other: str) -> Text:
        return Text(f"{self} {other}".strip())


def is_seeds(corpus: str | Path) -> bool:
    """True when ``corpus`` is the project's own seed folder."""
    try:
        return project_path(corpus).resolve() == project_path(SEEDS).resolve()
    except (OSError, ValueError):
        return False


def seed_note(corpus: str | Path, key: str) -> Text:
    """The seed-only commentary ``key`` of ``data/seed_notes.yaml``, marked as such; empty for
    any other corpus."""
    if not is_seeds(corpus):
        return Text("")
    note = (read_yaml(SEED_NOTES) or {}).get(key)
    if not note:
        raise KeyError(f"{SEED_NOTES}: no note {key!r}")
    return Text(f"*On the seeds:* {note.strip()}")


def ids(values: Iterable[object], limit: int = 8) -> str:
    """``a, b and c`` (at most ``limit`` named, then ``and k more``)."""
    v = [str(x) for x in values]
    if not v:
        return "none"
    if len(v) > limit:
        return f"{', '.join(v[:limit])} and {len(v) - limit} more"
    return v[0] if len(v) == 1 else f"{', '.join(v[:-1])} and {v[-1]}"


def num(x: float, digits: int = 2) -> str:
    """A number for a sentence (en dash for missing, minus sign for negatives)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}".replace("-", "−")


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def _range(values: pd.Series) -> str:
    v = values.dropna()
    if v.empty:
        return "none"
    lo, med, hi = v.min(), v.median(), v.max()
    if lo == hi:
        return f"{lo:g} in every session"
    return f"{lo:g} to {hi:g} per session (median {med:g})"


# --------------------------------------------------------------------------- notebook 00/01
def session_turns(table: pd.DataFrame, session_id: str, flags: Sequence[str]) -> Text:
    """Turns of one session by speaker and the flagged ones."""
    by = table["speaker"].value_counts()
    flagged = [f"{f.replace('_', ' ')} at turn {ids(table.loc[table[f].astype(bool), 'turn'])}"
               for f in flags if f in table and table[f].astype(bool).any()]
    return Text(f"Session {session_id} has {plural(len(table), 'turn')}: "
                f"{by.get('patient', 0)} patient, {by.get('therapist', 0)} therapist"
                + (f"; flagged: {'; '.join(flagged)}." if flagged else "; no turn is flagged."))


def turn_counts(turns: pd.DataFrame) -> Text:
    """Sessions, turns per session and how many sessions strictly alternate speakers."""
    counts = turns.groupby("session_id").size()
    first = turns.sort_values(["session_id", "turn"]).groupby("session_id")["speaker"]
    alternate = first.apply(lambda s: bool((s.to_numpy()[1:] != s.to_numpy()[:-1]).all()))
    starts = first.first().value_counts()
    return Text(
        f"{plural(counts.size, 'session')}, {plural(int(counts.sum()), 'turn')} "
        f"({_range(counts)}). {int(alternate.sum())} of {counts.size} sessions alternate "
        f"patient and therapist turns throughout; "
        f"{int(starts.get('patient', 0))} start with the patient, "
        f"{int(starts.get('therapist', 0))} with the therapist.")


def words_by_speaker(summary: pd.DataFrame) -> Text:
    """Who speaks more, per session (from ``overview.session_summary``)."""
    w = summary.pivot(index="session_id", columns="speaker", values="words").fillna(0)
    mean = summary.pivot(index="session_id", columns="speaker", values="mean_words")
    n = len(w)
    more = int((w.get("patient", 0) > w.get("therapist", 0)).sum())
    text = f"Patients speak more words than therapists in {more} of {plural(n, 'session')}"
    if "patient" in mean and mean["patient"].notna().any():
        top = mean["patient"].idxmax()
        text += (f"; the longest patient turns are in session {top} "
                 f"({num(mean['patient'].max(), 1)} words per turn on average")
        text += f", median over sessions {num(mean['patient'].median(), 1)})"
    return Text(text + ". Counts exclude the turns named in `exclude`.")


def artefacts(summary: pd.DataFrame, flags: Sequence[str]) -> Text:
    """Flag counts and the sessions they occur in."""
    parts = []
    for f in flags:
        hit = summary.loc[summary[f] > 0]
        if hit.empty:
            parts.append(f"no {f.replace('_', ' ')}")
        else:
            parts.append(f"{int(hit[f].sum())} {f.replace('_', ' ')} "
                         f"(in {ids(hit['session_id'], 5)})")
    return Text("Flagged turns: " + "; ".join(parts) + ".")


# --------------------------------------------------------------------------- notebook 02
def speaker_differences(summary: pd.DataFrame, features: Sequence[str]) -> Text:
    """Median of each feature for patients vs therapists
    (:func:`therapy_turns.analysis.language.speaker_summary`)."""
    parts = []
    for f in features:
        if f not in summary.index:
            continue
        p, t = summary.loc[f].get("patient_median"), summary.loc[f].get("therapist_median")
        if p is None or t is None or pd.isna(p) or pd.isna(t):
            continue
        rel = "higher for patients" if p > t else "higher for therapists" if t > p else "equal"
        parts.append(f"`{f}` {rel} ({num(p)} vs {num(t)})")
    return Text("Medians, patient vs therapist: " + "; ".join(parts) + "." if parts else "")


def model_fits(models: pd.DataFrame) -> Text:
    """How many mixed models converged and how many sit on the boundary (no session variance)."""
    fitted = models[models["term"] != "not fitted"].drop_duplicates("outcome")
    n = models["outcome"].nunique()
    failed = sorted(set(models["outcome"]) - set(fitted["outcome"]))
    text = (f"{len(fitted)} of {plural(n, 'model')} fitted, "
            f"{int(fitted['converged'].sum())} converged (no convergence warning from the "
            f"optimiser used); "
            f"{int(fitted['boundary'].sum())} sit on the boundary (random-intercept variance 0, "
            f"i.e. ordinary regressions), on {plural(int(fitted['n_groups'].max()), 'session')}"
            if len(fitted) else f"none of {plural(n, 'model')} could be fitted")
    if failed:
        text += f"; not fitted: {ids(failed)}"
    if "warnings" in fitted:
        warned = fitted[fitted["warnings"].fillna("").str.len() > 0]
        msgs = sorted({re.sub(r",? *\|grad\| = [-\d.]+$", "", m.strip())
                       for w in warned["warnings"] for m in str(w).split("; ")})
        if len(warned):
            text += (f". statsmodels warned on the way for {len(warned)} of them"
                     f" (optimiser: message): {ids(msgs, 3)}")
    return Text(text + ".")


def checks(table: pd.DataFrame, what: str, why_none: str = "") -> Text:
    """``k of n <what> pass`` from a table with a ``result`` column (pass/fail/skipped)."""
    if table.empty:
        return Text(f"No {what} could be run on this corpus{why_none}.")
    res = table["result"].value_counts()
    return Text(f"{int(res.get('pass', 0))} of {plural(len(table), what)} pass"
                + (f"; failing: {ids(table.loc[table['result'] == 'fail', table.columns[0]])}"
                   if res.get("fail") else "") + ".")


# --------------------------------------------------------------------------- notebook 03
def validation(table: pd.DataFrame) -> Text:
    """Correlations with human ratings, from the emotion model's validation summary."""
    parts = [f"{r.scorer} {r.dimension}: r = {num(r.r)} ({num(r.ci_low)} to {num(r.ci_high)})"
             for r in table.itertuples()]
    n = int(table["n"].iloc[0]) if len(table) else 0
    return Text(f"On {n:,} EmoBank dev sentences: " + "; ".join(parts) + ".")


def value_range(traj: pd.DataFrame, value: str) -> Text:
    """The spread of the analysed series (what the model's predictions span here)."""
    v = traj["value"]
    return Text(f"Here the analysed {value} of {plural(traj['session_id'].nunique(), 'session')} "
                f"spans {num(v.min())}–{num(v.max())} (middle half {num(v.quantile(.25))}–"
                f"{num(v.quantile(.75))}) over {plural(len(v), 'turn')}.")


def trajectory(cps: pd.DataFrame, session_id: str, marks: pd.DataFrame, value: str) -> Text:
    """Change points of one session with the segment means on each side."""
    c = cps[cps["session_id"] == session_id].sort_values("turn")
    if c.empty:
        text = f"In session {session_id} no change point is found in the {value}"
    else:
        steps = [f"{'falls' if r.after < r.before else 'rises'} at turn {r.turn} "
                 f"({num(r.before)} → {num(r.after)})" for r in c.itertuples()]
        text = f"In session {session_id} the {value} " + ", then ".join(steps)
    m = marks.loc[marks["session_id"] == session_id, "turn"] if len(marks) else []
    text += (f"; slow-down requests at turn {ids(sorted(m))}." if len(m) else
             "; no slow-down request.")
    return Text(text)


def change_points(cps: pd.DataFrame, traj: pd.DataFrame) -> Text:
    """Which sessions have change points, and how many."""
    all_ids = sorted(traj["session_id"].unique())
    per = cps.groupby("session_id").size()
    return Text(f"Change points in {len(per)} of {plural(len(all_ids), 'session')} "
                f"({plural(int(per.sum()), 'change point')}"
                + (f"; most in {per.idxmax()} ({per.max()})" if len(per) else "") + ")"
                + (f"; none in {ids(sorted(set(all_ids) - set(per.index)), 6)}"
                   if 0 < len(per) < len(all_ids) else "") + ".")


def displacements(ued: pd.DataFrame) -> Text:
    """Displacements per session from the UED table."""
    d = ued["n_displacements"]
    return Text(f"Displacements per session: {_range(d)}; "
                f"{int((d == 0).sum())} of {plural(len(d), 'session')} have none.")


def composition(comp: pd.DataFrame) -> Text:
    """Which NRC emotions rise or fall from the first to the last phase."""
    phases = list(comp["phase"].cat.categories) if hasattr(comp["phase"], "cat") else list(
        dict.fromkeys(comp["phase"]))
    w = comp.pivot_table(index="column", columns="phase", values="mean", observed=True)
    if len(phases) < 2 or w.empty:
        return Text("")
    diff = (w[phases[-1]] - w[phases[0]]).sort_values()
    name = {c: c.removeprefix("nrc_") for c in diff.index}
    up = [f"{name[c]} (+{num(v)})" for c, v in diff.items() if v > 0][::-1]
    down = [f"{name[c]} ({num(v)})" for c, v in diff.items() if v < 0]
    return Text(f"From the {phases[0]} to the {phases[-1]} of sessions, emotion words per 100 "
                f"words rise for {ids(up) if up else 'no emotion'} and fall for "
                f"{ids(down) if down else 'no emotion'}.")


def trends(trends: pd.DataFrame, mixed: pd.DataFrame, change: pd.DataFrame, value: str) -> Text:
    """Per-session slopes whose CI excludes zero, the mixed-model slope, start-vs-end change."""
    t = trends.dropna(subset=["ci_low", "ci_high"])
    sig = t[(t["ci_low"] > 0) | (t["ci_high"] < 0)]
    slope = mixed[~mixed["term"].isin(["Intercept", "var_intercept", "var_slope", "cov",
                                       "var_residual"])]
    text = (f"{len(sig)} of {plural(len(t), 'session')} have a slope whose 95% CI excludes zero"
            + (f" ({ids([f'{r.session_id} {num(r.slope)}' for r in sig.itertuples()], 5)})"
               if len(sig) else ""))
    if len(slope):
        s = slope.iloc[0]
        text += (f". The mixed-model slope is {num(s['estimate'], 3)} "
                 f"(95% CI {num(s['ci_low'], 3)} to {num(s['ci_high'], 3)}, p = {num(s['p'], 3)}"
                 f", {'converged' if bool(s['converged']) else 'did not converge'})")
    per = change[change["session_id"] != "all"]
    moved = per[(per["ci_low"] > 0) | (per["ci_high"] < 0)]
    pooled = change[change["session_id"] == "all"]
    named = ids([f"{r.session_id} {num(r.change)}" for r in moved.itertuples()], 5)
    text += (f". Start vs end: {len(moved)} of {plural(len(per), 'session')} change beyond the "
             f"bootstrap CI" + (f" ({named})" if len(moved) else ""))
    if len(pooled):
        p = pooled.iloc[0]
        spans = p["ci_low"] <= 0 <= p["ci_high"]
        text += (f"; pooled change {num(p['change'], 3)} (CI {num(p['ci_low'], 3)} to "
                 f"{num(p['ci_high'], 3)}{', spans zero' if spans else ''})")
    return Text(text + f" ({value}).")


# --------------------------------------------------------------------------- notebooks 04-06
def code_mix(freq: pd.DataFrame, top: int = 3) -> Text:
    """The most and least frequent codes (mean share of therapist turns over sessions)."""
    m = freq.mean().sort_values(ascending=False)
    name = {c: c.split("_", 1)[-1].replace("_", " ") for c in m.index}
    spread = (freq.max() - freq.min()).sort_values(ascending=False)
    return Text(f"Most frequent codes (mean share of therapist turns per session): "
                f"{ids([f'{name[c]} {num(v)}' for c, v in m.head(top).items()])}; rarest: "
                f"{ids([f'{name[c]} {num(v)}' for c, v in m.tail(top).items()])}. Sessions "
                f"differ most in {ids([name[c] for c in spread.head(2).index])}.")


def sample(data: pd.DataFrame, what: str = "therapist turns") -> Text:
    """How much data an analysis rests on."""
    return Text(f"The analysis rests on {len(data):,} {what} from "
                f"{plural(data['session_id'].nunique(), 'session')}.")


def intervals(table: pd.DataFrame, label: str, estimate: str = "estimate",
              p: str = "p_adj", alpha: float = 0.05) -> Text:
    """How many estimates are significant after correction, naming them."""
    t = table.dropna(subset=[estimate])
    hit = t[t[p] < alpha] if p in t else t.iloc[0:0]
    named = ids([f"{r} ({num(e)})" for r, e in zip(hit[label], hit[estimate], strict=True)], 6)
    return Text(f"{len(hit)} of {plural(len(t), 'estimate')} have adjusted p < {alpha}"
                + (f": {named}" if len(hit) else "") + ".")


def group_sizes(table: pd.DataFrame, factors: Sequence[str]) -> Text:
    """Levels and their sizes per factor."""
    parts = []
    for f in factors:
        n = table[f].value_counts(dropna=True)
        size = (f"{n.iloc[0]} sessions each" if n.min() == n.max() else
                f"{n.min()} to {n.max()} sessions (median {n.median():g})") if len(n) else "empty"
        parts.append(f"`{f}`: {plural(len(n), 'level')}, {size}")
    return Text("; ".join(parts) + "." if parts else "No factor.")


def share(mask: np.ndarray | pd.Series, what: str) -> str:
    """``k of n what (x%)``."""
    m = np.asarray(mask, bool)
    return f"{int(m.sum())} of {m.size} {what} ({100 * m.mean():.0f}%)" if m.size else f"no {what}"


def roles(factors: Sequence[str], outcomes: Sequence[str], skipped: dict[str, str]) -> Text:
    """Which metadata columns are compared, and which are not (and why)."""
    text = (f"Factors: {ids([f'`{f}`' for f in factors]) if factors else 'none'}; outcomes: "
            f"{ids([f'`{o}`' for o in outcomes]) if outcomes else 'none'}.")
    if skipped:
        text += " Not used: " + "; ".join(f"`{c}` ({why})" for c, why in skipped.items()) + "."
    if not factors:
        text += " Without a factor the group comparisons below are skipped."
    if not outcomes:
        text += " Without an outcome column the outcome correlations below are skipped."
    return Text(text)


def contrasts(table: pd.DataFrame, alpha: float = 0.05) -> Text:
    """Omnibus tests and contrasts with adjusted p < alpha, per factor."""
    if table.empty:
        return Text("No factor: group contrasts skipped.")
    parts = []
    for f, g in table.groupby("factor", sort=False):
        omni = g.drop_duplicates("measure")
        sig_omni = omni[omni["omnibus_p"] < alpha]
        hit = g[g["p_adj"] < alpha]
        shown = g.groupby("measure").size().max()
        fam = int(g["family"].max()) if g["family"].notna().any() else shown
        part = (f"`{f}`: omnibus p < {alpha} for {len(sig_omni)} of "
                f"{plural(len(omni), 'measure')} (unadjusted)"
                + (f"; {shown} of {fam} contrasts per measure shown (largest differences)"
                   if shown < fam else "")
                + f"; {len(hit)} of {plural(len(g), 'contrast')} with adjusted p < {alpha}")
        if len(hit):
            part += ": " + ids([f"{r.measure} {r.group_b} − {r.group_a} ({num(r.diff)} SD)"
                                for r in hit.itertuples()], 4)
        parts.append(part)
    return Text(". ".join(parts) + ".")


def correlations(table: pd.DataFrame, alpha: float = 0.05) -> Text:
    """Outcome correlations with adjusted p < alpha (or why there are none)."""
    if table.empty:
        return Text("No outcome column: correlations skipped.")
    hit = table[table["p_adj"] < alpha]
    named = ids([f"{r.measure} ~ {r.outcome} (r = {num(r.r)})" for r in hit.itertuples()], 5)
    return Text(f"{len(hit)} of {plural(len(table), 'correlation')} with adjusted p < {alpha}"
                + (f": {named}" if len(hit) else "")
                + f", over up to {plural(int(table['n'].max()), 'session')}.")
