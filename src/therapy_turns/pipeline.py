"""The shared analysis step: stream a corpus in chunks of sessions, parse every turn once, compute
every registered measure, write partitioned Parquet tables and ``manifest.json`` (chunks, caches,
executors: ``docs/cluster.md``). Relative paths are relative to the current folder."""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import inspect
import io
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Executor, ProcessPoolExecutor, as_completed, wait
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd
from spacy.tokens import Doc
from tqdm.auto import tqdm

from therapy_turns.analysis.sessions import join_metadata, read_metadata, summarise_sessions
from therapy_turns.io.files import TranscriptError, output_folder, read_cached, write_cached
from therapy_turns.io.transcripts import (
    DEFAULT_CHUNK_SESSIONS,
    TABLE_SUFFIXES,
    CorpusArg,
    attach_events,
    check_events,
    corpus_checksum,
    corpus_files,
    event_types,
    iter_chunks,
    read_events,
    session_parts,
)
from therapy_turns.measures import registry
from therapy_turns.measures.registry import Measure
from therapy_turns.measures.views import Tokens
from therapy_turns.nlp import load_pipeline, parse_groups, pipeline_id
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS
from therapy_turns.store import (
    MANIFEST,
    StaleTablesError,
    Tables,
    code_fingerprint,
    file_sha256,
    load_table,
    read_manifest,
    read_table,
)

log = logging.getLogger(__name__)

__all__ = ["StaleTablesError", "build_tables", "iter_chunks", "load_table"]
__all__ += ["parse_turns", "read_manifest", "read_table", "run_chunks"]

REDACT_FUNC = "therapy_turns.io.redact:redact_turns"  # "module:function", resolved in workers


def parse_turns(
    turns: pd.DataFrame, cache_dir: str | Path | None = None, progress: bool = True
) -> list[Doc]:
    """spaCy Docs of ``turns.text``, row-aligned (one ``nlp.pipe`` pass; cached per session)."""
    groups = [g.tolist() for _, g in turns.groupby("session_id", sort=False)["text"]]
    parsed = parse_groups(groups, load_pipeline(), cache_dir)
    return [d for docs in tqdm(parsed, "parse", disable=not progress) for d in docs]


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to process one chunk (picklable; no paths to read)."""

    index: int
    turns: pd.DataFrame
    measures: tuple[Measure, ...]
    cache_dir: str | None
    redact: bool
    exclude: tuple[str, ...]
    table_cache: bool = True


def _fingerprint(func: Callable[..., Any]) -> str:
    """A compute function's name, plus its source's hash outside this package (a callable with
    a ``fingerprint``, e.g. a trained coder, names itself)."""
    if getattr(func, "fingerprint", None):
        return str(func.fingerprint)
    name = f"{func.__module__}:{func.__qualname__}"
    src = None if func.__module__.startswith(__package__) else inspect.getsourcefile(func)
    return name + (hashlib.sha256(Path(src).read_bytes()).hexdigest() if src else "")


def process_chunk(task: ChunkTask) -> tuple[int, dict[str, pd.DataFrame]]:
    """Redact (if asked), parse and compute every table of one chunk and its session rows; each
    table cached (``<cache_dir>/tables``): with every table cached nothing is parsed."""
    turns = task.turns
    if task.redact:
        mod, func = REDACT_FUNC.split(":")
        turns = getattr(importlib.import_module(mod), func)(turns)
    out: dict[str, pd.DataFrame] = {"turns": turns}
    paths: dict[str, Path] = {}
    if task.table_cache and task.cache_dir is not None:
        rows = pd.util.hash_pandas_object(turns, index=False).to_numpy().tobytes()
        digest = hashlib.sha256(rows).digest()
        for m in task.measures:
            parts = [pipeline_id(load_pipeline()), code_fingerprint(), m.name]
            parts += [_fingerprint(m.compute), "\0".join(map(str, turns.columns))]
            key = hashlib.sha256("\0".join(parts).encode() + b"\0" + digest).hexdigest()
            paths[m.name] = Path(task.cache_dir) / "tables" / f"{key}.parquet-cache"
            if (cached := read_cached(paths[m.name])) is not None:
                out[m.name] = pd.read_parquet(io.BytesIO(cached))
    words = None  # the turns' word counts, from their Docs when they are parsed
    if todo := [m for m in task.measures if m.name not in out]:
        docs = parse_turns(turns, task.cache_dir, progress=False)
        words = (t := Tokens(docs)).count(t.word)
        for m in todo:  # through Parquet bytes: the same frame whether computed or cached
            data = m.compute(turns, docs).to_parquet(index=False)
            out[m.name] = pd.read_parquet(io.BytesIO(data))
            if m.name in paths:
                write_cached(paths[m.name], data)
    measures = {m.name: m for m in task.measures}
    tables = {n: out[n] for n in measures}
    out["sessions"] = summarise_sessions(
        turns, tables, task.exclude, measures=measures, words=words
    )
    return task.index, out


def _init_worker() -> None:
    """Die with the parent, even by ``kill -9`` (Linux ``PR_SET_PDEATHSIG``); load spaCy."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call
            os._exit(1)
    load_pipeline()


