"""Per-turn linguistic features, language style matching and reflection overlap.

:func:`compute_features` takes the turn table and the row-aligned spaCy Docs of its ``text``
(one parse, from the shared pipeline; nothing is re-parsed here) and returns one row per turn
keyed ``session_id, turn, speaker`` with the columns documented in :data:`COLUMNS`.
:func:`session_lsm` aggregates language style matching per session.

Conventions
-----------
- **Words** are tokens that are not punctuation or whitespace and are not a contraction clitic
  (``'m``, ``'ve``, ``n't`` ...): "I don't know." has 3 words (*I, do, know*). Rates "per 100
  words" divide by this count (the LIWC convention: a clitic adds to a category, not to the
  word count).
- Word lists and patterns are YAML files in ``lexicons/`` (each with its source/rationale);
  matching is on lower-cased text with curly apostrophes normalised; single-word entries also
  match the lemma where stated; a trailing ``*`` matches a prefix; multi-word entries match as
  token sequences; overlapping matches in one category count once (longest wins).
- **Empty turns** (no words, e.g. a generation error with empty ``text``): count columns are 0,
  rates, shares, readability, syntax, ``lsm`` and ``reflect_overlap`` are NaN.
- Readability (Flesch), dependency distance and POS proportions are textdescriptives 2.8.2's
  values, computed by :func:`syntax_features` with its formulas in one pass over the existing
  Doc (no re-parsing; the tests check equality with textdescriptives' own getters).
- Token attributes are read once per Doc (:class:`DocView`, from ``Doc.to_array``) and shared by
  every feature.
- Patient markers (``marker_*``) and questions are computed for every turn regardless of
  speaker; the analyses read markers on patient rows and questions on therapist rows.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import spacy
import yaml
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc, Span, Token
from tqdm.auto import tqdm

from .matching import PatternSet
from .questions import count_questions, quote_mask
from .views import DocView, norm

log = logging.getLogger(__name__)

LEXICON_DIR = Path(__file__).with_name("lexicons")
KEYS = ["session_id", "turn", "speaker"]
#: Coarse POS tags of content words (Universal Dependencies open classes; AUX excluded).
CONTENT_POS = frozenset({"NOUN", "PROPN", "VERB", "ADJ", "ADV"})
#: POS proportions reported (textdescriptives ``pos_prop_*``; denominator: all tokens).
POS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
            "PROPN", "PUNCT", "SCONJ", "VERB")
MARKERS = ("skeptic", "slow_down", "vague", "catastrophic", "intellectualising")
LSM_CATEGORIES = ("ppron", "ipron", "article", "prep", "auxverb", "adverb", "conj", "negate",
                  "quant")
MATTR_WINDOW = 50

#: Output columns and their meaning (units in brackets).
COLUMNS: dict[str, str] = {
    "session_id": "session identifier (key)",
    "turn": "0-based turn index in the session (key)",
    "speaker": "patient or therapist (key)",
    "n_chars": "characters of the turn text, spaces included [count]",
    "n_tokens": "spaCy tokens, punctuation included [count]",
    "n_words": "words: tokens minus punctuation, whitespace and clitics [count]",
    "n_sentences": "spaCy sentences [count]",
    "mean_sentence_length": "n_words / n_sentences [words]",
    "ttr": "type-token ratio of lower-cased words [0-1]",
    "mattr": f"moving-average TTR, window {MATTR_WINDOW} words (= ttr if shorter) [0-1]",
    "lexical_density": "share of words that are content words (NOUN/PROPN/VERB/ADJ/ADV) [0-1]",
    "flesch_reading_ease": "Flesch reading ease (textdescriptives) [higher = easier]",
    "flesch_kincaid_grade": "Flesch-Kincaid grade level (textdescriptives) [US grade]",
    "dependency_distance_mean": "mean dependency distance, mean over sentences (textdescriptives)",
    **{f"pos_prop_{t}": f"share of tokens tagged {t} (textdescriptives) [0-1]" for t in POS_TAGS},
    "pron_i": "first-person singular pronouns [per 100 words]",
    "pron_we": "first-person plural pronouns [per 100 words]",
    "pron_you": "second-person pronouns [per 100 words]",
    "pron_third": "third-person personal pronouns (he/she/they families) [per 100 words]",
    "q_open": "open questions (therapy_turns.questions) [count]",
    "q_closed": "closed questions (yes/no, tag, declarative) [count]",
    "q_total": "q_open + q_closed [count]",
    "hedges": "tentative/hedging expressions, lexicons/hedges.yaml [per 100 words]",
    "certainty": "certainty/absolutist words not under negation, certainty.yaml [per 100 words]",
    "negations": "negators, lexicons/negations.yaml [per 100 words]",
    "modals": "modal verbs (Penn tag MD) [per 100 words]",
    "tense_past": "share of tense markers that are past (finite Tense=Past) [0-1]",
    "tense_present": "share of tense markers that are present (finite Tense=Pres) [0-1]",
    "tense_future": "share of tense markers that are future (will/shall/'ll, going to) [0-1]",
    "body_words": "body-sensation words, lexicons/body_sensation.yaml [per 100 words]",
    "cognitive_words": "cognitive-process words, lexicons/cognitive_process.yaml [per 100 words]",
    "feeling_words": "feeling words, lexicons/feeling.yaml [per 100 words]",
    "marker_skeptic": "skeptical challenges ('how is that supposed to help', 'I've tried that')"
                      " [count]",
    "marker_slow_down": "requests to slow down or pause [count]",
    "marker_vague": "vague, non-committal expressions ('I don't know', 'I guess') [count]",
    "marker_catastrophic": "catastrophic / future-certain predictions [count]",
    "marker_intellectualising": "statistical/technical/analytic vocabulary [count]",
    **{f"fw_{c}": f"LSM function-word category {c}, function_words.yaml [per 100 words]"
       for c in LSM_CATEGORIES},
    "lsm": "language style matching with the previous turn; therapist rows that follow a "
           "patient turn only (Ireland & Pennebaker 2010) [0-1]",
    "reflect_overlap": "share of the therapist turn's content-lemma types that occur in the "
                       "previous patient turn; therapist rows after a patient turn only [0-1]",
}


# --------------------------------------------------------------------------- lexicons
@lru_cache(maxsize=32)
def load_lexicon(name: str) -> dict[str, Any]:
    """The parsed YAML file ``lexicons/<name>.yaml``."""
    path = LEXICON_DIR / f"{name}.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    return spacy.blank("en").tokenizer


@dataclass
class PhraseCounter:
    """Counts matches of a word/phrase list (and optional Matcher patterns) in a Doc.

    ``entries``: single words (lower-cased text, or lemma if ``use_lemma``), prefixes (``word*``)
    and multi-word phrases (token sequences, tokenised like spaCy's English tokenizer).
    ``exclude_after``: phrase -> words; a match of the phrase right after one of them is dropped.
    Overlapping matches count once (as :func:`spacy.util.filter_spans`: longest first).
    """

    entries: Sequence[str]
    patterns: Sequence[list[dict[str, Any]]] = ()
    use_lemma: bool = True
    exclude_after: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.words: set[str] = set()
        self.prefixes: tuple[str, ...] = ()
        self.phrases: list[list[str]] = []
        prefixes = []
        for raw in self.entries:
            e = norm(str(raw)).strip()
            if e.endswith("*") and " " not in e:
                prefixes.append(e[:-1])
                continue
            toks = [t.text for t in _tokenizer()(e)]
            if len(toks) == 1:
                self.words.add(toks[0])
            else:
                self.phrases.append(toks)
        self.prefixes = tuple(sorted(prefixes))
        self._exclude = {norm(k): {norm(w) for w in v} for k, v in self.exclude_after.items()}
        self._matchers: dict[int, tuple[Any, PhraseMatcher | None, PatternSet | None]] = {}

    def _matchers_for(self, doc: Doc) -> tuple[PhraseMatcher | None, PatternSet | None]:
        key = id(doc.vocab)
        if key not in self._matchers:
            pm = None
            if self.phrases:
                pm = PhraseMatcher(doc.vocab, attr="LOWER")
                variants = []
                for toks in self.phrases:
                    variants.append(toks)
                    curly = [t.replace("'", "’") for t in toks]
                    if curly != toks:
                        variants.append(curly)
                pm.add("P", [Doc(doc.vocab, words=v) for v in variants])
            m = PatternSet(doc.vocab, [("M", list(p)) for p in self.patterns]) \
                if self.patterns else None
            self._matchers[key] = (doc.vocab, pm, m)
        return self._matchers[key][1], self._matchers[key][2]

    def _word_hits(self, view: DocView) -> list[int]:
        words, prefixes = self.words, self.prefixes
        # the word types of the Doc that can hit (set operations over types, not tokens)
        low_hit = view.low_types & words
        lemma_hit = (view.lemma_types & words) - {""} if self.use_lemma else set()
        prefix_hit = {w for w in view.low_types if w.startswith(prefixes)} if prefixes else set()
        if not (low_hit or lemma_hit or prefix_hit):
            return []
        lemma, punct = view.lemma, view.punct
        return [i for i, low in enumerate(view.low)
                if low in low_hit or lemma[i] in lemma_hit
                or (low in prefix_hit and not punct[i])]

    def bounds(self, view: DocView) -> list[tuple[int, int]]:
        """``(start, end)`` of the non-overlapping matches in the Doc of ``view``, in order."""
        doc = view.doc
        if len(doc) == 0:
            return []
        found = [(i, i + 1) for i in self._word_hits(view)]
        pm, m = self._matchers_for(doc)
        if pm is not None:
            found += [(s, e) for _, s, e in pm(doc)]
        if m is not None:
            found += [(s, e) for _, s, e in m(doc, view.match_attrs, view.lower_types)]
        if self._exclude:
            kept = []
            for s, e in found:
                if s > 0:
                    after = self._exclude.get(norm(view.span_text(s, e)))
                    if after is not None and view.low[s - 1] in after:
                        continue
                kept.append((s, e))
            found = kept
        return _filter_bounds(found)

    def spans(self, doc: Doc) -> list[Span]:
        """Non-overlapping matched spans, in document order."""
        return [doc[s:e] for s, e in self.bounds(DocView.of(doc))]

    def count(self, doc: Doc | DocView) -> int:
        """Number of non-overlapping matches in ``doc``."""
        return len(self.bounds(doc if isinstance(doc, DocView) else DocView.of(doc)))


def _filter_bounds(found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """:func:`spacy.util.filter_spans` on ``(start, end)`` pairs (longest, then first, wins)."""
    if len(found) < 2:
        return found
    result = []
    seen: set[int] = set()
    for s, e in sorted(found, key=lambda b: (b[1] - b[0], -b[0]), reverse=True):
        if s not in seen and e - 1 not in seen:
            result.append((s, e))
            seen.update(range(s, e))
    return sorted(result)


@dataclass
class Lexicons:
    """Every word list and pattern set the features use, loaded from ``lexicons/*.yaml``."""

    pronouns: dict[str, frozenset[str]]
    function_words: dict[str, frozenset[str] | str]
    hedges: PhraseCounter
    certainty: PhraseCounter
    certainty_window: int
    negations: frozenset[str]
    future_modals: frozenset[str]
    going_to: tuple[tuple[str, ...], ...]
    families: dict[str, PhraseCounter]
    markers: dict[str, PhraseCounter]


def _words(values: Iterable[Any]) -> frozenset[str]:
    return frozenset(norm(str(v)) for v in values)


@lru_cache(maxsize=1)
def lexicons() -> Lexicons:
    """Load (once) every lexicon file into matchers and word sets."""
    fw: dict[str, frozenset[str] | str] = {}
    for cat, val in load_lexicon("function_words")["categories"].items():
        fw[cat] = val["pos"] if isinstance(val, dict) else _words(val)
    hed = load_lexicon("hedges")
    cert = load_lexicon("certainty")
    tense = load_lexicon("tense")
    markers = load_lexicon("markers")["markers"]
    return Lexicons(
        pronouns={k: _words(v) for k, v in load_lexicon("pronouns")["categories"].items()},
        function_words=fw,
        hedges=PhraseCounter(hed["entries"], use_lemma=False,
                             exclude_after=hed.get("exclude_after", {})),
        certainty=PhraseCounter(cert["entries"], use_lemma=False),
        certainty_window=int(cert["negation_window"]),
        negations=_words(load_lexicon("negations")["entries"]),
        future_modals=_words(tense["future_modals"]),
        going_to=tuple(tuple(norm(w) for w in seq) for seq in tense["going_to"]),
        families={col: PhraseCounter(load_lexicon(name)["entries"]) for col, name in (
            ("body_words", "body_sensation"), ("cognitive_words", "cognitive_process"),
            ("feeling_words", "feeling"))},
        markers={m: PhraseCounter(markers[m].get("phrases", []), markers[m].get("patterns", []),
                                  use_lemma=False) for m in MARKERS},
    )


# --------------------------------------------------------------------------- textdescriptives
@lru_cache(maxsize=1)
def _textdescriptives() -> None:
    """Register the textdescriptives 2.8.2 Doc extensions (getters over the existing parse).

    The feature table does not call them (see :func:`syntax_features`, which computes the same
    values in one pass); they are registered for comparison and ad-hoc use. The component
    classes are instantiated directly on a blank English ``Language`` (their factories insist on
    a tagger in the pipeline they are added to; our Docs were tagged by the shared pipeline).
    """
    from textdescriptives.components.dependency_distance import DependencyDistance
    from textdescriptives.components.descriptive_stats import DescriptiveStatistics
    from textdescriptives.components.pos_proportions import POSProportions
    from textdescriptives.components.readability import Readability

    nlp = spacy.blank("en")
    DescriptiveStatistics(nlp, verbose=False)
    Readability(nlp)
    DependencyDistance(nlp)
    POSProportions(nlp, use_pos=True, add_all_tags=True)


@lru_cache(maxsize=4)
def _hyphenator(lang: str) -> tuple[Any, dict[str, int]]:
    """Pyphen for ``lang`` and a memo of syllable counts (word -> count, as textdescriptives
    counts them: hyphenation points + 1, at least 1)."""
    from pyphen import Pyphen

    return Pyphen(lang=lang), {}


def syntax_features(doc: Doc, sents: Sequence[Span] | None = None,
                    view: DocView | None = None) -> dict[str, float]:
    """Flesch reading ease, Flesch-Kincaid grade, mean dependency distance and POS proportions.

    The same values as textdescriptives 2.8.2 (``doc._.readability``,
    ``doc._.dependency_distance``, ``doc._.pos_proportions``; checked equal in the tests) by the
    same formulas, but computed in one pass over the Doc: textdescriptives' getters compute
    every readability index and re-read the Doc several times for each. Words for readability
    are textdescriptives' (tokens that are not punctuation and hold no apostrophe); syllables
    come from Pyphen for ``doc.lang_``; dependency distance is ``|head.i - i|`` (0 for the root)
    averaged per sentence, then over sentences; POS shares divide by all tokens.
    """
    view = view or DocView.of(doc)
    sents = list(doc.sents) if sents is None else sents
    n = len(doc)
    out: dict[str, float] = {}
    # readability (textdescriptives: descriptive_stats + readability)
    keep = [not p and "'" not in t for p, t in zip(view.punct, view.text, strict=True)]
    sent_len = [sum(keep[s.start:s.end]) for s in sents]
    dic, cache = _hyphenator(doc.lang_)
    words = [w for w, k in zip(view.lower, keep, strict=True) if k]
    for w in set(words).difference(cache):
        cache[w] = max(1, dic.inserted(w).count("-") + 1)
    syl = list(map(cache.__getitem__, words))
    asl = np.mean(sent_len) if sent_len else np.nan
    aspw = np.mean(syl) if syl else np.nan
    if asl == 0 or aspw == 0:
        out["flesch_reading_ease"] = out["flesch_kincaid_grade"] = np.nan
    else:
        out["flesch_reading_ease"] = float(206.835 - (1.015 * asl) - (84.6 * aspw))
        out["flesch_kincaid_grade"] = float(0.39 * asl + 11.8 * aspw - 15.59)
    # dependency distance (textdescriptives: dependency_distance)
    if n == 0:
        out["dependency_distance_mean"] = np.nan
    else:
        dist = [0 if d == "ROOT" else abs(h) for h, d in zip(view.head.tolist(), view.dep,
                                                                 strict=True)]
        # per sentence: an integer sum over a count, exactly what np.mean gives for integers
        per_sent = [sum(dist[s.start:s.end]) / (s.end - s.start) for s in sents]
        out["dependency_distance_mean"] = float(np.mean(per_sent))
    # POS proportions (textdescriptives: pos_proportions, use_pos=True, add_all_tags=True)
    counts = Counter(view.pos)
    out.update({f"pos_prop_{t}": (counts.get(t, 0) / n if n else np.nan) for t in POS_TAGS})
    return out


# --------------------------------------------------------------------------- per-turn features
def is_word(tok: Token) -> bool:
    """A word token: not punctuation/whitespace and not a contraction clitic (``'m``, ``n't``)."""
    if tok.is_punct or tok.is_space:
        return False
    low = norm(tok.text)
    return not (low.startswith("'") or low == "n't")


def mattr(words: Sequence[str], window: int = MATTR_WINDOW) -> float:
    """Moving-average type-token ratio (Covington & McFall 2010); plain TTR if shorter."""
    n = len(words)
    if n == 0:
        return float("nan")
    if n <= window:
        return len(set(words)) / n
    counts: dict[str, int] = {}
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


def _view(doc: Doc | DocView) -> DocView:
    return doc if isinstance(doc, DocView) else DocView.of(doc)


def tense_counts(doc: Doc | DocView, lex: Lexicons | None = None) -> dict[str, int]:
    """Counts of past, present and future markers (see ``lexicons/tense.yaml``).

    Past/present: finite verbs (``VerbForm=Fin``) with ``Tense=Past``/``Tense=Pres``; future:
    a future modal (tag ``MD`` or lower-cased ``will/shall/'ll/wo``) or "going to"/"gonna"
    followed by a verb; the finite "be" right before "going to" (optionally with a negation in
    between) is not counted as present.
    """
    lex = lex or lexicons()
    v = _view(doc)
    counts = {"past": 0, "present": 0, "future": 0}
    skip: set[int] = set()
    lows, pos = v.low, v.pos
    n = len(lows)
    # a sequence can only match at a token equal to its first word
    firsts = {seq[0] for seq in lex.going_to} if all(lex.going_to) else None
    for i in range(n):
        if firsts is not None and lows[i] not in firsts:
            continue
        for seq in lex.going_to:
            end = i + len(seq)
            if end < n and tuple(lows[i:end]) == seq and pos[end] in ("VERB", "AUX"):
                counts["future"] += 1
                j = i - 1
                if j >= 0 and lows[j] in lex.negations:
                    j -= 1
                if j >= 0:
                    skip.add(j)
                break
    for i in range(n):
        if i in skip:
            continue
        if lows[i] in lex.future_modals and v.tag[i] in ("MD", ""):
            counts["future"] += 1
            continue
        finite, tense = v.tense(i)
        if not finite:
            continue
        if tense == "Past":
            counts["past"] += 1
        elif tense == "Pres":
            counts["present"] += 1
    return counts


def certainty_count(doc: Doc | DocView, lex: Lexicons | None = None) -> int:
    """Certainty/absolutist matches not preceded by a negator within the window (same sentence)."""
    lex = lex or lexicons()
    v = _view(doc)
    doc = v.doc
    n = 0
    has_sents = None
    for start, end in lex.certainty.bounds(v):
        if has_sents is None:
            has_sents = doc.has_annotation("SENT_START") or doc.has_annotation("DEP")
        sent_start = doc[start:end].sent.start if has_sents else 0
        lo = max(sent_start, start - lex.certainty_window)
        if any(w in lex.negations for w in v.low[lo:start]):
            continue
        n += 1
    return n


def function_word_rates(doc: Doc | DocView, n_words: int, lex: Lexicons | None = None
                        ) -> dict[str, float]:
    """Rates per 100 words of the nine LSM function-word categories (``fw_*``)."""
    lex = lex or lexicons()
    v = _view(doc)
    counts = dict.fromkeys(LSM_CATEGORIES, 0)
    by_pos, by_low = Counter(v.pos), Counter(v.low)
    for cat in LSM_CATEGORIES:
        spec = lex.function_words[cat]
        if isinstance(spec, str):
            counts[cat] = by_pos.get(spec, 0)
        else:
            counts[cat] = sum(c for w, c in by_low.items() if w in spec)
    return {f"fw_{c}": (100 * counts[c] / n_words if n_words else np.nan) for c in LSM_CATEGORIES}


def content_lemmas(doc: Doc | DocView) -> set[str]:
    """Lower-cased lemmas of content words (CONTENT_POS) that are not spaCy stop words."""
    v = _view(doc)
    return {v.lemma[i] or v.low[i] for i in range(len(v.low))
            if v.pos[i] in CONTENT_POS and not v.stop[i] and v.word[i]}


def lsm(rates_a: Mapping[str, float], rates_b: Mapping[str, float],
        categories: Sequence[str] = LSM_CATEGORIES, prefix: str = "fw_") -> float:
    """Language style matching of two speakers (Ireland & Pennebaker 2010).

    Per category ``1 - |a - b| / (a + b + 0.0001)`` on rates per 100 words, averaged over the
    categories. NaN if any rate is missing (a speaker with no words).
    """
    scores = []
    for c in categories:
        a, b = rates_a[prefix + c], rates_b[prefix + c]
        if a is None or b is None or np.isnan(a) or np.isnan(b):
            return float("nan")
        scores.append(1 - abs(a - b) / (a + b + 0.0001))
    return float(np.mean(scores))


def reflect_overlap(therapist: set[str], patient: set[str]) -> float:
    """Share of the therapist's content-lemma types that occur in the patient's turn."""
    return len(therapist & patient) / len(therapist) if therapist else float("nan")


def turn_features(doc: Doc, lex: Lexicons | None = None) -> dict[str, float]:
    """All single-turn features of one Doc (every column of :data:`COLUMNS` except keys and the
    between-speaker ``lsm``/``reflect_overlap``)."""
    return _turn_features(DocView.of(doc), lex or lexicons())


def _turn_features(v: DocView, lex: Lexicons) -> dict[str, float]:
    doc = v.doc
    lower = [w for w, ok in zip(v.low, v.word, strict=True) if ok]
    nw = len(lower)
    sents = list(doc.sents) if nw else []
    n_sents = len(sents)
    per100 = (lambda k: 100 * k / nw) if nw else (lambda k: np.nan)
    row: dict[str, float] = {
        "n_chars": len(v.doc_text), "n_tokens": len(doc), "n_words": nw, "n_sentences": n_sents,
        "mean_sentence_length": nw / n_sents if n_sents else np.nan,
        "ttr": len(set(lower)) / nw if nw else np.nan,
        "mattr": mattr(lower),
        "lexical_density": (sum(p in CONTENT_POS for p, ok in zip(v.pos, v.word, strict=True)
                                if ok) / nw if nw else np.nan),
    }
    if nw:
        row.update(syntax_features(doc, sents, v))
    else:
        row.update(dict.fromkeys(["flesch_reading_ease", "flesch_kincaid_grade",
                                  "dependency_distance_mean"], np.nan))
        row.update({f"pos_prop_{t}": np.nan for t in POS_TAGS})
    for col, vocab in lex.pronouns.items():
        row[col] = per100(sum(w in vocab for w in lower))
    q = count_questions(doc, sents, quote_mask(doc, v.text), v.text) if nw else {
        "open": 0, "closed": 0, "total": 0}
    row.update({"q_open": q["open"], "q_closed": q["closed"], "q_total": q["total"]})
    row["hedges"] = per100(lex.hedges.count(v))
    row["certainty"] = per100(certainty_count(v, lex))
    row["negations"] = per100(sum(w in lex.negations for w in v.low))
    row["modals"] = per100(sum(t == "MD" for t in v.tag))
    tc = tense_counts(v, lex)
    tot = sum(tc.values())
    for k in ("past", "present", "future"):
        row[f"tense_{k}"] = tc[k] / tot if tot else np.nan
    for col, counter in lex.families.items():
        row[col] = per100(counter.count(v))
    for m in MARKERS:
        row[f"marker_{m}"] = lex.markers[m].count(v)
    row.update(function_word_rates(v, nw, lex))
    return row


def compute_features(turns: pd.DataFrame, docs: Sequence[Doc], progress: bool = False
                     ) -> pd.DataFrame:
    """One row per turn: keys ``session_id, turn, speaker`` and the features of :data:`COLUMNS`.

    ``docs[i]`` must be the parse of ``turns.text.iloc[i]``. ``lsm`` and ``reflect_overlap`` are
    filled on therapist rows whose previous turn (by ``turn`` within the session) is a patient
    turn, both with words; NaN elsewhere.
    """
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    lex = lexicons()
    rows, lemmas = [], []
    for doc in tqdm(docs, desc="features", unit="turn", disable=not progress):
        v = DocView.of(doc)
        rows.append(_turn_features(v, lex))
        lemmas.append(content_lemmas(v))
    feats = pd.DataFrame(rows, index=turns.index)
    lsm_col = np.full(len(turns), np.nan)
    refl_col = np.full(len(turns), np.nan)
    sid = turns["session_id"].to_numpy()
    spk = turns["speaker"].to_numpy()
    order = np.lexsort((turns["turn"].to_numpy(), sid.astype(str)))
    for a, b in zip(order[:-1], order[1:], strict=True):  # a: previous turn of b
        if sid[a] == sid[b] and spk[a] == "patient" and spk[b] == "therapist" \
                and rows[a]["n_words"] and rows[b]["n_words"]:
            lsm_col[b] = lsm(rows[a], rows[b])
            refl_col[b] = reflect_overlap(lemmas[b], lemmas[a])
    feats["lsm"] = lsm_col
    feats["reflect_overlap"] = refl_col
    out = pd.concat([turns[KEYS], feats], axis=1).reset_index(drop=True)
    out = out[list(COLUMNS)]
    for c in out.columns:
        if c.startswith(("n_", "q_", "marker_")):
            out[c] = out[c].astype("int64")
    return out


def session_lsm(features: pd.DataFrame) -> pd.DataFrame:
    """Session-level language style matching of patient and therapist.

    ``lsm_pooled``: LSM of the word-weighted category rates over all of each speaker's turns in
    the session; ``lsm_pair_mean``: mean of the per-pair ``lsm`` column. Also the speakers' word
    counts and the number of pairs. Apply the exclusion policy to ``features`` first.
    """
    out = []
    fw = [f"fw_{c}" for c in LSM_CATEGORIES]
    for sid, g in features.groupby("session_id", sort=True):
        rates = {}
        words = {}
        for spk in ("patient", "therapist"):
            s = g[(g["speaker"] == spk) & (g["n_words"] > 0)]
            words[spk] = int(s["n_words"].sum())
            rates[spk] = {c: (float((s[c] * s["n_words"]).sum() / words[spk]) if words[spk]
                              else np.nan) for c in fw}
        out.append({"session_id": sid, "lsm_pooled": lsm(rates["patient"], rates["therapist"]),
                    "lsm_pair_mean": float(g["lsm"].mean()), "n_pairs": int(g["lsm"].notna().sum()),
                    "n_words_patient": words["patient"], "n_words_therapist": words["therapist"]})
    return pd.DataFrame(out)


# --------------------------------------------------------------------------- analysis helpers
POSITION_LABELS = ("early", "middle", "late")


def analysable_features(feats: pd.DataFrame, turns: pd.DataFrame,
                        exclude: Sequence[str] = ("generation_error", "missing_answer"),
                        n_bins: int = 3) -> pd.DataFrame:
    """Feature rows of the turns kept under the exclusion policy, with position columns.

    Adds ``position`` (turn / last turn index of the session, 0-1, computed before exclusion),
    ``segment`` (``n_bins`` equal position bins: early/middle/late for 3, else 1..n) and
    ``therapist`` (1.0 for therapist rows; the MixedLM speaker contrast, patient = reference).
    """
    from .transcripts import analysable

    last = turns.groupby("session_id")["turn"].transform("max").replace(0, 1)
    pos = turns[KEYS].assign(position=turns["turn"] / last)
    kept = analysable(turns, exclude)[KEYS]
    out = feats.merge(kept, on=KEYS, how="inner").merge(pos, on=KEYS, how="left")
    labels = list(POSITION_LABELS) if n_bins == 3 else [str(i + 1) for i in range(n_bins)]
    out["segment"] = pd.cut(out["position"], bins=np.linspace(0, 1, n_bins + 1),
                            labels=labels, include_lowest=True)
    out["therapist"] = (out["speaker"] == "therapist").astype(float)
    return out.sort_values(["session_id", "turn"], kind="stable").reset_index(drop=True)


def speaker_summary(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    """Median and interquartile range of ``cols`` by speaker (rows: feature)."""
    g = df.groupby("speaker")[list(cols)]
    med, q1, q3 = g.median().T, g.quantile(0.25).T, g.quantile(0.75).T
    out = pd.concat({"median": med, "q1": q1, "q3": q3}, axis=1)
    out.columns = [f"{spk}_{stat}" for stat, spk in out.columns]
    return out[sorted(out.columns, key=lambda c: (c.split("_")[0], ["median", "q1", "q3"].index(
        c.split("_")[1])))]


def marker_profile(df: pd.DataFrame, per: int = 1000) -> pd.DataFrame:
    """Patient markers per session: matches per ``per`` patient words, and patient word count."""
    p = df[df["speaker"] == "patient"]
    cols = [f"marker_{m}" for m in MARKERS]
    g = p.groupby("session_id", sort=True)
    words = g["n_words"].sum()
    rates = g[cols].sum().div(words.where(words > 0), axis=0) * per
    rates.columns = list(MARKERS)
    return rates.assign(patient_words=words).reset_index()


def marker_archetypes() -> dict[str, str]:
    """Marker -> the client archetype it is designed to pick out (``markers.yaml``)."""
    raw = load_lexicon("markers")["markers"]
    return {m: raw[m]["archetype"] for m in MARKERS}


def archetype_check(profile: pd.DataFrame, archetypes: Mapping[str, str],
                    markers: Sequence[str] = ("skeptic", "vague", "intellectualising")
                    ) -> pd.DataFrame:
    """Do the sessions of each marker's archetype have the highest rates of that marker?

    ``archetypes`` maps session_id -> archetype label (sessions not in it are ignored). For each
    marker: the lowest rate among the archetype's sessions, the highest rate among the other
    sessions, and ``holds`` = the former is strictly greater. Markers whose archetype has no
    session in ``archetypes`` are left out.
    """
    target = marker_archetypes()
    prof = profile[profile["session_id"].isin(list(archetypes))]
    label = prof["session_id"].map(archetypes)
    rows = []
    for m in markers:
        inside = prof.loc[label == target[m], m]
        outside = prof.loc[label != target[m], m]
        if inside.empty or outside.empty:
            continue
        rows.append({"marker": m, "archetype": target[m], "n_sessions": int(inside.size),
                     "min_archetype": float(inside.min()), "max_others": float(outside.max()),
                     "holds": bool(inside.min() > outside.max())})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- figures
def plot_distributions(df: pd.DataFrame, cols: Sequence[str]):  # -> matplotlib Figure
    """Box plots of ``cols`` by speaker, one small panel per feature (turn-level values)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .plots import SPEAKER_COLORS, SPEAKER_ORDER, TEXT_WIDTH

    n = len(cols)
    ncol = min(n, 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(TEXT_WIDTH, 1.8 * nrow), squeeze=False)
    for ax, col in zip(axes.flat, cols, strict=False):
        sns.boxplot(df, x="speaker", y=col, hue="speaker", order=SPEAKER_ORDER,
                    palette=SPEAKER_COLORS, ax=ax, fliersize=1.5, linewidth=0.7, legend=False)
        ax.set(xlabel="", ylabel="", title=col)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def plot_trajectories(df: pd.DataFrame, cols: Sequence[str]):  # -> matplotlib Figure
    """Mean of each feature per session segment and speaker (95% CI over sessions' means)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .plots import SPEAKER_COLORS, SPEAKER_ORDER, TEXT_WIDTH

    means = (df.groupby(["session_id", "speaker", "segment"], observed=True)[list(cols)]
             .mean().reset_index())
    n = len(cols)
    ncol = min(n, 4)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(TEXT_WIDTH, 1.9 * nrow), squeeze=False)
    for i, (ax, col) in enumerate(zip(axes.flat, cols, strict=False)):
        sns.pointplot(means, x="segment", y=col, hue="speaker", hue_order=SPEAKER_ORDER,
                      palette=SPEAKER_COLORS, errorbar=("ci", 95), seed=0, dodge=0.25, ax=ax,
                      markersize=3, linewidth=1, err_kws={"linewidth": 0.8},
                      legend=i == 0)
        ax.set(xlabel="", ylabel="", title=col)
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    if n:
        axes.flat[0].legend(fontsize=6, frameon=False)
    fig.tight_layout()
    return fig


def plot_marker_profile(profile: pd.DataFrame, archetypes: Mapping[str, str] | None = None):
    """Heat map of patient markers per 1000 patient words, one row per session."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .plots import COLUMN_WIDTH

    rates = profile.set_index("session_id")[list(MARKERS)]
    if archetypes:
        rates.index = [f"{s[:12]} ({archetypes.get(s, '?')})" for s in rates.index]
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH * 1.6, 0.35 * len(rates) + 1.2))
    sns.heatmap(rates / rates.max().replace(0, 1), annot=rates.round(1), fmt="", cmap="Blues",
                vmin=0, vmax=1, cbar=False, linewidths=0.5, ax=ax, annot_kws={"fontsize": 6})
    ax.set(xlabel="Marker (per 1000 patient words; shade = share of column maximum)",
           ylabel="")
    ax.tick_params(axis="x", labelrotation=30)
    fig.tight_layout()
    return fig


def plot_lsm(df: pd.DataFrame):  # -> matplotlib Figure
    """``lsm`` and ``reflect_overlap`` of each patient->therapist pair across the session."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    from .plots import SPEAKER_COLORS, TEXT_WIDTH

    t = df[df["speaker"] == "therapist"].dropna(subset=["lsm"])
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.3), sharex=True)
    for ax, col, lab in zip(axes, ("lsm", "reflect_overlap"),
                            ("Language style matching", "Reflection overlap"), strict=True):
        sns.lineplot(t, x="position", y=col, units="session_id", estimator=None, ax=ax,
                     color=SPEAKER_COLORS["therapist"], alpha=0.3, linewidth=0.7)
        sns.regplot(t, x="position", y=col, lowess=True, scatter=False, ax=ax,
                    color="black", line_kws={"linewidth": 1.5})
        ax.set(xlabel="Position in session (0 = start, 1 = end)", ylabel=lab, ylim=(0, 1))
    fig.tight_layout()
    return fig
