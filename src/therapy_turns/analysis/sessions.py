"""Session summaries (notebooks 01, 02); the sessions table, metadata, group and outcome tests."""

import logging
from collections.abc import Mapping
from itertools import combinations, product
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns import schema
from therapy_turns.analysis.stats import MIXEDLM_COLUMNS, Z95, Frame, Names, adjust_p, mixedlm_table
from therapy_turns.io.transcripts import CorpusArg, analysable
from therapy_turns.measures import backchannels, registry
from therapy_turns.measures.features import MARKERS, load_lexicon
from therapy_turns.paths import project_path
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS, SPEAKERS, TURN_ID, count_words
from therapy_turns.store import file_sha256, iter_partitions, load_table, read_manifest, sort_rows

log = logging.getLogger(__name__)
COUNT_COLUMNS = "n_turns n_analysed n_patient n_therapist patient_words therapist_words".split()
MIN_LEVELS, MAX_LEVELS = 2, 12  # a categorical column with this many values is a factor by default
CONTRAST_COLUMNS = (
    "measure factor group_a group_b n_a n_b mean_a mean_b diff ci_low ci_high p p_adj hedges_g "
    "g_ci_low g_ci_high omnibus_p df_resid family note"
).split()


def with_words(turns: pd.DataFrame) -> pd.DataFrame:
    """The turn table plus ``words``: :func:`therapy_turns.schema.count_words` of the speech."""
    return turns.assign(words=turns["text"].fillna("").map(count_words))


def session_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """One row per session and speaker: turns, words, mean and median words per turn."""
    g = with_words(turns).groupby(["session_id", "speaker"], sort=True)["words"]
    out = g.agg(turns="size", words="sum", mean_words="mean", median_words="median")
    return out.round({"mean_words": 1}).reset_index()


def analysable_features(
    feats: pd.DataFrame, turns: pd.DataFrame, exclude: Names = DEFAULT_EXCLUDE, n_bins: int = 3
) -> pd.DataFrame:
    """Feature rows of the analysed turns with ``position``, ``segment`` and ``therapist``."""
    keep = analysable(turns.assign(position=schema.session_position(turns)), exclude)
    out = feats.merge(keep[[*KEYS, "position"]], on=KEYS)
    labels = ["early", "middle", "late"] if n_bins == 3 else [str(i + 1) for i in range(n_bins)]
    bins = np.linspace(0, 1, n_bins + 1)
    out["segment"] = pd.cut(out["position"], bins=bins, labels=labels, include_lowest=True)
    out["therapist"] = (out["speaker"] == "therapist").astype(float)
    return out.sort_values(["session_id", "turn"], kind="stable").reset_index(drop=True)


def speaker_summary(df: pd.DataFrame, cols: Names) -> pd.DataFrame:
    """Median and quartiles of ``cols`` by speaker (``<speaker>_median``, ``_q1``, ``_q3``)."""
    g = df.groupby("speaker")[list(cols)]
    parts = {"median": g.median().T, "q1": g.quantile(0.25).T, "q3": g.quantile(0.75).T}
    return pd.concat({f"{p}_{s}": parts[s][p] for p in parts["median"] for s in parts}, axis=1)


def marker_profile(df: pd.DataFrame) -> pd.DataFrame:
    """Patient markers per session: matches per 1,000 patient words, and the word count."""
    g = df[df["speaker"] == "patient"].groupby("session_id", sort=True)
    words = g["n_words"].sum()
    rates = g[[f"marker_{m}" for m in MARKERS]].sum().div(words.where(words > 0), axis=0) * 1000
    return rates.set_axis(list(MARKERS), axis=1).assign(patient_words=words).reset_index()


