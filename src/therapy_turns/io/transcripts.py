"""Transcripts (files, directories, globs) in, one row per turn out (:data:`COLUMNS`, see the
README), streamed session by session or loaded whole."""

import glob
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby, islice
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
from tqdm.auto import tqdm

from therapy_turns.io import errors
from therapy_turns.io.artefacts import FLAGS, analyse_turn_text
from therapy_turns.io.events import EVENT_TYPES, SEPARATOR, EventTypes, event_counts
from therapy_turns.io.labels import Speakers, match_label, segment_text, speaker_map
from therapy_turns.io.tables import table_rows
from therapy_turns.paths import project_path
from therapy_turns.schema import DEFAULT_EXCLUDE

log = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv", ".jsonl"}
SUFFIXES = {".txt", ".md", ".text", *TABLE_SUFFIXES}
DEFAULT_CHUNK_SESSIONS = 20
COLUMNS = ["session_id", "turn", "exchange", "speaker", "speaker_label", "text", "raw_text"]
COLUMNS += ["thinking", "event", "event_text", "source", "line_start", "line_end", "timestamp"]
COLUMNS += ["meta_notes", *FLAGS]
CorpusArg = str | Path | Sequence[str | Path]
Row = dict[str, object]


class SkippedFile(NamedTuple):
    """A file left out with ``on_error='skip'`` and why."""

    path: str
    reason: str


@dataclass
class Corpus:
    """The turn table of a corpus, the files skipped and the files read."""

    turns: pd.DataFrame
    skipped: list[SkippedFile]
    files: list[str]

    def summary(self) -> str:
        """One line: sessions, turns, flags, events, skipped files."""
        t, events = self.turns, event_counts(self.turns)
        flags = ", ".join(f"{f}={int(t[f].sum())}" for f in FLAGS)
        ev = "; events: " + ", ".join(f"{k}={n}" for k, n in events.items()) if events else ""
        n = t["session_id"].nunique()
        return f"{n} sessions, {len(t)} turns ({flags}){ev}; {len(self.skipped)} files skipped"


def turn_table(rows: list[Row]) -> pd.DataFrame:
    """The turn table of raw turn rows (``exchange``: each patient turn opens one)."""
    first = {sid: i for i, sid in enumerate(dict.fromkeys(r["session_id"] for r in rows))}
    out, prev = [], (None, None)  # the previous row's session and speaker
    for r in sorted(rows, key=lambda r: first[r["session_id"]]):
        if r["session_id"] != prev[0]:
            turn, opened, prev = 0, 0, (r["session_id"], None)
        opened += r["speaker"] == "patient" and prev[1] != "patient"
        derived = analyse_turn_text(r["raw_text"], r["speaker"])
        out.append({**r, "turn": turn, "exchange": max(opened - 1, 0), **derived})
        turn, prev = turn + 1, (r["session_id"], r["speaker"])
    return pd.DataFrame(out, columns=COLUMNS)


def text_rows(
    text: str, sid: str, source: str | Path, speakers: Speakers | None, types: EventTypes | None
) -> list[Row]:
    """The raw turn rows of one text transcript (plain or full variant)."""
    classify, rows = (types or EVENT_TYPES).classify, []
    owned = [s for s in segment_text(text, source, speakers) if s.turn is not None]
    for _, g in groupby(sorted(owned, key=attrgetter("turn")), key=attrgetter("turn")):
        segs = list(g)
        head = next(s for s in segs if s.kind == "label")
        lab, events = match_label(head.text), [s.text for s in segs if s.kind == "event"]
        lines = [s.line for s in segs if s.kind != "event"]  # an event stands before its turn
        text = {k: "".join(s.text for s in segs if s.kind == k) for k in ("speech", "thinking")}
        row = {"session_id": sid, "speaker": head.role, "speaker_label": lab.label}
        row |= {"timestamp": lab.timestamp, "raw_text": text["speech"], "source": str(source)}
        row |= {
            "thinking": text["thinking"].strip(),
            "event": SEPARATOR.join(map(classify, events)),
        }
        row |= {"event_text": "\n".join(e.rstrip("\r\n") for e in events)}
        rows.append(row | {"line_start": min(lines), "line_end": max(lines)})
    return rows


def parse_text(
    text: str, session_id: str, source: str | Path = "<text>", speakers: Speakers | None = None
) -> pd.DataFrame:
    """The turn table of one text transcript (``speakers``: a label -> role mapping)."""
    return turn_table(text_rows(text, session_id, source, speakers, None))


def _paths(corpus: CorpusArg) -> list[Path]:
    return [Path(p) for p in ([corpus] if isinstance(corpus, (str, Path)) else corpus)]


def project_corpus(corpus: CorpusArg) -> list[Path]:
    """The corpus paths of a notebook parameter, relative ones resolved against the root."""
    return [project_path(p) for p in _paths(corpus)]


