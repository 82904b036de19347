"""The ``features`` measure, the question detector shared with techniques, :func:`session_lsm`."""

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from pyphen import Pyphen
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, MorphAnalysis
from spacy.util import filter_spans
from spacy.vocab import Vocab

from therapy_turns import schema
from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.measures.views import DocView, Tokens, norm, ratio
from therapy_turns.paths import DATA_DIR, LEXICON_DIR, read_yaml
from therapy_turns.schema import KEYS, PATIENT, SPEAKERS, THERAPIST, phrase_docs

FAMILIES = {"body_words": "body_sensation", "cognitive_words": "cognitive_process"}
FAMILIES["feeling_words"] = "feeling"
MARKERS = ("skeptic", "slow_down", "vague", "catastrophic", "intellectualising")
_SUBJECT_POS = {"PRON", "PROPN", "NOUN", "DET"}


@lru_cache(maxsize=32)
def load_lexicon(name: str) -> dict[str, Any]:
    """The parsed YAML file ``lexicons/<name>.yaml``."""
    return read_yaml(LEXICON_DIR / f"{name}.yaml")


def words(values: Iterable[Any]) -> frozenset[str]:
    """Word-list entries as tokens are compared with them (:func:`views.norm`)."""
    return frozenset(norm(str(v)) for v in values)


@dataclass(eq=False)
class PhraseCounter:
    """Matches of word-list ``entries`` (words, ``w*`` prefixes, phrases) and ``patterns``, once."""

    entries: Sequence[str]
    patterns: Sequence[list[dict[str, Any]]] = ()
    use_lemma: bool = True
    exclude_after: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        entries = [norm(str(e)).strip() for e in self.entries]
        self.prefixes = tuple(e[:-1] for e in entries if e.endswith("*") and " " not in e)
        docs = phrase_docs(e for e in entries if " " in e or not e.endswith("*"))
        self.words = {d.text for d in docs if len(d) == 1}
        self.phrases = [d for d in docs if len(d) > 1]  # straight and curly apostrophes
        self.openers = {d[0].text for d in self.phrases}
        self.exclude = {norm(k): words(v) for k, v in self.exclude_after.items()}
        # the Matcher runs only on the Docs holding a word a pattern starts with
        if any(set(p[0]) != {"LOWER"} for p in self.patterns):
            raise ValueError(f"patterns must start with a LOWER word or IN list: {self.patterns}")
        first = [p[0]["LOWER"] for p in self.patterns]
        self.first_words = {w for v in first for w in ([v] if isinstance(v, str) else v["IN"])}
        self._matchers: dict[Vocab, tuple[PhraseMatcher, Matcher]] = {}

    def matches(self, t: Tokens, keep_bounds: bool = False) -> tuple[np.ndarray, dict]:
        """Per Doc of ``t``: number of matches (``keep_bounds``: also ``{k: [(start, end)]}``)."""
        hit = t.isin("ORTH", self.words)
        if self.use_lemma:
            hit |= t.isin("LEMMA", self.words - {""})
        if self.prefixes:
            hit |= t.where("ORTH", lambda s: s.startswith(self.prefixes)) & ~t.flag("IS_PUNCT")
        counts, bounds = t.count(hit), {}
        if not t.n_docs:
            return counts, bounds
        if t.vocab not in self._matchers:  # (PhraseMatcher, Matcher) of the vocab
            pm, m = PhraseMatcher(t.vocab, attr="LOWER"), Matcher(t.vocab)
            pm.add("P", self.phrases)
            m.add("M", [list(p) for p in self.patterns])
            self._matchers[t.vocab] = (pm, m)
        phrases, patterns = self._matchers[t.vocab]
        # Docs that may hold a phrase or pattern, or whose word hits are filtered or kept
        first = t.count(t.isin("LOWER", self.first_words, normed=False)) > 0
        todo = first | (t.count(t.isin("LOWER", self.openers, normed=False)) > 0)
        todo |= (t.count(hit) > 0) & bool(self.exclude or keep_bounds)
        for k, local in t.positions(hit, todo):
            doc = t.docs[k]
            found = [doc[i : i + 1] for i in local]
            found += phrases(doc, as_spans=True) if self.phrases else []
            found += patterns(doc, as_spans=True) if first[k] else []
            if self.exclude:  # drop a phrase right after one of its excluded words
                before = [norm(doc[s.start - 1].text) if s.start else None for s in found]
                after = [self.exclude.get(norm(s.text), ()) for s in found]
                found = [s for s, b, a in zip(found, before, after, strict=True) if b not in a]
            kept = [(s.start, s.end) for s in filter_spans(found)]
            counts[k] = len(kept)
            if kept and keep_bounds:
                bounds[k] = kept
        return counts, bounds


