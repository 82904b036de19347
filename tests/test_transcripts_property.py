"""Nothing is lost: generated transcripts reconstruct exactly from turns plus separators."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from therapy_turns.io.transcripts import parse_text, segment_text

LABELS = ["Patient", "Therapist", "CLIENT", "counsellor", "Counselor", "patient"]
ROLEPLAY = ["Manager", "You", "Partner", "Question", "Try this", "Goal"]
NEWLINES = ["\n", "\r\n"]

# words never start a line with a recognised label: ':' is left out of free text
words = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters=":"),
                min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@st.composite
def paragraph(draw) -> list[str]:
    lines = draw(st.lists(words, min_size=1, max_size=3))
    if draw(st.booleans()):
        lines.insert(0, f"{draw(st.sampled_from(ROLEPLAY))}: {draw(words)}")
    return lines


@st.composite
def transcript(draw) -> tuple[str, int]:
    nl = draw(st.sampled_from(NEWLINES))
    n_turns = draw(st.integers(min_value=1, max_value=6))
    out = "".join(draw(st.lists(st.sampled_from([nl, " " + nl, "\t" + nl]), max_size=2)))
    for _ in range(n_turns):
        label = draw(st.sampled_from(LABELS))
        sep = draw(st.sampled_from([": ", ":", ":\t"]))
        paras = draw(st.lists(paragraph(), min_size=1, max_size=3))
        body = (nl * draw(st.integers(1, 2))).join(nl.join(p) for p in paras)
        out += f"{label}{sep}{body}{nl * draw(st.integers(1, 3))}"
    if draw(st.booleans()):
        out = out.rstrip("\r\n")  # no final newline
    return out, n_turns


@settings(max_examples=150, deadline=None)
@given(transcript())
def test_segments_reconstruct_the_file_and_turns_hold_all_speech(case):
    text, n_turns = case
    segs = segment_text(text)
    assert "".join(s.text for s in segs) == text
    # separators are only labels and whitespace: no speech lost outside turns
    for s in segs:
        if s.kind == "separator":
            assert s.text.strip() == ""
        if s.kind == "label":
            assert s.text.split(":")[0].lower() in {x.lower() for x in LABELS}
    turns = parse_text(text, "s")
    assert len(turns) == n_turns
    pos = 0
    for raw in turns["raw_text"]:
        found = text.find(raw, pos)
        assert found >= 0
        pos = found + len(raw)
    label_chars = sum(len(s.text) for s in segs if s.kind != "speech")
    assert label_chars + sum(map(len, turns["raw_text"])) == len(text)


# --------------------------------------------------------------------------- event lines
PATIENT_LABELS = {"patient", "client"}
event_words = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                      min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@st.composite
def transcript_with_events(draw) -> tuple[str, int, list[tuple[str, int]]]:
    """A plain transcript with bracketed event lines before turns or after a turn's speech; the
    expected (event line, owning turn) pairs: the next patient turn, else the last turn."""
    nl = draw(st.sampled_from(NEWLINES))
    n_turns = draw(st.integers(min_value=1, max_value=6))
    out, events, waiting, roles = "", [], [], []
    for k in range(n_turns):
        label = draw(st.sampled_from(LABELS))
        roles.append("patient" if label.lower() in PATIENT_LABELS else "therapist")
        if label.lower() in PATIENT_LABELS:
            events += [(e, k) for e in waiting]
            waiting = []
        body = (nl * draw(st.integers(1, 2))).join(
            nl.join(p) for p in draw(st.lists(paragraph(), min_size=1, max_size=2)))
        out += f"{label}: {body}{nl * draw(st.integers(1, 2))}"
        for _ in range(draw(st.integers(0, 2))):  # event lines after this turn's speech
            line = f"--- [{draw(event_words)}]{draw(st.sampled_from(['', ': [' + 'x]']))} ---"
            out += f"{line}{nl * draw(st.integers(1, 2))}"
            waiting.append(line)
    events += [(e, n_turns - 1) for e in waiting]
    return out, n_turns, events


@settings(max_examples=150, deadline=None)
@given(transcript_with_events())
def test_event_lines_are_kept_whole_and_owned_by_the_next_patient_turn(case):
    text, n_turns, events = case
    segs = segment_text(text)
    assert "".join(s.text for s in segs) == text
    assert [(s.text.rstrip("\r\n"), s.turn) for s in segs if s.kind == "event"] == events
    turns = parse_text(text, "s")
    assert len(turns) == n_turns
    got = [e for t in turns["event_text"] if t for e in t.split("\n")]
    assert got == [e for e, _ in sorted(events, key=lambda x: x[1])]
    assert not any("--- [" in t for t in turns["text"])
    label_chars = sum(len(s.text) for s in segs if s.kind != "speech")
    assert label_chars + sum(map(len, turns["raw_text"])) == len(text)
