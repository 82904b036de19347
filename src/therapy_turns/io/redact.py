"""De-identification of the turn table with Presidio (the project's spaCy pipeline as NLP engine,
``phonenumbers``, ``data/redact.yaml``): typed placeholders per session; see ``docs/privacy.md``."""

from __future__ import annotations

import importlib
import logging
import pkgutil
import re
import unicodedata
from collections import Counter, defaultdict, namedtuple
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache, partial
from itertools import chain, count, product
from types import SimpleNamespace

import faker.providers.person
import pandas as pd
import presidio_analyzer as pa
import tldextract
from presidio_analyzer import predefined_recognizers as pre
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig
from spacy.language import Language
from spacy.tokens import Token

from therapy_turns.io.transcripts import DEFAULT_SPEAKERS
from therapy_turns.nlp import load_pipeline
from therapy_turns.paths import DATA_DIR, read_yaml

log = logging.getLogger(__name__)
Known = Mapping[str, Sequence[str]] | None  # strings always redacted, by type
Nlp = Language | None  # a spaCy pipeline for Presidio (None: the project's, with NER)

TEXT_COLUMNS = ("raw_text", "thinking", "meta_notes", "text", "event_text")  # numbering order
#: Placeholder types, in the order that types a merged overlap of findings.
TYPES = tuple("EMAIL HANDLE URL IP PHONE DATE ID ADDRESS POSTCODE AGE NAME PLACE ORG".split())
SWEPT = ("NAME", "PLACE", "ORG")  # swept through the whole session once found
PLACEHOLDER_RE = re.compile(r"\[(?:" + "|".join(TYPES) + r")_\d+\]")
NOT_NEEDED = ("parser", "textcat", "textcat_multilabel")  # spaCy components Presidio needn't
_WORDS = re.compile(r"(?<![^\W_])[^\W\d_]{2,}(?![^\W_])")  # "_" parts words too
_CAMEL = re.compile(r"(?:[A-Z][a-z]+)+[A-Z][a-z]*")  # "WorldRemit", "PwC"
_NOUNS = ("NOUN", "PROPN", "ADJ")  # tags of a possible name (the tagger calls some names ADJ)
_EDGE = " \t\n.,;:!?\"'“”‘’[]"
_BEFORE = re.compile(r"((?<!\w)[Tt]he\s+)?((?:\w+[-'’/])*\w*)\Z")  # a "the", the word's start
_AFTER = re.compile(r"\w*(?:[-.'’_/#]\w+)*")  # the rest of the word: "Kim-Ly", "Robert's"
_ANONYMIZER = AnonymizerEngine()
Match = namedtuple("Match", "start end kind surface score", defaults=[0.0])  # score 0: swept
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)  # offline


@lru_cache(maxsize=1)
def load_rules() -> SimpleNamespace:
    """``data/redact.yaml`` (regex compiled, word lists as sets) and the word lists it uses."""
    r = SimpleNamespace(**read_yaml(DATA_DIR / "redact.yaml"))
    r.date_requires = re.compile(r.date_requires)
    for key in ("name_cue_words", "place_cue_words", "never_redact", "titles", "not_name_types"):
        setattr(r, key, frozenset(w.casefold() for w in getattr(r, key)))
    r.not_names = r.name_cue_words | r.never_redact | r.titles  # not names when capitalised
    safe = "|".join(sorted(map(re.escape, r.not_names), key=len, reverse=True))
    r.safe = re.compile(r"(?i)(?<!\w)(?:" + safe.replace("'", "['’]") + r")(?!\w)")
    r.folds = [str.maketrans(t) for t in r.transliterations]
    lines = (DATA_DIR / "common_words.tsv").read_text(encoding="utf-8").splitlines()
    r.logprob = {w: float(p) for w, p in (ln.split("\t") for ln in lines if ln and ln[0] != "#")}
    pkg, skip = faker.providers.person, r.given_name_locales_skipped  # Faker's, offline
    locales = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.name not in skip]
    provs = [importlib.import_module(f"{pkg.__name__}.{loc}").Provider(None) for loc in locales]
    r.given_names = frozenset(n for p in provs for n in p.first_names if n.istitle())
    lemmas = load_pipeline(NOT_NEEDED).get_pipe("lemmatizer").lookups  # redactor's
    r.dictionary = frozenset(chain(*lemmas.get_table("lemma_index").values()))  # WordNet base forms
    return r


