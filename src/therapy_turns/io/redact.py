"""De-identification of the turn table with Microsoft Presidio: identifiers replaced by typed
placeholders, consistently within a session.

How it works, per session:

1. Presidio's analyzer (:mod:`therapy_turns.io.redact_engine`: the project's spaCy pipeline as
   NLP engine, Google's ``phonenumbers`` for phone numbers, Presidio's predefined recognizers and
   the project's pattern recognizers of ``data/redact.yaml``) finds identifiers in every text
   column. Findings of the NER model without a capital letter, listed in ``never_redact``, or
   dates that name no calendar point ("last week") are dropped. Overlapping findings are merged.
2. Every name, place and organisation found anywhere in the session (plus ``known`` strings and
   non-standard speaker labels) is replaced *everywhere* in the session. Names also in their
   parts ("Sarah" of "Sarah Mitchell"), lower case ("sarah", unless a common English word such
   as "will") and nickname forms of ``data/redact.yaml`` ("Bob", "Rob" of "Robert").
3. Placeholders are typed and numbered per session in order of first occurrence (turn order;
   columns ``raw_text, thinking, meta_notes, text, event_text``): ``[NAME_1]``, ``[PHONE_1]``, ...
   The same identifier gets the same placeholder in every column; a name's parts, lower-case and
   nickname forms share the full name's placeholder. Presidio's anonymizer writes them in.

Redaction must run on the turn table right after loading and before anything parses, scores or
writes the text. Limits and measured recall are in ``docs/privacy.md``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial

import pandas as pd
from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerResult
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from spacy.language import Language

from therapy_turns.io.labels import DEFAULT_SPEAKERS
from therapy_turns.io.redact_engine import (
    Rules,
    build_analyzer,
    default_analyzer,
    is_common_word,
    load_rules,
)

log = logging.getLogger(__name__)

#: Columns redacted, in the order that fixes placeholder numbering.
TEXT_COLUMNS = ("raw_text", "thinking", "meta_notes", "text", "event_text")
#: Placeholder types, in the order that types a merged overlap of findings.
TYPES = ("EMAIL", "HANDLE", "URL", "IP", "PHONE", "DATE", "ID", "ADDRESS", "POSTCODE", "AGE",
         "NAME", "PLACE", "ORG")
#: Types swept through the whole session once found (free-text names, not fixed shapes).
SWEPT = ("NAME", "PLACE", "ORG")
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(TYPES) + r")_\d+\]")
_NER_TYPES = ("NAME", "PLACE", "ORG", "DATE")
_WORDS = re.compile(r"\b[^\W\d_]{2,}\b")
_DIMINUTIVE = re.compile(r"(?:ie|y|ey|o|s|z)$")
_TITLES = frozenset("mr mrs ms miss dr prof sir dame lady lord pc st".split())


@dataclass(frozen=True)
class Match:
    """One identifier found in a text: character span, type, surface string and Presidio score
    (0 for a session sweep)."""

    start: int
    end: int
    kind: str
    surface: str
    score: float = 0.0


def get_analyzer(nlp: Language | None = None) -> AnalyzerEngine:
    """The Presidio analyzer over ``nlp`` (default: the project's pipeline, built once)."""
    return default_analyzer() if nlp is None else _analyzer_for(nlp)


_ANALYZERS: dict[int, tuple[Language, AnalyzerEngine]] = {}


def _analyzer_for(nlp: Language) -> AnalyzerEngine:
    if id(nlp) not in _ANALYZERS or _ANALYZERS[id(nlp)][0] is not nlp:
        _ANALYZERS[id(nlp)] = (nlp, build_analyzer(nlp))
    return _ANALYZERS[id(nlp)][1]


def _clean_span(text: str, start: int, end: int, keep_possessive: bool = False
                ) -> tuple[int, int]:
    """Shrink a span by surrounding punctuation/space (brackets only if unpaired inside) and a
    trailing possessive ('s: not for organisations, whose names often end in one)."""
    while start < end and (text[start] in " \t\n.,;:!?\"'“”‘’[]"
                           or text[start] == "(" and ")" not in text[start:end]):
        start += 1
    while end > start and (text[end - 1] in " \t\n.,;:!?\"'“”‘’[]"
                           or text[end - 1] == ")" and "(" not in text[start:end]):
        end -= 1
    if not keep_possessive and re.search(r"[’']s$", text[start:end]) and end - start > 2:
        end -= 2
    return start, end


def _keep(r: RecognizerResult, kind: str, surface: str, rules: Rules) -> bool:
    """Filters on findings: the NER model's stop list and capitals rule, calendar dates only."""
    if not surface or PLACEHOLDER_RE.search(surface) or "[" in surface or "]" in surface:
        return False
    if kind == "DATE":
        return bool(rules.date_requires.search(surface))
    if kind == "PHONE" and sum(c.isdigit() for c in surface) < rules.phone_min_digits:
        return False
    meta = r.recognition_metadata or {}
    if kind in _NER_TYPES and meta.get("recognizer_name") == "SpacyRecognizer":
        if surface.casefold() in rules.never_redact:
            return False
        if not any(c.isupper() for c in surface):
            return False
    return True


def _merge(found: list[Match], text: str) -> list[Match]:
    """Union of overlapping matches, typed by the highest score, then by :data:`TYPES` order."""
    out: list[Match] = []
    for m in sorted(found, key=lambda m: (m.start, -m.end)):
        if out and m.start < out[-1].end:
            last = out[-1]
            end = max(last.end, m.end)
            top = min(last, m, key=lambda x: (-x.score, TYPES.index(x.kind)))
            out[-1] = Match(last.start, end, top.kind, text[last.start:end], top.score)
        else:
            out.append(m)
    return out


def find_identifiers(texts: Sequence[str], nlp: Language | None = None,
                     batch_size: int = 32) -> list[list[Match]]:
    """The identifiers Presidio finds in each text (filtered, overlaps merged), in text order."""
    return [_merge(f, t) for t, f in zip(texts, _findings(texts, nlp, batch_size), strict=True)]


def _findings(texts: Sequence[str], nlp: Language | None = None,
              batch_size: int = 32) -> list[list[Match]]:
    """The filtered findings of Presidio in each text, overlapping ones included (a merged
    finding has one type; the session sweep wants each: "Jamal" as a name inside an ORG)."""
    rules = load_rules()
    batch = BatchAnalyzerEngine(get_analyzer(nlp))
    results = batch.analyze_iterator(list(texts), language="en", batch_size=batch_size,
                                     score_threshold=rules.score_threshold, n_process=1)
    out = []
    for text, res in zip(texts, results, strict=True):
        found = []
        for r in res:
            kind = rules.entity_types.get(r.entity_type)
            if kind is None:
                continue
            start, end = _clean_span(text, r.start, r.end, keep_possessive=kind == "ORG")
            if _keep(r, kind, text[start:end], rules):
                found.append(Match(start, end, kind, text[start:end], r.score))
        out.append(sorted(found, key=lambda m: (m.start, -m.end)))
    return out


def _key(kind: str, surface: str) -> str:
    """Normalised identity of a surface: same key, same placeholder."""
    s = " ".join(surface.split()).casefold()
    if kind == "PHONE":
        return re.sub(r"\D", "", s)
    if kind == "URL":
        return re.sub(r"^(?:https?|ftp)://|/+$", "", s)
    return s


def name_variants(name: str, rules: Rules | None = None,
                  session_words: Iterable[str] = ()) -> set[str]:
    """Forms of a found name swept through its session: the name, its parts (not titles or
    common words), nickname forms of each part, short forms of a part that occur in the session
    (``session_words``: "Britt" of "Brittany", "lachie" of "Lachlan"), and the lower-case form
    of each that is not a common English word."""
    rules = rules or load_rules()
    common = partial(is_common_word, threshold=rules.common_word_logprob)
    words = name.split()
    forms = {" ".join(words)}
    parts = [w for w in words if w.strip(".").casefold() not in _TITLES and len(w) > 1]
    if len(parts) > 1:
        forms.update(p for p in parts if not common(p))
    for p in parts:
        forms.update(*(g for g in rules.nicknames if p in g))
        forms.update(w for w in session_words if _short_form(w, p) and not common(w))
    forms |= {f.lower() for f in forms if not any(common(w) for w in f.split())}
    return forms


def _short_form(word: str, name: str) -> bool:
    """``word`` is a prefix of ``name`` (lower case: 3+ letters) or a 3+-letter prefix plus a
    diminutive ending ("Lachie", "Bernie")."""
    w, n = word.casefold(), name.casefold()
    if w == n:
        return False
    if n.startswith(w):
        return len(w) >= 3 or len(w) == 2 and word[0].isupper()
    stem = _DIMINUTIVE.sub("", w)
    return len(stem) >= 3 and n.startswith(stem) and len(stem) < len(n)


class _Session:
    """Surface -> placeholder assignment for one session."""

    def __init__(self, surfaces: Mapping[str, str], rules: Rules,
                 words: Iterable[str] = ()) -> None:
        self.rules = rules
        words = set(words)
        self.kind_of: dict[str, str] = {}
        self.canon: dict[str, str] = {}  # swept form -> the surface it derives from
        for s, k in sorted(surfaces.items(), key=lambda sk: (-len(sk[0]), sk[0])):
            forms = name_variants(s, rules, words) if k == "NAME" else {s, s.lower()}
            if k != "NAME" and any(is_common_word(w, rules.common_word_logprob)
                                   for w in s.split()):
                forms.discard(s.lower())
            for f in sorted(forms, key=lambda f: (f != s, f)):
                if f not in self.kind_of:
                    self.kind_of[f], self.canon[f] = k, s
        alts = sorted(self.kind_of, key=lambda s: (-len(s), s))
        body = "|".join(r"\s+".join(map(re.escape, s.split())) for s in alts)
        self.regex = re.compile(rf"(?<![\w@])(?:{body})(?![\w@])") if alts else None
        self.ids: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()

    def placeholder(self, kind: str, surface: str) -> str:
        norm = " ".join(surface.split())
        key = _key(kind, self.canon.get(norm, norm))
        if (kind, key) not in self.ids:
            self.counts[kind] += 1
            self.ids[(kind, key)] = f"[{kind}_{self.counts[kind]}]"
        return self.ids[(kind, key)]

    def matches(self, text: str, found: list[Match]) -> list[Match]:
        """The findings in ``text`` plus every swept surface in it, overlaps merged."""
        matches = list(found)
        if self.regex is not None:
            matches += [Match(m.start(), m.end(), self.kind_of[" ".join(m.group(0).split())],
                              m.group(0)) for m in self.regex.finditer(text)]
        return _merge(matches, text)

    def redact(self, text: str, found: list[Match]) -> tuple[str, list[tuple[str, str, str]]]:
        """``text`` with identifiers replaced, and the ``(placeholder, type, surface)`` list."""
        if not text:
            return text, []
        matches = self.matches(text, found)
        if not matches:
            return text, []
        done = [(self.placeholder(m.kind, m.surface), m.kind, m.surface) for m in matches]
        ph = {(k, s): p for p, k, s in done}
        ops = {k: OperatorConfig("custom", {"lambda": partial(_lookup, ph, k)})
               for k in {m.kind for m in matches}}
        res = _anonymizer().anonymize(
            text, [RecognizerResult(m.kind, m.start, m.end, 1.0) for m in matches], ops,
            merge_entities_with_spaces=False)
        return res.text, done


def _lookup(placeholders: Mapping[tuple[str, str], str], kind: str, surface: str) -> str:
    return placeholders[(kind, surface)]


@lru_cache(maxsize=1)
def _anonymizer() -> AnonymizerEngine:
    """Presidio's anonymizer (replaces the spans with the session's placeholders)."""
    return AnonymizerEngine()


def _session_surfaces(found: Iterable[list[Match]], known: Mapping[str, Sequence[str]],
                      labels: Iterable[str]) -> dict[str, str]:
    """Swept surface -> type for one session: the most frequent type of each surface wins."""
    votes: dict[str, Counter[str]] = {}
    for matches in found:
        for m in matches:
            if m.kind in SWEPT:
                votes.setdefault(" ".join(m.surface.split()), Counter())[m.kind] += 1
    for kind, ss in known.items():
        for s in ss:
            votes.setdefault(" ".join(s.split()), Counter())[kind] += 10**6
    for label in labels:
        if label.strip().lower() not in DEFAULT_SPEAKERS:
            votes.setdefault(" ".join(label.split()), Counter())["NAME"] += 10**6
    return {s: min(c, key=lambda k: (-c[k], TYPES.index(k))) for s, c in votes.items() if s}


def _check_known(known: Mapping[str, Sequence[str]]) -> None:
    bad = [k for k in known if k not in TYPES]
    if bad:
        raise ValueError(f"known: types {bad} unknown; expected some of {list(TYPES)}")


def redaction_map(turns: pd.DataFrame, nlp: Language | None = None,
                  known: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """What :func:`redact_turns` would replace, for auditing in memory.

    Columns ``session_id, placeholder, type, surface, count``. It holds the original strings:
    never write it next to redacted outputs.
    """
    return _run(turns, nlp, known)[1]


def redact_turns(turns: pd.DataFrame, nlp: Language | None = None,
                 known: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """A copy of the turn table with identifiers in ``raw_text, thinking, meta_notes, text``
    and ``event_text`` replaced by typed placeholders, consistent within each session (see the
    module docstring).

    ``nlp``: a spaCy pipeline for Presidio's NLP engine (default: the project's pipeline with
    NER). ``known``: strings always redacted, by type, e.g. ``{"NAME": ["Jane Roe"], "PLACE":
    ["Leeds"]}`` (names a study already knows). Speaker labels other than the standard role
    words are treated as names and replaced by the role.
    """
    return _run(turns, nlp, known)[0]


def _sessions(turns: pd.DataFrame, nlp: Language | None,
              known: Mapping[str, Sequence[str]] | None
              ) -> Iterable[tuple[object, pd.DataFrame, _Session, dict[str, list[Match]]]]:
    """Each session of ``turns`` with its placeholder assignment and the findings per text."""
    known = known or {}
    _check_known(known)
    rules = load_rules()
    cols = [c for c in TEXT_COLUMNS if c in turns.columns]
    # Presidio once over every distinct non-empty text of the corpus (batching across sessions).
    values = sorted({v for c in cols for v in turns[c].astype(str) if v.strip()})
    found = dict(zip(values, _findings(values, nlp), strict=True))
    for sid, g in turns.groupby("session_id", sort=False):
        labels = g["speaker_label"].astype(str) if "speaker_label" in g else []
        texts = [str(v) for c in cols for v in g[c]]
        words = {w for t in texts for w in _WORDS.findall(t)}
        yield sid, g, _Session(_session_surfaces((found.get(t, []) for t in texts), known,
                                                 labels), rules, words), found


def redaction_spans(turns: pd.DataFrame, column: str = "text", nlp: Language | None = None,
                    known: Mapping[str, Sequence[str]] | None = None
                    ) -> dict[object, list[Match]]:
    """Row index -> the spans of ``column`` that :func:`redact_turns` replaces (for the recall
    benchmark)."""
    out = {}
    for _, g, sess, found in _sessions(turns, nlp, known):
        for idx in g.index:
            text = str(turns.at[idx, column])
            out[idx] = sess.matches(text, found.get(text, []))
    return out


def _run(turns: pd.DataFrame, nlp: Language | None,
         known: Mapping[str, Sequence[str]] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = [c for c in TEXT_COLUMNS if c in turns.columns]
    out = turns.copy()
    audit: list[dict[str, object]] = []
    for sid, g, sess, found in _sessions(turns, nlp, known):
        used: Counter[tuple[str, str, str]] = Counter()
        for idx in g.index:
            for c in cols:
                text = str(turns.at[idx, c])
                new, done = sess.redact(text, found.get(text, []))
                out.at[idx, c] = new
                used.update(done)
        audit += [{"session_id": sid, "placeholder": p, "type": k, "surface": s, "count": n}
                  for (p, k, s), n in used.items()]
        log.info("redacted a session: %s", dict(sess.counts))
    if "speaker_label" in out:
        std = out["speaker_label"].str.strip().str.lower().isin(list(DEFAULT_SPEAKERS))
        out.loc[~std, "speaker_label"] = out.loc[~std, "speaker"].str.capitalize()
    table = pd.DataFrame(audit, columns=["session_id", "placeholder", "type", "surface", "count"])
    return out, table


def redact_speakers(speakers: Mapping[str, str] | None) -> dict[str, str]:
    """A ``--speaker`` mapping for a manifest of a redacted run: labels other than the standard
    role words become ``[SPEAKER_n]`` (in sorted order), roles are kept."""
    out, n = {}, 0
    for label, role in sorted((speakers or {}).items()):
        if label.strip().lower() in DEFAULT_SPEAKERS:
            out[label] = role
        else:
            n += 1
            out[f"[SPEAKER_{n}]"] = role
    return out
