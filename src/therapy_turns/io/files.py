"""Loader errors; UTF-8 text, CSV and JSONL read strictly; atomic writes, output folders, cache."""

import csv
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from therapy_turns.paths import DATA_DIR, read_yaml

log = logging.getLogger(__name__)

# A quoted string; apostrophes inside words ("speaker's", "O'Neill") neither open nor close one.
_QUOTED = re.compile(
    r"""(?<!\w)'(?:[^'\\]|\\.|'(?=\w))*'(?!\w)|(?<!\w)"(?:[^"\\]|\\.)*"(?!\w)|“[^”]*”"""
)
_MESSAGES = read_yaml(DATA_DIR / "errors.yaml")
MARKER = ".therapy-turns-analysis"  # marks a folder written by ``therapy-turns analyze``
MANIFEST = "manifest.json"  # written last: a folder without it is incomplete
_CHECK = b"therapy-turns-sha256:"


def withhold_quoted(message: str) -> str:
    """``message`` with each quoted string (transcript text, a label) replaced by its length."""
    return _QUOTED.sub(lambda m: f"<{len(m.group(0)) - 2} characters withheld>", message)


class TranscriptError(Exception):
    """Bad input of a ``kind``: one line naming the file, line, what was found and was expected."""

    def __init__(self, kind: str, path: str | Path, line: int | None = None, **fields) -> None:
        self.kind, self.path, self.line, self.fields = kind, str(path), line, fields
        found, expected = (_MESSAGES[kind][k].format(**fields) for k in ("found", "expected"))
        where = f"{path}:{line}" if line else path
        super().__init__(f"{where}: found {found}; expected {expected}")

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


def csv_rows(path: Path, required: Sequence[str], empty: bool = False) -> Iterator[tuple]:
    """(first line, last line, row) of a CSV file read strictly (lines count LF only)."""
    text = read_text_file(path).removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline="\n"), strict=True)
    header, n = [], 0
    try:
        for fields in filter(None, reader):  # blank lines are no rows
            start = reader.line_num - sum(f.count("\n") for f in fields)  # LFs in quoted cells
            if not header:
                header, header_end = [h.strip() for h in fields], reader.line_num
                if len(set(header)) < len(header):
                    raise TranscriptError("repeated_column", path, start, header=header)
                if missing := [c for c in required if c not in header]:
                    info = {"header": header, "required": list(required), "missing": missing}
                    raise TranscriptError("missing_column", path, start, **info)
            elif len(fields) != len(header):
                raise TranscriptError("field_count", path, start, n=len(fields), k=len(header))
            else:
                n += 1
                yield start, reader.line_num, dict(zip(header, fields, strict=True))
    except csv.Error as e:
        raise TranscriptError("unparsable_csv", path, reader.line_num, reason=e) from None
    if not header:
        raise TranscriptError("no_header", path)
    if not n and not empty:
        raise TranscriptError("no_rows", path, header_end)


def jsonl_rows(path: Path) -> Iterator[tuple]:
    """(line, line, object) of a JSONL file read strictly (one JSON object per line)."""
    for n, line in enumerate(read_text_file(path).split("\n"), start=1):
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise TranscriptError("invalid_json", path, n, reason=e.msg) from None
            if not isinstance(rec, dict):
                raise TranscriptError("not_object", path, n, type=type(rec).__name__)
            yield n, n, rec


class OutputError(Exception):
    """An output cannot be written safely; the message is one line naming the path."""


@contextmanager
def _writing(path: Path) -> Iterator[None]:
    try:
        yield
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``, renamed onto it on success (removed on error)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with _writing(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            yield tmp
            os.replace(tmp, path)
    finally:
        with suppress(OSError):  # e.g. the parent is a file
            tmp.unlink(missing_ok=True)


def write_cached(path: str | Path, data: bytes) -> None:
    """Store a cache entry atomically: a checksum line, then ``data``."""
    with atomic_write(path) as tmp:
        tmp.write_bytes(_CHECK + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)


def read_cached(path: str | Path) -> bytes | None:
    """The bytes of a cache entry; None if there is none or it is corrupt (reported, removed)."""
    try:
        head, sep, data = Path(path).read_bytes().partition(b"\n")
    except FileNotFoundError:
        return None
    if sep and head == _CHECK + hashlib.sha256(data).hexdigest().encode():
        return data
    log.warning("corrupt cache entry %s (checksum mismatch): removed, recomputing", path)
    Path(path).unlink(missing_ok=True)
    return None


@contextmanager
def output_folder(
    path: str | Path, inputs: Iterable[str | Path] = (), tables: Iterable[str] = ()
) -> Iterator[Path]:
    """Lock an output folder (new or ours, no input inside), yield a staging folder, publish it."""
    p, staging = Path(path).absolute(), Path(path).absolute() / ".staging"
    if p.exists() and not p.is_dir():
        raise OutputError(f"--out {p}: is a file, expected a folder")
    if held := [i for i in inputs if Path(i).resolve().is_relative_to(p.resolve())]:
        msg = f"holds the input {held[0]}; choose an output folder outside the corpus"
        raise OutputError(f"--out {p}: {msg}")
    if p.is_dir() and any(p.iterdir()) and not any((p / f).is_file() for f in (MARKER, MANIFEST)):
        msg = f"folder is not empty and was not written by therapy-turns analyze (no {MARKER})"
        raise OutputError(f"--out {p}: {msg}; choose a new or empty folder")
    with _writing(p):
        p.mkdir(parents=True, exist_ok=True)
        lock = open(p / ".lock", "a+b", buffering=0)  # held until the run ends
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # dropped when the process dies
        except BlockingIOError:
            holder = (p / ".lock").read_text(errors="replace").strip() or "?"
            msg = f"another analyze (pid {holder}) is writing this folder"
            raise OutputError(f"--out {p}: {msg}; wait for it or choose another folder") from None
        with _writing(p):
            lock.truncate(0)
            lock.write(str(os.getpid()).encode())
            (p / MARKER).write_bytes(b'{"written_by": "therapy-turns analyze"}\n')  # ours from now
            shutil.rmtree(staging, ignore_errors=True)  # a killed run's leftovers
            staging.mkdir()
        yield staging
        with _writing(p):
            (p / MANIFEST).unlink(missing_ok=True)  # until it is back: incomplete
            for name in (*tables, MANIFEST):
                shutil.rmtree(p / name, ignore_errors=True)
                if (staging / name).exists():
                    os.replace(staging / name, p / name)
        shutil.rmtree(staging, ignore_errors=True)
