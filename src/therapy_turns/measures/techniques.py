"""The ``techniques`` measure: MITI/MISC forms, ACT processes, main behaviour per therapist turn."""

import json
import logging
from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
from spacy.matcher import DependencyMatcher, Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from therapy_turns.analysis.shifts import session_indices, transition_entropy
from therapy_turns.measures.features import quote_mask, sentence_question_type
from therapy_turns.measures.registry import Column, Measure, register, speaker_means
from therapy_turns.measures.views import DocView, Tokens
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import THERAPIST, content_lemmas, phrase_docs

log = logging.getLogger(__name__)

MAIN_BEHAVIOURS = ("question", "reflection", "therapist_input", "other")
#: a rule match (tuples sort by position, then rule id)
Hit = namedtuple("Hit", "start end rule code text")
CODEBOOK = read_yaml(DATA_DIR / "codebook.yaml")  # the machine-readable codebook
#: form and ACT process codes, in codebook order
FORMS, ACT_PROCESSES = list(CODEBOOK["forms"]), list(CODEBOOK["act_processes"])


def main_behaviour(turn_forms: Iterable[str], precedence: Sequence[str] | None = None) -> str:
    """The AnnoMI main behaviour of a turn: the first behaviour of its forms in ``precedence``."""
    present = {CODEBOOK["main_behaviour_map"][f] for f in turn_forms if f}
    order = precedence or CODEBOOK["main_behaviour_precedence"]
    return next((b for b in order if b in present), "other")


@dataclass
class Turn:
    """A therapist turn being coded: its view, quotes, client turn before and codes."""

    v: DocView | None = None
    quoted: list[bool] = field(default_factory=list)
    forms: list[str] = field(default_factory=list)
    act: list[str] = field(default_factory=list)
    role_play: bool = False
    client: set[str] | None = None
    words: set[str] = field(default_factory=set)
    input_turn: bool = False  # the turn's cue rules give information, advice or exercise steps
    found: dict[str, list[list[str]]] = field(default_factory=dict)

    main_behaviour = property(lambda self: main_behaviour(self.forms))
    evidence = property(lambda t: {k: t.found[k] for k in t.forms + t.act if k in t.found})

    def add(self, code: str, rule: str, text: str) -> None:
        """Record ``[rule, text]`` as evidence of ``code`` (once)."""
        evidence, item = self.found.setdefault(code, []), [rule, text.strip()[:120]]
        if item not in evidence:
            evidence.append(item)


def word_sequences(pattern: list[dict[str, Any]]) -> list[tuple[str, ...]] | None:
    """The word sequences of a token pattern that tests only ``LOWER`` (``OP: ?``), else None."""
    seqs: list[tuple[str, ...]] = [()]
    for tok in pattern:
        low = tok.get("LOWER")
        words = [low] if isinstance(low, str) else (low or {}).get("IN")
        if set(tok) - {"LOWER", "OP"} or tok.get("OP", "?") != "?" or words is None:
            return None
        seqs = [s + (w,) for s in seqs for w in words] + (seqs if "OP" in tok else [])
    return seqs


