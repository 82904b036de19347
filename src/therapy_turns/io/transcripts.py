"""Transcript loading and validation: files in, one tidy row per turn out.

Formats
-------
1. Plain text with ``Speaker: text`` paragraphs (the seeds). A line that does not start with a
   *recognised* speaker label continues the current turn, so role-play lines such as
   ``Manager: ...`` or ``Try this: ...`` stay inside the turn in which they were said.
2. The full-transcript variant with ``--- Turn N (...) ---`` headers and
   ``Therapist Thinking:`` / ``Therapist Answer:`` blocks. Thinking goes to the ``thinking``
   column and is never analysed as speech; headers are separators, not speech.
   Event lines (``--- [SYSTEM INJECTION at Turn N]: [System Note: ...] ---`` and any other
   ``--- [ ... ] ---`` bracketed header, :mod:`therapy_turns.io.events`) are never speech: each
   is recorded on the patient turn whose reply it conditions, i.e. the next patient turn in the
   file (an event after the last patient turn stays on the session's last turn).
3. CSV / JSONL with columns ``session_id, speaker, text`` (optional ``turn``, ``event``), one row
   per turn.
4. A directory or glob: one session per text file (``session_id`` = file stem, sorted order;
   stems that collide get ids from their relative path). A directory's ``README.*`` and
   ``metadata.csv`` files are its documentation and session metadata, not transcripts: they are
   not read as sessions (logged).

Turn table schema (one row per turn)
------------------------------------
``session_id`` (str), ``turn`` (int, 0-based order in the session), ``exchange`` (int, a patient
turn opens a new exchange), ``speaker`` (``patient``/``therapist``), ``speaker_label`` (as written),
``text`` (speech for analysis: artefact paragraphs and meta notes removed), ``raw_text`` (exactly as
in the file, label excluded), ``thinking`` (hidden therapist reasoning, "" if none), ``event``
(type keys of the events conditioning this turn, joined by ``;``, "" if none), ``event_text`` (the
event lines exactly as written, joined by newlines; for table inputs the ``event`` column as
given), ``source`` (file path), ``line_start``/``line_end`` (1-based, inclusive), ``timestamp``
(a label's leading timestamp as written, e.g. ``00:01:10``; "" if none), ``meta_notes``
(removed out-of-role paragraphs, joined by blank lines), and boolean flags ``generation_error``,
``missing_answer``, ``meta_note``, ``truncated``, ``role_play``.

Nothing is silently lost: for text files, :func:`segment_text` (:mod:`therapy_turns.io.segments`)
cuts the file into segments whose
concatenation is the file; every segment is either a turn's ``raw_text``, its ``thinking``, an
``event`` line, or a separator (label, header, blank line). Bad input raises a subclass of
:class:`TranscriptError` naming the file, the line, what was found and what was expected.
"""

from __future__ import annotations

import glob as globmod
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from therapy_turns.io import labels
from therapy_turns.io.artefacts import FLAGS, analyse_turn_text
from therapy_turns.io.errors import (  # noqa: F401  (re-exported: the loader's public errors)
    BinaryFileError,
    DuplicateSessionError,
    EmptyTranscriptError,
    EncodingError,
    MalformedTableError,
    MissingColumnError,
    MissingPathError,
    NoSpeakerLabelError,
    SameFileError,
    SpeakerOptionError,
    TextBeforeLabelError,
    TranscriptError,
    UnknownSpeakerError,
    UnmappedSpeakerError,
)
from therapy_turns.io.events import (  # noqa: F401  (event_counts re-exported)
    EVENT_COLUMNS,
    EVENT_TYPES,
    EventTypes,
    event_counts,
    is_event_line,
)
from therapy_turns.io.labels import (  # noqa: F401  (re-exported)
    ABBREVIATIONS,
    DEFAULT_SPEAKERS,
    ROLES,
    speaker_map,
)
from therapy_turns.io.reading import read_text_file
from therapy_turns.io.segments import BOM, Segment, segment_text, split_lines  # noqa: F401
from therapy_turns.io.tables import REQUIRED_COLUMNS, table_rows  # noqa: F401
from therapy_turns.schema import DEFAULT_EXCLUDE

