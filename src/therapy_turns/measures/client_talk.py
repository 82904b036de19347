"""Rule-based client-language coder: change talk, sustain talk or neutral per patient turn.

MISC 2.5 (Houck et al.) codes client utterances about the target behaviour as change talk
(towards change) or sustain talk (towards the status quo), by kind: desire, ability, reasons,
need, commitment, taking steps (and other). The rules are ``data/change_talk.yaml`` (spaCy
``Matcher`` token patterns and ``PhraseMatcher`` phrases on NORM, so contractions and curly
apostrophes normalise); every code points at the words that triggered it.

How a patient turn is coded: every rule runs once over the turn's Doc (the shared parse);
per sentence, reported speech of someone else drops need/desire/commitment hits ("my physio
says I need to ..."), a ``cancels`` rule drops the other direction's hits ("I stopped the
tablets" is sustain talk, not a step towards change), and a ``flip`` rule whose match holds a
negator reverses its direction ("I don't want to quit"). The turn is ``change`` or ``sustain``
by the direction with more hits; a tie goes to the direction of the last hit (a client's
"yes, but ..." ends on the but); no hit: ``neutral``.

What rules cannot see: the target behaviour (stopping is change talk for drinking and sustain
talk for medication; only treatment words are told apart), and bare agreements whose direction
is in the therapist's question.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.nlp import word_tokenizer
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import PATIENT

log = logging.getLogger(__name__)

CLIENT_CODES = ("change", "sustain", "neutral")
CLIENT_KINDS = ("desire", "ability", "reasons", "need", "commitment", "taking_steps", "other")
DIRECTIONS = ("change", "sustain")
NEGATORS = frozenset({"not", "never", "no"})


@lru_cache(maxsize=1)
def rules_spec() -> dict[str, Any]:
    """The rule file ``data/change_talk.yaml``."""
    return read_yaml(DATA_DIR / "change_talk.yaml")


@dataclass(frozen=True)
class ClientRule:
    """One rule of ``change_talk.yaml``."""

    id: str
    kind: str = ""
    direction: str = ""
    flip: bool = False
    cancels: str = ""
    veto_kinds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TalkHit:
    """One piece of evidence: direction, kind, rule id, matched text and token span."""

    direction: str
    kind: str
    rule: str
    text: str
    start: int
    end: int


@dataclass
class ClientCodes:
    """Codes of one patient turn with their evidence."""

    code: str = "neutral"
    hits: list[TalkHit] = field(default_factory=list)

    def count(self, direction: str, kind: str | None = None) -> int:
        """Number of hits of ``direction`` (and ``kind``)."""
        return sum(h.direction == direction and (kind is None or h.kind == kind)
                   for h in self.hits)

    @property
    def evidence(self) -> dict[str, list[list[str]]]:
        """``{"change:reasons": [[rule, text], ...], ...}``."""
        out: dict[str, list[list[str]]] = {}
        for h in self.hits:
            item = [h.rule, h.text]
            lst = out.setdefault(f"{h.direction}:{h.kind}", [])
            if item not in lst:
                lst.append(item)
        return out


def _expand(value: Any, lists: dict[str, list[str]]) -> Any:
    """Replace ``"$name"`` (as a value or an ``IN`` list) by ``{"IN": lists[name]}``."""
    if isinstance(value, str) and value.startswith("$"):
        return {"IN": list(lists[value[1:]])}
    if isinstance(value, dict):
        return {k: (list(lists[v[1:]]) if k in ("IN", "NOT_IN") and isinstance(v, str)
                    and v.startswith("$") else _expand(v, lists)) for k, v in value.items()}
    return value


class ClientCoder:
    """The compiled client rules for one spaCy vocabulary."""

    def __init__(self, vocab: Vocab) -> None:
        spec = rules_spec()
        lists = {k: [str(w) for w in v] for k, v in spec["lists"].items()}
        self.rules: dict[str, ClientRule] = {}
        self.matcher = Matcher(vocab)
        self.phrases = PhraseMatcher(vocab, attr="NORM")
        tokenizer = word_tokenizer()
        for r in spec["rules"]:
            rule = ClientRule(r["id"], r.get("kind", ""), r.get("direction", ""),
                              bool(r.get("flip")), r.get("cancels", ""),
                              frozenset(r.get("veto_kinds") or ()))
            if rule.kind and rule.kind not in CLIENT_KINDS:
                raise ValueError(f"change_talk.yaml: rule {rule.id}: unknown kind {rule.kind}")
            if rule.direction and rule.direction not in DIRECTIONS:
                raise ValueError(f"change_talk.yaml: rule {rule.id}: unknown direction "
                                 f"{rule.direction}")
            self.rules[rule.id] = rule
            if "tokens" in r:
                pats = [[{k: _expand(v, lists) for k, v in tok.items()} for tok in p]
                        for p in r["tokens"]]
                self.matcher.add(rule.id, pats, greedy="LONGEST")
            if "phrases" in r:
                docs = []
                for ph in r["phrases"]:
                    for p in {ph, ph.replace("'", "’")}:
                        docs.append(tokenizer(p.lower()))
                self.phrases.add(rule.id, docs)

    def code_doc(self, doc: Doc) -> ClientCodes:
        """Code one patient turn."""
        out = ClientCodes()
        if not len(doc) or not doc.text.strip():
            return out
        strings = doc.vocab.strings
        found = {(strings[k], s, e) for k, s, e in self.matcher(doc)}
        found |= {(strings[k], s, e) for k, s, e in self.phrases(doc)}
        norms = [t.norm_ for t in doc]
        sent_of = np.zeros(len(doc), dtype=np.int64)
        for k, sent in enumerate(doc.sents):
            sent_of[sent.start:sent.end] = k
        by_sent: dict[int, list[tuple[ClientRule, int, int]]] = {}
        for rid, s, e in sorted(found, key=lambda x: (x[1], x[2], x[0])):
            by_sent.setdefault(int(sent_of[s]), []).append((self.rules[rid], s, e))
        hits: list[TalkHit] = []
        for _, items in sorted(by_sent.items()):
            vetoed = {k for r, _, _ in items for k in r.veto_kinds}
            sent_hits = []
            for r, s, e in items:
                if not r.direction or r.kind in vetoed:
                    continue
                direction = r.direction
                if r.flip and NEGATORS.intersection(norms[s:e]):
                    direction = "sustain" if direction == "change" else "change"
                sent_hits.append(TalkHit(direction, r.kind, r.id, doc[s:e].text, s, e))
            cancelled = {r.cancels for r, _, _ in items if r.cancels}
            hits += [h for h in sent_hits
                     if not (h.direction in cancelled and not self.rules[h.rule].cancels)]
        hits = _dedupe(hits)
        out.hits = hits
        n_change = sum(h.direction == "change" for h in hits)
        n_sustain = len(hits) - n_change
        if n_change > n_sustain:
            out.code = "change"
        elif n_sustain > n_change:
            out.code = "sustain"
        elif hits:
            out.code = max(hits, key=lambda h: (h.end, h.start)).direction
        return out


def _dedupe(hits: list[TalkHit]) -> list[TalkHit]:
    """One hit per span of words: a hit inside another hit of the same direction and kind is
    dropped (a phrase and a token pattern finding the same words count once)."""
    hits = sorted(hits, key=lambda h: (h.start, -(h.end - h.start), h.rule))
    kept: list[TalkHit] = []
    for h in hits:
        if any(k.direction == h.direction and k.kind == h.kind and k.start <= h.start
               and h.end <= k.end for k in kept):
            continue
        kept.append(h)
    return kept


@lru_cache(maxsize=4)
def _coder(vocab_id: int, vocab: Vocab) -> ClientCoder:  # vocab_id keys the cache
    return ClientCoder(vocab)


def get_client_coder(vocab: Vocab) -> ClientCoder:
    """The compiled client coder for ``vocab`` (cached)."""
    return _coder(id(vocab), vocab)


COLUMNS = (["session_id", "turn", "speaker", "client_talk", "change_talk", "sustain_talk",
            "evidence"]
           + [f"{d}_{k}" for d in DIRECTIONS for k in CLIENT_KINDS])


def code_client_turns(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """Code every patient turn of ``turns`` (``docs[i]`` is the Doc of ``turns.text.iloc[i]``).

    One row per patient turn, sorted by ``session_id, turn``: ``client_talk``
    (change | sustain | neutral), ``change_talk`` / ``sustain_talk`` (number of hits),
    ``evidence`` (JSON: ``"direction:kind"`` -> list of ``[rule id, matched text]``) and
    ``<direction>_<kind>`` hit counts. Turns without speech are ``neutral``.
    """
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    rows: list[dict[str, Any]] = []
    sids = turns["session_id"].to_numpy(dtype=object)
    speakers = turns["speaker"].to_numpy(dtype=object)
    turn_no = turns["turn"].to_numpy()
    for i in np.flatnonzero(speakers == "patient"):
        doc = docs[i]
        cc = get_client_coder(doc.vocab).code_doc(doc) if len(doc) else ClientCodes()
        row: dict[str, Any] = {
            "session_id": sids[i], "turn": int(turn_no[i]), "speaker": "patient",
            "client_talk": cc.code, "change_talk": cc.count("change"),
            "sustain_talk": cc.count("sustain"),
            "evidence": json.dumps(cc.evidence, ensure_ascii=False, sort_keys=True)}
        row.update({f"{d}_{k}": cc.count(d, k) for d in DIRECTIONS for k in CLIENT_KINDS})
        rows.append(row)
    out = pd.DataFrame(rows, columns=COLUMNS)
    out = out.sort_values(["session_id", "turn"], kind="stable").reset_index(drop=True)
    log.info("coded %d patient turns", len(out))
    return out


# --------------------------------------------------------------------------- the measure
def _columns() -> tuple[Column, ...]:
    p = (PATIENT,)
    return (
        Column("client_talk", "the turn's client talk (MISC 2.5): change | sustain | neutral",
               "code", p),
        Column("change_talk", "change-talk hits", "count", p),
        Column("sustain_talk", "sustain-talk hits", "count", p),
        Column("evidence", "JSON: 'direction:kind' -> list of [rule id, matched text]", "JSON", p),
        *(Column(f"{d}_{k}", f"{d}-talk hits of kind {k}", "count", p)
          for d in DIRECTIONS for k in CLIENT_KINDS),
    )


MEASURE = register(Measure(
    "client", code_client_turns, "one row per patient turn: change and sustain talk (MISC 2.5) "
    "with the evidence for every label", _columns()))
