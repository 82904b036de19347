"""Rule-based therapist technique coder: forms (MITI-style), ACT processes, AnnoMI main behaviour.

Every label points at the words that triggered it. The codebook is ``docs/codebook.md`` (machine-
readable: ``data/codebook.yaml``); the rules are ``data/technique_patterns.yaml``.

How a therapist turn is coded
-----------------------------
1. spaCy ``Matcher``, ``PhraseMatcher`` and ``DependencyMatcher`` rules run once over the turn's Doc
   (the shared parse: never re-parsed here); each match is assigned to its sentence.
2. Per sentence: rules with a context condition (``requires``) keep only matches whose sentence
   holds one of the listed words; ``veto`` rules remove their code from the sentence; in a
   role-play turn, matches inside quotation marks are the character's words and are dropped
   (except role-play cues).
3. Questions come from :func:`measures.questions.question_type` (the shared detector; quoted
   and rhetorical questions are ``None``). The codebook re-maps yes/no-shaped requests for content
   ("Can you think of one value ...?") from closed to open.
4. Reflections: a sentence that is not a question, not a direction (imperative, "let's") and either
   opens with a reflection lead-in ("it sounds like you ...", "you're feeling ...", "So, ...") or is
   a statement whose content lemmas mostly repeat the previous client turn. Lead-ins that add
   inference ("sounds like", "seems", "it's like") or a high share of new content lemmas make it
   complex; otherwise simple.
5. The turn's labels are the union over its sentences; no form → ``other``. The main behaviour is
   chosen from the forms by the codebook precedence (:func:`main_behaviour`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from spacy.matcher import DependencyMatcher, Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from therapy_turns.measures.views import DocView
from therapy_turns.nlp import word_tokenizer
from therapy_turns.paths import DATA_DIR, read_yaml

log = logging.getLogger(__name__)

DATA = DATA_DIR
HELPER_CODES = {"reflection_stem_complex", "reflection_stem_simple", "content_request"}
_LEAD_SKIP = {"just", "now", "so", "and", "then", "okay", "ok", "well", "first", "next", "also",
              "again", "gently", "simply", "slowly"}


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
        self.settings: dict[str, Any] = spec["settings"]
        self.content_pos = frozenset(self.settings["content_pos"])
        known = set(forms()) | set(act_processes()) | HELPER_CODES
        self.rules: dict[str, Rule] = {}
        self.matcher = Matcher(vocab)  # every token rule in one Matcher
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
        found: list[tuple[str, int, int]] = []
        v = view or DocView.of(doc)
        for key, s, e in self.matcher(doc) + self.phrases(doc):
            found.append((strings[key], s, e))
        if len(self.dep) and doc.has_annotation("DEP"):
            for key, toks in self.dep(doc):
                found.append((strings[key], min(toks), max(toks) + 1))
        out = [Hit(self.rules[r].code, r, v.span_text(s, e), s, e) for r, s, e in found]
        return sorted(set(out), key=lambda h: (h.start, h.end, h.rule))

    def code_turn(self, doc: Doc, prev_client: Doc | None = None, role_play: bool = False
                  ) -> TurnCodes:
        """Code one therapist turn; ``prev_client`` is the preceding client turn."""
        from therapy_turns.measures.questions import sentence_question_type

        out = TurnCodes()
        v = DocView.of(doc)  # token attributes as lists: no Token objects per pass
        if len(doc) == 0 or not v.doc_text.strip():
            return out
        quoted = quote_mask(doc, v.text)
        hits = self.hits(doc, v)
        role_play = role_play or any(h.code == "role_play" for h in hits)
        client = set() if prev_client is None else _content_lemmas(
            DocView.of(prev_client), 0, len(prev_client), self.content_pos)
        found: dict[str, list[list[str]]] = {}
        for sent in doc.sents:
            bounds = (sent.start, sent.end)
            s_hits = [h for h in hits if sent.start <= h.start < sent.end]
            words: set[str] | None = None  # the sentence's forms and lemmas, when needed
            kept = []
            for h in s_hits:
                rule = self.rules[h.rule]
                if role_play and not rule.quoted and all(quoted[h.start:h.end]):
                    continue
                if rule.requires and words is None:
                    words = {*v.lower[sent.start:sent.end], *v.lemma[sent.start:sent.end]}
                if rule.requires and not (rule.requires & words):
                    continue
                kept.append(h)
            vetoed = {h.code for h in kept if self.rules[h.rule].veto}
            kept = [h for h in kept if h.code not in vetoed]
            codes = {h.code for h in kept}
            qt = sentence_question_type(v, sent.start, sent.end, quoted)
            if qt == "closed" and "content_request" in codes:
                qt = "open"
                _add(found, "open_question", "q_content_request", v.span_text(*bounds))
            elif qt is not None:
                _add(found, f"{qt}_question", "q_detector", v.span_text(*bounds))
            if qt is None:
                refl = self._reflection(sent, kept, client, quoted, v)
                if refl:
                    _add(found, refl[0], refl[1], v.span_text(*bounds))
            for h in kept:
                if h.code not in HELPER_CODES and not self.rules[h.rule].veto:
                    _add(found, h.code, h.rule, h.text)
        out.forms = [f for f in forms() if f in found] or ["other"]
        out.act = [a for a in act_processes() if a in found]
        out.evidence = {k: found[k] for k in out.forms + out.act if k in found}
        return out

    def _reflection(self, sent: Span, hits: list[Hit], client: set[str], quoted: list[bool],
                    v: DocView) -> tuple[str, str] | None:
        """``(code, rule id)`` if ``sent`` is a reflection of the client turn, else None
        (``v``: the view of ``sent.doc``)."""
        st = self.settings
        cut = slice(sent.start, sent.end)
        if any(t.endswith("?") and not q for t, q in zip(v.text[cut], quoted[cut], strict=True)) \
                or is_direction(sent, v):
            return None
        if any(h.code == "exercise_instruction" for h in hits):
            return None
        content = _content_lemmas(v, sent.start, sent.end, self.content_pos)
        overlap = len(content & client) / len(content) if content else 0.0
        novelty = 1.0 - overlap
        complex_stem = [h for h in hits if h.code == "reflection_stem_complex"]
        simple_stem = [h for h in hits if h.code == "reflection_stem_simple"]
        if complex_stem and overlap >= st["reflection_min_overlap_stem"]:
            return "complex_reflection", complex_stem[0].rule
        if simple_stem and overlap >= st["reflection_min_overlap_stem"]:
            if novelty >= st["complex_min_novelty"]:
                return "complex_reflection", simple_stem[0].rule + "+novel"
            return "simple_reflection", simple_stem[0].rule
        # a plain restatement: no lead-in, so it must not be the therapist speaking of
        # themselves, normalising/explaining, or directing (checked above)
        own = any(w in ("i", "we") and d in ("nsubj", "nsubjpass")
                  for w, d in zip(v.lower[cut], v.dep[cut], strict=True))
        informs = any(h.code in ("giving_information", "role_play") for h in hits)
        if client and not own and not informs and len(content) >= st["reflection_min_content"] \
                and overlap >= st["reflection_min_overlap_plain"]:
            kind = "complex" if novelty >= st["complex_min_novelty"] else "simple"
            return f"{kind}_reflection", f"refl_overlap_{overlap:.2f}"
        return None


def _add(found: dict[str, list[list[str]]], code: str, rule: str, text: str) -> None:
    ev = found.setdefault(code, [])
    item = [rule, text.strip()[:120]]
    if item not in ev:
        ev.append(item)


def _content_lemmas(v: DocView, start: int, end: int, pos: Set[str]) -> set[str]:
    """Lower-cased lemmas of the alphabetic, non-stop tokens longer than 2 characters whose
    coarse POS is in ``pos``, among tokens ``start:end`` of the Doc of ``v``."""
    cut = slice(start, end)
    return {lemma for lemma, alpha, stop, p, text in zip(
        v.lemma_lower[cut], v.alpha[cut], v.stop[cut], v.pos[cut], v.text[cut], strict=True)
            if alpha and not stop and p in pos and len(text) > 2}


def quote_mask(doc: Doc, texts: Sequence[str] | None = None) -> list[bool]:
    """Per token of ``doc``: is it inside quotation marks (quote characters included)?
    (The question detector's mask, :func:`measures.questions.quote_mask`; ``texts``: the
    Doc's token texts, if the caller has them.)"""
    from therapy_turns.measures.questions import quote_mask as mask

    return mask(doc, texts)


def is_direction(sent: Span, view: DocView | None = None) -> bool:
    """Does ``sent`` open with a direction (imperative verb, ``let's``, ``I'd like you to``)?
    ``view``: :class:`~measures.views.DocView` of ``sent.doc``, if the caller has it."""
    v = view or DocView.of(sent.doc)
    first = next((i for i in range(sent.start, sent.end)
                  if not (v.punct[i] or v.space[i] or v.lower[i] in _LEAD_SKIP)), None)
    if first is None:
        return False
    if v.lower[first] in ("let", "let's"):
        return True
    if v.tag[first] == "VB" and v.lower[first] != "be":
        return True
    text = v.span_text(sent.start, sent.end).lower().replace("’", "'")
    return any(p in text for p in ("i'd like you to", "i want you to", "i would like you to"))


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
    cols = ["session_id", "turn", "speaker", "form", "act_process", "main_behaviour", "evidence",
            "n_forms"] + [f"form_{f}" for f in forms()] + [f"act_{a}" for a in act_processes()]
    out = pd.DataFrame(rows, columns=cols)
    log.info("coded %d therapist turns", len(out))
    return out.reset_index(drop=True)


def split_codes(value: str) -> list[str]:
    """``"a;b"`` → ``["a", "b"]`` ("" → [])."""
    return [c for c in str(value).split(";") if c]
