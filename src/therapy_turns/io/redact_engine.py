"""The Presidio analyzer behind :mod:`therapy_turns.io.redact`, built once per process.

* NLP engine: Presidio's :class:`~presidio_analyzer.nlp_engine.SpacyNlpEngine` holding the
  project's own spaCy pipeline (:func:`therapy_turns.nlp.load_pipeline` with NER on), so Presidio
  never downloads a model; or any pipeline passed in (tests use hand-built ones).
* Recognizers: the Presidio predefined recognizers listed in ``data/redact.yaml``
  (``PhoneRecognizer`` uses Google's ``phonenumbers`` with the configured regions; the e-mail
  recognizer checks domains against tldextract's bundled suffix list, offline), the project's
  pattern recognizers of ``data/redact.yaml`` (Presidio ``PatternRecognizer`` definitions),
  :class:`LowercaseNameRecognizer` and :class:`RareProperNounRecognizer`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import tldextract
from presidio_analyzer import (
    AnalyzerEngine,
    EntityRecognizer,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer import predefined_recognizers as predefined
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from spacy.language import Language

from therapy_turns.nlp import load_pipeline
from therapy_turns.paths import DATA_DIR, read_yaml

log = logging.getLogger(__name__)

#: spaCy components Presidio does not need (it uses tokens, lemmas, stop words and entities).
NOT_NEEDED = ("parser", "textcat", "textcat_multilabel")


@dataclass(frozen=True)
class Rules:
    """The settings of ``data/redact.yaml``."""

    score_threshold: float
    phone_regions: tuple[str, ...]
    phone_leniency: int
    phone_min_digits: int
    presidio_recognizers: tuple[str, ...]
    score_overrides: Mapping[str, float]
    entity_types: Mapping[str, str]
    spacy_entities: Mapping[str, str]
    date_requires: re.Pattern[str]
    common_word_logprob: float
    lowercase_name_logprob: float
    name_cue_words: frozenset[str]
    nicknames: tuple[tuple[str, ...], ...]
    never_redact: frozenset[str]
    recognizers: tuple[Mapping[str, Any], ...]


@lru_cache(maxsize=4)
def load_rules(path: str | Path | None = None) -> Rules:
    """Read the redaction rules (``data/redact.yaml`` by default)."""
    raw = read_yaml(Path(path) if path else DATA_DIR / "redact.yaml")
    return Rules(
        score_threshold=float(raw["score_threshold"]),
        phone_regions=tuple(raw["phone_regions"]),
        phone_leniency=int(raw["phone_leniency"]),
        phone_min_digits=int(raw["phone_min_digits"]),
        presidio_recognizers=tuple(raw["presidio_recognizers"]),
        score_overrides=dict(raw.get("score_overrides") or {}),
        entity_types=dict(raw["entity_types"]),
        spacy_entities=dict(raw["spacy_entities"]),
        date_requires=re.compile(raw["date_requires"]),
        common_word_logprob=float(raw["common_word_logprob"]),
        lowercase_name_logprob=float(raw["lowercase_name_logprob"]),
        name_cue_words=frozenset(w.casefold() for w in raw["name_cue_words"]),
        nicknames=tuple(tuple(g) for g in raw["nicknames"]),
        never_redact=frozenset(s.casefold() for s in raw["never_redact"]),
        recognizers=tuple(raw["recognizers"]))


#: The frequent English words of spacy-lookups-data's ``en_lexeme_prob`` table (log probability
#: >= -13.5, lower-case alphabetic), extracted once into package data: loading the whole table
#: takes seconds per process.
COMMON_WORDS = DATA_DIR / "common_words.tsv"


@lru_cache(maxsize=1)
def word_logprob() -> Mapping[str, float]:
    """Natural-log unigram probabilities of frequent English words (:data:`COMMON_WORDS`)."""
    out = {}
    for line in COMMON_WORDS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            word, logprob = line.split("\t")
            out[word] = float(logprob)
    return out


def is_common_word(word: str, threshold: float) -> bool:
    """``word`` (lower-cased) is at least as frequent in English as ``exp(threshold)``
    (``threshold`` >= -13.5, the floor of :data:`COMMON_WORDS`)."""
    return word_logprob().get(word.casefold(), -100.0) >= threshold


class ProjectSpacyEngine(SpacyNlpEngine):
    """Presidio's spaCy NLP engine over an already loaded pipeline (no download, no reload)."""

    def __init__(self, nlp: Language, ner: NerModelConfiguration) -> None:
        name = nlp.meta.get("name", "pipeline")
        super().__init__(models=[{"lang_code": "en", "model_name": f"{nlp.lang}_{name}"}],
                         ner_model_configuration=ner)
        self._pipeline = nlp

    def load(self) -> None:
        """Use the given pipeline instead of ``spacy.load``-ing (and maybe downloading) one."""
        self.nlp = {"en": self._pipeline}


class OfflineEmailRecognizer(predefined.EmailRecognizer):
    """Presidio's e-mail recognizer with tldextract's bundled suffix list (never fetched). The
    domain must end in a public suffix (Presidio asks for a registrable domain, which rejects
    addresses at wildcard suffixes such as ``school.sch.uk``)."""

    _extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    def validate_result(self, pattern_text: str) -> bool:
        return self._extract(pattern_text.rpartition("@")[2]).suffix != ""


