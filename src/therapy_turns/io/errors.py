"""The loader's errors (one line: file, line, found, expected) and reading a file as UTF-8."""

import re
from collections.abc import Sequence
from pathlib import Path

# A quoted string; apostrophes inside words ("speaker's", "O'Neill") neither open nor close one.
_QUOTED = re.compile(
    r"""(?<!\w)'(?:[^'\\]|\\.|'(?=\w))*'(?!\w)|(?<!\w)"(?:[^"\\]|\\.)*"(?!\w)|“[^”]*”"""
)


def withhold_quoted(message: str) -> str:
    """``message`` with each quoted string (transcript text, a label) replaced by its length."""
    return _QUOTED.sub(lambda m: f"<{len(m.group(0)) - 2} characters withheld>", message)


class TranscriptError(Exception):
    """Bad input: the message names the file, the line, what was found and what was expected."""

    def __init__(self, path: str | Path, line: int | None, found: str, expected: str) -> None:
        self.path, self.line = str(path), line
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: found {found}; expected {expected}")

    def withheld(self) -> str:
        """The message without the transcript text it quotes."""
        return withhold_quoted(str(self))


# the kinds of bad input, each a TranscriptError
MissingPathError = type("MissingPathError", (TranscriptError,), {})
EmptyTranscriptError = type("EmptyTranscriptError", (TranscriptError,), {})
BinaryFileError = type("BinaryFileError", (TranscriptError,), {})
EncodingError = type("EncodingError", (TranscriptError,), {})
NoSpeakerLabelError = type("NoSpeakerLabelError", (TranscriptError,), {})
TextBeforeLabelError = type("TextBeforeLabelError", (TranscriptError,), {})
MissingColumnError = type("MissingColumnError", (TranscriptError,), {})
MalformedTableError = type("MalformedTableError", (TranscriptError,), {})
UnmappedSpeakerError = type("UnmappedSpeakerError", (TranscriptError,), {})
DuplicateSessionError = type("DuplicateSessionError", (TranscriptError,), {})
SpeakerOptionError = type("SpeakerOptionError", (TranscriptError,), {})
SameFileError = type("SameFileError", (TranscriptError,), {})
EventsFileError = type("EventsFileError", (TranscriptError,), {})


class UnknownSpeakerError(TranscriptError):
    """An unknown label that recurs like a speaker (``rule`` says how) on ``lines``."""

    def __init__(
        self, path: str | Path, label: str, lines: list[int], rule: str, others: Sequence = ()
    ) -> None:
        self.label, name, n = label, label.split(" (")[0], len(lines)
        first = ", ".join(map(str, lines[:5])) + (", ..." if n > 5 else "")
        also = "".join(
            f"; also unknown: {k!r} (lines {', '.join(map(str, v[:5]))})" for k, v in others
        )
        found = f"unknown speaker label {label!r} at the start of {n} line{'s' * (n > 1)} ({first})"
        expected = (
            f"a known speaker label or a mapping: --speaker '{name}=patient' or --speaker "
            f"'{name}=therapist' (--speaker '{name}=content' keeps it inside turns){also}"
        )
        super().__init__(path, lines[0], f"{found}, {rule}", expected)


def read_text_file(path: Path) -> str:
    """The file as UTF-8 text; empty, binary (NUL bytes) or non-UTF-8 files raise."""
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
        found = f"byte {data[e.start : e.start + 1]!r} that is not UTF-8"
        raise EncodingError(path, line, found, "UTF-8 text") from None
