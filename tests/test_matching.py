"""Tests of therapy_turns.measures.matching: the pure-Python matcher equals spaCy's Matcher.

Hand-checked cases (expected lists worked out by hand from the pattern semantics and, for the
order test, by tracing spaCy's state machine), a hypothesis property test against spaCy's
``Matcher`` on random Docs and patterns, and every real pattern on the seed transcripts.
"""

from __future__ import annotations

from typing import Any

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st
from spacy.matcher import Matcher
from spacy.tokens import Doc

from therapy_turns.measures.matching import TokenPattern, compile_pattern, token_attributes

VOCAB = spacy.blank("en").vocab
UPOS = ["ADJ", "ADP", "ADV", "DET", "NOUN", "PRON", "PROPN", "PUNCT", "VERB"]


def doc(text: str, pos: list[str] | None = None, sent_starts: list[bool | None] | None = None
        ) -> Doc:
    words = text.split()
    kw: dict[str, Any] = {}
    if pos is not None:
        kw["pos"] = pos
    if sent_starts is not None:
        kw["sent_starts"] = sent_starts
    return Doc(VOCAB, words=words, **kw)


def ours(pattern: list[dict[str, Any]], d: Doc) -> list[tuple[int, int]]:
    tp = compile_pattern(pattern)
    assert isinstance(tp, TokenPattern)
    return tp.matches(*token_attributes(d))


def spacys(pattern: list[dict[str, Any]], d: Doc) -> list[tuple[int, int]]:
    m = Matcher(d.vocab)
    m.add("P", [pattern])
    return [(s, e) for _, s, e in m(d)]


def both(pattern: list[dict[str, Any]], d: Doc) -> list[tuple[int, int]]:
    """Our sorted result, after checking that spaCy gives the same."""
    got = sorted(ours(pattern, d))
    assert got == sorted(spacys(pattern, d))
    return got


# ------------------------------------------------------------------ hand-checked cases
def test_plain_and_case() -> None:
    assert both([{"LOWER": "so"}], doc("So so SO no")) == [(0, 1), (1, 2), (2, 3)]
    assert both([{"LOWER": "you"}, {"LOWER": {"IN": ["are", "'re"]}}],
                doc("you are you 're you were")) == [(0, 2), (2, 4)]
    assert both([{"LOWER": {"IN": ["So"]}}], doc("so So")) == []  # IN compares with lower_


def test_optional_gives_two_ends() -> None:
    assert both([{"LOWER": "a"}, {"LOWER": "b", "OP": "?"}], doc("a b b")) == [(0, 1), (0, 2)]
    assert both([{"LOWER": "a"}, {"LOWER": "b", "OP": "?"}, {"LOWER": "c"}],
                doc("a c a b c a b b c")) == [(0, 2), (2, 5)]


def test_star_and_plus() -> None:
    assert both([{"LOWER": "a"}, {"LOWER": "b", "OP": "*"}], doc("a b b c")) == \
        [(0, 1), (0, 2), (0, 3)]
    assert both([{"LOWER": "b", "OP": "+"}], doc("a b b")) == [(1, 2), (1, 3), (2, 3)]
    assert both([{"LOWER": "take"}, {"LOWER": "a", "OP": "*"}, {"LOWER": "breath"}],
                doc("take breath take a a breath")) == [(0, 2), (2, 6)]


def test_negation_op() -> None:
    # "a" followed by one token that is not "b"
    assert both([{"LOWER": "a"}, {"LOWER": "b", "OP": "!"}], doc("a b a c a")) == [(2, 4)]
    assert both([{"LOWER": "b", "OP": "!"}], doc("a b")) == [(0, 1)]


def test_not_in() -> None:
    pat = [{"LOWER": "sounds"}, {"LOWER": {"NOT_IN": ["good", "."]}}]
    assert both(pat, doc("sounds good . sounds hard . sounds")) == [(3, 5)]


def test_min_max_op() -> None:
    pat = [{"LOWER": "how"}, {"IS_PUNCT": False, "OP": "{0,2}"}, {"LOWER": "help"}]
    assert both(pat, doc("how help")) == [(0, 2)]
    assert both(pat, doc("how does this help")) == [(0, 4)]
    assert both(pat, doc("how does this really help")) == []
    assert both(pat, doc("how , help")) == []
    assert both([{"LOWER": "a", "OP": "{2}"}], doc("a a a")) == [(0, 2), (1, 3)]
    # {0}: the spec is dropped
    assert both([{"LOWER": "a"}, {"LOWER": "b", "OP": "{0}"}, {"LOWER": "b"}], doc("a b a")) == \
        [(0, 2)]


