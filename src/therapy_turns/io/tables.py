"""CSV and JSONL transcripts: one row per turn with ``session_id, speaker, text`` (optional
``turn``, ``timestamp``; optional ``event``: an annotated event type on the turn it conditions),
read strictly into the loader's raw turn rows, and CSV written so that every cell reads back.

Strict: a CSV row with another number of fields than its header, a header with no rows, an
empty ``session_id`` or ``speaker``, a ``turn`` that is not an integer (or repeats within a
session), a JSON value that is null, missing or not a string (``text`` may be "": a turn
without speech, flagged ``missing_answer``): each is a
:class:`~therapy_turns.io.errors.TranscriptError` naming the file and the line. Line numbers are
physical lines (``\\n``) of the file, true with blank lines and multi-line quoted cells.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

from therapy_turns.io.errors import (
    MalformedTableError,
    MissingColumnError,
    TranscriptError,
    UnmappedSpeakerError,
)
from therapy_turns.io.labels import ABBREVIATIONS, ROLES
from therapy_turns.io.reading import read_text_file

REQUIRED_COLUMNS = ("session_id", "speaker", "text")
_LINES = re.compile(r"[^\n]*\n|[^\n]+\Z")  # physical lines: a line number counts "\n" only


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, int, list[str]]]:
    """``(first line, last line, fields)`` of each non-blank CSV record."""
    reader = csv.reader(iter(_LINES.findall(text.removeprefix("\ufeff"))), strict=True)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise MalformedTableError(path, reader.line_num, f"unparsable CSV ({e})",
                                      "comma-separated rows; quote cells that hold commas, "
                                      "quotes or line breaks") from None
        if fields:
            yield start, reader.line_num, fields
        start = reader.line_num + 1


def _csv_rows(path: Path) -> list[tuple[int, int, dict[str, object]]]:
    text = read_text_file(path)
    records = _csv_records(path, text)
    first = next(records, None)
    if first is None:
        raise MalformedTableError(path, None, "no header", "a header row and turn rows")
    header = [h.strip() for h in first[2]]
    if len(set(header)) < len(header):
        raise MalformedTableError(path, first[0], f"header {header} with a repeated column",
                                  "one header cell per column name")
    out = []
    for start, end, fields in records:
        if len(fields) != len(header):
            raise MalformedTableError(
                path, start, f"a row of {len(fields)} fields (the header has {len(header)})",
                "comma-separated rows with the header's number of fields (quote texts that "
                "hold commas)")
        out.append((start, end, dict(zip(header, fields, strict=True))))
    if not out:
        _check_columns(path, header)
        raise MalformedTableError(path, first[1], "a header and no rows", "one row per turn")
    return out


def _jsonl_rows(path: Path) -> list[tuple[int, int, dict[str, object]]]:
    out = []
    for n, line in enumerate(read_text_file(path).split("\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise TranscriptError(path, n, f"invalid JSON ({e.msg})",
                                  "one JSON object per line") from None
        if not isinstance(rec, dict):
            raise TranscriptError(path, n, f"a JSON {type(rec).__name__}",
                                  "one JSON object per line")
        out.append((n, n, rec))
    if not out:
        raise MalformedTableError(path, None, "no JSON objects", "one JSON object per turn")
    return out


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise MissingColumnError(path, 1, f"columns {list(columns)}",
                                 f"columns {list(REQUIRED_COLUMNS)} (missing: {missing})")


def _text_field(path: Path, line: int, rec: Mapping[str, object], key: str, csv_: bool) -> str:
    value = rec.get(key)
    if csv_ and key == "session_id" and isinstance(value, str):
        value = value.strip()
    if not csv_ and key == "session_id" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if value is None or (key != "text" and value == ""):
        what = "missing" if key not in rec else ("empty" if value == "" else "null")
        raise TranscriptError(path, line, f"{what} {key!r}", f"a {key} string")
    if not isinstance(value, str):
        raise TranscriptError(path, line, f"{key} {value!r} ({type(value).__name__})",
                              f"a {key} string")
    return value


def _turn(path: Path, line: int, value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise TranscriptError(path, line, f"turn {value!r}", "an integer turn number")


def table_rows(path: Path, speakers: Mapping[str, str]) -> list[dict[str, object]]:
    """The raw turn rows of a CSV or JSONL file with ``session_id, speaker, text`` (optional
    ``turn``, ``timestamp``) rows, in session and turn order (file order when ``turn`` is
    absent). Speakers map like text labels, abbreviations (``T``, ``C``, ...) included."""
    csv_ = path.suffix.lower() == ".csv"
    records = _csv_rows(path) if csv_ else _jsonl_rows(path)
    columns = list(dict.fromkeys(k for _, _, r in records for k in r))
    if csv_:
        _check_columns(path, columns)  # JSONL: a missing key is an error on its line
    lookup = {**ABBREVIATIONS, **speakers}
    rows, seen = [], {}
    for start, end, rec in records:
        sid = _text_field(path, start, rec, "session_id", csv_)
        label = _text_field(path, start, rec, "speaker", csv_)
        text = _text_field(path, start, rec, "text", csv_)
        role = lookup.get(" ".join(label.split()).lower())
        if role not in ROLES:
            raise UnmappedSpeakerError(
                path, start, f"speaker {label!r}",
                f"one of {sorted(k for k, v in speakers.items() if v in ROLES)} "
                "(extend with --speaker LABEL=patient|therapist)")
        order = _turn(path, start, rec["turn"]) if "turn" in columns else len(rows)
        if (sid, order) in seen:
            raise TranscriptError(path, start, f"turn {order} of session {sid!r} again (first "
                                  f"on line {seen[sid, order]})", "one row per turn")
        seen[sid, order] = start
        stamp, event = rec.get("timestamp"), str(rec.get("event") or "").strip()
        rows.append({"session_id": sid, "speaker": role, "speaker_label": label,
                     "raw_text": text, "thinking": "", "event": event, "event_text": event,
                     "source": str(path),
                     "line_start": start, "line_end": end,
                     "timestamp": "" if stamp is None else str(stamp), "_order": order})
    first = {}
    for r in rows:
        first.setdefault(r["session_id"], len(first))
    rows.sort(key=lambda r: (first[r["session_id"]], r["_order"]))
    for r in rows:
        del r["_order"]
    return rows


def to_csv(df: pd.DataFrame, out: str | Path) -> None:
    """Write ``df`` as CSV that reads back cell for cell: every string cell is quoted, so CR,
    LF, quotes, commas and any other line break stay inside their cell (pandas' minimal
    quoting leaves a bare CR unquoted when lines end with LF)."""
    df.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
