"""Recall of ``--redact`` on the planted-identifier set, and over-redaction on the seeds.

    PYTHONPATH=src .venv/bin/python benchmarks/redaction_recall.py
        [--split dev|dev2|heldout|heldout1|heldout2|heldout4|...|heldout13|all]
        [--misses] [--corpus DIR]

Recall: a planted identifier (``benchmarks/data/planted_identifiers.jsonl``) counts as caught
when every letter and digit of it lies inside text that redaction replaces (whatever the
placeholder type). Each split is redacted as a corpus of its own sessions, as ``redact_turns``
sees a corpus. Over-redaction: the share of word tokens of the seed sessions' ``text`` column
that redaction replaces; the seeds hold no real identifiers, so every replaced word counts
(``--corpus DIR``: another corpus without real identifiers instead, e.g. one written by
``benchmarks/foreign_corpus.py``). ``--misses`` lists missed identifiers (every split here is
tuning data by now; see ``benchmarks/data/README.md``). With ``--split all`` a
last table gives every split side by side and all held-out parts (all but ``dev``, ``dev2``)
together.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from collections import Counter
from pathlib import Path

import pandas as pd

from therapy_turns.io.redact import Match, redaction_spans
from therapy_turns.io.transcripts import load_corpus

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "planted_identifiers.jsonl"
HELDOUT = ("heldout1", "heldout2", "heldout", *(f"heldout{i}" for i in range(4, 14)))
SPLITS = ("dev", "dev2", *HELDOUT)
WORD = re.compile(r"\w+(?:['’]\w+)*")
log = logging.getLogger("redaction_recall")


def load_planted(split: str) -> tuple[pd.DataFrame, list[list[dict]]]:
    """The split as a turn table (``text`` = ``raw_text``) and each row's planted spans."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line]
    rows = [r for r in rows if r["split"] == split]
    turns = pd.DataFrame(
        {
            "session_id": [r["session_id"] for r in rows],
            "turn": [r["turn"] for r in rows],
            "speaker": [r["speaker"] for r in rows],
            "speaker_label": [r["speaker"].capitalize() for r in rows],
            "text": [r["text"] for r in rows],
            "raw_text": [r["text"] for r in rows],
        }
    )
    return turns, [r["spans"] for r in rows]


def covered(text: str, start: int, end: int, spans: list[Match]) -> bool:
    """Every letter and digit of ``text[start:end]`` lies inside one of ``spans``."""
    return all(
        any(m.start <= i < m.end for m in spans) for i in range(start, end) if text[i].isalnum()
    )


def recall(split: str, show_misses: bool = False) -> pd.DataFrame:
    """Per-type caught/total/recall on ``split``."""
    turns, planted = load_planted(split)
    spans = redaction_spans(turns)
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for idx, text in turns["text"].items():
        for p in planted[idx]:
            total[p["type"]] += 1
            if covered(text, p["start"], p["end"], spans[idx]):
                hit[p["type"]] += 1
            elif show_misses:
                near = [
                    (m.kind, m.surface)
                    for m in spans[idx]
                    if m.start < p["end"] and m.end > p["start"]
                ]
                print(f"  missed {p['type']:8} {p['text']!r} (found {near})")
    table = pd.DataFrame({"caught": pd.Series(hit), "total": pd.Series(total)}).fillna(0)
    table = table.astype(int).sort_index()
    table.loc["ALL"] = table.sum()
    table["recall"] = (table["caught"] / table["total"]).round(3)
    # words of the split's turns outside every planted identifier that redaction replaces
    other = [
        any(m.start < w.end() and m.end > w.start() for m in spans[idx])
        for idx, text in turns["text"].items()
        for w in WORD.finditer(text)
        if not any(p["start"] < w.end() and p["end"] > w.start() for p in planted[idx])
    ]
    print(f"non-identifier words replaced in {split}: {sum(other)} of {len(other)}")
    return table


def over_redaction(corpus: str = "seeds") -> tuple[int, int, Counter[str]]:
    """Replaced word tokens, all word tokens, and the replaced words, on ``corpus``."""
    turns = load_corpus(str(ROOT / corpus), progress=False).turns.reset_index(drop=True)
    spans = redaction_spans(turns)
    removed: Counter[str] = Counter()
    n = 0
    for idx, text in turns["text"].items():
        for w in WORD.finditer(text):
            n += 1
            if any(m.start < w.end() and m.end > w.start() for m in spans[idx]):
                removed[w.group(0)] += 1
    return sum(removed.values()), n, removed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--split", choices=[*SPLITS, "all"], default="all")
    p.add_argument("--misses", action="store_true", help="list missed identifiers")
    p.add_argument("--no-seeds", action="store_true", help="skip the over-redaction measure")
    p.add_argument("--corpus", default="seeds", help="corpus for over-redaction (default seeds)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    splits = list(SPLITS) if args.split == "all" else [args.split]
    tables = {}
    for split in splits:
        tables[split] = recall(split, args.misses)
        print(f"recall on the {split} split:")
        print(tables[split].to_string())
        print()
    if args.split == "all":
        held = sum(tables[h][["caught", "total"]] for h in HELDOUT)
        cells = {
            k: t["caught"].astype(str) + " / " + t["total"].astype(str)
            for k, t in {**tables, "all held-out": held}.items()
        }
        side = pd.DataFrame(cells).fillna("")
        side["held-out recall"] = (held["caught"] / held["total"]).map("{:.1%}".format)
        print("caught / total per type and split:")
        print(side.to_string())
        print()
    if not args.no_seeds:
        k, n, removed = over_redaction(args.corpus)
        print(f"over-redaction on {args.corpus}: {k} of {n} word tokens replaced = {k / n:.2%}")
        print("replaced words:", ", ".join(f"{w} ({c})" for w, c in removed.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
