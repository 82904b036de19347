"""Reading a transcript file's bytes as text, with the loader's errors for bad bytes."""

from __future__ import annotations

from pathlib import Path

from therapy_turns.io.errors import BinaryFileError, EmptyTranscriptError, EncodingError


def read_text_file(path: Path) -> str:
    """Read a file as UTF-8, raising a :class:`TranscriptError` subclass on bad bytes."""
    data = path.read_bytes()
    if not data.strip():
        raise EmptyTranscriptError(path, None, "an empty file", "a transcript with speaker turns")
    if b"\x00" in data:
        line = data[: data.index(b"\x00")].count(b"\n") + 1
        raise BinaryFileError(path, line, "a NUL byte (binary data)", "UTF-8 text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise EncodingError(
            path, line, f"byte {data[e.start : e.start + 1]!r} that is not UTF-8", "UTF-8 text"
        ) from None