def is_common_word(word: str, threshold: float | None = None) -> bool:
    """``word`` is at least as frequent in English as ``exp(threshold)`` (default: redact.yaml)."""
    limit = load_rules().common_word_logprob if threshold is None else threshold
    return load_rules().logprob.get(word.casefold(), -100.0) >= limit


class TokenNameRecognizer(pa.EntityRecognizer):
    """Names and places by word: rare words, given names, capitals inside a sentence, cues."""

    def load(self) -> None: ...

    def analyze(self, text: str, entities: list, nlp_artifacts: NlpArtifacts | None) -> list:
        doc, r, out = nlp_artifacts.tokens if nlp_artifacts else [], load_rules(), []
        tagged = bool(doc) and doc.has_annotation("POS")
        self.safe = {t.i for m in r.safe.finditer(text) for t in doc.char_span(*m.span()) or ()}
        kinds = [t.is_alpha and len(t) > 1 and self._kind(t, tagged) or None for t in doc]
        for t in reversed(doc[:-1]):  # a title, particle or nationality joins the name after it
            titled = t.text.istitle() and (t.lower_ in r.titles or t.ent_type_ == "NORP")
            foreign = t.is_lower and not is_common_word(t.text, r.lowercase_name_logprob)
            link = t.i and kinds[t.i - 1] and (t.lower_ in ("of", "upon") or foreign)  # "Isle of X"
            ks = t.i and t.lower_ in ("and", "&") and kinds[t.i - 1 : t.i + 2]  # not "Jo and Al"
            org = ks and ("CAPITALISED_ORG" in ks or ks[0] and t.nbor(-1).text not in r.given_names)
            joins = t.lower_ in r.name_particles or titled or link or org  # "Marks and Spencer"
            kinds[t.i] = kinds[t.i] or (kinds[t.i + 1] if joins and t.whitespace_ else None)
        for t in (t for t in doc if kinds[t.i]):  # a run of words is one finding
            joined = out and kinds[t.i - 1] and doc[t.i - 1].whitespace_ == " "
            last = out.pop() if joined else pa.RecognizerResult(kinds[t.i], t.idx, 0, 0.5)
            k = min(last.entity_type, kinds[t.i], key=r.token_kinds.index)
            out.append(pa.RecognizerResult(k, last.start, t.idx + len(t), 0.5))
        return out

    def _kind(self, tok: Token, tagged: bool) -> str | None:
        r, doc, i = load_rules(), tok.doc, tok.i
        rare = i not in self.safe and not is_common_word(tok.text, r.lowercase_name_logprob)
        prev = doc[i - 2] if i > 1 and doc[i - 1].lower_ in (",", "is", "was") else doc[i - 1]
        cue = i > 0 and prev.lower_ in r.name_cue_words
        listed = tok.text.title() in r.given_names
        unlisted = not {tok.lower_, tok.lemma_.lower()} & r.dictionary  # not an English word
        propn = tok.is_lower and tok.pos_ == "PROPN" and unlisted
        given = listed and (tok.pos_ in _NOUNS or unlisted) or propn
        place = "CAPITALISED_PLACE" if prev.lower_ in r.place_cue_words else None
        if tok.is_lower:  # "my friend jo", "tomek", "we moved to swindon"
            cued = cue and (unlisted or tok.pos_ in ("NOUN", "PROPN", ""))
            named = cued or tagged and given and len(tok) > 2
            went = i > 1 and doc[i - 2].lower_ in r.motion_words  # "went to swindon"
            verb = tok.pos_ == "VERB" and prev.lower_ == "to" and not went  # "to reframe"
            where = not verb and (place or prev.lower_ in r.org_cue_words and "CAPITALISED_ORG")
            kind = "LOWERCASE_NAME" if named else tagged and unlisted and where
            return rare and not tok.is_stop and kind or None
        if not tagged or not (tok.text.istitle() or _CAMEL.fullmatch(tok.text)):
            return None
        if rare and len(tok) > 2 and (tok.pos_ in ("PROPN", "NOUN") or listed or unlisted):
            return "RARE_PROPER_NOUN"
        start = i == 0 or doc[i - 1].is_space or doc[i - 1].is_punct and doc[i - 1].text != ","
        skip = tok.ent_type_.casefold() in r.not_name_types or i in self.safe
        nxt = doc[min(i + 1, len(doc) - 1)]  # "Mo found", "Mo's sister", "Hung from work"
        subj = nxt.lemma_ != "be" and {nxt.tag_, nxt.lower_}.intersection(r.subject_next)
        if start and not (tok.pos_ == "PROPN" and subj) or skip or r.date_requires.match(tok.text):
            return None  # a capital at the start of a sentence or quote says little, nor these
        label = "PERSON" if given or cue and tok.pos_ in _NOUNS else tok.ent_type_  # not known safe
        return r.capitalised_by_label.get(label, place or "GIVEN_NAME")