log = logging.getLogger(__name__)

SPEAKERS = ROLES
TEXT_SUFFIXES = {".txt", ".md", ".text"}
TABLE_SUFFIXES = {".csv", ".jsonl"}
#: files of a corpus directory that describe it rather than hold sessions (lower-case names)
COMPANION_FILES = ("metadata.csv",)
COLUMNS = [
    "session_id",
    "turn",
    "exchange",
    "speaker",
    "speaker_label",
    "text",
    "raw_text",
    "thinking",
    "event",
    "event_text",
    "source",
    "line_start",
    "line_end",
    "timestamp",
    "meta_notes",
    "generation_error",
    "missing_answer",
    "meta_note",
    "truncated",
    "role_play",
]


# --------------------------------------------------------------------------- data model
@dataclass
class SkippedFile:
    """A file left out with ``on_error='skip'`` and why."""

    path: str
    reason: str


@dataclass
class Corpus:
    """The turn table of a corpus plus the files that were skipped."""

    turns: pd.DataFrame
    skipped: list[SkippedFile] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: sessions, turns, flags counted, skipped files."""
        t = self.turns
        flags = ", ".join(f"{f}={int(t[f].sum())}" for f in FLAGS)
        events = event_counts(t)
        ev = f"; events: {', '.join(f'{k}={n}' for k, n in events.items())}" if events else ""
        return (
            f"{t['session_id'].nunique()} sessions, {len(t)} turns ({flags}){ev}; "
            f"{len(self.skipped)} files skipped"
        )


# --------------------------------------------------------------------------- turn table
def turn_table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The turn table of raw turn rows (:func:`text_rows`, :func:`parse_table`'s rows): add
    derived columns (turn, exchange, text analysis) and order the columns.

    Rows are grouped by session in order of first appearance (a stable regrouping); ``turn``
    numbers a session's rows from 0 and ``exchange`` counts its patient-opened exchanges.
    Built column by column in plain Python: per-session pandas operations cost more than the
    text analysis on corpora of many short sessions.
    """
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    first: dict[object, int] = {}
    for r in rows:
        first.setdefault(r["session_id"], len(first))
    rows = sorted(rows, key=lambda r: first[r["session_id"]])
    turn, exchange = [], []
    prev_sid, prev_speaker, k, opened = None, None, 0, 0
    for r in rows:
        if r["session_id"] != prev_sid:
            prev_sid, prev_speaker, k, opened = r["session_id"], None, 0, 0
        opened += r["speaker"] == "patient" and prev_speaker != "patient"
        turn.append(k)
        exchange.append(max(opened - 1, 0))
        k, prev_speaker = k + 1, r["speaker"]
    derived = [analyse_turn_text(r["raw_text"], r["speaker"]) for r in rows]
    cols = {"turn": turn, "exchange": exchange}
    for c in COLUMNS:
        if c not in cols:
            cols[c] = ([d[c] for d in derived] if c in derived[0]
                       else [r.get(c, "") for r in rows] if c in EVENT_COLUMNS
                       else [r[c] for r in rows])
    df = pd.DataFrame({c: cols[c] for c in COLUMNS})
    types = {"turn": "int64", "exchange": "int64", "line_start": "int64", "line_end": "int64",
             **{f: "bool" for f in FLAGS}}
    convert = {c: t for c, t in types.items() if df[c].dtype != t}  # usually none
    return df.astype(convert) if convert else df


def parse_text(
    text: str,
    session_id: str,
    source: str | Path = "<text>",
    speakers: Mapping[str, str] | None = None,
    event_types: EventTypes | None = None,
) -> pd.DataFrame:
    """Parse one text transcript (plain or full variant) into the turn table."""
    return turn_table(text_rows(text, session_id, source, speakers, event_types))


