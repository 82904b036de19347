"""Which session-metadata columns group sessions (factors) and which rate them (outcomes)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pandas.api.types import is_bool_dtype, is_numeric_dtype

from therapy_turns.analysis.sessions import MetadataError, read_metadata
from therapy_turns.analysis.stats import MIXEDLM_COLUMNS, mixedlm_table
from therapy_turns.paths import project_path

log = logging.getLogger(__name__)

#: A categorical column with this many distinct values (inclusive) is a factor by default.
MIN_LEVELS, MAX_LEVELS = 2, 12
Names = Sequence[str]


@dataclass(frozen=True)
class Roles:
    """The metadata columns analysed (``factors``, ``outcomes``) and those left out, with why."""

    factors: list[str]
    outcomes: list[str]
    skipped: dict[str, str]

    @property
    def first_factor(self) -> str | None:
        """The factor drawn and modelled at turn level (the first), None without factors."""
        return self.factors[0] if self.factors else None


def metadata_roles(
    metadata: pd.DataFrame,
    factors: Names = (),
    outcomes: Names = (),
    min_levels: int = MIN_LEVELS,
    max_levels: int = MAX_LEVELS,
    source: str = "metadata",
) -> Roles:
    """Factors and outcomes of a metadata table: the named columns (a :class:`MetadataError` for
    a name that is not one), or by default as factors the non-numeric columns of ``min_levels``
    to ``max_levels`` values with some value shared by two sessions (not free text or ids), as
    outcomes the numeric columns. Every other column is in ``skipped`` with why."""
    cols = [c for c in metadata.columns if c != "session_id"]
    missing = [c for c in [*factors, *outcomes] if c not in cols]
    if missing:
        raise MetadataError(
            f"{source}: no column {', '.join(map(repr, missing))}; its columns are {cols}"
        )
    skipped: dict[str, str] = {}
    numeric = [c for c in cols if is_numeric_dtype(metadata[c]) and not is_bool_dtype(metadata[c])]
    if not factors:
        factors = []
        for c in cols:
            if c in numeric or c in outcomes:
                continue
            k = metadata[c].nunique(dropna=True)
            if k == metadata[c].notna().sum() and k > 1:
                skipped[c] = "a different value in every session"
            elif min_levels <= k <= max_levels:
                factors.append(c)
            else:
                skipped[c] = f"{k} distinct values (factors need {min_levels}–{max_levels})"
    outcomes = outcomes or [c for c in cols if c in numeric and c not in factors]
    chosen = {*factors, *outcomes, *skipped}
    skipped |= {c: "not selected" for c in cols if c not in chosen}
    return Roles(list(factors), list(outcomes), skipped)


def read_roles(
    path: str | Path | None, factors: Names = (), outcomes: Names = (), max_levels: int = MAX_LEVELS
) -> Roles:
    """:func:`metadata_roles` of a metadata CSV (a notebook parameter; none: no roles)."""
    if not path:
        return Roles([], [], {})
    table = read_metadata(project_path(path))
    return metadata_roles(table, factors, outcomes, max_levels=max_levels, source=str(path))


def metadata_labels(path: str | Path | None, column: str) -> dict[str, str]:
    """``session_id -> label`` of one metadata column (e.g. the patient archetype); empty without
    a metadata file (a notebook parameter) or such a column (logged)."""
    if not path:
        return {}
    df = read_metadata(project_path(path))
    if column not in df.columns:
        log.warning(
            "%s: no column %r (columns: %s); checks by %s skipped",
            path,
            column,
            list(df.columns),
            column,
        )
        return {}
    d = df.dropna(subset=[column])
    return dict(zip(d["session_id"], d[column].astype(str), strict=True))


def group_turn_model(turn_rows: pd.DataFrame, value: str, factor: str | None) -> pd.DataFrame:
    """Turn-level MixedLM ``value ~ C(factor) + position``, random intercept per session (empty
    without a factor)."""
    if factor is None:
        return pd.DataFrame(columns=MIXEDLM_COLUMNS)
    return mixedlm_table(turn_rows.dropna(subset=[factor]), [value], f"C(Q('{factor}')) + position")
