"""De-identification: Presidio set-up, the project's recognizers, placeholders, session sweep
and that nothing leaks into tables, manifest, logs or error messages.

Names are tested with hand-built pipelines (an entity ruler as Presidio's NLP engine), so
expected outputs do not rest on what a statistical model predicts; tests marked "real model"
use the project's pipeline and say what they depend on. Recall per type is measured in
``benchmarks/redaction_recall.py``, not here.
"""

from __future__ import annotations

import json
import logging

import pandas as pd
import pytest
import spacy
from spacy.language import Language

from therapy_turns import cli
from therapy_turns.io.files import TranscriptError, withhold_quoted
from therapy_turns.io.redact import (
    PLACEHOLDER_RE,
    find_identifiers,
    get_analyzer,
    load_rules,
    name_variants,
    redact_speakers,
    redact_turns,
    redaction_map,
)
from therapy_turns.io.transcripts import load_corpus, parse_text

PLANTED = """\
Patient: My sister Sarah Johnson keeps calling me. Email me at jane.roe@example.com or ring
555-123-4567.

Therapist: Thank you. When did Sarah last call you?

Patient: On 14/03/2021. Her number is 555.123.4567 and her blog is https://sarah-j.example.org/blog.

Therapist: Let's notice that. Write to jane.roe@example.com? No, to j.roe@work-mail.net instead.

(Note: I will email jane.roe@example.com and call +44 20 7946 0958 after the session.)
"""
SECRETS = [
    "Sarah",
    "Johnson",
    "jane.roe@example.com",
    "j.roe@work-mail.net",
    "555-123-4567",
    "555.123.4567",
    "7946",
    "sarah-j.example.org",
    "14/03/2021",
]
NAMES = [
    {"label": "PERSON", "pattern": p}
    for p in ("Sarah Johnson", "Sarah Mitchell", "Robert", "Dana Fox", "Kim", "William")
]


def blank_nlp(patterns: list[dict] | None = None) -> Language:
    """A tokenizer-only English pipeline with an entity ruler: entities exactly as listed."""
    nlp = spacy.blank("en")
    if patterns:
        nlp.add_pipe("entity_ruler").add_patterns(patterns)
    return nlp


@pytest.fixture(scope="module")
def ruler() -> Language:
    """One hand-built pipeline (and so one Presidio analyzer) shared by the module's tests."""
    return blank_nlp(
        NAMES
        + [
            {"label": "GPE", "pattern": "Leeds"},
            {"label": "ORG", "pattern": "Acme Corp"},
            {"label": "ORG", "pattern": "Notice"},
            {"label": "ORG", "pattern": "post-mortem"},
            {"label": "DATE", "pattern": "tomorrow"},
            {"label": "DATE", "pattern": "last March"},
            {"label": "NORP", "pattern": "Irish"},
        ]
    )


def found(text: str, nlp: Language) -> list[tuple[str, str]]:
    [ms] = find_identifiers([text], nlp)
    return [(m.kind, m.surface) for m in ms]


# ----------------------------------------------------------------------------- Presidio set-up
def test_presidio_uses_the_project_pipeline_and_configured_phone_regions():
    """Real model: Presidio's NLP engine holds the loaded project pipeline (no spacy.load of a
    model name, so never a download); phonenumbers gets the regions of redact.yaml."""
    from therapy_turns.io.redact import NOT_NEEDED
    from therapy_turns.nlp import load_pipeline

    analyzer = get_analyzer()
    assert analyzer is get_analyzer()  # built once per process
    assert analyzer.nlp_engine.nlp["en"] is load_pipeline(NOT_NEEDED)
    assert "ner" in analyzer.nlp_engine.nlp["en"].pipe_names
    [phone] = [r for r in analyzer.registry.recognizers if r.name == "PhoneRecognizer"]
    args = load_rules().presidio_recognizers["PhoneRecognizer"]
    assert list(phone.supported_regions) == args["supported_regions"]
    assert {"US", "GB", "DE", "FR", "IN", "AU", "IE"} <= set(phone.supported_regions)
    names = {r.name for r in analyzer.registry.recognizers}
    assert {spec["name"] for spec in load_rules().recognizers} <= names


