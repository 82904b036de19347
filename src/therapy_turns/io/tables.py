"""CSV and JSONL transcripts (``session_id, speaker, text``; optional ``turn``, ``timestamp``,
``event``) read strictly into raw turn rows, and CSV written so that every cell reads back."""

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from therapy_turns.io import errors
from therapy_turns.io.labels import ABBREVIATIONS, Speakers
from therapy_turns.schema import SPEAKERS

REQUIRED_COLUMNS = ("session_id", "speaker", "text")
Record = tuple[int, int, dict[str, object]]  # first line, last line, row
_OBJECT = "one JSON object per line"
_INT = re.compile(r"\s*[+-]?\d+\s*")


def csv_rows(
    path: Path, required: Sequence[str], error: type | None = None, empty: bool = False
) -> Iterator[Record]:
    """(first line, last line, row) of a CSV file read strictly (lines count LF only)."""
    bad = error or errors.MalformedTableError
    text = errors.read_text_file(path).removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
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
                    raise (error or errors.MissingColumnError)(
                        path, start, f"columns {header}", expected
                    )
            elif fields and len(fields) != len(header):
                found = f"a row of {len(fields)} fields (the header has {len(header)})"
                expected = "comma-separated rows with the header's number of fields"
                raise bad(path, start, found, f"{expected} (quote texts that hold commas)")
            elif fields:
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


def _jsonl_rows(path: Path) -> Iterator[Record]:
    for n, line in enumerate(errors.read_text_file(path).split("\n"), start=1):
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise errors.TranscriptError(path, n, f"invalid JSON ({e.msg})", _OBJECT) from None
            if not isinstance(rec, dict):
                raise errors.TranscriptError(path, n, f"a JSON {type(rec).__name__}", _OBJECT)
            yield n, n, rec


def _string(path: Path, line: int, rec: dict[str, object], key: str, csv_: bool) -> str:
    value = rec.get(key)
    if key == "session_id" and (csv_ or type(value) is int):  # a JSON int id kept as text
        value = str(value).strip()
    if isinstance(value, str) and (value or key == "text"):
        return value
    what = (
        "missing" if key not in rec else "empty" if value == "" else "null" if value is None else ""
    )
    found = f"{what} {key!r}" if what else f"{key} {value!r} ({type(value).__name__})"
    raise errors.TranscriptError(path, line, found, f"a {key} string")


def table_rows(path: Path, speakers: Speakers) -> list[dict[str, object]]:
    """The raw turn rows of a CSV or JSONL file, by session (first appearance) and turn."""
    csv_ = path.suffix.lower() == ".csv"  # JSONL: a missing key is an error on its line
    records = list(csv_rows(path, REQUIRED_COLUMNS) if csv_ else _jsonl_rows(path))
    if not records:
        raise errors.MalformedTableError(path, None, "no JSON objects", "one JSON object per turn")
    has_turn = any("turn" in r for _, _, r in records)
    lookup = ABBREVIATIONS | dict(speakers)
    rows, seen, first = [], {}, {}
    for start, end, rec in records:
        sid, label, text = (_string(path, start, rec, k, csv_) for k in REQUIRED_COLUMNS)
        role = lookup.get(" ".join(label.split()).lower())
        if role not in SPEAKERS:
            known = sorted(k for k, v in speakers.items() if v in SPEAKERS)
            expected = f"one of {known} (extend with --speaker LABEL=patient|therapist)"
            raise errors.UnmappedSpeakerError(path, start, f"speaker {label!r}", expected)
        order = rec.get("turn") if has_turn else len(rows)
        if not (type(order) is int or isinstance(order, str) and _INT.fullmatch(order)):
            raise errors.TranscriptError(path, start, f"turn {order!r}", "an integer turn number")
        order = int(order)
        if (sid, order) in seen:
            found = f"turn {order} of session {sid!r} again (first on line {seen[sid, order]})"
            raise errors.TranscriptError(path, start, found, "one row per turn")
        seen[sid, order] = start
        event = str(rec.get("event") or "").strip()
        stamp = "" if rec.get("timestamp") is None else str(rec["timestamp"])
        row = {"session_id": sid, "speaker": role, "speaker_label": label, "raw_text": text}
        row |= {"thinking": "", "event": event, "event_text": event, "source": str(path)}
        row |= {"line_start": start, "line_end": end, "timestamp": stamp}
        rows.append((first.setdefault(sid, len(first)), order, row))
    return [row for *_, row in sorted(rows, key=lambda r: r[:2])]


def to_csv(df: pd.DataFrame, out: str | Path) -> None:
    """Write ``df`` as CSV with every string cell quoted (a bare CR then reads back)."""
    df.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
