"""CSV and JSONL transcripts: one row per turn with ``session_id, speaker, text`` (optional
``turn``; optional ``event``: an annotated event type on the turn it conditions), read into the
loader's raw turn rows."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from therapy_turns.io.errors import (
    MalformedTableError,
    MissingColumnError,
    TranscriptError,
    UnmappedSpeakerError,
)
from therapy_turns.io.reading import read_text_file

REQUIRED_COLUMNS = ("session_id", "speaker", "text")


def table_rows(path: Path, speakers: Mapping[str, str]) -> list[dict[str, object]]:
    """The raw turn rows of a CSV or JSONL file with ``session_id, speaker, text`` (optional
    ``turn``) rows, in session and turn order."""
    if path.suffix.lower() == ".csv":
        read_text_file(path)  # encoding / binary / empty checks with line numbers
        try:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        except pd.errors.ParserError as e:
            m = re.search(r"line (\d+), saw (\d+)", str(e))
            raise MalformedTableError(
                path, int(m.group(1)) if m else None,
                f"a row of {m.group(2)} fields" if m else f"unparsable CSV ({e})",
                "comma-separated rows with the header's number of fields (quote texts that "
                "hold commas)") from None
        first_line = 2
    else:
        text = read_text_file(path)
        recs = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise TranscriptError(
                    path, n, f"invalid JSON ({e.msg})", "one JSON object per line"
                ) from None
        df = pd.DataFrame(recs)
        if "event" in df.columns:
            df["event"] = df["event"].fillna("")
        df = df.astype(str)
        first_line = 1
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise MissingColumnError(
            path,
            1,
            f"columns {list(df.columns)}",
            f"columns {list(REQUIRED_COLUMNS)} (missing: {missing})",
        )
    df = df.reset_index(drop=True)
    df["line"] = df.index + first_line
    rows = []
    for r in df.itertuples(index=False):
        role = speakers.get(str(r.speaker).strip().lower())
        if role is None:
            raise UnmappedSpeakerError(
                path,
                r.line,
                f"speaker {r.speaker!r}",
                f"one of {sorted(speakers)} (extend with --speaker LABEL=patient|therapist)",
            )
        rows.append(
            {
                "session_id": str(r.session_id),
                "speaker": role,
                "speaker_label": r.speaker,
                "raw_text": r.text,
                "thinking": "",
                "event": str(getattr(r, "event", "") or "").strip(),
                "event_text": str(getattr(r, "event", "") or "").strip(),
                "source": str(path),
                "line_start": r.line,
                "line_end": r.line,
                "_order": float(r.turn) if "turn" in df.columns and r.turn != "" else r.line,
            }
        )
    out = (
        pd.DataFrame(rows)
        .sort_values(["session_id", "_order"], kind="stable")
        .drop(columns="_order")
    )
    return out.to_dict("records")
