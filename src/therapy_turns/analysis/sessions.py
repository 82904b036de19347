"""Session-level summaries of the turn-level tables, and the join to session metadata.

:func:`summarise_sessions` turns one chunk of turn-level tables into one row per session; it is
run per chunk by :mod:`therapy_turns.pipeline` (a session never spans two chunks), so the
``sessions`` table is built while streaming. Measures (all over *analysed* turns, i.e. after the
exclusion policy of :func:`therapy_turns.io.transcripts.analysable`):

- counts: ``n_turns`` (all), ``n_analysed``, ``n_patient``, ``n_therapist`` (analysed), and
  ``patient_words``, ``therapist_words`` (words as :mod:`therapy_turns.schema` defines them: the
  sums of the features table's ``n_words``), ``patient_word_share``;
- for every registered measure (:mod:`therapy_turns.measures.registry`), the columns of its
  aggregations, named ``<measure>__<column>__<statistic>``: by default the session mean of every
  numeric column per speaker it applies to (``features__mattr__patient``); the measures declare
  the others (``emotion__valence__patient_slope``, ``emotion__valence__patient_ued_rmssd``,
  ``techniques__form_open_question__rate``, ``techniques__transition_entropy``, the MI session
  indices ``techniques__mi_<index>`` of :func:`analysis.mi.session_indices`). The manifest
  lists every measure's columns with their meaning and unit.

Double underscores separate table, column and statistic, so the origin of every measure is
readable and names never collide. Metadata columns are joined by ``session_id``
(:func:`join_metadata`); ids present on one side only are reported, never silently dropped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from therapy_turns.io.transcripts import analysable
from therapy_turns.measures import backchannels, registry
from therapy_turns.measures.registry import Measure
from therapy_turns.paths import project_path
from therapy_turns.schema import DEFAULT_EXCLUDE, SPEAKERS, count_words
from therapy_turns.store import iter_partitions, load_table, read_manifest, sort_rows

log = logging.getLogger(__name__)

COUNT_COLUMNS = ("n_turns", "n_analysed", "n_patient", "n_therapist", "patient_words",
                 "therapist_words")


# --------------------------------------------------------------------------- summaries
def summarise_sessions(turns: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                       exclude: Sequence[str] = DEFAULT_EXCLUDE,
                       exclude_backchannels: bool = True, *,
                       measures: Mapping[str, Measure] | None = None) -> pd.DataFrame:
    """One row per session of ``turns`` (in order of appearance) with the measures listed in the
    module docstring. ``tables`` maps a measure name to its turn-level table (keyed
    ``session_id, turn``); ``measures`` maps names to :class:`Measure` (default: the registry).
    With ``exclude_backchannels`` the aggregations of measures declared ``skip_backchannels``
    (emotion: means, slopes, UED) leave out backchannels and minimal responses
    (:mod:`therapy_turns.measures.backchannels`); ``n_backchannels`` counts the analysed patient
    ones.
    """
    sid = turns["session_id"].astype(str)
    code, uniques = pd.factorize(sid, sort=False)  # session index, in order of appearance
    ids = pd.Index(uniques, dtype="str", name="session_id")
    out = pd.DataFrame({"session_id": pd.Series(ids, dtype="str")})
    if turns.empty:
        for c in COUNT_COLUMNS:
            out[c] = pd.Series(dtype="int64")
        out["patient_word_share"] = pd.Series(dtype="float64")
        return out
    mask = turns.index.isin(analysable(turns, tuple(exclude)).index)
    words = np.fromiter((count_words(t) for t in turns["text"].fillna("")), dtype=np.int64,
                        count=len(turns))
    speaker = turns["speaker"].to_numpy()

    def per_session(rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights[rows]
        return np.bincount(code[rows], w, minlength=len(ids)).astype("int64")

    out["n_turns"] = per_session(np.ones(len(code), bool))
    out["n_analysed"] = per_session(mask)
    for sp in SPEAKERS:
        is_sp = mask & (speaker == sp)
        out[f"n_{sp}"] = per_session(is_sp)
        out[f"{sp}_words"] = per_session(is_sp, words)
    total = out.patient_words + out.therapist_words
    out["patient_word_share"] = (out.patient_words / total.where(total > 0)).astype("float64")
    is_bc = backchannels.mask(turns).to_numpy()
    out["n_backchannels"] = per_session(mask & is_bc & (speaker == "patient"))
    dropped = turns.loc[is_bc, ["session_id", "turn"]].assign(
        session_id=lambda d: d.session_id.astype(str)) if exclude_backchannels else None
    turn = turns["turn"]
    last = pd.Series(turn.to_numpy()).groupby(code).max().where(lambda s: s > 0)
    position = pd.DataFrame({"session_id": sid, "turn": turn, "speaker": speaker,
                             "position": (turn / last.to_numpy()[code]).astype("float64")}
                            )[mask]
    rows: dict[str, pd.DataFrame] = {}  # each measure's rows of the analysed turns, in order
    found = {name: (measures or {}).get(name) or registry.get(name) for name in tables}
    for name, df in tables.items():
        r = df.drop(columns=["speaker"], errors="ignore").assign(
            session_id=df.session_id.astype(str)).merge(position, on=["session_id", "turn"])
        if found[name].skip_backchannels and dropped is not None and len(dropped):
            r = r.merge(dropped, on=["session_id", "turn"], how="left", indicator=True)
            r = r[r.pop("_merge") == "left_only"]
        rows[name] = r.sort_values(["session_id", "turn"], kind="mergesort")
    parts = [found[name].summarise(r, ids, rows) for name, r in rows.items()]
    return pd.concat([out, *(p.reset_index(drop=True) for p in parts)], axis=1)


# --------------------------------------------------------------------------- metadata
class MetadataError(ValueError):
    """The metadata file cannot be used (no ``session_id`` column, duplicate ids)."""


@dataclass
class MetadataReport:
    """How the metadata matched the corpus."""

    n_metadata: int = 0
    n_matched: int = 0
    #: corpus sessions without a metadata row (kept, metadata columns empty)
    missing_metadata: list[str] = field(default_factory=list)
    #: metadata ids with no session in the corpus (listed here, not joined)
    unknown_ids: list[str] = field(default_factory=list)
    #: metadata columns renamed because a summary column has the same name
    renamed_columns: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form for the manifest."""
        return asdict(self)


