"""Validation of the affect scorer on EmoBank dev, with the lexicon baselines side by side.

Prints Pearson r (95% Fisher-z CI) of the shipped model and of VADER / rule layer / NRC against
the human valence, arousal and dominance ratings of EmoBank's dev split (1,000 sentences; the
split used for model selection, the test split is not available here), then r on the dev
sentences that contain a negation, an intensifier/diminisher or a contrast word, then the
scoring speed on the seed corpus. Targets: valence r >= 0.60, arousal r >= 0.35.

Run: ``.venv/bin/python benchmarks/emotion_validation.py`` (about 30 s on 2 cores; EmoBank is read
from ``../shared/data/emobank/emobank_train_dev.csv`` beside the project).
"""

from __future__ import annotations

import sys
import time

import pandas as pd
from scipy import stats

from therapy_turns.io.transcripts import load_corpus
from therapy_turns.measures import emotion
from therapy_turns.nlp import load_pipeline
from therapy_turns.pipeline import parse_turns

TARGETS = {"valence": 0.60, "arousal": 0.35}


def main() -> int:
    if not emotion.DEFAULT_DATA.is_file():
        print(f"EmoBank not found at {emotion.DEFAULT_DATA}; nothing to validate")
        return 0
    pred = emotion.dev_predictions()
    summary = emotion.validation_summary(pred)
    pd.set_option("display.width", 120)
    print(f"EmoBank dev, n = {len(pred)}; model: {emotion.load_model().meta['dev_pearson_r']}")
    print(summary.drop(columns="column").round(3).to_string(index=False))
    for dim, target in TARGETS.items():
        r = summary.loc[summary.scorer.str.startswith("model") & (summary.dimension == dim), "r"]
        print(f"target {dim} r >= {target:.2f}: {'met' if r.iloc[0] >= target else 'NOT met'} "
              f"(r = {r.iloc[0]:.3f})")

    # Subsets where the composition rules matter (detected on the parse).
    nlp = load_pipeline()
    docs = list(nlp.pipe(pred["text"].tolist()))
    rules = emotion.load_rules()
    mods = {" ".join(k) for k in rules.modifiers}
    flags = pd.DataFrame({
        "negation": [any(emotion.RuleView([d], rules).negator) for d in docs],
        "intensifier/diminisher": [any(t.lower_ in mods for t in d) or any(
            " ".join(x.lower_ for x in d[i:i + 2]) in mods for i in range(len(d)))
            for d in docs],
        "contrast": [any(t.lower_ in rules.contrast for t in d) for d in docs],
    })
    rows = []
    for name in flags:
        sub = pred[flags[name].to_numpy()]
        for col in ("valence", "vader_compound", "valence_rules"):
            res = stats.pearsonr(sub[col].to_numpy(float), sub["V"].to_numpy(float))
            r, (lo, hi) = res.statistic, res.confidence_interval(0.95)
            rows.append({"subset": name, "n": len(sub), "scorer": col, "r": r, "ci_low": lo,
                         "ci_high": hi})
    print("\nvalence r on dev subsets")
    print(pd.DataFrame(rows).round(3).to_string(index=False))

    # Speed: scoring only (the parse is shared and cached by the analysis step).
    turns = load_corpus("seeds").turns
    docs = parse_turns(turns, "build/seeds/parse-cache")
    emotion.score_turns(turns.head(5), docs[:5])  # warm caches
    t0 = time.perf_counter()
    emotion.score_turns(turns, docs)
    dt = time.perf_counter() - t0
    print(f"\nscore_turns on the seeds: {len(turns)} turns in {dt:.2f} s "
          f"({len(turns) / dt:.0f} turns/s, parse excluded)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
