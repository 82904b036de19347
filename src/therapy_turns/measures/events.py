"""The ``events`` measure: the events on each turn and their count per session and type.

An event sits on the turn whose reply it conditions (the turn table's ``event`` column: type keys
joined by ``;``, from the transcripts' event lines, a table's ``event`` column or ``--events``;
see :mod:`therapy_turns.io.events`). The table repeats the keys per turn with their number; the
session table gets ``events__n`` and ``events__<type>`` for every type of the event patterns
(zero when absent) and every other type found, counted over the analysed turns like every
session measure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from spacy.tokens import Doc

from therapy_turns.io.events import EVENT_TYPES, OTHER_EVENT, SEPARATOR
from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.schema import KEYS

COLUMNS = (
    Column("event", "type keys of the events on this turn, ';'-joined ('' if none)", "text"),
    Column("n_events", "events on this turn", "count"),
)


def compute_events(turns: pd.DataFrame, docs: Sequence[Doc] = ()) -> pd.DataFrame:
    """One row per turn: keys, ``event`` and ``n_events`` (the Docs are not needed)."""
    ev = (
        turns["event"].fillna("").astype(str)
        if "event" in turns.columns
        else pd.Series("", index=turns.index)
    )
    n = [len([k for k in v.split(SEPARATOR) if k]) for v in ev]
    return (
        turns[KEYS]
        .assign(event=ev.to_numpy(), n_events=n)
        .astype({"n_events": "int64"})
        .reset_index(drop=True)
    )


def type_counts(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``n`` and ``<type>``: events per session, in all and per type (the pattern file's types
    and ``other`` always, other types when present)."""
    keys = rows["event"].fillna("").astype(str).str.split(SEPARATOR)
    types = [k for k, _ in EVENT_TYPES.types] + [OTHER_EVENT]
    types += sorted({k for ks in keys for k in ks if k} - set(types))
    sid = rows["session_id"]
    out = {"n": rows.groupby(sid, sort=False)["n_events"].sum()}
    for ty in types:
        out[ty] = keys.apply(lambda ks, ty=ty: ks.count(ty)).groupby(sid, sort=False).sum()
    return pd.DataFrame(out)


DESCRIPTION = "events per turn (perturbations, annotated events) and their count per session "
DESCRIPTION += "and type"
MEASURE = register(Measure("events", compute_events, DESCRIPTION, COLUMNS, (type_counts,)))
