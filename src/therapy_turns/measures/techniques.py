"""Rule-based therapist technique coder: forms (MITI 4.2.1 / MISC 2.5), ACT processes and one
AnnoMI main behaviour per therapist turn, each label with the words that triggered it. Codebook,
decision rules and manual sections: ``docs/codebook.md`` (``data/codebook.yaml``); rules:
``data/technique_patterns.yaml``; statement rules: :mod:`measures.statements`."""

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
from therapy_turns.measures.questions import quote_mask, sentence_question_type
from therapy_turns.measures.registry import Column, Measure, register, speaker_means
from therapy_turns.measures.statements import (
    INPUT_FORMS,
    ReflectionSettings,
    Turn,
    complexity,
    content_lemmas,
    direction,
    reflection,
)
from therapy_turns.measures.views import DocView
from therapy_turns.nlp import word_tokenizer
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import KEYS, THERAPIST

log = logging.getLogger(__name__)

#: rule codes that are cues for the sentence rules, never reported as forms themselves
HELPER_CODES = set(
    "reflection_stem_complex reflection_stem_simple content_request specific_request "
    "embedded_question complex_cue courtesy".split()
)
#: forms whose cue rules make a statement something other than a reflection
STATEMENT_FORMS = set(
    "affirmation giving_information seeking_collaboration confront emphasizing_autonomy persuade "
    "persuade_with_permission summary exercise_instruction role_play".split()
)
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
                raise ValueError(
                    f"technique_patterns.yaml: rule {r['id']}: unknown code {r['code']}"
                )
            rule = Rule(
                r["id"],
                r["code"],
                bool(r.get("veto")),
                bool(r.get("quoted")),
                frozenset(w.lower() for w in r.get("requires") or ()),
            )
            self.rules[rule.id] = rule
            if "tokens" in r:
                self.matcher.add(rule.id, r["tokens"])
            if "phrases" in r:
                curly = [p.lower() for ph in r["phrases"] for p in {ph, ph.replace("'", "’")}]
                docs = [Doc(vocab, words=[t.text for t in tokenizer(p)]) for p in curly]
                self.phrases.add(rule.id, docs)
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

    def code_turn(self, doc: Doc, prev_client: Doc | None = None, role_play=False) -> TurnCodes:
        """Code one therapist turn (a :class:`TurnCodes`); ``prev_client``: the client turn
        before."""
        out = TurnCodes()
        v = DocView.of(doc)  # token attributes as lists: no Token objects per pass
        if len(doc) == 0 or not v.doc_text.strip():
            return out
        t = Turn(v, quote_mask(doc, v.text), self.settings)
        hits = self.hits(doc, v)
        t.role_play = role_play or any(h.code == "role_play" for h in hits)
        if prev_client is not None:
            cv = DocView.of(prev_client)
            t.client, t.words = content_lemmas(cv, 0, len(prev_client)), {*cv.low, *cv.lemma}
        # a number with a unit the client said is a restatement, not information
        hits = [h for h in hits if h.rule != "info_number_unit" or v.low[h.start] not in t.words]
        t.input_turn = bool({h.code for h in hits} & INPUT_FORMS)
        for sent in doc.sents:
            self._code_sentence(t, sent, self._sentence_hits(t, sent, hits))
        found = t.found
        if "persuade" in found and ({"seeking_collaboration", "emphasizing_autonomy"} & set(found)):
            found["persuade_with_permission"] = found.pop("persuade")
        out.forms = [f for f in forms() if f in found] or ["other"]
        out.act = [a for a in act_processes() if a in found]
        out.evidence = {k: found[k] for k in out.forms + out.act if k in found}
        return out

    def _sentence_hits(self, t: Turn, sent: Span, hits: list[Hit]) -> list[Hit]:
        """The hits of ``sent`` after context conditions (``requires``), quotes and vetoes."""
        words = {*t.v.lower[sent.start : sent.end], *t.v.lemma[sent.start : sent.end]}
        kept = [
            h
            for h in hits
            if sent.start <= h.start < sent.end
            and (self.rules[h.rule].quoted or not (t.role_play and all(t.quoted[h.start : h.end])))
            and (not self.rules[h.rule].requires or self.rules[h.rule].requires & words)
        ]
        vetoed = {h.code for h in kept if self.rules[h.rule].veto}
        return [h for h in kept if h.code not in vetoed]

    def _code_sentence(self, t: Turn, sent: Span, kept: list[Hit]) -> None:
        """Add the forms and ACT processes of one sentence (its hits ``kept``) to ``t.found``."""
        v, found, bounds = t.v, t.found, (sent.start, sent.end)
        codes = {h.code for h in kept}
        qt = sentence_question_type(v, sent.start, sent.end, t.quoted)
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
        directs = direction(v, *bounds)
        if directs:  # MISC 2.5 Direct -> Persuade; not "let's" (Structure) nor an exercise step
            if (
                directs == "imperative"
                and "exercise_instruction" not in found
                and not codes & {"courtesy", *act_processes()}
            ):
                _add(found, "persuade", "direction", v.span_text(*bounds))
            return
        stems = [h for h in kept if h.code.startswith("reflection_stem")]
        if (
            t.role_play
            or "courtesy" in codes
            or any(w.endswith("?") for w in v.text[slice(*bounds)])
        ):
            return  # a role-play character's words, courtesy or a quoted question
        complex_stem = any(h.code == "reflection_stem_complex" for h in stems)
        refl = reflection(t, *bounds, stems[0].rule if stems else None, complex_stem)
        if refl is not None and refl.startswith("info_"):
            _add(found, "giving_information", refl, v.span_text(*bounds))
        elif refl is not None:
            cues = [h.text for h in kept if h.code == "complex_cue"]
            kind, why = complexity(t, *bounds, complex_stem, cues).split("+", 1)
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
    sids, speakers, texts, turn_no = (
        turns[c].to_numpy(dtype=object) for c in ("session_id", "speaker", "text", "turn")
    )
    rows: list[list[Any]] = []
    session, prev_client = None, None
    for i in np.lexsort((turns["turn"].to_numpy(), sids.astype(str))):
        doc, spoken = docs[i], str(texts[i]).strip() != ""
        if sids[i] != session:
            session, prev_client = sids[i], None
        if speakers[i] != "therapist":
            prev_client = doc if spoken else prev_client
            continue
        tc = TurnCodes()  # no speech: no form, "other"
        if len(doc) and spoken:
            tc = get_coder(doc.vocab).code_turn(doc, prev_client, bool(flags[i]))
        fs, act = tc.forms, tc.act
        evidence = json.dumps(tc.evidence, ensure_ascii=False, sort_keys=True)
        codes = [";".join(fs), ";".join(act), tc.main_behaviour, evidence]
        bools = [f in fs for f in forms()] + [a in act for a in act_processes()]
        n_forms = len([f for f in fs if f != "other"])
        rows.append([sids[i], int(turn_no[i]), "therapist", *codes, n_forms, *bools])
    log.info("coded %d therapist turns", len(rows))
    return pd.DataFrame(rows, columns=MEASURE.column_names())


