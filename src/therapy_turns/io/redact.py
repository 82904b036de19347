"""De-identification of the turn table: names, places, organisations, dates, emails, phone
numbers and URLs replaced by typed placeholders, consistently within a session.

How it works, per session:

1. Fixed-shape identifiers are found by the regular expressions of ``data/redact.yaml``
   (``EMAIL``, ``URL``, ``DATE``, ``PHONE``).
2. spaCy's named-entity recogniser (``load_pipeline(disable=())``) tags ``PERSON``, places
   (``GPE``/``LOC``/``FAC`` → ``PLACE``), ``ORG`` and calendar ``DATE`` entities in every text
   column; entities overlapping a pattern match, listed in ``never_redact`` or without any
   capital letter are ignored.
3. Every surface string found anywhere in the session (plus ``known`` strings and non-standard
   speaker labels) is replaced *everywhere* in the session, whole-word and case-sensitively, so a
   name the model tagged once is removed where it missed it too.
4. Placeholders are numbered per session and type in order of first occurrence (turn order;
   columns ``raw_text, thinking, meta_notes, text``): ``[PERSON_1]``, ``[PLACE_1]``, ``[ORG_1]``,
   ``[DATE_1]``, ``[EMAIL_1]``, ``[PHONE_1]``, ``[URL_1]``. The same entity gets the same
   placeholder in every column; a single-word name that is the first or last word of a longer
   name in the session ("Sarah" / "Sarah Johnson") shares that name's placeholder.

Redaction must run on the turn table right after loading and before anything parses, scores or
writes the text. Limits are documented in ``docs/privacy.md``.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd
from spacy.language import Language

from therapy_turns.io.transcripts import DEFAULT_SPEAKERS
from therapy_turns.paths import DATA_DIR, read_yaml

log = logging.getLogger(__name__)

#: Columns redacted, in the order that fixes placeholder numbering.
TEXT_COLUMNS = ("raw_text", "thinking", "meta_notes", "text")
#: Placeholder types, in the order that settles overlaps between patterns and entities.
TYPES = ("EMAIL", "URL", "DATE", "PHONE", "PERSON", "PLACE", "ORG")
#: Pipeline components NER does not need (switched off while tagging entities).
NOT_FOR_NER = ("tagger", "parser", "attribute_ruler", "lemmatizer", "morphologizer", "senter",
               "textcat", "textcat_multilabel")
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(TYPES) + r")_\d+\]")


@dataclass(frozen=True)
class Rules:
    """The rules of ``data/redact.yaml``, compiled."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    phone_min_digits: int
    entity_types: Mapping[str, str]
    date_entity_requires: re.Pattern[str]
    never_redact: frozenset[str]


@lru_cache(maxsize=1)
def load_rules(path: str | Path | None = None) -> Rules:
    """Read and compile the redaction rules (``data/redact.yaml`` by default)."""
    p = Path(path) if path else DATA_DIR / "redact.yaml"
    raw = read_yaml(p)
    pats = tuple((kind, re.compile(rx)) for kind, rxs in raw["patterns"].items() for rx in rxs)
    return Rules(patterns=pats, phone_min_digits=int(raw["phone_min_digits"]),
                 entity_types=dict(raw["entity_types"]),
                 date_entity_requires=re.compile(raw["date_entity_requires"]),
                 never_redact=frozenset(s.casefold() for s in raw["never_redact"]))


@dataclass(frozen=True)
class Match:
    """One identifier found in a text: character span, type and surface string."""

    start: int
    end: int
    kind: str
    surface: str


def pattern_matches(text: str, rules: Rules | None = None) -> list[Match]:
    """Non-overlapping matches of the fixed-shape patterns in ``text``, in text order.

    On overlap the pattern listed first in the rules wins, then the longer match.
    """
    rules = rules or load_rules()
    found: list[Match] = []
    for kind, rx in rules.patterns:
        for m in rx.finditer(text):
            s = m.group(0).rstrip(".,;:!?")
            if kind == "PHONE" and sum(c.isdigit() for c in s) < rules.phone_min_digits:
                continue
            found.append(Match(m.start(), m.start() + len(s), kind, s))
    return _non_overlapping(found)