# ----------------------------------------------------------------------------- recognizers
@pytest.mark.parametrize(
    "text, kind, surface",
    [
        # the project's pattern recognizers (data/redact.yaml)
        ("write to danafox at gmail dot com now", "EMAIL", "danafox at gmail dot com"),
        ("it's m.lefevre(at)orange(dot)fr, ok", "EMAIL", "m.lefevre(at)orange(dot)fr"),
        ("I'm @luna.moon.art on there", "HANDLE", "@luna.moon.art"),
        ("I post as u/quiet_fern there", "HANDLE", "u/quiet_fern"),
        ("she lives at 14 Elm Road now", "ADDRESS", "14 Elm Road"),
        ("at Flat 3, 19 Moor Street by", "ADDRESS", "Flat 3, 19 Moor Street"),
        ("the flat at Kastanienallee 12 was", "ADDRESS", "Kastanienallee 12"),
        ("at 42 rue des Martyrs we", "ADDRESS", "42 rue des Martyrs"),
        ("in Denver, CO 80203 he", "POSTCODE", "CO 80203"),
        ("the home is H91 E2K3 by the sea", "POSTCODE", "H91 E2K3"),
        ("then 10435 Berlin again", "POSTCODE", "10435"),
        ("and my mum's 92 now", "AGE", "92"),
        ("she's at 9 Heol Y Nant now", "ADDRESS", "9 Heol Y Nant"),
        ("to Flat B, 61 Lordship Lane by", "ADDRESS", "Flat B, 61 Lordship Lane"),
        ("at 5 Seapoint Promenade in", "ADDRESS", "5 Seapoint Promenade"),
        ("the code 3012 BR in", "POSTCODE", "3012 BR"),
        ("number RV5 2233 9187 on", "ID", "RV5 2233 9187"),
        ("we owe British Gas money", "ORG", "British Gas"),
        ("the eircode is v94 x2p7 there", "POSTCODE", "v94 x2p7"),
        ("West End QLD 4101 is", "POSTCODE", "QLD 4101"),
        ("she's on ul. Mokra, 31-019 there", "POSTCODE", "31-019"),
        ("it's b one five, two t t for", "POSTCODE", "b one five, two t t"),
        ("we're at 22 harbour road now", "ADDRESS", "22 harbour road"),
        ("at flat 2/1, 44 Hyndland Road by", "ADDRESS", "flat 2/1, 44 Hyndland Road"),
        ("in Unit 7, 120 Saltmarket then", "ADDRESS", "Unit 7, 120 Saltmarket"),
        ("to The Old Forge, 11 High Street by", "ADDRESS", "The Old Forge, 11 High Street"),
        ("at 12/45 Boundary Street, I", "ADDRESS", "12/45 Boundary Street"),
        ("my NI number QQ 12 34 56 C was", "ID", "QQ 12 34 56 C"),
        ("hospital number K4829103 again", "ID", "K4829103"),
        ("passport C01X00T47 was", "ID", "C01X00T47"),
        ("reference CR-4471-22 they said", "ID", "CR-4471-22"),
        ("my gran is 94 now", "AGE", "94"),
        ("a 103-year-old woman", "AGE", "103-year-old"),
        ("her 95th birthday", "AGE", "95th"),
        ("my son Александр Петров calls", "NAME", "Александр Петров"),
        ("my neighbour 王伟 says", "NAME", "王伟"),
        ("my friend priya said I should", "NAME", "priya"),
        ("then PC Hollis asked again", "NAME", "Hollis"),
        ("my GP, Dr O'Neill-Bryce, said", "NAME", "O'Neill-Bryce"),
        ("born the twenty-first of April 1994 in", "DATE", "the twenty-first of April 1994"),
        ("it's on March the third, so", "DATE", "March the third"),
        ("when he was ninety-seven and", "AGE", "ninety-seven"),
        ("a 1 Elm Road letter, she said", "ADDRESS", "1 Elm Road"),
        ("from Springfield, 62704 by post", "POSTCODE", "62704"),
        ("to 410 Woodward Ave, 48226 then", "ADDRESS", "410 Woodward Ave, 48226"),
        ("at 1102 East 6th Street in", "ADDRESS", "1102 East 6th Street"),
        ("lives at ul. Długa 45, I", "ADDRESS", "ul. Długa 45"),
        ("a flat at Thorvald Meyers gate 22 now", "ADDRESS", "Thorvald Meyers gate 22"),
        ("the house on Calle Mayor 3 was", "ADDRESS", "Calle Mayor 3"),
        ("prisoner number A1234BC again", "ID", "A1234BC"),
        ("the number was 123456789GBR then", "ID", "123456789GBR"),
        ("reference HCU/2023/0417 from", "ID", "HCU/2023/0417"),
        ("licence MORGA657054SM9IJ was", "ID", "MORGA657054SM9IJ"),
        ("born 4th November 1933 in", "DATE", "4th November 1933"),
        ("he works at Walthamstow Library now", "ORG", "Walthamstow Library"),
        ("the funeral at St Patrick's Church in", "ORG", "St Patrick's Church"),
        ("he is in HMP Wakefield now", "ORG", "HMP Wakefield"),
        # round 8: streets without a number, numbers before rare words, prefixed IDs, handles
        ("she lives on Queen Street now", "ADDRESS", "Queen Street"),
        ("the chef at 44 Deansgate then", "ADDRESS", "44 Deansgate"),
        ("our house at 2 The Paddocks, Cobham", "ADDRESS", "2 The Paddocks"),
        ("at 4012 W Camelback Rd then", "ADDRESS", "4012 W Camelback Rd"),
        ("at Room 412, Lakeside Residences by", "ADDRESS", "Room 412, Lakeside Residences"),
        ("my badge is PH 07731 there", "ID", "PH 07731"),
        ("the MRN 20-118-447 was", "ID", "MRN 20-118-447"),
        ("reference 448812 then", "ID", "448812"),
        ("sort code 40-47-84 and", "ID", "40-47-84"),
        ("to 753 21 Uppsala by", "POSTCODE", "753 21"),
        ("I'm n1ght_owl_88 on there", "HANDLE", "n1ght_owl_88"),
        ("she's dolores.ramirez.1925 on it", "HANDLE", "dolores.ramirez.1925"),
        ("he plays as xXShadowWolf99Xx online", "HANDLE", "xXShadowWolf99Xx"),
        ("and my snap is katiebee ok", "HANDLE", "katiebee"),
        # Presidio's predefined recognizers and phonenumbers
        ("mail J_Doe+tag@mail.co.uk today", "EMAIL", "J_Doe+tag@mail.co.uk"),
        ("see https://example.org/a?b=1 ok", "URL", "https://example.org/a?b=1"),
        ("her blog bit.ly/3xYzQ7k is", "URL", "bit.ly/3xYzQ7k"),
        ("call (415) 555-0132 now", "PHONE", "(415) 555-0132"),
        ("call 020 7946 0321 now", "PHONE", "020 7946 0321"),
        ("call 07700 900123 now", "PHONE", "07700 900123"),
        ("call +91 98765 43210 now", "PHONE", "+91 98765 43210"),
        ("call +49 30 901820 now", "PHONE", "+49 30 901820"),
        ("from 81.2.69.160 at night", "IP", "81.2.69.160"),
        ("the postcode LS6 2QT is", "POSTCODE", "LS6 2QT"),
        ("my NHS number is 943 476 5919 ok", "ID", "943 476 5919"),
        ("the code M5C 1S1 is", "POSTCODE", "M5C 1S1"),
        ("write to pastoral@hillcrest.sch.uk today", "EMAIL", "pastoral@hillcrest.sch.uk"),
    ],
)
def test_each_recognizer_finds_the_whole_identifier(text, kind, surface, ruler):
    assert found(text, ruler) == [(kind, surface)]


def test_record_number_recognizer_alone_takes_long_numbers():
    """A bare 8-12 digit number is also a possible phone number (phonenumbers then types the
    merged finding); the project's recognizer takes it on its own."""
    from presidio_analyzer import PatternRecognizer

    [spec] = [s for s in load_rules().recognizers if s["name"] == "RecordNumberRecognizer"]
    rec = PatternRecognizer.from_dict({**spec, "supported_language": "en"})
    text = "my MRN is 00483921, not 2021 or 1234567."
    assert [
        (text[r.start : r.end], r.entity_type) for r in rec.analyze(text, rec.supported_entities)
    ] == [("00483921", "RECORD_NUMBER")]


@pytest.mark.parametrize(
    "text",
    [
        "I'd rate it 7 out of 10, maybe 3... 4 now.",
        "Give it 15-20 minutes, then 2-3 more, a 20-minute block.",
        "About 7/10 and 4/10 before.",
        "The decoder prompt (length 9159) is longer than 8192.",
        "It took 90 minutes and I'm 100 percent sure; she was 95 percent there.",
        "My friend said so, my sister called, my boss never listens.",
        "Look at it: that's where we're at, dot the i's.",
        "I'm at 2nd place, at 3 Steps Forward.",
        "May I ask how you are? In march we walk.",
        "Try the 5-4-3-2-1 exercise, 10 minutes, 3 times, in 2024 or 24/7.",
        "I went to the hospital, the school and the church.",
        "From 1066 AD to 1500 AD, a 2000 MB file at 1200 PM.",
        "I walked 10000 steps, saved 25000 pounds, have 2 Kids and 3 Dogs.",
        "The worry would snap back, the folder old_runs too, in 2019 Mum said so.",
    ],
)
def test_ordinary_talk_is_left_alone(text, ruler):
    assert found(text, ruler) == []


def test_seed_corpus_has_no_hits_without_the_ner_model(ruler):
    """253 real turns: Presidio's pattern recognizers alone change nothing (no false positives);
    over-redaction with the model is measured in benchmarks/redaction_recall.py."""
    turns = load_corpus("seeds").turns
    out = redact_turns(turns, nlp=ruler)
    pd.testing.assert_frame_equal(out, turns)


def test_ner_findings_filtered_by_stop_list_capitals_and_calendar_dates(ruler):
    text = (
        "Patient: Notice that I left Acme Corp in Leeds last March; an Irish post-mortem "
        "is due tomorrow.\n"
    )
    out = redact_turns(parse_text(text, "s"), nlp=ruler)
    assert out.at[0, "text"] == (
        "Notice that I left [ORG_1] in [PLACE_1] [DATE_1]; an Irish post-mortem is due tomorrow."
    )


# ----------------------------------------------------------------------------- placeholders
def test_planted_transcript_typed_consistent_placeholders(ruler):
    turns = parse_text(PLANTED, "s1")
    out = redact_turns(turns, nlp=ruler)
    assert out.at[0, "text"] == (
        "My sister [NAME_1] keeps calling me. Email me at [EMAIL_1] or ring\n[PHONE_1]."
    )
    assert out.at[1, "text"] == "Thank you. When did [NAME_1] last call you?"
    assert out.at[2, "text"] == "On [DATE_1]. Her number is [PHONE_1] and her blog is [URL_1]."
    assert out.at[3, "text"] == "Let's notice that. Write to [EMAIL_1]? No, to [EMAIL_2] instead."
    assert out.at[3, "meta_notes"] == (
        "(Note: I will email [EMAIL_1] and call [PHONE_2] after the session.)"
    )
    assert "[EMAIL_1]" in out.at[3, "raw_text"] and "[PHONE_2]" in out.at[3, "raw_text"]
    dump = out.to_csv(index=False)
    for s in SECRETS:
        assert s not in dump, s
    cols = ["session_id", "turn", "speaker", "meta_note", "truncated"]
    pd.testing.assert_frame_equal(out[cols], turns[cols])