@lru_cache(maxsize=8)
def get_analyzer(nlp: Nlp = None) -> pa.AnalyzerEngine:
    """The Presidio analyzer (cached) over ``nlp`` (default: the project's pipeline, NER on)."""
    nlp, rules = nlp or load_pipeline(NOT_NEEDED), load_rules()
    ner = NerModelConfiguration(**rules.spacy_ner)
    recognizers = [getattr(pre, name)(**kw) for name, kw in rules.presidio_recognizers.items()]
    for rec in recognizers:
        for pattern in rec.patterns if rec.name in rules.score_overrides else ():
            pattern.score = rules.score_overrides[rec.name]
        if rec.name == "EmailRecognizer":  # the domain's suffix from tldextract's bundled list
            rec.validate_result = lambda s: _TLD(s.rpartition("@")[2]).suffix != ""
    recognizers += [*map(pa.PatternRecognizer.from_dict, rules.recognizers)]
    recognizers.append(TokenNameRecognizer(rules.token_kinds))
    log.info("redaction: Presidio analyzer over spaCy %s", nlp.meta.get("name"))
    engine = SpacyNlpEngine([{"lang_code": "en", "model_name": nlp.meta.get("name", "")}], ner)
    engine.nlp = {"en": nlp}  # the loaded pipeline: Presidio never loads (or downloads) a model
    enhancer = LemmaContextAwareEnhancer(context_suffix_count=3, context_matching_mode="whole_word")
    registry = pa.RecognizerRegistry(recognizers)  # Presidio's defaults: English, ignoring case
    return pa.AnalyzerEngine(registry, engine, context_aware_enhancer=enhancer)


def _finding(text: str, r: pa.RecognizerResult, rules: SimpleNamespace) -> Match | None:
    """A Presidio result without edge punctuation and 's (:func:`_widen` adds them), if kept."""
    kind = rules.entity_types.get(r.entity_type)
    s = text[r.start : r.end]
    t = s.lstrip(_EDGE + "(" * (")" not in s))
    u = t.rstrip(_EDGE + ")" * ("(" not in t))
    u = u[:-2] if len(u) > 2 and u[-2:] in ("'s", "’s") else u
    by, start = (r.recognition_metadata or {}).get("recognizer_name"), r.start + len(s) - len(t)
    drop = (
        (not kind or not u or re.search(r"[][]", re.sub(r"\[(?:at|dot)\]", "", u)))
        or (kind == "DATE" and by != "SpelledDateRecognizer" and not rules.date_requires.search(u))
        or (kind == "PHONE" and 0 < sum(map(str.isdigit, u)) < rules.phone_min_digits)
        or (by in rules.common_checked and all(map(is_common_word, _WORDS.findall(u))))
        or (by == "SpacyRecognizer" and kind in SWEPT and u == u.lower())
        or (kind in SWEPT and not {*rules.safe.sub(" ", u).lower().split()} - {"and", "&", "of"})
    )
    return None if drop else Match(start, start + len(u), kind, u, r.score)


def _merge(found: Iterable[Match], text: str) -> list[Match]:
    """Union of overlapping matches, typed by the highest score, then by :data:`TYPES` order."""
    out: list[Match] = []
    for m in sorted((_widen(m, text) for m in found), key=lambda m: (m.start, -m.end)):
        if out and m.start < out[-1].end:
            last, end = out[-1], max(out[-1].end, m.end)
            top = min(last, m, key=lambda x: (-x.score, TYPES.index(x.kind)))
            out[-1] = Match(last.start, end, top.kind, text[last.start : end], top.score)
        else:
            out.append(m)
    return out


def _widen(m: Match, text: str) -> Match:
    """``m`` over the whole words it touches (joined by - . ' _ / #) and a "the" before it."""
    before = _BEFORE.search(text[max(0, m.start - 60) : m.start])[0 if m.kind in SWEPT else 2]
    start, end = m.start - len(before), m.end + len(_AFTER.match(text, m.end)[0])
    return Match(start, end, m.kind, text[start:end], m.score)


