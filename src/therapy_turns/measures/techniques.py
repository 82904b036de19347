"""Rule-based therapist technique coder: forms (MITI 4.2.1 / MISC 2.5), ACT processes, AnnoMI
main behaviour.

Every label points at the words that triggered it. The codebook is ``docs/codebook.md`` (machine-
readable: ``data/codebook.yaml``, with the manual section behind each rule); the rules are
``data/technique_patterns.yaml``; the statement rules (reflections, directions) are
:mod:`measures.statements`.

How a therapist turn is coded
-----------------------------
1. spaCy ``Matcher``, ``PhraseMatcher`` and ``DependencyMatcher`` rules run once over the turn's Doc
   (the shared parse: never re-parsed here); each match is assigned to its sentence.
2. Per sentence: rules with a context condition (``requires``) keep only matches whose sentence
   holds one of the listed words; ``veto`` rules remove their code from the sentence; in a
   role-play turn, matches inside quotation marks are the character's words and are dropped
   (except role-play cues).
3. Questions come from :func:`measures.questions.sentence_question_type` (the shared detector;
   quoted and rhetorical questions are ``None``), re-mapped by MISC 2.5: yes/no-shaped requests for
   content ("Can you think of ...?") are open; wh-questions that ask for a specific fact ("How
   many ...?", "How long ago ...?") are closed; embedded questions without a question mark ("I
   wonder what ...") are open.
4. A sentence that is not a question is a statement: MITI cue rules (affirm, seeking
   collaboration, emphasizing autonomy, giving information, persuade, confront, exercise) code it
   directly; a direction (imperative) with no other code is Persuade; a statement with no such
   code that conveys the client's content is a reflection (:func:`measures.statements.reflection`).
5. Persuade in a turn that also seeks collaboration or emphasises autonomy is Persuade with
   Permission (MITI 4.2.1). The turn's labels are the union over its sentences; no form → ``other``.
   The main behaviour is chosen from the forms by the codebook precedence (:func:`main_behaviour`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from spacy.matcher import DependencyMatcher, Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from therapy_turns.analysis import mi
from therapy_turns.analysis.shifts import transition_entropy
from therapy_turns.measures.questions import quote_mask as mask
from therapy_turns.measures.questions import sentence_question_type
from therapy_turns.measures.registry import Column, Measure, register, speaker_means
from therapy_turns.measures.statements import (
    ReflectionSettings,
    complexity,
    content_lemmas,
    imperative,
    is_direction,
    reflection,
)
from therapy_turns.measures.views import DocView
from therapy_turns.nlp import word_tokenizer
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import KEYS, THERAPIST

log = logging.getLogger(__name__)

DATA = DATA_DIR
#: rule codes that are cues for the sentence rules, never reported as forms themselves
HELPER_CODES = {"reflection_stem_complex", "reflection_stem_simple", "content_request",
                "specific_request", "embedded_question", "complex_cue", "courtesy"}
#: forms whose cue rules make a statement something other than a reflection
STATEMENT_FORMS = {"affirmation", "giving_information", "seeking_collaboration",
                   "emphasizing_autonomy", "persuade", "persuade_with_permission", "confront",
                   "exercise_instruction", "role_play", "summary"}
#: forms after which a plain statement continues the input rather than reflecting
INPUT_FORMS = {"giving_information", "persuade", "exercise_instruction"}
#: forms a question sentence cannot carry (its cue words there are part of the question)
STATEMENT_ONLY = {"giving_information", "persuade", "affirmation", "summary"}


# --------------------------------------------------------------------------- codebook
@lru_cache(maxsize=1)
def codebook() -> dict[str, Any]:
    """The machine-readable codebook (``data/codebook.yaml``)."""
    return read_yaml(DATA / "codebook.yaml")


def forms() -> list[str]:
    """Form codes, in codebook order."""
    return list(codebook()["forms"])


def act_processes() -> list[str]:
    """ACT process codes, in codebook order."""
    return list(codebook()["act_processes"])


MAIN_BEHAVIOURS = ("question", "reflection", "therapist_input", "other")


def main_behaviour(turn_forms: Iterable[str], precedence: Sequence[str] | None = None) -> str:
    """The one AnnoMI main behaviour of a turn with forms ``turn_forms``.

    Forms map to behaviours by the codebook; when several behaviours occur, the first in
    ``precedence`` (default: codebook ``reflection > question > therapist_input > other``) wins.
    """
    cb = codebook()
    precedence = list(precedence or cb["main_behaviour_precedence"])
    present = {cb["main_behaviour_map"][f] for f in turn_forms if f}
    return next((b for b in precedence if b in present), "other")


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class Rule:
    """One rule of ``technique_patterns.yaml``."""

    id: str
    code: str
    veto: bool = False
    quoted: bool = False
    requires: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Hit:
    """A rule match: the code it supports, the rule id and the matched text."""

    code: str
    rule: str
    text: str
    start: int
    end: int


@dataclass
class TurnCodes:
    """Codes of one therapist turn with their evidence."""

    forms: list[str] = field(default_factory=list)
    act: list[str] = field(default_factory=list)
    evidence: dict[str, list[list[str]]] = field(default_factory=dict)

    @property
    def main_behaviour(self) -> str:
        """The AnnoMI main behaviour by the codebook precedence."""
        return main_behaviour(self.forms)


@lru_cache(maxsize=1)
def patterns() -> dict[str, Any]:
    """The rule file ``data/technique_patterns.yaml``."""
    return read_yaml(DATA / "technique_patterns.yaml")


def _curly(phrase: str) -> list[str]:
    return [phrase, phrase.replace("'", "’")] if "'" in phrase else [phrase]


class Coder:
    """The compiled rules for one spaCy vocabulary; :meth:`code_turn` codes one turn."""

    def __init__(self, vocab: Vocab) -> None:
        spec = patterns()
        st = spec["settings"]
        self.settings = ReflectionSettings(
            st["reflection_min_overlap_plain"], st["reflection_min_content"],
            st["complex_min_novelty"], st["complex_min_content"],
            bool(st["reflection_statement_default"]), int(st["generic_min_content"]))
        known = set(forms()) | set(act_processes()) | HELPER_CODES
        self.rules: dict[str, Rule] = {}
        self.matcher = Matcher(vocab)  # every token rule
        self.phrases = PhraseMatcher(vocab, attr="LOWER")
        self.dep = DependencyMatcher(vocab)
        tokenizer = word_tokenizer()
        for r in spec["rules"]:
            if r["code"] not in known:
                raise ValueError(f"technique_patterns.yaml: rule {r['id']}: "
                                 f"unknown code {r['code']}")
            rule = Rule(r["id"], r["code"], bool(r.get("veto")), bool(r.get("quoted")),
                        frozenset(w.lower() for w in r.get("requires") or ()))
            self.rules[rule.id] = rule
            if "tokens" in r:
                self.matcher.add(rule.id, r["tokens"])
            if "phrases" in r:
                docs = [Doc(vocab, words=[t.text for t in tokenizer(p.lower())])
                        for ph in r["phrases"] for p in _curly(ph)]
                self.phrases.add(rule.id, docs)
            if "dep" in r:
                self.dep.add(rule.id, [r["dep"]])

    # ----------------------------------------------------------------- matching
    def hits(self, doc: Doc, view: DocView | None = None) -> list[Hit]:
        """All rule matches in ``doc`` (sorted by position); ``view``: its
        :class:`~therapy_turns.measures.views.DocView`, if the caller has it."""
        strings = doc.vocab.strings
        v = view or DocView.of(doc)
        found = [(strings[key], s, e) for key, s, e in [*self.matcher(doc), *self.phrases(doc)]]
        if len(self.dep) and doc.has_annotation("DEP"):
            for key, toks in self.dep(doc):
                found.append((strings[key], min(toks), max(toks) + 1))
        out = [Hit(self.rules[r].code, r, v.span_text(s, e), s, e) for r, s, e in found]
        return sorted(set(out), key=lambda h: (h.start, h.end, h.rule))

    def code_turn(self, doc: Doc, prev_client: Doc | None = None, role_play: bool = False
                  ) -> TurnCodes:
        """Code one therapist turn; ``prev_client`` is the preceding client turn."""
        out = TurnCodes()
        v = DocView.of(doc)  # token attributes as lists: no Token objects per pass
        if len(doc) == 0 or not v.doc_text.strip():
            return out
        quoted = quote_mask(doc, v.text)
        hits = self.hits(doc, v)
        role_play = role_play or any(h.code == "role_play" for h in hits)
        client: set[str] | None = None
        words: set[str] = set()
        if prev_client is not None:
            cv = DocView.of(prev_client)
            client = content_lemmas(cv, 0, len(prev_client))
            words = {*cv.low, *cv.lemma}
        found: dict[str, list[list[str]]] = {}
        input_turn = bool({h.code for h in hits} & INPUT_FORMS)
        for sent in doc.sents:
            kept = self._sentence_hits(sent, hits, quoted, role_play, v)
            self._code_sentence(sent, kept, (client, words), quoted, v, found, role_play,
                                input_turn)
        if "persuade" in found and ({"seeking_collaboration", "emphasizing_autonomy"} & set(found)):
            found["persuade_with_permission"] = found.pop("persuade")
        out.forms = [f for f in forms() if f in found] or ["other"]
        out.act = [a for a in act_processes() if a in found]
        out.evidence = {k: found[k] for k in out.forms + out.act if k in found}
        return out

    def _sentence_hits(self, sent: Span, hits: list[Hit], quoted: list[bool], role_play: bool,
                       v: DocView) -> list[Hit]:
        """The hits of ``sent`` after context conditions, quotes and vetoes."""
        words: set[str] | None = None  # the sentence's forms and lemmas, when needed
        kept = []
        for h in hits:
            if not sent.start <= h.start < sent.end:
                continue
            rule = self.rules[h.rule]
            if role_play and not rule.quoted and all(quoted[h.start:h.end]):
                continue
            if rule.requires and words is None:
                words = {*v.lower[sent.start:sent.end], *v.lemma[sent.start:sent.end]}
            if rule.requires and not (rule.requires & words):
                continue
            kept.append(h)
        vetoed = {h.code for h in kept if self.rules[h.rule].veto}
        return [h for h in kept if h.code not in vetoed]

    def _code_sentence(self, sent: Span, kept: list[Hit],
                       client: tuple[set[str] | None, set[str]], quoted: list[bool], v: DocView,
                       found: dict[str, list[list[str]]], role_play: bool = False,
                       input_turn: bool = False) -> None:
        """Add the forms and ACT processes of one sentence to ``found``; ``client``: the content
        lemmas of the previous client turn (None if there is none) and all its words/lemmas."""
        bounds = (sent.start, sent.end)
        codes = {h.code for h in kept}
        qt = sentence_question_type(v, sent.start, sent.end, quoted)
        rule = "q_detector"
        if qt == "closed" and "content_request" in codes:
            qt, rule = "open", "q_content_request"
        elif qt == "open" and "specific_request" in codes:
            qt, rule = "closed", "q_specific_request"
        elif qt is None and "embedded_question" in codes:
            qt, rule = "open", "q_embedded"
        if qt is not None:
            _add(found, f"{qt}_question", rule, v.span_text(*bounds))
        for h in kept:  # a question is not information or advice (MITI 4.2.1 Question)
            if h.code not in HELPER_CODES and not (qt and h.code in STATEMENT_ONLY):
                _add(found, h.code, h.rule, h.text)
        if qt is not None or codes & STATEMENT_FORMS:
            return
        if is_direction(sent, v):
            # MISC 2.5 Direct → MITI Persuade; "let's ..." structures the session (MISC 2.5
            # Structure) and a step of an exercise is an exercise instruction
            if imperative(v, sent.start, sent.end) and "exercise_instruction" not in found \
                    and not codes & {"courtesy", *act_processes()}:
                _add(found, "persuade", "direction", v.span_text(*bounds))
            return
        if role_play:  # the therapist voices a character: no reflection of the client
            return
        stems = [h for h in kept if h.code.startswith("reflection_stem")]
        if any(t.endswith("?") for t in v.text[sent.start:sent.end]) or "courtesy" in codes:
            return
        complex_stem = any(h.code == "reflection_stem_complex" for h in stems)
        lemmas, words = client
        if lemmas is not None and not stems and any(
                v.tag[i] == "CD" and v.low[i] not in words and v.low[i] != "one"
                for i in range(sent.start, sent.end)):
            _add(found, "giving_information", "info_number", v.span_text(*bounds))
            return
        refl = reflection(v, sent.start, sent.end, lemmas, stems[0].rule if stems else None,
                          self.settings, complex_stem,
                          after_input=input_turn or bool(INPUT_FORMS & set(found)))
        if refl == "info":
            _add(found, "giving_information", "info_generic", v.span_text(*bounds))
            return
        if refl is None:
            return
        kind, why = complexity(v, sent.start, sent.end, lemmas or set(), complex_stem,
                               [h.text for h in kept if h.code == "complex_cue"], self.settings,
                               words)
        _add(found, f"{kind}_reflection", f"{refl}+{why}", v.span_text(*bounds))


def _add(found: dict[str, list[list[str]]], code: str, rule: str, text: str) -> None:
    ev = found.setdefault(code, [])
    item = [rule, text.strip()[:120]]
    if item not in ev:
        ev.append(item)


def quote_mask(doc: Doc, texts: Sequence[str] | None = None) -> list[bool]:
    """Per token of ``doc``: is it inside quotation marks (quote characters included)?
    (The question detector's mask, :func:`measures.questions.quote_mask`; ``texts``: the
    Doc's token texts, if the caller has them.)"""
    return mask(doc, texts)


# --------------------------------------------------------------------------- table
@lru_cache(maxsize=4)
def _coder(vocab_id: int, vocab: Vocab) -> Coder:  # vocab_id keys the cache
    return Coder(vocab)


def get_coder(vocab: Vocab) -> Coder:
    """The compiled coder for ``vocab`` (cached)."""
    return _coder(id(vocab), vocab)


def code_turns(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """Code every therapist turn of ``turns`` (``docs[i]`` is the Doc of ``turns.text.iloc[i]``).

    Returns one row per therapist turn, sorted by ``session_id, turn``: ``session_id, turn,
    speaker, form`` (';'-joined forms), ``act_process`` (';'-joined, "" if none),
    ``main_behaviour`` (question|reflection|therapist_input|other), ``evidence`` (JSON: code →
    list of ``[rule id, matched text]``), ``n_forms``, then one boolean column per code:
    ``form_<code>`` and ``act_<code>``. Turns with no speech get no form ("") and ``other``.
    The previous client turn of the same session is used for reflections.
    """
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    order = np.lexsort((turns["turn"].to_numpy(), turns["session_id"].astype(str).to_numpy()))
    rows: list[dict[str, Any]] = []
    prev_client: Doc | None = None
    session = None
    flags = turns["role_play"].to_numpy() if "role_play" in turns else np.zeros(len(turns), bool)
    sids = turns["session_id"].to_numpy(dtype=object)
    speakers = turns["speaker"].to_numpy(dtype=object)
    texts = turns["text"].to_numpy(dtype=object)
    turn_no = turns["turn"].to_numpy()
    for i in order:
        if sids[i] != session:
            session, prev_client = sids[i], None
        doc = docs[i]
        if speakers[i] != "therapist":
            if str(texts[i]).strip():
                prev_client = doc
            continue
        if len(doc) and str(texts[i]).strip():
            tc = get_coder(doc.vocab).code_turn(doc, prev_client, bool(flags[i]))
            form_list, mb = tc.forms, tc.main_behaviour
        else:
            tc, form_list, mb = TurnCodes(), [], "other"
        row: dict[str, Any] = {
            "session_id": sids[i], "turn": int(turn_no[i]), "speaker": "therapist",
            "form": ";".join(form_list), "act_process": ";".join(tc.act), "main_behaviour": mb,
            "evidence": json.dumps(tc.evidence, ensure_ascii=False, sort_keys=True),
            "n_forms": len([f for f in form_list if f != "other"]),
        }
        row.update({f"form_{f}": f in form_list for f in forms()})
        row.update({f"act_{a}": a in tc.act for a in act_processes()})
        rows.append(row)
    out = pd.DataFrame(rows, columns=MEASURE.column_names())
    log.info("coded %d therapist turns", len(out))
    return out.reset_index(drop=True)


def split_codes(value: str) -> list[str]:
    """``"a;b"`` → ``["a", "b"]`` ("" → [])."""
    return [c for c in str(value).split(";") if c]


# --------------------------------------------------------------------------- the measure
def code_rates(rows: pd.DataFrame, measure: Measure,
               tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``<code>__rate``: per session, the share of analysed therapist turns coded with each
    boolean code column (``form_*``, ``act_*``)."""
    flags = [c for c, t in rows.dtypes.items() if c not in KEYS and pd.api.types.is_bool_dtype(t)]
    ther = rows[rows.speaker == THERAPIST]
    rates = ther.groupby("session_id", sort=False)[flags].mean().astype("float64")
    return rates.rename(columns=lambda c: f"{c}__rate")


def behaviour_entropy(rows: pd.DataFrame, measure: Measure,
                      tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``transition_entropy``: per session, the conditional entropy (bits) of the next therapist
    turn's main behaviour given the current one
    (:func:`therapy_turns.analysis.shifts.transition_entropy`)."""
    ther = rows[rows.speaker == THERAPIST]
    ent = ther.groupby("session_id", sort=False)["main_behaviour"].agg(
        lambda s: transition_entropy(s.tolist()))
    return ent.to_frame("transition_entropy")


def mi_indices(rows: pd.DataFrame, measure: Measure,
               tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``mi_<index>``: the MI session indices of :func:`therapy_turns.analysis.mi.
    session_indices` (main-behaviour rates, reflection-to-question ratio, % complex reflections,
    % open questions, MI-adherent and non-adherent rates, change-talk share from the ``client``
    measure's rows when the chunk has them)."""
    client = (tables or {}).get("client")
    ind = mi.session_indices(rows[rows.speaker == THERAPIST], client)
    return ind.rename(columns=lambda c: f"mi_{c}")


def _columns() -> tuple[Column, ...]:
    t = (THERAPIST,)
    return (
        Column("form", "MITI-style forms of the turn, ';'-joined (docs/codebook.md)", "codes", t),
        Column("act_process", "ACT processes of the turn, ';'-joined ('' if none)", "codes", t),
        Column("main_behaviour", "AnnoMI main behaviour: " + "|".join(MAIN_BEHAVIOURS),
               "code", t),
        Column("evidence", "JSON: code -> list of [rule id, matched text]", "JSON", t),
        Column("n_forms", "forms other than 'other'", "count", t),
        *(Column(f"form_{f}", f"turn coded with form {f}", "bool", t) for f in forms()),
        *(Column(f"act_{a}", f"turn coded with ACT process {a}", "bool", t)
          for a in act_processes()),
    )


MEASURE = register(Measure(
    "techniques", code_turns, "one row per therapist turn: MITI forms, ACT processes, AnnoMI "
    "main behaviour, with the evidence for every label", _columns(),
    aggregates=(speaker_means, code_rates, behaviour_entropy, mi_indices),
    cli_columns=("session_id", "turn", "form", "act_process", "main_behaviour", "evidence")))
