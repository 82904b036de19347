"""CSV/JSONL transcripts and ``--events`` files read strictly; CSV that reads back cell for cell."""

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from therapy_turns.io.errors import TranscriptError, read_text_file
from therapy_turns.io.labels import ABBREVIATIONS, Speakers
from therapy_turns.schema import SPEAKERS

REQUIRED_COLUMNS = ("session_id", "speaker", "text")
EVENTS_FILE_COLUMNS = ("session_id", "turn", "event")
Record = tuple[int, int, dict[str, object]]  # first line, last line, row
_INT = re.compile(r"\s*[+-]?\d+\s*")


def csv_rows(path: Path, required: Sequence[str], empty: bool = False) -> Iterator[Record]:
    """(first line, last line, row) of a CSV file read strictly (lines count LF only)."""
    text = read_text_file(path).removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
    header: list[str] = []
    start, n = 1, 0
    try:
        for fields in reader:
            if fields and not header:
                header, header_end = [h.strip() for h in fields], reader.line_num
                if len(set(header)) < len(header):
                    raise TranscriptError("repeated_column", path, start, header=header)
                if missing := [c for c in required if c not in header]:
                    fields = {"header": header, "required": list(required), "missing": missing}
                    raise TranscriptError("missing_column", path, start, **fields)
            elif fields and len(fields) != len(header):
                raise TranscriptError("field_count", path, start, n=len(fields), k=len(header))
            elif fields:
                n += 1
                yield start, reader.line_num, dict(zip(header, fields, strict=True))
            start = reader.line_num + 1
    except csv.Error as e:
        raise TranscriptError("unparsable_csv", path, reader.line_num, reason=e) from None
    if not header:
        raise TranscriptError("no_header", path)
    if not n and not empty:
        raise TranscriptError("no_rows", path, header_end)


def _jsonl_rows(path: Path) -> Iterator[Record]:
    for n, line in enumerate(read_text_file(path).split("\n"), start=1):
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise TranscriptError("invalid_json", path, n, reason=e.msg) from None
            if not isinstance(rec, dict):
                raise TranscriptError("not_object", path, n, type=type(rec).__name__)
            yield n, n, rec


def _string(path: Path, line: int, rec: dict[str, object], key: str, csv_: bool) -> str:
    value = rec.get(key)
    if key == "session_id" and (csv_ or type(value) is int):  # a JSON int id kept as text
        value = str(value).strip()
    if isinstance(value, str) and (value or key == "text"):
        return value
    what = "missing" if key not in rec else "empty" if value == "" else "null" * (value is None)
    what = f"{what} {key!r}" if what else f"{key} {value!r} ({type(value).__name__})"
    raise TranscriptError("not_string", path, line, what=what, key=key)


def table_rows(path: Path, speakers: Speakers) -> list[dict[str, object]]:
    """The raw turn rows of a CSV or JSONL file, by session (first appearance) and turn."""
    csv_ = path.suffix.lower() == ".csv"  # JSONL: a missing key is an error on its line
    records = list(csv_rows(path, REQUIRED_COLUMNS) if csv_ else _jsonl_rows(path))
    if not records:
        raise TranscriptError("no_objects", path)
    has_turn = any("turn" in r for _, _, r in records)
    lookup = ABBREVIATIONS | dict(speakers)
    rows, seen, first = [], {}, {}
    for start, end, rec in records:
        sid, label, text = (_string(path, start, rec, k, csv_) for k in REQUIRED_COLUMNS)
        if (role := lookup.get(" ".join(label.split()).lower())) not in SPEAKERS:
            known = sorted(k for k, v in speakers.items() if v in SPEAKERS)
            raise TranscriptError("unmapped_speaker", path, start, label=label, known=known)
        order = rec.get("turn") if has_turn else len(rows)
        if not (type(order) is int or isinstance(order, str) and _INT.fullmatch(order)):
            raise TranscriptError("turn", path, start, turn=order)
        if (key := (sid, int(order))) in seen:
            raise TranscriptError("turn_again", path, start, key=key, first=seen[key])
        seen[key] = start
        event = str(rec.get("event") or "").strip()
        stamp = "" if rec.get("timestamp") is None else str(rec["timestamp"])
        row = {"session_id": sid, "speaker": role, "speaker_label": label, "raw_text": text}
        row |= {"thinking": "", "event": event, "event_text": event, "source": str(path)}
        row |= {"line_start": start, "line_end": end, "timestamp": stamp}
        rows.append((first.setdefault(sid, len(first)), key[1], row))
    return [row for *_, row in sorted(rows, key=lambda r: r[:2])]


def read_events(path: str | Path) -> pd.DataFrame:
    """The rows of an events CSV (other columns ignored) with ``line``, the row's file line."""
    if not (path := Path(path)).is_file():
        raise TranscriptError("events_file", path)
    rows = []
    for line, _, r in csv_rows(path, EVENTS_FILE_COLUMNS, empty=True):
        sid, turn, event = (str(r[c]).strip() for c in EVENTS_FILE_COLUMNS)
        if not re.fullmatch(r"\d+", turn):
            raise TranscriptError("event_turn", path, line, turn=turn)
        if not event or "\n" in event:
            raise TranscriptError("event_key", path, line, event=event)
        rows.append({"session_id": sid, "turn": int(turn), "event": event, "line": line})
    return pd.DataFrame(rows, columns=[*EVENTS_FILE_COLUMNS, "line"])


def to_csv(df: pd.DataFrame, out: str | Path) -> None:
    """Write ``df`` as CSV with every string cell quoted (a bare CR then reads back)."""
    df.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)