def read_metadata(path: str | Path) -> pd.DataFrame:
    """Read a session metadata CSV keyed by ``session_id`` (read as text: ``007`` stays ``007``);
    a relative ``path`` is relative to the current folder.

    Lines starting with ``#`` are comments. Raises :class:`MetadataError` without a
    ``session_id`` column or with duplicate ids.
    """
    p = Path(path)
    try:
        df = pd.read_csv(p, comment="#", dtype={"session_id": "str"}, skipinitialspace=True)
    except FileNotFoundError:
        raise MetadataError(f"{p}: no such file; expected a session metadata CSV") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise MetadataError(f"{p}: not a readable CSV ({str(e).strip().splitlines()[-1]}); "
                            "expected a header row with session_id and one row per session"
                            ) from None
    if "session_id" not in df.columns:
        raise MetadataError(f"{p}: found columns {list(df.columns)}; expected a session_id column")
    df["session_id"] = df["session_id"].str.strip()
    dup = df.session_id[df.session_id.duplicated()].unique().tolist()
    if dup:
        raise MetadataError(f"{p}: session ids listed twice: {sorted(dup)[:10]}")
    return df


def join_metadata(sessions: pd.DataFrame, metadata: pd.DataFrame | None
                  ) -> tuple[pd.DataFrame, MetadataReport]:
    """Left-join ``metadata`` onto the session summaries by ``session_id``; add ``has_metadata``.

    Corpus sessions without metadata keep their row; metadata ids not in the corpus are listed
    in the report. Both are logged as warnings.
    """
    report = MetadataReport()
    out = sessions.copy()
    if metadata is None:
        return out, report
    meta = metadata.copy()
    meta["session_id"] = meta["session_id"].astype(str)
    clash = [c for c in meta.columns if c != "session_id" and c in out.columns]
    report.renamed_columns = {c: f"meta_{c}" for c in clash}
    meta = meta.rename(columns=report.renamed_columns)
    corpus_ids, meta_ids = set(out.session_id.astype(str)), set(meta.session_id)
    report.n_metadata = len(meta)
    report.n_matched = len(corpus_ids & meta_ids)
    report.missing_metadata = sorted(corpus_ids - meta_ids)
    report.unknown_ids = sorted(meta_ids - corpus_ids)
    if report.missing_metadata:
        log.warning("%d corpus sessions have no metadata: %s", len(report.missing_metadata),
                    ", ".join(report.missing_metadata[:10]))
    if report.unknown_ids:
        log.warning("%d metadata session ids are not in the corpus: %s", len(report.unknown_ids),
                    ", ".join(report.unknown_ids[:10]))
    if clash:
        log.warning("metadata columns renamed (clash with summaries): %s", report.renamed_columns)
    out = out.merge(meta, on="session_id", how="left", validate="one_to_one")
    out["has_metadata"] = out.session_id.isin(meta_ids)
    return out, report