class Coder:
    """The compiled rules for one spaCy vocabulary; :meth:`code_turn` codes one turn."""

    def __init__(self, vocab: Vocab) -> None:
        spec = read_yaml(DATA_DIR / "technique_patterns.yaml")
        self.cfg = SimpleNamespace(**spec["settings"])
        self.codes = {k: set(v) for k, v in spec["codes"].items()}
        self.words = {k: set(v) for k, v in spec["words"].items()}
        self.rules = {r["id"]: r for r in spec["rules"]}
        self.matcher, self.dep = Matcher(vocab), DependencyMatcher(vocab)
        self.phrases = PhraseMatcher(vocab, attr="LOWER")  # phrases and pure word patterns
        for rid, r in self.rules.items():
            r["requires"] = {w.lower() for w in r.get("requires") or ()}
            seqs = phrase_docs(r.get("phrases", []))
            for pattern in r.get("tokens", []):
                words = word_sequences(pattern)
                seqs.extend(Doc(vocab, words=s) for s in words or [])
                if words is None:
                    self.matcher.add(rid, [pattern])
            if seqs:
                self.phrases.add(rid, seqs)
            if "dep" in r:
                self.dep.add(rid, [r["dep"]])

    def hits(self, doc: Doc, v: DocView) -> list[Hit]:
        """All rule matches in ``doc`` (its view ``v``), sorted by position."""
        found = [*self.matcher(doc), *self.phrases(doc)]
        if len(self.dep) and doc.has_annotation("DEP"):
            found += [(key, min(toks), max(toks) + 1) for key, toks in self.dep(doc)]
        rules = [(doc.vocab.strings[key], s, e) for key, s, e in found]
        return sorted({Hit(s, e, r, self.rules[r]["code"], v.span_text(s, e)) for r, s, e in rules})

    def code_turn(self, doc: Doc, prev: Doc | None = None, role_play=False, views=None):
        """The codes of one therapist turn (``prev``: the client turn before; ``views``: both's)."""
        v, cv = views or (DocView(doc), None if prev is None else DocView(prev))
        if len(doc) == 0 or not v.doc_text.strip():
            return Turn()
        t, hits = Turn(v, quote_mask(v.text)), self.hits(doc, v)
        t.role_play = role_play or any(h.code == "role_play" for h in hits)
        if cv is not None:
            t.client, t.words = content_lemmas(cv.doc), {*cv.low, *cv.lemma}
        # a number with a unit the client said is a restatement, not information
        hits = [h for h in hits if h.rule != "info_number_unit" or v.low[h.start] not in t.words]
        t.input_turn = bool({h.code for h in hits} & self.codes["input"])
        for sent in doc.sents:
            self._code_sentence(t, sent, hits)
        found = t.found
        if "persuade" in found and {"seeking_collaboration", "emphasizing_autonomy"} & set(found):
            found["persuade_with_permission"] = found.pop("persuade")
        t.forms = [f for f in FORMS if f in found] or ["other"]
        t.act = [a for a in ACT_PROCESSES if a in found]
        return t

    def _code_sentence(self, t: Turn, sent: Span, hits: list[Hit]) -> None:
        """Add the forms and ACT processes of one sentence to ``t.found``."""
        v, a, b, kept = t.v, sent.start, sent.end, []
        words = {*v.lower[a:b], *v.lemma[a:b]}
        for h in hits:  # the sentence's hits after context conditions (requires), quotes, vetoes
            r = self.rules[h.rule]
            quoted = t.role_play and all(t.quoted[h.start : h.end]) and not r.get("quoted")
            if a <= h.start < b and not quoted and (not r["requires"] or r["requires"] & words):
                kept.append(h)
        vetoed = {h.code for h in kept if self.rules[h.rule].get("veto")}
        kept = [h for h in kept if h.code not in vetoed]
        codes = {h.code for h in kept}
        text = v.span_text(a, b)
        qt, rule = sentence_question_type(v, a, b, t.quoted), "q_detector"
        if qt == "closed" and "content_request" in codes:
            qt, rule = "open", "q_content_request"
        elif qt == "open" and "specific_request" in codes:
            qt, rule = "closed", "q_specific_request"
        elif qt is None and "embedded_question" in codes:
            qt, rule = "open", "q_embedded"
        if qt is not None:
            t.add(f"{qt}_question", rule, text)
        drop = self.codes["helper"] | (self.codes["statement_only"] if qt else set())
        for h in kept:  # a question is not information or advice (MITI 4.2.1 Question)
            if h.code not in drop:
                t.add(h.code, h.rule, h.text)
        if qt is not None or codes & self.codes["statement"]:
            return
        directs = self._direction(v, a, b)
        exercise = "exercise_instruction" in t.found or codes & {"courtesy", *ACT_PROCESSES}
        if directs == "imperative" and not exercise:  # MISC 2.5 Direct -> Persuade
            t.add("persuade", "direction", text)
        asks = any(w.endswith("?") for w in v.text[sent.start : sent.end])
        if directs or t.role_play or "courtesy" in codes or asks:
            return  # "let's" (Structure), a role-play character, courtesy, a quoted question
        stems = [h for h in kept if h.code.startswith("reflection_stem")]
        complex_stem = any(h.code == "reflection_stem_complex" for h in stems)
        refl = self._reflection(t, a, b, stems[0].rule if stems else None, complex_stem)
        if refl is not None and refl.startswith("info_"):
            t.add("giving_information", refl, text)
        elif refl is not None:  # complex: its stem, a cue the client did not say, or novelty
            client, cfg = t.client or set(), self.cfg
            said, content = t.words | client, content_lemmas(v.doc[a:b])
            cues = [h.text for h in kept if h.code == "complex_cue"]
            cues = [f"cue:{c}" for c in cues if not set(c.lower().split()) <= said]
            novelty = 1.0 - len(content & client) / max(len(content), 1)
            novel = len(content) >= cfg.complex_min_content and novelty >= cfg.complex_min_novelty
            why = ["stem"] * complex_stem + cues + [f"novel_{novelty:.2f}"] * novel
            kind, why = ("complex", why[0]) if why else ("simple", "default")
            t.add(f"{kind}_reflection", f"{refl}+{why}", text)

    def _direction(self, v: DocView, start: int, end: int) -> str | None:
        """``imperative`` (not ``be``/``let``, not after ``you``), ``direction`` (``let's`` ...)."""
        skip, span = self.words["lead_skip"], range(start, end)
        i = next((i for i in span if not (v.punct[i] or v.space[i] or v.low[i] in skip)), None)
        if i is None:
            return None
        if v.tag[i] == "VB" and v.low[i] not in ("be", "let") and not (i and v.low[i - 1] == "you"):
            return "imperative"
        text = v.span_text(start, end).lower().replace("’", "'")
        phrase = any(p in text for p in self.words["direction_phrases"])
        return "direction" if v.low[i] in ("let", "let's") or phrase else None

    def _reflection(self, t: Turn, start: int, end: int, stem: str | None, complex_stem: bool):
        """The reflection rule id of a statement, ``info_*`` for information, else None."""
        v, cfg, client, span = t.v, self.cfg, t.client, range(start, end)
        subjects = ("nsubj", "nsubjpass", "expl")  # own: the therapist speaks of themselves
        own = any(v.low[i] in ("i", "we") and v.dep[i] in subjects for i in span)
        if stem is not None and (complex_stem or not own):
            return stem
        if client is None:
            return None
        said = t.words | {"one"}
        if stem is None and any(v.tag[i] == "CD" and v.low[i] not in said for i in span):
            return "info_number"
        content = content_lemmas(v.doc[start:end]) - self.words["acknowledge"]
        if own or not content:  # "Good.", "Okay, fine.": MISC 2.5 Facilitate
            return None
        overlap = len(content & client) / len(content)
        restated = len(content) >= cfg.min_content_plain or overlap == 1.0
        if overlap >= cfg.min_overlap_plain and restated:
            return f"refl_overlap_{overlap:.2f}"
        if t.input_turn or self.codes["input"] & t.found.keys():
            return None
        you = any(v.low[i] in self.words["you"] and not self._filler(v, i, end) for i in span)
        if not overlap and not you and len(content) >= cfg.generic_min_content:
            return "info_generic"
        return "refl_you" if you else "refl_statement" if cfg.statement_default else None

    @staticmethod
    def _filler(v: DocView, i: int, end: int) -> bool:
        """Is token ``i`` the ``you`` of a ``you know`` / ``you see`` filler?"""
        after = v.low[i + 2] if i + 2 < end else ""
        fill = after in (",", "", ".", "um", "uh", "like", "i") or v.punct[min(i + 2, end - 1)]
        return v.low[i] == "you" and i + 1 < end and v.low[i + 1] in ("know", "see") and fill


