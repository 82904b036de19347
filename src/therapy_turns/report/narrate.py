"""Sentences from results (``data/narrate.yaml``), the HTML templates, seed notes, provenance."""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from contextlib import suppress
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from string import Template
from typing import Any

import pandas as pd
from IPython.display import Markdown, display

from therapy_turns.io.transcripts import corpus_checksum, corpus_files
from therapy_turns.nlp import load_pipeline, pipeline_id
from therapy_turns.paths import DATA_DIR, project_path, project_root, read_yaml
from therapy_turns.schema import SPEAKERS

WORDING = read_yaml(DATA_DIR / "narrate.yaml")
HTML = read_yaml(DATA_DIR / "html.yaml")  # the templates of the report index and the explorer


class Text(str):
    """A computed paragraph: markdown in a notebook (nothing at all when empty)."""

    def _ipython_display_(self) -> None:
        if self.strip():
            display(Markdown(str(self)))

    def __add__(self, other: str) -> Text:
        return Text(f"{self} {other}".strip())


def say(key: str, **fields: object) -> str:
    """The template ``key`` of ``data/narrate.yaml`` with ``fields`` filled in."""
    return WORDING[key].format(**fields)


def fill(key: str, **values: object) -> str:
    """The template ``key`` of ``data/html.yaml`` filled with ``values`` (and a page's ``css``)."""
    if (css := DATA_DIR / f"{key}.css").exists():
        values["css"] = css.read_text(encoding="utf-8")
    return Template(HTML[key]).substitute(values)


def seed_note(corpus: str | Path, key: str) -> Text:
    """The seed-only commentary ``key``, marked as such; empty for any other corpus."""
    if project_path(corpus).resolve() != project_path("seeds").resolve():
        return Text("")
    return Text(f"*On the seeds:* {read_yaml(DATA_DIR / 'seed_notes.yaml')[key].strip()}")


def ids(values: Iterable[object], limit: int = 8) -> str:
    """``a, b and c`` (at most ``limit`` named, then ``and k more``)."""
    v = [str(x) for x in values]
    if len(v) > limit:
        return f"{', '.join(v[:limit])} and {len(v) - limit} more"
    return f"{', '.join(v[:-1])} and {v[-1]}" if len(v) > 1 else (v or ["none"])[0]


def num(x: float, digits: int = 2) -> str:
    """A number for a sentence (en dash for missing, minus sign for negatives)."""
    return "–" if x is None or pd.isna(x) else f"{x:.{digits}f}".replace("-", "−")


def plural(n: int, word: str) -> str:
    return f"{n} {word if n == 1 else word + 's'}"


def _if(condition: object, text: str) -> str:
    return text if condition else ""


def _range(v: pd.Series) -> str:
    v = v.dropna()
    if v.empty or v.min() == v.max():
        return "none" if v.empty else f"{v.min():g} in every session"
    return f"{v.min():g} to {v.max():g} per session (median {v.median():g})"


def _hits(named: list[str], n: int, word: str, says: str, limit: int, wrap: str = ": {}") -> str:
    """``k of n <word>s <says>``, then the k named (at most ``limit``) in ``wrap``."""
    return f"{len(named)} of {plural(n, word)} {says}" + _if(named, wrap.format(ids(named, limit)))


def session_turns(table: pd.DataFrame, session_id: str, flags: Sequence[str]) -> Text:
    """Turns of one session by speaker and the flagged ones."""
    by = table["speaker"].value_counts().reindex(SPEAKERS, fill_value=0)
    hits = {f: table.loc[table[f].astype(bool), "turn"] for f in flags if f in table}
    flagged = [f"{f.replace('_', ' ')} at turn {ids(t)}" for f, t in hits.items() if len(t)]
    flagged = f"flagged: {'; '.join(flagged)}" if flagged else "no turn is flagged"
    n = plural(len(table), "turn")
    return Text(say("session_turns", sid=session_id, turns=n, by=by, flagged=flagged))


def turn_counts(turns: pd.DataFrame) -> Text:
    """Sessions, turns per session and how many sessions strictly alternate speakers."""
    counts = turns.groupby("session_id").size()
    first = turns.sort_values(["session_id", "turn"]).groupby("session_id")["speaker"]
    alternate = first.apply(lambda s: bool((s.to_numpy()[1:] != s.to_numpy()[:-1]).all()))
    starts = first.first().value_counts().reindex(SPEAKERS, fill_value=0)
    n = dict(sessions=plural(counts.size, "session"), turns=plural(int(counts.sum()), "turn"))
    n |= dict(range=_range(counts), alternate=int(alternate.sum()), n=counts.size)
    return Text(say("turn_counts", starts=starts, **n))


