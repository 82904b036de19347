"""Event lines of full transcripts: which lines are events, and their type keys.

An event line is a bracketed header ``--- [ ... ] ---`` on a line of its own, e.g.
``--- [SYSTEM INJECTION at Turn 8]: [System Note: You have just been distracted by ...] ---``:
an instruction to the simulated patient (or any annotation), never speech. Its type is the first
type of the pattern file (``data/events.yaml``, or another YAML file with a ``types`` mapping of
type → regular expressions) with a pattern found in the line; ``other`` when none is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from therapy_turns.paths import DATA_DIR, read_yaml

EVENT_RE = re.compile(r"^---[ \t]*\[.*\][^\n]*---[ \t]*\r?$")
EVENT_COLUMNS = ("event", "event_text")
OTHER_EVENT = "other"
SEPARATOR = ";"


@dataclass(frozen=True)
class EventTypes:
    """Event type patterns: ``(type, (regex, ...))`` in file order."""

    types: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]

    @classmethod
    def load(cls, path: str | Path | None = None) -> EventTypes:
        """The patterns of ``path`` (YAML with a ``types`` mapping), default the package's file."""
        raw = read_yaml(path or DATA_DIR / "events.yaml")
        return cls(tuple((str(k), tuple(re.compile(p, re.I) for p in v))
                         for k, v in raw["types"].items()))

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
