"""Writing without destroying: atomic files, owned output folders, checksummed cache entries.

- :func:`atomic_write`: every output file is written to a temporary name beside it and renamed
  into place, so a kill or a full disk leaves the previous file or none, never a truncated one.
- :class:`OutputFolder`: an analysis output folder is *owned* once it holds :data:`MARKER`.
  ``claim`` refuses a non-empty folder it does not own, a folder that holds one of the inputs,
  and a folder another run is writing (an ``fcntl`` lock, released by the OS if the run dies);
  the build goes to ``.staging/`` and :meth:`OutputFolder.publish` moves it into place.
- :func:`write_cached` / :func:`read_cached`: cache entries carry a SHA-256 of their bytes; a
  corrupt entry is reported once, removed, and recomputed by the caller.

Every failure is an :class:`OutputError` whose message is one line (the CLI prints it, exit 2).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

log = logging.getLogger(__name__)

#: the file that marks a folder as written by ``therapy-turns analyze``
MARKER = ".therapy-turns-analysis"
LOCK = ".lock"
STAGING = ".staging"
TRASH = ".trash"
_CHECK = b"therapy-turns-sha256:"


class OutputError(Exception):
    """An output cannot be written safely; the message is one line naming the path."""


def _oserror(path: Path, e: OSError) -> OutputError:
    return OutputError(f"{path}: cannot write ({e.strerror or e})")


@contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it onto ``path``.

    On any error the temporary file is removed and ``path`` keeps its previous content.
    """
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


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


# --------------------------------------------------------------------------- cache entries
def write_cached(path: str | os.PathLike[str], data: bytes) -> None:
    """Store a cache entry: a checksum line, then ``data`` (atomically)."""
    digest = hashlib.sha256(data).hexdigest().encode()
    write_bytes(path, _CHECK + digest + b"\n" + data)


def read_cached(path: str | os.PathLike[str]) -> bytes | None:
    """The bytes of a cache entry, or None if there is none or it is corrupt (then it is
    reported once and removed, so the caller recomputes and rewrites it)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    head, sep, data = raw.partition(b"\n")
    if sep and head.startswith(_CHECK) and \
            head[len(_CHECK):] == hashlib.sha256(data).hexdigest().encode():
        return data
    log.warning("corrupt cache entry %s (checksum mismatch): removed, recomputing", path)
    path.unlink(missing_ok=True)
    return None


# --------------------------------------------------------------------------- output folders
def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


class OutputFolder:
    """An analysis output folder claimed for one run (see the module docstring)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).absolute()
        self._lock: int | None = None

    @property
    def staging(self) -> Path:
        """Where the run writes its tables before :meth:`publish`."""
        return self.path / STAGING

    def owned(self) -> bool:
        """True if the folder was written by ``analyze`` (marker, or a manifest of an earlier
        version)."""
        return (self.path / MARKER).is_file() or (self.path / "manifest.json").is_file()

    def claim(self, inputs: Iterable[str | os.PathLike[str]] = ()) -> OutputFolder:
        """Check ownership and inputs, take the lock, and start an empty staging folder."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise OutputError(f"--out {p}: is a file, expected a folder")
        resolved = p.resolve()
        for i in inputs:
            if _inside(Path(i).resolve(), resolved):
                raise OutputError(f"--out {p}: holds the input {i}; choose an output folder "
                                  "outside the corpus")
        if p.is_dir() and any(p.iterdir()) and not self.owned():
            raise OutputError(f"--out {p}: folder is not empty and was not written by "
                              f"therapy-turns analyze (no {MARKER}); choose a new or empty folder")
        try:
            p.mkdir(parents=True, exist_ok=True)
            fd = os.open(p / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise _oserror(p, e) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise OutputError(f"--out {p}: another analyze (pid {holder}) is writing this "
                              "folder; wait for it or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock = fd
        try:
            if not (p / MARKER).is_file():
                write_bytes(p / MARKER, json.dumps({"written_by": "therapy-turns analyze"}
                                                   ).encode() + b"\n")
            shutil.rmtree(self.staging, ignore_errors=True)  # a killed run's leftovers
            shutil.rmtree(p / TRASH, ignore_errors=True)
            self.staging.mkdir()
        except OSError as e:
            self.release()
            raise _oserror(p, e) from None
        return self

    def publish(self, names: Iterable[str], manifest: bytes, manifest_name: str) -> None:
        """Replace the tables ``names`` (and any other listed in ``names``) by the staged ones,
        then write the manifest: until the manifest is there the folder reads as incomplete."""
        p, trash = self.path, self.path / TRASH
        try:
            (p / manifest_name).unlink(missing_ok=True)
            trash.mkdir(exist_ok=True)
            for name in names:
                for old in (p / name, p / f"{name}.parquet"):
                    if old.exists():
                        os.replace(old, trash / old.name)
                if (self.staging / name).exists():
                    os.replace(self.staging / name, p / name)
            write_bytes(p / manifest_name, manifest)
        except OSError as e:
            raise _oserror(p, e) from None
        shutil.rmtree(trash, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def release(self) -> None:
        """Drop the lock (also dropped by the OS when the process dies)."""
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
