"""Train the shipped valence/arousal/dominance model from EmoBank (train split; dev selects) and
write the dev scores shipped beside it: ``python benchmarks/train_emotion_model.py [--data CSV]
[--out NPZ] [--cache DIR]`` (``make emotion-model``; data, fitting and output in
``docs/emotion.md``). Not run by ``make benchmarks``: it rewrites the shipped model."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse, stats
from sklearn.linear_model import Ridge

from therapy_turns.measures.emotion import (
    DEFAULT_CACHE,
    DEFAULT_DATA,
    DENSE_FEATURES,
    DIMENSIONS,
    MODEL_FILE,
    SHIPPED_DEV,
    TARGETS,
    LinearVAD,
    design_matrix,
    dev_predictions,
    load_model,
    span_unit,
)
from therapy_turns.nlp import load_pipeline, parse
from therapy_turns.paths import project_path

log = logging.getLogger(__name__)

ALPHAS = (0.3, 1.0, 3.0, 10.0, 30.0)
MIN_DFS = (2, 3, 5)


def _fit(x: sparse.csr_matrix, y: np.ndarray, alpha: float) -> tuple[np.ndarray, float]:
    model = Ridge(alpha=alpha, solver="sparse_cg", tol=1e-10, max_iter=20000).fit(x, y)
    return np.asarray(model.coef_, dtype=np.float64), float(model.intercept_)


def save_model(model: LinearVAD, path: str | Path = MODEL_FILE) -> None:
    """Write ``model`` as a compressed ``.npz`` (no pickle; byte-stable)."""
    vocab = np.asarray(sorted(model.vocab, key=model.vocab.__getitem__), dtype=str)
    arrays = {k: getattr(model, k) for k in ("intercept", "dense_mean", "dense_sd")}
    meta = np.asarray(json.dumps(model.meta, sort_keys=True))
    np.savez_compressed(path, vocab=vocab, coef=model.coef.astype(np.float32), **arrays, meta=meta)


def load_emobank(path: str | Path = DEFAULT_DATA) -> pd.DataFrame:
    """EmoBank train+dev rows (``id, split, V, A, D, text``), sorted by split then id."""
    types = {"id": str, "split": str, "text": str}
    df = pd.read_csv(project_path(path), dtype=types, keep_default_na=False)
    df = df[df["split"].isin(["train", "dev"])]
    return df.sort_values(["split", "id"], kind="stable").reset_index(drop=True)


def emobank_units(texts, cache_dir: str | Path | None) -> list:
    """Each text parsed (cached) and scored as one ``emotion.Unit``."""
    cache = project_path(cache_dir) if cache_dir else None
    return [span_unit(d) for d in parse(texts.tolist(), load_pipeline(), cache)]


def train(
    data: str | Path = DEFAULT_DATA,
    out: str | Path = MODEL_FILE,
    cache_dir: str | Path | None = DEFAULT_CACHE,
) -> dict[str, object]:
    """Fit, select on dev, write the model to ``out``; return the metadata written."""
    df = load_emobank(data)
    tr, dv = df[df["split"] == "train"], df[df["split"] == "dev"]
    u_tr, u_dv = emobank_units(tr["text"], cache_dir), emobank_units(dv["text"], cache_dir)
    dense_tr = np.asarray([u.dense for u in u_tr]).reshape(len(u_tr), len(DENSE_FEATURES))
    mean, sd = dense_tr.mean(axis=0), dense_tr.std(axis=0)
    sd[sd == 0] = 1.0
    doc_freq = Counter(w for u in u_tr for w in set(u.items))

    def matrices(min_df: int) -> tuple[dict[str, int], sparse.csr_matrix, sparse.csr_matrix]:
        vocab = {w: i for i, w in enumerate(sorted(w for w, n in doc_freq.items() if n >= min_df))}
        return vocab, design_matrix(u_tr, vocab, mean, sd), design_matrix(u_dv, vocab, mean, sd)

    best: dict[str, tuple[float, int, float]] = {}  # dim -> (r, min_df, alpha)
    for min_df in MIN_DFS:
        _, x_tr, x_dv = matrices(min_df)
        for dim, col in TARGETS.items():
            for alpha in ALPHAS:
                coef, b = _fit(x_tr, tr[col].to_numpy(float), alpha)
                r = float(stats.pearsonr(x_dv @ coef + b, dv[col].to_numpy(float))[0])
                log.info("%s min_df=%d alpha=%g dev r=%.4f", dim, min_df, alpha, r)
                if dim not in best or r > best[dim][0] + 1e-12:
                    best[dim] = (r, min_df, alpha)

    # One vocabulary for the shipped model: the smallest min_df chosen by any dimension, so
    # every dimension sees the words it was selected with.
    min_df = min(b[1] for b in best.values())
    vocab, x_tr, x_dv = matrices(min_df)
    fits = {dim: _fit(x_tr, tr[col].to_numpy(float), best[dim][2]) for dim, col in TARGETS.items()}
    dev_r = {}
    for (dim, (coef, b)), col in zip(fits.items(), TARGETS.values(), strict=True):
        pred = np.clip(x_dv @ coef.astype(np.float32).astype(np.float64) + b, 1, 5)
        dev_r[dim] = round(float(stats.pearsonr(pred, dv[col].to_numpy(float))[0]), 4)
    meta = {
        "source": "EmoBank (Buechel & Hahn 2017), train split; dev for selection. CC BY-SA 4.0",
        "data_sha256": hashlib.sha256(project_path(data).read_bytes()).hexdigest(),
        "n_train": len(tr),
        "n_dev": len(dv),
        "min_df": min_df,
        "alpha": {d: best[d][2] for d in DIMENSIONS},
        "dev_pearson_r": dev_r,
        "scale": "EmoBank 1-5 (3 = neutral)",
        "dense_features": list(DENSE_FEATURES),
        "n_vocab": len(vocab),
    }
    coef, intercept = np.vstack([c for c, _ in fits.values()]), [b for _, b in fits.values()]
    model = LinearVAD(vocab, coef, np.asarray(intercept), mean, sd, meta)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_model(model, out)
    log.info("wrote %s: %s", out, json.dumps(meta["dev_pearson_r"]))
    return meta


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DEFAULT_DATA), help="EmoBank train+dev CSV")
    p.add_argument("--out", default=str(MODEL_FILE), help="model file to write (.npz)")
    p.add_argument("--cache", default=DEFAULT_CACHE, help="parse cache directory")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    train(args.data, args.out, args.cache)
    if Path(args.out).resolve() == MODEL_FILE.resolve():
        load_model.cache_clear()
        dev = dev_predictions(args.data, args.cache).drop(columns="text")
        dev.to_csv(SHIPPED_DEV, index=False, float_format="%.5f", lineterminator="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
