"""The shared analysis step: load a corpus, parse every turn once, write the tables notebooks read.

Tables (Parquet under ``<analysis_dir>/``):

- ``turns``: the turn table (:mod:`therapy_turns.transcripts`);
- ``features``: per-turn linguistic features (:func:`therapy_turns.features.compute_features`);
- ``emotion``: per-turn affect scores (:func:`therapy_turns.emotion.score_turns`);
- ``techniques``: per-therapist-turn codes (:func:`therapy_turns.techniques.code_turns`).

Each table function takes ``(turns, docs)``: the turn table and the spaCy Docs of its ``text``
column, row-aligned, so the text is parsed once for all of them. Parses are cached on disk under
``<analysis_dir>/parse-cache`` (see :func:`therapy_turns.nlp.parse`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from spacy.tokens import Doc
from tqdm.auto import tqdm

from .nlp import load_pipeline, parse
from .paths import project_path
from .transcripts import load_corpus

log = logging.getLogger(__name__)

#: table name -> "module:function" computing it from (turns, docs)
TABLE_FUNCS: dict[str, str] = {
    "features": "therapy_turns.features:compute_features",
    "emotion": "therapy_turns.emotion:score_turns",
    "techniques": "therapy_turns.techniques:code_turns",
}
KEYS = ["session_id", "turn", "speaker"]


def table_func(name: str) -> Callable[[pd.DataFrame, Sequence[Doc]], pd.DataFrame]:
    """The function that computes table ``name``."""
    mod, func = TABLE_FUNCS[name].split(":")
    return getattr(importlib.import_module(mod), func)


def corpus_files(corpus: str | Path | Sequence[str | Path]) -> list[Path]:
    """The transcript files of a corpus, sorted (as the loader reads them)."""
    from .transcripts import expand_paths

    paths = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    return [f for f, _ in expand_paths([project_path(p) for p in paths])]


def corpus_checksum(corpus: str | Path | Sequence[str | Path]) -> str:
    """SHA-256 over the sorted files' relative names and bytes."""
    h = hashlib.sha256()
    for f in corpus_files(corpus):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def parse_turns(turns: pd.DataFrame, cache_dir: str | Path | None = None,
                progress: bool = True) -> list[Doc]:
    """spaCy Docs of ``turns.text``, row-aligned, parsed session by session with the disk cache."""
    nlp = load_pipeline()
    docs: list[Doc] = []
    groups = turns.groupby("session_id", sort=False)["text"]
    for _, texts in tqdm(groups, total=groups.ngroups, desc="parse", unit="session",
                         disable=not progress):
        docs.extend(parse(texts.tolist(), nlp, cache_dir))
    return docs


def build_tables(corpus: str | Path | Sequence[str | Path], analysis_dir: str | Path,
                 tables: Sequence[str] = tuple(TABLE_FUNCS), progress: bool = True
                 ) -> dict[str, pd.DataFrame]:
    """Compute ``turns`` and the requested tables for ``corpus`` and write them as Parquet."""
    out = project_path(analysis_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [corpus] if isinstance(corpus, (str, Path)) else list(corpus)
    turns = load_corpus([project_path(p) for p in paths]).turns
    docs = parse_turns(turns, out / "parse-cache", progress)
    result = {"turns": turns}
    for name in tables:
        result[name] = table_func(name)(turns, docs)
    for name, df in result.items():
        df.to_parquet(out / f"{name}.parquet", index=False)
    manifest = {"corpus_sha256": corpus_checksum(corpus), "tables": sorted(result)}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return result


def load_table(name: str, corpus: str | Path = "seeds", analysis_dir: str | Path = "build/seeds"
               ) -> pd.DataFrame:
    """Read table ``name`` from ``analysis_dir``; (re)build it if missing or built from other data."""
    out = project_path(analysis_dir)
    manifest = out / "manifest.json"
    fresh = manifest.is_file() and (out / f"{name}.parquet").is_file() and json.loads(
        manifest.read_text())["corpus_sha256"] == corpus_checksum(corpus)
    if not fresh:
        log.info("building %s for %s in %s", name, corpus, out)
        have = json.loads(manifest.read_text())["tables"] if manifest.is_file() else []
        wanted = [t for t in TABLE_FUNCS if t == name or t in have]
        return build_tables(corpus, analysis_dir, wanted)[name]
    return pd.read_parquet(out / f"{name}.parquet")
