"""Rule-based therapist technique coder: forms (MITI 4.2.1 / MISC 2.5), ACT processes and one
AnnoMI main behaviour per therapist turn, each label with the words that triggered it. Codebook,
decision rules and manual sections: ``docs/codebook.md`` (``data/codebook.yaml``); rules:
``data/technique_patterns.yaml``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence, Set
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
from therapy_turns.measures.questions import quote_mask, sentence_question_type
from therapy_turns.measures.registry import Column, Measure, register, speaker_means
from therapy_turns.measures.views import DocView
from therapy_turns.nlp import word_tokenizer
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import KEYS, THERAPIST, is_content

log = logging.getLogger(__name__)

#: rule codes that are cues for the sentence rules, never reported as forms themselves
HELPER_CODES = {"reflection_stem_complex", "reflection_stem_simple", "content_request",
                "specific_request", "embedded_question", "complex_cue", "courtesy"}
#: forms whose cue rules make a statement something other than a reflection
STATEMENT_FORMS = {"affirmation", "giving_information", "seeking_collaboration", "confront",
                   "emphasizing_autonomy", "persuade", "persuade_with_permission", "summary",
                   "exercise_instruction", "role_play"}
#: forms that make a turn input: its plain statements continue the input, not reflect
INPUT_FORMS = {"giving_information", "persuade", "exercise_instruction"}
#: forms a question sentence cannot carry (its cue words there are part of the question)
STATEMENT_ONLY = {"giving_information", "persuade", "affirmation", "summary"}
MAIN_BEHAVIOURS = ("question", "reflection", "therapist_input", "other")


@lru_cache(maxsize=1)
def codebook() -> dict[str, Any]:
    """The machine-readable codebook (``data/codebook.yaml``)."""
    return read_yaml(DATA_DIR / "codebook.yaml")


def forms() -> list[str]:
    """Form codes, in codebook order."""
    return list(codebook()["forms"])


def act_processes() -> list[str]:
    """ACT process codes, in codebook order."""
    return list(codebook()["act_processes"])


def main_behaviour(turn_forms: Iterable[str], precedence: Sequence[str] | None = None) -> str:
    """The AnnoMI main behaviour of a turn with forms ``turn_forms``: of the behaviours present,
    the first in ``precedence`` (default: the codebook's)."""
    cb = codebook()
    precedence = list(precedence or cb["main_behaviour_precedence"])
    present = {cb["main_behaviour_map"][f] for f in turn_forms if f}
    return next((b for b in precedence if b in present), "other")


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
    """A rule match: its code, rule id, matched text and token span."""

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

    main_behaviour = property(lambda self: main_behaviour(self.forms))


# ---------------------------------- statement rules (MITI 4.2.1 decision rules, docs/codebook.md)
LEAD_SKIP = frozenset({"just", "now", "so", "and", "then", "okay", "ok", "well", "first", "next",
                       "also", "again", "gently", "simply", "slowly", "um", "uh", "right", "yeah",
                       "oh", "alright", "but", ","})
_DIRECTION_PHRASES = ("let's", "i'd like you to", "i want you to", "i would like you to")
_YOU = frozenset({"you", "your", "yours", "yourself", "you're", "you've", "you'd", "you'll"})
_ACKNOWLEDGE = frozenset({"good", "great", "okay", "fine", "sure", "alright", "right", "cool",
                          "lovely", "yeah", "yes"})


@dataclass(frozen=True)
class ReflectionSettings:
    """Thresholds of the reflection rules (``settings`` of ``technique_patterns.yaml``)."""

    min_overlap_plain: float  # share of content lemmas said by the client (no lead-in, no "you")
    min_content_plain: int  # content lemmas such a restatement needs
    complex_min_novelty: float  # share of new content lemmas that makes a reflection complex
    complex_min_content: int  # content lemmas a statement needs before novelty can count
    statement_default: bool = True  # any other uncoded statement about the client's world
    generic_min_content: int = 5  # a longer statement sharing no client word is information


def _first_word(v: DocView, start: int, end: int) -> int | None:
    return next((i for i in range(start, end)
                 if not (v.punct[i] or v.space[i] or v.low[i] in LEAD_SKIP)), None)


def imperative(v: DocView, start: int, end: int) -> bool:
    """Does the sentence ``start:end`` open with an imperative verb (not ``let``/``be``, not
    ``you know``)?"""
    i = _first_word(v, start, end)
    return i is not None and v.tag[i] == "VB" and v.low[i] not in ("be", "let") \
        and not (i > 0 and v.low[i - 1] == "you")


def is_direction(v: DocView, start: int, end: int) -> bool:
    """Does the sentence open with a direction (imperative, ``let's``, ``I'd like you to``)?"""
    i = _first_word(v, start, end)
    text = v.span_text(start, end).lower().replace("’", "'")
    return i is not None and (v.low[i] in ("let", "let's") or imperative(v, start, end)
                              or any(p in text for p in _DIRECTION_PHRASES))


def content_lemmas(v: DocView, start: int, end: int) -> set[str]:
    """The content lemmas (:func:`therapy_turns.schema.is_content`) of tokens ``start:end``."""
    cut = slice(start, end)
    return {lemma for lemma, alpha, stop, p, text in zip(
        v.lemma_lower[cut], v.alpha[cut], v.stop[cut], v.pos[cut], v.text[cut], strict=True)
            if is_content(text, p, alpha, stop)}


def addresses_client(v: DocView, start: int, end: int) -> bool:
    """Does the sentence speak of the client (``you``/``your`` ...), the fillers ``you know`` /
    ``you see`` aside?"""
    for i in range(start, end):
        if v.low[i] not in _YOU:
            continue
        after = v.low[i + 2] if i + 2 < end else ""
        filler = v.low[i] == "you" and i + 1 < end and v.low[i + 1] in ("know", "see") and (
            after in (",", "", ".", "um", "uh", "like", "i") or v.punct[min(i + 2, end - 1)])
        if not filler:
            return True
    return False


def reflection(v: DocView, start: int, end: int, client: tuple[set[str] | None, Set[str]],
               stem: str | None, cfg: ReflectionSettings, stem_is_complex: bool = False,
               after_input: bool = False) -> str | None:
    """The rule id if the statement ``start:end`` reflects the client turn (``client``: its
    content lemmas, None if there is none, and all its words), ``info_*`` if it is information
    (a number the client did not say: feedback; a long statement sharing no client word), else
    None. Without a client turn only a lead-in ``stem`` counts; ``after_input`` (the turn gives
    information or advice): only a lead-in or repeated client words make a reflection."""
    client, words = client
    own = any(v.low[i] in ("i", "we") and v.dep[i] in ("nsubj", "nsubjpass", "expl")
              for i in range(start, end))  # the therapist speaks of themselves
    if stem is not None and (stem_is_complex or not own):
        return stem
    if client is None:
        return None
    if stem is None and any(v.tag[i] == "CD" and v.low[i] not in words and v.low[i] != "one"
                            for i in range(start, end)):
        return "info_number"
    if own:
        return None
    content = content_lemmas(v, start, end) - _ACKNOWLEDGE
    if not content:  # "Good.", "Okay, fine.": MISC 2.5 Facilitate
        return None
    overlap = len(content & client) / len(content)
    if overlap >= cfg.min_overlap_plain and (len(content) >= cfg.min_content_plain
                                            or overlap == 1.0):
        return f"refl_overlap_{overlap:.2f}"
    if after_input:
        return None
    you = addresses_client(v, start, end)
    if not overlap and not you and len(content) >= cfg.generic_min_content:
        return "info_generic"
    return "refl_you" if you else "refl_statement" if cfg.statement_default else None


def complexity(v: DocView, start: int, end: int, client: set[str], complex_stem: bool,
               cues: Sequence[str], cfg: ReflectionSettings, client_words: Set[str] = frozenset()
               ) -> tuple[str, str]:
    """``(simple|complex, reason)`` of a reflection: a complex lead-in, a complex cue (texts
    ``cues``) the client did not say (``client_words``), or mostly new content words; else
    simple (MITI 4.2.1: when in doubt, simple)."""
    if complex_stem:
        return "complex", "stem"
    new_cues = [c for c in cues
                if not all(w in client_words or w in client for w in c.lower().split())]
    if new_cues:
        return "complex", f"cue:{new_cues[0]}"
    content = content_lemmas(v, start, end)
    if len(content) >= cfg.complex_min_content:
        novelty = 1.0 - len(content & client) / len(content)
        if novelty >= cfg.complex_min_novelty:
            return "complex", f"novel_{novelty:.2f}"
    return "simple", "default"


@lru_cache(maxsize=1)
def patterns() -> dict[str, Any]:
    """The rule file ``data/technique_patterns.yaml``."""
    return read_yaml(DATA_DIR / "technique_patterns.yaml")


class Coder:
    """The compiled rules for one spaCy vocabulary; :meth:`code_turn` codes one turn."""

    def __init__(self, vocab: Vocab) -> None:
        spec = patterns()
        self.settings = ReflectionSettings(**spec["settings"])
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
                self.phrases.add(rule.id, [
                    Doc(vocab, words=[t.text for t in tokenizer(p.lower())])
                    for ph in r["phrases"] for p in {ph, ph.replace("'", "’")}])
            if "dep" in r:
                self.dep.add(rule.id, [r["dep"]])

    def hits(self, doc: Doc, view: DocView | None = None) -> list[Hit]:
        """All rule matches in ``doc``, sorted by position (``view``: its DocView)."""
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
        """The hits of ``sent`` after context conditions (``requires``), quotes and vetoes."""
        words = {*v.lower[sent.start:sent.end], *v.lemma[sent.start:sent.end]}
        kept = [h for h in hits if sent.start <= h.start < sent.end
                and not (role_play and not self.rules[h.rule].quoted
                         and all(quoted[h.start:h.end]))
                and (not self.rules[h.rule].requires or self.rules[h.rule].requires & words)]
        vetoed = {h.code for h in kept if self.rules[h.rule].veto}
        return [h for h in kept if h.code not in vetoed]

    def _code_sentence(self, sent: Span, kept: list[Hit],
                       client: tuple[set[str] | None, set[str]], quoted: list[bool], v: DocView,
                       found: dict[str, list[list[str]]], role_play: bool = False,
                       input_turn: bool = False) -> None:
        """Add the forms and ACT processes of one sentence to ``found``; ``client``: content
        lemmas (None: no client turn) and all words of the client turn before."""
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
        if is_direction(v, *bounds):
            # MISC 2.5 Direct -> Persuade; not "let's" (Structure) nor an exercise step
            if imperative(v, *bounds) and "exercise_instruction" not in found \
                    and not codes & {"courtesy", *act_processes()}:
                _add(found, "persuade", "direction", v.span_text(*bounds))
            return
        stems = [h for h in kept if h.code.startswith("reflection_stem")]
        if role_play or "courtesy" in codes or any(t.endswith("?") for t in v.text[slice(*bounds)]):
            return  # a role-play character's words, courtesy or a quoted question
        complex_stem = any(h.code == "reflection_stem_complex" for h in stems)
        lemmas, words = client
        refl = reflection(v, *bounds, (lemmas, words), stems[0].rule if stems else None,
                          self.settings, complex_stem,
                          after_input=input_turn or bool(INPUT_FORMS & set(found)))
        if refl is not None and refl.startswith("info_"):
            _add(found, "giving_information", refl, v.span_text(*bounds))
        elif refl is not None:
            kind, why = complexity(v, *bounds, lemmas or set(), complex_stem,
                                   [h.text for h in kept if h.code == "complex_cue"],
                                   self.settings, words)
            _add(found, f"{kind}_reflection", f"{refl}+{why}", v.span_text(*bounds))


def _add(found: dict[str, list[list[str]]], code: str, rule: str, text: str) -> None:
    ev = found.setdefault(code, [])
    item = [rule, text.strip()[:120]]
    if item not in ev:
        ev.append(item)


@lru_cache(maxsize=4)
def get_coder(vocab: Vocab) -> Coder:
    """The compiled coder for ``vocab`` (cached)."""
    return Coder(vocab)


def code_turns(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per therapist turn of ``turns`` (``docs`` row-aligned), sorted by session and
    turn, with the columns of :data:`MEASURE`; the client turn before is used for reflections.
    Turns with no speech get no form ("") and ``other``."""
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    flags = turns["role_play"].to_numpy() if "role_play" in turns else np.zeros(len(turns), bool)
    sids, speakers, texts, turn_no = (turns[c].to_numpy(dtype=object)
                                      for c in ("session_id", "speaker", "text", "turn"))
    rows: list[dict[str, Any]] = []
    session, prev_client = None, None
    for i in np.lexsort((turns["turn"].to_numpy(), sids.astype(str))):
        doc, spoken = docs[i], str(texts[i]).strip() != ""
        if sids[i] != session:
            session, prev_client = sids[i], None
        if speakers[i] != "therapist":
            prev_client = doc if spoken else prev_client
            continue
        tc = get_coder(doc.vocab).code_turn(doc, prev_client, bool(flags[i])) \
            if len(doc) and spoken else None
        fs, act = (tc.forms, tc.act) if tc else ([], [])
        rows.append({
            "session_id": sids[i], "turn": int(turn_no[i]), "speaker": "therapist",
            "form": ";".join(fs), "act_process": ";".join(act),
            "main_behaviour": tc.main_behaviour if tc else "other",
            "evidence": json.dumps(tc.evidence if tc else {}, ensure_ascii=False, sort_keys=True),
            "n_forms": len([f for f in fs if f != "other"]),
            **{f"form_{f}": f in fs for f in forms()},
            **{f"act_{a}": a in act for a in act_processes()}})
    log.info("coded %d therapist turns", len(rows))
    return pd.DataFrame(rows, columns=MEASURE.column_names())


def split_codes(value: str) -> list[str]:
    """``"a;b"`` → ``["a", "b"]`` ("" → [])."""
    return [c for c in str(value).split(";") if c]


def code_rates(rows: pd.DataFrame, measure: Measure,
               tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``<code>__rate``: per session, the share of therapist turns with each boolean code."""
    flags = [c for c, t in rows.dtypes.items() if c not in KEYS and pd.api.types.is_bool_dtype(t)]
    ther = rows[rows.speaker == THERAPIST]
    rates = ther.groupby("session_id", sort=False)[flags].mean().astype("float64")
    return rates.rename(columns=lambda c: f"{c}__rate")


def behaviour_entropy(rows: pd.DataFrame, measure: Measure,
                      tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``transition_entropy``: per session, the entropy (bits) of the next therapist main
    behaviour given the current one."""
    ther = rows[rows.speaker == THERAPIST]
    ent = ther.groupby("session_id", sort=False)["main_behaviour"].agg(
        lambda s: transition_entropy(s.tolist()))
    return ent.to_frame("transition_entropy")


def mi_indices(rows: pd.DataFrame, measure: Measure,
               tables: Mapping[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """``mi_<index>``: the MI session indices of :func:`therapy_turns.analysis.mi.
    session_indices` (change-talk share from the ``client`` rows when the chunk has them)."""
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
