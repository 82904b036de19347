"""Writing without destroying: atomic files, owned and locked output folders, checksummed cache."""

import fcntl
import hashlib
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".therapy-turns-analysis"  # marks a folder written by ``therapy-turns analyze``
MANIFEST = "manifest.json"  # written last: a folder without it is incomplete
_CHECK = b"therapy-turns-sha256:"
PathArg = str | os.PathLike[str]


class OutputError(Exception):
    """An output cannot be written safely; the message is one line naming the path."""


def _oserror(path: Path, e: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write ({e.strerror or e})")


@contextmanager
def atomic_write(path: PathArg) -> Iterator[Path]:
    """Yield a temporary path beside ``path``, renamed onto it on success (removed on error)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise _oserror(path, e) from None
    finally:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_cached(path: PathArg, data: bytes) -> None:
    """Store a cache entry atomically: a checksum line, then ``data``."""
    with atomic_write(path) as tmp:
        tmp.write_bytes(_CHECK + hashlib.sha256(data).hexdigest().encode() + b"\n" + data)


def read_cached(path: PathArg) -> bytes | None:
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
    path: PathArg, inputs: Iterable[PathArg] = (), tables: Iterable[str] = ()
) -> Iterator[Path]:
    """Lock an output folder (new or ours, no input inside), yield a staging folder, publish it."""
    p = Path(path).absolute()
    if p.exists() and not p.is_dir():
        raise OutputError(f"--out {p}: is a file, expected a folder")
    for i in inputs:
        if p.resolve() in (Path(i).resolve(), *Path(i).resolve().parents):
            msg = f"--out {p}: holds the input {i}; choose an output folder outside the corpus"
            raise OutputError(msg)
    if p.is_dir() and any(p.iterdir()) and not any((p / f).is_file() for f in (MARKER, MANIFEST)):
        raise OutputError(
            f"--out {p}: folder is not empty and was not written by therapy-turns analyze "
            f"(no {MARKER}); choose a new or empty folder"
        )
    fd, staging = None, p / ".staging"
    try:
        p.mkdir(parents=True, exist_ok=True)
        fd = os.open(p / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the OS drops it when the process dies
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        (p / MARKER).write_bytes(b'{"written_by": "therapy-turns analyze"}\n')  # ours from now
        shutil.rmtree(staging, ignore_errors=True)  # a killed run's leftovers
        staging.mkdir()
    except BlockingIOError:  # the lock is taken
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        msg = f"another analyze (pid {holder}) is writing this folder; wait for it or choose"
        raise OutputError(f"--out {p}: {msg} another folder") from None
    except OSError as e:
        if fd is not None:
            os.close(fd)
        raise _oserror(p, e) from None
    try:
        yield staging
        try:
            (p / MANIFEST).unlink(missing_ok=True)  # until it is back: incomplete
            for name in (*tables, MANIFEST):
                shutil.rmtree(p / name, ignore_errors=True)
                if (staging / name).exists():
                    os.replace(staging / name, p / name)
        except OSError as e:
            raise _oserror(p, e) from None
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        os.close(fd)
