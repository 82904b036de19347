"""The ``client`` measure: change, sustain or neutral talk per patient turn (MISC 2.5)."""

import json
import logging
from collections import Counter, namedtuple
from collections.abc import Sequence
from functools import lru_cache
from itertools import product

import numpy as np
import pandas as pd
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import PATIENT, phrase_docs

log = logging.getLogger(__name__)

CLIENT_CODES = ("change", "sustain", "neutral")
CLIENT_KINDS = ("desire", "ability", "reasons", "need", "commitment", "taking_steps", "other")
PAIRS = list(product(("change", "sustain"), CLIENT_KINDS))
COUNTS = [f"{d}_{k}" for d, k in PAIRS]
#: one piece of evidence: direction, kind, rule id, matched text and token span
TalkHit = namedtuple("TalkHit", "direction kind rule text start end")
#: a patient turn's code, its hits and their evidence ``{"change:reasons": [[rule, text]]}``
ClientCodes = namedtuple("ClientCodes", "code hits evidence")


class ClientCoder:
    """The compiled client rules for one spaCy vocabulary."""

    def __init__(self, vocab: Vocab) -> None:
        spec = read_yaml(DATA_DIR / "change_talk.yaml")
        self.rules = {r["id"]: r for r in spec["rules"]}
        self.matcher, self.phrases = Matcher(vocab), PhraseMatcher(vocab, attr="NORM")
        lists = {f"${k}": {"IN": v} for k, v in spec["lists"].items()}  # "$name": a list
        for rid, r in self.rules.items():
            if pats := r.get("tokens"):
                pats = [[{k: lists.get(str(v), v) for k, v in t.items()} for t in p] for p in pats]
                self.matcher.add(rid, pats, greedy="LONGEST")
            if r.get("phrases"):
                self.phrases.add(rid, phrase_docs(r["phrases"]))

    def code_doc(self, doc: Doc) -> ClientCodes:
        """The codes of one patient turn (decision rules: ``docs/client_talk.md``)."""
        if not len(doc) or not doc.text.strip():
            return ClientCodes("neutral", [], {})
        strings = doc.vocab.strings
        found = sorted({(s, e, strings[k]) for k, s, e in [*self.matcher(doc), *self.phrases(doc)]})
        norms = [t.norm_ for t in doc]
        hits: list[TalkHit] = []
        for sent in doc.sents:
            items = [(self.rules[rid], s, e) for s, e, rid in found if sent.start <= s < sent.end]
            vetoed = {k for r, _, _ in items for k in r.get("veto_kinds", ())}
            cancelled = {r.get("cancels") for r, _, _ in items}
            for r, s, e in items:
                if "direction" not in r or r.get("kind") in vetoed:
                    continue
                direction = r["direction"]
                if r.get("flip") and {"not", "never", "no"}.intersection(norms[s:e]):
                    direction = "sustain" if direction == "change" else "change"
                if direction not in cancelled or r.get("cancels"):
                    hits.append(TalkHit(direction, r["kind"], r["id"], doc[s:e].text, s, e))
        # one hit per span: a hit inside another of the same direction and kind counts once
        kept: list[TalkHit] = []
        for h in sorted(hits, key=lambda h: (h.start, h.start - h.end, h.rule)):
            if not any(k[:2] == h[:2] and k.start <= h.start and h.end <= k.end for k in kept):
                kept.append(h)
        balance = sum(1 if h.direction == "change" else -1 for h in kept)
        last = max(kept, key=lambda h: (h.end, h.start)).direction if kept else "neutral"
        evidence: dict[str, list[list[str]]] = {}
        for key, rule, text in dict.fromkeys((f"{h[0]}:{h[1]}", h.rule, h.text) for h in kept):
            evidence.setdefault(key, []).append([rule, text])
        code = "change" if balance > 0 else "sustain" if balance < 0 else last
        return ClientCodes(code, kept, evidence)


get_client_coder = lru_cache(maxsize=4)(ClientCoder)  # the compiled coder of a vocab


def code_client_turns(turns: pd.DataFrame, docs: Sequence[Doc]) -> pd.DataFrame:
    """One row per patient turn (``docs`` row-aligned to ``turns``): client talk and evidence."""
    if len(turns) != len(docs):
        raise ValueError(f"{len(turns)} turns but {len(docs)} docs: they must be row-aligned")
    sids, speakers, turn_no = turns[["session_id", "speaker", "turn"]].to_numpy().T
    rows, order = [], np.lexsort((turns["turn"].to_numpy(), sids.astype(str)))
    for i in order[speakers[order] == "patient"]:  # in session and turn order
        cc = get_client_coder(docs[i].vocab).code_doc(docs[i])
        evidence = json.dumps(cc.evidence, ensure_ascii=False, sort_keys=True)
        n, by = Counter(h[:2] for h in cc.hits), Counter(h.direction for h in cc.hits)
        talk = [cc.code, by["change"], by["sustain"], evidence, *(n[p] for p in PAIRS)]
        rows.append([sids[i], int(turn_no[i]), "patient", *talk])
    log.info("coded %d patient turns", len(rows))
    return pd.DataFrame(rows, columns=MEASURE.column_names())


_SPEC = read_yaml(DATA_DIR / "measure_columns.yaml")["client"]  # description, columns
_COLUMNS = [(name, *v) for name, v in _SPEC["columns"].items()]
_COLUMNS += [(f"{d}_{k}", f"{d}-talk hits of kind {k}", "count") for d, k in PAIRS]
COLUMN_SPECS = tuple(Column(*c, (PATIENT,)) for c in _COLUMNS)
MEASURE = register(Measure("client", code_client_turns, _SPEC["description"], COLUMN_SPECS))
