"""Which session-metadata columns group sessions (factors) and which rate them (outcomes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from therapy_turns.analysis.sessions import MetadataError, read_metadata
from therapy_turns.analysis.stats import MIXEDLM_COLUMNS, mixedlm_table
from therapy_turns.paths import project_path

log = logging.getLogger(__name__)

#: A categorical column with this many distinct values (inclusive) is a factor by default.
MIN_LEVELS, MAX_LEVELS = 2, 12


@dataclass(frozen=True)
class Roles:
    """The metadata columns analysed: ``factors`` (groups) and ``outcomes`` (numeric ratings),
    with the columns left out and why."""

    factors: list[str]
    outcomes: list[str]
    skipped: dict[str, str]

    @property
    def first_factor(self) -> str | None:
        """The factor drawn and modelled at turn level (the first), None without factors."""
        return self.factors[0] if self.factors else None

    def table(self) -> pd.DataFrame:
        """One row per metadata column: its role, or why it was left out."""
        rows = [(c, "factor", "") for c in self.factors] + [
            (c, "outcome", "") for c in self.outcomes] + [
            (c, "not used", why) for c, why in self.skipped.items()]
        return pd.DataFrame(rows, columns=["column", "role", "reason"])


def metadata_roles(metadata: pd.DataFrame, factors: Sequence[str] = (),
                   outcomes: Sequence[str] = (), min_levels: int = MIN_LEVELS,
                   max_levels: int = MAX_LEVELS, source: str = "metadata") -> Roles:
    """Factors and outcomes of a metadata table (``session_id`` + columns).

    Columns named in ``factors``/``outcomes`` are used as given (a name that is not a column is
    a :class:`MetadataError` naming it and the columns there are). When a list is empty it is
    chosen: factors are the non-numeric columns with ``min_levels`` to ``max_levels`` distinct
    values and some value shared by two sessions (free text and ids are not groups), outcomes the
    numeric columns. Every other column is listed in ``skipped`` with why.
    """
    cols = [c for c in metadata.columns if c != "session_id"]
    missing = [c for c in [*factors, *outcomes] if c not in cols]
    if missing:
        raise MetadataError(f"{source}: no column {', '.join(map(repr, missing))}; "
                            f"its columns are {cols}")
    skipped: dict[str, str] = {}
    numeric = {c for c in cols if pd.api.types.is_numeric_dtype(metadata[c])
               and not pd.api.types.is_bool_dtype(metadata[c])}
    if not factors:
        chosen = []
        for c in cols:
            if c in numeric or c in outcomes:
                continue
            k = metadata[c].nunique(dropna=True)
            if k == metadata[c].notna().sum() and k > 1:
                skipped[c] = "a different value in every session"
            elif min_levels <= k <= max_levels:
                chosen.append(c)
            else:
                skipped[c] = f"{k} distinct values (factors need {min_levels}–{max_levels})"
        factors = chosen
    if not outcomes:
        outcomes = [c for c in cols if c in numeric and c not in factors]
    for c in cols:
        if c not in factors and c not in outcomes and c not in skipped:
            skipped[c] = "not selected"
    return Roles(list(factors), list(outcomes), skipped)


def read_roles(path: str | Path | None, factors: Sequence[str] = (),
               outcomes: Sequence[str] = (), max_levels: int = MAX_LEVELS) -> Roles:
    """:func:`metadata_roles` of a metadata CSV (no file: no factors, no outcomes); ``path`` is
    a notebook parameter (relative: to the project root)."""
    if not path:
        return Roles([], [], {})
    return metadata_roles(read_metadata(project_path(path)), factors, outcomes,
                          max_levels=max_levels,
                          source=str(path))


def metadata_labels(path: str | Path | None, column: str) -> dict[str, str]:
    """``session_id -> label`` from one metadata column (e.g. the patient archetype); empty when
    there is no metadata file or no such column (logged), so checks that need it are skipped."""
    if not path:
        return {}
    df = read_metadata(project_path(path))  # a notebook parameter: relative to the project root
    if column not in df.columns:
        log.warning("%s: no column %r (columns: %s); checks by %s skipped", path, column,
                    list(df.columns), column)
        return {}
    d = df.dropna(subset=[column])
    return dict(zip(d["session_id"], d[column].astype(str), strict=True))


def group_turn_model(turn_rows: pd.DataFrame, value: str, factor: str | None) -> pd.DataFrame:
    """Turn-level MixedLM ``value ~ C(factor) + position`` with a random intercept per session
    (:func:`therapy_turns.analysis.stats.mixedlm_table`); an empty table without a factor."""
    if factor is None:
        return pd.DataFrame(columns=MIXEDLM_COLUMNS)
    d = turn_rows.dropna(subset=[factor])
    return mixedlm_table(d, [value], f"C(Q('{factor}')) + position")