def metadata_report(analysis_dir: str | Path) -> MetadataReport | None:
    """The metadata report stored in the manifest of ``analysis_dir`` (None without metadata)."""

    manifest = read_manifest(analysis_dir) or {}
    info = manifest.get("metadata")
    if not info:
        return None
    return MetadataReport(**{k: info[k] for k in MetadataReport.__dataclass_fields__})


# --------------------------------------------------------------------------- group comparisons
def adjust_p(p: Sequence[float], method: str = "holm") -> np.ndarray:
    """Multiple-comparison adjusted p-values (statsmodels ``multipletests``), NaNs kept."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method=method)[1]
    return out


def hedges_g(a: Sequence[float], b: Sequence[float], alpha: float = 0.05
             ) -> tuple[float, float, float]:
    """Hedges' g of ``b`` minus ``a`` (pooled SD, small-sample correction) with its normal-
    approximation CI (SE of Hedges & Olkin 1985). NaNs with fewer than 2 values per group."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2:
        return (float("nan"),) * 3
    sp = np.sqrt(((na - 1) * a.var(ddof=1) + (nb - 1) * b.var(ddof=1)) / (na + nb - 2))
    if sp == 0:
        return (float("nan"),) * 3
    g = (b.mean() - a.mean()) / sp * (1 - 3 / (4 * (na + nb) - 9))
    se = np.sqrt((na + nb) / (na * nb) + g * g / (2 * (na + nb)))
    z = stats.norm.ppf(1 - alpha / 2)
    return float(g), float(g - z * se), float(g + z * se)


CONTRAST_COLUMNS = ["measure", "factor", "group_a", "group_b", "n_a", "n_b", "mean_a", "mean_b",
                    "diff", "ci_low", "ci_high", "p", "p_adj", "hedges_g", "g_ci_low",
                    "g_ci_high", "omnibus_p", "df_resid", "family", "note"]


def compare_groups(sessions: pd.DataFrame, measures: Sequence[str], factor: str,
                   covariates: Sequence[str] = (), method: str = "holm", alpha: float = 0.05,
                   standardize: bool = False, max_levels: int = 12, top: int = 10
                   ) -> pd.DataFrame:
    """Session-level group comparison: per measure an OLS ``measure ~ C(factor) + covariates``,
    the omnibus F-test of the factor, and every pairwise contrast ``group_b - group_a`` (levels in
    sorted order) with its CI and p-value from the model, ``p_adj`` corrected with ``method``
    across all contrasts of the table, and Hedges' g (raw group values) with a 95% CI.

    Sessions missing the measure, the factor or a covariate are left out of that measure's model
    (``n_a``/``n_b`` say how many remained). With ``standardize`` the measure is z-scored over
    those sessions first, so ``diff`` and its CI are in SD units comparable across measures (and
    defined even for one-session groups, unlike Hedges' g). A measure that cannot be fitted (fewer
    than two groups, no residual degrees of freedom, constant) gives rows with a ``note``.
    A factor with more than ``max_levels`` levels gets its omnibus test and only the ``top``
    pairs with the largest absolute difference in group means (groups of two or more sessions);
    their ``p_adj`` is Bonferroni over all ``k(k-1)/2`` pairs (``family`` says how many), as
    choosing the pairs by their size would make a correction over the shown ones optimistic.
    Columns: :data:`CONTRAST_COLUMNS`.
    """
    import statsmodels.formula.api as smf

    rows: list[dict[str, object]] = []
    for m in measures:
        d = sessions[[m, factor, *covariates]].dropna()
        if standardize and len(d) > 1 and d[m].std() > 0:
            d = d.assign(**{m: (d[m] - d[m].mean()) / d[m].std()})
        levels = sorted(d[factor].astype(str).unique())
        d = d.assign(**{factor: d[factor].astype(str)})
        rhs = " + ".join([f"C(Q('{factor}'), Treatment('{levels[0]}'))" if levels else "1",
                          *[f"Q('{c}')" for c in covariates]])
        note, res = "", None
        if len(levels) < 2:
            note = "fewer than two groups"
        elif len(d) - (len(levels) + len(covariates)) < 1:
            note = "no residual degrees of freedom"
        elif d[m].std() == 0:
            note = "constant measure"
        else:
            res = smf.ols(f"Q('{m}') ~ {rhs}", d).fit()
        names = list(res.params.index) if res is not None else []
        fterms = [n for n in names if n.startswith("C(")]
        omni = float(res.f_test(np.eye(len(names))[[names.index(t) for t in fterms]]).pvalue) \
            if res is not None else float("nan")
        for a, b in _pairs(d, m, factor, levels, max_levels, top):
                va, vb = d.loc[d[factor] == a, m], d.loc[d[factor] == b, m]
                row: dict[str, object] = {
                    "measure": m, "factor": factor, "group_a": a, "group_b": b,
                    "n_a": len(va), "n_b": len(vb), "mean_a": va.mean(), "mean_b": vb.mean(),
                    "omnibus_p": omni, "note": note,
                    "df_resid": float(res.df_resid) if res is not None else float("nan")}
                if res is not None:
                    L = np.zeros(len(names))
                    for lev, sign in ((b, 1.0), (a, -1.0)):
                        term = next((n for n in fterms if n.endswith(f"[T.{lev}]")), None)
                        if term is not None:
                            L[names.index(term)] = sign
                    t = res.t_test(L)
                    ci = np.asarray(t.conf_int(alpha=alpha)).ravel()
                    row.update(diff=float(np.ravel(t.effect)[0]), ci_low=float(ci[0]),
                               ci_high=float(ci[1]), p=float(np.ravel(t.pvalue)[0]))
                row["hedges_g"], row["g_ci_low"], row["g_ci_high"] = hedges_g(va, vb, alpha)
                row["family"] = len(levels) * (len(levels) - 1) // 2
                rows.append(row)
    out = pd.DataFrame(rows, columns=CONTRAST_COLUMNS)
    out["p_adj"] = family_adjust(out, method)
    return out