def _non_overlapping(matches: Iterable[Match]) -> list[Match]:
    """Keep matches in priority order (input order, then longer first), dropping overlaps."""
    kept: list[Match] = []
    for m in matches:
        if all(m.end <= k.start or m.start >= k.end for k in kept):
            kept.append(m)
    return sorted(kept, key=lambda m: m.start)


def _clean_entity(text: str) -> str:
    """Strip possessive endings and surrounding punctuation from an entity's text."""
    text = re.sub(r"[’']s$", "", text.strip())
    return text.strip(" \t\n.,;:!?\"'“”‘’()[]")


def _keep_entity(surface: str, kind: str, rules: Rules) -> bool:
    if not surface or surface.casefold() in rules.never_redact:
        return False
    if PLACEHOLDER_RE.search(surface) or "[" in surface or "]" in surface:
        return False
    if not any(c.isupper() for c in surface) and kind != "DATE":
        return False
    if kind == "DATE" and not rules.date_entity_requires.search(surface):
        return False
    return True


def entity_surfaces(texts: Sequence[str], nlp: Language, rules: Rules | None = None,
                    batch_size: int = 64) -> list[list[tuple[str, str]]]:
    """``(type, surface)`` entities the NER finds in each text (pattern matches excluded)."""
    rules = rules or load_rules()
    disable = [p for p in nlp.pipe_names if p in NOT_FOR_NER]
    out: list[list[tuple[str, str]]] = []
    for text, doc in zip(texts, nlp.pipe(texts, batch_size=batch_size, disable=disable),
                         strict=True):
        spans = pattern_matches(text, rules)
        ents = []
        for e in doc.ents:
            kind = rules.entity_types.get(e.label_)
            if kind is None:
                continue
            if any(e.start_char < m.end and e.end_char > m.start for m in spans):
                continue
            surface = _clean_entity(e.text)
            if _keep_entity(surface, kind, rules):
                ents.append((kind, surface))
        out.append(ents)
    return out


def _surface_regex(surfaces: Iterable[str]) -> re.Pattern[str] | None:
    """One whole-word, case-sensitive alternation of ``surfaces``, longest first."""
    alts = sorted({s for s in surfaces if s}, key=lambda s: (-len(s), s))
    if not alts:
        return None
    body = "|".join(r"\s+".join(map(re.escape, s.split())) for s in alts)
    return re.compile(rf"(?<![\w@])(?:{body})(?![\w@])")


def _key(kind: str, surface: str) -> str:
    """Normalised identity of a surface: same key, same placeholder."""
    s = " ".join(surface.split()).casefold()
    if kind == "PHONE":
        return re.sub(r"\D", "", s)
    if kind == "URL":
        return re.sub(r"^(?:https?|ftp)://|/+$", "", s)
    return s


class _Session:
    """Surface → placeholder assignment for one session."""

    def __init__(self, surfaces: Mapping[str, str], rules: Rules) -> None:
        self.rules = rules
        self.kind_of = dict(surfaces)  # surface -> type
        self.regex = _surface_regex(surfaces)
        self.ids: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()
        self.alias = self._person_aliases()

    def _person_aliases(self) -> dict[str, str]:
        """Single-word person names that are the first/last word of a longer one → that name."""
        persons = [s for s, k in self.kind_of.items() if k == "PERSON"]
        multi = sorted((s for s in persons if len(s.split()) > 1), key=lambda s: (-len(s), s))
        alias = {}
        for s in persons:
            if len(s.split()) == 1:
                for full in multi:
                    words = full.split()
                    if s in (words[0], words[-1]):
                        alias[_key("PERSON", s)] = _key("PERSON", full)
                        break
        return alias

    def placeholder(self, kind: str, surface: str) -> str:
        key = _key(kind, surface)
        if kind == "PERSON":
            key = self.alias.get(key, key)
        if (kind, key) not in self.ids:
            self.counts[kind] += 1
            self.ids[(kind, key)] = f"[{kind}_{self.counts[kind]}]"
        return self.ids[(kind, key)]

    def matches(self, text: str) -> list[Match]:
        found = pattern_matches(text, self.rules)
        if self.regex is not None:
            found += [Match(m.start(), m.end(), self._kind(m.group(0)), m.group(0))
                      for m in self.regex.finditer(text)]
        found.sort(key=lambda m: (TYPES.index(m.kind), m.start - m.end))
        return _non_overlapping(found)

    def _kind(self, text: str) -> str:
        """Type of a sweep match (its whitespace may differ from the stored surface)."""
        if text in self.kind_of:
            return self.kind_of[text]
        norm = " ".join(text.split())
        return next(k for s, k in self.kind_of.items() if " ".join(s.split()) == norm)

    def redact(self, text: str) -> tuple[str, list[tuple[str, str, str]]]:
        """``text`` with identifiers replaced, and the ``(placeholder, type, surface)`` list."""
        if not text:
            return text, []
        out, pos, done = [], 0, []
        for m in self.matches(text):
            ph = self.placeholder(m.kind, m.surface)
            out += [text[pos:m.start], ph]
            pos = m.end
            done.append((ph, m.kind, m.surface))
        out.append(text[pos:])
        return "".join(out), done


