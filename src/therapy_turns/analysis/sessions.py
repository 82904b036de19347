"""The ``sessions`` table (one row per session: counts over analysed turns, every registered
measure's aggregations ``<measure>__<column>__<statistic>``, metadata joined by ``session_id``),
and group comparisons and outcome correlations across sessions (notebook 06)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.analysis.stats import adjust_p
from therapy_turns.io.transcripts import CorpusArg, analysable
from therapy_turns.measures import backchannels, registry
from therapy_turns.measures.registry import Measure
from therapy_turns.paths import project_path
from therapy_turns.schema import DEFAULT_EXCLUDE, SPEAKERS, TURN_ID, count_words, session_position
from therapy_turns.store import file_sha256, iter_partitions, load_table, read_manifest, sort_rows

Names = Sequence[str]

log = logging.getLogger(__name__)

COUNT_COLUMNS = "n_turns n_analysed n_patient n_therapist patient_words therapist_words".split()


def summarise_sessions(
    turns: pd.DataFrame,
    tables: Mapping[str, pd.DataFrame],
    exclude: Names = DEFAULT_EXCLUDE,
    exclude_backchannels: bool = True,
    *,
    measures: Mapping[str, Measure] | None = None,
    words: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per session of ``turns`` (a chunk; in order of appearance): ``n_turns`` (all),
    over the turns analysed under ``exclude``: ``n_analysed``, ``n_patient``, ``n_therapist``,
    ``patient_words``, ``therapist_words`` (:func:`~therapy_turns.schema.count_words`, or
    ``words``: the turns' counts from their Docs), ``patient_word_share``, ``n_backchannels``
    (patient); then the aggregations of each measure of ``tables`` (``measures``: name ->
    :class:`Measure`, default the registry), without backchannels for those declared
    ``skip_backchannels`` if ``exclude_backchannels``."""
    sid = turns["session_id"].astype(str)
    code, uniques = pd.factorize(sid, sort=False)  # session index, in order of appearance
    ids = pd.Index(uniques, dtype="str", name="session_id")
    out = pd.DataFrame({"session_id": pd.Series(ids, dtype="str")})
    if turns.empty:
        empty = {c: pd.Series(dtype="int64") for c in COUNT_COLUMNS}
        return out.assign(**empty, patient_word_share=pd.Series(dtype="float64"))
    mask = turns.index.isin(analysable(turns, tuple(exclude)).index)
    if words is None:
        words = np.array([count_words(t) for t in turns["text"].fillna("")], dtype=np.int64)
    speaker = turns["speaker"].to_numpy()

    def per_session(rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights[rows]
        return np.bincount(code[rows], w, minlength=len(ids)).astype("int64")

    out["n_turns"] = per_session(np.ones(len(code), bool))
    out["n_analysed"] = per_session(mask)
    for sp in SPEAKERS:
        out[f"n_{sp}"] = per_session(mask & (speaker == sp))
        out[f"{sp}_words"] = per_session(mask & (speaker == sp), words)
    total = out.patient_words + out.therapist_words
    out["patient_word_share"] = (out.patient_words / total.where(total > 0)).astype("float64")
    is_bc = backchannels.mask(turns).to_numpy()
    out["n_backchannels"] = per_session(mask & is_bc & (speaker == "patient"))
    dropped = turns.loc[is_bc, TURN_ID].assign(session_id=sid[is_bc])
    position = pd.DataFrame({"session_id": sid, "turn": turns["turn"], "speaker": speaker})
    position["position"] = session_position(position)
    rows: dict[str, pd.DataFrame] = {}  # each measure's rows of the analysed turns, in order
    found = {name: (measures or {}).get(name) or registry.get(name) for name in tables}
    for name, df in tables.items():
        r = df.drop(columns=["speaker"], errors="ignore").assign(
            session_id=df.session_id.astype(str)
        )
        r = r.merge(position[mask], on=TURN_ID)
        if found[name].skip_backchannels and exclude_backchannels and len(dropped):
            r = r.merge(dropped, on=TURN_ID, how="left", indicator=True)
            r = r[r.pop("_merge") == "left_only"]
        rows[name] = r.sort_values(TURN_ID, kind="mergesort")
    parts = [found[name].summarise(r, ids, rows).reset_index(drop=True) for name, r in rows.items()]
    return pd.concat([out, *parts], axis=1)


class MetadataError(ValueError):
    """The metadata file cannot be used (no ``session_id`` column, duplicate ids)."""


@dataclass
class MetadataReport:
    """How the metadata matched the corpus (sessions without metadata are kept, unknown ids
    are not joined, clashing columns renamed ``meta_<name>``)."""

    n_metadata: int = 0
    n_matched: int = 0
    missing_metadata: list[str] = field(default_factory=list)
    unknown_ids: list[str] = field(default_factory=list)
    renamed_columns: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the manifest."""
        return asdict(self)


REPORT_FIELDS = MetadataReport.__dataclass_fields__


def read_metadata(path: str | Path) -> pd.DataFrame:
    """A session metadata CSV keyed by ``session_id`` (ids read as text; ``#`` comments); a
    :class:`MetadataError` without that column or with duplicate ids."""
    p = Path(path)
    try:
        df = pd.read_csv(p, comment="#", dtype={"session_id": "str"}, skipinitialspace=True)
    except FileNotFoundError:
        raise MetadataError(f"{p}: no such file; expected a session metadata CSV") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise MetadataError(
            f"{p}: not a readable CSV ({str(e).strip().splitlines()[-1]}); "
            "expected a header row with session_id and one row per session"
        ) from None
    if "session_id" not in df.columns:
        raise MetadataError(f"{p}: found columns {list(df.columns)}; expected a session_id column")
    df["session_id"] = df["session_id"].str.strip()
    dup = df.session_id[df.session_id.duplicated()].unique().tolist()
    if dup:
        raise MetadataError(f"{p}: session ids listed twice: {sorted(dup)[:10]}")
    return df


WHAT = ("corpus sessions have no metadata", "metadata session ids are not in the corpus")


def join_metadata(
    sessions: pd.DataFrame, metadata: pd.DataFrame | None
) -> tuple[pd.DataFrame, MetadataReport]:
    """``sessions`` left-joined with ``metadata`` by ``session_id``, plus ``has_metadata``, and
    the report (ids on one side only and renamed clashing columns are logged as warnings)."""
    report = MetadataReport()
    if metadata is None:
        return sessions.copy(), report
    meta = metadata.assign(session_id=metadata["session_id"].astype(str))
    clash = [c for c in meta.columns if c != "session_id" and c in sessions.columns]
    report.renamed_columns = {c: f"meta_{c}" for c in clash}
    meta = meta.rename(columns=report.renamed_columns)
    corpus_ids, meta_ids = set(sessions.session_id.astype(str)), set(meta.session_id)
    report.n_metadata, report.n_matched = len(meta), len(corpus_ids & meta_ids)
    report.missing_metadata = sorted(corpus_ids - meta_ids)
    report.unknown_ids = sorted(meta_ids - corpus_ids)
    for what, ids in zip(WHAT, (report.missing_metadata, report.unknown_ids), strict=True):
        if ids:
            log.warning("%d %s: %s", len(ids), what, ", ".join(ids[:10]))
    if clash:
        log.warning("metadata columns renamed (clash with summaries): %s", report.renamed_columns)
    out = sessions.merge(meta, on="session_id", how="left", validate="one_to_one")
    out["has_metadata"] = out.session_id.isin(meta_ids)
    return out, report


def load_sessions(
    corpus: CorpusArg,
    analysis_dir: str | Path,
    metadata: str | Path | None = None,
    exclude: Names = DEFAULT_EXCLUDE,
) -> tuple[pd.DataFrame, MetadataReport]:
    """The ``sessions`` table for ``exclude`` and ``metadata`` (``""``/None: none), sorted by
    ``session_id``, and the metadata report: the stored table when the build used the same
    policy and metadata bytes, else recomputed from the stored turn-level tables (streamed)."""
    load_table("turns", corpus, analysis_dir)  # raises if missing or stale
    manifest = read_manifest(analysis_dir) or {}
    meta = project_path(metadata) if metadata else None
    built = manifest.get("metadata") or {}
    same_meta = built.get("sha256") == file_sha256(meta) if meta and built else not (meta or built)
    if same_meta and list(manifest.get("parameters", {}).get("exclude", [])) == list(exclude):
        report = MetadataReport(**{k: built[k] for k in REPORT_FIELDS if built})
        return sort_rows(load_table("sessions", corpus, analysis_dir)), report
    names = [n for n in registry.names() if n in manifest.get("tables", [])]
    chunks = zip(*(iter_partitions(n, analysis_dir) for n in ["turns", *names]), strict=True)
    parts = [summarise_sessions(t, dict(zip(names, r, strict=True)), exclude) for t, *r in chunks]
    meta_table = read_metadata(meta) if meta is not None else None
    out, report = join_metadata(pd.concat(parts, ignore_index=True), meta_table)
    return sort_rows(out), report


def turn_data(
    table: pd.DataFrame,
    turns: pd.DataFrame,
    sessions: pd.DataFrame,
    columns: Names,
    speaker: str = "patient",
    exclude: Names = DEFAULT_EXCLUDE,
) -> pd.DataFrame:
    """Turn-level rows of ``table`` for one speaker's analysed turns, with ``position``
    (``session_position`` over every turn) and the session-level ``columns`` (e.g. metadata;
    NaN for sessions without a value)."""
    keep = analysable(turns, tuple(exclude))[TURN_ID]
    d = table[table.speaker == speaker].merge(keep, on=TURN_ID)
    pos = turns[TURN_ID].assign(position=session_position(turns))
    d = d.drop(columns="position", errors="ignore").merge(pos, on=TURN_ID, how="left")
    s = sessions[["session_id", *columns]].assign(session_id=lambda x: x.session_id.astype(str))
    d = d.assign(session_id=d.session_id.astype(str))
    return d.merge(s, on="session_id", how="left", validate="many_to_one")


def hedges_g(a: Sequence[float], b: Sequence[float], alpha: float = 0.05) -> tuple[float, ...]:
    """Hedges' g of ``b`` minus ``a`` (pooled SD, small-sample correction) with its normal CI
    (SE of Hedges & Olkin 1985); NaNs below 2 values per group or with no spread."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = len(a), len(b)
    pooled = ((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2)
    sp = np.sqrt(pooled) if na > 1 and nb > 1 else 0.0
    if sp == 0:
        return (float("nan"),) * 3
    g = (b.mean() - a.mean()) / sp * (1 - 3 / (4 * (na + nb) - 9))
    se = np.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    z = stats.norm.ppf(1 - alpha / 2)
    return float(g), float(g - z * se), float(g + z * se)


CONTRAST_COLUMNS = (
    "measure factor group_a group_b n_a n_b mean_a mean_b diff ci_low ci_high p p_adj hedges_g "
    "g_ci_low g_ci_high omnibus_p df_resid family note"
).split()


def compare_groups(
    sessions: pd.DataFrame,
    measures: Names,
    factor: str,
    method: str = "holm",
    alpha: float = 0.05,
    standardize: bool = False,
    max_levels: int = 12,
    top: int = 10,
) -> pd.DataFrame:
    """Per measure, OLS ``measure ~ C(factor)`` over the sessions that have both: the omnibus
    F-test of the factor and each contrast ``group_b - group_a`` (sorted levels) with its CI and
    p, ``p_adj`` (:func:`family_adjust`), Hedges' g of the raw values with a CI, and a ``note``
    where the model cannot be fitted. ``standardize``: the measure z-scored first (``diff`` in
    SD units). More than ``max_levels`` levels: only the ``top`` pairs of groups of two or more
    with the largest mean difference. Columns :data:`CONTRAST_COLUMNS`."""
    import statsmodels.formula.api as smf

    rows = []
    for m in measures:
        d = sessions[[m, factor]].dropna()
        if standardize and len(d) > 1 and d[m].std() > 0:
            d = d.assign(**{m: (d[m] - d[m].mean()) / d[m].std()})
        d = d.assign(**{factor: d[factor].astype(str)})
        levels = sorted(d[factor].unique())
        note = "fewer than two groups" if len(levels) < 2 else ""
        note = note or ("no residual degrees of freedom" if len(d) <= len(levels) else "")
        note = note or ("constant measure" if d[m].std() == 0 else "")
        formula = f"Q('{m}') ~ C(Q('{factor}'), Treatment('{levels[0] if levels else ''}'))"
        res = None if note else smf.ols(formula, d).fit()
        names = list(res.params.index) if res is not None else []
        fit = {"omnibus_p": np.nan, "df_resid": np.nan, "note": note}
        if res is not None:  # the factor's terms: every coefficient but the intercept
            fit |= {"omnibus_p": float(res.f_test(np.eye(len(names))[1:]).pvalue)}
            fit |= {"df_resid": float(res.df_resid)}
        pairs = [(a, b) for i, a in enumerate(levels) for b in levels[i + 1 :]]
        if len(levels) > max_levels:  # the top pairs of groups of 2+ by absolute mean difference
            g = d.groupby(factor)[m].agg(["mean", "size"])
            g = g.loc[g["size"] >= 2, "mean"]
            sized = [(abs(g[b] - g[a]), a, b) for a, b in pairs if a in g.index and b in g.index]
            pairs = [(a, b) for _, a, b in sorted(sized, key=lambda x: -x[0])[:top]]
        for a, b in pairs:
            va, vb = d.loc[d[factor] == a, m], d.loc[d[factor] == b, m]
            values = (m, factor, a, b, len(va), len(vb), va.mean(), vb.mean())
            row = dict(zip(CONTRAST_COLUMNS[:8], values, strict=True)) | fit
            if res is not None:
                L = [float(n.endswith(f"[T.{b}]")) - float(n.endswith(f"[T.{a}]")) for n in names]
                t = res.t_test(np.array(L))
                lo, hi = np.asarray(t.conf_int(alpha=alpha)).ravel()
                row |= {"diff": float(np.ravel(t.effect)[0]), "ci_low": float(lo)}
                row |= {"ci_high": float(hi), "p": float(np.ravel(t.pvalue)[0])}
            row["hedges_g"], row["g_ci_low"], row["g_ci_high"] = hedges_g(va, vb, alpha)
            rows.append(row | {"family": len(levels) * (len(levels) - 1) // 2})
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    out["p_adj"] = family_adjust(out, method)
    return out


def family_adjust(table: pd.DataFrame, method: str = "holm") -> np.ndarray:
    """``p_adj`` with one family per factor: ``method`` over its contrasts when all its pairs are
    tested, else Bonferroni over the ``family`` size (all pairs of its levels, per measure): a
    correction over the largest pairs only would be optimistic."""
    out = np.full(len(table), np.nan)
    for _, idx in table.groupby("factor", sort=False).groups.items():
        pos = table.index.get_indexer(idx)
        part = table.iloc[pos]
        p = part["p"].to_numpy(float)
        family = int(part["family"].max()) if part["family"].notna().any() else len(part)
        if int(part[["measure"]].value_counts().max()) < family:  # only the top pairs tested
            out[pos] = np.minimum(1.0, p * (family * part["measure"].nunique()))
        else:
            out[pos] = adjust_p(p, method)
    return out


def compare_factors(
    sessions: pd.DataFrame,
    measures: Names,
    factors: Names,
    method: str = "holm",
    alpha: float = 0.05,
    standardize: bool = True,
    max_levels: int = 12,
    top: int = 10,
) -> pd.DataFrame:
    """:func:`compare_groups` for each factor, stacked, with a ``contrast`` label
    (``factor: b − a``)."""
    args = (method, alpha, standardize, max_levels, top)
    parts = [p for f in factors if len(p := compare_groups(sessions, measures, f, *args))]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CONTRAST_COLUMNS)
    out["contrast"] = out.factor + ": " + out.group_b + " − " + out.group_a
    return out


CORRELATION_COLUMNS = ["measure", "outcome", "method", "n", "r", "ci_low", "ci_high", "p", "p_adj"]


def outcome_correlations(
    sessions: pd.DataFrame,
    measures: Names,
    outcomes: Names,
    method: str = "spearman",
    correction: str = "holm",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """``method`` (``spearman`` or ``pearson``) correlation of every session measure with every
    outcome across sessions. CIs: ``pearsonr(...).confidence_interval()``, or for Spearman the
    Fisher z with the Bonett & Wright (2000) SE ``sqrt((1 + r^2/2)/(n-3))``; NaN with n <= 3.
    ``p_adj`` corrects across the table. Columns :data:`CORRELATION_COLUMNS`."""
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for o in outcomes:
        for m in measures:
            d = sessions[[m, o]].dropna()
            n = len(d)
            r = p = lo = hi = float("nan")
            if n >= 3 and d[m].std() > 0 and d[o].std() > 0:
                res = (stats.spearmanr if method == "spearman" else stats.pearsonr)(d[m], d[o])
                r, p = float(res[0]), float(res[1])
                if method == "pearson" and n > 3:
                    ci = res.confidence_interval(1 - alpha)
                    lo, hi = float(ci.low), float(ci.high)
                elif n > 3 and abs(r) < 1:  # Bonett & Wright SE on the Fisher z scale
                    se = np.sqrt((1 + r * r / 2) / (n - 3))
                    lo, hi = (float(np.tanh(np.arctanh(r) + s * z * se)) for s in (-1, 1))
            rows.append((m, o, method, n, r, lo, hi, p))
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS[:-1])
    out["p_adj"] = adjust_p(out["p"].to_numpy(float), correction)
    return out
