"""DocView: every list equals the Token attribute it stands for; Tokens: flat token arrays of
several Docs, counted by hand."""

from __future__ import annotations

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc

from therapy_turns.measures.views import DocView, Tokens

TEXTS = ["I don’t KNOW, it's hard.  Really hard!", "", "Okay.",
         "\u201cStop,\u201d she said. Now? No!", "  Fine.  ", "so  \n"]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    from therapy_turns.nlp import load_pipeline

    return list(load_pipeline().pipe(TEXTS))


def test_lists_equal_token_attributes(docs: list[Doc]) -> None:
    block = Tokens(docs).views()  # the same lists cut from one block of Docs
    for doc, v in [*((d, DocView(d)) for d in docs), *zip(docs, block, strict=True)]:
        assert v.doc is doc
        toks = list(doc)
        assert v.text == [t.text for t in toks]
        assert v.lower == [t.lower_ for t in toks]
        assert v.low == [t.text.replace("’", "'").lower() for t in toks]
        assert v.lemma == [t.lemma_.replace("’", "'").lower() for t in toks]
        assert v.pos == [t.pos_ for t in toks] and v.tag == [t.tag_ for t in toks]
        assert v.dep == [t.dep_ for t in toks]
        assert v.punct == [t.is_punct for t in toks] and v.space == [t.is_space for t in toks]
        assert v.idx == [t.idx for t in toks]
        assert v.doc_text == doc.text
        for lo in range(len(doc) + 1):
            for hi in range(lo, len(doc) + 1):
                assert v.span_text(lo, hi) == doc[lo:hi].text, (lo, hi)


def test_word_flags_by_hand(docs: list[Doc]) -> None:
    t = Tokens(docs[:1])
    # I do n’t KNOW , it 's hard . <2 spaces> Really hard !  -> clitics, punctuation, space out
    words = [s for s, w in zip(t.strings("ORTH"), t.word, strict=True) if w]
    assert words == ["I", "do", "KNOW", "it", "hard", "Really", "hard"]


def test_tokens_by_hand() -> None:
    nlp = spacy.blank("en")
    a = Doc(nlp.vocab, words=["I", "said", "NO", "!"], lemmas=["I", "say", "no", "!"])
    b = Doc(nlp.vocab, words=[])
    c = Doc(nlp.vocab, words=["no", "I", "didn’t"], lemmas=["no", "I", "do"])
    t = Tokens([a, b, c])
    assert t.n_docs == 3 and t.n_tokens.tolist() == [4, 0, 3]
    assert t.start.tolist() == [0, 4, 4, 7] and t.doc_of.tolist() == [0, 0, 0, 0, 2, 2, 2]
    # normalised forms (lower case, straight apostrophe) vs the raw text
    assert t.isin("ORTH", {"no", "didn't"}).tolist() == [0, 0, 1, 0, 1, 0, 1]
    assert t.isin("ORTH", {"NO"}, normed=False).tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert t.count(t.isin("ORTH", {"i", "no"})).tolist() == [2, 0, 2]
    assert t.count(t.flag("IS_PUNCT")).tolist() == [1, 0, 0]
    # one code per string across attributes: lemma "say" != "said"; "no" is the same string
    low, lemma = t.code("ORTH"), t.code("LEMMA")
    assert low[2] == low[4] == lemma[2] and lemma[1] != low[1] and low[0] == low[5]
    assert [(k, pos) for k, pos in t.positions(t.isin("ORTH", {"i"}))] == [
        (0, [0]), (1, []), (2, [1])]
    assert list(t.positions(t.isin("ORTH", {"i"}), docs=np.array([False, False, True]))) == [
        (2, [1])]