class SchedulerError(RuntimeError):
    """The Dask scheduler named by ``scheduler`` cannot be used (bad spec, unreachable)."""


@contextmanager
def _executor(
    workers: int, scheduler: str | None, timeout: float
) -> Iterator[tuple[Executor | None, int]]:
    """The executor chunks run on and its number of workers: none (this process), a local process
    pool (forked: workers inherit the loaded pipeline) or a Dask client's executor."""
    if scheduler is None:
        local = ProcessPoolExecutor(workers, initializer=_init_worker) if workers > 1 else None
        with local or nullcontext():
            yield local, workers
        return
    import dask
    from distributed import Client, LocalCluster

    if not log.isEnabledFor(logging.INFO):  # distributed logs INFO by default; follow ours
        logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = None
    if scheduler.startswith("local:"):
        n = scheduler.split(":", 1)[1]
        if not n.isdigit() or int(n) < 1:
            raise SchedulerError(f"--scheduler {scheduler}: expected local:N with N >= 1")
        cluster = LocalCluster(
            n_workers=int(n), threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    else:
        try:
            with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
                client = Client(scheduler, timeout=timeout)
        except (OSError, TimeoutError, ValueError) as e:
            raise SchedulerError(
                f"--scheduler {scheduler}: no Dask scheduler answered within {timeout:g} s "
                f"({type(e).__name__})"
            ) from None
    with cluster or nullcontext(), client:
        n_workers = max(1, len(client.scheduler_info(n_workers=-1)["workers"]))
        log.info("dask scheduler %s with %d workers", client.scheduler.address, n_workers)
        yield client.get_executor(pure=False), n_workers


def run_chunks(
    tasks: Iterable[ChunkTask],
    workers: int = 1,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
) -> Iterator[tuple[int, dict[str, pd.DataFrame]]]:
    """Process the chunks here, on ``workers`` local processes or on a Dask ``scheduler``, at
    most twice as many in flight as workers (memory stays flat); in completion order."""
    with _executor(workers, scheduler, connect_timeout) as (executor, workers):
        if executor is None:
            yield from map(process_chunk, tasks)
            return
        pending: set = set()
        for t in tasks:
            pending.add(executor.submit(process_chunk, t))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        yield from (f.result() for f in as_completed(pending))


def _write(out: Path, name: str, index: int, df: pd.DataFrame, stats: dict[str, Any]) -> None:
    (out / name).mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / name / f"part-{index:05d}.parquet", index=False)
    s = stats.setdefault(name, {"partitions": 0, "rows": 0, "columns": [str(c) for c in df]})
    s["partitions"] += 1
    s["rows"] += len(df)