def find_identifiers(texts: Sequence[str], nlp: Nlp = None) -> list[list[Match]]:
    """The identifiers Presidio finds in each text (filtered, overlaps merged), in text order."""
    return [_merge(f, t) for t, f in zip(texts, _findings(texts, nlp), strict=True)]


def _findings(texts: Sequence[str], nlp: Nlp = None) -> list[list[Match]]:
    r = load_rules()
    results = pa.BatchAnalyzerEngine(get_analyzer(nlp)).analyze_iterator(list(texts), **r.analyze)
    pairs = zip(texts, results, strict=True)
    return [[m for x in res if (m := _finding(text, x, r))] for text, res in pairs]


def name_variants(name: str, session_words: Iterable[str] = ()) -> set[str]:
    """A found name's forms swept through its session (parts, nicknames, short forms, cases)."""
    rules, common = load_rules(), is_common_word
    forms = {" ".join(name.split())}
    parts = [w for w in name.split() if w.strip(".").casefold() not in rules.titles and len(w) > 1]
    forms.update(p for p in parts if len(parts) > 1 and not common(p))
    for p in parts:
        forms.update(*(g for g in rules.nicknames if p in g))
        forms.update(w for w in session_words if _short_form(w, p) and not common(w))
    forms |= {f.lower() for f in forms if not any(common(w) for w in f.split())}
    nfkd = [unicodedata.normalize("NFKD", f.translate(t)) for f in forms for t in rules.folds]
    bare = {"".join(c for c in f if not unicodedata.combining(c)) for f in nfkd}
    return forms | {f for f in bare if not common(f)}  # and without accents: "siobhan"


def _short_form(word: str, name: str) -> bool:
    w, n = word.casefold(), name.casefold()
    if n.startswith(w):
        return len(w) < len(n) and (len(w) >= 3 or len(w) == 2 and word[0].isupper())
    stem = re.sub(r"(?:ie|y|ey|o|s|z|ek|ito|ita|inho|inha)$", "", w)  # a diminutive ending
    two = stem != w and (len(stem) == 2 and w[-1] == "z" or len(stem) == 3 and stem[1] == stem[2])
    stem = stem[:2] if two else stem  # "gaz" of "Gareth", "immy" of "Imogen", "tomek", "juanito"
    ending = 4 <= len(w) <= len(n) - 3 and n.endswith(w)  # and letters in order: "cal", "Cathal"
    sub = (
        len(w) >= 3 and w[:2] == n[:2] and w[-1] == n[-1] and re.search(".*".join(w), n) is not None
    )
    return ending or sub or (two or len(stem) >= 3) and len(stem) <= len(n) and n.startswith(stem)


class _Session:
    """A session's swept forms (of findings, known strings, speaker labels) and placeholders."""

    def __init__(self, texts: list[str], labels: Iterable[str], known: Known, found: dict) -> None:
        self.found, votes = found, defaultdict(Counter)
        seen = [(m.surface, m.kind, 1) for t in texts for m in found.get(t, []) if m.kind in SWEPT]
        seen += [(s, k, 10**6) for k, ss in (known or {}).items() for s in ss]
        seen += [(x, "NAME", 10**6) for x in labels if x.strip().lower() not in DEFAULT_SPEAKERS]
        for s, k, n in (x for x in seen if x[0].strip()):
            votes[" ".join(s.split())][k] += n
        words = {w for t in texts for w in _WORDS.findall(t)} - load_rules().dictionary
        self.forms: dict[str, tuple[str, str]] = {}  # swept form -> type, surface it comes from
        for s, c in sorted(votes.items(), key=lambda sc: (-len(sc[0]), sc[0])):
            k = min(c, key=lambda k: (-c[k], TYPES.index(k)))
            lower = s if any(map(is_common_word, s.split())) else s.lower()
            forms = name_variants(s, words) if k == "NAME" else {s, lower}
            for f in sorted(forms, key=lambda f: (f != s, f)):
                self.forms.setdefault(f, (k, s))
        alts = sorted(self.forms, key=lambda s: (-len(s), s))
        body = "|".join(r"\s+".join(map(re.escape, s.split())) for s in alts)
        self.regex = re.compile(rf"(?<![\w@])(?:{body})(?![\w@])" if alts else "(?!)")
        self.ids: dict[tuple[str, str], str] = {}
        self.used: Counter[tuple[str, str, str]] = Counter()  # (placeholder, type, surface)

    def placeholder(self, kind: str, surface: str) -> str:
        s = re.sub(r"^[Tt]he\s+|['’]s$", "", " ".join(surface.split()))
        s = self.forms.get(s, (kind, s))[1].casefold()
        key = (re.sub(r"\D", "", s) or s) if kind == "PHONE" else s
        key = re.sub(r"^(?:https?|ftp)://|/+$", "", key) if kind == "URL" else key
        n = sum(k == kind for k, _ in self.ids) + 1
        return self.ids.setdefault((kind, key), f"[{kind}_{n}]")

    def matches(self, text: str) -> list[Match]:
        hits = self.regex.finditer(text)
        swept = [Match(*m.span(), self.forms[" ".join(m[0].split())][0], m[0]) for m in hits]
        return _merge(self.found.get(text, []) + swept, text)

    def redact(self, text: str) -> str:  # and counts the replacements in self.used
        matches = self.matches(text)
        self.used.update((self.placeholder(m.kind, m.surface), m.kind, m.surface) for m in matches)
        ops = {k: OperatorConfig("custom", {"lambda": partial(self.placeholder, k)}) for k in TYPES}
        results = [pa.RecognizerResult(m.kind, m.start, m.end, 1.0) for m in matches]
        return _ANONYMIZER.anonymize(text, results, ops, merge_entities_with_spaces=False).text


