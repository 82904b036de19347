"""Client change/sustain talk rules on hand-written utterances (MISC 2.5 kinds, both directions)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from therapy_turns.measures import client_talk as ct
from therapy_turns.nlp import load_pipeline
from therapy_turns.paths import DATA_DIR, read_yaml

CASES = [
    # (utterance, code, evidence key that must be present or None)
    ("I want to quit before the summer.", "change", "change:desire"),
    ("I don't want to quit, to be honest.", "sustain", "sustain:desire"),
    ("I really don’t wanna stop.", "sustain", "sustain:desire"),
    ("I think I could cut down on weeknights.", "change", "change:ability"),
    ("I can't stop, it's too hard.", "sustain", "sustain:ability"),
    ("I need to get my blood pressure down, so I have to take them.", "change", "change:need"),
    ("I don't need them, I feel fine.", "sustain", "sustain:need"),
    ("I'm going to start walking to work on Mondays.", "change", "change:commitment"),
    ("I'm not going to take something that makes me feel like that.", "sustain",
     "sustain:commitment"),
    ("I'm gonna try no drinking Monday to Thursday.", "change", "change:commitment"),
    ("I've already deleted the betting apps.", "change", "change:taking_steps"),
    ("I stopped the tablets last month.", "sustain", "sustain:taking_steps"),
    ("I'd feel so much better if I lost a bit of weight.", "change", "change:reasons"),
    ("It's the only thing that calms me down.", "sustain", "sustain:reasons"),
    ("Everyone drinks at uni, it's normal.", "sustain", "sustain:reasons"),
    ("I'm willing to feel anxious if it means I get to go.", "change", "change:commitment"),
    ("I can't face the party.", "sustain", "sustain:ability"),
    ("Yeah.", "neutral", None),
    ("It's on a Tuesday, the appointment.", "neutral", None),
    ("We had pasta last night.", "neutral", None),
]


@pytest.fixture(scope="module")
def nlp():
    return load_pipeline()


@pytest.mark.parametrize("text, code, key", CASES)
def test_rule_codes(nlp, text: str, code: str, key: str | None) -> None:
    out = ct.get_client_coder(nlp.vocab).code_doc(nlp(text))
    assert out.code == code, (text, out.evidence)
    if key is None:
        assert out.hits == []
    else:
        assert key in out.evidence


def test_reported_speech_and_conditionals_are_not_the_clients_talk(nlp) -> None:
    c = ct.get_client_coder(nlp.vocab)
    assert c.code_doc(nlp("My physio says I need to do them every day.")).code == "neutral"
    # 'if I stopped' is not a step taken; missing it is a reason for the status quo
    out = c.code_doc(nlp("I'd miss that, if I stopped."))
    assert out.code == "sustain" and "change:taking_steps" not in out.evidence


def test_yes_but_goes_to_the_last_word(nlp) -> None:
    # one hit each way: the tie goes to the direction of the last hit
    c = ct.get_client_coder(nlp.vocab)
    assert c.code_doc(nlp("I want to quit. But it calms me down.")).code == "sustain"
    assert c.code_doc(nlp("It calms me down. But I want to quit.")).code == "change"


def test_table_one_row_per_patient_turn(nlp) -> None:
    turns = pd.DataFrame({"session_id": ["b", "a", "a", "a"], "turn": [0, 2, 1, 0],
                          "speaker": ["patient", "patient", "therapist", "patient"],
                          "text": ["", "I want to quit.", "What do you want?", "I like a drink."]})
    out = ct.code_client_turns(turns, [nlp(t) for t in turns.text])
    assert list(zip(out.session_id, out.turn, out.client_talk, strict=True)) == [
        ("a", 0, "sustain"), ("a", 2, "change"), ("b", 0, "neutral")]
    assert out.change_desire.tolist() == [0, 1, 0] and out.sustain_desire.tolist() == [1, 0, 0]
    ev = json.loads(out.evidence.iloc[1])
    assert ev == {"change:desire": [["desire_to_change", "I want to quit"]]}
    with pytest.raises(ValueError, match="row-aligned"):
        ct.code_client_turns(turns, [])


def test_every_rule_names_a_known_kind_and_direction() -> None:
    for r in read_yaml(DATA_DIR / "change_talk.yaml")["rules"]:
        assert r.get("kind", "other") in ct.CLIENT_KINDS, r["id"]
        assert r.get("direction", "change") in ("change", "sustain"), r["id"]
