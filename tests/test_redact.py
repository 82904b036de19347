"""De-identification: exact tests of the patterns and of the placeholder logic.

The NER part is tested with hand-built pipelines (an entity ruler, a tiny rule component), so
expected outputs do not rest on what a statistical model predicts; one test uses the real model
on unambiguous names and says so.
"""

from __future__ import annotations

import pandas as pd
import pytest
import spacy
from spacy.language import Language
from spacy.tokens import Span

from therapy_turns import cli
from therapy_turns.io.redact import PLACEHOLDER_RE, pattern_matches, redact_turns, redaction_map
from therapy_turns.io.transcripts import load_corpus, parse_text

PLANTED = """\
Patient: My sister Sarah Johnson keeps calling me. Email me at jane.roe@example.com or ring
555-123-4567.

Therapist: Thank you. When did Sarah last call you?

Patient: On March 14, 2021. Her number is 555.123.4567 and her blog is https://sarah-j.example.org/blog.

Therapist: Let's notice that. Write to jane.roe@example.com? No, to j.roe@work-mail.net instead.

(Note: I will email jane.roe@example.com and call +44 20 7946 0958 after the session.)
"""
SECRETS = ["Sarah", "Johnson", "jane.roe@example.com", "j.roe@work-mail.net", "555-123-4567",
           "555.123.4567", "7946", "sarah-j.example.org", "March 14"]


def blank_nlp(patterns: list[dict] | None = None) -> Language:
    """A tokenizer-only English pipeline with an entity ruler: entities exactly as listed."""
    nlp = spacy.blank("en")
    if patterns:
        nlp.add_pipe("entity_ruler").add_patterns(patterns)
    return nlp


@Language.component("tt_test_after_sister")
def _after_sister(doc):
    """Tags as PERSON the capitalised word after 'sister', and nothing else."""
    ents = [Span(doc, t.i + 1, t.i + 2, label="PERSON") for t in doc[:-1]
            if t.lower_ == "sister" and doc[t.i + 1].is_title]
    doc.ents = ents
    return doc


def cells(df: pd.DataFrame) -> str:
    return df.to_csv(index=False)


# ----------------------------------------------------------------------------- patterns
@pytest.mark.parametrize("text, kind, surface", [
    ("write to jane.roe@example.com.", "EMAIL", "jane.roe@example.com"),
    ("mail J_Doe+tag@mail.co.uk today", "EMAIL", "J_Doe+tag@mail.co.uk"),
    ("see https://example.org/a?b=1.", "URL", "https://example.org/a?b=1"),
    ("see www.example.com, then", "URL", "www.example.com"),
    ("on example.org/about you", "URL", "example.org/about"),
    ("call 555-123-4567 now", "PHONE", "555-123-4567"),
    ("call (555) 123 4567 now", "PHONE", "(555) 123 4567"),
    ("call +44 20 7946 0958.", "PHONE", "+44 20 7946 0958"),
    ("call 07700900123 now", "PHONE", "07700900123"),
    ("born 1984-02-29 in", "DATE", "1984-02-29"),
    ("on 14/03/2021 we", "DATE", "14/03/2021"),
    ("on March 14th, 2021 we", "DATE", "March 14th, 2021"),
    ("on 14th of March we", "DATE", "14th of March"),
    ("since March 2021 I", "DATE", "March 2021"),
])
def test_pattern_matches_whole_identifier(text, kind, surface):
    [m] = pattern_matches(text)
    assert (m.kind, m.surface, text[m.start:m.end]) == (kind, surface, surface)


@pytest.mark.parametrize("text", [
    "I'd rate it 7 out of 10, maybe 3... 4 now.",
    "Give it 15-20 minutes, then 2-3 more.",
    "About 7/10 and 4/10 before.",
    "The decoder prompt (length 9159) is longer than 8192.",
    "May I ask how you are? In march we walk.",
    "It was 3.14 or 2.5 percent.",
])
def test_patterns_leave_ordinary_numbers_alone(text):
    assert pattern_matches(text) == []