def _session_surfaces(ents: Iterable[list[tuple[str, str]]], known: Mapping[str, Sequence[str]],
                      labels: Iterable[str]) -> dict[str, str]:
    """Surface → type for one session: the most frequent type of each surface wins (ties go to
    the type listed first in :data:`TYPES`)."""
    votes: dict[str, Counter[str]] = {}
    for turn_ents in ents:
        for kind, s in turn_ents:
            votes.setdefault(s, Counter())[kind] += 1
    for kind, ss in known.items():
        for s in ss:
            votes.setdefault(s.strip(), Counter())[kind] += 10**6
    for label in labels:
        if label.strip().lower() not in DEFAULT_SPEAKERS:
            votes.setdefault(label.strip(), Counter())["PERSON"] += 10**6
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
    replaced by typed placeholders, consistent within each session (see the module docstring).

    ``nlp``: a spaCy pipeline with an ``ner`` (or entity ruler) component; default
    ``load_pipeline(disable=())``. ``known``: strings always redacted, by type, e.g.
    ``{"PERSON": ["Jane Roe"], "PLACE": ["Leeds"]}`` (names a study already knows). Speaker labels
    other than the standard role words are treated as person names and replaced by the role.
    """
    return _run(turns, nlp, known)[0]


def _run(turns: pd.DataFrame, nlp: Language | None,
         known: Mapping[str, Sequence[str]] | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    from therapy_turns.nlp import load_pipeline

    known = known or {}
    _check_known(known)
    rules = load_rules()
    nlp = nlp if nlp is not None else load_pipeline(disable=())
    cols = [c for c in TEXT_COLUMNS if c in turns.columns]
    out = turns.copy()
    # NER once over every distinct non-empty text of the corpus (batching across sessions).
    values = sorted({v for c in cols for v in turns[c].astype(str) if v.strip()})
    ents = dict(zip(values, entity_surfaces(values, nlp, rules), strict=True))
    audit: list[dict[str, object]] = []
    for sid, g in turns.groupby("session_id", sort=False):
        labels = g["speaker_label"].astype(str) if "speaker_label" in g else []
        surfaces = _session_surfaces((ents.get(str(v), []) for c in cols for v in g[c]), known,
                                     labels)
        sess = _Session(surfaces, rules)
        used: Counter[tuple[str, str, str]] = Counter()
        for idx in g.index:
            for c in cols:
                new, done = sess.redact(str(turns.at[idx, c]))
                out.at[idx, c] = new
                used.update(done)
        audit += [{"session_id": sid, "placeholder": p, "type": k, "surface": s, "count": n}
                  for (p, k, s), n in used.items()]
        log.info("redacted session %s: %s", sid, dict(sess.counts))
    if "speaker_label" in out:
        std = out["speaker_label"].str.strip().str.lower().isin(list(DEFAULT_SPEAKERS))
        out.loc[~std, "speaker_label"] = out.loc[~std, "speaker"].str.capitalize()
    table = pd.DataFrame(audit, columns=["session_id", "placeholder", "type", "surface", "count"])
    return out, table
