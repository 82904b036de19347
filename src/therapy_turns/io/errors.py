"""The loader's one error type (messages in ``data/errors.yaml``) and reading a file as UTF-8."""

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
    """Bad input of a ``kind``: one line naming the file, line, what was found and was expected."""

    def __init__(self, kind: str, path: str | Path, line: int | None = None, **fields) -> None:
        self.kind, self.path, self.line, self.fields = kind, str(path), line, fields
        found, expected = (_MESSAGES[kind][k].format(**fields) for k in ("found", "expected"))
        super().__init__(
            f"{f'{path}:{line}' if line else path}: found {found}; expected {expected}"
        )

    def withheld(self) -> str:
        """The message without the transcript text it quotes."""
        return withhold_quoted(str(self))


def read_text_file(path: Path) -> str:
    """The file as UTF-8 text; empty, binary (NUL bytes) or non-UTF-8 files raise."""
    data = path.read_bytes()
    if not data.strip():
        raise TranscriptError("empty", path)
    if b"\x00" in data:
        raise TranscriptError("binary", path, data[: data.index(b"\x00")].count(b"\n") + 1)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise TranscriptError("encoding", path, line, byte=data[e.start : e.start + 1]) from None
