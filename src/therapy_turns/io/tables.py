"""CSV and JSONL transcripts (``session_id, speaker, text``; optional ``turn``, ``timestamp``,
``event``) read strictly (bad input: an error naming file and physical line) into raw turn
rows, and CSV written so that every cell reads back."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pandas as pd

from therapy_turns.io.errors import (
    MalformedTableError,
    MissingColumnError,
    TranscriptError,
    UnmappedSpeakerError,
    read_text_file,
)
from therapy_turns.io.labels import ABBREVIATIONS, Speakers
from therapy_turns.schema import SPEAKERS

REQUIRED_COLUMNS = ("session_id", "speaker", "text")
_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")  # physical lines: a line number counts "\n" only
Record = tuple[int, int, dict[str, object]]  # first line, last line, row
_OBJECT = "one JSON object per line"
_ROW = "comma-separated rows with the header's number of fields (quote texts that hold commas)"


def csv_rows(
    path: Path, required: Sequence[str], error: type | None = None, empty: bool = False
) -> Iterator[Record]:
    """The records of a CSV file read strictly, in file order: a header naming ``required``,
    rows of its number of fields, at least one unless ``empty``; errors of class ``error``."""
    bad = error or MalformedTableError
    reader = csv.reader(_LINES.findall(read_text_file(path).removeprefix("\ufeff")), strict=True)
    header: list[str] = []
    start, n = 1, 0
    try:
        for fields in reader:
            if fields and not header:
                header, header_end = [h.strip() for h in fields], reader.line_num
                if len(set(header)) < len(header):
                    found = f"header {header} with a repeated column"
                    raise bad(path, start, found, "one header cell per column name")
                if missing := [c for c in required if c not in header]:
                    expected = f"columns {list(required)} (missing: {missing})"
                    raise (error or MissingColumnError)(path, start, f"columns {header}", expected)
            elif fields:
                if len(fields) != len(header):
                    found = f"a row of {len(fields)} fields (the header has {len(header)})"
                    raise bad(path, start, found, _ROW)
                n += 1
                yield start, reader.line_num, dict(zip(header, fields, strict=True))
            start = reader.line_num + 1
    except csv.Error as e:
        expected = "comma-separated rows; quote cells that hold commas, quotes or line breaks"
        raise bad(path, reader.line_num, f"unparsable CSV ({e})", expected) from None
    if not header:
        raise bad(path, None, "no header", "a header row")
    if not n and not empty:
        raise bad(path, header_end, "a header and no rows", "one row per turn")


def _jsonl_rows(path: Path) -> list[Record]:
    rows: list[Record] = []
    for n, line in enumerate(read_text_file(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise TranscriptError(path, n, f"invalid JSON ({e.msg})", _OBJECT) from None
        if not isinstance(rec, dict):
            raise TranscriptError(path, n, f"a JSON {type(rec).__name__}", _OBJECT)
        rows.append((n, n, rec))
    if not rows:
        raise MalformedTableError(path, None, "no JSON objects", "one JSON object per turn")
    return rows


def _string(path: Path, line: int, rec: Mapping[str, object], key: str, csv_: bool) -> str:
    """A required string cell (``text`` may be empty; a CSV id is stripped, a JSON int id kept)."""
    value = rec.get(key)
    if key == "session_id" and (csv_ or type(value) is int):
        value = str(value).strip()
    if value is None or (key != "text" and value == ""):
        what = "missing" if key not in rec else ("empty" if value == "" else "null")
        raise TranscriptError(path, line, f"{what} {key!r}", f"a {key} string")
    if not isinstance(value, str):
        found = f"{key} {value!r} ({type(value).__name__})"
        raise TranscriptError(path, line, found, f"a {key} string")
    return value


def _turn(path: Path, line: int, value: object) -> int:
    if type(value) is int or (isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value)):
        return int(value)
    raise TranscriptError(path, line, f"turn {value!r}", "an integer turn number")


def table_rows(path: Path, speakers: Speakers) -> list[dict[str, object]]:
    """The raw turn rows of a CSV or JSONL file, in session (first appearance) and turn order
    (file order without ``turn``). Speakers map like text labels, abbreviations included."""
    csv_ = path.suffix.lower() == ".csv"  # JSONL: a missing key is an error on its line
    records = list(csv_rows(path, REQUIRED_COLUMNS)) if csv_ else _jsonl_rows(path)
    columns = {k for _, _, r in records for k in r}
    lookup = ABBREVIATIONS | dict(speakers)
    rows, seen, first = [], {}, {}
    for start, end, rec in records:
        sid, label, text = (_string(path, start, rec, k, csv_) for k in REQUIRED_COLUMNS)
        role = lookup.get(" ".join(label.split()).lower())
        if role not in SPEAKERS:
            known = sorted(k for k, v in speakers.items() if v in SPEAKERS)
            expected = f"one of {known} (extend with --speaker LABEL=patient|therapist)"
            raise UnmappedSpeakerError(path, start, f"speaker {label!r}", expected)
        order = _turn(path, start, rec.get("turn")) if "turn" in columns else len(rows)
        if (sid, order) in seen:
            found = f"turn {order} of session {sid!r} again (first on line {seen[sid, order]})"
            raise TranscriptError(path, start, found, "one row per turn")
        seen[sid, order] = start
        first.setdefault(sid, len(first))
        event = str(rec.get("event") or "").strip()
        stamp = "" if rec.get("timestamp") is None else str(rec["timestamp"])
        row = {"session_id": sid, "speaker": role, "speaker_label": label, "raw_text": text}
        row |= {"thinking": "", "event": event, "event_text": event, "source": str(path)}
        row |= {"line_start": start, "line_end": end, "timestamp": stamp}
        rows.append((first[sid], order, row))
    return [row for *_, row in sorted(rows, key=lambda r: r[:2])]


def to_csv(df: pd.DataFrame, out: str | Path) -> None:
    """Write ``df`` as CSV that reads back cell for cell: every string cell is quoted (pandas'
    minimal quoting leaves a bare CR unquoted when lines end with LF)."""
    df.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
