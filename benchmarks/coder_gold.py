"""train-coder on the hand-coded gold sets: session-grouped CV, and dev -> held-out.

For the therapist main behaviour (``tests/data/gold_mi.csv``) and the client code
(``tests/data/gold_client.csv``):

1. ``train-coder`` on the whole set: 5-fold GroupKFold by session (kappa, macro-F1);
2. trained on the ``dev`` half only, scored on each held-out part (``heldout``; for the MI gold
   also the clean ``heldout2``), beside the rule coder on the same held-out utterances (the
   comparison a lab would make before switching coders).

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/coder_gold.py
"""

from __future__ import annotations

import pandas as pd
from client_agreement import rule_codes
from technique_agreement import gold_turns

from therapy_turns.measures import coder as cd
from therapy_turns.measures.techniques import code_turns
from therapy_turns.nlp import parse
from therapy_turns.paths import project_path


def therapist_rules(gold: pd.DataFrame) -> list[str]:
    """The rule coder's main behaviour of each gold utterance (row-aligned)."""
    turns = gold_turns(gold)
    coded = code_turns(turns, parse(turns.text.tolist())).set_index(["session_id", "turn"])
    return coded.main_behaviour.loc[list(zip(gold.session_id, gold.turn, strict=True))].tolist()


def report(name: str, gold: pd.DataFrame, label: str, text: str, rules: list[str]) -> None:
    """Print CV on the whole set and dev -> held-out against the rules."""
    model, cv = cd.train(gold, label, text, "session_id", source=name)
    print(
        f"== {name}: {label}, {len(gold)} rows, {gold.session_id.nunique()} sessions, "
        f"rule features: {model.rules}"
    )
    print(f"all, 5-fold GroupKFold by session: kappa {cv.kappa:.3f}  macro-F1 {cv.macro_f1:.3f}")
    print(cv.per_class.round(3).to_string())
    dev = gold[gold.split == "dev"]
    fitted, _ = cd.train(dev.reset_index(drop=True), label, text, "session_id", source=name)
    labels = sorted(set(gold[label]))
    for part in sorted(set(gold.split) - {"dev"}):
        held = gold[gold.split == part]
        ctx = held["client_context"].tolist() if "client_context" in held else None
        pred = fitted.predict(held[text].tolist(), ctx)
        k, f, per, cm = cd.agreement(held[label].tolist(), list(pred), labels)
        held_rules = [r for r, s in zip(rules, gold.split, strict=True) if s == part]
        kr, fr, _, _ = cd.agreement(held[label].tolist(), held_rules, labels)
        print(
            f"trained on dev ({len(dev)}), scored on {part} ({len(held)}): kappa {k:.3f}  "
            f"macro-F1 {f:.3f};  rules on {part}: kappa {kr:.3f}  macro-F1 {fr:.3f}"
        )
        print(per.round(3).to_string(), f"\nconfusion (rows gold, columns trained coder, {part}):")
        print(cm.to_string(), "\n")


def main() -> None:
    mi = pd.read_csv(project_path("tests/data/gold_mi.csv"), keep_default_na=False)
    report("gold_mi.csv", mi, "main_behaviour", "utterance", therapist_rules(mi))
    cl = pd.read_csv(project_path("tests/data/gold_client.csv"), keep_default_na=False)
    report("gold_client.csv", cl, "code", "utterance", rule_codes(cl).client_talk.tolist())


if __name__ == "__main__":
    main()
