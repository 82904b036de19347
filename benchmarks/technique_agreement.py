"""Agreement of the rule-based technique coder with the hand-coded gold set.

Prints, per code, Cohen's kappa, precision/recall/F1 and the counts (gold, coder), then macro-F1
over the form codes and over the ACT codes that occur in the gold set, and kappa for the main
behaviour. The rules were adjusted once after a first run against this gold set (see the report in
docs/codebook.md): the figures are in-sample. Gold: ``tests/data/gold_techniques.csv`` (65
therapist turns of the seeds, coded by hand before the rules were written). Usage::

    .venv/bin/python benchmarks/technique_agreement.py [--corpus seeds] [--gold PATH] [--errors]

The per-code table is also written as ``figures/04-agreement.csv`` and ``.tex`` (``--table``).
"""

from __future__ import annotations

import argparse
import json

import pandas as pd
from sklearn.metrics import cohen_kappa_score, f1_score, precision_recall_fscore_support

from therapy_turns.io.transcripts import load_corpus
from therapy_turns.measures.techniques import act_processes, code_turns, forms, split_codes
from therapy_turns.paths import project_path
from therapy_turns.pipeline import parse_turns
from therapy_turns.viz.plots import save_table


def agreement(gold: pd.DataFrame, coded: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per-code agreement table and summary figures for the turns in ``gold``."""
    m = gold.merge(coded, on=["session_id", "turn"], suffixes=("_gold", ""), how="left",
                   validate="one_to_one")
    if m["form"].isna().any():
        raise SystemExit("gold turns missing from the coded table: "
                         f"{m.loc[m['form'].isna(), ['session_id', 'turn']].values.tolist()}")
    rows = []
    for layer, codes, gcol, ccol in (("form", forms(), "form_gold", "form"),
                                     ("act", act_processes(), "act_process_gold", "act_process")):
        for code in codes:
            g = m[gcol].fillna("").map(lambda v, c=code: c in split_codes(v)).astype(int)
            c = m[ccol].fillna("").map(lambda v, c=code: c in split_codes(v)).astype(int)
            if g.sum() == 0 and c.sum() == 0:
                continue
            p, r, f, _ = precision_recall_fscore_support(g, c, average="binary", zero_division=0)
            kappa = cohen_kappa_score(g, c) if g.nunique() > 1 or c.nunique() > 1 else float("nan")
            rows.append({"layer": layer, "code": code, "n_gold": int(g.sum()),
                         "n_coder": int(c.sum()), "kappa": kappa, "precision": p, "recall": r,
                         "f1": f})
    table = pd.DataFrame(rows)
    summary = {}
    for layer in ("form", "act"):
        t = table[(table.layer == layer) & (table.n_gold > 0)]
        summary[f"macro_f1_{layer}"] = float(t["f1"].mean())
        summary[f"mean_kappa_{layer}"] = float(t["kappa"].mean())
    summary["kappa_main_behaviour"] = float(cohen_kappa_score(m["main_behaviour_gold"],
                                                              m["main_behaviour"]))
    summary["macro_f1_main_behaviour"] = float(f1_score(m["main_behaviour_gold"],
                                                        m["main_behaviour"], average="macro"))
    same = m["main_behaviour_gold"] == m["main_behaviour"]
    summary["accuracy_main_behaviour"] = float(same.mean())
    summary["n_turns"] = len(m)
    return table, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="seeds")
    ap.add_argument("--gold", default="tests/data/gold_techniques.csv")
    ap.add_argument("--errors", action="store_true", help="list disagreements per turn")
    ap.add_argument("--table", default="04-agreement",
                    help="also write the per-code table as figures/<TABLE>.csv/.tex ('' = don't)")
    a = ap.parse_args()
    gold = pd.read_csv(project_path(a.gold), dtype={"form": str, "act_process": str},
                       keep_default_na=False)
    turns = load_corpus(project_path(a.corpus)).turns
    docs = parse_turns(turns, project_path("build/benchmarks/parse-cache"), progress=False)
    coded = code_turns(turns, docs)
    table, summary = agreement(gold, coded)
    pd.set_option("display.width", 120)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()},
                     indent=1))
    if a.table:
        save_table(table, a.table, "figures", caption="Technique coder vs hand-coded gold "
                   f"({summary['n_turns']} seed therapist turns; in-sample)")
    if a.errors:
        m = gold.merge(coded, on=["session_id", "turn"], suffixes=("_gold", ""))
        for r in m.itertuples():
            for col in ("form", "act_process"):
                g = set(split_codes(getattr(r, f"{col}_gold")))
                c = set(split_codes(getattr(r, col)))
                if g != c:
                    print(f"{r.session_id[:3]} t{r.turn} {col}: missed {sorted(g - c)} "
                          f"extra {sorted(c - g)}")


if __name__ == "__main__":
    main()
