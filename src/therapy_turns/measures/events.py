"""The ``events`` measure: the event type keys on each turn (the turn table's ``event`` column,
:mod:`therapy_turns.io.transcripts`) and their number; the session table gets ``events__n`` and
``events__<type>`` for every type of the event patterns and every other type found."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from spacy.tokens import Doc

from therapy_turns.io.transcripts import EVENT_TYPES, OTHER_EVENT, SEPARATOR
from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.schema import KEYS

EVENT = "type keys of the events on this turn, ';'-joined ('' if none)"
COLUMNS = (Column("event", EVENT, "text"), Column("n_events", "events on this turn", "count"))


def compute_events(turns: pd.DataFrame, docs: Sequence[Doc] = ()) -> pd.DataFrame:
    """One row per turn: keys, ``event`` and ``n_events`` (the Docs are not needed)."""
    ev = turns.get("event", pd.Series("", index=turns.index)).fillna("").astype(str)
    n = [len([k for k in v.split(SEPARATOR) if k]) for v in ev]
    out = turns[KEYS].assign(event=ev, n_events=n).astype({"n_events": "int64"})
    return out.reset_index(drop=True)


def type_counts(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``n`` and ``<type>``: events per session, in all and per type (pattern types always)."""
    keys = rows["event"].fillna("").astype(str).str.split(SEPARATOR)
    keys = rows[["session_id"]].assign(key=keys).explode("key")
    types = [*EVENT_TYPES, OTHER_EVENT]
    types += sorted(set(keys["key"]) - set(types) - {""})
    counts = pd.crosstab(keys["session_id"], keys["key"]).reindex(columns=types, fill_value=0)
    n = rows.groupby("session_id", sort=False)["n_events"].sum()
    return pd.concat([n.rename("n"), counts.reindex(n.index)], axis=1).rename_axis(columns=None)


DESCRIPTION = "events per turn (perturbations, annotated events) and their count per session "
DESCRIPTION += "and type"
MEASURE = register(Measure("events", compute_events, DESCRIPTION, COLUMNS, (type_counts,)))
