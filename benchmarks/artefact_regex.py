"""Artefact and label rules on pathological paragraphs: seconds per case at 1 MB and 4 MB.

Linear rules take about four times as long on four times the text (timings on a shared machine
are noisy). The rules before issue 17 (OLD_PATTERNS, for comparison) grow cubically on an
unclosed "[error: error: ..." paragraph (27 KB took over 60 s): timed on 1 KB and 2 KB only.

    PYTHONPATH=src .venv/bin/python benchmarks/artefact_regex.py
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from therapy_turns.io.transcripts import _ARTEFACTS, analyse_turn_text, segment_text
from therapy_turns.nlp import text_pieces

log = logging.getLogger("benchmarks.artefact_regex")

OLD_PATTERNS = {
    "generation_error (old 2nd)": r"\[[^\]]*(error|exception|traceback)[^\]]*:[^\]]*\]",
}


def cases(n: int) -> dict[str, str]:
    """Pathological paragraphs of about ``n`` characters, one per rule's worst shape."""
    k = n // 2
    return {
        "unclosed [ with words": "[" + "error a " * (n // 8),
        "unclosed [ error: repeated": "[" + "error: " * (n // 7),
        "unclosed [ generation error": "[" + " generation error" * (n // 17),
        "unclosed ( note, you": "(Note: " + "you " * (n // 4),
        "note without closing": "(note:" + "x" * n,
        "quote, four words": '"' + "a " * 3 + "b" * n,
        "quote, many words no end": '"' + "a " * k,
        "dots and spaces": ". " * k + "x",
        "spaces after one dot": "." + " " * n + "x",
        "blank-line lookalikes": ("\n" + " " * 100) * (n // 101),
        "label-like line": "A" * n + ": hi",
    }


def timed(f: Callable[[], object], repeats: int = 5) -> float:
    """Seconds one call of ``f`` takes (fastest of ``repeats``)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def run(sizes: tuple[int, ...] = (1_000_000, 4_000_000)) -> None:
    """Print seconds per case and size for the whole turn analysis, each pattern, the label
    segmentation of a one-line file and the long-text splitter."""
    print(f"{'case':32} " + " ".join(f"{s / 1e6:>8.2f} MB" for s in sizes) + "   ratio")
    for name in cases(1000):
        row = []
        for size in sizes:
            text = cases(size)[name]
            row.append(timed(lambda t=text: analyse_turn_text(t, "therapist"))
                       + timed(lambda t=text: [p.search(t) for p in _ARTEFACTS.values()])
                       + timed(lambda t=text: segment_text("Patient: " + t, "bench.txt"))
                       + timed(lambda t=text: text_pieces(t, 100_000)))
        print(f"{name:32} " + " ".join(f"{s:11.3f}" for s in row) + f"   {row[-1] / row[0]:5.1f}")
    print("\nrules before issue 17 (super-linear):")
    for name, pattern in OLD_PATTERNS.items():
        rx = re.compile(pattern, re.I | re.S)
        row = [timed(lambda n=n, rx=rx: rx.fullmatch("[" + "error: " * (n // 7)), repeats=1)
               for n in (1000, 2000)]
        print(f"{name:32} 1 KB {row[0]:8.3f} s  2 KB {row[1]:8.3f} s   "
              f"ratio {row[1] / row[0]:5.1f}")


if __name__ == "__main__":
    run()
