"""Event lines in full transcripts: never speech, never an error, recorded on the patient turn
whose reply they condition; hand-built transcripts with events in every position."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from therapy_turns.io.files import TranscriptError
from therapy_turns.io.transcripts import (
    corpus_files,
    event_counts,
    load_corpus,
    parse_text,
    segment_text,
)

ROOT = Path(__file__).resolve().parents[1]
FULL_SEEDS = ROOT / "seeds-full"

CONF = ("--- [SYSTEM INJECTION at Turn 1]: [System Note: You are suddenly confused by what the "
        "therapist is saying.] ---")
NEWS = ("--- [SYSTEM INJECTION at Turn 2]: [System Note: You just received a stressful text "
        "message.] ---")
MEMO = ("--- [SYSTEM INJECTION at Turn 2]: [System Note: You have just been distracted by a "
        "sudden, intrusive memory of a past failure.] ---")
TIRED = ("--- [SYSTEM INJECTION at Turn 3]: [System Note: You are suddenly feeling very tired "
         "and emotionally drained.] ---")
PAUSE = "--- [Researcher note: session paused for two minutes] ---"


def block(n: int, answer: str, patient: str, before: str = "", after: str = "") -> str:
    """One full-transcript turn block with optional event lines before the thinking / after the
    answer."""
    return (f"--- Turn {n} ---\n" + (f"\n{before}\n\n" if before else "")
            + f"Therapist Thinking:\nThe patient feels stuck. Goal: values.\n\n"
            f"Therapist Answer:\n{answer}\n\n" + (f"{after}\n\n" if after else "")
            + f"Patient: {patient}\n\n\n")


def transcript() -> str:
    return ("--- Turn 0 (Patient Initiation) ---\nPatient: I keep replaying things.\n\n\n"
            + block(1, "What matters to you?", "My kids, I guess.", before=CONF)
            + block(2, "Tell me about them.", "They are why I try.", after=NEWS)
            + block(3, "What would they notice?", "I don't know.", before=MEMO + "\n\n" + TIRED)
            + block(4, "[Answer not properly formatted or missing]", "Okay.", before=PAUSE))


def test_events_in_every_position_land_on_the_conditioned_patient_turn():
    text = transcript()
    t = parse_text(text, "s")
    assert t["speaker"].tolist() == ["patient"] + ["therapist", "patient"] * 4
    ev = t.set_index("turn")
    # before the thinking (block 1), after the answer (block 2), two in one block (block 3),
    # a block whose answer is a placeholder (block 4, a non-injection bracketed header)
    assert ev.loc[2, "event"] == "confusion" and ev.loc[2, "event_text"] == CONF
    assert ev.loc[4, "event"] == "stressful_news" and ev.loc[4, "event_text"] == NEWS
    assert ev.loc[6, "event"] == "intrusive_memory;fatigue"
    assert ev.loc[6, "event_text"] == MEMO + "\n" + TIRED
    assert ev.loc[8, "event"] == "other" and ev.loc[8, "event_text"] == PAUSE
    assert ev.loc[7, "missing_answer"] and ev.loc[7, "event"] == ""
    assert (t.loc[~t.turn.isin([2, 4, 6, 8]), "event"] == "").all()
    assert (t.loc[~t.turn.isin([2, 4, 6, 8]), "event_text"] == "").all()
    # never speech, never thinking; the speech is exactly as without the events
    for col in ("text", "raw_text", "thinking"):
        assert not t[col].str.contains("SYSTEM|Researcher note|---").any()
    assert ev.loc[3, "text"] == "Tell me about them." and ev.loc[4, "text"] == "They are why I try."
    assert ev.loc[1, "thinking"] == "The patient feels stuck. Goal: values."
    # the event line is not in the patient turn's line span
    assert ev.loc[2, "line_start"] == text.splitlines().index("Patient: My kids, I guess.") + 1
    # nothing lost: segments rebuild the file, each event line is one event segment
    segs = segment_text(text)
    assert "".join(s.text for s in segs) == text
    events = [(s.text.rstrip("\n"), s.turn) for s in segs if s.kind == "event"]
    assert events == [(CONF, 2), (NEWS, 4), (MEMO, 6), (TIRED, 6), (PAUSE, 8)]


def test_event_after_the_last_patient_turn_stays_on_the_last_turn():
    text = "Patient: Hi.\n\nTherapist: Hello.\n\n" + TIRED + "\n"
    t = parse_text(text, "s")
    assert t["event"].tolist() == ["", "fatigue"]
    assert t.loc[1, "text"] == "Hello."
    assert "".join(s.text for s in segment_text(text)) == text


def test_event_in_plain_format_before_the_first_label():
    t = parse_text(NEWS + "\nPatient: Ugh.\n\nTherapist: What happened?\n", "s")
    assert t["event"].tolist() == ["stressful_news", ""]


def test_bracket_lines_that_are_not_event_headers_stay_speech():
    t = parse_text("Patient: --- [not closed ---\n\nTherapist: [Missing work again] -- yes.\n", "s")
    assert t["event"].tolist() == ["", ""]
    assert t.loc[0, "text"] == "--- [not closed ---"


def test_custom_pattern_file(tmp_path):
    pats = tmp_path / "ev.yaml"
    pats.write_text("types:\n  pause:\n    - 'paused'\n  confusion:\n    - 'confused'\n")
    f = tmp_path / "s.txt"
    f.write_text(transcript())
    t = load_corpus(f, event_patterns=pats).turns
    assert [e for e in t["event"] if e] == ["confusion", "other", "other;other", "pause"]


def test_table_inputs_carry_an_event_column(tmp_path):
    csv = tmp_path / "a.csv"
    csv.write_text("session_id,speaker,text,event\na,client,I drink.,\na,therapist,Hm.,\n"
                   "a,client,I relapsed.,rupture\n")
    t = load_corpus(csv).turns
    assert t["event"].tolist() == ["", "", "rupture"]
    jl = tmp_path / "b.jsonl"
    jl.write_text("\n".join(json.dumps(r) for r in [
        {"session_id": "b", "speaker": "client", "text": "Hi."},
        {"session_id": "b", "speaker": "counselor", "text": "Hello.", "event": None},
        {"session_id": "b", "speaker": "client", "text": "Bad news.", "event": "crisis"}]) + "\n")
    assert load_corpus(jl).turns["event"].tolist() == ["", "", "crisis"]
    plain = tmp_path / "c.csv"
    plain.write_text("session_id,speaker,text\nc,client,Hi.\n")
    assert load_corpus(plain).turns["event"].tolist() == [""]


def test_full_seeds_19_events_where_the_files_have_them():
    corpus = load_corpus(FULL_SEEDS)  # README.md and metadata.csv are not sessions
    t = corpus.turns
    assert t["session_id"].nunique() == 5 and len(corpus_files(FULL_SEEDS)) == 5
    per_file = t[t.event != ""].groupby("session_id").size().tolist()
    assert per_file == [3, 5, 4, 2, 5]
    # counted by hand from the System Notes (confused / stressful text / intrusive memory / tired)
    assert event_counts(t) == {"confusion": 6, "fatigue": 3, "intrusive_memory": 6,
                               "stressful_news": 4}
    assert (t.loc[t.event != "", "speaker"] == "patient").all()
    # an injection "at Turn N" conditions the patient reply of block N: turn 2N
    for _, r in t[t.event != ""].iterrows():
        for line in r["event_text"].split("\n"):
            assert line.startswith(f"--- [SYSTEM INJECTION at Turn {r['turn'] // 2}]")
    assert "events: confusion=6, fatigue=3, intrusive_memory=6, stressful_news=4" in \
        corpus.summary()


def test_full_seeds_speech_equals_the_plain_seeds_and_files_rebuild():
    full = load_corpus(FULL_SEEDS).turns
    plain = load_corpus(ROOT / "seeds").turns
    assert full["text"].tolist() == plain["text"].tolist()
    for f in sorted(FULL_SEEDS.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        segs = segment_text(text, f)
        assert "".join(s.text for s in segs) == text
        assert sum(s.kind == "event" for s in segs) == text.count("[SYSTEM INJECTION")


@pytest.mark.parametrize("name", ["README.md", "readme.txt", "metadata.csv"])
def test_directory_companions_are_not_sessions(tmp_path, name):
    (tmp_path / "s.txt").write_text("Patient: hi.\n")
    (tmp_path / name).write_text("# About this corpus\nsession_id,x\n")
    assert load_corpus(tmp_path).turns["session_id"].tolist() == ["s"]
    # named explicitly, a file is read as a transcript (and fails as one)
    with pytest.raises(TranscriptError):
        load_corpus(tmp_path / name)