def words_by_speaker(summary: pd.DataFrame) -> Text:
    """Who speaks more, per session (notebook 01's words per session and speaker)."""
    w = summary.pivot(index="session_id", columns="speaker", values="words").fillna(0)
    m = summary.pivot(index="session_id", columns="speaker", values="mean_words").get("patient")
    more = int((w.get("patient", 0) > w.get("therapist", 0)).sum())
    text = say("words_by_speaker", more=more, sessions=plural(len(w), "session"))
    if m is not None and m.notna().any():
        text += say("longest_turns", sid=m.idxmax(), max=num(m.max(), 1), median=num(m.median(), 1))
    return Text(text + ". Counts exclude the turns named in `exclude`.")


def artefacts(summary: pd.DataFrame, flags: Sequence[str]) -> Text:
    """Flag counts and the sessions they occur in."""
    parts = []
    for f in flags:
        hit, name = summary.loc[summary[f] > 0], f.replace("_", " ")
        sessions = ids(hit["session_id"], 5)
        parts.append(f"{int(hit[f].sum())} {name} (in {sessions})" if len(hit) else f"no {name}")
    return Text("Flagged turns: " + "; ".join(parts) + ".")


def speaker_differences(summary: pd.DataFrame, features: Sequence[str]) -> Text:
    """Median of each feature for patients vs therapists (``language.speaker_summary``)."""
    parts = []
    m = summary.reindex(columns=["patient_median", "therapist_median"]).dropna()
    for f, p, t in m.loc[[f for f in features if f in m.index]].itertuples():
        rel = "higher for patients" if p > t else "higher for therapists" if t > p else "equal"
        parts.append(f"`{f}` {rel} ({num(p)} vs {num(t)})")
    return Text(_if(parts, "Medians, patient vs therapist: " + "; ".join(parts) + "."))


def model_fits(models: pd.DataFrame) -> Text:
    """How many mixed models converged and how many sit on the boundary (no session variance)."""
    fitted = models[models["term"] != "not fitted"].drop_duplicates("outcome")
    n = plural(models["outcome"].nunique(), "model")
    failed = sorted(set(models["outcome"]) - set(fitted["outcome"]))
    text = f"none of {n} could be fitted"
    if len(fitted):
        sums = fitted[["converged", "boundary"]].sum().astype(int)
        sessions = plural(int(fitted["n_groups"].max()), "session")
        text = say("model_fits", fitted=len(fitted), models=n, n=sums, sessions=sessions)
    text += _if(failed, f"; not fitted: {ids(failed)}")
    warned = fitted.get("warnings", pd.Series()).dropna().astype(str)
    if len(warned := warned[warned != ""]):
        msgs = warned.str.split("; ").explode().str.strip()
        msgs = set(msgs.str.replace(r",? *\|grad\| = [-\d.]+$", "", regex=True))
        text += say("model_warnings", n=len(warned), messages=ids(sorted(msgs), 3))
    return Text(text + ".")


def checks(table: pd.DataFrame, what: str, why_none: str = "") -> Text:
    """``k of n <what> pass`` from a table with a ``result`` column (pass/fail/skipped)."""
    if table.empty:
        return Text(f"No {what} could be run on this corpus{why_none}.")
    failing = table.loc[table["result"] == "fail", table.columns[0]]
    fail = _if(len(failing), f"; failing: {ids(failing)}")
    return Text(f"{sum(table['result'] == 'pass')} of {plural(len(table), what)} pass{fail}.")


def validation(table: pd.DataFrame) -> Text:
    """Correlations with human ratings, from the emotion model's validation summary."""
    t = table.assign(**table[["r", "ci_low", "ci_high"]].map(num))
    parts = [say("validation", r=r) for r in t.itertuples()]
    n = int(table["n"].iloc[0]) if len(table) else 0
    return Text(f"On {n:,} EmoBank dev sentences: " + "; ".join(parts) + ".")


def value_range(traj: pd.DataFrame, value: str) -> Text:
    """The spread of the analysed series (what the model's predictions span here)."""
    n = plural(traj["session_id"].nunique(), "session"), plural(len(traj), "turn")
    v = traj["value"].describe().map(num)  # min, 25%, 75%, max
    return Text(say("value_range", value=value, n=n, v=v))


def trajectory(cps: pd.DataFrame, session_id: str, marks: pd.DataFrame, value: str) -> Text:
    """Change points of one session with the segment means on each side."""
    c = cps[cps["session_id"] == session_id].sort_values("turn")
    way = c["after"].lt(c["before"]).map({True: "falls", False: "rises"})
    c = c.assign(way=way, **c[["before", "after"]].map(num))
    steps = ", then ".join(say("change_step", r=r) for r in c.itertuples())
    text = f"In session {session_id} the {value} {steps}"
    text = text if len(c) else f"In session {session_id} no change point is found in the {value}"
    m = marks.loc[marks["session_id"] == session_id, "turn"] if len(marks) else []
    end = f"; slow-down requests at turn {ids(sorted(m))}." if len(m) else "; no slow-down request."
    return Text(text + end)


