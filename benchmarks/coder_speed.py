"""Time to code 10,000 therapist turns: the rule coder vs a trained coder (train-coder model).

The turns are the gold set's therapist utterances (``tests/data/gold_mi.csv``) with their client
turns, repeated to ``--turns`` therapist turns (parsed once: the timings are coding only, as in
the pipeline, where every table shares one parse). Timed, best of ``--repeats``:

- rules: :func:`measures.techniques.code_turns` (forms, ACT processes, main behaviour);
- trained coder: :class:`measures.coder.TechniqueModel` (the rules, whose forms are its
  features, then word + character n-gram TF-IDF and the logistic regression);
- the model step alone (features from text + rule codes, predict);
- client rules: :func:`measures.client_talk.code_client_turns` on as many patient turns.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/coder_speed.py [--turns 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from technique_agreement import gold_turns

from therapy_turns.measures import coder as cd
from therapy_turns.measures.client_talk import code_client_turns
from therapy_turns.measures.techniques import FORMS, code_turns
from therapy_turns.nlp import parse
from therapy_turns.paths import project_path


def best(func, repeats: int) -> float:
    """Fastest wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--turns", type=int, default=10_000, help="therapist turns to code")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    gold = pd.read_csv(project_path("tests/data/gold_mi.csv"), keep_default_na=False)
    base = gold_turns(gold)
    docs0 = parse(base.text.tolist())
    copies = -(-args.turns // len(gold))
    turns = pd.concat([base.assign(session_id=base.session_id + f"_{k}") for k in range(copies)],
                      ignore_index=True)
    docs = docs0 * copies
    ther = turns.speaker == "therapist"
    keep = ther.cumsum() <= args.turns  # the first --turns therapist turns and their clients
    docs = [d for d, k in zip(docs, keep, strict=True) if k]
    turns = turns[keep].reset_index(drop=True)
    n_ther = int((turns.speaker == "therapist").sum())
    n_pat = int((turns.speaker == "patient").sum())
    with tempfile.TemporaryDirectory() as tmp:
        model, cv = cd.train(gold, "main_behaviour", "utterance", "session_id")
        cd.save_model(model, Path(tmp) / "m")
        func = cd.TechniqueModel(Path(tmp) / "m")
        rules = best(lambda: code_turns(turns, docs), args.repeats)
        coded = code_turns(turns, docs)
        trained = best(lambda: func(turns, docs), args.repeats)
        texts = turns.text[turns.speaker == "therapist"].tolist()
        rc = pd.DataFrame(coded[[f"form_{f}" for f in FORMS]].to_numpy(float),
                          columns=[f"rule__form_{f}" for f in FORMS])
        step = best(lambda: model.predict(texts, rule_codes=rc), args.repeats)
        client = best(lambda: code_client_turns(turns, docs), args.repeats)
    print(f"coding {n_ther} therapist turns (+ {n_pat} client turns), parse excluded, "
          f"best of {args.repeats}:")
    print(f"  rule coder (code_turns)             {rules:7.2f} s  "
          f"({n_ther / rules:,.0f} turns/s)")
    print(f"  trained coder (TechniqueModel)      {trained:7.2f} s  "
          f"({n_ther / trained:,.0f} turns/s)")
    print(f"    of which the model step           {step:7.2f} s")
    print(f"  client rules (code_client_turns)    {client:7.2f} s  "
          f"({n_pat / client:,.0f} turns/s)")
    print(f"model: {model.summary['model']}; CV kappa {cv.kappa:.3f}, macro-F1 {cv.macro_f1:.3f}")


if __name__ == "__main__":
    main()
