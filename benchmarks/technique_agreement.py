"""Agreement of the rule-based technique coder with the hand-coded gold sets.

Primary gold: ``tests/data/gold_mi.csv`` (600 therapist utterances in the style of transcribed
human MI/ACT counselling, each with the client utterance before it; coded by MITI 4.2.1 / MISC 2.5
before the rules were tuned; see ``tests/data/gold_mi.md``). Parts, by pseudo-session: ``dev``
(rules are tuned looking at its errors only), ``heldout`` (never tuned on, but its utterances were
seen by the rule author: contaminated), ``heldout2`` (fresh, written and coded blind to the coder:
the clean held-out figure); ``heldout-all`` is the union of the two held-out parts. ``--split``
picks the part the figures come from; every printout names it.

Printed: per form code Cohen's kappa, precision/recall/F1 and counts; per main behaviour
precision/recall/F1, the main-behaviour confusion matrix (rows gold, columns coder), kappa and
macro-F1; reflection recall (gold reflection turns the coder calls reflections); open/closed kappa
(over the turns gold codes as questions: open if the turn holds an open question, else closed; a
gold question the coder does not call a question counts as "none", a disagreement).

``--seed-check`` also scores the old 65-turn seed gold (``tests/data/gold_techniques.csv``, ACT
seeds; in-sample: the rules were first written against it). ``--table`` (default on, clean
``heldout2`` part only) writes the per-code table to ``figures/04-agreement.csv`` and ``.tex``.
Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/technique_agreement.py --split heldout2
    PYTHONPATH=src .venv/bin/python benchmarks/technique_agreement.py --split dev --errors
"""

from __future__ import annotations

import argparse
import json
import logging

