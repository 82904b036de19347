"""Loading under real-world conventions: speaker label conventions and the unknown-speaker
rule, strict tables with true line numbers, CSV output that reads back, odd line breaks.
Every transcript is hand-built; expected values are read off the text, not the code."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import spacy

from therapy_turns import nlp
from therapy_turns.io import transcripts as tr
from therapy_turns.io.files import TranscriptError
from therapy_turns.io.transcripts import (
    FLAGS,
    analyse_turn_text,
    load_corpus,
    parse_speaker_options,
    parse_text,
    segment_text,
    speaker_map,
    to_csv,
)


def turns_of(text: str, **kw) -> list[tuple[str, str, str]]:
    t = parse_text(text, "s", **kw)
    return list(zip(t["speaker"], t["speaker_label"], t["raw_text"], strict=True))


# --------------------------------------------------------------------------- conventions
@pytest.mark.parametrize("text,expected", [
    ("Therapist: Hi.\n\nC: I feel low.\n\nT: Tell me more.\n\nC: Work.\n",
     [("therapist", "Therapist", "Hi.\n"), ("patient", "C", "I feel low.\n"),
      ("therapist", "T", "Tell me more.\n"), ("patient", "C", "Work.\n")]),
    ("T: Hi.\nC: Low.\nT: More?\n",
     [("therapist", "T", "Hi.\n"), ("patient", "C", "Low.\n"), ("therapist", "T", "More?\n")]),
    ("P: Low.\nT: More?\n", [("patient", "P", "Low.\n"), ("therapist", "T", "More?\n")]),
    ("Therapist: Hi.\n\nC: Low.\n\nTherapist: Why?\n",
     [("therapist", "Therapist", "Hi.\n"), ("patient", "C", "Low.\n"),
      ("therapist", "Therapist", "Why?\n")]),
    ("Co: Hi.\nCl: Low.\n", [("therapist", "Co", "Hi.\n"), ("patient", "Cl", "Low.\n")]),
    ("Interviewer: Hi.\nParticipant: Low.\n",
     [("therapist", "Interviewer", "Hi.\n"), ("patient", "Participant", "Low.\n")]),
    ("Therapist (Dr. Lee): Hi.\n\nClient 1: Low.\n\nClient 2: Me too.\n",
     [("therapist", "Therapist (Dr. Lee)", "Hi.\n"), ("patient", "Client 1", "Low.\n"),
      ("patient", "Client 2", "Me too.\n")]),
    ("**Therapist:** Hi.\n\n**Client**: Low.\n",
     [("therapist", "Therapist", "Hi.\n"), ("patient", "Client", "Low.\n")]),
    ("Therapist: Hi.\n  Patient: low\n\tTherapist: x\n\u00a0Patient: y\n",
     [("therapist", "Therapist", "Hi.\n"), ("patient", "Patient", "low\n"),
      ("therapist", "Therapist", "x\n"), ("patient", "Patient", "y\n")]),
    ("\ufeffPatient: hi.\nTherapist: ok.\n",
     [("patient", "Patient", "hi.\n"), ("therapist", "Therapist", "ok.\n")]),
])
def test_conventions_load_by_default(text, expected):
    assert turns_of(text) == expected
    assert "".join(s.text for s in segment_text(text)) == text


def test_timestamps_kept_in_their_column():
    t = parse_text("[00:01:10] Therapist: Hi.\n(00:01:15) Patient: Low.\n"
                   "00:02:00.5 - Therapist: ok.\n", "s")
    assert t["timestamp"].tolist() == ["00:01:10", "00:01:15", "00:02:00.5"]
    assert t["raw_text"].tolist() == ["Hi.\n", "Low.\n", "ok.\n"]
    assert t["speaker_label"].tolist() == ["Therapist", "Patient", "Therapist"]


def test_role_play_lines_inside_a_turn_stay_content():
    text = ("Patient: I fought.\n\nTherapist: Let's map it.\n\nA: the fight\nB: I'm useless\n"
            "C: I withdrew\n\nDoes that fit? You: say it.\n\nPatient: Yes.\n")
    t = parse_text(text, "s")
    assert t["speaker"].tolist() == ["patient", "therapist", "patient"]
    assert "C: I withdrew" in t.loc[1, "text"]


UNKNOWN = [
    # (text, label, line, count, lines, rule)
    ("Therapist: Hi.\n\nMother: She won't eat.\n\nPatient: I eat.\n",
     "Mother", 3, 1, "3", "followed by a known speaker's turn"),
    ("Therapist: Hi.\nMother: No.\nFather: True.\nMother: See.\nTherapist: ok\n",
     "Mother", 2, 2, "2, 4", "followed by a known speaker's turn",
     "; also unknown: 'Father' (lines 3)"),
    ("Patient: a\n\nmore.\n\nPartner: no.\n\nmore.\n\nTherapist: b\n\nc.\n\nPartner: yes.\n\nd.\n",
     "Partner", 5, 2, "5, 13", "opening 2 paragraphs"),
    ("Mother: hi\nTherapist: ok\n", "Mother", 1, 1, "1", "before any known speaker label"),
    ("Patient: I fought.\n\nTherapist: Map it.\nA: the fight\nB: I'm useless\nC: I withdrew\n"
     "\nPatient: Yes.\n", "C", 6, 1, "6", "followed by a known speaker's turn"),
]


@pytest.mark.parametrize("text,label,line,count,lines,rule,also",
                         [c if len(c) == 7 else (*c, "") for c in UNKNOWN])
def test_unknown_speaker_is_an_error_naming_label_count_lines_and_option(
        text, label, line, count, lines, rule, also):
    with pytest.raises(TranscriptError) as info:
        parse_text(text, "s", "x.txt")
    assert info.value.kind == "unknown_speaker"
    s = "s" if count > 1 else ""
    assert str(info.value) == (
        f"x.txt:{line}: found unknown speaker label {label!r} at the start of {count} "
        f"line{s} ({lines}), {rule}; expected a known speaker label or a mapping: "
        f"--speaker '{label}=patient' or --speaker '{label}=therapist' "
        f"(--speaker '{label}=content' keeps it inside turns){also}")


def test_headings_in_several_turns_stay_content():
    text = ("Patient: I can't start.\n\nTherapist: Let's plan.\n\nStep 1: open the file.\n\n"
            "Step 2: write one line.\n\nPatient: And then?\n\nTherapist: Then rest.\n\n"
            "Step 1: breathe.\n\nHomework: one line a day.\n\nPatient: Okay.\n")
    t = parse_text(text, "s")
    assert t["speaker"].tolist() == ["patient", "therapist"] * 2 + ["patient"]
    assert "Homework: one line a day." in t.loc[3, "text"]


def test_role_play_across_turns_inside_paragraphs_stays_content():
    text = ("Patient: I freeze.\n\nTherapist: Let's practise.\nManager: Why late?\nYou: Sorry.\n\n"
            "How was that?\n\nPatient: Hard.\n\nTherapist: Again.\nManager: Why?\nYou: Sorry, "
            "here's my plan.\n\nBetter?\n")
    t = parse_text(text, "s")
    assert t["speaker"].tolist() == ["patient", "therapist", "patient", "therapist"]
    assert "You: Sorry, here's my plan." in t.loc[3, "text"]


def test_mapping_resolves_the_unknown_speaker():
    text = UNKNOWN[0][0]
    t = parse_text(text, "s", speakers=speaker_map({"Mother": "patient"}))
    assert t["speaker"].tolist() == ["therapist", "patient", "patient"]
    assert t["speaker_label"].tolist() == ["Therapist", "Mother", "Patient"]


def test_thinking_lines_are_never_speakers():
    text = ("Patient: hi.\n\nTherapist Thinking:\nSad.\n\nGoal: values.\n\nTherapist Answer:\n"
            "What matters?\n\nPatient: kids.\n\nTherapist Thinking:\nGoal: more.\n\n"
            "Therapist Answer:\nTell me.\n")
    t = parse_text(text, "s")
    assert t["thinking"].tolist() == ["", "Sad.\n\nGoal: values.", "", "Goal: more."]


@pytest.mark.parametrize("option,why", [
    ("1=patient", "a label of digits only (a label starts with a letter)"),
    ("=patient", "an empty label"),
    ("Therapist (Dr. Lee)=therapist", "a label with parentheses (map the name before them: "
     "'Therapist (Dr. Lee)' is matched by 'Therapist')"),
    ("Mother:=patient", "a label with a colon (give the label without its colon)"),
    ("Mother=coach", "role 'coach'"),
])
def test_speaker_option_that_can_never_match_is_one_line(option, why):
    with pytest.raises(TranscriptError) as info:
        parse_speaker_options([option])
    assert info.value.kind == "speaker_option"
    assert str(info.value) == (
        f"--speaker: found {option!r}: {why}; expected LABEL=patient, LABEL=therapist or "
        "LABEL=content, with LABEL as written before the colon, e.g. --speaker "
        "'Dr Lee=therapist'")


def test_speaker_option_adds_to_the_defaults():
    assert parse_speaker_options([" Dr  Lee =Therapist"]) == {"dr lee": "therapist"}
    m = speaker_map(parse_speaker_options(["patient=patient"]))
    assert m["therapist"] == "therapist" and m["client"] == "patient"


# --------------------------------------------------------------------------- odd text
def test_form_feed_nel_and_line_separator_do_not_split_turns():
    text = "Patient: one\u2028Therapist: two\x0cthree\x85four\u2029five.\nTherapist: ok.\n"
    t = parse_text(text, "s")
    assert t["raw_text"].tolist() == ["one\u2028Therapist: two\x0cthree\x85four\u2029five.\n",
                                      "ok.\n"]
    assert t["line_start"].tolist() == [1, 2]


def test_bare_cr_and_crlf_are_line_breaks():
    t = parse_text("Patient: a\rTherapist: b\r\nPatient: c", "s")
    assert t["raw_text"].tolist() == ["a\r", "b\r\n", "c"]
    assert t["line_start"].tolist() == [1, 2, 3]


# --------------------------------------------------------------------------- tables
def write(tmp_path: Path, name: str, content: str) -> Path:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8", newline="")
    return p


BAD_TABLES = [
    ("commas.csv", "session_id,speaker,text\ns,patient,hello\ns,therapist,hi, there\n", 3,
     "found a row of 4 fields (the header has 3); expected comma-separated rows with the "
     "header's number of fields (quote texts that hold commas)"),
    ("short.csv", "session_id,speaker,text\n\ns,patient\n", 3,
     "found a row of 2 fields (the header has 3); expected comma-separated rows with the "
     "header's number of fields (quote texts that hold commas)"),
    ("turn.csv", "session_id,speaker,text,turn\ns,patient,hi,1.5\n", 2,
     "found turn '1.5'; expected an integer turn number"),
    ("turn2.csv", "session_id,speaker,text,turn\ns,patient,hi,\n", 2,
     "found turn ''; expected an integer turn number"),
    ("dupturn.csv", "session_id,speaker,text,turn\ns,patient,hi,0\ns,therapist,yo,0\n", 3,
     "found turn 0 of session 's' again (first on line 2); expected one row per turn"),
    ("header.csv", "session_id,speaker,text\n", 1,
     "found a header and no rows; expected one row per turn"),
    ("noid.csv", "session_id,speaker,text\n,patient,hi\n", 2,
     "found empty 'session_id'; expected a session_id string"),
    ("nulltext.jsonl", '{"session_id": "s", "speaker": "patient", "text": null}\n', 1,
     "found null 'text'; expected a text string"),
    ("notext.jsonl", '\n{"session_id": "s", "speaker": "patient"}\n', 2,
     "found missing 'text'; expected a text string"),
    ("numtext.jsonl", '{"session_id": "s", "speaker": "patient", "text": 5}\n', 1,
     "found text 5 (int); expected a text string"),
    ("nullid.jsonl", '{"session_id": null, "speaker": "patient", "text": "hi"}\n', 1,
     "found null 'session_id'; expected a session_id string"),
    ("list.jsonl", '["s", "patient", "hi"]\n', 1,
     "found a JSON list; expected one JSON object per line"),
    ("someturn.jsonl", '{"session_id": "s", "speaker": "patient", "text": "a", "turn": 0}\n'
     '{"session_id": "s", "speaker": "patient", "text": "b"}\n', 2,
     "found turn None; expected an integer turn number"),
]


@pytest.mark.parametrize("name,content,line,message", BAD_TABLES)
def test_bad_tables_are_one_error_naming_file_and_line(tmp_path, name, content, line, message):
    p = write(tmp_path, name, content)
    with pytest.raises(TranscriptError) as info:
        load_corpus(p)
    assert str(info.value) == f"{p}:{line}: {message}"


def test_csv_line_numbers_true_with_blank_lines_and_multiline_cells(tmp_path):
    p = write(tmp_path, "t.csv", 'session_id,speaker,text\n\ns,patient,"one\ntwo\n\nthree"\n\n'
                                 's,therapist,ok\r\ns,patient,"a ""b"", c"\n')
    t = load_corpus(p).turns
    assert t["line_start"].tolist() == [3, 8, 9] and t["line_end"].tolist() == [6, 8, 9]
    assert t["raw_text"].tolist() == ["one\ntwo\n\nthree", "ok", 'a "b", c']


def test_csv_speakers_abbreviations_timestamps_and_turn_order(tmp_path):
    p = write(tmp_path, "t.csv", "session_id,speaker,text,turn,timestamp\n"
                                 "s,C,second,1,00:10\ns,T,first,0,00:05\n")
    t = load_corpus(p).turns
    assert t["speaker"].tolist() == ["therapist", "patient"]
    assert t["timestamp"].tolist() == ["00:05", "00:10"]
    assert t["line_start"].tolist() == [3, 2]


def test_csv_output_reads_back_cell_for_cell(tmp_path):
    texts = ["bare\rcr", "lf\nand, comma", 'quote "q"', " edge ", "ff\x0cnel\x85ls\u2028"]
    df = pd.DataFrame({"text": texts, "n": [1, 2, 3, 4, 5], "flag": [True, False] * 2 + [True]})
    out = tmp_path / "o.csv"
    to_csv(df, out)
    back = pd.read_csv(out, keep_default_na=False)
    assert back["text"].tolist() == texts and back["n"].tolist() == [1, 2, 3, 4, 5]
    assert back["flag"].tolist() == df["flag"].tolist()


def test_parsed_table_round_trips_through_its_own_csv(tmp_path):
    src = write(tmp_path, "a.txt", "Patient: one\rtwo\n\nTherapist: ok.\n")
    turns = load_corpus(src).turns
    out = tmp_path / "turns.csv"
    to_csv(turns, out)
    again = load_corpus(out).turns
    assert again["raw_text"].tolist() == turns["text"].tolist() == ["one\rtwo", "ok."]


def test_output_that_is_an_input_is_refused(tmp_path):
    p = write(tmp_path, "x.csv", "session_id,speaker,text\ns,patient,hi\n")
    before = p.read_bytes()
    with pytest.raises(TranscriptError) as info:
        load_corpus(p, out=tmp_path / "." / "x.csv")
    assert info.value.kind == "same_file"
    assert str(info.value) == (f"{tmp_path / '.' / 'x.csv'}: found an output path that is the "
                               f"input file {p}; expected an --out file that is not one of the "
                               "inputs")
    assert p.read_bytes() == before


def test_jsonl_line_numbers_skip_blank_lines(tmp_path):
    recs = [{"session_id": 7, "speaker": "Client", "text": "a"},
            {"session_id": 7, "speaker": "Therapist", "text": "b"}]
    p = write(tmp_path, "t.jsonl", "\n" + json.dumps(recs[0]) + "\n\n" + json.dumps(recs[1]))
    t = load_corpus(p).turns
    assert t["session_id"].tolist() == ["7", "7"] and t["line_start"].tolist() == [2, 4]


# --------------------------------------------------------------------------- artefacts
IN_ROLE = [
    ("patient", "(By the way, my husband hit me again last night.)"),
    ("patient", "[Missing work again]"),
    ("patient", "I tried.\n\n(Not that it matters.)"),
    ("patient", "[Sighs] I don't know.\n\n[No, I mean it.]"),
    ("patient", "(Note to self: call mum.) That's what I wrote."),
    ("therapist", "Well done.\n\n(By the way, you're doing great so far!)"),
    ("therapist", "Good.\n\n(Note: I'll give you feedback after each round.)"),
    ("therapist", "Good.\n\n(And don't worry, I'll guide you.)"),
    ("therapist", "You could leave this voicemail:\n\n[Hi, it's Sam. I missed your call and no "
                  "response is needed. I'll try again tomorrow.]"),
    ("therapist", "[Answer the phone if you can.]"),
]


@pytest.mark.parametrize("speaker,raw", IN_ROLE)
def test_in_role_asides_stay_speech(speaker, raw):
    out = analyse_turn_text(raw, speaker)
    assert out["text"] == "\n\n".join(p.strip() for p in raw.split("\n\n"))
    assert not out["missing_answer"] and not out["meta_note"] and not out["generation_error"]


OUT_OF_ROLE = [
    ("[Llama-3-3B-Instruct Therapist generation error: The decoder prompt (length 9159) is "
     "longer than the maximum model length of 9000.]", "generation_error", ""),
    ("Traceback (most recent call last):\n  File \"x.py\", line 1", "generation_error", ""),
    ("[Answer not properly formatted or missing]", "missing_answer", ""),
    ("[No response]", "missing_answer", ""),
    ("[Thinking part is not generated with this prompt]", "missing_answer", ""),
    ("Okay.\n\n(Note: This response is more direct and gentle.)", "meta_note",
     "(Note: This response is more direct and gentle.)"),
    ("Okay.\n\n(Note: This is the end of the session. I'm proud of you.)", "meta_note",
     "(Note: This is the end of the session. I'm proud of you.)"),
    ("Okay.\n\n(Note: the patient seems calmer now.)", "meta_note",
     "(Note: the patient seems calmer now.)"),
    ("Okay.\n\n[End of session]", "meta_note", "[End of session]"),
]


@pytest.mark.parametrize("raw,flag,notes", OUT_OF_ROLE)
def test_generator_strings_and_notes_to_the_reader_are_artefacts(raw, flag, notes):
    out = analyse_turn_text(raw, "therapist")
    assert out[flag] is True and out["meta_notes"] == notes
    assert out["text"] == ("Okay." if raw.startswith("Okay.") else "")


def test_in_role_aside_is_analysed_not_excluded(tmp_path):
    t = parse_text("Therapist: How was the week?\n\nPatient: (By the way, my husband hit me "
                   "again last night.)\n\nTherapist: Thank you for telling me.\n", "s")
    kept = tr.analysable(t)
    assert kept["text"].tolist()[1] == "(By the way, my husband hit me again last night.)"
    assert not t[FLAGS].iloc[1].any()


# --------------------------------------------------------------------------- long text
def test_text_pieces_cut_after_sentences_and_rebuild_the_text():
    text = "I feel low. I can't sleep! Why?  Then\nmore words here. " + "x" * 30
    pieces = nlp.text_pieces(text, 20)
    assert "".join(pieces) == text and all(len(p) <= 20 for p in pieces)
    assert pieces[:3] == ["I feel low. ", "I can't sleep! Why? ", " Then\nmore words "]


def test_turn_longer_than_max_length_is_parsed_in_pieces():
    blank = spacy.blank("en")
    blank.add_pipe("sentencizer")
    blank.max_length = 40
    text = "I feel low today. " * 12 + "And that is all."
    with pytest.raises(ValueError, match="E088"):
        blank(text)  # spaCy refuses it whole
    doc, short = nlp.parse([text, "Fine."], nlp=blank)
    assert doc.text == text and short.text == "Fine."
    assert [t.text for t in doc] == [t.text for t in blank.tokenizer(text)]
    assert len(list(doc.sents)) == 13


def test_long_turn_through_the_project_pipeline():
    real = nlp.load_pipeline()
    old = real.max_length
    real.max_length = 300
    try:
        text = "I keep replaying the breakup and I can't sleep. " * 20
        doc = nlp.parse([text], nlp=real)[0]
    finally:
        real.max_length = old
    assert doc.text == text and doc.has_annotation("DEP") and len(list(doc.sents)) == 20
