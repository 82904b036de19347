"""The loader's errors (one line: file, line, found, expected; the messages are in
``data/errors.yaml``) and reading a file as UTF-8."""

import re
from pathlib import Path

from therapy_turns.paths import DATA_DIR, read_yaml

# A quoted string; apostrophes inside words ("speaker's", "O'Neill") neither open nor close one.
_QUOTED = re.compile(
    r"""(?<!\w)'(?:[^'\\]|\\.|'(?=\w))*'(?!\w)|(?<!\w)"(?:[^"\\]|\\.)*"(?!\w)|“[^”]*”"""
)
_MESSAGES = read_yaml(DATA_DIR / "errors.yaml")


def withhold_quoted(message: str) -> str:
    """``message`` with each quoted string (transcript text, a label) replaced by its length."""
    return _QUOTED.sub(lambda m: f"<{len(m.group(0)) - 2} characters withheld>", message)


class TranscriptError(Exception):
    """Bad input: the message names the file, the line, what was found and what was expected."""

    def __init__(self, path: str | Path, line: int | None, found: str, expected: str) -> None:
        self.path, self.line = str(path), line
        super().__init__(
            f"{f'{path}:{line}' if line else path}: found {found}; expected {expected}"
        )

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
UnknownSpeakerError = type("UnknownSpeakerError", (TranscriptError,), {})


def fail(
    kind: str, path: str | Path, line: int | None = None, error: type | None = None, **fields
) -> TranscriptError:
    """The error ``kind`` of ``data/errors.yaml`` (or of type ``error``) with its ``fields``."""
    name, found, expected = _MESSAGES[kind]
    err = (error or globals()[name])(path, line, found.format(**fields), expected.format(**fields))
    err.__dict__.update(fields)  # e.g. the ``label`` of an UnknownSpeakerError
    return err


def read_text_file(path: Path) -> str:
    """The file as UTF-8 text; empty, binary (NUL bytes) or non-UTF-8 files raise."""
    data = path.read_bytes()
    if not data.strip():
        raise fail("empty", path)
    if b"\x00" in data:
        raise fail("binary", path, data[: data.index(b"\x00")].count(b"\n") + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise fail("encoding", path, line, byte=data[e.start : e.start + 1]) from None