def test_numbering_restarts_per_session_and_original_unchanged(ruler):
    a = "Patient: Mail a@x.com please.\n\nTherapist: Or b@x.com then.\n"
    b = "Patient: Mail b@x.com please.\n"
    turns = pd.concat([parse_text(a, "A"), parse_text(b, "B")], ignore_index=True)
    before = turns.copy()
    out = redact_turns(turns, nlp=ruler)
    assert out["text"].tolist() == [
        "Mail [EMAIL_1] please.",
        "Or [EMAIL_2] then.",
        "Mail [EMAIL_1] please.",
    ]
    pd.testing.assert_frame_equal(turns, before)


def test_missing_text_cells_are_kept_missing(ruler):
    """A NaN or None cell (e.g. an empty ``thinking``) is left as it is, the rest redacted."""
    turns = parse_text("Patient: Mail a@x.com please.\n\nTherapist: Or b@x.com then.\n", "A")
    turns["thinking"] = [float("nan"), None]
    turns.loc[1, "text"] = float("nan")
    out = redact_turns(turns, nlp=ruler)
    assert out["text"].iloc[0] == "Mail [EMAIL_1] please." and pd.isna(out["text"].iloc[1])
    assert out["thinking"].isna().all()


def test_name_found_once_is_swept_with_parts_lowercase_and_nicknames(ruler):
    """The ruler tags only "Sarah Mitchell" and "Robert"; every other form is the sweep's."""
    text = (
        "Patient: Sarah Mitchell and my husband Robert came.\n\n"
        "Therapist: How was sarah? And Mitchell?\n\n"
        "Patient: Bob says bob is fine, Rob and Bobby agree; robert will call. Will you?\n"
    )
    out = redact_turns(parse_text(text, "s"), nlp=ruler)
    assert out["text"].tolist() == [
        "[NAME_1] and my husband [NAME_2] came.",
        "How was [NAME_1]? And [NAME_1]?",
        "[NAME_2] says [NAME_2] is fine, [NAME_2] and [NAME_2] agree; [NAME_2] will call. "
        "Will you?",
    ]
    other = redact_turns(parse_text("Patient: Bob and Sarah are fine.\n", "t"), nlp=ruler)
    assert other.at[0, "text"] == "Bob and Sarah are fine."  # sweeps stay within their session


def test_name_variants_skip_common_words():
    v = name_variants("William Rose")
    assert {"William", "william", "Will", "Bill", "Billy", "billy", "Rose"} <= v
    assert "will" not in v and "bill" not in v  # common English words stay in lower case
    assert "Dr" not in name_variants("Dr Anand Sharma")
    assert {"Anand", "Sharma", "anand", "sharma"} <= name_variants("Dr Anand Sharma")
    short = name_variants("Brittany Chen", session_words={"Britt", "Brit", "Br", "Bright"})
    assert {"Britt", "britt", "Brit", "Br"} <= short and "Bright" not in short
    assert "Al" not in name_variants("Alison Brown", session_words={"Al"})  # "al": common
    lower = name_variants("Lachlan Hughes", session_words={"lachie", "lach", "la", "lake"})
    assert {"lachie", "lach"} <= lower and not {"la", "lake"} & lower
    assert {"Siobhán", "siobhán", "siobhan", "Siobhan"} <= name_variants("Siobhán")
    assert "pawel" in name_variants("Paweł")
    assert "seun" in name_variants("Oluwaseun", session_words={"seun", "un", "wa"})
    assert not {"un", "wa"} & name_variants("Oluwaseun", session_words={"seun", "un", "wa"})


def test_organisation_possessive_swept_with_it(ruler):
    turns = parse_text("Patient: I left Acme Corp. Acme Corp's boss rang; Acme Corp’s too.\n", "s")
    out = redact_turns(turns, nlp=ruler)
    assert out.at[0, "text"] == "I left [ORG_1]. [ORG_1] boss rang; [ORG_1] too."


def test_known_strings_and_speaker_labels(ruler):
    text = "Jane: I told Bob about Riverside Clinic.\n\nTherapist: What did Bob say, Jane?\n"
    turns = parse_text(text, "s", speakers={"jane": "patient", "therapist": "therapist"})
    out = redact_turns(turns, nlp=ruler, known={"NAME": ["Bob"], "ORG": ["Riverside Clinic"]})
    assert out["text"].tolist() == [
        "I told [NAME_1] about [ORG_1].",
        "What did [NAME_1] say, [NAME_2]?",
    ]
    assert out["speaker_label"].tolist() == ["Patient", "Therapist"]
    with pytest.raises(ValueError, match="PERSON"):
        redact_turns(turns, nlp=ruler, known={"PERSON": ["Bob"]})


def test_thinking_column_redacted_consistently(ruler):
    text = (
        "--- Turn 1 ---\nPatient: My boss is Dana Fox.\n\n--- Turn 2 ---\n"
        "Therapist Thinking: Dana Fox seems central; ask about dana.fox@acme.io.\n"
        "Therapist Answer: Tell me more about Dana Fox, or dana.\n"
    )
    out = redact_turns(parse_text(text, "s"), nlp=ruler)
    assert out.at[1, "thinking"] == "[NAME_1] seems central; ask about [EMAIL_1]."
    assert out.at[1, "text"] == "Tell me more about [NAME_1], or [NAME_1]."


def test_redaction_map_audit(ruler):
    turns = parse_text("Patient: Mail a@x.com or a@x.com.\n", "s")
    m = redaction_map(turns, nlp=ruler)
    assert m[["placeholder", "type", "surface"]].values.tolist() == [
        ["[EMAIL_1]", "EMAIL", "a@x.com"]
    ]
    assert m["count"].tolist() == [4]  # twice in raw_text, twice in text


def test_context_words_raise_weak_patterns():
    """Real model (lemmas for Presidio's context enhancer): a bare number is a postcode only
    next to a postcode word."""
    texts = [
        "my PIN code is 600 040 there",
        "my zip code is 94103 now",
        "it took 600 040 steps",
        "about 94103 people came",
    ]
    assert [[(m.kind, m.surface) for m in ms] for ms in find_identifiers(texts)] == [
        [("POSTCODE", "600 040")],
        [("POSTCODE", "94103")],
        [],
        [],
    ]


def test_rare_proper_noun_recognizer_needs_the_tagger(ruler):
    """Real model: "Chukwuemeka" and "Kyiv" are not frequent English words and are tagged
    PROPN (the NER model may or may not tag them); a capitalised common word is left, and a
    pipeline without a tagger finds nothing with this recognizer."""
    text = "He calls from Kyiv with my friend Chukwuemeka. Patience is hard."
    [ms] = find_identifiers([text])
    assert {m.surface for m in ms} >= {"Kyiv", "Chukwuemeka"}
    assert "Patience" not in {m.surface for m in ms}
    assert found("He calls from Kyiv with Chukwuemeka.", ruler) == []


def test_name_inside_a_finding_of_another_type_is_swept_as_a_name():
    """Real model: "Jamal Hughes" is tagged ORG by en_core_web_sm; its part "Jamal" is also a
    rare proper noun, so the lower-case "jamal" is swept as a name."""
    text = "Patient: My partner Jamal Hughes says give her time, jamal is patient.\n"
    out = redact_turns(parse_text(text, "s"))
    assert "jamal" not in out.at[0, "text"] and "Jamal" not in out.at[0, "text"]
    assert out.at[0, "text"].endswith(", [NAME_1] is patient.")