def build_tables(
    corpus: CorpusArg,
    analysis_dir: str | Path,
    tables: Sequence[str] | None = None,
    progress: bool = True,
    *,
    metadata: str | Path | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    redact: bool = False,
    chunk_sessions: int = DEFAULT_CHUNK_SESSIONS,
    cache_dir: str | Path | None = None,
    on_error: str = "fail",
    speakers: Mapping[str, str] | None = None,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
    table_cache: bool = True,
    events: str | Path | None = None,
    event_patterns: str | Path | None = None,
    technique_model: str | Path | None = None,
    connect_timeout: float = 10.0,
) -> Tables:
    """Compute ``turns``, ``sessions`` and the ``tables`` (registered measures; default all) of
    ``corpus`` into ``analysis_dir``, read back on access (options: ``analyze --help``)."""
    known = registry.names()
    tables = known if tables is None else list(tables)
    if unknown := [t for t in tables if t not in known]:
        raise ValueError(f"unknown tables {unknown}; known: {known}")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    out, files = Path(analysis_dir), corpus_files(corpus)
    # the folder must be new or ours and not hold the corpus; locked for this run, the tables
    # staged and moved into place only when complete
    with output_folder(out, files, ("turns", "sessions", *registry.names())) as staging:
        meta_df = read_metadata(metadata) if metadata is not None else None
        ev_df = read_events(Path(events)) if events is not None else None
        ev_types = event_types(event_patterns) if event_patterns else None
        if ev_df is not None:  # every row names a session and turn of the corpus: check first
            parts = session_parts(corpus, on_error, speakers, None, ev_types)
            firsts = ((p[0] if isinstance(p, list) else p.iloc[0], len(p)) for p in parts if len(p))
            check_events(ev_df, {str(f["session_id"]): n for f, n in firsts}, events)
        cache = str(Path(cache_dir) if cache_dir is not None else out / "parse-cache")
        measures = registry.measures(tables)
        model = None
        if technique_model is not None:
            from therapy_turns.measures.coder import TechniqueModel  # sklearn: only when asked

            model = TechniqueModel(Path(technique_model))
            if "techniques" in measures:
                measures["techniques"] = replace(measures["techniques"], compute=model)
        skipped: list[TranscriptError] = []
        exclude, funcs = tuple(exclude), tuple(measures.values())
        n = None if any(f.suffix.lower() in TABLE_SUFFIXES for f in files) else len(files)
        bar = tqdm(total=n, desc="analyze", unit="session", disable=not progress)

        def tasks() -> Iterator[ChunkTask]:
            parts = session_parts(corpus, on_error, speakers, skipped, ev_types)
            for i, chunk in enumerate(iter_chunks(parts, chunk_sessions)):
                if ev_df is not None:
                    mine = ev_df[ev_df["session_id"].isin(set(chunk["session_id"]))]
                    chunk = attach_events(chunk, mine, events)
                yield ChunkTask(i, chunk, funcs, cache, redact, exclude, table_cache)

        stats: dict[str, Any] = {}
        summaries = {-1: summarise_sessions(pd.DataFrame(columns=KEYS), {}, exclude)}  # schema
        for index, result in run_chunks(tasks(), workers, scheduler, connect_timeout):
            for name in ("turns", *measures):
                _write(staging, name, index, result[name], stats)
            summaries[index] = result["sessions"]
            bar.update(len(result["sessions"]))
        bar.close()
        parts = [summaries[i] for i in sorted(summaries)]
        sessions = pd.concat(parts[len(parts) > 1 :], ignore_index=True)
        n_sessions = len(sessions) if len(parts) > 1 else 0
        counts = [c for c in sessions.columns if c.startswith("events__")]
        sessions[counts] = sessions[counts].fillna(0).astype("int64")  # types absent from a chunk
        sessions, report = join_metadata(sessions, meta_df)
        _write(staging, "sessions", 0, sessions, stats)
        for name in ("turns", *measures):  # keep the schema readable when the corpus is empty
            if name not in stats:
                cols = measures[name].column_names() if name in measures else KEYS
                _write(staging, name, 0, pd.DataFrame(columns=cols), stats)

        labels = dict(sorted((speakers or {}).items()))
        if redact:  # a speaker label is often a participant's name
            from therapy_turns.io.redact import redact_speakers  # Presidio: only when redacting

            labels = redact_speakers(labels)
        manifest: dict[str, Any] = {
            "corpus_sha256": corpus_checksum(corpus),
            "code_sha256": code_fingerprint(),
            "corpus": [str(p) for p in ([corpus] if isinstance(corpus, str | Path) else corpus)],
            "n_files": len(files),
            "n_sessions": n_sessions,
            "tables": sorted(stats),
            "table_info": dict(sorted(stats.items())),
            "parameters": {
                "chunk_sessions": chunk_sessions,
                "exclude": list(exclude),
                "redact": redact,
                "pipeline": pipeline_id(load_pipeline()),
                "measures": {
                    k: {**m.manifest(), "compute": _fingerprint(m.compute)}
                    for k, m in measures.items()
                },
                "technique_model": None if model is None else _file(technique_model, model.sha256),
                "on_error": on_error,
                "speakers": labels,
            },
            "metadata": None if metadata is None else {**_file(metadata), **report._asdict()},
            "skipped": [
                {"path": s.path, "reason": s.withheld() if redact else str(s)} for s in skipped
            ],
            "events": None if events is None else {**_file(events), "rows": len(ev_df)},
            "event_patterns": None if event_patterns is None else _file(event_patterns),
        }
        (staging / MANIFEST).write_bytes(
            (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
        )
    log.info("wrote %s (%d sessions, tables %s)", out, n_sessions, ", ".join(sorted(stats)))
    return Tables(out.resolve(), manifest)


def _file(path: str | Path, sha256: str | None = None) -> dict[str, str]:
    """A file's manifest entry: absolute path and SHA-256."""
    return {"path": str(Path(path).resolve()), "sha256": sha256 or file_sha256(Path(path))}
