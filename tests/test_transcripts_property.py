"""Nothing lost, nothing merged: generated transcripts in random label conventions.

Every character lands in a turn (speech, thinking) or a reported separator (label, blank line,
byte-order mark), turn for turn as generated; a turn given a label the mapping does not know
is never merged into its neighbour: loading fails naming that label, and once it is mapped with
``--speaker`` the file loads turn for turn.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from therapy_turns.io.files import TranscriptError
from therapy_turns.io.transcripts import parse_text, segment_text, speaker_map

# (patient label, therapist label) families, each loaded by default
FAMILIES = [("Patient", "Therapist"), ("CLIENT", "counsellor"), ("Client", "Counselor"),
            ("Participant", "Interviewer"), ("Client 1", "Therapist (Dr. Lee)"),
            ("C", "T"), ("P", "T"), ("Cl", "Co")]
UNKNOWN = ["Mother", "Dr Smith", "Nurse", "Partner 2", "Coach (Sam)"]
ROLE_PLAY = ["Manager", "You", "Try this", "goal", "Colleague"]
ODD = ["\u2028", "\x0c", "\x85", "\u2029", "\x0b"]  # never line breaks

plain = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"),
                                       blacklist_characters=":*[]()"),
                min_size=1, max_size=20).filter(lambda s: s.strip() != "")
words = st.builds(lambda a, odd, b: f"{a}{odd}{b}", plain, st.sampled_from(["", "", *ODD]),
                  st.sampled_from(["", ".", " ok"]))


@st.composite
def style(draw) -> dict[str, object]:
    return {"indent": draw(st.sampled_from(["", "  ", "\t", "\u00a0"])),
            "bold": draw(st.booleans()), "stamp": draw(st.booleans()),
            "sep": draw(st.sampled_from([": ", ":", ":\t"]))}


def label_line(label: str, s: dict[str, object], k: int) -> str:
    stamp = f"[00:{k // 60:02d}:{k % 60:02d}] " if s["stamp"] else ""
    core = f"**{label}:** " if s["bold"] else f"{label}{s['sep']}"
    return f"{s['indent']}{stamp}{core}"


@st.composite
def transcript(draw) -> dict[str, object]:
    nl = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    gap = draw(st.sampled_from([nl, nl * 2, nl * 3]))  # between turns
    fam, s = draw(st.sampled_from(FAMILIES)), draw(style())
    n = draw(st.integers(min_value=2, max_value=7))
    first = draw(st.integers(0, 1))
    unknown = draw(st.lists(st.integers(0, n - 1), max_size=2, unique=True))
    unknown_labels = {k: draw(st.sampled_from(UNKNOWN)) for k in unknown}
    role_play = iter(draw(st.permutations(ROLE_PLAY)))
    text = "\ufeff" if draw(st.booleans()) else ""
    roles, labels = [], []
    for k in range(n):
        role = ("patient", "therapist")[(k + first) % 2]
        label = unknown_labels.get(k, fam[role == "therapist"])
        paras = [nl.join(draw(st.lists(words, min_size=1, max_size=2)))]
        if k not in unknown_labels and gap != nl:  # more paragraphs; maybe role-play inside
            for _ in range(draw(st.integers(0, 2))):
                para = draw(words)
                if draw(st.booleans()):
                    rp = next(role_play, None)
                    para += f"{nl}{rp}: {draw(words)}" if rp else ""
                    paras += [para, draw(words)]  # the turn goes on after the role-play
                else:
                    paras.append(para)
        text += label_line(label, s, k) + (nl * 2).join(paras) + gap
        roles.append(role)
        labels.append(label)
    if draw(st.booleans()):
        text = text.rstrip("\r\n")
    return {"text": text, "roles": roles, "labels": labels, "unknown": unknown_labels}


def check_loaded(text: str, roles: list[str], labels: list[str], speakers=None) -> None:
    segs = segment_text(text, "g.txt", speakers)
    assert "".join(x.text for x in segs) == text
    for x in segs:
        assert x.kind in ("label", "speech", "thinking", "separator")
        if x.kind == "separator":
            assert x.text.strip() == "" or x.text == "\ufeff"
    turns = parse_text(text, "g", "g.txt", speakers)
    assert turns["speaker"].tolist() == roles
    assert turns["speaker_label"].tolist() == labels
    pos = 0
    for raw in turns["raw_text"]:
        found = text.find(raw, pos)
        assert found >= 0
        pos = found + len(raw)
    other = sum(len(x.text) for x in segs if x.kind != "speech")
    assert other + sum(map(len, turns["raw_text"])) == len(text)


@settings(max_examples=200, deadline=None)
@given(transcript())
def test_every_character_in_a_turn_or_separator_and_no_unknown_label_merged(case):
    text, roles, labels, unknown = case["text"], case["roles"], case["labels"], case["unknown"]
    if not unknown:
        check_loaded(text, roles, labels)
        return
    with pytest.raises(TranscriptError) as info:
        parse_text(text, "g", "g.txt")
    assert info.value.kind == "unknown_speaker" and info.value.fields["label"] in unknown.values()
    name = info.value.fields["label"].split(" (")[0]
    assert f"--speaker '{name}=patient'" in str(info.value)
    # mapped, each unknown label opens its own turn: nothing had been merged (abbreviations
    # are mapped too: beside a mapped label of the same role they are ambiguous)
    mapping = {lab: r for lab, r in zip(labels, roles, strict=True) if lab in ("C", "T", "P",
                                                                            "Cl", "Co")}
    mapping |= {u.split(" (")[0]: roles[k] for k, u in unknown.items()}
    if all(mapping[u.split(" (")[0]] == roles[k] for k, u in unknown.items()):  # one role each
        check_loaded(text, roles, labels, speaker_map(mapping))


# --------------------------------------------------------------------------- event lines
PATIENT_LABELS = {"patient", "client"}
LABELS = ["Patient", "Therapist", "CLIENT", "counsellor", "Counselor", "patient"]
NEWLINES = ["\n", "\r\n"]
event_words = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")),
                      min_size=1, max_size=30).filter(lambda s: s.strip() != "")


@st.composite
def paragraph(draw) -> list[str]:
    return draw(st.lists(plain, min_size=1, max_size=3))


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