def test_real_model_names_places_organisations():
    """Real model: depends on en_core_web_sm tagging these textbook-clear entities."""
    text = (
        "Patient: My sister Sarah Johnson moved to London and works for Microsoft.\n\n"
        "Therapist: How do you feel about sarah being in London?\n"
    )
    out = redact_turns(parse_text(text, "s"))
    assert out["text"].tolist() == [
        "My sister [NAME_1] moved to [PLACE_1] and works for [ORG_1].",
        "How do you feel about [NAME_1] being in [PLACE_1]?",
    ]


# ----------------------------------------------------------------------------- no leaks
def test_withhold_quoted_and_redacted_speakers():
    assert (
        withhold_quoted("a.txt:3: found text outside any turn: 'Jane Roe rang'; expected x")
        == "a.txt:3: found text outside any turn: <13 characters withheld>; expected x"
    )
    assert (
        withhold_quoted('labels ["jane", "bob"]')
        == "labels [<4 characters withheld>, <3 characters withheld>]"
    )
    assert redact_speakers({"Jane Roe": "patient", "Dr Who": "therapist", "client": "patient"}) == {
        "[SPEAKER_1]": "therapist",
        "[SPEAKER_2]": "patient",
        "client": "patient",
    }
    err = TranscriptError("outside_turn", "f.txt", 1, text="Jane Roe")
    assert "Jane" not in err.withheld() and "Jane" in str(err)
    # apostrophes inside words neither open nor close a quotation
    assert (
        withhold_quoted("the speaker's turn; --speaker 'Ann O'Neill=patient' or 'x'")
        == "the speaker's turn; --speaker <19 characters withheld> or <1 characters withheld>"
    )


def test_cli_unknown_speaker_label_not_printed_with_redact(tmp_path, capsys):
    src = tmp_path / "t.txt"
    src.write_text(
        "Therapist: Hi.\n\nJane Roe: I am sad.\n\nTherapist: Why?\n\nJane Roe: Work.\n",
        encoding="utf-8",
    )
    assert cli.main(["parse", str(src), "--out", str(tmp_path / "o.csv"), "--redact"]) == 2
    err = capsys.readouterr().err
    assert "t.txt:3" in err and "withheld" in err and "Jane" not in err


def test_cli_parse_redact(tmp_path):
    src = tmp_path / "t.txt"
    src.write_text(PLANTED, encoding="utf-8")
    out = tmp_path / "turns.csv"
    assert cli.main(["parse", str(src), "--out", str(out), "--redact", "--quiet"]) == 0
    dump = out.read_text(encoding="utf-8")
    for s in SECRETS:
        assert s not in dump, s
    assert PLACEHOLDER_RE.search(dump)


LEAKY = "Jane Roe rang me at 07700 900123 before any label.\n\nPatient: Hello.\n"


def test_cli_error_and_skip_messages_withhold_text_with_redact(tmp_path, capsys, caplog):
    bad = tmp_path / "bad.txt"
    bad.write_text(LEAKY, encoding="utf-8")
    assert cli.main(["parse", str(bad), "--out", str(tmp_path / "x.csv"), "--redact"]) == 2
    err = capsys.readouterr().err
    assert "bad.txt:1" in err and "withheld" in err and "Jane" not in err
    assert cli.main(["parse", str(bad), "--out", str(tmp_path / "x.csv")]) == 2
    assert "Jane Roe" in capsys.readouterr().err  # without --redact the message shows it
    good = tmp_path / "good.txt"
    good.write_text("Patient: Hello.\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert (
            cli.main(
                [
                    "parse",
                    str(bad),
                    str(good),
                    "--out",
                    str(tmp_path / "y.csv"),
                    "--on-error",
                    "skip",
                    "--redact",
                    "--quiet",
                ]
            )
            == 0
        )
    err = capsys.readouterr().err
    assert "skipped" in err and "Jane" not in err and "07700" not in err
    assert "Jane" not in caplog.text and "skipped" in caplog.text


def test_analysis_tables_manifest_logs_and_explorer_hold_no_planted_string(tmp_path, caplog):
    """End to end: `analyze --redact` tables, manifest.json, log and the explorer HTML."""
    from therapy_turns import pipeline
    from therapy_turns.report import explorer

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "s1.txt").write_text(PLANTED.replace("Patient:", "Jane Roe:"), encoding="utf-8")
    (corpus / "s2.txt").write_text(LEAKY, encoding="utf-8")
    out = tmp_path / "build"
    with caplog.at_level(logging.INFO):
        pipeline.build_tables(
            str(corpus),
            str(out),
            progress=False,
            redact=True,
            on_error="skip",
            speakers={"Jane Roe": "patient"},
        )
    manifest = (out / "manifest.json").read_text()
    assert json.loads(manifest)["parameters"]["speakers"] == {"[SPEAKER_1]": "patient"}
    assert "s2.txt" in manifest and "withheld" in manifest
    dumps = [pd.read_parquet(p).to_csv() for p in sorted(out.rglob("*.parquet"))]
    assert dumps
    data = explorer.load_data(str(corpus), str(out))
    page = explorer.render_session(data, "s1", figure=False)
    for s in [*SECRETS, "Jane", "Roe", "07700"]:
        assert s not in manifest, s
        assert s not in caplog.text, s
        assert s not in page, s
        assert not any(s in d for d in dumps), s


def test_camel_case_name_found():
    """Real model: a CamelCase word the tagger calls a proper noun or noun is a name."""
    [ms] = find_identifiers(["I checked my credit with ClearScore again last night."])
    assert [m.surface for m in ms] == ["ClearScore"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("at 41 Moss Lane, Sale, for years", [("ADDRESS", "41 Moss Lane"), ("PLACE", "Sale")]),
        ("it is in Rugby, CV21 3HQ now", [("PLACE", "Rugby"), ("POSTCODE", "CV21 3HQ")]),
        ("I reported it to ACAS today", [("ORG", "ACAS")]),
        ("my GP and the NHS, my MRN 0048", [("ID", "0048")]),  # acronyms kept; a cued number
        ("I was SO ANGRY", []),  # common words in capitals
        ("log in at 192.168.1.1/admin then", [("URL", "192.168.1.1/admin")]),
        ("he drank at the Cross Keys every night", [("ORG", "the Cross Keys")]),
        ("we met in The Brazen Head again", [("ORG", "The Brazen Head")]),
        ("she lives at Sunrise of Esher now", [("ORG", "Sunrise of Esher")]),
        ("I volunteer for Age UK on Fridays", [("ORG", "Age UK")]),
        ("we talk on WhatsApp and Zoom", []),
    ],
)
def test_towns_acronyms_venues_and_ip_urls(text, expected, ruler):
    """Pattern recognizers (no model): towns in addresses, acronyms not listed in never_redact,
    venues, URLs whose host is an IP address."""
    assert found(text, ruler) == expected


def test_given_names_and_capitalised_words_inside_sentences():
    """Real model: a capitalised word inside a sentence that is a given name of Faker's lists is
    a name, one after a place preposition a place; months, weekdays, relationship words and
    sentence starts are left."""
    texts = [
        "bogdan made Precious cry last week.",
        "My social worker is Adaeze from the council.",
        "She moved to Reading in May.",
        "Hope is hard. I told Mum every Sunday.",
        "Her name is Obi, and my friend Grace agrees.",
    ]
    got = [{(m.kind, m.surface) for m in ms} for ms in find_identifiers(texts)]
    assert ("NAME", "Precious") in got[0]
    assert ("NAME", "Adaeze") in got[1]
    assert got[2] == {("PLACE", "Reading"), ("DATE", "May")}
    assert got[3] == set()
    assert {("NAME", "Obi"), ("NAME", "Grace")} <= got[4]


def test_capitalised_words_inside_sentences_not_known_safe_are_redacted_as_runs():
    """Real model: a capitalised word inside a sentence is redacted unless known safe (months,
    weekdays, religions and holidays, nationalities, listed acronyms); titles and particles join
    a run of such words into one finding."""
    texts = [
        "She rang, and Octopus sent a bill again.",
        "I pray to God at Christmas and Eid, in English, on Monday, with my GP.",
        "She works at St Francis Friary and her aunt lives on Bóthar na Trá.",
    ]
    got = [[m.surface for m in ms] for ms in find_identifiers(texts)]
    assert got[0] == ["Octopus"]
    assert got[1] == []
    assert got[2] == ["St Francis Friary", "Bóthar na Trá"]


