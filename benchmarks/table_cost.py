"""Cost of the per-turn table functions relative to parsing (issue 7). Prints figures.

The five seeds are replicated to ``--sessions`` sessions (default 50) in a temporary folder with
the corpus writer of ``benchmarks/analyze_scale.py`` (one marker sentence per replica, so no two
sessions share a text). Measured in this process, one core:

- bare ``nlp.pipe`` over every turn text (``therapy_turns.nlp.load_pipeline()``, batch size 64):
  the Docs are kept and fed to the table functions;
- each registered measure's function (``measures.registry``) on those Docs (after a warm-up
  on a few turns, so lexicons, matchers and models are loaded once and not timed), in order;
- the ratio (parse + tables) / parse (issue 7 target for ``analyze`` as a whole: <= 1.25).

Usage: ``.venv/bin/python benchmarks/table_cost.py [--sessions N] [--repeats R]``
(best of ``R`` runs per timing; about 1-2 minutes with the defaults).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analyze_scale import make_corpus  # noqa: E402

from therapy_turns.io.transcripts import load_corpus  # noqa: E402
from therapy_turns.measures import registry  # noqa: E402
from therapy_turns.nlp import load_pipeline  # noqa: E402

TABLES = tuple(registry.names())


def table_func(name: str):
    """The function computing the table of measure ``name``."""
    return registry.get(name).compute


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="table_cost_") as tmp:
        corpus = make_corpus(Path(tmp) / "corpus", args.sessions)
        turns = load_corpus(corpus, progress=False).turns
    texts = turns["text"].tolist()
    nlp = load_pipeline()
    list(nlp.pipe(texts[:20], batch_size=64))  # warm-up
    docs: list = []
    parse_s = _best(lambda: docs.__setitem__(slice(None), nlp.pipe(texts, batch_size=64)),
                    args.repeats)
    words = sum(1 for d in docs for t in d if not (t.is_punct or t.is_space))
    print(f"cores: {os.cpu_count()}; sessions: {args.sessions}; turns: {len(turns)}; "
          f"words: {words}; best of {args.repeats}")
    print(f"{'bare nlp.pipe':<14}{parse_s:8.2f} s")
    for name in TABLES:  # warm-up: lexicons, matchers, models
        table_func(name)(turns.iloc[:8], docs[:8])
    best = dict.fromkeys(TABLES, float("inf"))
    for _ in range(args.repeats):
        for name in TABLES:
            t0 = time.perf_counter()
            table_func(name)(turns, docs)
            best[name] = min(best[name], time.perf_counter() - t0)
    for name, sec in best.items():
        print(f"{name:<14}{sec:8.2f} s  = {100 * sec / parse_s:5.1f}% of parse")
    total = sum(best.values())
    print(f"{'tables':<14}{total:8.2f} s  = {100 * total / parse_s:5.1f}% of parse")
    print(f"ratio (parse + tables) / parse = {(parse_s + total) / parse_s:.2f}  (target <= 1.25)")


if __name__ == "__main__":
    main()
