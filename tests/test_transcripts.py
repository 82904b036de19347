"""Transcript loader: every format, every artefact flag, every bad input, built from tiny texts."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from therapy_turns.io import transcripts as tr
from therapy_turns.io.files import TranscriptError
from therapy_turns.io.transcripts import (
    analyse_turn_text,
    load_corpus,
    parse_text,
    segment_text,
    speaker_map,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- seeds
def test_seeds_load_as_documented():
    turns = load_corpus(SEEDS).turns
    counts = turns.groupby("session_id").size()
    assert counts.tolist() == [51, 51, 50, 51, 50]
    for _, g in turns.groupby("session_id"):
        expected = ["patient", "therapist"] * 26
        assert g["speaker"].tolist() == expected[: len(g)]
        assert g["turn"].tolist() == list(range(len(g)))
    assert list(turns.columns) == tr.COLUMNS


def test_seed_artefacts_where_the_issue_says():
    t = load_corpus(SEEDS).turns.set_index(["session_id", "turn"])
    s004, s002 = "004_13ba406fadc02f9e", "002_5e2886c1de792e6d"
    assert t.loc[(s004, 49), "generation_error"] and t.loc[(s004, 49), "text"] == ""
    assert t.loc[(s002, 49), "missing_answer"]
    last_trunc = t.loc[(s004, 47)]
    assert last_trunc["truncated"] and last_trunc["role_play"]
    assert last_trunc["text"].endswith("I've had")
    assert t["generation_error"].sum() == 1 and t["missing_answer"].sum() == 1
    # (Note: ...) paragraphs: removed from text, kept in raw_text and meta_notes
    note = t.loc[(s002, 43)]
    assert note["meta_note"] and "(Note:" not in note["text"] and "(Note:" in note["raw_text"]
    assert note["meta_notes"].startswith("(Note: This response is more direct")


def test_seed_files_reconstruct_exactly():
    for f in sorted(SEEDS.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        segs = segment_text(text, f)
        assert "".join(s.text for s in segs) == text
        turns = parse_text(text, f.stem, f)
        speech = {}
        for s in segs:
            if s.kind == "speech":
                speech[s.turn] = speech.get(s.turn, "") + s.text
        assert [speech.get(i, "") for i in range(len(turns))] == turns["raw_text"].tolist()


# --------------------------------------------------------------------------- plain format
PLAIN = """Patient: I feel stuck.

Therapist: Let's try a role-play.

Manager: Why is this late?
You: I missed it.

Try this: breathe in.

Patient: Okay.
Second paragraph of the same turn.
"""


def test_plain_format_turns_and_role_play_labels():
    t = parse_text(PLAIN, "s1")
    assert t["speaker"].tolist() == ["patient", "therapist", "patient"]
    assert t["speaker_label"].tolist() == ["Patient", "Therapist", "Patient"]
    assert "Manager: Why is this late?" in t.loc[1, "text"]
    assert "Try this: breathe in." in t.loc[1, "text"]
    assert t.loc[2, "text"] == "Okay.\nSecond paragraph of the same turn."
    assert t["line_start"].tolist() == [1, 3, 10] and t["line_end"].tolist() == [1, 8, 11]
    assert t["exchange"].tolist() == [0, 0, 1]


def test_speaker_mapping_is_case_insensitive_and_extensible(tmp_path):
    text = "CLIENT: hi.\n\ncounsellor: hello.\n\nDr Smith: welcome.\n"
    t = parse_text(text, "s", speakers=speaker_map({"Dr Smith": "therapist"}))
    assert t["speaker"].tolist() == ["patient", "therapist", "therapist"]
    # without the mapping, "Dr Smith:" ends the file after a known turn: an unknown speaker
    with pytest.raises(TranscriptError, match="--speaker 'Dr Smith=patient'") as info:
        parse_text(text, "s")
    assert info.value.kind == "unknown_speaker"
    # mapped as content, it continues the counsellor's turn
    t2 = parse_text(text, "s", speakers=speaker_map({"Dr Smith": "content"}))
    assert len(t2) == 2 and "Dr Smith: welcome." in t2.loc[1, "text"]
    with pytest.raises(TranscriptError) as info:
        speaker_map({"Coach": "coach"})
    assert info.value.kind == "speaker_option"


def test_paragraph_without_label_continues_turn():
    t = parse_text("Patient: one.\n\ntwo.\n\nthree.\n\nTherapist: four.\n", "s")
    assert t.loc[0, "text"] == "one.\n\ntwo.\n\nthree."
    assert t.loc[0, "raw_text"] == "one.\n\ntwo.\n\nthree.\n"


# --------------------------------------------------------------------------- full variant
FULL = """--- Turn 0 (Patient Initiation) ---
Patient: I keep replaying things.

--- Turn 1 ---
Therapist Thinking:
The patient sounds hopeless. Goal: explore values.

Therapist Answer:
What matters to you most right now?

--- Turn 2 ---
Patient: My kids.