def test_short_forms_with_z_or_a_doubled_letter_and_transliterations():
    v = name_variants("Gareth Evans", session_words={"gaz", "ga", "gazebo"})
    assert "gaz" in v and "ga" not in v and "gazebo" not in v
    assert "immy" in name_variants("Imogen", session_words={"immy", "ann"})
    assert "ann" not in name_variants("Andrew", session_words={"ann"})
    assert "djurdja" in name_variants("Đurđa") and "mueller" in name_variants("Müller")


def test_lower_case_proper_noun_is_a_name_unless_an_english_word():
    """Real model: a lower-case word the tagger calls a proper noun is a name, unless the
    lemmatizer's WordNet index lists it ("jumpy" was redacted as a name 21 times in a corpus)."""
    texts = [
        "I’m also jumpy and a little distracted right now; my attention keeps flicking away.",
        "me and oluwaseun went to the shop.",
    ]
    got = [[(m.kind, m.surface) for m in ms] for ms in find_identifiers(texts)]
    assert got == [[], [("NAME", "oluwaseun")]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I saw Kim-Ly there", [("NAME", "Kim-Ly")]),  # the model tags "Kim" only
        ("Robert's van was outside", [("NAME", "Robert's")]),
        ("I work at the Acme Corp site", [("ORG", "the Acme Corp")]),
        ("my ref is KLM-40412-B now", [("ID", "KLM-40412-B")]),
        ("we ate at the Fox and Hounds on Sunday", [("ORG", "the Fox and Hounds")]),
        ("her page is tilly_crochets, all scarves", [("HANDLE", "tilly_crochets")]),
        ("I named it modeling.ipynb, the folder old_runs", []),
        ("Grandad's a hundred and two, still sharp", [("AGE", "a hundred and two")]),
        ("it's a hundred percent my fault", []),
        ("my discord is wolfie#4471 now", [("HANDLE", "wolfie#4471")]),
        ("The ref was HB-2291-KL.", [("ID", "HB-2291-KL")]),
        ("My claim reference is UC 4471 2209 X.", [("ID", "UC 4471 2209 X")]),
        ("I grew up at Number 8, Tresillian Row.", [("ADDRESS", "Number 8, Tresillian Row")]),
        ("They live at Schönhauser Allee 36.", [("ADDRESS", "Schönhauser Allee 36")]),
        ("He died at the age of 93, nearly 100", [("AGE", "93"), ("AGE", "100")]),
        ("Gran (94) and my neighbour, 99, live alone", [("AGE", "94"), ("AGE", "99")]),
        ("My great-grandad is 94yo.", [("AGE", "94yo")]),
        ("he streams as xX_Reaper_Xx tonight", [("HANDLE", "xX_Reaper_Xx")]),
        ("I'd rate it 95 out of 100, nearly 100 bpm, from 60 to 95", []),
    ],
)
def test_whole_words_the_of_a_venue_joined_handles_and_ages_in_words(text, expected, ruler):
    """A finding covers the whole words it touches (joined by - ' . _) and a "the" before a
    name, place or organisation; handles of joined words without a digit, not file names."""
    assert found(text, ruler) == expected


def test_the_and_possessive_keep_the_placeholder(ruler):
    turns = parse_text("Patient: I work at the Acme Corp site. Acme Corp's boss is Kim.\n", "s")
    assert redact_turns(turns, nlp=ruler).at[0, "text"] == (
        "I work at [ORG_1] site. [ORG_1] boss is [NAME_1]."
    )


def test_lower_case_words_after_cues_and_nationality_runs():
    """Real model: a rare lower-case word after a relationship word is a name whatever its tag,
    after a place word a place (not a verb after "to"); a nationality before a redacted word
    joins it; dating apps are not listed safe."""
    texts = [
        "My neighbour, mairead, came round.",  # tagged ADV
        "i work at aldi on the tills.",
        "her family came from French Lick originally.",
        "We met on Tinder in the spring.",
        "I'd like to reframe that, not to bail.",
    ]
    got = [[(m.kind, m.surface) for m in ms] for ms in find_identifiers(texts)]
    assert got[:2] == [[("NAME", "mairead")], [("PLACE", "aldi")]]
    assert [[s for _, s in g] for g in got[2:]] == [["French Lick"], ["Tinder"], []]


def test_lower_case_given_names_any_tag_cues_particles_and_safe_words():
    """Real model: a rare lower-case given name not in WordNet is a name whatever its tag;
    "aunty" is a cue, "upon" a particle; "Mass", "IBAN", "Eircode", apps are listed safe."""
    texts = [
        "and femke never rang back.",  # tagged ADV
        "i told aunty bisi everything.",
        "He grew up in Newcastle upon Tyne.",
        "I saw him at Mass on Sunday.",
        "They want the IBAN and the Eircode now.",
        "We talk over Teams, then on Twitch or my US iPhone.",
    ]
    got = [[m.surface for m in ms] for ms in find_identifiers(texts)]
    assert got == [["femke"], ["bisi"], ["Newcastle upon Tyne"], [], [], []]


def test_lower_case_organisation_after_for_or_with_and_runs_joined_by_and():
    """Real model: a rare lower-case word not in WordNet after "for"/"with"/"by" is an
    organisation; "and" joins two capitalised words when one is an organisation."""
    texts = ["he works for deloitte in the city.", "He works at Marks and Spencer in Leeds."]
    got = [[(m.kind, m.surface) for m in ms] for ms in find_identifiers(texts)]
    assert got[0] == [("ORG", "deloitte")]
    assert "Marks and Spencer" in [surface for _, surface in got[1]]


def test_medications_conditions_and_of_without_a_name_before_it_are_kept():
    """Real model: medications, conditions (eponyms too) and subjects are listed safe; "of"
    joins a name only after a word taken for one."""
    texts = [
        "They upped my Sertraline and I was on Olanzapine in hospital.",
        "He's got Alzheimer's and I have Dyslexia, and I study Psychology.",
        "I cried through the whole of EastEnders.",
    ]
    got = [[m.surface for m in ms] for ms in find_identifiers(texts)]
    assert got == [[], [], ["EastEnders"]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("We had cake for her 93rd on Sunday.", [("AGE", "93rd")]),  # ordinal age, any phrase
        ("Dad's 101st was quiet.", [("AGE", "101st")]),
        ("For her ninety-third we flew home.", [("AGE", "ninety-third")]),
        ("It was his 100th day sober, the 95th minute.", []),
        ("Rent is due on the 14th, so I panic.", [("DATE", "14th")]),  # a bare day of the month
        ("I stay until the 30th of next month.", [("DATE", "30th")]),
        ("Her flat is on the 2nd floor, the 3rd time I went.", []),
        ("Pay it by Monday the 9th and you are fine.", [("DATE", "Monday the 9th")]),
        ("It was the 1st of many bad nights.", []),
        ("The ticket said ZQ8-TT41-M7K on it.", [("ID", "ZQ8-TT41-M7K")]),  # letter-digit groups
        ("Write down R7K 2PX9 LL4 for them.", [("ID", "R7K 2PX9 LL4")]),
        ("My client number is B 318 442 901.", [("ID", "B 318 442 901")]),  # letter + groups
        ("The booking ref was KP4W8Z, gate B12.", [("ID", "KP4W8Z")]),  # 6 mixed characters
        ("Take the M6 M62 or the A1 B2 C3 route, a 4G-5G phone.", []),
        ("Her page is jessyy_x these days.", [("HANDLE", "jessyy_x")]),  # handle ending ".x"
        ("Find me as zoey_crafts_ there.", [("HANDLE", "zoey_crafts_")]),
        ("Add him, he's robbo_ on there, it's _really_ him.", [("HANDLE", "robbo_")]),
        ("We lived off No. 5 Road for years.", [("ADDRESS", "No. 5 Road")]),  # numbered road
        ("He rents at 318 E 44th St now.", [("ADDRESS", "318 E 44th St")]),  # a direction
        ("Her birthday's on 17/9, born 2/3.", [("DATE", "17/9"), ("DATE", "2/3")]),
        ("I rate my birthday a 3/10, mood 7/10.", []),
        (
            "Ring oh one six one, four nine six, double oh seven.",
            [("PHONE", "oh one six one, four nine six, double oh seven")],
        ),
        ("Breathe: one, two, three, four, five, six, seven, eight.", []),
        ("Honestly? K-Dawg. He ran it.", [("NAME", "K-Dawg")]),  # letter-word nickname
        ("I passed my A-Levels, then an X-Ray.", []),
    ],
)
def test_round10_ordinal_ages_bare_days_grouped_ids_handles_and_numbered_roads(
    text, expected, ruler
):
    """Round 10: an ordinal age over 89 after a possessive; a day of the month after
    on/by/to/of/until/from/since/a weekday or before "of ... month" (not before a noun);
    letter-digit groups as one ID (also a capital letter + digit groups); a handle ending in
    ".x"/"_x" or "_"; "No. N Road"; a direction before a numbered street; a day/month in digits
    after "birthday is/on", "born", "DOB"; a nickname "K-Dawg" (not "A-Levels")."""
    assert found(text, ruler) == expected


