"""Agreement of the client change/sustain-talk rules with the hand-coded client gold set.

Gold: ``tests/data/gold_client.csv`` (294 client utterances, MISC 2.5 change / sustain / neutral
with kind, coded before the rules were written; see ``tests/data/gold_client.md``), split by
pseudo-session into ``dev`` (rules tuned on its errors) and ``heldout`` (never tuned on).
Prints, for the half chosen by ``--split`` (every printout names it): Cohen's kappa, macro-F1,
per-code precision/recall/F1, the confusion matrix (rows gold, columns rules), and what the
rules miss: the gold change/sustain utterances coded otherwise, counted by gold kind, with
``--errors`` every disagreement and its evidence. Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/client_agreement.py --split heldout
"""

from __future__ import annotations

import argparse

import pandas as pd

from therapy_turns.measures.client_talk import CLIENT_CODES, code_client_turns
from therapy_turns.measures.coder import agreement
from therapy_turns.nlp import parse
from therapy_turns.paths import project_path

GOLD = "tests/data/gold_client.csv"


def rule_codes(gold: pd.DataFrame) -> pd.DataFrame:
    """The client rules' codes of every gold utterance (row-aligned with ``gold``)."""
    turns = pd.DataFrame({"session_id": gold["id"], "turn": 0, "speaker": "patient",
                          "text": gold["utterance"]})
    coded = code_client_turns(turns, parse(turns.text.tolist()))
    return coded.set_index("session_id").loc[gold["id"]].reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=["dev", "heldout", "all"], default="heldout")
    ap.add_argument("--errors", action="store_true", help="list every disagreement")
    args = ap.parse_args()
    gold = pd.read_csv(project_path(GOLD), keep_default_na=False)
    if args.split != "all":
        gold = gold[gold.split == args.split].reset_index(drop=True)
    coded = rule_codes(gold)
    kappa, macro, per, cm = agreement(gold.code.tolist(), coded.client_talk.tolist(),
                                      list(CLIENT_CODES))
    print(f"client rules vs {GOLD}, split={args.split}: {len(gold)} utterances, "
          f"{gold.session_id.nunique()} sessions")
    print(f"kappa {kappa:.3f}  macro-F1 {macro:.3f}\n")
    print(per.round(3).to_string(), "\n\nconfusion (rows gold, columns rules):")
    print(cm.to_string())
    missed = gold[(gold.code != "neutral") & (gold.code.to_numpy() != coded.client_talk)]
    print(f"\nmissed change/sustain talk (split={args.split}): {len(missed)} of "
          f"{int((gold.code != 'neutral').sum())}, by gold kind:")
    print(missed.groupby(["code", "kind"]).size().rename("missed").to_string())
    if args.errors:
        for i in gold.index[gold.code.to_numpy() != coded.client_talk.to_numpy()]:
            print(f"{gold.id[i]} gold={gold.code[i]}/{gold.kind[i]} "
                  f"rules={coded.client_talk[i]} | {gold.utterance[i]} | {coded.evidence[i]}")


if __name__ == "__main__":
    main()
