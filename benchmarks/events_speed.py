"""What events add to ``analyze`` time (target: under 5 %). Prints figures.

Corpus: ``benchmarks/event_corpus.py`` (default 40 sessions recombined from ``seeds-full/`` with
82 planted events), in its three forms: ``plain`` (no event lines), ``full`` (event lines in the
transcripts) and ``plain`` + ``--events events.csv`` (the same events annotated).

Measured:

- the event work itself, fastest of ``--repeats`` runs in this process: loading the corpus with
  event lines minus loading it without (recognising, typing and attaching the lines), reading and
  attaching the events file, and the ``events`` measure (its table and session counts);
- ``analyze`` cold (fresh output and parse cache, a child process) on the three forms: wall time
  of each, fastest of ``--repeats``.

The overhead is the event work over the cold ``analyze`` time of the plain form; the end-to-end
differences are printed too (on a shared machine they are noisier than the overhead itself).

Usage: ``python benchmarks/events_speed.py [--sessions 40] [--repeats 2] [--no-analyze]``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from therapy_turns.io.transcripts import attach_events, load_corpus, read_events
from therapy_turns.measures.events import MEASURE, compute_events

sys.path.insert(0, str(Path(__file__).resolve().parent))
from event_corpus import make  # noqa: E402


def fastest(fn: Callable[[], object], repeats: int) -> float:
    """The fastest wall time of ``repeats`` calls of ``fn`` (s)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def analyze_time(corpus: Path, out: Path, repeats: int, *extra: str) -> float:
    """Fastest cold ``therapy-turns analyze`` of ``corpus`` (fresh output folder each run)."""
    times = []
    for r in range(repeats):
        dest = out.with_name(f"{out.name}-{r}")
        shutil.rmtree(dest, ignore_errors=True)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "therapy_turns.cli", "analyze", str(corpus), "--out",
                        str(dest), "--quiet", *extra], check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=40)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--no-analyze", action="store_true", help="only the event work")
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="events-speed-"))
    try:
        make(work, a.sessions)
        full, plain, ev_csv = work / "full", work / "plain", work / "events.csv"
        turns_plain = load_corpus(plain, progress=False).turns
        turns_full = load_corpus(full, progress=False).turns
        n_events = int((turns_full["event"] != "").sum())
        t_plain = fastest(lambda: load_corpus(plain, progress=False), a.repeats * 3)
        t_full = fastest(lambda: load_corpus(full, progress=False), a.repeats * 3)
        t_attach = fastest(lambda: attach_events(turns_plain, read_events(ev_csv), ev_csv),
                           a.repeats * 3)
        ids = pd.Index(turns_full["session_id"].unique())

        def measure() -> None:  # the events table and its session counts
            MEASURE.summarise(compute_events(turns_full).assign(
                position=0.0).sort_values(["session_id", "turn"]), ids)

        t_count = fastest(measure, a.repeats * 3)
        lines = max(t_full - t_plain, 0.0)
        work_events = lines + t_count
        print(f"corpus: {a.sessions} sessions, {len(turns_full)} turns, "
              f"{n_events} patient turns with events")
        print(f"load without / with event lines: {t_plain:.3f} / {t_full:.3f} s "
              f"(event lines: +{lines:.3f} s)")
        print(f"read + attach --events: {t_attach:.3f} s; events table + session counts: "
              f"{t_count:.4f} s")
        if a.no_analyze:
            return
        cold_plain = analyze_time(plain, work / "out-plain", a.repeats)
        cold_full = analyze_time(full, work / "out-full", a.repeats)
        cold_ann = analyze_time(plain, work / "out-ann", a.repeats, "--events", str(ev_csv))
        print(f"analyze cold: plain {cold_plain:.1f} s, event lines {cold_full:.1f} s "
              f"({100 * (cold_full / cold_plain - 1):+.1f} %), --events {cold_ann:.1f} s "
              f"({100 * (cold_ann / cold_plain - 1):+.1f} %)")
        # analyze with --events also loads the corpus once more to check the file first
        work_ann = t_attach + t_plain + t_count
        print(f"event work / cold analyze: event lines {100 * work_events / cold_plain:.2f} %, "
              f"--events {100 * work_ann / cold_plain:.2f} % (target < 5 %)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
