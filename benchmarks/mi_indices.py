"""Do the MI session indices from the coders track the same indices from hand codes?

Per held-out pseudo-session of ``tests/data/gold_mi.csv`` (23 sessions, ~9 therapist turns
each), every index of :func:`analysis.shifts.session_indices` is computed twice: from the gold codes
(``form``, ``main_behaviour``) and from the coders (the rule coder; for the main-behaviour
indices also a coder trained with train-coder on the ``dev`` half). The client's change-talk
share uses ``tests/data/gold_client.csv`` (its held-out sessions) against the client rules.
Printed: Pearson r per index across sessions, with the number of sessions where both values
exist and the mean absolute difference; then the sequential analysis (P(change / sustain talk in
the next client turn | therapist main behaviour)) on the held-out sessions coded on both sides,
from gold codes and from the rule coders. Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/mi_indices.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from client_agreement import rule_codes
from scipy.stats import pearsonr
from technique_agreement import gold_turns

from therapy_turns.analysis.shifts import sequential, session_indices
from therapy_turns.measures import coder as cd
from therapy_turns.measures.techniques import code_turns
from therapy_turns.nlp import parse
from therapy_turns.paths import project_path


def compare(gold: pd.DataFrame, coded: pd.DataFrame, name: str) -> pd.DataFrame:
    """r, n and mean |difference| per index between two session-index tables."""
    rows = []
    for ix in gold.columns.intersection(coded.columns, sort=False):
        both = pd.concat([gold[ix], coded[ix]], axis=1, keys=["gold", "coder"]).dropna()
        if both.empty:
            continue
        ok = len(both) >= 3 and both.gold.std() > 0 and both.coder.std() > 0
        r = pearsonr(both.gold, both.coder).statistic if ok else np.nan
        rows.append({"coder": name, "index": ix, "sessions": len(both), "r": r,
                     "mean_abs_diff": (both.gold - both.coder).abs().mean()})
    return pd.DataFrame(rows)


def main() -> None:
    mi = pd.read_csv(project_path("tests/data/gold_mi.csv"), keep_default_na=False)
    held = mi[mi.split == "heldout"].reset_index(drop=True)
    turns = gold_turns(held)
    rules = code_turns(turns, parse(turns.text.tolist()))
    gold_ix = session_indices(held, None)
    out = [compare(gold_ix, session_indices(rules, None), "rules")]
    model, _ = cd.train(mi[mi.split == "dev"].reset_index(drop=True), "main_behaviour",
                        "utterance", "session_id")
    trained = held.assign(main_behaviour=model.predict(held.utterance.tolist(),
                                                       held.client_context.tolist()))
    keep = [c for c in gold_ix.columns if c.endswith("_rate") and not c.startswith("mi_")] \
        + ["reflection_question_ratio"]
    out.append(compare(gold_ix[keep], session_indices(trained, None)[keep], "trained (dev)"))
    cl = pd.read_csv(project_path("tests/data/gold_client.csv"), keep_default_na=False)
    cl = cl[cl.split == "heldout"].reset_index(drop=True)
    fake = pd.DataFrame({"session_id": [], "turn": [], "form": [], "main_behaviour": []})
    g = session_indices(fake, cl.assign(client_talk=cl.code))
    c = session_indices(fake, cl.assign(client_talk=rule_codes(cl).client_talk.to_numpy()))
    out.append(compare(g[["change_talk_share"]], c[["change_talk_share"]], "client rules"))
    table = pd.concat(out, ignore_index=True)
    print(f"MI session indices, coder vs gold codes, held-out sessions "
          f"({held.session_id.nunique()} therapist, {cl.session_id.nunique()} client):")
    print(table.round(3).to_string(index=False))
    both = held[held.session_id.isin(set(cl.session_id))]
    cl2 = cl[cl.session_id.isin(set(both.session_id))].reset_index(drop=True)
    gold_seq = sequential(both, cl2.assign(client_talk=cl2.code))
    rule_tech = rules[rules.session_id.isin(set(both.session_id))]
    rule_seq = sequential(rule_tech, cl2.assign(client_talk=rule_codes(cl2).client_talk.to_numpy()))
    seq = gold_seq[["behaviour", "talk", "n", "p", "base_rate"]].merge(
        rule_seq[["behaviour", "talk", "n", "p", "base_rate"]], on=["behaviour", "talk"],
        suffixes=("_gold", "_rules"))
    print(f"\nsequential, held-out sessions coded on both sides ({both.session_id.nunique()}):")
    print(seq.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
