"""A corpus as a stream: its files in sorted order, its checksum, its sessions one at a time, and
chunks of consecutive sessions (what :mod:`therapy_turns.pipeline` computes on)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from therapy_turns.io.events import EventTypes
from therapy_turns.io.transcripts import (
    TABLE_SUFFIXES,
    DuplicateSessionError,
    SkippedFile,
    TranscriptError,
    combine,
    expand_paths,
    parse_table,
    read_text_file,
    session_ids,
    speaker_map,
    text_rows,
    turn_table,
)
from therapy_turns.paths import project_path

log = logging.getLogger(__name__)

DEFAULT_CHUNK_SESSIONS = 20
CorpusArg = str | Path | Sequence[str | Path]


def corpus_paths(corpus: CorpusArg) -> list[Path]:
    """The corpus paths as given (relative ones: to the current folder)."""
    items = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    return [Path(p) for p in items]


def project_corpus(corpus: CorpusArg) -> list[Path]:
    """The corpus paths of a notebook parameter, relative ones resolved against the root."""
    items = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    return [project_path(p) for p in items]


def corpus_files(corpus: CorpusArg) -> list[Path]:
    """The transcript files of a corpus, sorted (as the loader reads them)."""
    return [f for f, _ in expand_paths(corpus_paths(corpus))]


def corpus_checksum(corpus: CorpusArg) -> str:
    """SHA-256 over the sorted files' names and bytes."""
    h = hashlib.sha256()
    for f in corpus_files(corpus):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def iter_sessions(corpus: CorpusArg, on_error: str = "fail",
                  speakers: Mapping[str, str] | None = None,
                  skipped: list[SkippedFile] | None = None) -> Iterator[pd.DataFrame]:
    """Yield the turn table of each session, file by file in sorted order (streaming
    :func:`~therapy_turns.io.transcripts.load_corpus`: same ids, same rows, same checks).

    Bad files raise, or with ``on_error="skip"`` are logged and appended to ``skipped``.
    """
    for part in session_parts(corpus, on_error, speakers, skipped):
        yield part if isinstance(part, pd.DataFrame) else turn_table(part)


def session_parts(corpus: CorpusArg, on_error: str = "fail",
                   speakers: Mapping[str, str] | None = None,
                   skipped: list[SkippedFile] | None = None,
                   event_types: EventTypes | None = None
                   ) -> Iterator[pd.DataFrame | list[dict[str, Any]]]:
    """:func:`iter_sessions`, with a text file's session as its raw rows
    (:func:`~therapy_turns.io.transcripts.text_rows`, event lines typed by ``event_types``),
    made into a table per chunk."""
    if on_error not in ("fail", "skip"):
        raise ValueError("on_error must be 'fail' or 'skip'")
    speakers = speaker_map(speakers)  # --speaker adds to the defaults, as in load_corpus
    files = expand_paths(corpus_paths(corpus))
    ids = session_ids(files)
    seen: dict[str, str] = {}
    for f, _ in files:
        table = f.suffix.lower() in TABLE_SUFFIXES
        try:
            part = parse_table(f, speakers) if table else text_rows(
                read_text_file(f), ids[f], f, speakers, event_types)
        except TranscriptError as e:
            if on_error == "fail":
                raise
            log.warning("skipped %s", e.withheld())
            if skipped is not None:
                skipped.append(SkippedFile(str(f), str(e)))
            continue
        if table:
            groups: Iterable[tuple[Any, Any]] = ((sid, g.reset_index(drop=True)) for sid, g
                                                 in part.groupby("session_id", sort=False))
        else:  # a text file holds one session (none if it has no turns)
            groups = [(ids[f], part)] if part else []
        for sid, turns in groups:
            sid = str(sid)
            if sid in seen:
                raise DuplicateSessionError(f, None, f"session id {sid!r} also in {seen[sid]}",
                                            "each session id in one input only")
            seen[sid] = str(f)
            yield turns


def iter_chunks(sessions: Iterable[pd.DataFrame | list[dict[str, Any]]],
                chunk_sessions: int = DEFAULT_CHUNK_SESSIONS) -> Iterator[pd.DataFrame]:
    """Group consecutive sessions (turn tables, or raw rows of
    :func:`~therapy_turns.io.transcripts.text_rows`) into turn tables of at most
    ``chunk_sessions`` sessions."""
    if chunk_sessions < 1:
        raise ValueError("chunk_sessions must be >= 1")
    batch: list[pd.DataFrame | list[dict[str, Any]]] = []
    for s in sessions:
        batch.append(s)
        if len(batch) == chunk_sessions:
            yield combine(batch)
            batch = []
    if batch:
        yield combine(batch)
