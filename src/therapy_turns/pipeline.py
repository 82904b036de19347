"""The shared analysis step: stream a corpus in chunks of sessions, parse every turn once, compute
every registered measure, write partitioned Parquet tables and ``manifest.json`` (chunks, caches,
executors: ``docs/cluster.md``). Relative paths are relative to the current folder."""

from __future__ import annotations

import ctypes
import gc
import hashlib
import io
import json
import logging
import os
import pkgutil
import signal
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, as_completed, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from spacy.tokens import Doc
from tqdm.auto import tqdm

from therapy_turns import store
from therapy_turns.analysis.sessions import (
    concat_summaries,
    join_metadata,
    read_metadata,
    summarise_sessions,
)
from therapy_turns.io import transcripts as tx
from therapy_turns.io.files import TranscriptError, output_folder, read_cached, write_cached
from therapy_turns.measures import registry
from therapy_turns.measures.views import Tokens
from therapy_turns.nlp import load_pipeline, parse_groups, pipeline_id
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS
from therapy_turns.store import StaleTablesError, load_table, read_manifest, read_table

log = logging.getLogger(__name__)
__all__ = ["StaleTablesError", "load_table", "read_manifest", "read_table"]  # for notebooks

REDACT_FUNC = "therapy_turns.io.redact:redact_turns"  # "module:function", resolved in workers


def parse_turns(turns: pd.DataFrame, cache_dir: str | Path | None = None) -> list[Doc]:
    """spaCy Docs of ``turns.text``, row-aligned (one ``nlp.pipe`` pass; cached per session)."""
    groups = [g.tolist() for _, g in turns.groupby("session_id", sort=False)["text"]]
    return [d for docs in parse_groups(groups, load_pipeline(), cache_dir) for d in docs]


def process_chunk(
    index: int,
    turns: pd.DataFrame,
    measures: Mapping[str, registry.Measure],
    cache_dir: str,
    redact: bool,
    exclude: tuple[str, ...],
) -> tuple[int, dict[str, bytes], pd.DataFrame]:
    """Redact (if asked), parse, compute (or read cached) every table of a chunk as Parquet bytes
    (``turns`` and each measure), and the chunk's session summaries."""
    if redact:
        turns = pkgutil.resolve_name(REDACT_FUNC)(turns)
    out: dict[str, bytes] = {"turns": turns.to_parquet(index=False)}
    rows = pd.util.hash_pandas_object(turns, index=False).to_numpy().tobytes()
    base, paths = [pipeline_id(load_pipeline()), store.code_fingerprint(), *turns.columns], {}
    for name, m in measures.items():  # the cache key: measure, code, pipeline, columns, rows
        key = hashlib.sha256("\0".join(map(str, [name, m.fingerprint(), *base])).encode() + rows)
        paths[name] = Path(cache_dir, "tables", f"{key.hexdigest()}.parquet-cache")
        if (cached := read_cached(paths[name])) is not None:
            out[name] = cached
    words = None  # the turns' word counts, from their Docs when they are parsed
    if todo := [n for n in measures if n not in out]:
        docs = parse_turns(turns, cache_dir)
        words = (t := Tokens(docs)).count(t.word)
        for name in todo:
            out[name] = measures[name].compute(turns, docs).to_parquet(index=False)
            write_cached(paths[name], out[name])
    tables = {n: pd.read_parquet(io.BytesIO(out[n])) for n in measures}  # computed or cached: same
    return index, out, summarise_sessions(turns, tables, exclude, measures=measures, words=words)


