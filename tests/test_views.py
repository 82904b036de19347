"""DocView: every list equals the Token attribute it stands for; shared views within a block;
Tokens: flat token arrays of several Docs, counted by hand."""

from __future__ import annotations

import numpy as np
import pytest
import spacy
from spacy.tokens import Doc

from therapy_turns.measures.views import DocView, Tokens, lookup_strings, shared_views

TEXTS = ["I don’t KNOW, it's hard.  Really hard!", "", "Okay.",
         "\u201cStop,\u201d she said. Now? No!"]


@pytest.fixture(scope="module")
def docs() -> list[Doc]:
    from therapy_turns.nlp import load_pipeline

    return list(load_pipeline().pipe(TEXTS))


@pytest.mark.parametrize("together", [False, True])
def test_lists_equal_token_attributes(docs: list[Doc], together: bool) -> None:
    # read one by one, and all together (one string resolution for the block of Docs)
    views = DocView.many(docs) if together else [DocView.of(d) for d in docs]
    for doc, v in zip(docs, views, strict=True):
        assert v.doc is doc
        toks = list(doc)
        assert v.text == [t.text for t in toks]
        assert v.lower == [t.lower_ for t in toks]
        assert v.low == [t.text.replace("’", "'").lower() for t in toks]
        assert v.lemma == [t.lemma_.replace("’", "'").lower() for t in toks]
        assert v.lemma_lower == [t.lemma_.lower() for t in toks]
        assert v.pos == [t.pos_ for t in toks] and v.tag == [t.tag_ for t in toks]
        assert v.dep == [t.dep_ for t in toks]
        assert v.head.tolist() == [t.head.i - t.i for t in toks]
        assert v.punct == [t.is_punct for t in toks] and v.space == [t.is_space for t in toks]
        assert v.alpha == [t.is_alpha for t in toks] and v.upper == [t.is_upper for t in toks]
        assert v.stop == [t.is_stop for t in toks] and v.idx == [t.idx for t in toks]
        assert v.ws == [t.whitespace_ for t in toks]
        assert v.sent_start == [t.is_sent_start is True for t in toks]
        assert v.doc_text == doc.text
        for lo in range(len(doc) + 1):
            for hi in range(lo, len(doc) + 1):
                assert v.span_text(lo, hi) == doc[lo:hi].text, (lo, hi)


def test_word_flags_by_hand(docs: list[Doc]) -> None:
    v = DocView.of(docs[0])
    # I do n’t KNOW , it 's hard . <2 spaces> Really hard !  -> clitics, punctuation, space out
    words = [t for t, w in zip(v.text, v.word, strict=True) if w]
    assert words == ["I", "do", "KNOW", "it", "hard", "Really", "hard"]


def test_shared_views(docs: list[Doc]) -> None:
    doc = docs[0]
    assert DocView.of(doc) is not DocView.of(doc)  # outside a block: a fresh view each time
    with shared_views():
        first = DocView.of(doc)
        assert DocView.of(doc) is first
        with shared_views():  # nested blocks share the outer views
            assert DocView.of(doc) is first
        assert DocView.of(docs[2]) is DocView.of(docs[2])
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:  # another thread has no registry of its own here
            assert pool.submit(DocView.of, doc).result() is not first
    assert DocView.of(doc) is not first  # dropped when the block ends


def test_lookup_strings_memo_is_bounded(monkeypatch: pytest.MonkeyPatch, docs: list[Doc]) -> None:
    import therapy_turns.measures.views as views

    strings = docs[0].vocab.strings
    ids = [strings.add(w) for w in ("alpha", "beta", "gamma", "delta")]
    cache: dict[int, str] = {}
    monkeypatch.setattr(views, "CACHE_MAX", 2)
    assert lookup_strings(ids[:3], strings, cache) == ["alpha", "beta", "gamma"]
    assert len(cache) == 3  # filled past the bound within one call
    assert lookup_strings([ids[0]], strings, cache, str.upper) == ["alpha"]  # memo hit: no fn
    assert lookup_strings([ids[3], ids[3]], strings, cache, str.upper) == ["DELTA", "DELTA"]
    assert cache == {ids[3]: "DELTA"}  # it held more than 2: emptied, then refilled


def test_many_reuses_shared_views_and_splits_vocabs(docs: list[Doc]) -> None:
    other = spacy.blank("en")("Other vocab here")
    with shared_views():
        first = DocView.of(docs[1])
        views = DocView.many([docs[0], docs[1], other, docs[0]])
        assert views[1] is first and views[0] is views[3]
        assert views[2].text == ["Other", "vocab", "here"] and views[2].doc is other
    assert DocView.many([]) == []


def test_tokens_by_hand() -> None:
    nlp = spacy.blank("en")
    a = Doc(nlp.vocab, words=["I", "said", "NO", "!"], lemmas=["I", "say", "no", "!"])
    b = Doc(nlp.vocab, words=[])
    c = Doc(nlp.vocab, words=["no", "I", "didn’t"], lemmas=["no", "I", "do"])
    t = Tokens(DocView.many([a, b, c]))
    assert t.n_docs == 3 and t.n_tokens.tolist() == [4, 0, 3]
    assert t.start.tolist() == [0, 4, 4, 7] and t.doc_of.tolist() == [0, 0, 0, 0, 2, 2, 2]
    # normalised forms (lower case, straight apostrophe) vs the raw text
    assert t.isin("ORTH", {"no", "didn't"}).tolist() == [0, 0, 1, 0, 1, 0, 1]
    assert t.isin("ORTH", {"NO"}, normed=False).tolist() == [0, 0, 1, 0, 0, 0, 0]
    assert t.count(t.isin("ORTH", {"i", "no"})).tolist() == [2, 0, 2]
    assert t.any(t.flag("IS_PUNCT")).tolist() == [True, False, False]
    # one code per string across attributes: lemma "say" != "said"; "no" is the same string
    low, lemma = t.code("ORTH"), t.code("LEMMA")
    assert low[2] == low[4] == lemma[2] and lemma[1] != low[1] and low[0] == low[5]
    assert [(k, pos) for k, pos in t.positions(t.isin("ORTH", {"i"}))] == [
        (0, [0]), (1, []), (2, [1])]
    assert list(t.positions(t.isin("ORTH", {"i"}), docs=np.array([False, False, True]))) == [
        (2, [1])]
    with pytest.raises(ValueError, match="one vocab"):
        Tokens([DocView.of(a), DocView.of(spacy.blank("en")("x"))])
