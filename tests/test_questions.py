"""Question detector: hand-tokenised sentences, no statistical model involved.

Docs come from spaCy's rule-based English tokenizer; sentence starts are set by rule (after
``.``/``?``/``!``, a closing quote staying with its sentence); POS is given by hand where used.
So the expected labels follow only from the rules documented in therapy_turns.measures.features.
"""

from __future__ import annotations

import pytest
import spacy
from spacy.tokens import Doc, Span

from therapy_turns.measures.features import lexicon, quote_mask, sentence_question_type
from therapy_turns.measures.views import DocView

_NLP = spacy.blank("en")


def make_doc(text: str, pos: dict[str, str] | None = None) -> Doc:
    """Tokenise ``text`` by rule; a sentence starts after . ? ! unless a closing quote follows."""
    toks = _NLP.tokenizer(text)
    words = [t.text for t in toks]
    spaces = [bool(t.whitespace_) for t in toks]
    end, close = {".", "?", "!"}, {'"', "”"}
    starts = [
        i == 0
        or (words[i - 1] in end and words[i] not in close)
        or (i > 1 and words[i - 1] in close and words[i - 2] in end)
        for i in range(len(words))
    ]
    tags = [(pos or {}).get(w, "X") for w in words]
    return Doc(_NLP.vocab, words=words, spaces=spaces, sent_starts=starts, pos=tags)


def question_type(sent: Span) -> str | None:
    """The detector's label of one sentence (quotes counted over its whole Doc)."""
    v = DocView(sent.doc)
    return sentence_question_type(v, sent.start, sent.end, quote_mask(v.text))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("What did you feel in that moment?", "open"),
        ("How do you notice it?", "open"),
        ("So, why does that matter to you?", "open"),
        ("When you notice that, what happens in your body?", "open"),  # last clause decides
        ("When did it start?", "open"),  # weak wh alone decides
        ("Can you tell me what, if anything, is holding you back, like a new hobby?", "open"),
        ("Could you describe the feeling?", "open"),
        ("Tell me more about that.", "open"),  # elicitation, no question mark
        ("Okay, describe the sensation.", "open"),
        ("Do you feel it now?", "closed"),
        ("Can you think of one value?", "closed"),
        ("Do you want to talk about it?", "closed"),  # 'talk' is 4 tokens after the auxiliary
        ("When you notice that, do you tense up?", "closed"),
        ("Is it hard, when that happens?", "closed"),  # 'when' is a subordinator here
        ("That is hard, isn't it?", "closed"),  # tag question
        ("It sounds hard, right?", "closed"),
        ("You mean the job?", "closed"),  # declarative question
        ("I feel sad.", None),
        ("How is that supposed to help?", None),  # rhetorical: a skeptic marker
        ("But what's the point?", None),
        ('Ask yourself: "What is this feeling?"', None),  # quoted speech
        ("“Why am I like this?”", None),
    ],
)
def test_question_type(text: str, expected: str | None) -> None:
    doc = make_doc(text)
    sents = list(doc.sents)
    assert len(sents) == 1
    assert question_type(sents[0]) == expected


def test_subject_by_pos_fallback() -> None:
    # "Are people ...": 'people' is not a listed subject word; a NOUN tag marks the inversion
    no_pos = make_doc("Are people kind to you?")
    with_pos = make_doc("Are people kind to you?", {"people": "NOUN"})
    assert question_type(next(with_pos.sents)) == "closed"
    # without the tag, no head decides and the fallback is closed as well
    assert question_type(next(no_pos.sents)) == "closed"
    # the last clause decides when its auxiliary is inverted
    doc = make_doc("What is holding you back, is it fear?")
    assert question_type(next(doc.sents)) == "closed"  # last clause 'is it' is inverted


def test_quote_opened_in_earlier_sentence() -> None:
    doc = make_doc('He said "I am done. Why try?" Do you agree?')
    kinds = [question_type(s) for s in doc.sents]
    assert kinds == [None, None, "closed"]


def test_every_sentence_of_a_doc() -> None:
    doc = make_doc(
        "What happened? Do you agree? Tell me more. How is that supposed to help? I see."
    )
    assert [question_type(s) for s in doc.sents] == ["open", "closed", "open", None, None]


def test_lexicon_loads_strings() -> None:
    lex = lexicon()
    for key in (
        "wh_words",
        "auxiliaries",
        "discourse_markers",
        "open_prompts",
        "elicitation_verbs",
        "rhetorical",
    ):
        assert lex[key], key
        assert all(isinstance(w, str) for w in lex[key])
    assert "yes" in lex["discourse_markers"] and "no" in lex["discourse_markers"]