def combine(parts: Iterable[pd.DataFrame | list[dict[str, object]]]) -> pd.DataFrame:
    """One turn table of ``parts`` in order: turn tables, and raw row lists of
    :func:`text_rows` (consecutive row lists go through one :func:`turn_table` call, cheaper
    than a table per session on corpora of many short sessions)."""
    frames: list[pd.DataFrame] = []
    rows: list[dict[str, object]] = []
    for p in parts:
        if isinstance(p, pd.DataFrame):
            if rows:
                frames.append(turn_table(rows))
                rows = []
            frames.append(p)
        else:
            rows += p
    if rows or not frames:
        frames.append(turn_table(rows))
    return frames[0].reset_index(drop=True) if len(frames) == 1 else pd.concat(
        frames, ignore_index=True)


def parse_table(path: Path, speakers: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Parse a CSV or JSONL file with ``session_id, speaker, text`` (optional ``turn``) rows."""
    return turn_table(table_rows(path, speakers or DEFAULT_SPEAKERS))


def text_rows(
    text: str,
    session_id: str,
    source: str | Path = "<text>",
    speakers: Mapping[str, str] | None = None,
    event_types: EventTypes | None = None,
) -> list[dict[str, object]]:
    """The raw turn rows of one text transcript (:func:`parse_text` before :func:`turn_table`;
    the rows of several transcripts make one table in one :func:`turn_table` call)."""
    speakers = speakers or DEFAULT_SPEAKERS
    event_types = event_types or EVENT_TYPES
    turns: dict[int, dict[str, list]] = {}
    for s in segment_text(text, source, speakers):
        if s.turn is None:
            continue
        t = turns.setdefault(s.turn, {"label": [], "speech": [], "thinking": [], "lines": [],
                                      "event": [], "role": []})
        t[s.kind].append(s.text)
        if s.kind != "event":  # an event line stands before its turn: not in the turn's span
            t["lines"].append(s.line)
        if s.role:
            t["role"].append(s.role)
    rows = []
    for k in sorted(turns):
        t = turns[k]
        lab = labels.match_label(t["label"][0])
        rows.append(
            {
                "session_id": session_id,
                "speaker": t["role"][0],
                "speaker_label": lab.label,
                "timestamp": lab.timestamp,
                "raw_text": "".join(t["speech"]),
                "thinking": "".join(t["thinking"]).strip(),
                "event": ";".join(event_types.classify(e) for e in t["event"]),
                "event_text": "\n".join(e.rstrip("\r\n") for e in t["event"]),
                "source": str(source),
                "line_start": min(t["lines"]),
                "line_end": max(t["lines"]),
            }
        )
    return rows


# --------------------------------------------------------------------------- corpora
def expand_paths(paths: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """Resolve files, directories and globs to sorted ``(file, base)`` pairs."""
    out: list[tuple[Path, Path]] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = [
                f
                for f in sorted(p.rglob("*"))
                if f.is_file()
                and f.suffix.lower() in TEXT_SUFFIXES | TABLE_SUFFIXES
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            ]
            companions = [f for f in files if _is_companion(f)]
            if companions:
                log.info("%s: not read as sessions (documentation, metadata): %s", p,
                         ", ".join(str(f.relative_to(p)) for f in companions))
            out += [(f, p) for f in files if f not in companions]
        elif p.is_file():
            out.append((p, p.parent))
        elif any(ch in str(p) for ch in "*?["):
            files = sorted(
                Path(f) for f in globmod.glob(str(p), recursive=True) if Path(f).is_file()
            )
            if not files:
                raise MissingPathError(
                    p, None, "a pattern that matches no file", "at least one transcript file"
                )
            base = Path(str(p).split("*")[0].split("?")[0].split("[")[0] or ".")
            base = base if base.is_dir() else base.parent
            out += [(f, base) for f in files]
        else:
            raise MissingPathError(
                p, None, "no such file or directory", "an existing file, directory or glob"
            )
    return out


def _is_companion(f: Path) -> bool:
    """A corpus directory's README (any suffix) or session metadata file."""
    return f.stem.lower() == "readme" or f.name.lower() in COMPANION_FILES


def check_not_input(out: str | Path, files: Iterable[Path]) -> None:
    """Raise :class:`SameFileError` if ``out`` is one of ``files`` (nothing writes over its
    input)."""
    target = Path(out).resolve()
    for f in files:
        if f.resolve() == target:
            raise SameFileError(out, None, f"an output path that is the input file {f}",
                                "an --out file that is not one of the inputs")


def session_ids(files: Sequence[tuple[Path, Path]]) -> dict[Path, str]:
    """File stem as session id; colliding stems get ids from their path relative to their base."""
    stems: dict[str, int] = {}
    for f, _ in files:
        stems[f.stem] = stems.get(f.stem, 0) + 1
    ids: dict[Path, str] = {}
    for f, base in files:
        sid = f.stem if stems[f.stem] == 1 else f.relative_to(base).with_suffix("").as_posix()
        if sid in ids.values():
            raise DuplicateSessionError(
                f,
                None,
                f"session id {sid!r} already used by another file",
                "unique file names or paths",
            )
        ids[f] = sid
    return ids


def load_corpus(
    paths: str | Path | Iterable[str | Path],
    *,
    on_error: str = "fail",
    speakers: Mapping[str, str] | None = None,
    progress: bool | None = None,
    event_patterns: str | Path | None = None,
    out: str | Path | None = None,
) -> Corpus:
    """Load files, directories or globs into one turn table (see module docstring); event lines
    are typed by the patterns of ``event_patterns`` (default ``data/events.yaml``).

    ``out``: the file the caller will write; an error if it is one of the inputs."""
    if on_error not in ("fail", "skip"):
        raise ValueError("on_error must be 'fail' or 'skip'")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    speakers = speaker_map(speakers)
    event_types = EventTypes.load(event_patterns) if event_patterns else EVENT_TYPES
    files = expand_paths(paths)
    if out is not None:
        check_not_input(out, [f for f, _ in files])
    ids = session_ids(files)
    parts: list[pd.DataFrame | list[dict[str, object]]] = []
    skipped = []
    show = progress if progress is not None else len(files) > 20
    for f, _ in tqdm(files, desc="load", unit="file", disable=not show):
        try:
            if f.suffix.lower() in TABLE_SUFFIXES:
                parts.append(parse_table(f, speakers))
            else:
                parts.append(text_rows(read_text_file(f), ids[f], f, speakers, event_types))
        except TranscriptError as e:
            if on_error == "fail":
                raise
            log.warning("skipped %s", e.withheld())
            skipped.append(SkippedFile(str(f), str(e)))
    turns = combine(parts)
    dup = turns.drop_duplicates(["session_id", "source"]).groupby("session_id")["source"].nunique()
    if (dup > 1).any():
        sid = dup[dup > 1].index[0]
        srcs = sorted(turns.loc[turns.session_id == sid, "source"].unique())
        raise DuplicateSessionError(
            srcs[1],
            None,
            f"session id {sid!r} also in {srcs[0]}",
            "each session id in one input only",
        )
    return Corpus(turns=turns, skipped=skipped, files=[str(f) for f, _ in files])


def analysable(
    turns: pd.DataFrame, exclude: Sequence[str] = DEFAULT_EXCLUDE
) -> pd.DataFrame:
    """Turns kept for analysis under an exclusion policy (flag names to leave out).

    The default leaves out generation errors and placeholders (turns with no speech); meta notes
    never count because they are already removed from ``text``.
    """
    unknown = set(exclude) - set(FLAGS)
    if unknown:
        raise ValueError(f"unknown artefact flags {sorted(unknown)}; expected some of {FLAGS}")
    mask = ~turns[list(exclude)].any(axis=1) if exclude else pd.Series(True, index=turns.index)
    return turns[mask]