class LowercaseNameRecognizer(EntityRecognizer):
    """A rare lower-case word right after a relationship word is a name: "my friend jo",
    "my cousin, arjun". Rare: rarer in English than ``rules.lowercase_name_logprob``; not a
    stop word; tagged as a noun or proper noun."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        super().__init__(supported_entities=["LOWERCASE_NAME"], name="LowercaseNameRecognizer",
                         supported_language="en")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        """Lower-case name candidates in the tokens Presidio's NLP engine made."""
        if nlp_artifacts is None or nlp_artifacts.tokens is None:
            return []
        doc = nlp_artifacts.tokens
        out = []
        for tok in doc:
            prev = tok.nbor(-1) if tok.i > 0 else None
            if prev is not None and prev.text == "," and tok.i > 1:
                prev = tok.nbor(-2)
            if (prev is None or prev.lower_ not in self.rules.name_cue_words
                    or not tok.is_lower or not tok.is_alpha or len(tok) < 2 or tok.is_stop
                    or tok.pos_ not in ("NOUN", "PROPN", "")
                    or is_common_word(tok.text, self.rules.lowercase_name_logprob)):
                continue
            out.append(RecognizerResult("LOWERCASE_NAME", tok.idx, tok.idx + len(tok), 0.6))
        return out


class RareProperNounRecognizer(EntityRecognizer):
    """A capitalised word (first letter only) that is not a frequent English word and that the
    tagger calls a proper noun: "Chukwuemeka", "Geneviève", "Kyiv" (names and places the NER
    model misses). The frequency check keeps capitalised ordinary words at the start of a
    sentence. Needs the tagger (a pipeline without one: nothing found)."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        super().__init__(supported_entities=["RARE_PROPER_NOUN"],
                         name="RareProperNounRecognizer", supported_language="en")

    def load(self) -> None:  # noqa: D102 - nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
                ) -> list[RecognizerResult]:
        """Rare capitalised proper nouns in the tokens Presidio's NLP engine made."""
        if nlp_artifacts is None or nlp_artifacts.tokens is None \
                or not nlp_artifacts.tokens.has_annotation("POS"):
            return []
        out = []
        for tok in nlp_artifacts.tokens:
            if (not tok.is_alpha or len(tok) < 3 or not tok.text[0].isupper()
                    or not tok.text[1:].islower() or tok.pos_ not in ("PROPN", "NOUN")
                    or is_common_word(tok.text, self.rules.lowercase_name_logprob)):
                continue
            out.append(RecognizerResult("RARE_PROPER_NOUN", tok.idx, tok.idx + len(tok), 0.5))
        return out


def _predefined(name: str, rules: Rules) -> EntityRecognizer:
    if name == "EmailRecognizer":
        return OfflineEmailRecognizer()
    if name == "PhoneRecognizer":
        return predefined.PhoneRecognizer(supported_regions=rules.phone_regions,
                                          leniency=rules.phone_leniency)
    if name == "SpacyRecognizer":
        return predefined.SpacyRecognizer(
            supported_entities=sorted(set(rules.spacy_entities.values())))
    rec = getattr(predefined, name)()
    if name in rules.score_overrides:
        for pattern in rec.patterns:
            pattern.score = rules.score_overrides[name]
    return rec


def build_analyzer(nlp: Language, rules: Rules | None = None) -> AnalyzerEngine:
    """A Presidio analyzer over ``nlp`` with the recognizers of ``rules``."""
    rules = rules or load_rules()
    ignore = [lab for lab in nlp.get_pipe("ner").labels if lab not in rules.spacy_entities] \
        if "ner" in nlp.pipe_names else []
    ner = NerModelConfiguration(model_to_presidio_entity_mapping=dict(rules.spacy_entities),
                                labels_to_ignore=ignore)
    engine = ProjectSpacyEngine(nlp, ner)
    engine.load()
    registry = RecognizerRegistry(supported_languages=["en"])
    for name in rules.presidio_recognizers:
        registry.add_recognizer(_predefined(name, rules))
    for spec in rules.recognizers:
        registry.add_recognizer(PatternRecognizer.from_dict({**spec, "supported_language": "en"}))
    registry.add_recognizer(LowercaseNameRecognizer(rules))
    registry.add_recognizer(RareProperNounRecognizer(rules))
    return AnalyzerEngine(nlp_engine=engine, registry=registry, supported_languages=["en"],
                          default_score_threshold=rules.score_threshold,
                          context_aware_enhancer=LemmaContextAwareEnhancer(
                              context_prefix_count=5, context_suffix_count=3,
                              context_matching_mode="whole_word"))


@lru_cache(maxsize=4)
def default_analyzer(model: str | None = None) -> AnalyzerEngine:
    """The analyzer over the project's pipeline (NER on), built once per process."""

    nlp = load_pipeline(model, disable=NOT_NEEDED)
    log.info("redaction: Presidio analyzer over spaCy %s %s", nlp.meta.get("name"),
             nlp.meta.get("version"))
    return build_analyzer(nlp)