def test_rare_lower_case_word_between_found_words_joins_them():
    """Real model: a rare lower-case word between two words taken for a name joins them into
    one finding ("Lycée professionnel Jean-Moulin"); a common one does not ("and", "from")."""
    texts = [
        "She was expelled from Lycée professionnel Jean-Moulin in the spring.",
        "My friend Ottilie from Reading came, and Bastian.",
        "He trained at Akademie für Tonkunst Bremen for years.",  # a particle "für"
    ]
    got = [[m.surface for m in ms] for ms in find_identifiers(texts)]
    assert "Lycée professionnel Jean-Moulin" in got[0]
    assert "Akademie für Tonkunst Bremen" in got[2]
    assert "Ottilie" in got[1] and not any("from" in s for s in got[1])


def test_lower_case_place_after_a_motion_word_and_to_even_if_tagged_a_verb():
    """Real model: after "go/went/moved/... to" a rare lower-case word not in WordNet is a place
    whatever its tag; after "going to", "want to" it stays ("overthink", "reframe")."""
    texts = [
        "we used to go to skegness every summer",
        "I'm going to overthink it, I want to reframe it.",
    ]
    got = [[(m.kind, m.surface) for m in ms] for ms in find_identifiers(texts)]
    assert got == [[("PLACE", "skegness")], []]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "My sister's at 9 Gilbert Road, Reservoir 3073.",
            [("ADDRESS", "9 Gilbert Road"), ("PLACE", "Reservoir"), ("POSTCODE", "3073")],
        ),  # a code after a suburb, no state
        ("She rents in Petone 5012 now.", [("POSTCODE", "5012")]),
        ("Mum's flat is in Uppsala 753 21 these days.", [("POSTCODE", "753 21")]),
        ("They're in Hackney, E8, by the market.", [("POSTCODE", "E8")]),  # an outward code
        ("We were in Hull 2019 and Okay, M6 was shut.", []),  # a year, a road
        (
            "It's jane underscore doe at yahoo dot co dot uk.",
            [("EMAIL", "jane underscore doe at yahoo dot co dot uk")],
        ),
        (
            "Mail sarah dash jones at outlook dot com.",
            [("EMAIL", "sarah dash jones at outlook dot com")],
        ),
        ("It's tom.harris at gmail.com now.", [("EMAIL", "tom.harris at gmail.com")]),
        ("My email is jenny [at] mailbox [dot] org.", [("EMAIL", "jenny [at] mailbox [dot] org")]),
        ("It's at bit.ly/3xYz9Q. Look at it. When?", [("URL", "bit.ly/3xYz9Q")]),
        ("My blog is mindfulmama dot co dot uk.", [("URL", "mindfulmama dot co dot uk")]),
        ("Book calendly dot com slash dr-smith.", [("URL", "calendly dot com slash dr-smith")]),
        ("My username on there is bluebirdsing.", [("HANDLE", "bluebirdsing")]),
        ("My Snapchat's lilmissmolly, ok.", [("HANDLE", "lilmissmolly")]),
        ("Send it to PO Box 4471 instead.", [("ADDRESS", "PO Box 4471")]),
        ("At 96 she still gardens.", [("AGE", "96")]),  # not an address "96 ... gardens"
        (
            "It's zero four one two, three four five, six seven eight.",
            [("PHONE", "zero four one two, three four five, six seven eight")],
        ),  # a run of four inside a number, not at its start
        (
            "Born the third of March, nineteen eighty-seven.",
            [("DATE", "the third of March, nineteen eighty-seven")],
        ),  # a year in words
    ],
)
def test_round11_codes_after_towns_spoken_emails_and_urls_cued_handles_and_years_in_words(
    text, expected, ruler
):
    """Round 11: a postcode right after a town that follows ", " or a place word (and a UK
    outward code after "Town, "); spoken e-mails with "underscore", "dash", "[at]" or a written
    domain; spoken URLs; handle cues "on there", "'s"; "PO Box"; a spoken number with a run of
    four digits after its start; a year said in words after a day and month."""
    assert found(text, ruler) == expected


def test_round11_subjects_at_a_sentence_start_and_organisations_joined_by_and():
    """Real model: a proper noun starting a sentence is a name before a past or present verb
    other than "be", a possessive, "from" or "and" ("Mo found it", "Mo's sister", "Hung from
    work", "Rose and I");
    not "Hope is hard", "Imagine walking". "and" joins two capitalised words into one finding
    when the first is not a given name ("Slater and Gordon"; not "Sarah and Tom")."""
    texts = [
        "I hid it. Mo found it under the sofa.",
        "Sorry. Mo's sister Sabiha says we can stay.",
        "It's awful. Hung from work found the profile.",
        "Hope is hard. Imagine walking on a beach.",
        "I've got a lawyer at Slater and Gordon now.",
        "I went with Sarah and Tom to the park.",
        "It was lovely. Rose and I used to walk.",
    ]
    got = [[m.surface for m in ms] for ms in find_identifiers(texts)]
    assert "Mo" in got[0] and "Mo's" in got[1] and "Hung" in got[2]
    assert got[3] == []
    assert "Slater and Gordon" in got[4]
    assert {"Sarah", "Tom"} <= set(got[5])
    assert got[6] == ["Rose"]


def test_round11_kinship_scheme_names_and_safe_phrases_are_kept():
    """Real model: kinship words of other dialects and languages, benefit and ID scheme names
    (as words), IVF and phrases listed in never_redact ("Do Not Disturb", "Universal Credit") are
    kept wherever they occur, also inside a run of capitalised words."""
    texts = [
        "My Ma always said it. Mam never talked. My koro and the whole whānau came.",
        "Then my Abuela moved in, and my Nonna.",
        "I'm on Universal Credit and they want my National Insurance number.",
        "You need your SIN here, and my NHI too. We did three rounds of IVF.",
        "I put my phone on Do Not Disturb after nine.",
        "I've applied for Jobseeker's Allowance and Housing Benefit.",
        "Valentine's Day was just another reminder.",
    ]
    assert [[m.surface for m in ms] for ms in find_identifiers(texts)] == [[]] * len(texts)