def _sessions(turns: pd.DataFrame, nlp: Nlp, known: Known) -> Iterator[tuple]:
    if bad := [k for k in known or {} if k not in TYPES]:
        raise ValueError(f"known: types {bad} unknown; expected some of {list(TYPES)}")
    cols = [c for c in TEXT_COLUMNS if c in turns.columns]
    values = sorted({v for c in cols for v in turns[c] if isinstance(v, str) and v.strip()})
    found = dict(zip(values, _findings(values, nlp), strict=True))  # once per distinct text
    for sid, g in turns.groupby("session_id", sort=False):
        labels = g["speaker_label"].astype(str) if "speaker_label" in g else []
        texts = [v for c in cols for v in g[c] if isinstance(v, str)]  # not a missing cell
        yield sid, g, _Session(texts, labels, known, found)


def redaction_spans(turns: pd.DataFrame, nlp: Nlp = None) -> dict[object, list[Match]]:
    """Row index -> the spans of ``text`` that :func:`redact_turns` replaces (benchmark)."""
    sessions = _sessions(turns, nlp, None)
    return {i: sess.matches(str(turns.at[i, "text"])) for _, g, sess in sessions for i in g.index}


def redact_turns(turns: pd.DataFrame, nlp: Nlp = None, known: Known = None) -> pd.DataFrame:
    """The turn table with identifiers replaced by placeholders (``known``: always, by type)."""
    return _run(turns, nlp, known)[0]


def redaction_map(turns: pd.DataFrame, nlp: Nlp = None, known: Known = None) -> pd.DataFrame:
    """What :func:`redact_turns` replaces, with the original strings: never write it out."""
    return _run(turns, nlp, known)[1]


def _run(turns: pd.DataFrame, nlp: Nlp, known: Known) -> tuple[pd.DataFrame, pd.DataFrame]:
    cols, out, audit = [c for c in TEXT_COLUMNS if c in turns.columns], turns.copy(), []
    for sid, g, sess in _sessions(turns, nlp, known):
        for idx, c in product(g.index, cols):
            if isinstance(v := turns.at[idx, c], str):  # a missing cell stays missing
                out.at[idx, c] = sess.redact(v)
        audit += [(sid, p, k, s, n) for (p, k, s), n in sess.used.items()]
        log.info("redacted a session: %s", dict(Counter(k for k, _ in sess.ids)))
    if "speaker_label" in out:
        std = out["speaker_label"].str.strip().str.lower().isin(list(DEFAULT_SPEAKERS))
        out.loc[~std, "speaker_label"] = out.loc[~std, "speaker"].str.capitalize()
    return out, pd.DataFrame(audit, columns="session_id placeholder type surface count".split())


def redact_speakers(speakers: Mapping[str, str] | None) -> dict[str, str]:
    """``--speaker`` for a redacted run's manifest: non-role labels become ``[SPEAKER_n]``."""
    n, std, pairs = count(1), DEFAULT_SPEAKERS, sorted((speakers or {}).items())
    return {x if x.strip().lower() in std else f"[SPEAKER_{next(n)}]": r for x, r in pairs}