def change_points(cps: pd.DataFrame, traj: pd.DataFrame) -> Text:
    """Which sessions have change points, and how many."""
    all_ids, per = sorted(traj["session_id"].unique()), cps.groupby("session_id").size()
    none = ids(sorted(set(all_ids) - set(per.index)), 6)
    text = f"Change points in {len(per)} of {plural(len(all_ids), 'session')} "
    text += f"({plural(int(per.sum()), 'change point')}"
    text += f"; most in {per.idxmax()} ({per.max()}))" if len(per) else ")"
    return Text(text + _if(0 < len(per) < len(all_ids), f"; none in {none}") + ".")


def displacements(ued: pd.DataFrame) -> Text:
    """Displacements per session from the UED table."""
    d = ued["n_displacements"]
    none = f"{int((d == 0).sum())} of {plural(len(d), 'session')} have none"
    return Text(f"Displacements per session: {_range(d)}; {none}.")


def composition(comp: pd.DataFrame) -> Text:
    """Which NRC emotions rise or fall from the first to the last phase."""
    phases = list(comp["phase"].cat.categories)  # dynamics.phase_composition's PHASES
    w = comp.pivot_table(index="column", columns="phase", values="mean", observed=True)
    if len(phases) < 2 or w.empty:
        return Text("")
    diff = (w[phases[-1]] - w[phases[0]]).sort_values()
    up = [f"{c.removeprefix('nrc_')} (+{num(v)})" for c, v in diff.items() if v > 0][::-1]
    down = [f"{c.removeprefix('nrc_')} ({num(v)})" for c, v in diff.items() if v < 0]
    up, down = (ids(x) if x else "no emotion" for x in (up, down))
    return Text(say("composition", first=phases[0], last=phases[-1], up=up, down=down))


def trends(trends: pd.DataFrame, mixed: pd.DataFrame, change: pd.DataFrame, value: str) -> Text:
    """Per-session slopes whose CI excludes zero, the mixed-model slope, start-vs-end change."""
    t, beyond = trends.dropna(subset=["ci_low", "ci_high"]), "ci_low > 0 or ci_high < 0"
    named = [f"{r.session_id} {num(r.slope)}" for r in t.query(beyond).itertuples()]
    text = _hits(named, len(t), "session", "have a slope whose 95% CI excludes zero", 5, " ({})")
    for _, s in mixed.iloc[1:2].iterrows():  # mixed_trend's rows: Intercept, slope, variances
        values = s[["estimate", "ci_low", "ci_high", "p"]].map(lambda x: num(x, 3))
        converged = "converged" if bool(s["converged"]) else "did not converge"
        text += say("mixed_slope", s=values, converged=converged)
    per = change[change["session_id"] != "all"]
    named = [f"{r.session_id} {num(r.change)}" for r in per.query(beyond).itertuples()]
    says = "change beyond the bootstrap CI"
    text += ". Start vs end: " + _hits(named, len(per), "session", says, 5, " ({})")
    for _, p in change[change["session_id"] == "all"].head(1).iterrows():
        spans = _if(p["ci_low"] <= 0 <= p["ci_high"], ", spans zero")
        values = p[["change", "ci_low", "ci_high"]].map(lambda x: num(x, 3))
        text += say("pooled_change", p=values, spans=spans)
    return Text(text + f" ({value}).")


def code_mix(freq: pd.DataFrame) -> Text:
    """The most and least frequent codes (mean share of therapist turns over sessions)."""
    m = freq.mean().sort_values(ascending=False)
    name = {c: c.split("_", 1)[-1].replace("_", " ") for c in m.index}
    spread = (freq.max() - freq.min()).sort_values(ascending=False).index[:2]
    most = ids([f"{name[c]} {num(v)}" for c, v in m.head(3).items()])
    rarest = ids([f"{name[c]} {num(v)}" for c, v in m.tail(3).items()])
    return Text(say("code_mix", most=most, rarest=rarest, spread=ids([name[c] for c in spread])))


def sample(data: pd.DataFrame, what: str) -> Text:
    """How much data an analysis rests on."""
    n = plural(data["session_id"].nunique(), "session")
    return Text(f"The analysis rests on {len(data):,} {what} from {n}.")


def intervals(t: pd.DataFrame, label: str, alpha: float = 0.05) -> Text:
    """How many estimates have adjusted p < alpha, naming them."""
    t = t.dropna(subset=["estimate"])
    hit = t[t["p_adj"] < alpha] if "p_adj" in t else t.iloc[0:0]
    named = [f"{r} ({num(e)})" for r, e in zip(hit[label], hit["estimate"], strict=True)]
    return Text(_hits(named, len(t), "estimate", f"have adjusted p < {alpha}", 6) + ".")