def test_seed_corpus_has_no_pattern_hits():
    """253 real turns: the patterns alone change nothing (no false positives)."""
    turns = load_corpus("seeds").turns
    out = redact_turns(turns, nlp=blank_nlp())
    pd.testing.assert_frame_equal(out, turns)


# ----------------------------------------------------------------------------- placeholders
def test_planted_transcript_consistent_placeholders():
    nlp = blank_nlp([{"label": "PERSON", "pattern": "Sarah Johnson"},
                     {"label": "PERSON", "pattern": "Sarah"}])
    turns = parse_text(PLANTED, "s1")
    out = redact_turns(turns, nlp=nlp)
    assert out.at[0, "text"] == ("My sister [PERSON_1] keeps calling me. Email me at [EMAIL_1] "
                                 "or ring\n[PHONE_1].")
    assert out.at[1, "text"] == "Thank you. When did [PERSON_1] last call you?"
    assert out.at[2, "text"] == ("On [DATE_1]. Her number is [PHONE_1] and her blog is [URL_1].")
    assert out.at[3, "text"] == "Let's notice that. Write to [EMAIL_1]? No, to [EMAIL_2] instead."
    assert out.at[3, "meta_notes"] == ("(Note: I will email [EMAIL_1] and call [PHONE_2] after "
                                       "the session.)")
    assert "[EMAIL_1]" in out.at[3, "raw_text"] and "[PHONE_2]" in out.at[3, "raw_text"]
    dump = cells(out)
    for s in SECRETS:
        assert s not in dump, s
    # flags and keys untouched
    cols = ["session_id", "turn", "speaker", "meta_note", "truncated"]
    pd.testing.assert_frame_equal(out[cols], turns[cols])


def test_numbering_restarts_per_session_and_original_unchanged():
    a = "Patient: Mail a@x.com please.\n\nTherapist: Or b@x.com then.\n"
    b = "Patient: Mail b@x.com please.\n"
    turns = pd.concat([parse_text(a, "A"), parse_text(b, "B")], ignore_index=True)
    before = turns.copy()
    out = redact_turns(turns, nlp=blank_nlp())
    assert out["text"].tolist() == ["Mail [EMAIL_1] please.", "Or [EMAIL_2] then.",
                                    "Mail [EMAIL_1] please."]
    pd.testing.assert_frame_equal(turns, before)


def test_name_tagged_once_is_swept_everywhere_and_short_form_shares_id():
    nlp = spacy.blank("en")
    nlp.add_pipe("tt_test_after_sister")
    text = ("Patient: My sister Kim is visiting.\n\nTherapist: How is Kim doing?\n\n"
            "Patient: Kim is fine. Kimberly is her friend.\n")
    out = redact_turns(parse_text(text, "s"), nlp=nlp)
    assert out["text"].tolist() == ["My sister [PERSON_1] is visiting.",
                                    "How is [PERSON_1] doing?",
                                    "[PERSON_1] is fine. Kimberly is her friend."]
    nlp2 = blank_nlp([{"label": "PERSON", "pattern": "Tom Baker"},
                      {"label": "PERSON", "pattern": "Baker"},
                      {"label": "PERSON", "pattern": "Ann"}])
    out = redact_turns(parse_text("Patient: Ann met Tom Baker; Baker left, Ann's sad.\n", "s"),
                       nlp=nlp2)
    assert out.at[0, "text"] == "[PERSON_1] met [PERSON_2]; [PERSON_2] left, [PERSON_1]'s sad."


def test_entity_types_filters_and_stop_list():
    nlp = blank_nlp([{"label": "GPE", "pattern": "Leeds"},
                     {"label": "ORG", "pattern": "Acme Corp"},
                     {"label": "ORG", "pattern": "Notice"},
                     {"label": "ORG", "pattern": "post-mortem"},
                     {"label": "DATE", "pattern": "tomorrow"},
                     {"label": "DATE", "pattern": "last March"},
                     {"label": "NORP", "pattern": "Irish"}])
    text = ("Patient: Notice that I left Acme Corp in Leeds last March; an Irish post-mortem "
            "is due tomorrow.\n")
    out = redact_turns(parse_text(text, "s"), nlp=nlp)
    assert out.at[0, "text"] == ("Notice that I left [ORG_1] in [PLACE_1] [DATE_1]; an Irish "
                                 "post-mortem is due tomorrow.")