def test_round11_short_forms_letters_in_order_and_more_diminutive_endings():
    """A short form of a found name also when its letters are the name's in order with the
    name's first two and last ("cal" of "Cathal"), or a prefix with -ek, -ito ("tomek",
    "juanito"); not "ann" of "Andrew", "cel" of "Cathal"."""
    assert "cal" in name_variants("Cathal", session_words={"cal", "cel"})
    assert "cel" not in name_variants("Cathal", session_words={"cal", "cel"})
    assert "tomek" in name_variants("Tomasz", session_words={"tomek"})
    assert "juanito" in name_variants("Juan", session_words={"juanito"})
    assert "ann" not in name_variants("Andrew", session_words={"ann"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The router was at 192.168.1.1:8080 all along.", [("IP", "192.168.1.1:8080")]),
        ("He's at 1420 Maple Ave Apt 3 now.", [("ADDRESS", "1420 Maple Ave Apt 3")]),
        (
            "It's jane (dot) doe (at) gmail (dot) com.",
            [("EMAIL", "jane (dot) doe (at) gmail (dot) com")],
        ),
        ("Go to w w w dot mind dot org dot uk then.", [("URL", "w w w dot mind dot org dot uk")]),
        ("She's pushing 95 and sharp.", [("AGE", "95")]),
        ("My nan's in her late nineties now.", [("AGE", "nineties")]),
        ("Back in the nineties we had nothing.", []),
        ("The case number is 4471, my patient ID: 88213.", [("ID", "4471"), ("ID", "88213")]),
        ("It was number 7 on the list, in case 2019 was different.", []),
    ],
)
def test_round11_ip_ports_flats_after_streets_spelled_urls_age_groups_and_cued_ids(
    text, expected, ruler
):
    """Round 11: an IPv4 address with its port; a flat or unit after the street; "(dot)" in a
    spoken e-mail's name part; "w w w dot ..."; "pushing 95"; "in her (late) nineties"; 4+ digits
    right after an ID word (not a year)."""
    assert found(text, ruler) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i went to see dr patel on tuesday", [("NAME", "patel")]),  # a lower-case title
        ("I miss you, said mr right, I miss travelling.", []),  # common words after it
        ("My great-aunt, ninety-eight, lives alone.", [("AGE", "ninety-eight")]),
        ("She made it to 103, bless her.", [("AGE", "103")]),
        ("My locker number is 4471.", [("ID", "4471")]),
        ("We met on Valentine's Day 2015.", [("DATE", "Valentine's Day 2015")]),  # holiday + year
        (
            "It's 12 Crown St, Surry Hills 2010.",
            [("ADDRESS", "12 Crown St"), ("PLACE", "Surry Hills"), ("POSTCODE", "2010")],
        ),
        ("The office is Level 3, 200 George Street.", [("ADDRESS", "Level 3, 200 George Street")]),
        ("Christmas was hard, Easter too.", []),
        ("Joy is my sister. Faith's my best friend.", [("NAME", "Joy"), ("NAME", "Faith's")]),
        ("Today is my mum's birthday. How is your sister? This is my boss.", []),
    ],
)
def test_round11_lower_case_titles_ages_in_words_in_apposition_and_number_cues(
    text, expected, ruler
):
    """Round 11: a rare lower-case word after a lower-case title ("dr patel"); an age in words
    between commas; "made it to" before an age; 4+ digits after "number is"; a holiday
    with its year; a code like a year after ", Town"; a level before the street; a capitalised word,
    also at a sentence start, before "is/was my <relation>"."""
    assert found(text, ruler) == expected


def test_round11_mixed_case_organisation_name():
    """Real model: a word with capitals inside it after a lower-case letter ("PwC") is taken
    like a CamelCase name."""
    [ms] = find_identifiers(["My boss at PwC keeps emailing me."])
    assert [m.surface for m in ms] == ["PwC"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("His gamer name was yaw_the_great, then.", [("HANDLE", "yaw_the_great")]),
        ("He set `max_model_len` in old_runs.", []),  # code in backticks, two common words
        ("His Instagram, captain.m.hale, is gone.", [("HANDLE", "captain.m.hale")]),
        ("I'm kojoplays on Twitch. I'm always on TikTok.", [("HANDLE", "kojoplays")]),
        ("That's a lot for a man of 97.", [("AGE", "97")]),
        ("Grandpa, now 98, lives alone.", [("AGE", "98")]),
        ("Grandad hit 100 last week.", [("AGE", "100")]),
        ("My gogo is a hundred and three and she still walks.", [("AGE", "a hundred and three")]),
        ("It's a hundred and ten and rising.", []),
        (
            "The postcode, P L twenty-two, oh J Q, was posted.",
            [("POSTCODE", "P L twenty-two, oh J Q")],
        ),
        (
            "Email maureen dot mcgrory sixty at outlook dot com please.",
            [("EMAIL", "maureen dot mcgrory sixty at outlook dot com")],
        ),
        (
            "We live at No. 42, 3rd Cross, HSR Layout Sector 2, close by.",
            [("ADDRESS", "No. 42, 3rd Cross, HSR Layout Sector 2")],
        ),
        ("She's in St Columba's Nursing Home in town.", [("ORG", "St Columba's Nursing Home")]),
        ("Write to P.O. Box 3421-00100 please.", [("ADDRESS", "P.O. Box 3421-00100")]),
    ],
)
def test_round12_snake_case_handles_possessive_and_apposition_ages_spoken_codes(
    text, expected, ruler
):
    """Round 12: lower-case words joined by two or more "_" (not in backticks); a dotted handle
    with a one-letter part; a rare word before "on <platform>"; "a man of", "now", "hit" before an
    age; "a hundred and three and ..."; tens in a spoken postcode; a number word in a spoken
    e-mail's name; an Indian address; a nursing home; a Kenyan PO box code."""
    assert found(text, ruler) == expected