import pandas as pd
from sklearn.metrics import (
    cohen_kappa_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

from therapy_turns.io.transcripts import load_corpus
from therapy_turns.measures.techniques import ACT_PROCESSES, FORMS, MAIN_BEHAVIOURS, code_turns
from therapy_turns.paths import project_path
from therapy_turns.pipeline import parse_turns
from therapy_turns.schema import split_codes
from therapy_turns.viz.plots import save_table

log = logging.getLogger("technique_agreement")
CACHE = "build/benchmarks/parse-cache"
#: split names that stand for a union of gold parts
SPLITS = {"heldout-all": ("heldout", "heldout2")}


def gold_turns(gold: pd.DataFrame) -> pd.DataFrame:
    """The turn table of the MI gold file: each utterance preceded by its client context."""
    rows = []
    for r in gold.itertuples():
        rows.append(
            {
                "session_id": r.session_id,
                "turn": int(r.turn) - 1,
                "speaker": "patient",
                "text": r.client_context,
            }
        )
        rows.append(
            {
                "session_id": r.session_id,
                "turn": int(r.turn),
                "speaker": "therapist",
                "text": r.utterance,
            }
        )
    return pd.DataFrame(rows).sort_values(["session_id", "turn"]).reset_index(drop=True)


def _has(series: pd.Series, code: str) -> pd.Series:
    return series.fillna("").map(lambda v: code in split_codes(v)).astype(int)


def _qtype(value: str) -> str:
    codes = split_codes(value)
    return (
        "open" if "open_question" in codes else "closed" if "closed_question" in codes else "none"
    )


def code_table(
    gold: pd.DataFrame, coded: pd.DataFrame, layers: dict[str, tuple[str, str]]
) -> pd.DataFrame:
    """Per-code agreement: ``layers`` maps a layer name to (gold column, coder column)."""
    m = gold.merge(
        coded, on=["session_id", "turn"], suffixes=("_gold", ""), how="left", validate="one_to_one"
    )
    rows = []
    for layer, (gcol, ccol) in layers.items():
        for code in FORMS if layer == "form" else ACT_PROCESSES:
            g, c = _has(m[gcol], code), _has(m[ccol], code)
            if g.sum() == 0 and c.sum() == 0:
                continue
            p, r, f, _ = precision_recall_fscore_support(g, c, average="binary", zero_division=0)
            kappa = cohen_kappa_score(g, c) if g.nunique() > 1 or c.nunique() > 1 else float("nan")
            rows.append(
                {
                    "layer": layer,
                    "code": code,
                    "n_gold": int(g.sum()),
                    "n_coder": int(c.sum()),
                    "kappa": kappa,
                    "precision": p,
                    "recall": r,
                    "f1": f,
                }
            )
    return pd.DataFrame(rows)


def main_behaviour_figures(m: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Per-class table, confusion matrix (gold rows, coder columns) and summary of the main
    behaviour in the merged table ``m`` (columns ``main_behaviour_gold``, ``main_behaviour``)."""
    g, c = m["main_behaviour_gold"], m["main_behaviour"]
    labels = list(MAIN_BEHAVIOURS)
    p, r, f, n = precision_recall_fscore_support(g, c, labels=labels, zero_division=0)
    per = pd.DataFrame(
        {
            "layer": "main",
            "code": labels,
            "n_gold": n,
            "n_coder": [int((c == lab).sum()) for lab in labels],
            "kappa": [cohen_kappa_score(g == lab, c == lab) for lab in labels],
            "precision": p,
            "recall": r,
            "f1": f,
        }
    )
    cm = pd.DataFrame(
        confusion_matrix(g, c, labels=labels), index=[f"gold {x}" for x in labels], columns=labels
    )
    qg, qc = m["form_gold"].map(_qtype), m["form"].map(_qtype)
    asked = qg != "none"
    summary = {
        "n_turns": len(m),
        "accuracy_main_behaviour": float((g == c).mean()),
        "kappa_main_behaviour": float(cohen_kappa_score(g, c)),
        "macro_f1_main_behaviour": float(
            f1_score(g, c, labels=labels, average="macro", zero_division=0)
        ),
        "reflection_recall": float(r[labels.index("reflection")]),
        "kappa_open_closed": float(cohen_kappa_score(qg[asked], qc[asked])),
        "n_gold_questions": int(asked.sum()),
    }
    return per, cm, summary


def evaluate_mi(path: str, split: str, errors: bool) -> tuple[pd.DataFrame, dict]:
    """Score the coder on the MI gold file (one half or all); print the figures."""
    gold = pd.read_csv(project_path(path), dtype=str, keep_default_na=False)
    gold["turn"] = gold["turn"].astype(int)
    if split != "all":
        gold = gold[gold["split"].isin(SPLITS.get(split, (split,)))]
    turns = gold_turns(gold)
    docs = parse_turns(turns, project_path(CACHE))
    coded = code_turns(turns, docs)
    forms_table = code_table(gold, coded, {"form": ("form_gold", "form")})
    m = gold.merge(
        coded, on=["session_id", "turn"], suffixes=("_gold", ""), how="left", validate="one_to_one"
    )
    per, cm, summary = main_behaviour_figures(m)
    t = forms_table[forms_table.n_gold > 0]
    summary["macro_f1_forms"] = float(t["f1"].mean())
    summary["mean_kappa_forms"] = float(t["kappa"].mean())
    table = pd.concat([forms_table, per], ignore_index=True)
    ff = {"float_format": lambda x: f"{x:.2f}"}
    print(f"== MI gold {path}, split: {split} ({summary['n_turns']} utterances) ==")
    print(table.to_string(index=False, **ff))
    print("\nmain behaviour confusion matrix (rows gold, columns coder):")
    print(cm.to_string())
    print(
        json.dumps(
            {"split": split}
            | {k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()},
            indent=1,
        )
    )
    if errors:
        for r in m.itertuples():
            g, c = set(split_codes(r.form_gold)), set(split_codes(r.form))
            if g != c or r.main_behaviour_gold != r.main_behaviour:
                print(
                    f"{r.id} [{r.main_behaviour_gold}->{r.main_behaviour}] missed "
                    f"{sorted(g - c)} extra {sorted(c - g)}\n   C: {r.client_context}\n"
                    f"   T: {r.utterance}\n   ev: {r.evidence}"
                )
    return table, summary


def seed_check(corpus: str, path: str) -> dict:
    """Score the coder on the 65-turn seed gold (in-sample: ACT seeds)."""
    gold = pd.read_csv(
        project_path(path), dtype={"form": str, "act_process": str}, keep_default_na=False
    )
    turns = load_corpus(project_path(corpus)).turns
    coded = code_turns(turns, parse_turns(turns, project_path(CACHE)))
    table = code_table(
        gold, coded, {"form": ("form_gold", "form"), "act": ("act_process_gold", "act_process")}
    )
    m = gold.merge(
        coded, on=["session_id", "turn"], suffixes=("_gold", ""), how="left", validate="one_to_one"
    )
    summary = {"n_turns": len(m)}
    for layer in ("form", "act"):
        t = table[(table.layer == layer) & (table.n_gold > 0)]
        summary[f"macro_f1_{layer}"] = round(float(t["f1"].mean()), 3)
        summary[f"mean_kappa_{layer}"] = round(float(t["kappa"].mean()), 3)
    summary["kappa_main_behaviour"] = round(
        float(cohen_kappa_score(m["main_behaviour_gold"], m["main_behaviour"])), 3
    )
    summary["accuracy_main_behaviour"] = round(
        float((m["main_behaviour_gold"] == m["main_behaviour"]).mean()), 3
    )
    print(f"\n== seed gold {path} (in-sample, ACT seeds) ==")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gold", default="tests/data/gold_mi.csv")
    ap.add_argument(
        "--split", choices=("dev", "heldout", "heldout2", "heldout-all", "all"), default="heldout2"
    )
    ap.add_argument("--errors", action="store_true", help="list disagreements per utterance")
    ap.add_argument(
        "--seed-check", action="store_true", help="also score the 65-turn seed gold (in-sample)"
    )
    ap.add_argument("--corpus", default="seeds", help="corpus of the seed gold")
    ap.add_argument("--seed-gold", default="tests/data/gold_techniques.csv")
    ap.add_argument(
        "--table",
        default="04-agreement",
        help="write the clean held-out per-code table as figures/<TABLE>.csv/.tex "
        "('' = don't; only with --split heldout2)",
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    pd.set_option("display.width", 140)
    table, summary = evaluate_mi(a.gold, a.split, a.errors)
    if a.table and a.split == "heldout2":
        save_table(
            table,
            a.table,
            "figures",
            caption=(
                "Rule coder vs hand-coded MI gold, fresh HELD-OUT part heldout2 only "
                f"({summary['n_turns']} therapist utterances of 17 pseudo-sessions written and "
                f"coded blind to the coder, never used for tuning): per form code and main "
                f"behaviour. "
                f"Main behaviour macro-F1 "
                f"{summary['macro_f1_main_behaviour']:.2f}, reflection recall "
                f"{summary['reflection_recall']:.2f}, open/closed kappa "
                f"{summary['kappa_open_closed']:.2f}."
            ),
        )
        log.info("wrote figures/%s.csv/.tex (heldout2)", a.table)
    elif a.table:
        log.info("table not written: figures/%s comes from the heldout2 part only", a.table)
    if a.seed_check:
        seed_check(a.corpus, a.seed_gold)


if __name__ == "__main__":
    main()
