"""The ``features`` measure: per-turn linguistic features (columns :data:`VALUE_COLUMNS`),
language style matching and reflective overlap; :func:`session_lsm` per session.

Words and content lemmas are :mod:`therapy_turns.schema`'s; rates "per 100 words" divide by the
word count. Word lists and patterns are ``lexicons/*.yaml`` (matched lower-cased with straight
apostrophes; ``word*`` a prefix; multi-word entries token sequences; overlapping matches count
once, longest first). Turns without words: counts 0, every rate, share, readability, syntax,
``lsm`` and ``reflect_overlap`` NaN. Readability, dependency distance and POS shares follow
textdescriptives 2.8.2 (:mod:`measures.syntax`). Markers and questions are computed for every
turn (analyses read markers on patient rows, questions on therapist rows); ``lsm`` and
``reflect_overlap`` apply to therapist turns only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from spacy.tokens import Doc

from therapy_turns.measures.lexicons import MARKERS, Lexicons, lexicons
from therapy_turns.measures.questions import quote_mask, sentence_question_type
from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.measures.syntax import POS_TAGS, READABILITY_MIN_WORDS, syntax_columns
from therapy_turns.measures.views import Tokens, morph_tense, ratio
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import (
    CONTENT_MIN_CHARS,
    CONTENT_POS,
    KEYS,
    PATIENT,
    SPEAKERS,
    THERAPIST,
)

log = logging.getLogger(__name__)

LSM_CATEGORIES = tuple("ppron ipron article prep auxverb adverb conj negate quant".split())
MATTR_WINDOW = 50
#: Turns whose tokens :func:`compute_features` handles in one set of array operations.
BLOCK_TURNS = 4096

#: LSM category -> the rate column it reads (negate is the ``negations`` column: one word list)
LSM_RATES: dict[str, str] = {c: "negations" if c == "negate" else f"fw_{c}" for c in LSM_CATEGORIES}

#: The value columns of the table: name, meaning, unit, speakers (data/feature_columns.yaml).
VALUE_COLUMNS: tuple[Column, ...] = tuple(
    Column(
        name,
        meaning.format(min_words=READABILITY_MIN_WORDS, window=MATTR_WINDOW),
        unit,
        *([tuple(rest[0])] if rest else []),
    )
    for name, (meaning, unit, *rest) in read_yaml(DATA_DIR / "feature_columns.yaml").items()
)
#: Output columns and their meaning (units in brackets), keys first.
COLUMNS: dict[str, str] = {
    "session_id": "session identifier (key)",
    "turn": "0-based turn index in the session (key)",
    "speaker": "patient or therapist (key)",
    **{c.name: f"{c.meaning} [{c.unit}]" for c in VALUE_COLUMNS},
}


# --------------------------------------------------------------------------- per-turn features
def mattr(words: Sequence[Any], window: int = MATTR_WINDOW) -> float:
    """Moving-average type-token ratio (Covington & McFall 2010); plain TTR if shorter."""
    n = len(words)
    if n == 0:
        return float("nan")
    if n <= window:
        return len(set(words)) / n
    counts: dict[Any, int] = {}
    for w in words[:window]:
        counts[w] = counts.get(w, 0) + 1
    total = len(counts)
    for i in range(window, n):
        new, old = words[i], words[i - window]
        counts[new] = counts.get(new, 0) + 1
        counts[old] -= 1
        if counts[old] == 0:
            del counts[old]
        total += len(counts)
    return total / ((n - window + 1) * window)


def _sentence_starts(t: Tokens, has_words: np.ndarray) -> np.ndarray:
    """Per token: does a sentence of ``doc.sents`` start there? Read from the sentence starts
    (as ``doc.sents``: the first token, then every ``SENT_START == 1``); a Doc with words whose
    sentences come from a user hook or are not annotated goes through ``doc.sents`` itself
    (which raises on unset boundaries, as before)."""
    starts = t.column("SENT_START") == 1
    first = t.start[:-1][t.n_tokens > 0]
    starts[first] = True
    for k in np.flatnonzero(has_words).tolist():
        doc = t.docs[k]
        if "sents" in doc.user_hooks or not doc.has_annotation("SENT_START"):
            lo = int(t.start[k])
            starts[lo : lo + len(doc)] = False
            starts[[lo + s.start for s in doc.sents]] = True
    return starts


def _tense_counts(t: Tokens, lex: Lexicons) -> dict[str, np.ndarray]:
    """Per Doc: past, present and future markers (see ``lexicons/tense.yaml``).

    Past/present: finite verbs (``VerbForm=Fin``) with ``Tense=Past``/``Tense=Pres``; future:
    a future modal (tag ``MD`` or none, lower-cased ``will/shall/'ll/wo``) or "going to"/
    "gonna" followed by a verb or auxiliary in the same Doc; the token right before "going to"
    (skipping one negator) is not counted (the finite "be" of "am going to").
    """
    n = len(t.arr)
    low = t.code("ORTH")
    codes = t.codes
    ends = t.start[t.doc_of + 1]  # one past the last token of each token's Doc
    verb = t.isin("POS", ("VERB", "AUX"), normed=False)
    negator = t.isin("ORTH", lex.negations)
    going = np.zeros(n, dtype=bool)
    rows = np.arange(n)
    for seq in lex.going_to:
        m = rows + len(seq) < ends
        for k, w in enumerate((*seq, None)):
            at = rows[m] + k
            m[m] &= verb[at] if w is None else low[at] == codes.get(w, -1)
        going |= m
    skip = np.zeros(n, dtype=bool)
    i = np.flatnonzero(going)
    first = t.start[t.doc_of[i]]
    j = i - 1
    j = np.where((j >= first) & negator[np.maximum(j, 0)], j - 1, j)
    skip[j[j >= first]] = True
    modal = ~skip & t.isin("ORTH", lex.future_modals) & t.isin("TAG", ("MD", ""), normed=False)
    rest = ~skip & ~modal
    inv, ids = pd.factorize(t.column("MORPH"))
    tense = [morph_tense(t.vocab, key) for key in ids.tolist()]
    past = np.asarray([f and x == "Past" for f, x in tense], dtype=bool)[inv]
    pres = np.asarray([f and x == "Pres" for f, x in tense], dtype=bool)[inv]
    return {
        "past": t.count(rest & past),
        "present": t.count(rest & pres),
        "future": t.count(going) + t.count(modal),
    }


def _certainty(t: Tokens, lex: Lexicons, starts: np.ndarray) -> np.ndarray:
    """Per Doc: certainty/absolutist matches not preceded by a negator within the window (in
    the same sentence; ``starts``: per token, does a sentence start there)."""
    counts, bounds = lex.certainty.matches(t, keep_bounds=True)
    negator = t.isin("ORTH", lex.negations)
    # per token, the first token of its sentence
    first = np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))
    for k, found in bounds.items():
        at = [int(t.start[k]) + start for start, _ in found]
        counts[k] = sum(not negator[max(i - lex.certainty_window, first[i]) : i].any() for i in at)
    return counts


def n_chars(t: Tokens) -> np.ndarray:
    """Per Doc: ``len(doc.text)``, from the offset, length and whitespace of its last token."""
    last = t.start[1:][t.n_tokens > 0] - 1
    strs, inv = t.types("ORTH", normed=False)
    size = np.fromiter(map(len, strs), np.int64, len(strs))[inv[last]]
    out = np.zeros(t.n_docs, dtype=np.int64)
    out[t.n_tokens > 0] = t.column("IDX")[last].astype(np.int64) + size + t.column("SPACY")[last]
    return out


def _features(t: Tokens, lex: Lexicons) -> dict[str, np.ndarray]:
    """Every single-turn column of :data:`COLUMNS` for the Docs of ``t`` (arrays, one value per
    Doc)."""
    low = t.code("ORTH")
    word = t.word
    nw = t.count(word)
    has = nw > 0

    def per100(k: np.ndarray) -> np.ndarray:
        return ratio(100 * k, nw)

    starts = _sentence_starts(t, has)
    n_sents = np.where(has, t.count(starts), 0)
    # distinct word forms per Doc: distinct (doc, code) pairs
    width = int(low.max()) + 1 if len(low) else 1
    pairs = np.unique(t.doc_of[word] * width + low[word])
    ttr = ratio(np.bincount(pairs // width, minlength=t.n_docs), nw)
    mattr_col = ttr.copy()
    words = low[word]
    wstart = np.concatenate([[0], np.cumsum(nw)])
    for k in np.flatnonzero(nw > MATTR_WINDOW).tolist():
        mattr_col[k] = mattr(words[wstart[k] : wstart[k + 1]].tolist())
    content = t.isin("POS", CONTENT_POS, normed=False)
    col: dict[str, np.ndarray] = {
        "n_chars": n_chars(t),
        "n_tokens": t.n_tokens,
        "n_words": nw,
        "n_sentences": n_sents,
        "mean_sentence_length": ratio(nw, n_sents),
        "ttr": ttr,
        "mattr": mattr_col,
        "lexical_density": ratio(t.count(word & content), nw),
        **syntax_columns(t, starts, n_sents, has),
    }
    for name, vocab in lex.pronouns.items():
        col[name] = per100(t.count(word & t.isin("ORTH", vocab)))
    q = np.zeros((t.n_docs, 2), dtype=np.int64)  # open, closed
    first = np.flatnonzero(starts)  # sentence starts, then each Doc's sentences
    cut = np.searchsorted(first, t.start).tolist()
    views = t.views()
    for k in np.flatnonzero(has).tolist():
        v, lo, hi = views[k], int(t.start[k]), int(t.start[k + 1])
        ends = [*first[cut[k] : cut[k + 1]].tolist(), hi]
        quoted = quote_mask(v.doc, v.text)
        for a, b in zip(ends, ends[1:], strict=False):
            kind = sentence_question_type(v, a - lo, b - lo, quoted)
            if kind is not None:
                q[k, int(kind == "closed")] += 1
    col.update({"q_open": q[:, 0], "q_closed": q[:, 1], "q_total": q[:, 0] + q[:, 1]})
    col["hedges"] = per100(lex.hedges.matches(t)[0])
    col["certainty"] = per100(_certainty(t, lex, starts))
    col["negations"] = per100(t.count(t.isin("ORTH", lex.negations)))
    col["modals"] = per100(t.count(t.isin("TAG", ("MD",), normed=False)))
    tc = _tense_counts(t, lex)
    tot = tc["past"] + tc["present"] + tc["future"]
    for k in ("past", "present", "future"):
        col[f"tense_{k}"] = ratio(tc[k], tot)
    for name, counter in lex.families.items():
        col[name] = per100(counter.matches(t)[0])
    for m in MARKERS:
        col[f"marker_{m}"] = lex.markers[m].matches(t)[0]
    for cat, name in LSM_RATES.items():
        if name != f"fw_{cat}":
            continue
        spec = lex.function_words[cat]
        hits = (
            t.isin("POS", (spec,), normed=False) if isinstance(spec, str) else t.isin("ORTH", spec)
        )
        col[name] = per100(t.count(hits))
    return col


def _content_lemmas(t: Tokens, docs: Iterable[int]) -> dict[int, set[int]]:
    """Codes (:meth:`Tokens.code`) of the content lemmas (:func:`therapy_turns.schema.
    content_lemmas`: same tokens, same lemmas; checked in the tests) per Doc in ``docs``."""
    mask = (
        t.isin("POS", CONTENT_POS, normed=False)
        & ~t.flag("IS_STOP")
        & t.flag("IS_ALPHA")
        & t.where("ORTH", lambda s: len(s) >= CONTENT_MIN_CHARS, normed=False)
    )
    value = np.where(t.isin("LEMMA", ("",)), t.code("ORTH"), t.code("LEMMA"))
    return {
        k: set(value[t.start[k] : t.start[k + 1]][mask[t.start[k] : t.start[k + 1]]].tolist())
        for k in docs
    }


def lsm(
    rates_a: Mapping[str, float],
    rates_b: Mapping[str, float],
    columns: Sequence[str] = tuple(LSM_RATES.values()),
) -> float:
    """Language style matching of two speakers (Ireland & Pennebaker 2010).

    Per category ``1 - |a - b| / (a + b + 0.0001)`` on rates per 100 words, averaged over the
    categories (``columns``: the rate column of each, :data:`LSM_RATES`). NaN if any rate is
    missing (a speaker with no words).
    """
    scores = []
    for c in columns:
        a, b = rates_a[c], rates_b[c]
        if a is None or b is None or np.isnan(a) or np.isnan(b):
            return float("nan")
        scores.append(1 - abs(a - b) / (a + b + 0.0001))
    return float(np.mean(scores))


def reflect_overlap(therapist: set[Any], patient: set[Any]) -> float:
    """Share of the therapist's content-lemma types that occur in the patient's turn."""
    return len(therapist & patient) / len(therapist) if therapist else float("nan")


def turn_features(doc: Doc, lex: Lexicons | None = None) -> dict[str, float]:
    """The single-turn features of one Doc (:data:`COLUMNS` but keys, ``lsm``,
    ``reflect_overlap``)."""
    return {c: v[0].item() for c, v in _features(Tokens([doc]), lex or lexicons()).items()}


def syntax_features(doc: Doc) -> dict[str, float]:
    """Flesch reading ease, Flesch-Kincaid grade, mean dependency distance and POS proportions
    of a Doc (textdescriptives 2.8.2's definitions, :mod:`measures.syntax`)."""
    row = turn_features(doc)
    names = ["flesch_reading_ease", "flesch_kincaid_grade", "dependency_distance_mean"]
    return {c: row[c] for c in [*names, *(f"pos_prop_{t}" for t in POS_TAGS)]}


def compute_features(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per turn: keys and :data:`COLUMNS` (``docs[i]``: the parse of
    ``turns.text.iloc[i]``). ``lsm`` and ``reflect_overlap`` are filled on therapist rows whose
    previous turn (by ``turn`` within the session) is a patient turn, both with words. Docs are
    processed in blocks of :data:`BLOCK_TURNS` (one vocab each) with array operations."""
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    lex, n = lexicons(), len(docs)
    sid, spk = turns["session_id"].to_numpy(), turns["speaker"].to_numpy()
    order = np.lexsort((turns["turn"].to_numpy(), sid.astype(str))).tolist()
    pairs = [
        (a, b)
        for a, b in zip(order[:-1], order[1:], strict=True)
        if sid[a] == sid[b] and spk[a] == PATIENT and spk[b] == THERAPIST
    ]
    need = np.zeros(n, dtype=bool)
    need[[i for pair in pairs for i in pair]] = True
    parts: list[dict[str, np.ndarray]] = []
    lemmas: dict[int, set[int]] = {}
    codes: dict[str, int] = {}  # one string coding for every block, so lemma codes compare
    lo = 0
    while lo < n:
        hi = next(
            (i for i in range(lo, min(n, lo + BLOCK_TURNS)) if docs[i].vocab is not docs[lo].vocab),
            min(n, lo + BLOCK_TURNS),
        )
        t = Tokens(docs[lo:hi], codes)
        parts.append(_features(t, lex))
        lemmas.update(
            {lo + k: v for k, v in _content_lemmas(t, np.flatnonzero(need[lo:hi]).tolist()).items()}
        )
        lo = hi
    cols = (
        {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
        if parts
        else {c: np.zeros(0) for c in COLUMNS if c not in (*KEYS, "lsm", "reflect_overlap")}
    )
    cols["lsm"], cols["reflect_overlap"] = np.full(n, np.nan), np.full(n, np.nan)
    fw = list(LSM_RATES.values())
    for a, b in pairs:
        if cols["n_words"][a] and cols["n_words"][b]:
            cols["lsm"][b] = lsm({c: cols[c][a] for c in fw}, {c: cols[c][b] for c in fw})
            cols["reflect_overlap"][b] = reflect_overlap(lemmas[b], lemmas[a])
    out = pd.concat([turns[KEYS], pd.DataFrame(cols, index=turns.index)], axis=1)
    out = out.reset_index(drop=True)[list(COLUMNS)]
    ints = [c for c in out.columns if c.startswith(("n_", "q_", "marker_"))]
    return out.astype(dict.fromkeys(ints, "int64"))


DESCRIPTION = "per-turn linguistic features (size, diversity, readability, syntax, pronouns, "
DESCRIPTION += "questions, word lists, markers, LSM, reflective overlap)"
MEASURE = register(Measure("features", compute_features, DESCRIPTION, VALUE_COLUMNS))


def session_lsm(features: pd.DataFrame) -> pd.DataFrame:
    """Per session: ``lsm_pooled`` (LSM of each speaker's word-weighted category rates over the
    session), ``lsm_pair_mean`` (mean of ``lsm``), ``n_pairs`` and the speakers' word counts.
    Apply the exclusion policy to ``features`` first."""
    out = []
    fw = list(LSM_RATES.values())
    for sid, g in features.groupby("session_id", sort=True):
        rates, words = {}, {}
        for spk in SPEAKERS:
            s = g[(g["speaker"] == spk) & (g["n_words"] > 0)]
            words[spk] = int(s["n_words"].sum())
            weighted = s[fw].mul(s["n_words"], axis=0).sum() / words[spk] if words[spk] else None
            rates[spk] = {c: float(weighted[c]) if words[spk] else np.nan for c in fw}
        pooled = lsm(rates["patient"], rates["therapist"])
        pairs = (float(g["lsm"].mean()), int(g["lsm"].notna().sum()))
        out.append((sid, pooled, *pairs, words["patient"], words["therapist"]))
    names = ["lsm_pooled", "lsm_pair_mean", "n_pairs", "n_words_patient", "n_words_therapist"]
    return pd.DataFrame(out, columns=["session_id", *names])