def corpus_files(corpus: CorpusArg) -> dict[Path, str]:
    """The transcript files of a corpus in reading order with their session ids."""
    found: list[tuple[Path, Path]] = []  # (file, base)
    for p in _paths(corpus):
        if p.is_file():
            found.append((p, p.parent))
            continue
        if not p.is_dir() and not re.search(r"[*?[]", str(p)):
            expected = "an existing file, directory or glob"
            raise errors.MissingPathError(p, None, "no such file or directory", expected)
        pattern = f"{glob.escape(str(p))}/**/*" if p.is_dir() else str(p)
        files = sorted(Path(f) for f in glob.glob(pattern, recursive=True) if Path(f).is_file())
        if p.is_dir():  # transcripts by suffix (glob leaves hidden files out), not documentation
            files = [f for f in files if f.suffix.lower() in SUFFIXES]
            docs = [
                f for f in files if f.stem.lower() == "readme" or f.name.lower() == "metadata.csv"
            ]
            if docs:
                names = ", ".join(str(f.relative_to(p)) for f in docs)
                log.info("%s: not read as sessions (documentation, metadata): %s", p, names)
            files = [f for f in files if f not in docs]
        elif not files:
            what = "a pattern that matches no file"
            raise errors.MissingPathError(p, None, what, "at least one transcript file")
        base = p if p.is_dir() else Path(re.split(r"[*?[]", str(p))[0] or ".")
        found += [(f, base if base.is_dir() else base.parent) for f in files]
    stems, ids = Counter(f.stem for f, _ in found), {}
    for f, base in found:
        sid = f.stem if stems[f.stem] == 1 else f.relative_to(base).with_suffix("").as_posix()
        if sid in ids.values():
            what = f"session id {sid!r} already used by another file"
            raise errors.DuplicateSessionError(f, None, what, "unique file names or paths")
        ids[f] = sid
    return ids


def corpus_checksum(corpus: CorpusArg) -> str:
    """SHA-256 over the sorted files' names and bytes."""
    h = hashlib.sha256()
    for f in corpus_files(corpus):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def session_parts(
    corpus: CorpusArg,
    on_error: str = "fail",
    speakers: Speakers | None = None,
    skipped: list[SkippedFile] | None = None,
    event_types: EventTypes | None = None,
) -> Iterator[list[Row]]:
    """The raw turn rows of each session; a bad file raises or is skipped (``skipped``)."""
    if on_error not in ("fail", "skip"):
        raise ValueError("on_error must be 'fail' or 'skip'")
    speakers, seen = speaker_map(speakers), {}
    for f, sid in corpus_files(corpus).items():
        try:
            if f.suffix.lower() in TABLE_SUFFIXES:
                rows = table_rows(f, speakers)
            else:
                rows = text_rows(errors.read_text_file(f), sid, f, speakers, event_types)
        except errors.TranscriptError as e:
            if on_error == "fail":
                raise
            log.warning("skipped %s", e.withheld())
            if skipped is not None:
                skipped.append(SkippedFile(str(f), str(e)))
            continue
        for sid, session in groupby(rows, key=itemgetter("session_id")):
            if sid in seen:
                found = f"session id {sid!r} also in {seen[sid]}"
                expected = "each session id in one input only"
                raise errors.DuplicateSessionError(f, None, found, expected)
            seen[sid] = str(f)
            yield list(session)


def iter_sessions(corpus: CorpusArg, *args: Any, **kw: Any) -> Iterator[pd.DataFrame]:
    """The turn table of each session (streaming :func:`load_corpus`)."""
    return map(turn_table, session_parts(corpus, *args, **kw))


def iter_chunks(
    sessions: Iterable[list[Row]], chunk_sessions: int = DEFAULT_CHUNK_SESSIONS
) -> Iterator[pd.DataFrame]:
    """Turn tables of at most ``chunk_sessions`` consecutive sessions of :func:`session_parts`."""
    if chunk_sessions < 1:
        raise ValueError("chunk_sessions must be >= 1")
    it = iter(sessions)
    while batch := list(islice(it, chunk_sessions)):
        yield turn_table([r for s in batch for r in s])


def load_corpus(
    paths: CorpusArg,
    *,
    on_error: str = "fail",
    speakers: Speakers | None = None,
    progress: bool | None = None,
    event_patterns: str | Path | None = None,
    out: str | Path | None = None,
) -> Corpus:
    """One turn table of a corpus (``out``, the file the caller writes, must not be an input)."""
    files = corpus_files(paths)
    for f in files if out is not None else ():
        if f.resolve() == Path(out).resolve():
            found = f"an output path that is the input file {f}"
            expected = "an --out file that is not one of the inputs"
            raise errors.SameFileError(out, None, found, expected)
    skipped: list[SkippedFile] = []
    types = EventTypes.load(event_patterns) if event_patterns else None
    parts = session_parts(paths, on_error, speakers, skipped, types)
    show = progress if progress is not None else len(files) > 20
    rows = [r for s in tqdm(parts, desc="load", unit="session", disable=not show) for r in s]
    return Corpus(turn_table(rows), skipped, [str(f) for f in files])


def analysable(turns: pd.DataFrame, exclude: Sequence[str] = DEFAULT_EXCLUDE) -> pd.DataFrame:
    """Turns kept for analysis: those with none of the ``exclude`` flags."""
    if unknown := set(exclude) - set(FLAGS):
        raise ValueError(f"unknown artefact flags {sorted(unknown)}; expected some of {FLAGS}")
    return turns[~turns[list(exclude)].any(axis=1)]