def test_is_sent_start() -> None:
    text = "so it is . so what"
    pat = [{"IS_SENT_START": True, "LOWER": "so"}]
    assert both(pat, doc(text, sent_starts=[True, False, False, False, True, False])) == \
        [(0, 1), (4, 5)]
    # Doc(words=...) marks token 0 as a sentence start; the others are unknown (not starts)
    assert both(pat, doc(text)) == [(0, 1)]
    assert both([{"IS_SENT_START": False}], doc("a b c")) == [(1, 2), (2, 3)]
    # explicit sent_starts without a start at token 0: the Matcher does not count token 0
    assert both(pat, doc(text, sent_starts=[None] * 6)) == []
    assert both(pat, doc(text, sent_starts=[False, None, None, None, True, None])) == [(4, 5)]


def test_is_punct_and_pos() -> None:
    assert both([{"LOWER": "great"}, {"IS_PUNCT": True}], doc("great ! great job")) == [(0, 2)]
    d = doc("so , you so the", pos=["ADV", "PUNCT", "PRON", "ADV", "DET"],
            sent_starts=[True, False, False, True, False])
    pat = [{"IS_SENT_START": True, "LOWER": "so"}, {"IS_PUNCT": True, "OP": "?"},
           {"POS": {"IN": ["PRON", "NOUN"]}}]
    assert both(pat, d) == [(0, 3)]
    assert both([{"POS": "ADV"}], d) == [(0, 1), (3, 4)]


def test_optional_first_and_empty_specs() -> None:
    assert both([{"LOWER": "so", "OP": "?"}, {"LOWER": "you"}], doc("so you and you")) == \
        [(0, 2), (1, 2), (3, 4)]
    assert both([{"LOWER": "let"}, {}, {"LOWER": "be"}], doc("let it be let be")) == [(0, 3)]
    pat = [{"LOWER": "a"}, {"OP": "?"}, {"LOWER": "c"}]
    assert both(pat, doc("a c a b c")) == [(0, 2), (2, 5)]


def test_order_is_spacys() -> None:
    # traced by hand through spaCy's state machine: (0,1) is emitted at token 1 (the "b?" node
    # fails on "a"), then at token 2 the state started at 1 comes first (kept states precede
    # the states branched off at token 1) and emits (1,2),(1,3), then the one started at 0
    pat = [{"LOWER": "a", "OP": "+"}, {"LOWER": "b", "OP": "?"}]
    expected = [(0, 1), (1, 2), (1, 3), (0, 2), (0, 3)]
    assert spacys(pat, doc("a a b")) == expected
    assert ours(pat, doc("a a b")) == expected


def test_unsupported_patterns() -> None:
    for pat in ([], [{"LEMMA": "be"}], [{"LOWER": {"REGEX": "^a"}}], [{"POS": {"NOT_IN": ["X"]}}],
                [{"IS_PUNCT": 1}], [{"LOWER": "a", "OP": "{3,1}"}], [{"LOWER": "a", "OP": "%"}],
                [{"LOWER": "a", "OP": "1"}], [{"_": {"x": 1}}], [{"lower": "a"}],
                [{"LOWER": {"IN": [1, 2]}}], [{"LOWER": {"IN": ["a"], "NOT_IN": ["b"]}}],
                [{"OP": "{0}"}], ["a"]):
        assert compile_pattern(pat) is None, pat


def test_token_attributes() -> None:
    d = doc("So , you", pos=["ADV", "PUNCT", "PRON"], sent_starts=[None, False, True])
    lower, pos, sent, punct = token_attributes(d)
    assert lower == ["so", ",", "you"]
    assert pos == ["ADV", "PUNCT", "PRON"]
    assert sent == [False, False, True]
    assert sent == [t.is_sent_start is True for t in d]
    assert punct == [False, True, False]
    assert token_attributes(doc("a b"))[1] == ["", ""]  # no POS set
    assert token_attributes(Doc(VOCAB, words=[])) == ([], [], [], [])


