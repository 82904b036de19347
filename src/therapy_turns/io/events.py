"""Event lines of full transcripts: which lines are events, and their type keys.

An event line is a bracketed header ``--- [ ... ] ---`` on a line of its own, e.g.
``--- [SYSTEM INJECTION at Turn 8]: [System Note: You have just been distracted by ...] ---``:
an instruction to the simulated patient (or any annotation), never speech. Its type is the first
type of the pattern file (``data/events.yaml``, or another YAML file with a ``types`` mapping of
type → regular expressions) with a pattern found in the line; ``other`` when none is.

Annotated events (any corpus): a CSV with ``session_id, turn, event`` (:func:`read_events`),
attached to a turn table by :func:`attach_events` (``--events FILE.csv`` of ``parse`` and
``analyze``). ``turn`` is the turn number of the turn table (0-based order in the session); an
unknown session or turn is an :class:`EventsFileError` naming the file and line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from therapy_turns.io.errors import TranscriptError
from therapy_turns.io.reading import read_text_file
from therapy_turns.paths import DATA_DIR, read_yaml

EVENT_RE = re.compile(r"^---[ \t]*\[.*\][^\n]*---[ \t]*\r?$")
EVENT_COLUMNS = ("event", "event_text")
EVENTS_FILE_COLUMNS = ("session_id", "turn", "event")
OTHER_EVENT = "other"
SEPARATOR = ";"


@dataclass(frozen=True)
class EventTypes:
    """Event type patterns: ``(type, (regex, ...))`` in file order."""

    types: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> EventTypes:
        """The patterns of ``path`` (YAML with a ``types`` mapping of type to a list of regular
        expressions), default the package's file. A missing or malformed file raises
        :class:`EventsFileError`."""
        path = Path(path or DATA_DIR / "events.yaml")
        expected = "a YAML file with 'types:' mapping each event type to a list of regexes"
        if not path.is_file():
            raise EventsFileError(path, None, "no such file", expected)
        try:
            raw = read_yaml(path)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise EventsFileError(path, mark.line + 1 if mark else None, "invalid YAML",
                                  expected) from None
        types = raw.get("types") if isinstance(raw, dict) else None
        if not isinstance(types, dict) or not all(isinstance(v, list) for v in types.values()):
            raise EventsFileError(path, None, f"{type(types).__name__} under 'types'", expected)
        out = []
        for k, pats in types.items():
            try:
                out.append((str(k), tuple(re.compile(str(p), re.I) for p in pats)))
            except re.error as e:
                raise EventsFileError(path, None, f"an invalid regex for type {k!r} ({e})",
                                      expected) from None
        return cls(tuple(out))

    def classify(self, line: str) -> str:
        """The type key of one event line: the first type with a matching pattern, else other."""
        return next((k for k, pats in self.types if any(p.search(line) for p in pats)),
                    OTHER_EVENT)


EVENT_TYPES = EventTypes.load()


def is_event_line(line: str) -> bool:
    """Whether ``line`` (one line, with or without its newline) is a bracketed event header."""
    return EVENT_RE.match(line) is not None


def event_counts(turns: pd.DataFrame) -> dict[str, int]:
    """Events per type key in a turn table (``event`` holds keys joined by ``;``), sorted by key."""
    if "event" not in turns.columns:
        return {}
    keys = [k for v in turns["event"] if v for k in str(v).split(SEPARATOR)]
    return {k: keys.count(k) for k in sorted(set(keys))}


class EventsFileError(TranscriptError):
    """A bad ``--events`` file: missing column, bad turn, unknown session or turn."""


def read_events(path: str | Path) -> pd.DataFrame:
    """The rows of an events CSV (``session_id, turn, event``; other columns ignored) with
    ``line`` (the file line of each row). Raises :class:`EventsFileError` naming file and line
    for a missing column, a turn that is not a whole number >= 0 or an empty event."""
    path = Path(path)
    if not path.is_file():
        raise EventsFileError(path, None, "no such file", "a CSV with session_id, turn, event")
    reader = csv.DictReader(io.StringIO(read_text_file(path), newline=""))
    missing = [c for c in EVENTS_FILE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise EventsFileError(path, 1, f"columns {reader.fieldnames}",
                              f"columns {list(EVENTS_FILE_COLUMNS)} (missing: {missing})")
    rows = []
    start = 2
    for r in reader:
        line, start = start, reader.line_num + 1
        if None in r or any(r[c] is None for c in EVENTS_FILE_COLUMNS):
            raise EventsFileError(path, line, "a row with a different number of fields than "
                                  "the header", "session_id,turn,event (quote values with commas)")
        sid, turn, event = r["session_id"].strip(), r["turn"].strip(), r["event"].strip()
        if not re.fullmatch(r"\d+", turn):
            raise EventsFileError(path, line, f"turn {turn!r}",
                                  "a turn number (0-based order of the turn in its session)")
        if not event or "\n" in event:
            raise EventsFileError(path, line, f"event {event!r}",
                                  "a short event type key such as 'rupture' on one line")
        rows.append({"session_id": sid, "turn": int(turn), "event": event, "line": line})
    return pd.DataFrame(rows, columns=[*EVENTS_FILE_COLUMNS, "line"])


def check_events(events: pd.DataFrame, n_turns: Mapping[str, int], path: str | Path) -> None:
    """Raise :class:`EventsFileError` for the first row whose session is not in ``n_turns``
    (session id → number of turns) or whose turn is past the session's last turn."""
    for r in events.itertuples(index=False):
        if r.session_id not in n_turns:
            known = sorted(n_turns)
            raise EventsFileError(path, r.line, f"unknown session {r.session_id!r}",
                                  f"a session id of the corpus ({', '.join(known[:3])}"
                                  f"{', ...' if len(known) > 3 else ''})")
        if r.turn >= n_turns[r.session_id]:
            raise EventsFileError(path, r.line, f"turn {r.turn} in session {r.session_id!r}",
                                  f"a turn 0..{n_turns[r.session_id] - 1} of that session")


def attach_events(turns: pd.DataFrame, events: pd.DataFrame,
                  path: str | Path = "<events>") -> pd.DataFrame:
    """A copy of ``turns`` with the rows of ``events`` (:func:`read_events`) added to their
    turns' ``event`` (``;``-joined after the transcript's own) and ``event_text`` (the annotated
    key, newline-joined). Every row must name a session and turn of ``turns``."""
    check_events(events, turns.groupby("session_id")["turn"].max().add(1).to_dict(), path)
    out = turns.copy()
    if events.empty:
        return out
    for c in EVENT_COLUMNS:
        if c not in out.columns:
            out[c] = ""
    pos = pd.Series(range(len(out)), index=pd.MultiIndex.from_arrays(
        [out["session_id"], out["turn"]]))
    ev, tx = out["event"].fillna("").tolist(), out["event_text"].fillna("").tolist()
    for r in events.itertuples(index=False):
        i = int(pos[(r.session_id, r.turn)])
        ev[i] = f"{ev[i]}{SEPARATOR}{r.event}" if ev[i] else r.event
        tx[i] = f"{tx[i]}\n{r.event}" if tx[i] else r.event
    out["event"], out["event_text"] = ev, tx
    return out
