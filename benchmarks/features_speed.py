"""Speed of the per-turn feature table (parsing excluded): prints turns per second.

Usage: .venv/bin/python benchmarks/features_speed.py [CORPUS] [REPEATS]
"""

from __future__ import annotations

import sys
import time

from therapy_turns.io.transcripts import load_corpus
from therapy_turns.measures.features import compute_features
from therapy_turns.pipeline import parse_turns


def main() -> None:
    corpus = sys.argv[1] if len(sys.argv) > 1 else "seeds"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    turns = load_corpus(corpus).turns
    docs = parse_turns(turns)
    compute_features(turns[:5], docs[:5])  # warm-up: lexicons, matchers
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        compute_features(turns, docs)
        best = min(best, time.perf_counter() - t0)
    words = sum(sum(not t.is_punct and not t.is_space for t in d) for d in docs)
    print(f"features: {len(turns)} turns, {words} tokens; best of {repeats}: {best:.2f} s "
          f"= {len(turns) / best:.0f} turns/s, {words / best:.0f} tokens/s")


if __name__ == "__main__":
    main()