@lru_cache(maxsize=1)
def lexicons() -> tuple[dict[str, frozenset[str] | str], dict[str, PhraseCounter]]:
    """Per column: the word list (or POS) of a rate per 100 words, or its :class:`PhraseCounter`."""
    fw = load_lexicon("function_words")["categories"].items()
    rates = {k: words(v) for k, v in load_lexicon("pronouns")["categories"].items()}
    rates |= {f"fw_{c}": v["pos"] if isinstance(v, dict) else words(v) for c, v in fw}
    rates["negations"] = words(load_lexicon("negations")["entries"])
    hedges, markers = load_lexicon("hedges"), load_lexicon("markers")["markers"]
    out = {"hedges": PhraseCounter(hedges["entries"], (), False, hedges.get("exclude_after", {}))}
    out["certainty"] = PhraseCounter(load_lexicon("certainty")["entries"], use_lemma=False)
    out |= {col: PhraseCounter(load_lexicon(name)["entries"]) for col, name in FAMILIES.items()}
    for m, spec in ((m, markers[m]) for m in MARKERS):
        out[f"marker_{m}"] = PhraseCounter(spec.get("phrases", ()), spec.get("patterns", ()), False)
    return rates, out


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    """The question detector's word lists (``lexicons/questions.yaml``) as lower-case sets."""
    raw = load_lexicon("questions")
    lex: dict[str, Any] = {k: {norm(w) for w in v} for k, v in raw.items()}
    rhetorical = "|".join(re.escape(norm(p)) for p in sorted(raw["rhetorical"]))
    lex["rhetorical_re"] = re.compile(rf"\b(?:{rhetorical})\b")
    lex["open_prompt_seqs"] = sorted(tuple(norm(p).split()) for p in raw["open_prompts"])
    lex["quotes"] = lex["quotes_open"] | lex["quotes_close"] | lex["quotes_toggle"]
    return lex


def quote_mask(texts: Sequence[str]) -> list[bool]:
    """Per token (its text of ``texts``): inside quotation marks, quotes included?"""
    lex = lexicon()
    if lex["quotes"].isdisjoint(texts):
        return [False] * len(texts)
    depth, toggle, inside = 0, False, []
    for t in texts:
        depth += (t in lex["quotes_open"]) - (depth > 0 and t in lex["quotes_close"])
        toggle ^= t in lex["quotes_toggle"]
        inside.append(t in lex["quotes"] or depth > 0 or toggle)
    return inside