# ------------------------------------------------------------------ property test
WORDS = ["so", "So", "you", "YOU", "are", "a", "b", "the", ".", ",", "!", "?", "'s"]
LOW = sorted({w.lower() for w in WORDS} | {"zz"})
OPS = [None, None, None, "?", "*", "+", "!", "{0,2}", "{1,2}", "{2}", "{,2}", "{1,}"]


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if draw(st.booleans()) and draw(st.booleans()):
        return {}  # any token (spaCy ignores nothing here: {} has no OP)
    kind = draw(st.sampled_from(["none", "str", "in", "not_in"]))
    if kind == "str":
        spec["LOWER"] = draw(st.sampled_from(LOW))
    elif kind != "none":
        spec["LOWER"] = {"IN" if kind == "in" else "NOT_IN":
                         draw(st.lists(st.sampled_from(LOW), min_size=1, max_size=4))}
    if draw(st.integers(0, 4)) == 0:
        spec["POS"] = draw(st.one_of(st.sampled_from(UPOS), st.fixed_dictionaries(
            {"IN": st.lists(st.sampled_from(UPOS), min_size=1, max_size=3)})))
    if draw(st.integers(0, 4)) == 0:
        spec["IS_SENT_START"] = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:
        spec["IS_PUNCT"] = draw(st.booleans())
    op = draw(st.sampled_from(OPS))
    if op is not None:
        spec["OP"] = op
    return spec


@st.composite
def docs(draw: st.DrawFn) -> Doc:
    n = draw(st.integers(1, 12))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=n, max_size=n))
    pos = draw(st.lists(st.sampled_from(UPOS), min_size=n, max_size=n))
    sents = draw(st.one_of(st.none(), st.lists(st.sampled_from([True, False, None]),
                                               min_size=n, max_size=n)))
    return Doc(VOCAB, words=words, pos=pos, sent_starts=sents)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(d=docs(), pattern=st.lists(specs(), min_size=1, max_size=5))
def test_equals_spacy_matcher(d: Doc, pattern: list[dict[str, Any]]) -> None:
    got = ours(pattern, d)
    expected = spacys(pattern, d)
    assert sorted(got) == sorted(expected)
    assert got == expected  # same order too


# ------------------------------------------------------------------ our real patterns
def _technique_patterns() -> list[list[dict[str, Any]]]:
    from therapy_turns.measures.techniques import patterns

    return [p for r in patterns()["rules"] for p in r.get("tokens", [])]


def _feature_patterns() -> list[list[dict[str, Any]]]:
    """The token patterns of every PhraseCounter of features.lexicons() (run by a PatternSet)."""
    from therapy_turns.measures.features import lexicons

    lex = lexicons()
    counters = [lex.hedges, lex.certainty, *lex.families.values(), *lex.markers.values()]
    return [list(p) for c in counters for p in c.patterns]


@pytest.fixture(scope="module")
def seed_docs() -> list[Doc]:
    from therapy_turns.io.transcripts import load_corpus
    from therapy_turns.nlp import load_pipeline

    nlp = load_pipeline()
    return list(nlp.pipe(load_corpus("seeds").turns.text.tolist()))


def test_real_patterns_compile_and_equal_spacy(seed_docs: list[Doc]) -> None:
    pats = _technique_patterns() + _feature_patterns()
    assert len(_technique_patterns()) > 0 and len(_feature_patterns()) > 0
    compiled = [compile_pattern(p) for p in pats]
    assert [p for p, c in zip(pats, compiled, strict=True) if c is None] == []
    vocab = seed_docs[0].vocab
    matchers = []
    for p in pats:
        m = Matcher(vocab)
        m.add("P", [p])
        matchers.append(m)
    n_hits = 0
    for d in seed_docs:
        attrs = token_attributes(d)
        forms = set(attrs[0])
        for p, c, m in zip(pats, compiled, matchers, strict=True):
            assert c is not None
            expected = [(s, e) for _, s, e in m(d)]
            assert c.matches(*attrs) == expected, (p, d.text)
            assert c.matches(*attrs, forms=forms) == expected, (p, d.text)
            n_hits += len(expected)
    assert n_hits > 0  # the comparison is not vacuous