def _pairs(d: pd.DataFrame, m: str, factor: str, levels: Sequence[str], max_levels: int,
           top: int) -> list[tuple[str, str]]:
    """Every pair of levels, or for a factor with more than ``max_levels`` levels the ``top``
    pairs (of groups with two or more sessions) with the largest absolute mean difference."""
    pairs = [(a, b) for i, a in enumerate(levels) for b in levels[i + 1:]]
    if len(levels) <= max_levels:
        return pairs
    g = d.groupby(factor)[m].agg(["mean", "size"])
    g = g[g["size"] >= 2]["mean"]
    sized = [(abs(g[b] - g[a]), a, b) for a, b in pairs if a in g.index and b in g.index]
    return [(a, b) for _, a, b in sorted(sized, key=lambda x: -x[0])[:top]]


def family_adjust(table: pd.DataFrame, method: str = "holm") -> np.ndarray:
    """``p_adj`` with one family per factor: ``method`` over the factor's contrasts when all of
    its pairs are tested, else Bonferroni over the ``family`` size (all pairs of its levels)."""
    out = np.full(len(table), np.nan)
    for _, idx in table.groupby("factor", sort=False).groups.items():
        pos = table.index.get_indexer(idx)
        part = table.iloc[pos]
        p = part["p"].to_numpy(float)
        family = int(part["family"].max()) if part["family"].notna().any() else len(part)
        n_pairs = int(part[["measure"]].value_counts().max()) if len(part) else 0
        if n_pairs < family:  # only the top pairs are tested: Bonferroni over every pair
            n = family * part["measure"].nunique()
            out[pos] = np.minimum(1.0, p * n)
        else:
            out[pos] = adjust_p(p, method)
    return out


def compare_factors(sessions: pd.DataFrame, measures: Sequence[str], factors: Sequence[str],
                    method: str = "holm", alpha: float = 0.05, standardize: bool = True,
                    max_levels: int = 12, top: int = 10) -> pd.DataFrame:
    """:func:`compare_groups` for each factor, stacked, with ``p_adj`` corrected within each
    factor's family of contrasts (over all its measures; :func:`family_adjust`) and a readable
    ``contrast`` label (``factor: b − a``)."""
    parts = [compare_groups(sessions, measures, f, (), method, alpha, standardize, max_levels,
                            top) for f in factors]
    parts = [p for p in parts if len(p)]
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=CONTRAST_COLUMNS)
    out["contrast"] = out.factor + ": " + out.group_b + " − " + out.group_a
    return out


