"""Session-level summaries of the turn-level tables, and the join to session metadata.

:func:`summarise_sessions` turns one chunk of turn-level tables into one row per session; it is
run per chunk by :mod:`therapy_turns.analysis` (a session never spans two chunks), so the
``sessions`` table is built while streaming. Measures (all over *analysed* turns, i.e. after the
exclusion policy of :func:`therapy_turns.transcripts.analysable`):

- counts: ``n_turns`` (all), ``n_analysed``, ``n_patient``, ``n_therapist`` (analysed), and
  ``patient_words``, ``therapist_words`` (whitespace tokens), ``patient_word_share``;
- for every numeric column ``c`` of a per-turn table ``t`` (``features``, ``emotion``, ...):
  ``t__c__patient`` and ``t__c__therapist``, the session mean per speaker;
- for every numeric column of ``emotion``: ``emotion__c__patient_slope``, the OLS slope of the
  patient's score over the session's relative position (0 = first turn, 1 = last turn), so
  sessions of different length are comparable (units: score change over a whole session);
- for every boolean column ``c`` of ``techniques``: ``techniques__c__rate``, the share of
  analysed therapist turns coded ``c``; and ``techniques__transition_entropy``: the conditional
  entropy (bits) of the next therapist turn's primary code given the current one (see
  :func:`transition_entropy`), when the techniques table has a primary-code column.

Double underscores separate table, column and statistic, so the origin of every measure is
readable and names never collide. Metadata columns are joined by ``session_id``
(:func:`join_metadata`); ids present on one side only are reported, never silently dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .paths import project_path
from .transcripts import FLAGS, analysable

log = logging.getLogger(__name__)

KEYS = ["session_id", "turn", "speaker"]
SPEAKERS = ("patient", "therapist")
#: tables whose numeric columns get a patient trend (slope over the session)
TREND_TABLES = ("emotion",)
#: candidate names of the one-code-per-turn column of the techniques table, first found wins
PRIMARY_CODE_COLUMNS = ("primary", "primary_code", "technique", "code")
SEP = "__"


# --------------------------------------------------------------------------- summaries
def _analysed_mask(turns: pd.DataFrame, exclude: Sequence[str]) -> np.ndarray:
    return turns.index.isin(analysable(turns, tuple(exclude)).index)


def _numeric_columns(df: pd.DataFrame) -> list[str]:
    skip = set(KEYS) | {"exchange"} | set(FLAGS)
    return [c for c in df.columns if c not in skip and pd.api.types.is_numeric_dtype(df[c])
            and not pd.api.types.is_bool_dtype(df[c])]


def _bool_columns(df: pd.DataFrame) -> list[str]:
    skip = set(KEYS) | set(FLAGS)
    return [c for c in df.columns if c not in skip and pd.api.types.is_bool_dtype(df[c])]


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """OLS slope of ``y`` on ``x`` ignoring NaNs; NaN with fewer than 3 points or constant x."""
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def transition_entropy(codes: Sequence[str]) -> float:
    """Conditional entropy H(next | current) in bits of a sequence of codes.

    ``sum_a p(a) * H(next | current = a)`` with probabilities estimated from the observed
    transitions (plug-in estimate). 0 when each code is always followed by the same code;
    NaN with fewer than two codes.
    """
    codes = [c for c in codes if isinstance(c, str) and c]
    if len(codes) < 2:
        return float("nan")
    pairs = pd.DataFrame({"a": codes[:-1], "b": codes[1:]})
    counts = pairs.value_counts()
    total = counts.sum()
    row = counts.groupby(level="a").transform("sum")
    p_ab = counts / total
    p_b_given_a = counts / row
    return float(-(p_ab * np.log2(p_b_given_a)).sum())


def summarise_sessions(turns: pd.DataFrame, tables: Mapping[str, pd.DataFrame],
                       exclude: Sequence[str] = ("generation_error", "missing_answer")
                       ) -> pd.DataFrame:
    """One row per session of ``turns`` (in order of appearance) with the measures listed in the
    module docstring. ``tables`` maps table name to a turn-level table keyed ``session_id, turn``.
    """
    ids = list(dict.fromkeys(turns["session_id"].astype(str)))
    out = pd.DataFrame({"session_id": pd.Series(ids, dtype="str")})
    if turns.empty:
        for c in ("n_turns", "n_analysed", "n_patient", "n_therapist", "patient_words",
                  "therapist_words"):
            out[c] = pd.Series(dtype="int64")
        out["patient_word_share"] = pd.Series(dtype="float64")
        return out
    mask = _analysed_mask(turns, exclude)
    base = turns[["session_id", "turn", "speaker"]].assign(session_id=lambda d: d.session_id
                                                           .astype(str))
    kept = base[mask]
    words = turns["text"].fillna("").str.split().str.len()[mask]
    g = base.groupby("session_id", sort=False)
    out["n_turns"] = out.session_id.map(g.size()).astype("int64")
    out["n_analysed"] = out.session_id.map(kept.groupby("session_id").size()).fillna(0).astype(
        "int64")
    for sp in SPEAKERS:
        is_sp = kept.speaker == sp
        out[f"n_{sp}"] = out.session_id.map(kept[is_sp].groupby("session_id").size()).fillna(
            0).astype("int64")
        out[f"{sp}_words"] = out.session_id.map(
            words[is_sp.to_numpy()].groupby(kept.session_id[is_sp]).sum()).fillna(0).astype(
            "int64")
    total = out.patient_words + out.therapist_words
    out["patient_word_share"] = (out.patient_words / total.where(total > 0)).astype("float64")
    rel = base.turn / (base.groupby("session_id").turn.transform("max").where(lambda s: s > 0))
    position = pd.DataFrame({"session_id": base.session_id, "turn": base.turn,
                             "position": rel.astype("float64")})[mask]

    for name in sorted(tables):
        df = tables[name]
        if df is None or "turn" not in df.columns:
            continue
        df = df.assign(session_id=df.session_id.astype(str)).merge(
            position, on=["session_id", "turn"], how="inner")
        if "speaker" not in df.columns:
            df = df.merge(kept[["session_id", "turn", "speaker"]], on=["session_id", "turn"])
        num = _numeric_columns(df.drop(columns=["position"]))
        for sp in SPEAKERS:
            part = df[df.speaker == sp]
            if part.empty or not num:
                continue
            means = part.groupby("session_id")[num].mean()
            for c in num:
                out[f"{name}{SEP}{c}{SEP}{sp}"] = out.session_id.map(means[c]).astype("float64")
        if name in TREND_TABLES:
            pat = df[df.speaker == "patient"]
            for c in num:
                slopes = {sid: slope(p.position.to_numpy(float), p[c].to_numpy(float))
                          for sid, p in pat.groupby("session_id", sort=False)}
                out[f"{name}{SEP}{c}{SEP}patient_slope"] = out.session_id.map(slopes).astype(
                    "float64")
        if name == "techniques":
            ther = df[df.speaker == "therapist"]
            for c in _bool_columns(df):
                rates = ther.groupby("session_id")[c].mean()
                out[f"{name}{SEP}{c}{SEP}rate"] = out.session_id.map(rates).astype("float64")
            code = next((c for c in PRIMARY_CODE_COLUMNS if c in df.columns), None)
            if code is not None:
                ent = {sid: transition_entropy(p.sort_values("turn")[code].tolist())
                       for sid, p in ther.groupby("session_id", sort=False)}
                out[f"{name}{SEP}transition_entropy"] = out.session_id.map(ent).astype("float64")
    return out


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
    """Read a session metadata CSV keyed by ``session_id`` (read as text: ``007`` stays ``007``).

    Lines starting with ``#`` are comments. Raises :class:`MetadataError` without a
    ``session_id`` column or with duplicate ids.
    """
    p = project_path(path)
    df = pd.read_csv(p, comment="#", dtype={"session_id": "str"}, skipinitialspace=True)
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
    from .analysis import read_manifest

    manifest = read_manifest(analysis_dir) or {}
    info = manifest.get("metadata")
    if not info:
        return None
    return MetadataReport(**{k: info[k] for k in MetadataReport.__dataclass_fields__})