def metadata_match(report: Any) -> Text:
    """How the metadata rows matched the sessions (``sessions.MetadataReport``)."""
    if not report.n_metadata:
        return Text("No metadata: one row per session, without session-level variables.")
    text = f"Metadata: {plural(report.n_metadata, 'row')}, {report.n_matched} matched to a session."
    missing, unknown = report.missing_metadata, report.unknown_ids
    text += _if(missing, f" Sessions without metadata (kept, empty): {ids(missing)}.")
    text += _if(unknown, f" Metadata ids with no session (left out): {ids(unknown)}.")
    renamed = [f"`{a}` → `{b}`" for a, b in report.renamed_columns.items()]
    return Text(text + _if(renamed, f" Renamed (clash with a summary column): {ids(renamed)}."))


def roles(
    table: pd.DataFrame, factors: Sequence[str], outcomes: Sequence[str], skipped: dict[str, str]
) -> Text:
    """Which metadata columns are compared (factors' levels and sizes), which are not and why."""
    named = (ids([f"`{c}`" for c in cols]) if cols else "none" for cols in (factors, outcomes))
    text = "Factors: {}; outcomes: {}.".format(*named)
    text += _if(skipped, f" Not used: {'; '.join(f'`{c}` ({w})' for c, w in skipped.items())}.")
    text += _if(not factors, say("no_factor")) + _if(not outcomes, say("no_outcome"))
    parts = []
    for f in factors:
        n = table[f].value_counts(dropna=True)
        size = f"{n.min()} to {n.max()} sessions (median {n.median():g})" if len(n) else "empty"
        size = f"{n.iloc[0]} sessions each" if len(n) and n.min() == n.max() else size
        parts.append(f"`{f}`: {plural(len(n), 'level')}, {size}")
    return Text(text) + ("; ".join(parts) + "." if parts else "No factor.")


def contrasts(table: pd.DataFrame, alpha: float = 0.05) -> Text:
    """Omnibus tests and contrasts with adjusted p < alpha, per factor."""
    if table.empty:
        return Text("No factor: group contrasts skipped.")
    parts = []
    for f, g in table.groupby("factor", sort=False):
        omni, hit = g.drop_duplicates("measure"), g[g["p_adj"] < alpha]
        shown = g.groupby("measure").size().max()
        fam = int(g["family"].max()) if g["family"].notna().any() else shown
        named = [say("contrast", r=r, diff=num(r.diff)) for r in hit.itertuples()]
        n_sig, measures = int((omni["omnibus_p"] < alpha).sum()), plural(len(omni), "measure")
        part = say("omnibus", factor=f, alpha=alpha, n_sig=n_sig, measures=measures)
        part += _if(shown < fam, say("top_contrasts", shown=shown, family=fam)) + "; "
        parts.append(part + _hits(named, len(g), "contrast", f"with adjusted p < {alpha}", 4))
    return Text(". ".join(parts) + ".")


def correlations(table: pd.DataFrame, alpha: float = 0.05) -> Text:
    """Outcome correlations with adjusted p < alpha (or why there are none)."""
    if table.empty:
        return Text("No outcome column: correlations skipped.")
    hit = table[table["p_adj"] < alpha]
    named = [f"{r.measure} ~ {r.outcome} (r = {num(r.r)})" for r in hit.itertuples()]
    text = _hits(named, len(table), "correlation", f"with adjusted p < {alpha}", 5)
    return Text(text + f", over up to {plural(int(table['n'].max()), 'session')}.")


def provenance(corpus: str | Path = "seeds") -> pd.DataFrame:
    """A two-column table (item, value) for the last cell of every notebook."""
    files = project_path(corpus)  # a notebook parameter: relative to the project root
    rows = {"corpus": str(corpus), "corpus files": str(len(corpus_files(files)))}
    rows |= {"corpus sha256": corpus_checksum(files), "git commit": "unknown"}
    git = ["git", "-C", str(project_root()), "describe", "--always", "--exclude=*", "--abbrev=12"]
    with suppress(OSError):  # no git (not a checkout: no output); +dirty: the tree has changes
        done = subprocess.run([*git, "--dirty=+dirty"], capture_output=True, text=True)
        rows["git commit"] = done.stdout.strip() or "unknown"
    rows["spaCy pipeline"] = pipeline_id(load_pipeline())
    for p in WORDING["packages"]:
        rows[f"version {p}"] = "not installed"
        with suppress(PackageNotFoundError):
            rows[f"version {p}"] = version(p)
    return pd.DataFrame({"item": list(rows), "value": list(rows.values())})