def test_known_strings_and_speaker_labels():
    text = "Jane: I told Bob about Riverside Clinic.\n\nTherapist: What did Bob say, Jane?\n"
    turns = parse_text(text, "s", speakers={"jane": "patient", "therapist": "therapist"})
    out = redact_turns(turns, nlp=blank_nlp(), known={"PERSON": ["Bob"],
                                                      "ORG": ["Riverside Clinic"]})
    # numbered by first occurrence in the text: Bob (turn 0) before Jane (turn 1)
    assert out["text"].tolist() == ["I told [PERSON_1] about [ORG_1].",
                                    "What did [PERSON_1] say, [PERSON_2]?"]
    assert out["speaker_label"].tolist() == ["Patient", "Therapist"]
    with pytest.raises(ValueError, match="NAME"):
        redact_turns(turns, nlp=blank_nlp(), known={"NAME": ["Bob"]})


def test_thinking_column_redacted_consistently():
    text = ("--- Turn 1 ---\nPatient: My boss is Dana Fox.\n\n--- Turn 2 ---\n"
            "Therapist Thinking: Dana Fox seems central; ask about dana.fox@acme.io.\n"
            "Therapist Answer: Tell me more about Dana Fox.\n")
    out = redact_turns(parse_text(text, "s"),
                       nlp=blank_nlp([{"label": "PERSON", "pattern": "Dana Fox"}]))
    assert out.at[1, "thinking"] == "[PERSON_1] seems central; ask about [EMAIL_1]."
    assert out.at[1, "text"] == "Tell me more about [PERSON_1]."


def test_redaction_map_audit():
    turns = parse_text("Patient: Mail a@x.com or a@x.com.\n", "s")
    m = redaction_map(turns, nlp=blank_nlp())
    assert m[["placeholder", "type", "surface"]].values.tolist() == [["[EMAIL_1]", "EMAIL",
                                                                      "a@x.com"]]
    assert m["count"].tolist() == [4]  # twice in raw_text, twice in text


def test_real_model_unambiguous_names():
    """Depends on en_core_web_sm tagging these textbook-clear entities."""
    text = ("Patient: My sister Sarah Johnson moved to London and works for Microsoft.\n\n"
            "Therapist: How do you feel about Sarah Johnson being in London?\n")
    out = redact_turns(parse_text(text, "s"))
    assert out["text"].tolist() == [
        "My sister [PERSON_1] moved to [PLACE_1] and works for [ORG_1].",
        "How do you feel about [PERSON_1] being in [PLACE_1]?"]


def test_cli_parse_redact(tmp_path):
    src = tmp_path / "t.txt"
    src.write_text(PLANTED, encoding="utf-8")
    out = tmp_path / "turns.csv"
    assert cli.main(["parse", str(src), "--out", str(out), "--redact", "--quiet"]) == 0
    dump = out.read_text(encoding="utf-8")
    for s in ["jane.roe@example.com", "555-123-4567", "7946", "sarah-j.example.org", "March 14"]:
        assert s not in dump, s
    assert PLACEHOLDER_RE.search(dump)


def test_analysis_tables_and_explorer_built_with_redaction_hold_no_planted_string(tmp_path):
    """End to end: `analyze --redact` tables and the explorer HTML built from them."""
    from therapy_turns import pipeline
    from therapy_turns.report import explorer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "s1.txt").write_text(PLANTED, encoding="utf-8")
    out = tmp_path / "build"
    pipeline.build_tables(str(corpus), str(out), progress=False, redact=True)
    dumps = [pd.read_parquet(p).to_csv() for p in sorted(out.rglob("*.parquet"))]
    assert dumps
    data = explorer.load_data(str(corpus), str(out))
    page = explorer.render_session(data, "s1", figure=False)
    for s in ["jane.roe@example.com", "j.roe@work-mail.net", "555-123-4567", "555.123.4567",
              "7946", "sarah-j.example.org", "March 14", "Sarah Johnson"]:
        assert s not in page, s
        assert not any(s in d for d in dumps), s