def archetype_check(profile: pd.DataFrame, archetypes: Mapping[str, str]) -> pd.DataFrame:
    """Do the sessions of each marker's archetype have its highest rates (pass, fail, skipped)?"""
    prof = profile[profile["session_id"].isin(list(archetypes))]
    label = prof["session_id"].map(archetypes)
    rows = []
    for m in ("skeptic", "vague", "intellectualising") if len(prof) else ():
        target = load_lexicon("markers")["markers"][m]["archetype"]
        inside, outside = prof.loc[label == target, m], prof.loc[label != target, m]
        note = "" if len(inside) else f"no session labelled {target!r}"
        note = note or ("" if len(outside) else "no session with another label")
        lo, hi = (np.nan, np.nan) if note else (float(inside.min()), float(outside.max()))
        result = "skipped" if note else "pass" if lo > hi else "fail"
        rows.append((m, target, int(inside.size), lo, hi, result, note))
    columns = "marker archetype n_sessions min_archetype max_others result note".split()
    return pd.DataFrame(rows, columns=columns)


def summarise_sessions(
    turns: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    exclude: Names = DEFAULT_EXCLUDE,
    *,
    measures: Mapping[str, registry.Measure] | None = None,
    words: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per session: turn and word counts, then each measure's aggregations."""
    sid = turns["session_id"].astype(str)
    code, uniques = pd.factorize(sid, sort=False)
    ids = pd.Index(uniques, dtype="str", name="session_id")
    out = pd.DataFrame({"session_id": pd.Series(ids, dtype="str")})
    if turns.empty:
        empty = {c: pd.Series(dtype="int64") for c in COUNT_COLUMNS}
        return out.assign(**empty, patient_word_share=pd.Series(dtype="float64"))
    mask = turns.index.isin(analysable(turns, tuple(exclude)).index)
    words = with_words(turns)["words"].to_numpy("int64") if words is None else words
    speaker, is_bc = turns["speaker"].to_numpy(), backchannels.mask(turns).to_numpy()
    counts = {"n_turns": np.ones(len(turns), "int64"), "n_analysed": mask}
    for sp in SPEAKERS:
        on = mask & (speaker == sp)
        counts |= {f"n_{sp}": on, f"{sp}_words": np.where(on, words, 0)}
    counts["n_backchannels"] = mask & is_bc & (speaker == "patient")
    out = out.join(pd.DataFrame(counts).groupby(code).sum().astype("int64"))
    total = out.patient_words + out.therapist_words
    out.insert(7, "patient_word_share", (out.patient_words / total.where(total > 0)).astype(float))
    position = pd.DataFrame({"session_id": sid, "turn": turns["turn"], "speaker": speaker})
    position["position"] = schema.session_position(position)
    rows: dict[str, pd.DataFrame] = {}  # each measure's rows of the analysed turns, in order
    found = {name: (measures or {}).get(name) or registry.get(name) for name in tables}
    for name, df in tables.items():
        r = df.drop(columns=["speaker"], errors="ignore").astype({"session_id": str})
        keep = position[mask & ~is_bc] if found[name].skip_backchannels else position[mask]
        rows[name] = r.merge(keep, on=TURN_ID).sort_values(TURN_ID, kind="mergesort")
    parts = [found[name].summarise(r, ids, rows).reset_index(drop=True) for name, r in rows.items()]
    return pd.concat([out, *parts], axis=1).copy()  # one block per dtype, not one per part


def concat_summaries(parts: list[Frame], exclude: Names = DEFAULT_EXCLUDE) -> Frame:
    """Chunks' :func:`summarise_sessions` as one table, event counts whole (0: none in a chunk)."""
    out = pd.concat(parts or [summarise_sessions(pd.DataFrame(columns=KEYS), {}, exclude)])
    counts = [c for c in out.columns if c.startswith(f"events{registry.SEP}")]
    out[counts] = out[counts].fillna(0).astype("int64")
    return out.reset_index(drop=True)


class MetadataError(ValueError):
    """The metadata file cannot be used (no ``session_id`` column, duplicate ids)."""


class MetadataReport(NamedTuple):
    """How the metadata matched the corpus (ids on one side only, renamed clashing columns)."""

    n_metadata: int = 0
    n_matched: int = 0
    missing_metadata: list[str] = []
    unknown_ids: list[str] = []
    renamed_columns: dict[str, str] = {}


def read_metadata(path: str | Path) -> pd.DataFrame:
    """A session metadata CSV keyed by ``session_id`` (ids as text; ``#`` comments)."""
    p = Path(path)
    try:
        df = pd.read_csv(p, comment="#", dtype={"session_id": "str"}, skipinitialspace=True)
    except FileNotFoundError:
        raise MetadataError(f"{p}: no such file; expected a session metadata CSV") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        why = f"not a readable CSV ({str(e).strip().splitlines()[-1]})"
        msg = "expected a header row with session_id and one row per session"
        raise MetadataError(f"{p}: {why}; {msg}") from None
    if "session_id" not in df.columns:
        raise MetadataError(f"{p}: found columns {list(df.columns)}; expected a session_id column")
    df["session_id"] = df["session_id"].str.strip()
    if dup := df.session_id[df.session_id.duplicated()].unique().tolist():
        raise MetadataError(f"{p}: session ids listed twice: {sorted(dup)[:10]}")
    return df


def join_metadata(sessions: Frame, metadata: Frame | None) -> tuple[Frame, MetadataReport]:
    """``sessions`` left-joined with ``metadata`` by ``session_id``, ``has_metadata``, report."""
    if metadata is None:
        return sessions.copy(), MetadataReport()
    renamed = {c: f"meta_{c}" for c in metadata if c != "session_id" and c in sessions.columns}
    meta = metadata.astype({"session_id": str}).rename(columns=renamed)
    have, meta_ids = set(sessions.session_id.astype(str)), set(meta.session_id)
    missing, unknown = sorted(have - meta_ids), sorted(meta_ids - have)
    report = MetadataReport(len(meta), len(have & meta_ids), missing, unknown, renamed)
    what = ("corpus sessions have no metadata", "metadata session ids are not in the corpus")
    for ids, w in zip((missing, unknown), what, strict=True):
        if ids:
            log.warning("%d %s: %s", len(ids), w, ", ".join(ids[:10]))
    if renamed:
        log.warning("metadata columns renamed (clash with summaries): %s", renamed)
    out = sessions.merge(meta, on="session_id", how="left", validate="one_to_one")
    return out.assign(has_metadata=out.session_id.isin(meta_ids)), report


class Roles(NamedTuple):
    """Metadata columns analysed, those ``skipped`` with why, the factor modelled at turn level."""

    factors: list[str]
    outcomes: list[str]
    skipped: dict[str, str]
    first_factor: str | None = None


def metadata_roles(
    metadata: Frame | str | Path | None, factors: Names = (), outcomes: Names = ()
) -> Roles:
    """Factors and outcomes of a metadata frame or CSV (named, else by type), the rest skipped."""
    source = "metadata"
    if not isinstance(metadata, pd.DataFrame):
        if not metadata:
            return Roles([], [], {})
        source, metadata = str(metadata), read_metadata(project_path(metadata))
    cols = [c for c in metadata.columns if c != "session_id"]
    if missing := [c for c in [*factors, *outcomes] if c not in cols]:
        msg = f"no column {', '.join(map(repr, missing))}; its columns are {cols}"
        raise MetadataError(f"{source}: {msg}")
    skipped: dict[str, str] = {}
    numeric = set(metadata.select_dtypes("number").columns)  # not bool
    if not factors:
        factors = []
        for c in (c for c in cols if c not in numeric and c not in outcomes):
            k = metadata[c].nunique(dropna=True)
            if k == metadata[c].notna().sum() and k > 1:
                skipped[c] = "a different value in every session"
            elif MIN_LEVELS <= k <= MAX_LEVELS:
                factors.append(c)
            else:
                skipped[c] = f"{k} distinct values (factors need {MIN_LEVELS}–{MAX_LEVELS})"
    outcomes = outcomes or [c for c in cols if c in numeric and c not in factors]
    skipped |= {c: "not selected" for c in cols if c not in {*factors, *outcomes, *skipped}}
    return Roles(list(factors), list(outcomes), skipped, factors[0] if factors else None)


def metadata_labels(path: str | Path | None, column: str) -> dict[str, str]:
    """``session_id -> label`` of one metadata column; empty without the file or column."""
    if not path:
        return {}
    df = read_metadata(project_path(path))
    if column not in df.columns:
        log.warning("%s: no column %r (columns: %s)", path, column, list(df.columns))
        return {}
    return df.set_index("session_id")[column].dropna().astype(str).to_dict()


def group_turn_model(turn_rows: pd.DataFrame, value: str, factor: str | None) -> pd.DataFrame:
    """Turn-level MixedLM ``value ~ C(factor) + position``, random intercept per session."""
    if factor is None:
        return pd.DataFrame(columns=MIXEDLM_COLUMNS)
    return mixedlm_table(turn_rows.dropna(subset=[factor]), [value], f"C(Q('{factor}')) + position")


def load_sessions(
    corpus: CorpusArg,
    analysis_dir: str | Path,
    metadata: str | Path | None = None,
    exclude: Names = DEFAULT_EXCLUDE,
) -> tuple[pd.DataFrame, MetadataReport]:
    """The ``sessions`` table for ``exclude`` and ``metadata`` and the metadata report."""
    load_table("turns", corpus, analysis_dir)  # raises if missing or stale
    manifest = read_manifest(analysis_dir) or {}
    meta = project_path(metadata) if metadata else None
    built = manifest.get("metadata") or {}
    same_meta = built.get("sha256") == file_sha256(meta) if meta and built else not (meta or built)
    if same_meta and list(manifest.get("parameters", {}).get("exclude", [])) == list(exclude):
        report = MetadataReport(**{k: built[k] for k in MetadataReport._fields if built})
        return sort_rows(load_table("sessions", corpus, analysis_dir)), report
    names = [n for n in registry.names() if n in manifest.get("tables", [])]
    chunks = zip(*(iter_partitions(n, analysis_dir) for n in ["turns", *names]), strict=True)
    parts = [summarise_sessions(t, dict(zip(names, r, strict=True)), exclude) for t, *r in chunks]
    out, report = join_metadata(concat_summaries(parts, exclude), meta and read_metadata(meta))
    return sort_rows(out), report


def turn_data(
    table: Frame, turns: Frame, sessions: Frame, columns: Names, exclude: Names = DEFAULT_EXCLUDE
) -> Frame:
    """The patient's analysed rows of ``table`` with ``position`` and the session ``columns``."""
    keep = analysable(turns.assign(position=schema.session_position(turns)), tuple(exclude))
    d = table[table.speaker == "patient"].drop(columns="position", errors="ignore")
    d = d.merge(keep[[*TURN_ID, "position"]], on=TURN_ID).astype({"session_id": str})
    s = sessions[["session_id", *columns]].astype({"session_id": str})
    return d.merge(s, on="session_id", how="left", validate="many_to_one")


def compare_groups(
    sessions: pd.DataFrame,
    measures: Names,
    factors: str | Names,
    method: str = "holm",
    standardize: bool = False,
    max_levels: int = 12,
    top: int = 10,
) -> pd.DataFrame:
    """Per factor and measure, OLS ``measure ~ C(factor)``: omnibus p, contrasts, Hedges' g."""
    import statsmodels.formula.api as smf

    rows = []
    for factor, m in product([factors] if isinstance(factors, str) else factors, measures):
        d = sessions[[m, factor]].dropna().astype({factor: str})
        if standardize and len(d) > 1 and d[m].std() > 0:
            d = d.assign(**{m: (d[m] - d[m].mean()) / d[m].std()})
        levels = sorted(d[factor].unique())
        note = "fewer than two groups" if len(levels) < 2 else ""
        note = note or ("no residual degrees of freedom" if len(d) <= len(levels) else "")
        note = note or ("constant measure" if d[m].std() == 0 else "")
        pairs = dict.fromkeys(combinations(levels, 2), [np.nan] * 4)
        fit = {"omnibus_p": np.nan, "df_resid": np.nan, "family": len(pairs), "note": note}
        if not note:
            term = f"C(Q('{factor}'), Treatment('{levels[0]}'))"
            res = smf.ols(f"Q('{m}') ~ {term}", d).fit()
            fit |= {"omnibus_p": float(res.f_pvalue), "df_resid": float(res.df_resid)}
            t = res.t_test_pairwise(term).result_frame.iloc[:, [0, 4, 5, 3]]
            pairs = dict(zip(pairs, t.to_numpy(float).tolist(), strict=True))
        if len(levels) > max_levels:  # the top pairs of groups of 2+ by absolute mean difference
            g = d.groupby(factor)[m].agg(["mean", "size"])
            g = g.loc[g["size"] >= 2, "mean"]
            diff = {ab: abs(g[ab[1]] - g[ab[0]]) for ab in pairs if {*ab} <= {*g.index}}
            pairs = {ab: pairs[ab] for ab in sorted(diff, key=diff.get, reverse=True)[:top]}
        for (a, b), test in pairs.items():
            va, vb = (d.loc[d[factor] == x, m].to_numpy(float) for x in (a, b))
            row = (m, factor, a, b, len(va), len(vb), va.mean(), vb.mean(), *test, np.nan)
            rows.append((*row, *_hedges_g(va, vb), *fit.values()))
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    out["p_adj"] = family_adjust(out, method)
    out["contrast"] = out.factor + ": " + out.group_b + " − " + out.group_a
    return out


def _hedges_g(a: np.ndarray, b: np.ndarray) -> tuple[float, ...]:
    na, nb = len(a), len(b)
    pooled = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
    sp = np.sqrt(pooled) if na > 1 and nb > 1 else 0.0
    if sp == 0:
        return (np.nan,) * 3
    g = (b.mean() - a.mean()) / sp * (1 - 3 / (4 * (na + nb) - 9))
    se = np.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    return float(g), float(g - Z95 * se), float(g + Z95 * se)


def family_adjust(table: pd.DataFrame, method: str = "holm") -> np.ndarray:
    """``p_adj`` per factor: ``method`` when all its pairs are tested, else Bonferroni over all."""
    out = pd.Series(np.nan, index=table.index)
    for _, part in table.groupby("factor", sort=False):
        p, family = part["p"].to_numpy(float), part["family"].max()
        if part["measure"].value_counts().max() < family:  # only the top pairs tested
            out[part.index] = np.minimum(1.0, p * (family * part["measure"].nunique()))
        else:
            out[part.index] = adjust_p(p, method)
    return out.to_numpy()


def outcome_correlations(
    sessions: Frame,
    measures: Names,
    outcomes: Names,
    method: str = "spearman",
    correction: str = "holm",
) -> Frame:
    """Spearman or Pearson r of each measure with each outcome across sessions, CI and p."""
    rows = []
    for o, m in product(outcomes, measures):
        d = sessions[[m, o]].dropna()
        n, r, p, lo, hi = len(d), *(np.nan,) * 4
        if n >= 3 and d[m].std() > 0 and d[o].std() > 0:
            res = (stats.spearmanr if method == "spearman" else stats.pearsonr)(d[m], d[o])
            r, p = float(res[0]), float(res[1])
            if method == "pearson" and n > 3:
                lo, hi = res.confidence_interval()
            elif n > 3 and abs(r) < 1:  # Bonett & Wright SE on the Fisher z scale
                se = np.sqrt((1 + r * r / 2) / (n - 3))
                lo, hi = np.tanh(np.arctanh(r) + np.array([-Z95, Z95]) * se)
        rows.append((m, o, method, n, r, float(lo), float(hi), p))
    out = pd.DataFrame(rows, columns="measure outcome method n r ci_low ci_high p".split())
    out["p_adj"] = adjust_p(out["p"].to_numpy(float), correction)
    return out
