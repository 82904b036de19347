"""Write a corpus that is not the seeds, for checking what a user of another corpus sees.

Sessions are built from transcript files (default: the seeds, or ``--source`` files such as
``/work/shared/seeds-full/*.txt``): new ids (``clinic-<site>-<n>``), speakers written as
``Client``/``Counselor``, lengths cut or extended by repeating exchanges, one CSV source
(``session_id, speaker, text``), and metadata whose columns are not the seeds'
(``arm`` 2 levels, ``site`` 3 levels, ``wai_total`` numeric, ``notes`` free text).

    python benchmarks/foreign_corpus.py OUT_DIR [--sessions N] [--source FILE ...] [--name N]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from therapy_turns.io.transcripts import load_corpus
from therapy_turns.paths import project_path

log = logging.getLogger(__name__)
LABELS = {"patient": "Client", "therapist": "Counselor"}


def foreign_corpus(out: str | Path, sessions: int = 6, sources: list[str] | None = None,
                   seed: int = 0, name: str = "corpus") -> tuple[Path, Path]:
    """Write ``out/<name>/sessions.csv`` and ``out/metadata.csv``; return their paths."""
    rng = np.random.default_rng(seed)
    files = sources or sorted(str(f) for f in project_path("seeds").glob("*.txt"))
    turns = pd.concat([load_corpus([f]).turns.assign(session_id=f"source{i:03d}")
                       for i, f in enumerate(files)], ignore_index=True)  # same stems allowed
    turns = turns[turns["text"].str.strip() != ""]
    by_session = [g for _, g in turns.groupby("session_id", sort=True)]
    rows, meta = [], []
    for k in range(sessions):
        g = by_session[k % len(by_session)]
        n = int(rng.integers(12, 2 * len(g)))  # shorter or longer than the source
        order = np.resize(np.arange(len(g)), n)
        sid = f"clinic-{'nsw'[k % 3]}-{k:03d}"
        for i in order:
            r = g.iloc[int(i)]
            rows.append({"session_id": sid, "speaker": LABELS[r["speaker"]], "text": r["text"]})
        meta.append({"session_id": sid, "arm": ["usual care", "brief MI"][k % 2],
                     "site": ["north", "south", "west"][k % 3],
                     "wai_total": round(float(rng.normal(50, 8)), 1),
                     "notes": f"free text {k}"})
    out = Path(out)
    (out / name).mkdir(parents=True, exist_ok=True)
    csv = out / name / "sessions.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    md = out / "metadata.csv"
    pd.DataFrame(meta).to_csv(md, index=False)
    log.info("wrote %s (%d sessions, %d turns) and %s", csv, sessions, len(rows), md)
    return csv, md


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--sessions", type=int, default=6)
    p.add_argument("--source", nargs="*", default=None)
    p.add_argument("--name", default="corpus", help="folder of the CSV (the report's name)")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO)
    foreign_corpus(a.out, a.sessions, a.source, name=a.name)


if __name__ == "__main__":
    main()
