"""The event-response figures of a corpus, printed: events per type, the change in the patient's
valence and arousal from the previous patient turn to the event turn per type (mean with 95 % t
interval, mixed-model difference to turns without an event, permutation p), and the share of the
therapist's next turns whose thinking refers to the event (with the rate after no event).

Usage: ``python benchmarks/event_response.py CORPUS ANALYSIS_DIR`` (tables built if missing, as
the notebooks do; for annotated events build them with ``analyze --events`` first), e.g.
``python benchmarks/event_response.py seeds-full build/seeds-full``.
"""

from __future__ import annotations

import argparse

import pandas as pd

from therapy_turns import pipeline
from therapy_turns.analysis import shifts


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus")
    p.add_argument("analysis_dir")
    p.add_argument("--n-perm", type=int, default=2000)
    a = p.parse_args()
    turns = pipeline.load_table("turns", a.corpus, a.analysis_dir)
    names = ("emotion", "features", "thinking")
    tables = {n: pipeline.load_table(n, a.corpus, a.analysis_dir) for n in names}
    print(shifts.event_summary(turns).to_string(index=False))
    table = shifts.measure_table(turns, tables, ["valence", "arousal"])
    eff = shifts.event_effects(table, ["valence", "arousal"], n_perm=a.n_perm)
    cols = [
        "event",
        "measure",
        "n_events",
        "mean_change",
        "ci_low",
        "ci_high",
        "baseline_change",
        "estimate",
        "est_ci_low",
        "est_ci_high",
        "p_perm",
        "p_perm_adj",
    ]
    with pd.option_context("display.width", 200, "display.precision", 3):
        print(eff[cols].to_string(index=False))
        _, thinking = shifts.thinking_response(turns, tables["thinking"])
        print(thinking.to_string(index=False))
    k, n = thinking["k"].sum(), thinking["n"].sum()
    if n:
        print(f"thinking refers to the event: {k}/{n} = {k / n:.2f} of next therapist turns")


if __name__ == "__main__":
    main()
