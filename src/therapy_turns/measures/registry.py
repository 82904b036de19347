"""The measure registry: every turn-level measure family declared once (:class:`Measure`: table
name, columns with meaning, unit and speakers, compute function of a chunk ``(turns, docs)``,
session aggregations). The pipeline, CLI, explorer, manifest and session table read it; adding a
measure is shown in ``docs/architecture.md``.

Aggregations are functions ``(rows, measure, tables) -> DataFrame`` indexed by ``session_id``
with columns ``column__statistic`` (the session table prefixes the measure name). ``rows``: the
measure's rows of the analysed turns of a chunk, sorted by session and turn, with ``position``
(``schema.session_position``) and ``speaker``; ``tables``: the same for every measure, by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from spacy.tokens import Doc

from therapy_turns.schema import KEYS, SPEAKERS

#: separator of measure, column and statistic in session-table names
SEP = "__"

Compute = Callable[[pd.DataFrame, Sequence[Doc]], pd.DataFrame]
Aggregate = Callable[[pd.DataFrame, "Measure", Mapping[str, pd.DataFrame]], pd.DataFrame]


@dataclass(frozen=True)
class Column:
    """One column of a measure's table."""

    name: str
    meaning: str
    #: unit or scale, e.g. ``count``, ``per 100 words``, ``0-1``, ``1-5``, ``bits``, ``text``
    unit: str = ""
    #: the speakers whose rows hold a value (others: NaN/absent, never summarised)
    speakers: tuple[str, ...] = SPEAKERS

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (manifest)."""
        return {"meaning": self.meaning, "unit": self.unit, "speakers": list(self.speakers)}


def speaker_means(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``column__speaker``: the session mean of every numeric (non-boolean) column over the
    turns of each speaker the column applies to."""
    applies = {c.name: c.speakers for c in measure.columns}
    num = [
        c
        for c, t in rows.dtypes.items()
        if c not in (*KEYS, "position")
        and pd.api.types.is_numeric_dtype(t)
        and not pd.api.types.is_bool_dtype(t)
    ]
    parts = []
    for sp in SPEAKERS:
        cols = [c for c in num if sp in applies.get(c, SPEAKERS)]
        part = rows[rows.speaker == sp]
        if cols and not part.empty:
            means = part.groupby("session_id", sort=False)[cols].mean()
            parts.append(means.rename(columns=lambda c, sp=sp: f"{c}{SEP}{sp}"))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame()


@dataclass(frozen=True)
class Measure:
    """A turn-level measure family: one table, declared once."""

    #: table name (``features``, ``emotion`` ...), also the CLI command and session prefix
    name: str
    #: ``(turns, docs) -> DataFrame``: rows keyed :data:`~therapy_turns.schema.KEYS`
    compute: Compute
    #: one line: what the table measures (CLI help, manifest, explorer)
    description: str
    #: the value columns (keys excluded), in table order
    columns: Sequence[Column] = ()
    #: session-level aggregations, applied in order (see the module docstring)
    aggregates: Sequence[Aggregate] = (speaker_means,)
    #: columns the CLI command writes (default: keys + every column)
    cli_columns: Sequence[str] | None = None
    #: leave backchannels and minimal responses ("Yeah.", "Mm-hmm.") out of the session
    #: aggregations (:mod:`therapy_turns.measures.backchannels`; the table keeps them)
    skip_backchannels: bool = False

    def column_names(self) -> list[str]:
        """Keys then value columns, in table order."""
        return [*KEYS, *(c.name for c in self.columns)]

    def summarise(
        self, rows: pd.DataFrame, ids: pd.Index, tables: Mapping[str, pd.DataFrame] | None = None
    ) -> pd.DataFrame:
        """Every aggregation of this measure, one row per id of ``ids`` (NaN where a session
        has no rows), columns prefixed ``<name>__``. ``tables``: every measure's rows, by name
        (default: this measure's only)."""
        tables = {self.name: rows} if tables is None else tables
        parts = [agg(rows, self, tables) for agg in self.aggregates]
        parts = [p for p in parts if p is not None and len(p.columns)]
        if not parts:
            return pd.DataFrame(index=ids)
        out = pd.concat([p.reindex(ids) for p in parts], axis=1).astype("float64")
        return out.rename(columns=lambda c: f"{self.name}{SEP}{c}")

    def manifest(self) -> dict[str, object]:
        """JSON-ready description for ``manifest.json``."""
        f = self.compute
        return {
            "description": self.description,
            "compute": f"{f.__module__}:{getattr(f, '__qualname__', repr(f))}",
            "columns": {c.name: c.as_dict() for c in self.columns},
            "aggregates": [getattr(a, "__name__", repr(a)) for a in self.aggregates],
        }


_REGISTRY: dict[str, Measure] = {}


def register(measure: Measure, replace: bool = False) -> Measure:
    """Add ``measure`` to the registry (once per module, at import). A second measure with the
    same name is an error unless ``replace``."""
    old = _REGISTRY.get(measure.name)
    if old is not None and old is not measure and not replace:
        raise ValueError(
            f"a measure named {measure.name!r} is already registered ({old.compute.__module__})"
        )
    if measure.name in ("turns", "sessions") or SEP in measure.name:
        raise ValueError(f"{measure.name!r}: reserved or contains {SEP!r}")
    _REGISTRY[measure.name] = measure
    return measure


def unregister(name: str) -> None:
    """Remove measure ``name`` (tests, notebooks experimenting with a measure)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> Measure:
    """The registered measure ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown measure {name!r}; registered: {names()}") from None


def names() -> list[str]:
    """Names of the registered measures, in registration order."""
    return list(_REGISTRY)


def measures(selected: Iterable[str] | None = None) -> dict[str, Measure]:
    """The registered measures (all, or the ``selected`` names), name -> measure."""
    if selected is None:
        return dict(_REGISTRY)
    return {n: get(n) for n in selected}


def patient_slopes(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``column__patient_slope``: per session, the OLS slope of every numeric patient column
    over the relative position in the session (0 = first turn, 1 = last turn; units: score
    change over a whole session); NaN with fewer than 3 patient turns."""
    num = [
        c.name
        for c in measure.columns
        if "patient" in c.speakers
        and c.name in rows
        and pd.api.types.is_numeric_dtype(rows[c.name])
        and not pd.api.types.is_bool_dtype(rows[c.name])
    ]
    pat = rows[rows.speaker == "patient"]
    out = {
        f"{c}{SEP}patient_slope": pat.groupby("session_id", sort=False).apply(
            lambda g, c=c: slope(g.position.to_numpy(float), g[c].to_numpy(float)),
            include_groups=False,
        )
        for c in num
    }
    return pd.DataFrame(out)


def slope(x: np.ndarray, y: np.ndarray) -> float:
    """OLS slope of ``y`` on ``x`` ignoring NaNs; NaN with fewer than 3 points or constant x."""
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())