def test_round12_dictionary_words_pronouns_and_kinship_words_are_not_names():
    """Round 12: a lower-case English word of the session is no short form of a name found in it
    ("don" of "don't" for "Donncha", "midwife" for "Midwifery"); a pronoun tagged as a person is
    kept; kinship words of other languages ("Cucu", "Paati", "Bapu-ji") are cues, not names."""
    nlp = blank_nlp([{"label": "PERSON", "pattern": p} for p in ("Donncha", "She", "Midwifery")])
    text = "Patient: Donncha rang. I don't know. She's fine. Midwifery, as a midwife, suits him.\n"
    out = redact_turns(parse_text(text, "s"), nlp=nlp)
    assert (
        out.at[0, "text"]
        == "[NAME_1] rang. I don't know. She's fine. [NAME_2], as a midwife, suits him."
    )
    texts = ["My Cucu and my Paati came, and Bapu-ji too, with my Da."]
    assert [[m.surface for m in ms] for ms in find_identifiers(texts)] == [[]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My ex made a new account, lena__x, to watch.", [("HANDLE", "lena__x")]),
        ("Her TikTok is literally brokeandbooked now.", [("HANDLE", "brokeandbooked")]),
        (
            "My YouTube channel, cookingwithaji, has fans. His account, which I saw, is gone.",
            [("HANDLE", "cookingwithaji")],
        ),
        ("He lived to a hundred and six.", [("AGE", "a hundred and six")]),
        (
            "They're at Block 456 Ang Mo Kio Avenue 10, #08-123, here.",
            [("ADDRESS", "Block 456 Ang Mo Kio Avenue 10"), ("ADDRESS", "#08-123")],
        ),
        ("The zip is nine oh two one oh, ha.", [("POSTCODE", "nine oh two one oh")]),
        (
            "Email me at tomas.novak (at) seznam (dot) cz please.",
            [("EMAIL", "tomas.novak (at) seznam (dot) cz")],
        ),
        (
            "It's nomvula dot dlamini nineteen ninety at gmail dot com.",
            [("EMAIL", "nomvula dot dlamini nineteen ninety at gmail dot com")],
        ),
        ("We spoke to DJ Spinz last night.", [("NAME", "Spinz")]),
        ("I'm on Reddit, don't judge.", []),
        ("My gran (ninety-eight) doesn't know.", [("AGE", "ninety-eight")]),
        ("Gran's pushing a hundred and still sharp.", [("AGE", "a hundred")]),
        ("He's going on ninety-five, my grandad.", [("AGE", "ninety-five")]),
        ("She was a hundred-year-old lady.", [("AGE", "a hundred-year-old")]),
        ("It was B-fifteen, two-T-T, near the park.", [("POSTCODE", "B-fifteen, two-T-T")]),
        (
            "I called Kids Helpline at fourteen. The helpline was useless.",
            [("ORG", "Kids Helpline")],
        ),
    ],
)
def test_round12_probe_forms_of_handles_ages_addresses_codes_and_emails(text, expected, ruler):
    """Round 12 (probe sentences): "__" in a handle; a filler word after a handle cue; a word after
    "<platform/channel/account>, " that is not a common word; "lived to" before an age in words;
    a Singapore block with a numbered avenue and a "#08-123" unit; a code said digit by digit
    after a postcode word; a spoken e-mail not cut at an earlier "at"; number words in a row in
    an e-mail's name; the name after "DJ"; an age in words in parentheses, after "pushing" or
    "going on", and "a hundred-year-old"; a spoken postcode with hyphens; a helpline's name."""
    assert found(text, ruler) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "She scored 95 and still won, and her brother of ninety-seven came.",
            [("AGE", "ninety-seven")],
        ),
        (
            "He's now 96. The cake said '97 and fabulous' in pink.",
            [("AGE", "96"), ("AGE", "97")],
        ),
        ("His licence is MORGA 753116 SM9IJ, it's suspended.", [("ID", "MORGA 753116 SM9IJ")]),
        ("The claim is CLAIM 77120045 now.", [("ID", "CLAIM 77120045")]),
        ("The warrant number was W/4471/23, she said.", [("ID", "W/4471/23")]),
        ("It's listed as CAD 55123 of 2024 in the letter.", [("ID", "CAD 55123 of 2024")]),
        ("The file is Civil Case No. 45 of 2021 now.", [("ID", "Civil Case No. 45 of 2021")]),
        ("The car, KX19 ABC, was towed.", [("ID", "KX19 ABC")]),
        (
            "She lives at House 17, Road 5, Dhanmondi, near the lake.",
            [("ADDRESS", "House 17, Road 5, Dhanmondi")],
        ),
        (
            "In Year 10, Room 4, we had maths. Send it to Marlowe Court, Apartment 3, please.",
            [("ADDRESS", "Marlowe Court, Apartment 3")],
        ),
        ("They live out past Lekki Phase 1 now.", [("ADDRESS", "Lekki Phase 1")]),
        ("Her flat is Strada Lipscani 14, in town.", [("ADDRESS", "Strada Lipscani 14")]),
        ("We lived at Mannerheimintie 12 B 34 once.", [("ADDRESS", "Mannerheimintie 12 B 34")]),
        ("We grew up in Dublin 8 near the canal.", [("POSTCODE", "Dublin 8")]),
        (
            "Chapter 1226, honestly. Now I'm at 12 Hope Road, Kingston 10.",
            [("ADDRESS", "12 Hope Road"), ("POSTCODE", "Kingston 10")],
        ),
        ("It's Makati 1226.", [("POSTCODE", "1226")]),
        ("She works in Halden Dental Lab these days.", [("ORG", "Halden Dental Lab")]),
        (
            "The case is at Family Court at Parramatta, sadly.",
            [("ADDRESS", "Family Court at Parramatta")],
        ),
        (
            "On Monday the first thing I do is cry. The meeting is on Friday the 11th, at noon.",
            [("DATE", "Friday the 11th")],
        ),
        ("The hearing is Monday the twelfth, so.", [("DATE", "Monday the twelfth")]),
        ("Her birthday's the 30th, and I forgot.", [("DATE", "30th")]),
        ("It pinged from 172 dot 16 dot 4 dot 20 twice.", [("IP", "172 dot 16 dot 4 dot 20")]),
    ],
)
def test_round13_ages_spaced_ids_case_numbers_address_parts_districts_courts_and_weekday_dates(
    text, expected, ruler
):
    """Round 13: "a brother of", "now" before an age and an age on a card after a quote (not
    "scored 95 and still"); up to six capitals and a mixed group around an ID's digits; a code of
    several parts after an ID word; "N of YEAR" case numbers; a UK number plate; comma-separated
    numbered address parts and a building then its flat (not "Year 10, Room 4"); an area's phase;
    Romanian and Finnish street forms; a numbered postal district, a district number after a
    street and a 4-digit code after a capitalised word (not "Chapter 1226"); more organisation
    words; a court with its seat; a weekday with a day (not "Monday the first thing"); a day
    after "birthday's the"; an IP address said aloud."""
    assert found(text, ruler) == expected


def test_round13_rare_capitalised_word_is_a_name_whatever_its_tag():
    """Real model: a capitalised word that is neither frequent in English nor in WordNet is a name
    even when the tagger calls it an adjective or a verb at a sentence start ("Nkechinyere is the
    one"); a frequent word there ("Honestly") is not."""
    [ms] = find_identifiers(["Honestly. Nkechinyere is the one who told me."])
    assert [(m.kind, m.surface) for m in ms] == [("NAME", "Nkechinyere")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("She's coming up to 95, gran.", [("AGE", "95")]),
        ("He was a few months shy of 100.", [("AGE", "100")]),
        ("She lived until ninety-nine, bless her.", [("AGE", "ninety-nine")]),
        ("She's 92 or 93, I forget.", [("AGE", "92"), ("AGE", "93")]),
        ("He's like 97 or something.", [("AGE", "97")]),
        ("Is she 90? It's approaching ninety miles an hour.", [("AGE", "90")]),
        (
            "Honestly, my mum, she knows. Memory, my sister, died.",
            [("NAME", "Memory")],
        ),
    ],
)
def test_round13_more_age_cues_and_a_name_before_my_relation_between_commas(text, expected, ruler):
    """Round 13: "coming up to", "shy of", "lived until", "is she", an age before "or" and "like"
    before an age (an age in words not before a unit: "ninety miles"); a capitalised word before
    ", my <relation>," (not an interjection or a word ending in -ly)."""
    assert found(text, ruler) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Baby's due 12.6, or so they say.", [("DATE", "12.6")]),
        ("He died on 3/4, at home.", [("DATE", "3/4")]),
        ("My card ending in 4471 was stolen.", [("ID", "4471")]),
        ("My Steam ID is frostbyte, but it's private.", [("HANDLE", "frostbyte")]),
        ('I\'m "moonchild" on Discord.', [("HANDLE", "moonchild")]),
        (
            "Go to instagram dot com slash lerato underscore m later.",
            [("URL", "instagram dot com slash lerato underscore m")],
        ),
    ],
)
def test_round13_dates_after_due_or_died_card_endings_handle_cues_and_spoken_url_parts(
    text, expected, ruler
):
    """Round 13: a day/month in digits after "due", "died (on)"; 4 digits after "ending in"; more
    handle cues ("Steam ID"), a quoted word before "on <platform>"; a spoken URL's slash part
    with "underscore"."""
    assert found(text, ruler) == expected


def test_round13_street_corners_and_number_before_a_street(ruler):
    """Round 13: two streets after "corner of" (a listed title such as "Queen" too; not "my bed
    and the wall"); "number 6, " before a street is part of the address."""
    assert found("I live on the corner of Queen and Spadina, by the bank.", ruler) == [
        ("ADDRESS", "Queen and Spadina")
    ]
    text = "I'm on the corner of my bed and the wall. It's number 6, Church Row."
    assert found(text, ruler) == [("ADDRESS", "number 6, Church Row")]
