"""The measure registry: every turn-level measure declared once (``docs/architecture.md``)."""

from __future__ import annotations

import hashlib
import inspect
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from therapy_turns.schema import KEYS, SPEAKERS

#: separator of measure, column and statistic in session-table names
SEP = "__"
#: a measure's column: name, meaning, unit and the speakers it applies to (others: NaN)
Column = namedtuple("Column", "name meaning unit speakers", defaults=("", SPEAKERS))


def speaker_means(rows: pd.DataFrame, measure: Measure, tables: object = None) -> pd.DataFrame:
    """``column__speaker``: the session mean of every numeric column per speaker it applies to."""
    applies = {c.name: c.speakers for c in measure.columns}
    num = rows.drop(columns=[*KEYS, "position"], errors="ignore").select_dtypes("number").columns
    parts = []
    for sp in SPEAKERS:
        cols, part = [c for c in num if sp in applies.get(c, SPEAKERS)], rows[rows.speaker == sp]
        if cols and not part.empty:
            parts.append(part.groupby("session_id", sort=False)[cols].mean().add_suffix(SEP + sp))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame()


def _slope(x: np.ndarray, y: np.ndarray) -> float:  # NaN: under 3 points or a constant x
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0:
        return float("nan")
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def patient_slopes(rows: pd.DataFrame, measure: Measure, tables: object = None) -> pd.DataFrame:
    """``column__patient_slope``: every numeric patient column's OLS slope over ``position``."""
    pat = rows[rows.speaker == "patient"]
    num = pat.filter([c.name for c in measure.columns if "patient" in c.speakers])
    x, at = pat.position.to_numpy(float), pat.groupby("session_id", sort=False).indices
    ys = {f"{c}{SEP}patient_slope": pat[c].to_numpy(float) for c in num.select_dtypes("number")}
    return pd.DataFrame({c: {s: _slope(x[i], y[i]) for s, i in at.items()} for c, y in ys.items()})


@dataclass(frozen=True)
class Measure:
    """A turn-level measure family; ``cli_columns``: the columns the CLI writes (default all)."""

    name: str
    compute: Callable[[pd.DataFrame, Sequence[Any]], pd.DataFrame]
    description: str
    columns: Sequence[Column] = ()
    aggregates: Sequence[Callable[..., pd.DataFrame]] = (speaker_means,)  # (rows, measure, tables)
    cli_columns: Sequence[str] | None = None
    skip_backchannels: bool = False

    def column_names(self) -> list[str]:
        """Keys then value columns, in table order."""
        return [*KEYS, *(c.name for c in self.columns)]

    def summarise(
        self, rows: pd.DataFrame, ids: pd.Index, tables: Mapping[str, pd.DataFrame] | None = None
    ) -> pd.DataFrame:
        """Every aggregation, one row per id of ``ids`` (NaN without rows), named ``<name>__*``."""
        parts = [agg(rows, self, tables or {self.name: rows}) for agg in self.aggregates]
        parts = [p.reindex(ids) for p in parts if p is not None and len(p.columns)]
        out = pd.concat([pd.DataFrame(index=ids), *parts], axis=1).astype("float64")
        return out.rename(columns=lambda c: f"{self.name}{SEP}{c}")

    def fingerprint(self) -> str:
        """``compute``'s name (+ its source's hash outside the package) or own ``fingerprint``."""
        f = self.compute
        if getattr(f, "fingerprint", None):
            return str(f.fingerprint)
        # the package's own code: in the cache key as the package's code_fingerprint
        src = None if f.__module__.startswith("therapy_turns") else inspect.getsourcefile(f)
        sha = hashlib.sha256(Path(src).read_bytes()).hexdigest() if src else ""
        return f"{f.__module__}:{f.__qualname__}{sha}"

    def manifest(self) -> dict[str, object]:
        """JSON-ready description for ``manifest.json``."""
        out = dict(description=self.description, compute=self.fingerprint(), columns={})
        for c in self.columns:
            out["columns"][c.name] = dict(meaning=c.meaning, unit=c.unit, speakers=list(c.speakers))
        return out | {"aggregates": [getattr(a, "__name__", repr(a)) for a in self.aggregates]}


_REGISTRY: dict[str, Measure] = {}


def register(measure: Measure) -> Measure:
    """Add ``measure`` (once, at import; another of the same name is an error)."""
    if (old := _REGISTRY.get(measure.name, measure)) is not measure:
        raise ValueError(
            f"a measure named {measure.name!r} is already registered ({old.compute.__module__})"
        )
    if measure.name in ("turns", "sessions") or SEP in measure.name:
        raise ValueError(f"{measure.name!r}: reserved or contains {SEP!r}")
    _REGISTRY[measure.name] = measure
    return measure


def get(name: str) -> Measure:
    """The registered measure ``name``."""
    if name not in _REGISTRY:
        raise KeyError(f"unknown measure {name!r}; registered: {names()}")
    return _REGISTRY[name]


def names() -> list[str]:
    """Names of the registered measures, in registration order."""
    return list(_REGISTRY)


def measures(selected: Iterable[str] | None = None) -> dict[str, Measure]:
    """The registered measures (all, or the ``selected`` names), name -> measure."""
    return dict(_REGISTRY) if selected is None else {n: get(n) for n in selected}
