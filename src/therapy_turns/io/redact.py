"""De-identification of the turn table with Microsoft Presidio (the project's spaCy pipeline as
NLP engine, Google's ``phonenumbers``, the pattern recognizers of ``data/redact.yaml``): typed
placeholders (``[NAME_1]``), numbered per session; every name, place and organisation found
anywhere in a session is replaced everywhere in it (names also as parts, nickname and short forms,
lower case). Run right after loading. How it works, limits, recall: ``docs/privacy.md``."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from itertools import count
from types import SimpleNamespace

import pandas as pd
import presidio_analyzer as pa
import tldextract
from presidio_analyzer import predefined_recognizers as pre
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from spacy.language import Language

from therapy_turns.io.labels import DEFAULT_SPEAKERS
from therapy_turns.nlp import load_pipeline
from therapy_turns.paths import DATA_DIR, read_yaml

log = logging.getLogger(__name__)
Known = Mapping[str, Sequence[str]] | None  # strings always redacted, by type
Nlp = Language | None  # a spaCy pipeline for Presidio (None: the project's, with NER)

#: Columns redacted, in the order that fixes placeholder numbering.
TEXT_COLUMNS = ("raw_text", "thinking", "meta_notes", "text", "event_text")
MAP_COLUMNS = ["session_id", "placeholder", "type", "surface", "count"]
#: Placeholder types, in the order that types a merged overlap of findings.
TYPES = tuple("EMAIL HANDLE URL IP PHONE DATE ID ADDRESS POSTCODE AGE NAME PLACE ORG".split())
SWEPT = ("NAME", "PLACE", "ORG")  # swept through the whole session once found
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(TYPES) + r")_\d+\]")
NOT_NEEDED = ("parser", "textcat", "textcat_multilabel")  # spaCy components Presidio needn't
_WORDS = re.compile(r"\b[^\W\d_]{2,}\b")
_DIMINUTIVE = re.compile(r"(?:ie|y|ey|o|s|z)$")
_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ß": "ss"})
_CAMEL = re.compile(r"(?:[A-Z][a-z]+){2,}")  # "WorldRemit"
_TITLES = frozenset("mr mrs ms miss dr prof sir dame lady lord pc st".split())
_EDGE = " \t\n.,;:!?\"'“”‘’[]"
_ANONYMIZER = AnonymizerEngine()


@lru_cache(maxsize=1)
def load_rules() -> SimpleNamespace:
    """The settings of ``data/redact.yaml`` (regex compiled, word lists as sets)."""
    r = SimpleNamespace(**read_yaml(DATA_DIR / "redact.yaml"))
    r.phone_regions = tuple(r.phone_regions)
    r.date_requires = re.compile(r.date_requires)
    r.name_cue_words = frozenset(w.casefold() for w in r.name_cue_words)
    r.never_redact = frozenset(w.casefold() for w in r.never_redact)
    return r


@lru_cache(maxsize=1)
def _logprob() -> dict[str, float]:
    """Log probability of frequent English words (``data/common_words.tsv``, >= -13.5)."""
    text = (DATA_DIR / "common_words.tsv").read_text(encoding="utf-8")
    rows = (ln.split("\t") for ln in text.splitlines() if ln and not ln.startswith("#"))
    return {w: float(p) for w, p in rows}


def is_common_word(word: str, threshold: float) -> bool:
    """``word`` is at least as frequent in English as ``exp(threshold)`` (>= -13.5)."""
    return _logprob().get(word.casefold(), -100.0) >= threshold


class OfflineEmailRecognizer(pre.EmailRecognizer):
    """Presidio's e-mail recognizer with tldextract's bundled suffix list (never fetched); the
    domain must end in a public suffix (also wildcard ones such as ``school.sch.uk``)."""

    _extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text.rpartition("@")[2]).suffix != ""


class TokenNameRecognizer(pa.EntityRecognizer):
    """Rare words (not frequent English) as names: lower case after a relationship word ("my
    friend jo"), capitalised and tagged a noun or proper noun ("Chukwuemeka", "Kyiv")."""

    def __init__(self, rules: SimpleNamespace) -> None:
        self.rules = rules
        super().__init__(["LOWERCASE_NAME", "RARE_PROPER_NOUN"], name="TokenNameRecognizer")

    def load(self) -> None: ...

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[pa.RecognizerResult]:
        """Name candidates among the tokens of Presidio's NLP engine."""
        doc = nlp_artifacts.tokens if nlp_artifacts else None
        if doc is None:
            return []
        rare = partial(is_common_word, threshold=self.rules.lowercase_name_logprob)
        tagged, out = doc.has_annotation("POS"), []
        for tok in doc:
            if not tok.is_alpha or rare(tok.text):
                continue
            prev = doc[tok.i - 2] if tok.i > 1 and doc[tok.i - 1].text == "," else doc[tok.i - 1]
            cue = tok.i > 0 and prev.lower_ in self.rules.name_cue_words and not tok.is_stop
            capital = len(tok) > 2 and tok.text.istitle() or _CAMEL.fullmatch(tok.text)
            if cue and tok.is_lower and len(tok) > 1 and tok.pos_ in ("NOUN", "PROPN", ""):
                kind, score = "LOWERCASE_NAME", 0.6
            elif tagged and capital and tok.pos_ in ("PROPN", "NOUN"):
                kind, score = "RARE_PROPER_NOUN", 0.5
            else:
                continue
            out.append(pa.RecognizerResult(kind, tok.idx, tok.idx + len(tok), score))
        return out


def _predefined(name: str, rules: SimpleNamespace) -> pa.EntityRecognizer:
    if name == "EmailRecognizer":
        return OfflineEmailRecognizer()
    if name == "PhoneRecognizer":
        regions, leniency = rules.phone_regions, rules.phone_leniency
        return pre.PhoneRecognizer(supported_regions=regions, leniency=leniency)
    if name == "SpacyRecognizer":
        return pre.SpacyRecognizer(supported_entities=sorted(set(rules.spacy_entities.values())))
    rec = getattr(pre, name)()
    for pattern in rec.patterns if name in rules.score_overrides else ():
        pattern.score = rules.score_overrides[name]
    return rec


@lru_cache(maxsize=8)
def get_analyzer(nlp: Nlp = None) -> pa.AnalyzerEngine:
    """The Presidio analyzer (cached) over ``nlp`` (default: the project's pipeline, NER on)."""
    nlp = load_pipeline(None, disable=NOT_NEEDED) if nlp is None else nlp
    rules = load_rules()
    labels = nlp.get_pipe("ner").labels if "ner" in nlp.pipe_names else ()
    ner = NerModelConfiguration(
        model_to_presidio_entity_mapping=dict(rules.spacy_entities),
        labels_to_ignore=[lab for lab in labels if lab not in rules.spacy_entities],
    )
    registry = pa.RecognizerRegistry(supported_languages=["en"])
    for name in rules.presidio_recognizers:
        registry.add_recognizer(_predefined(name, rules))
    for spec in rules.recognizers:
        registry.add_recognizer(pa.PatternRecognizer.from_dict(spec | {"supported_language": "en"}))
    registry.add_recognizer(TokenNameRecognizer(rules))
    log.info("redaction: Presidio analyzer over spaCy %s", nlp.meta.get("name"))
    engine = SpacyNlpEngine([{"lang_code": "en", "model_name": nlp.meta.get("name", "")}], ner)
    engine.nlp = {"en": nlp}  # the loaded pipeline: Presidio never loads (or downloads) a model
    enhancer = LemmaContextAwareEnhancer(context_suffix_count=3, context_matching_mode="whole_word")
    return pa.AnalyzerEngine(
        nlp_engine=engine,
        registry=registry,
        supported_languages=["en"],
        default_score_threshold=rules.score_threshold,
        context_aware_enhancer=enhancer,
    )


@dataclass(frozen=True)
class Match:
    """One identifier in a text: span, type, surface and Presidio score (0: session sweep)."""

    start: int
    end: int
    kind: str
    surface: str
    score: float = 0.0


def _clean_span(text: str, start: int, end: int, possessive: bool) -> tuple[int, int]:
    """Shrink a span by surrounding punctuation (brackets only if unpaired inside) and, if
    ``possessive`` (not organisations, whose names often end in one), a trailing 's."""
    s = text[start:end]
    t = s.lstrip(_EDGE + "(" * (")" not in s))
    u = t.rstrip(_EDGE + ")" * ("(" not in t))
    start += len(s) - len(t)
    return start, start + len(u) - 2 * (possessive and len(u) > 2 and u[-2:] in ("'s", "’s"))


def _keep(r: pa.RecognizerResult, kind: str, surface: str, rules: SimpleNamespace) -> bool:
    """Keep calendar dates, phones of enough digits, capitalised NER findings not listed."""
    if not surface or "[" in surface or "]" in surface:
        return False
    if kind == "DATE":
        return bool(rules.date_requires.search(surface))
    if kind == "PHONE":
        return sum(c.isdigit() for c in surface) >= rules.phone_min_digits
    if (r.recognition_metadata or {}).get("recognizer_name") == "SpacyRecognizer":
        return surface.casefold() not in rules.never_redact and surface != surface.lower()
    return True


def _merge(found: Iterable[Match], text: str) -> list[Match]:
    """Union of overlapping matches, typed by the highest score, then by :data:`TYPES` order."""
    out: list[Match] = []
    for m in sorted(found, key=lambda m: (m.start, -m.end)):
        if out and m.start < out[-1].end:
            last, end = out[-1], max(out[-1].end, m.end)
            top = min(last, m, key=lambda x: (-x.score, TYPES.index(x.kind)))
            out[-1] = Match(last.start, end, top.kind, text[last.start : end], top.score)
        else:
            out.append(m)
    return out


def find_identifiers(texts: Sequence[str], nlp: Nlp = None) -> list[list[Match]]:
    """The identifiers Presidio finds in each text (filtered, overlaps merged), in text order."""
    return [_merge(f, t) for t, f in zip(texts, _findings(texts, nlp), strict=True)]


def _findings(texts: Sequence[str], nlp: Nlp = None) -> list[list[Match]]:
    """Presidio's filtered findings in each text, overlaps kept (the sweep wants each type)."""
    rules, out = load_rules(), []
    results = pa.BatchAnalyzerEngine(get_analyzer(nlp)).analyze_iterator(
        list(texts), language="en", batch_size=32, score_threshold=rules.score_threshold
    )
    for text, res in zip(texts, results, strict=True):
        found = []
        for r in res:
            if kind := rules.entity_types.get(r.entity_type):
                start, end = _clean_span(text, r.start, r.end, possessive=kind != "ORG")
                if _keep(r, kind, text[start:end], rules):
                    found.append(Match(start, end, kind, text[start:end], r.score))
        out.append(found)
    return out


def name_variants(
    name: str, rules: SimpleNamespace | None = None, session_words: Iterable[str] = ()
) -> set[str]:
    """A found name's forms swept through its session: parts (not titles or common words),
    nicknames, short forms in ``session_words`` ("Britt", "lachie"), lower case if not common."""
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
    nfkd = (unicodedata.normalize("NFKD", f) for f in forms)  # and without accents: "siobhan"
    bare = {"".join(c for c in f if not unicodedata.combining(c)).translate(_FOLD) for f in nfkd}
    return forms | {f for f in bare if not common(f)}


def _short_form(word: str, name: str) -> bool:
    """``word`` is a prefix of ``name`` (lower case: 3+ letters), a 3+-letter prefix plus a
    diminutive ending ("lachie" of "Lachlan") or a 4+-letter ending ("seun" of "Oluwaseun")."""
    w, n = word.casefold(), name.casefold()
    if n.startswith(w):
        return len(w) < len(n) and (len(w) >= 3 or len(w) == 2 and word[0].isupper())
    stem = _DIMINUTIVE.sub("", w)
    ending = 4 <= len(w) <= len(n) - 3 and n.endswith(w)
    return ending or 3 <= len(stem) < len(n) and n.startswith(stem)


class _Session:
    """Swept forms and surface -> placeholder assignment for one session."""

    def __init__(self, surfaces: Mapping[str, str], words: set[str], orgs: set[str]) -> None:
        rules = load_rules()
        self.kind_of: dict[str, str] = {}
        self.canon: dict[str, str] = {}  # swept form -> the surface it derives from
        for s, k in sorted(surfaces.items(), key=lambda sk: (-len(sk[0]), sk[0])):
            common = any(is_common_word(w, rules.common_word_logprob) for w in s.split())
            forms = (
                {s, s if common else s.lower()} if k != "NAME" else name_variants(s, rules, words)
            )
            if s in orgs:  # an organisation's possessive is part of its name: "Sainsbury's"
                forms |= {f + p for f in forms for p in ("'s", "’s")}
            for f in sorted(forms, key=lambda f: (f != s, f)):
                self.kind_of.setdefault(f, k)
                self.canon.setdefault(f, s)
        alts = sorted(self.kind_of, key=lambda s: (-len(s), s))
        body = "|".join(r"\s+".join(map(re.escape, s.split())) for s in alts)
        self.regex = re.compile(rf"(?<![\w@])(?:{body})(?![\w@])" if alts else "(?!)")
        self.ids: dict[tuple[str, str], str] = {}
        self.counts: Counter[str] = Counter()

    def placeholder(self, kind: str, surface: str) -> str:
        s = " ".join(surface.split())
        s = " ".join(self.canon.get(s, s).split()).casefold()
        key = re.sub(r"\D", "", s) if kind == "PHONE" else s
        key = re.sub(r"^(?:https?|ftp)://|/+$", "", key) if kind == "URL" else key
        if (kind, key) not in self.ids:
            self.counts[kind] += 1
            self.ids[(kind, key)] = f"[{kind}_{self.counts[kind]}]"
        return self.ids[(kind, key)]

    def matches(self, text: str, found: list[Match]) -> list[Match]:
        """The findings in ``text`` plus every swept form in it, overlaps merged."""
        k = self.kind_of
        swept = [
            Match(*m.span(), k[" ".join(m[0].split())], m[0]) for m in self.regex.finditer(text)
        ]
        return _merge(found + swept, text)

    def redact(self, text: str, found: list[Match]) -> tuple[str, list[tuple[str, str, str]]]:
        """``text`` with identifiers replaced, and the ``(placeholder, type, surface)`` list."""
        matches = self.matches(text, found) if text else []
        if not matches:
            return text, []
        done = [(self.placeholder(m.kind, m.surface), m.kind, m.surface) for m in matches]
        ph = {(k, s): p for p, k, s in done}
        ops = {k: OperatorConfig("custom", {"lambda": lambda s, k=k: ph[k, s]}) for _, k, _ in done}
        results = [pa.RecognizerResult(m.kind, m.start, m.end, 1.0) for m in matches]
        res = _ANONYMIZER.anonymize(text, results, ops, merge_entities_with_spaces=False)
        return res.text, done


def _sessions(
    turns: pd.DataFrame, nlp: Nlp, known: Known
) -> Iterator[tuple[object, pd.DataFrame, _Session, dict[str, list[Match]]]]:
    """Each session of ``turns`` with its placeholder assignment, and the findings per text."""
    known = known or {}
    if bad := [k for k in known if k not in TYPES]:
        raise ValueError(f"known: types {bad} unknown; expected some of {list(TYPES)}")
    cols = [c for c in TEXT_COLUMNS if c in turns.columns]
    # Presidio once over every distinct non-empty text of the corpus (batching across sessions).
    values = sorted({v for c in cols for v in turns[c].astype(str) if v.strip()})
    found = dict(zip(values, _findings(values, nlp), strict=True))
    for sid, g in turns.groupby("session_id", sort=False):
        texts = [str(v) for c in cols for v in g[c]]
        labels = g["speaker_label"].astype(str) if "speaker_label" in g else []
        # swept surface -> type: every finding of a swept type, known strings, speaker labels
        votes: dict[str, Counter[str]] = {}
        seen = [(m.surface, m.kind, 1) for t in texts for m in found.get(t, []) if m.kind in SWEPT]
        seen += [(s, k, 10**6) for k, ss in known.items() for s in ss]
        seen += [(x, "NAME", 10**6) for x in labels if x.strip().lower() not in DEFAULT_SPEAKERS]
        for s, k, n in seen:
            if s := " ".join(s.split()):
                votes.setdefault(s, Counter())[k] += n
        surfaces = {s: min(c, key=lambda k: (-c[k], TYPES.index(k))) for s, c in votes.items()}
        words = {w for t in texts for w in _WORDS.findall(t)}
        orgs = {s for s, c in votes.items() if c["ORG"]}
        yield sid, g, _Session(surfaces, words, orgs), found


def redaction_spans(
    turns: pd.DataFrame, column: str = "text", nlp: Nlp = None, known: Known = None
) -> dict[object, list[Match]]:
    """Row index -> the spans of ``column`` that :func:`redact_turns` replaces (benchmark)."""
    out = {}
    for _, g, sess, found in _sessions(turns, nlp, known):
        for idx in g.index:
            text = str(turns.at[idx, column])
            out[idx] = sess.matches(text, found.get(text, []))
    return out


def redact_turns(turns: pd.DataFrame, nlp: Nlp = None, known: Known = None) -> pd.DataFrame:
    """A copy of the turn table with identifiers in the :data:`TEXT_COLUMNS` replaced by typed
    placeholders, consistent within each session; non-standard speaker labels become the role.

    ``nlp``: a spaCy pipeline for Presidio (default: the project's, NER on). ``known``: strings
    always redacted, by type, e.g. ``{"NAME": ["Jane Roe"], "PLACE": ["Leeds"]}``.
    """
    return _run(turns, nlp, known)[0]


def redaction_map(turns: pd.DataFrame, nlp: Nlp = None, known: Known = None) -> pd.DataFrame:
    """What :func:`redact_turns` would replace (``session_id, placeholder, type, surface,
    count``), for auditing in memory: it holds the original strings, never write it out."""
    return _run(turns, nlp, known)[1]


def _run(turns: pd.DataFrame, nlp: Nlp, known: Known) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols = [c for c in TEXT_COLUMNS if c in turns.columns]
    out, audit = turns.copy(), []
    for sid, g, sess, found in _sessions(turns, nlp, known):
        used: Counter[tuple[str, str, str]] = Counter()
        for idx in g.index:
            for c in cols:
                text = str(turns.at[idx, c])
                out.at[idx, c], done = sess.redact(text, found.get(text, []))
                used.update(done)
        audit += [(sid, p, k, s, n) for (p, k, s), n in used.items()]
        log.info("redacted a session: %s", dict(sess.counts))
    if "speaker_label" in out:
        std = out["speaker_label"].str.strip().str.lower().isin(list(DEFAULT_SPEAKERS))
        out.loc[~std, "speaker_label"] = out.loc[~std, "speaker"].str.capitalize()
    return out, pd.DataFrame(audit, columns=MAP_COLUMNS)


def redact_speakers(speakers: Mapping[str, str] | None) -> dict[str, str]:
    """``--speaker`` for a redacted run's manifest: non-role labels become ``[SPEAKER_n]``."""
    n, out = count(1), {}
    for label, role in sorted((speakers or {}).items()):
        out[label if label.strip().lower() in DEFAULT_SPEAKERS else f"[SPEAKER_{next(n)}]"] = role
    return out
