"""The loader's error types: each names the file, the line, what was found and what was expected."""

from __future__ import annotations

import re
from pathlib import Path

# A quoted string: the opening quote not after a letter or digit, the closing one not before
# one (so apostrophes in "speaker's" or "O'Neill" neither open nor close a quotation).
_QUOTED = re.compile(r"""(?<!\w)'(?:[^'\\]|\\.|'(?=\w))*'(?!\w)|(?<!\w)"(?:[^"\\]|\\.)*"(?!\w)"""
                     r"""|“[^”]*”""")


def withhold_quoted(message: str) -> str:
    """``message`` with every quoted string (text from a file, a speaker label) replaced by its
    length, e.g. ``<12 characters withheld>``: for logs, errors and manifests, which must not
    carry transcript text."""
    return _QUOTED.sub(lambda m: f"<{len(m.group(0)) - 2} characters withheld>", message)


class TranscriptError(Exception):
    """Bad input. The message names the file, the line, what was found and what was expected."""

    def __init__(self, path: str | Path, line: int | None, found: str, expected: str) -> None:
        self.path, self.line, self.found, self.expected = str(path), line, found, expected
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: found {found}; expected {expected}")

    def withheld(self) -> str:
        """The message without the transcript text it quotes (see :func:`withhold_quoted`)."""
        return withhold_quoted(str(self))


class MissingPathError(TranscriptError):
    """The path (or glob) does not exist or matches nothing."""


class EmptyTranscriptError(TranscriptError):
    """The file holds no text."""


class BinaryFileError(TranscriptError):
    """The file holds NUL bytes: not a text transcript."""


class EncodingError(TranscriptError):
    """The file is not valid UTF-8."""


class NoSpeakerLabelError(TranscriptError):
    """No line starts with a recognised speaker label."""


class TextBeforeLabelError(TranscriptError):
    """Text stands before the first speaker label, so it belongs to no speaker."""


class MissingColumnError(TranscriptError):
    """A CSV/JSONL file lacks a required column."""


class MalformedTableError(TranscriptError):
    """A CSV file that does not parse as a table (e.g. a row with more fields than the header)."""


class UnmappedSpeakerError(TranscriptError):
    """A CSV/JSONL row names a speaker the mapping does not know."""


class DuplicateSessionError(TranscriptError):
    """Two inputs would produce the same session id."""


class UnknownSpeakerError(TranscriptError):
    """A line-start label the mapping does not know recurs like a speaker
    (rule in :mod:`therapy_turns.io.labels`); ``label`` is the label as written."""

    label: str = ""


class SpeakerOptionError(TranscriptError):
    """A ``--speaker`` value that can never match a label, or names an unknown role."""


class SameFileError(TranscriptError):
    """An output path that is one of the command's input files."""