def split_codes(value: str) -> list[str]:
    """``"a;b"`` → ``["a", "b"]`` ("" → [])."""
    return [c for c in str(value).split(";") if c]


def code_rates(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``<code>__rate``: per session, the share of therapist turns with each boolean code."""
    flags = [c for c, t in rows.dtypes.items() if c not in KEYS and pd.api.types.is_bool_dtype(t)]
    ther = rows[rows.speaker == THERAPIST]
    rates = ther.groupby("session_id", sort=False)[flags].mean().astype("float64")
    return rates.rename(columns=lambda c: f"{c}__rate")


def behaviour_entropy(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``transition_entropy``: per session, the entropy (bits) of the next therapist main
    behaviour given the current one."""
    ther = rows[rows.speaker == THERAPIST]
    ent = ther.groupby("session_id", sort=False)["main_behaviour"].agg(
        lambda s: transition_entropy(s.tolist())
    )
    return ent.to_frame("transition_entropy")


def mi_indices(
    rows: pd.DataFrame, measure: Measure, tables: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """``mi_<index>``: the MI session indices of :func:`therapy_turns.analysis.mi.
    session_indices` (change-talk share from the ``client`` rows when the chunk has them)."""
    client = (tables or {}).get("client")
    ind = mi.session_indices(rows[rows.speaker == THERAPIST], client)
    return ind.rename(columns=lambda c: f"mi_{c}")


_COLUMNS = (
    ("form", "MITI-style forms of the turn, ';'-joined (docs/codebook.md)", "codes"),
    ("act_process", "ACT processes of the turn, ';'-joined ('' if none)", "codes"),
    ("main_behaviour", "AnnoMI main behaviour: " + "|".join(MAIN_BEHAVIOURS), "code"),
    ("evidence", "JSON: code -> list of [rule id, matched text]", "JSON"),
    ("n_forms", "forms other than 'other'", "count"),
    *((f"form_{f}", f"turn coded with form {f}", "bool") for f in forms()),
    *((f"act_{a}", f"turn coded with ACT process {a}", "bool") for a in act_processes()),
)
DESCRIPTION = "one row per therapist turn: MITI forms, ACT processes, AnnoMI main behaviour, with "
DESCRIPTION += "the evidence for every label"
MEASURE = register(
    Measure(
        "techniques",
        code_turns,
        DESCRIPTION,
        tuple(Column(*c, (THERAPIST,)) for c in _COLUMNS),
        aggregates=(speaker_means, code_rates, behaviour_entropy, mi_indices),
        cli_columns=("session_id", "turn", "form", "act_process", "main_behaviour", "evidence"),
    )
)