CORRELATION_COLUMNS = ["measure", "outcome", "method", "n", "r", "ci_low", "ci_high", "p",
                       "p_adj"]


def outcome_correlations(sessions: pd.DataFrame, measures: Sequence[str],
                         outcomes: Sequence[str], method: str = "spearman",
                         correction: str = "holm", alpha: float = 0.05) -> pd.DataFrame:
    """Correlation of every session measure with every outcome rating, across sessions.

    ``method`` ``spearman`` (default, robust to the ordinal ratings) or ``pearson``. CIs:
    scipy's ``pearsonr(...).confidence_interval()`` (Fisher z, SE ``1/sqrt(n-3)``) or the
    Fisher z transform with the Bonett & Wright (2000) SE ``sqrt((1 + r^2/2)/(n-3))``
    (Spearman); NaN with n <= 3. ``p_adj`` corrects across the table.
    Columns: :data:`CORRELATION_COLUMNS`.
    """
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
            rows.append({"measure": m, "outcome": o, "method": method, "n": n, "r": r,
                         "ci_low": lo, "ci_high": hi, "p": p})
    out = pd.DataFrame(rows, columns=CORRELATION_COLUMNS)
    out["p_adj"] = adjust_p(out["p"].to_numpy(float), correction)
    return out


def with_session_columns(table: pd.DataFrame, sessions: pd.DataFrame, columns: Sequence[str]
                         ) -> pd.DataFrame:
    """A turn-level table with session-level columns (e.g. metadata) added by ``session_id``;
    sessions without a value keep NaN (no row is dropped)."""
    s = sessions[["session_id", *columns]].assign(session_id=lambda d: d.session_id.astype(str))
    return table.assign(session_id=table.session_id.astype(str)).merge(
        s, on="session_id", how="left", validate="many_to_one")


def load_sessions(corpus: str | Path | Sequence[str | Path], analysis_dir: str | Path,
                  metadata: str | Path | None = None,
                  exclude: Sequence[str] = DEFAULT_EXCLUDE
                  ) -> tuple[pd.DataFrame, MetadataReport]:
    """The ``sessions`` table for ``exclude`` and ``metadata`` (``""``/None: none), sorted by
    ``session_id``, and the metadata report.

    Reads the stored table when the build used the same exclusion policy and metadata file
    (same bytes); otherwise recomputes the summaries from the stored turn-level tables,
    partition by partition (no reparsing), and joins ``metadata``.
    """

    load_table("turns", corpus, analysis_dir)  # raises if missing or stale
    manifest = read_manifest(analysis_dir) or {}
    meta = project_path(metadata) if metadata else None
    built = manifest.get("metadata") or {}
    same_meta = (meta is None and not built) or (
        meta is not None and bool(built) and built.get("sha256") == _sha256(meta))
    same_excl = list(manifest.get("parameters", {}).get("exclude", [])) == list(exclude)
    if same_meta and same_excl:
        report = metadata_report(analysis_dir) or MetadataReport()
        return sort_rows(load_table("sessions", corpus, analysis_dir)), report
    names = [n for n in registry.names() if n in manifest.get("tables", [])]
    parts = [summarise_sessions(t, dict(zip(names, rest, strict=True)), exclude)
             for t, *rest in zip(iter_partitions("turns", analysis_dir),
                                 *(iter_partitions(n, analysis_dir) for n in names),
                                 strict=True)]
    summ = pd.concat(parts, ignore_index=True)
    out, report = join_metadata(summ, read_metadata(meta) if meta is not None else None)
    return sort_rows(out), report


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def turn_data(table: pd.DataFrame, turns: pd.DataFrame, sessions: pd.DataFrame,
              columns: Sequence[str], speaker: str = "patient",
              exclude: Sequence[str] = DEFAULT_EXCLUDE) -> pd.DataFrame:
    """Turn-level rows of ``table`` for one speaker's analysed turns, with ``position`` (turn /
    last turn of the session, 0..1) and the session-level ``columns`` (e.g. metadata) added."""
    keep = analysable(turns, tuple(exclude))
    last = turns.groupby("session_id").turn.max().rename("last_turn")
    d = table[table.speaker == speaker].merge(keep[["session_id", "turn"]],
                                              on=["session_id", "turn"])
    d = d.merge(last, left_on="session_id", right_index=True)
    d["position"] = (d.turn / d.last_turn.where(d.last_turn > 0)).astype("float64")
    return with_session_columns(d.drop(columns=["last_turn"]), sessions, columns)