get_coder = lru_cache(maxsize=4)(Coder)  # the compiled coder of a vocab


def code_turns(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per therapist turn (``docs`` row-aligned to ``turns``): :data:`COLUMNS`."""
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    flags = turns["role_play"].to_numpy() if "role_play" in turns else np.zeros(len(turns), bool)
    sids, speakers, texts, turn_no = turns[["session_id", "speaker", "text", "turn"]].to_numpy().T
    views, rows, session, prev = Tokens(docs).views(), [], None, None
    for i in np.lexsort((turns["turn"].to_numpy(), sids.astype(str))):
        if sids[i] != session:
            session, prev = sids[i], None
        if speakers[i] != "therapist":
            prev = i if str(texts[i]).strip() else prev
            continue
        cv = None if prev is None else views[prev]  # the view of the client turn before
        tc = get_coder(docs[i].vocab).code_turn(docs[i], None, bool(flags[i]), (views[i], cv))
        evidence = json.dumps(tc.evidence, ensure_ascii=False, sort_keys=True)
        codes = [";".join(tc.forms), ";".join(tc.act), tc.main_behaviour, evidence]
        codes += [len([f for f in tc.forms if f != "other"])]
        codes += [f in tc.forms for f in FORMS] + [a in tc.act for a in ACT_PROCESSES]
        rows.append([sids[i], int(turn_no[i]), "therapist", *codes])
    log.info("coded %d therapist turns", len(rows))
    return pd.DataFrame(rows, columns=MEASURE.column_names())


def code_rates(rows: pd.DataFrame, measure: Measure, tables: Mapping | None = None) -> pd.DataFrame:
    """``<code>__rate``: per session, the share of therapist turns with each boolean code."""
    ther = rows[rows.speaker == THERAPIST]
    rates = ther.select_dtypes(bool).groupby(ther["session_id"], sort=False).mean()
    return rates.astype("float64").rename(columns=lambda c: f"{c}__rate")


def behaviour_entropy(rows: pd.DataFrame, measure: Measure, tables: Mapping | None = None):
    """``transition_entropy``: per session, the entropy (bits) of the next main behaviour."""
    ther = rows[rows.speaker == THERAPIST].groupby("session_id", sort=False)["main_behaviour"]
    return ther.agg(lambda s: transition_entropy(s.tolist())).to_frame("transition_entropy")


def mi_indices(rows: pd.DataFrame, measure: Measure, tables: Mapping | None = None) -> pd.DataFrame:
    """``mi_<index>``: the MI session indices (:func:`analysis.shifts.session_indices`)."""
    ind = session_indices(rows[rows.speaker == THERAPIST], (tables or {}).get("client"))
    return ind.rename(columns=lambda c: f"mi_{c}")


_SPEC = read_yaml(DATA_DIR / "measure_columns.yaml")["techniques"]  # description, columns
_COLUMNS = [(name, *v) for name, v in _SPEC["columns"].items()]
_COLUMNS += [(f"form_{f}", f"turn coded with form {f}", "bool") for f in FORMS]
_COLUMNS += [(f"act_{a}", f"turn coded with ACT process {a}", "bool") for a in ACT_PROCESSES]
COLUMNS = tuple(Column(*c, (THERAPIST,)) for c in _COLUMNS)
AGGREGATES = (speaker_means, code_rates, behaviour_entropy, mi_indices)
CLI = ("session_id", "turn", "form", "act_process", "main_behaviour", "evidence")
DESCRIPTION = _SPEC["description"]
MEASURE = register(Measure("techniques", code_turns, DESCRIPTION, COLUMNS, AGGREGATES, CLI))
