"""Event line types (``data/events.yaml``; else ``other``) and annotated ``--events`` files."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import pandas as pd
import yaml

from therapy_turns.io.errors import EventsFileError
from therapy_turns.io.tables import csv_rows
from therapy_turns.paths import DATA_DIR, read_yaml

EVENTS_FILE_COLUMNS = ("session_id", "turn", "event")
OTHER_EVENT = "other"
SEPARATOR = ";"


@dataclass(frozen=True)
class EventTypes:
    """Event type patterns: ``(type, (regex, ...))`` in file order."""

    types: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> Self:
        """The patterns of a YAML file (default the package's); a bad file raises."""
        path = Path(path or DATA_DIR / "events.yaml")
        expected = "a YAML file with 'types:' mapping each event type to a list of regexes"
        if not path.is_file():
            raise EventsFileError(path, None, "no such file", expected)
        try:
            raw = read_yaml(path)
        except yaml.YAMLError as e:
            line = mark.line + 1 if (mark := getattr(e, "problem_mark", None)) else None
            raise EventsFileError(path, line, "invalid YAML", expected) from None
        types = raw.get("types") if isinstance(raw, dict) else None
        if not isinstance(types, dict) or not all(isinstance(v, list) for v in types.values()):
            raise EventsFileError(path, None, f"{type(types).__name__} under 'types'", expected)
        out = []
        for k, pats in types.items():
            try:
                out.append((str(k), tuple(re.compile(str(p), re.I) for p in pats)))
            except re.error as e:
                found = f"an invalid regex for type {k!r} ({e})"
                raise EventsFileError(path, None, found, expected) from None
        return cls(tuple(out))

    def classify(self, line: str) -> str:
        """The type of one event line: the first type with a matching pattern, else other."""
        return next((k for k, ps in self.types if any(p.search(line) for p in ps)), OTHER_EVENT)


EVENT_TYPES = EventTypes.load()


def event_counts(turns: pd.DataFrame) -> dict[str, int]:
    """Events per type key in a turn table, sorted by key."""
    keys = [k for v in turns.get("event", []) if v for k in str(v).split(SEPARATOR)]
    return {k: keys.count(k) for k in sorted(set(keys))}


def read_events(path: str | Path) -> pd.DataFrame:
    """The rows of an events CSV (other columns ignored) with ``line``, the row's file line."""
    path = Path(path)
    if not path.is_file():
        raise EventsFileError(path, None, "no such file", "a CSV with session_id, turn, event")
    rows = []
    for line, _, r in csv_rows(path, EVENTS_FILE_COLUMNS, EventsFileError, empty=True):
        sid, turn, event = (str(r[c]).strip() for c in EVENTS_FILE_COLUMNS)
        if not re.fullmatch(r"\d+", turn):
            expected = "a turn number (0-based order of the turn in its session)"
            raise EventsFileError(path, line, f"turn {turn!r}", expected)
        if not event or "\n" in event:
            expected = "a short event type key such as 'rupture' on one line"
            raise EventsFileError(path, line, f"event {event!r}", expected)
        rows.append({"session_id": sid, "turn": int(turn), "event": event, "line": line})
    return pd.DataFrame(rows, columns=[*EVENTS_FILE_COLUMNS, "line"])


def check_events(events: pd.DataFrame, n_turns: Mapping[str, int], path: str | Path) -> None:
    """Raise for the first row whose session or turn (``n_turns``: per session) is not known."""
    some = ", ".join(sorted(n_turns)[:3]) + (", ..." if len(n_turns) > 3 else "")
    for r in events.itertuples(index=False):
        if r.session_id not in n_turns:
            expected = f"a session id of the corpus ({some})"
            raise EventsFileError(path, r.line, f"unknown session {r.session_id!r}", expected)
        if r.turn >= n_turns[r.session_id]:
            found = f"turn {r.turn} in session {r.session_id!r}"
            expected = f"a turn 0..{n_turns[r.session_id] - 1} of that session"
            raise EventsFileError(path, r.line, found, expected)


def attach_events(
    turns: pd.DataFrame, events: pd.DataFrame, path: str | Path = "<events>"
) -> pd.DataFrame:
    """``turns`` with each row of ``events`` added to its turn's ``event`` and ``event_text``."""
    check_events(events, turns.groupby("session_id")["turn"].max().add(1).to_dict(), path)
    out = turns.copy()
    pos = {key: i for i, key in enumerate(zip(out["session_id"], out["turn"], strict=True))}
    ev, tx = (out[c].fillna("").tolist() for c in ("event", "event_text"))
    for r in events.itertuples(index=False):
        i = pos[r.session_id, r.turn]
        ev[i] = f"{ev[i]}{SEPARATOR}{r.event}" if ev[i] else r.event
        tx[i] = f"{tx[i]}\n{r.event}" if tx[i] else r.event
    out["event"], out["event_text"] = ev, tx
    return out