def _init_worker() -> None:
    """Die with the parent, even by ``kill -9``; inherited objects out of garbage collection."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call
            os._exit(1)
    gc.freeze()


class SchedulerError(RuntimeError):
    """The Dask scheduler named by ``scheduler`` cannot be used (unreachable)."""


def _dask(scheduler: str, timeout: float) -> Any:
    """A Dask client of ``scheduler`` (``local:N``: a ``LocalCluster`` of N 1-thread processes)."""
    import dask
    from distributed import Client

    if not log.isEnabledFor(logging.INFO):  # distributed logs INFO by default; follow ours
        logging.getLogger("distributed").setLevel(logging.WARNING)
    if scheduler.startswith("local:"):
        n = int(scheduler.split(":", 1)[1])
        return Client(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
            return Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as e:
        msg = f"--scheduler {scheduler}: no Dask scheduler answered within {timeout:g} s"
        raise SchedulerError(f"{msg} ({type(e).__name__})") from None


def run_chunks(
    tasks: Iterable[tuple], workers: int, scheduler: str | None, timeout: float
) -> Iterator[tuple[int, dict[str, bytes], pd.DataFrame]]:
    """:func:`process_chunk` of every task here, on forked processes or Dask, as they complete."""
    load_pipeline()  # here, once: forked workers inherit it, the manifest names it
    if scheduler is None and workers == 1:
        gc.freeze()  # what is loaded stays out of the collector's full scans (as in a worker)
        try:
            yield from (process_chunk(*t) for t in tasks)
        finally:
            gc.unfreeze()
        return
    client = _dask(scheduler, timeout) if scheduler is not None else None
    with client or ProcessPoolExecutor(workers, initializer=_init_worker) as pool:
        if client is not None:
            workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
            log.info("dask scheduler %s with %d workers", client.scheduler.address, workers)
        executor = pool if client is None else client.get_executor(pure=False)
        pending: set = set()
        for t in tasks:
            pending.add(executor.submit(process_chunk, *t))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        yield from (f.result() for f in as_completed(pending))


def _write(out: Path, name: str, index: int, data: bytes, stats: dict[str, Any]) -> None:
    (out / name).mkdir(parents=True, exist_ok=True)
    (out / name / f"part-{index:05d}.parquet").write_bytes(data)
    meta = pq.read_metadata(io.BytesIO(data))
    s = stats.setdefault(name, {"partitions": 0, "rows": 0, "columns": meta.schema.names})
    s.update(partitions=s["partitions"] + 1, rows=s["rows"] + meta.num_rows)


def _file(path: str | Path, sha256: str | None = None) -> dict[str, str]:
    return {"path": str(Path(path).resolve()), "sha256": sha256 or store.file_sha256(Path(path))}


def build_tables(
    corpus: tx.CorpusArg,
    analysis_dir: str | Path,
    tables: Sequence[str] | None = None,
    progress: bool = True,
    *,
    metadata: str | Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    redact: bool = False,
    chunk_sessions: int = 20,
    cache_dir: str | Path | None = None,
    on_error: str = "fail",
    speakers: Mapping[str, str] | None = None,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    events: str | Path | None = None,
    event_patterns: str | Path | None = None,
    technique_model: str | Path | None = None,
    connect_timeout: float = 10.0,
) -> dict[str, Any]:
    """Write ``turns``, ``sessions`` and the measures ``tables`` (default all); the manifest."""
    measures, exclude = registry.measures(tables), tuple(exclude)  # KeyError: unknown names
    out, files = Path(analysis_dir), tx.corpus_files(corpus)
    # a new folder or ours, without the corpus; locked, staged and moved into place when complete
    with output_folder(out, files, ("turns", "sessions", *registry.names())) as staging:
        meta_df = read_metadata(metadata) if metadata is not None else None
        ev_df = tx.read_events(Path(events)) if events is not None else None
        ev_types = tx.event_types(event_patterns) if event_patterns else None
        if ev_df is not None:  # every row names a session and turn of the corpus: check first
            parts = tx.session_parts(corpus, speakers, [] if on_error == "skip" else None, ev_types)
            tx.check_events(ev_df, {str(p[0]["session_id"]): len(p) for p in parts}, events)
        cache = str(Path(cache_dir) if cache_dir is not None else out / "parse-cache")
        model = None
        if technique_model is not None:
            from therapy_turns.measures.coder import TechniqueModel  # sklearn: only when asked

            model = TechniqueModel(Path(technique_model))
            if "techniques" in measures:
                measures["techniques"] = replace(measures["techniques"], compute=model)
        skipped: list[TranscriptError] | None = [] if on_error == "skip" else None
        n = None if any(f.suffix.lower() in tx.TABLE_SUFFIXES for f in files) else len(files)
        bar = tqdm(total=n, desc="analyze", unit="session", disable=not progress)

        def tasks() -> Iterator[tuple]:
            parts = tx.session_parts(corpus, speakers, skipped, ev_types)
            for i, chunk in enumerate(tx.iter_chunks(parts, chunk_sessions)):
                if ev_df is not None:
                    mine = ev_df[ev_df["session_id"].isin(set(chunk["session_id"]))]
                    chunk = tx.attach_events(chunk, mine, events)
                yield i, chunk, measures, cache, redact, exclude

        stats, summaries = {}, {}  # per table: partitions, rows, columns; per chunk: sessions
        for index, data, summary in run_chunks(tasks(), workers, scheduler, connect_timeout):
            for name in ("turns", *measures):
                _write(staging, name, index, data[name], stats)
            summaries[index] = summary
            bar.update(len(summary))
        bar.close()
        sessions = concat_summaries([summaries[i] for i in sorted(summaries)], exclude)
        sessions, report = join_metadata(sessions, meta_df)
        _write(staging, "sessions", 0, sessions.to_parquet(index=False), stats)
        for name in (n for n in ("turns", *measures) if n not in stats):  # an empty corpus
            cols = measures[name].column_names() if name in measures else KEYS
            _write(staging, name, 0, pd.DataFrame(columns=cols).to_parquet(index=False), stats)

        labels = dict(sorted((speakers or {}).items()))
        if redact:  # a speaker label is often a participant's name
            from therapy_turns.io.redact import redact_speakers  # Presidio: only when redacting

            labels = redact_speakers(labels)
        params = dict(chunk_sessions=chunk_sessions, exclude=list(exclude), redact=redact)
        params |= dict(on_error=on_error, speakers=labels, pipeline=pipeline_id(load_pipeline()))
        params["technique_model"] = model and _file(technique_model, model.sha256)
        params["measures"] = {k: m.manifest() for k, m in measures.items()}
        manifest: dict[str, Any] = {
            "corpus_sha256": tx.corpus_checksum(corpus),
            "code_sha256": store.code_fingerprint(),
            "corpus": [str(p) for p in ([corpus] if isinstance(corpus, str | Path) else corpus)],
            "n_files": len(files),
            "n_sessions": len(sessions),
            "tables": sorted(stats),
            "table_info": dict(sorted(stats.items())),
            "parameters": params,
            "metadata": metadata and {**_file(metadata), **report._asdict()},
            "skipped": [
                {"path": s.path, "reason": s.withheld() if redact else str(s)}
                for s in skipped or []
            ],
            "events": events and {**_file(events), "rows": len(ev_df)},
            "event_patterns": event_patterns and _file(event_patterns),
        }
        (staging / store.MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    log.info("wrote %s (%d sessions, tables %s)", out, len(sessions), ", ".join(sorted(stats)))
    return manifest
