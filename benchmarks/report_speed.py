"""Cold report on the seeds: time per shared analysis step and per notebook (executed and
rendered to HTML, as the make rule does), and byte-identity.

Runs everything twice into two scratch folders (nothing committed is touched), prints the
timings of the first (cold: empty parse cache) run, then compares every figure and table file of
the two runs byte for byte. Exit status 1 if any file differs.

    .venv/bin/python benchmarks/report_speed.py [--corpus seeds]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PYTHONHASHSEED", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


def _digests(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_once(corpus: str, scratch: Path) -> dict[str, float]:
    """Shared analysis step then every notebook; returns seconds per step."""
    from therapy_turns import pipeline
    from therapy_turns.io.transcripts import load_corpus
    from therapy_turns.measures import registry
    from therapy_turns.report.notebooks import build_index, run_notebook

    times: dict[str, float] = {}
    t0 = time.perf_counter()
    turns = load_corpus(ROOT / corpus).turns
    times["analysis: load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    docs = pipeline.parse_turns(turns, scratch / "cache")
    times["analysis: spaCy parse (cold cache)"] = time.perf_counter() - t0
    for name, measure in registry.measures().items():
        t0 = time.perf_counter()
        measure.compute(turns, docs)
        times[f"analysis: {name}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    pipeline.build_tables(ROOT / corpus, scratch / "build", progress=False)
    times["analysis: build_tables (whole step, as make runs it)"] = time.perf_counter() - t0
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        t0 = time.perf_counter()
        run_notebook(nb, scratch / "reports" / nb.name, ROOT / "params" / f"{nb.stem}.yaml",
                     {"corpus": corpus, "analysis_dir": str(scratch / "build"),
                      "figures_dir": str(scratch / "figures")}, html=True)
        times[f"notebook: {nb.stem}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    build_index(scratch / "reports", corpus, scratch / "build", scratch / "reports" / "index.html")
    times["html: index.html"] = time.perf_counter() - t0
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="seeds")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp) / "a", Path(tmp) / "b"
        times = run_once(args.corpus, a)
        run_once(args.corpus, b)
        print(f"cores: {os.cpu_count()}")
        for k, v in times.items():
            print(f"{v:8.1f} s  {k}")
        total = times["analysis: build_tables (whole step, as make runs it)"] + sum(
            v for k, v in times.items() if k.startswith(("notebook:", "html:")))
        print(f"{total:8.1f} s  cold report total (analysis step, notebooks, HTML; "
              "target <= 90 s)")
        da, db = _digests(a / "figures"), _digests(b / "figures")
        differ = sorted(k for k in da if da[k] != db.get(k)) + sorted(set(db) - set(da))
        print(f"figure/table files: {len(da)}; byte-identical across two runs: {not differ}")
        for k in differ:
            print(f"  differs: {k}")
        return 1 if differ or not da else 0


if __name__ == "__main__":
    sys.exit(main())