def _clause_heads(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> Iterator[int]:
    """The first unquoted, non-punctuation, non-marker token of each clause."""
    lex, need_head = lexicon(), True
    markers, bounds = lex["discourse_markers"], lex["boundaries"]
    for i in range(start, end):
        if v.text[i] in bounds and not quoted[i]:
            need_head = True
        elif need_head and not (quoted[i] or v.punct[i] or v.space[i] or v.low[i] in markers):
            need_head = False
            yield i


def _starts_open_prompt(v: DocView, head: int) -> bool:
    seqs = lexicon()["open_prompt_seqs"]
    return any(tuple(v.low[head : head + len(s)]) == s for s in seqs if s[0] == v.low[head])


def sentence_question_type(v: DocView, start: int, end: int, quoted: Sequence[bool]) -> str | None:
    """``open``, ``closed`` or None (no, quoted or rhetorical question) of ``start:end``."""
    lex = lexicon()
    marks = (i for i in range(start, end) if v.text[i].endswith("?") and not quoted[i])
    qmark = max(marks, default=None)
    if qmark is None:  # only an elicitation opener ("Tell me more.") makes a question
        head = next(_clause_heads(v, start, end, quoted), None)
        return "open" if head is not None and _starts_open_prompt(v, head) else None
    said = norm(" ".join(v.text[i] for i in range(start, qmark) if not quoted[i]))
    if lex["rhetorical_re"].search(said.replace(" n't", "n't").replace(" 's", "'s")):
        return None
    heads = list(_clause_heads(v, start, qmark, quoted))
    weak = False
    for head in reversed(heads):  # the last decisive clause head wins
        w = v.low[head]
        if w in lex["wh_words"]:
            if w not in lex["weak_wh"]:
                return "open"
            weak = True
        elif w in lex["auxiliaries"]:
            j = head + 1 + (head + 1 < len(v.low) and v.low[head + 1] in ("n't", "not"))
            if j < len(v.low) and (v.low[j] in lex["subject_words"] or v.pos[j] in _SUBJECT_POS):
                elicits = any(x in lex["elicitation_verbs"] for x in v.low[head + 1 : head + 4])
                return "open" if elicits else "closed"  # an inverted auxiliary
    return "open" if weak or (heads and _starts_open_prompt(v, heads[0])) else "closed"


LSM_CATEGORIES = tuple("ppron ipron article prep auxverb adverb conj negate quant".split())
#: LSM category -> its rate column (negate is the ``negations`` column: one word list)
LSM_RATES = {c: "negations" if c == "negate" else f"fw_{c}" for c in LSM_CATEGORIES}
MATTR_WINDOW = 50
#: Flesch scores are undefined (NaN) below this many words (one long word would score -218)
READABILITY_MIN_WORDS = 10
#: POS proportions reported (textdescriptives ``pos_prop_*``; denominator: all tokens)
POS_TAGS = tuple("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ VERB".split())
#: Turns whose tokens :func:`compute_features` handles in one set of array operations
BLOCK_TURNS = 4096

_FILL = {"min_words": READABILITY_MIN_WORDS, "window": MATTR_WINDOW}
VALUE_COLUMNS = tuple(
    Column(name, meaning.format(**_FILL), unit, *map(tuple, rest))
    for name, (meaning, unit, *rest) in read_yaml(DATA_DIR / "feature_columns.yaml").items()
)
COLUMNS = [*KEYS, *(c.name for c in VALUE_COLUMNS)]


@lru_cache(maxsize=65536)
def syllables(word: str, lang: str = "en") -> int:
    """Pyphen's hyphenation points + 1 (as textdescriptives counts syllables)."""
    return Pyphen(lang=lang).inserted(word).count("-") + 1


def mattr(words: np.ndarray, doc_of: np.ndarray, n_docs: int, window: int = MATTR_WINDOW):
    """Per Doc: type-token ratio and MATTR (Covington & McFall 2010) of its word codes."""
    n = np.bincount(doc_of, minlength=n_docs)
    i = np.arange(len(words)) - np.concatenate([[0], np.cumsum(n)])[doc_of]  # position in Doc
    order = np.lexsort((i, words, doc_of))
    same = (doc_of[order[1:]] == doc_of[order[:-1]]) & (words[order[1:]] == words[order[:-1]])
    prev = np.full(len(words), -1)  # position of the word's previous occurrence in its Doc
    prev[order[1:][same]] = i[order[:-1][same]]
    # a word is new in the windows that start after its previous occurrence and hold it
    w = np.minimum(n, window)
    last, first = np.minimum(i, (n - w)[doc_of]), np.maximum(prev + 1, i - w[doc_of] + 1)
    new = np.bincount(doc_of, weights=np.maximum(last - first + 1, 0), minlength=n_docs)
    return ratio(np.bincount(doc_of[prev < 0], minlength=n_docs), n), ratio(new, (n - w + 1) * w)


def _tenses(t: Tokens, low: np.ndarray, negator: np.ndarray) -> list[np.ndarray]:
    """Per Doc: finite past and present verbs and future markers (``lexicons/tense.yaml``)."""
    tense, n = load_lexicon("tense"), len(t.arr)
    ends, rows = t.start[t.doc_of + 1], np.arange(n)
    verb, going = t.isin("POS", ("VERB", "AUX"), normed=False), np.zeros(n, dtype=bool)
    for seq in tense["going_to"]:
        m = rows + len(seq) < ends
        for k, w in enumerate((*seq, None)):
            at = rows[m] + k
            m[m] &= verb[at] if w is None else low[at] == t.codes.get(w, -1)
        going |= m
    i = np.flatnonzero(going)
    first, skip = t.start[t.doc_of[i]], np.zeros(n, dtype=bool)
    j = np.where((i - 1 >= first) & negator[np.maximum(i - 1, 0)], i - 2, i - 1)
    skip[j[j >= first]] = True
    modal = t.isin("ORTH", words(tense["future_modals"])) & t.isin("TAG", ("MD", ""), normed=False)
    modal &= ~skip
    inv, ids = pd.factorize(t.column("MORPH"))  # a finite verb's tense: Past, else Pres
    morphs = [MorphAnalysis.from_id(t.vocab, key) for key in ids.tolist()]
    tenses = [m.get("Tense") if "Fin" in m.get("VerbForm") else [] for m in morphs]
    past = np.array(["Past" in x for x in tenses], dtype=bool)
    pres = np.array(["Pres" in x for x in tenses], dtype=bool) & ~past
    rest, future = ~skip & ~modal, t.count(going) + t.count(modal)
    return [t.count(rest & x[inv]) for x in (past, pres)] + [future]


def _features(t: Tokens) -> dict[str, np.ndarray]:
    """Every single-turn column for the Docs of ``t`` (arrays, one value per Doc)."""
    rates, counters = lexicons()
    low, word, npos = t.code("ORTH"), t.word, len(POS_TAGS) + 1
    nw = t.count(word)
    has = nw > 0
    starts = t.column("SENT_START") == 1  # as ``doc.sents``: each Doc's first token, then these
    starts[t.start[:-1][t.n_tokens > 0]] = True
    n_sents = np.where(has, t.count(starts), 0)
    ttr, mattr_ = mattr(low[word], t.doc_of[word], t.n_docs)
    col = {"n_chars": np.array([len(d.text) for d in t.docs], np.int64), "n_tokens": t.n_tokens}
    col |= {"n_words": nw, "n_sentences": n_sents, "mean_sentence_length": ratio(nw, n_sents)}
    col |= {"ttr": ttr, "mattr": mattr_}
    content = t.isin("POS", schema.CONTENT_POS, normed=False)
    col["lexical_density"] = ratio(t.count(word & content), nw)
    # Flesch reading ease and grade (textdescriptives) over the words without punctuation or '
    keep = ~t.flag("IS_PUNCT") & ~t.where("ORTH", lambda s: "'" in s, normed=False)
    n_keep, lang = t.count(keep), t.docs[0].lang_ if t.docs else "en"
    lowers, inv = t.types("LOWER", normed=False)
    syl = np.asarray([syllables(w, lang) for w in lowers], dtype=np.int64)[inv]
    asl = ratio(n_keep, n_sents)
    aspw = ratio(np.bincount(t.doc_of[keep], weights=syl[keep], minlength=t.n_docs), n_keep)
    ok = has & (n_keep >= READABILITY_MIN_WORDS)
    col["flesch_reading_ease"] = np.where(ok, 206.835 - (1.015 * asl) - (84.6 * aspw), np.nan)
    col["flesch_kincaid_grade"] = np.where(ok, 0.39 * asl + 11.8 * aspw - 15.59, np.nan)
    # mean over sentences of the mean |head - token| (roots 0); POS shares of all tokens
    root = t.isin("DEP", ("ROOT",), normed=False)
    dist = np.where(root, 0, np.abs(t.column("HEAD").view(np.int64)))
    sent = np.cumsum(starts) - 1
    per_sent = np.bincount(sent, weights=dist) / np.bincount(sent)
    col["dependency_distance_mean"] = np.full(t.n_docs, np.nan)
    for k in np.flatnonzero(has).tolist():
        s = int(sent[t.start[k]])
        col["dependency_distance_mean"][k] = np.mean(per_sent[s : s + int(n_sents[k])])
    strs, inv = t.types("POS", normed=False)
    pos = pd.Index(POS_TAGS).get_indexer(strs)[inv] + 1  # 0: other tags
    table = np.bincount(t.doc_of * npos + pos, minlength=t.n_docs * npos).reshape(-1, npos)
    for j, p in enumerate(POS_TAGS, 1):
        col[f"pos_prop_{p}"] = ratio(table[:, j], np.where(has, t.n_tokens, 0))
    # rates of word lists, open and closed questions, tense shares
    for name, vocab in rates.items():
        hits = t.isin("POS", (vocab,), False) if isinstance(vocab, str) else t.isin("ORTH", vocab)
        col[name] = ratio(100 * t.count(hits), nw)
    q = np.zeros((t.n_docs, 2), dtype=np.int64)  # open, closed
    sent_at = np.flatnonzero(starts)
    cut, views = np.searchsorted(sent_at, t.start).tolist(), t.views()
    for k in np.flatnonzero(has).tolist():
        v, lo, hi = views[k], int(t.start[k]), int(t.start[k + 1])
        quoted, ends = quote_mask(v.text), [*sent_at[cut[k] : cut[k + 1]].tolist(), hi]
        kinds = [sentence_question_type(v, a - lo, b - lo, quoted) for a, b in pairwise(ends)]
        q[k] = kinds.count("open"), kinds.count("closed")
    col |= {"q_open": q[:, 0], "q_closed": q[:, 1], "q_total": q[:, 0] + q[:, 1]}
    col["modals"] = ratio(100 * t.count(t.isin("TAG", ("MD",), normed=False)), nw)
    negator = t.isin("ORTH", rates["negations"])
    tenses = _tenses(t, low, negator)
    for name, n in zip(("past", "present", "future"), tenses, strict=True):
        col[f"tense_{name}"] = ratio(n, sum(tenses))
    # phrase counts; certainty not preceded by a negator within the window in its sentence
    for name, counter in counters.items():
        n, bounds = counter.matches(t, keep_bounds=name == "certainty")
        if bounds:
            window = int(load_lexicon("certainty")["negation_window"])
            first = np.maximum.accumulate(np.where(starts, np.arange(len(starts)), 0))
            for k, found in bounds.items():
                at = [int(t.start[k]) + start for start, _ in found]
                n[k] = sum(not negator[max(i - window, first[i]) : i].any() for i in at)
        col[name] = n if name.startswith("marker_") else ratio(100 * n, nw)
    return col


def lsm(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> np.ndarray:
    """Language style matching (Ireland & Pennebaker 2010) of :data:`LSM_RATES` (last axis)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return np.mean(1 - np.abs(a - b) / (a + b + 0.0001), axis=-1)


def compute_features(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per turn (``docs[i]``: the parse of ``turns.text.iloc[i]``): the features."""
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    sid, spk, n = turns["session_id"].to_numpy(), turns["speaker"].to_numpy(), len(docs)
    order = np.lexsort((turns["turn"].to_numpy(), sid.astype(str)))
    blocks = range(0, max(n, 1), BLOCK_TURNS)
    parts = [_features(Tokens(docs[lo : lo + BLOCK_TURNS])) for lo in blocks]
    cols = {c: np.concatenate([x[c] for x in parts]) for c in parts[0]}
    cols["lsm"], cols["reflect_overlap"] = np.full(n, np.nan), np.full(n, np.nan)
    nw, p, th = cols["n_words"], order[:-1], order[1:]  # patient turn, then therapist turn
    pair = (sid[p] == sid[th]) & (spk[p] == PATIENT) & (spk[th] == THERAPIST)
    pair &= (nw[p] > 0) & (nw[th] > 0)
    p, th = p[pair], th[pair]
    rates = np.column_stack([cols[c] for c in LSM_RATES.values()])
    cols["lsm"][th] = lsm(rates[p], rates[th])
    for a, b in zip(p, th, strict=True):  # the share of the therapist's content lemmas said before
        if mine := schema.content_lemmas(docs[b]):
            cols["reflect_overlap"][b] = len(mine & schema.content_lemmas(docs[a])) / len(mine)
    out = pd.concat([turns[KEYS], pd.DataFrame(cols, index=turns.index)], axis=1)
    ints = [c for c in COLUMNS if c.startswith(("n_", "q_", "marker_"))]
    return out.reset_index(drop=True)[COLUMNS].astype(dict.fromkeys(ints, "int64"))


DESCRIPTION = "per-turn linguistic features (size, diversity, readability, syntax, pronouns, "
DESCRIPTION += "questions, word lists, markers, LSM, reflective overlap)"
MEASURE = register(Measure("features", compute_features, DESCRIPTION, VALUE_COLUMNS))


def session_lsm(features: pd.DataFrame) -> pd.DataFrame:
    """Per session: pooled and mean pairwise LSM, pairs and each speaker's words."""
    fw, out = list(LSM_RATES.values()), []
    for sid, g in features.groupby("session_id", sort=True):
        talk = [g[(g["speaker"] == s) & (g["n_words"] > 0)] for s in SPEAKERS]
        n = [int(x["n_words"].sum()) for x in talk]
        rates = [x[fw].mul(x["n_words"], axis=0).sum() / k for x, k in zip(talk, n, strict=True)]
        pair = (float(g["lsm"].mean()), int(g["lsm"].notna().sum()))
        out.append((sid, float(lsm(*rates)), *pair, *n))
    names = ["lsm_pooled", "lsm_pair_mean", "n_pairs", "n_words_patient", "n_words_therapist"]
    return pd.DataFrame(out, columns=["session_id", *names])