--- Turn 3 ---
Therapist Thinking:
[Thinking part is not generated with this prompt]

Therapist Answer:
Tell me about them.
"""


def test_full_variant_thinking_and_headers():
    t = parse_text(FULL, "full")
    assert t["speaker"].tolist() == ["patient", "therapist", "patient", "therapist"]
    assert t.loc[1, "thinking"] == "The patient sounds hopeless. Goal: explore values."
    assert t.loc[1, "text"] == "What matters to you most right now?"
    assert "Goal" not in t.loc[1, "text"] and "---" not in "".join(t["text"])
    assert t.loc[3, "thinking"].startswith("[Thinking part")
    assert t.loc[3, "text"] == "Tell me about them."
    segs = segment_text(FULL)
    assert "".join(s.text for s in segs) == FULL
    assert {s.kind for s in segs} == {"separator", "label", "speech", "thinking"}


# --------------------------------------------------------------------------- artefact flags
@pytest.mark.parametrize("raw,flag", [
    ("[Llama-3-3B-Instruct Therapist generation error: The decoder prompt is too long.]",
     "generation_error"),
    ("[Answer not properly formatted or missing]", "missing_answer"),
    ("Good.\n\n(Note: This is the end of the session.)", "meta_note"),
    ("Good.\n\n(Note: This response is gentler than the last.)", "meta_note"),
    ("I'll play your boss.\n\n\"Hey, thanks for owning up to it today.\"", "role_play"),
    ("\"Hey, we all have those days. I've had", "truncated"),
])
def test_each_flag(raw, flag):
    out = analyse_turn_text(raw, "therapist")
    assert out[flag] is True
    others = [f for f in tr.FLAGS if f != flag and not (flag == "truncated" and f == "role_play")]
    assert not any(out[f] for f in others)


def test_flags_negative_cases():
    plain = analyse_turn_text("It sounds hard (and tiring). What helps?", "therapist")
    assert not any(plain[f] for f in tr.FLAGS)
    # a quoted phrase inside a sentence is not role-play; patients' quotes never are
    inline = analyse_turn_text('You said "I always fail" earlier.', "therapist")
    assert not inline["role_play"]
    patient = analyse_turn_text('"I missed the deadline, I am so sorry about it."', "patient")
    assert not patient["role_play"]


def test_meta_note_removed_from_text_kept_elsewhere():
    out = analyse_turn_text("Well done.\n\n(Note: end of session.)", "therapist")
    assert out["text"] == "Well done." and out["meta_notes"] == "(Note: end of session.)"


def test_analysable_excludes_errors_and_placeholders_by_default():
    t = load_corpus(SEEDS).turns
    kept = tr.analysable(t)
    assert len(kept) == len(t) - 2
    assert len(tr.analysable(t, exclude=())) == len(t)
    assert len(tr.analysable(t, exclude=("role_play",))) == len(t) - 4
    with pytest.raises(ValueError, match="unknown artefact flags"):
        tr.analysable(t, exclude=("typo",))


def test_label_without_speech_is_a_missing_answer():
    t = parse_text("Patient: hi.\n\nTherapist:\n", "s")
    assert t["missing_answer"].tolist() == [False, True] and t.loc[1, "text"] == ""


# --------------------------------------------------------------------------- tables
def test_csv_and_jsonl(tmp_path):
    csv = write(tmp_path, "mi.csv", "session_id,speaker,text,turn\n"
                "a,client,I drink too much.,0\na,therapist,You're worried about it.,1\n"
                "b,therapist,What brings you in?,1\nb,Client,My wife.,0\n")
    t = load_corpus(csv).turns
    assert t[t.session_id == "b"]["text"].tolist() == ["My wife.", "What brings you in?"]
    assert t["speaker"].tolist() == ["patient", "therapist", "patient", "therapist"]
    assert t.loc[t.session_id == "b", "line_start"].tolist() == [5, 4]
    jl = write(tmp_path, "x.jsonl", "\n".join(json.dumps(r) for r in [
        {"session_id": "c", "speaker": "counselor", "text": "Hi."},
        {"session_id": "c", "speaker": "client", "text": "Hello."}]) + "\n")
    t = load_corpus(jl).turns
    assert t["speaker"].tolist() == ["therapist", "patient"] and t["turn"].tolist() == [0, 1]


# --------------------------------------------------------------------------- corpora
def test_directory_sorted_and_duplicate_stems_get_path_ids(tmp_path):
    write(tmp_path, "b/s.txt", "Patient: b.\n")
    write(tmp_path, "a/s.txt", "Patient: a.\n")
    write(tmp_path, "c.txt", "Patient: c.\n")
    t = load_corpus(tmp_path).turns
    assert t["session_id"].tolist() == ["a/s", "b/s", "c"]
    assert t["text"].tolist() == ["a.", "b.", "c."]


def test_turns_and_exchanges_restart_in_each_session(tmp_path):
    write(tmp_path, "a.txt", "Therapist: hi.\n\nPatient: a.\n")
    write(tmp_path, "b.txt", "Patient: x.\n\nTherapist: y.\n\nPatient: z.\n")
    t = load_corpus(tmp_path).turns
    assert t["turn"].tolist() == [0, 1, 0, 1, 2]
    assert t["exchange"].tolist() == [0, 0, 0, 0, 1]


def test_glob(tmp_path):
    write(tmp_path, "x1.txt", "Patient: one.\n")
    write(tmp_path, "x2.txt", "Patient: two.\n")
    write(tmp_path, "y.txt", "Patient: other.\n")
    t = load_corpus(str(tmp_path / "x*.txt")).turns
    assert t["session_id"].tolist() == ["x1", "x2"]


def test_glob_over_folders_sharing_a_prefix_ids_from_the_parent(tmp_path):
    # "seeds*" matches the folder "seeds" itself: the ids are relative to the glob's folder
    write(tmp_path, "seeds/s.txt", "Patient: short.\n")
    write(tmp_path, "seeds-full/s.txt", "Patient: full.\n")
    t = load_corpus(str(tmp_path / "seeds*" / "*.txt")).turns
    assert t["session_id"].tolist() == ["seeds/s", "seeds-full/s"]  # sorted by path parts
    assert t["text"].tolist() == ["short.", "full."]


def test_same_session_id_in_two_tables_fails(tmp_path):
    a = write(tmp_path, "a.csv", "session_id,speaker,text\ns,client,hi\n")
    b = write(tmp_path, "b.csv", "session_id,speaker,text\ns,client,hello\n")
    with pytest.raises(TranscriptError, match="session id 's'") as info:
        load_corpus([a, b])
    assert info.value.kind == "session_id"


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name,content,kind,line", [
    ("empty.txt", "", "empty", None),
    ("blank.txt", "\n\n  \n", "empty", None),
    ("nolabel.txt", "Hello there.\nNobody speaks.\n", "outside_turn", 1),
    ("nolabel2.txt", "Manager: Why?\n", "unknown_speaker", 1),
    ("before.txt", "\nPreamble here.\nPatient: hi.\n", "outside_turn", 2),
    ("latin1.txt", b"Patient: ok\nTherapist: caf\xe9\n", "encoding", 2),
    ("binary.txt", b"Patient: \x00\x01\x02", "binary", 1),
    ("nocol.csv", "session_id,who,text\na,client,hi\n", "missing_column", 1),
    ("unmapped.csv", "session_id,speaker,text\na,client,hi\na,coach,hey\n",
     "unmapped_speaker", 3),
    ("unmapped.jsonl", '{"session_id": "a", "speaker": "bot", "text": "x"}\n',
     "unmapped_speaker", 1),
])
def test_bad_inputs_raise_specific_errors(tmp_path, name, content, kind, line):
    p = write(tmp_path, name, content)
    with pytest.raises(TranscriptError) as info:
        load_corpus(p)
    e = info.value
    assert e.kind == kind
    assert e.path == str(p) and e.line == line
    assert str(p) in str(e) and "expected" in str(e) and "found" in str(e)


def test_only_unknown_labels_is_no_speaker_error(tmp_path):
    # a file whose every paragraph has a label the mapping does not know
    p = write(tmp_path, "x.txt", "")
    with pytest.raises(TranscriptError):
        load_corpus(p)
    with pytest.raises(TranscriptError) as info:
        segment_text("\n\n")
    assert info.value.kind == "no_label"


def test_missing_path(tmp_path):
    with pytest.raises(TranscriptError, match="no such file") as info:
        load_corpus(tmp_path / "nope")
    assert info.value.kind == "missing_path"
    with pytest.raises(TranscriptError, match="matches no file") as info:
        load_corpus(str(tmp_path / "*.txt"))
    assert info.value.kind == "no_match"


def test_skip_loads_good_files_and_lists_bad_ones(tmp_path):
    write(tmp_path, "good.txt", "Patient: fine.\n")
    bad = write(tmp_path, "bad.txt", b"\xff\xfe")
    corpus = load_corpus(tmp_path, on_error="skip")
    assert corpus.turns["session_id"].tolist() == ["good"]
    assert [s.path for s in corpus.skipped] == [str(bad)]
    assert "UTF-8" in str(corpus.skipped[0])
    with pytest.raises(TranscriptError) as info:
        load_corpus(tmp_path)
    assert info.value.kind == "encoding"


def test_empty_result_has_schema(tmp_path):
    write(tmp_path, "bad.txt", "")
    corpus = load_corpus(tmp_path, on_error="skip")
    assert list(corpus.turns.columns) == tr.COLUMNS and corpus.turns.empty
    assert isinstance(corpus.turns, pd.DataFrame)


def test_malformed_csv_names_file_and_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("session_id,speaker,text\ns1,patient,hello\ns1,therapist,hi, there\n")
    message = r"bad\.csv:3: found a row of 4 fields"
    with pytest.raises(TranscriptError, match=message) as info:
        load_corpus(f)
    assert info.value.kind == "field_count"
