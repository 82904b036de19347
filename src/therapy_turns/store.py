"""The analysis folder read-only (``make report`` builds); relative paths from the project root."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from therapy_turns.io.files import MANIFEST
from therapy_turns.io.transcripts import CorpusArg, corpus_checksum
from therapy_turns.paths import PACKAGE_DIR, project_path


class StaleTablesError(RuntimeError):
    """The tables of an analysis folder are missing or were built from other data or code."""


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over every file of the ``therapy_turns`` package (code, lexicons, models)."""
    h = hashlib.sha256()
    for f in sorted(PACKAGE_DIR.rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
            h.update(str(f.relative_to(PACKAGE_DIR)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def iter_partitions(name: str, analysis_dir: str | Path) -> Iterator[pd.DataFrame]:
    """The partitions of table ``name`` in order, one DataFrame at a time."""
    d = project_path(analysis_dir) / name
    if not d.is_dir():
        raise FileNotFoundError(f"no table {name!r} under {project_path(analysis_dir)}")
    return map(pd.read_parquet, sorted(d.glob("part-*.parquet")))


def sort_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by ``session_id`` then ``turn`` (those present), stable, new index."""
    keys = [k for k in ("session_id", "turn") if k in df.columns]
    return df.sort_values(keys, kind="mergesort").reset_index(drop=True) if keys else df


def read_table(name: str, analysis_dir: str | Path) -> pd.DataFrame:
    """Every partition of table ``name`` (no freshness check), sorted by session and turn."""
    parts = list(iter_partitions(name, analysis_dir))
    return sort_rows(pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True))


def read_manifest(analysis_dir: str | Path) -> dict[str, Any] | None:
    """The manifest of ``analysis_dir``, or None (no complete build)."""
    p = project_path(analysis_dir) / MANIFEST
    return json.loads(p.read_text()) if p.is_file() else None


def freshness(corpus: CorpusArg, analysis_dir: str | Path, name: str | None = None) -> str | None:
    """Why the tables of ``analysis_dir`` cannot be read for ``corpus``, or None if fresh."""
    manifest = read_manifest(analysis_dir)
    if manifest is None:
        return "no complete build (no manifest.json)"
    if name is not None and name not in manifest["tables"]:
        return f"no table {name!r} (built: {', '.join(manifest['tables'])})"
    paths = [project_path(p) for p in ([corpus] if isinstance(corpus, str | Path) else corpus)]
    if manifest["corpus_sha256"] != corpus_checksum(paths):  # relative paths: from the root
        return f"built from other corpus files than {corpus}"
    if manifest.get("code_sha256") != code_fingerprint():
        return "built by other code (the package changed since)"
    for key in ("metadata", "events", "event_patterns"):
        info = manifest.get(key)
        path = Path(info["path"]) if info else None
        if path and (not path.is_file() or file_sha256(path) != info["sha256"]):
            return f"the {key} file {path} changed or is gone"
    model = (manifest.get("parameters") or {}).get("technique_model")
    if model:
        from therapy_turns.measures.coder import payload_sha256  # sklearn: only when used

        if payload_sha256(model["path"]) != model["sha256"]:
            return f"the technique model {model['path']} changed or is gone"
    return None


def load_table(
    name: str, corpus: CorpusArg = "seeds", analysis_dir: str | Path = "build/seeds"
) -> pd.DataFrame:
    """Table ``name`` of ``analysis_dir`` by session, turn; :class:`StaleTablesError` if stale."""
    why = freshness(corpus, analysis_dir, name)
    if why is not None:
        raise StaleTablesError(
            f"{project_path(analysis_dir)}: {why}; stale: run make report "
            f"(or therapy-turns analyze {corpus} --out {analysis_dir})"
        )
    return read_table(name, analysis_dir)
