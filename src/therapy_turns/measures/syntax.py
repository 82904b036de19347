"""Readability, dependency distance and POS proportions of turns, by the definitions of
textdescriptives 2.8.2, over the flat token arrays of a block of turns."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyphen import Pyphen

from therapy_turns.measures.views import Tokens, ratio

#: POS proportions reported (textdescriptives ``pos_prop_*``; denominator: all tokens).
POS_TAGS = tuple("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ VERB".split())
#: Readability (Flesch) is undefined (NaN) for turns with fewer words than this: syllables per
#: word and words per sentence of a few words are no estimate (one long word scores -218)
READABILITY_MIN_WORDS = 10


@lru_cache(maxsize=4)
def _pyphen(lang: str) -> Pyphen:
    return Pyphen(lang=lang)


@lru_cache(maxsize=65536)
def syllables(word: str, lang: str = "en") -> int:
    """Syllables of ``word``: Pyphen's hyphenation points + 1 (as textdescriptives counts)."""
    return _pyphen(lang).inserted(word).count("-") + 1


def syntax_columns(
    t: Tokens, starts: np.ndarray, n_sents: np.ndarray, has_words: np.ndarray
) -> dict[str, np.ndarray]:
    """Per Doc of ``t`` (NaN without words; readability NaN below :data:`READABILITY_MIN_WORDS`
    words): Flesch reading ease, Flesch-Kincaid grade, mean
    dependency distance, POS proportions (see :func:`measures.features.syntax_features`).
    ``starts``: per token, does a sentence start there; ``n_sents``: sentences per Doc."""
    out: dict[str, np.ndarray] = {}
    nan = np.full(t.n_docs, np.nan)
    # readability (textdescriptives: descriptive_stats + readability)
    keep = ~t.flag("IS_PUNCT") & ~t.where("ORTH", lambda s: "'" in s, normed=False)
    n_keep = t.count(keep)
    lang = t.docs[0].lang_ if t.docs else "en"
    lowers, inv = t.types("LOWER", normed=False)
    syl = np.asarray([syllables(w, lang) for w in lowers], dtype=np.int64)[inv]
    asl = ratio(n_keep, n_sents)  # mean sentence length: kept words over all sentences
    aspw = ratio(np.bincount(t.doc_of[keep], weights=syl[keep], minlength=t.n_docs), n_keep)
    ok = has_words & (n_keep >= READABILITY_MIN_WORDS)
    out["flesch_reading_ease"] = np.where(ok, 206.835 - (1.015 * asl) - (84.6 * aspw), nan)
    out["flesch_kincaid_grade"] = np.where(ok, 0.39 * asl + 11.8 * aspw - 15.59, nan)
    # dependency distance (textdescriptives: dependency_distance), mean over sentences
    root = t.isin("DEP", ("ROOT",), normed=False)
    dist = np.where(root, 0, np.abs(t.column("HEAD").view(np.int64)))
    sid = np.cumsum(starts) - 1
    per_sent = np.bincount(sid, weights=dist, minlength=int(starts.sum())) / np.bincount(
        sid, minlength=int(starts.sum())
    )
    ddm = nan.copy()
    for k in np.flatnonzero(has_words).tolist():
        first = int(sid[t.start[k]])
        ddm[k] = np.mean(per_sent[first : first + int(n_sents[k])])
    out["dependency_distance_mean"] = ddm
    # POS proportions (textdescriptives: pos_proportions, use_pos=True, add_all_tags=True)
    code = {p: j for j, p in enumerate(POS_TAGS)}
    npos = len(POS_TAGS) + 1
    strs, inv = t.types("POS", normed=False)
    pos = np.asarray([code.get(s, len(POS_TAGS)) for s in strs], dtype=np.int64)[inv]
    table = np.bincount(t.doc_of * npos + pos, minlength=t.n_docs * npos).reshape(t.n_docs, npos)
    n_tok = np.where(has_words, t.n_tokens, 0)
    for j, p in enumerate(POS_TAGS):
        out[f"pos_prop_{p}"] = ratio(table[:, j], n_tok)
    return out
