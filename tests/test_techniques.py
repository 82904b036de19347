"""Technique coder: each code's rules on hand-written positive and negative sentences.

Docs are built by hand: the rule-based English tokenizer (no statistical model) splits words, and
sentence starts, POS, tags, lemmas and a flat dependency tree (subject pronouns, auxiliaries, one
root per sentence) are set here, so no test rests on a model's prediction. Expected codes come
from the codebook (docs/codebook.md) and the manual rule it cites, not from the coder's output.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest
import spacy
from spacy.tokens import Doc

from therapy_turns.measures import techniques as tq
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import split_codes

NLP = spacy.blank("en")
PRONOUNS = {"i", "you", "we", "it", "they", "that", "this", "your", "my", "me", "them", "he", "she"}
SUBJECTS = {"i", "you", "we", "they", "he", "she", "it"}
AUX = {"can", "could", "would", "will", "do", "did", "is", "are", "'s", "'re", "am", "be", "was",
       "have", "'ve", "should", "may", "might", "'ll", "'m", "must"}
VERBS = {"stop", "go", "cut", "quit", "feel", "want", "drink", "smoke", "take", "need", "try",
         "see", "made", "make", "shared", "share", "wants", "loves", "gain", "suggest", "hurts",
         "get", "find", "look", "notice", "allow", "think", "know", "stuck", "worried"}
GOLD = Path(__file__).parent / "data" / "gold_techniques.csv"
GOLD_MI = Path(__file__).parent / "data" / "gold_mi.csv"


def mk(text: str, verbs: tuple[str, ...] = ()) -> Doc:
    """A hand-annotated Doc: sentences end at . ? !; words in ``verbs`` that open a sentence are
    tagged VB (imperative); other tags/POS from small closed lists; in each sentence the first
    verb (else the first word) is the root, a subject pronoun before an auxiliary or verb is its
    ``nsubj``, auxiliaries are ``aux``, everything else ``dep``."""
    toks = NLP.make_doc(text)
    words = [t.text for t in toks]
    spaces = [bool(t.whitespace_) for t in toks]
    starts, pos, tags = [], [], []
    new = True
    for w in words:
        lw = w.lower()
        starts.append(new)
        if lw in PRONOUNS:
            p, t = "PRON", "PRP"
        elif lw in AUX:
            p, t = "AUX", "MD"
        elif not w.isalpha():
            p, t = "PUNCT", "."
        elif new and lw in verbs:
            p, t = "VERB", "VB"
        elif lw in VERBS:
            p, t = "VERB", "VBP"
        elif lw in NLP.Defaults.stop_words:
            p, t = "ADP", "IN"
        else:
            p, t = "NOUN", "NN"
        pos.append(p)
        tags.append(t)
        new = w in (".", "?", "!")
    bounds = [i for i, s in enumerate(starts) if s] + [len(words)]
    heads, deps = list(range(len(words))), ["dep"] * len(words)
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        root = next((i for i in range(lo, hi) if pos[i] == "VERB"), lo)
        for i in range(lo, hi):
            heads[i] = root
            if i == root:
                deps[i] = "ROOT"
            elif pos[i] == "AUX":
                deps[i] = "aux"
            elif words[i].lower() in SUBJECTS and i + 1 < hi and pos[i + 1] in ("AUX", "VERB"):
                deps[i] = "nsubj"
    return Doc(NLP.vocab, words=words, spaces=spaces, pos=pos, tags=tags, heads=heads, deps=deps,
               lemmas=[w.lower() for w in words])


def code(text: str, client: str | None = None, verbs: tuple[str, ...] = ()) -> tq.Turn:
    doc = mk(text, verbs)
    prev = mk(client) if client else None
    return tq.get_coder(doc.vocab).code_turn(doc, prev)


# --------------------------------------------------------------------------- questions
def test_open_and_closed_questions() -> None:
    assert code("What did you notice?").forms == ["open_question"]
    c = code("Can you feel your feet on the floor?")
    assert "closed_question" in c.forms and "open_question" not in c.forms


def test_content_request_is_open() -> None:
    c = code("Can you think of one value that matters to you?")
    assert "open_question" in c.forms and "closed_question" not in c.forms
    assert c.evidence["open_question"][0][0] == "q_content_request"
    assert "values" in c.act


def test_rhetorical_question_is_not_a_question() -> None:
    c = code("How is that supposed to help?")
    assert c.forms == ["other"]


def test_question_inside_role_play_quote() -> None:
    c = code("I'll play the role of your colleague. \"Can you walk me through what happened?\"")
    assert "role_play" in c.forms
    assert not {"open_question", "closed_question"} & set(c.forms)
    assert c.main_behaviour == "therapist_input"


# --------------------------------------------------------------------------- questions (MISC 2.5)
@pytest.mark.parametrize("text,expected", [
    ("How many drinks do you have in a week?", "closed_question"),   # specific fact
    ("How long ago did you stop?", "closed_question"),
    ("How do you feel about that?", "open_question"),                # wh about experience
    ("I wonder what it would be like without them.", "open_question"),  # embedded, no "?"
    ("You want to cut down, right?", "closed_question"),             # tag question
    ("Do you want to set a date or think about it more?", "closed_question"),  # "or" choice
    ("Tell me about the mornings.", "open_question"),                # imperative request
    ("Say more about that.", "open_question"),
])
def test_question_forms(text: str, expected: str) -> None:
    c = code(text, "I drink a bit.", verbs=("tell", "say"))
    got = {"open_question", "closed_question"} & set(c.forms)
    assert got == {expected}, c.forms
    assert c.main_behaviour == "question"


def test_question_carries_no_information_or_advice() -> None:
    # cue words inside a question ("might help", "you should") are part of the question
    c = code("What do you think might help on the bad days?", "I forget them.")
    assert c.forms == ["open_question"]


# --------------------------------------------------------------------------- reflections
CLIENT = "I feel exhausted and stuck at work."


def test_reflection_with_lead_in_is_complex() -> None:
    c = code("It sounds like you feel exhausted and stuck.", CLIENT)
    assert c.forms == ["complex_reflection"]
    assert c.evidence["complex_reflection"][0][0].startswith("refl_sounds_like")


def test_plain_restatement_is_simple_reflection() -> None:
    c = code("You are exhausted and stuck at work.", CLIENT)
    assert c.forms == ["simple_reflection"]
    assert c.main_behaviour == "reflection"


def test_declarative_reflection_without_stock_opener() -> None:
    # "So it's the mornings that are hardest." restates; no lead-in, no "you"
    c = code("So it's the mornings that are hardest.", "The mornings are the worst, with coffee.")
    assert c.forms == ["simple_reflection"]


def test_uncoded_statement_about_the_client_world_is_a_reflection() -> None:
    # no lead-in, no "you", no repeated word: MITI codes reflections by function; a statement
    # no cue rule claims, right after the client spoke, is a reflection
    c = code("The evenings are when it all gets loud.", "I drink to switch my brain off at night.")
    assert c.main_behaviour == "reflection", c.evidence
    assert c.evidence[c.forms[0]][0][0].startswith("refl_statement")


def test_fragment_repeating_the_client_is_a_simple_reflection() -> None:
    c = code("Two years.", "I have not driven in two years.")
    assert c.forms == ["simple_reflection"]


@pytest.mark.parametrize("text", [
    "You're worried that you'll gain weight.",                 # feeling lead-in
    "Part of you wants to quit, and part of you loves it.",   # double-sided
    "That stuck with you, and it hurts.",                     # feeling the client did not say
])
def test_complex_reflections(text: str) -> None:
    c = code(text, "My daughter said I'm always tired and I smoke too much.")
    assert c.forms == ["complex_reflection"], c.evidence


def test_feeling_word_the_client_said_stays_simple() -> None:
    # "worried" repeated from the client adds no meaning: MITI default is simple
    c = code("It all has you worried.", "I'm worried about it all.")
    assert c.forms == ["simple_reflection"], c.evidence


def test_restatement_needs_the_client_turn() -> None:
    # without a lead-in there is nothing to restate; a lead-in marks a reflection by itself
    assert code("You are exhausted and stuck at work.").forms == ["other"]
    assert code("It sounds like you feel exhausted.").forms == ["complex_reflection"]


def test_reflection_as_question_is_a_question() -> None:
    c = code("So you feel exhausted and stuck at work?", CLIENT)
    assert c.forms == ["closed_question"]


def test_therapist_speaking_of_self_is_not_a_reflection() -> None:
    c = code("I will see you in two weeks.", CLIENT)
    assert not {"simple_reflection", "complex_reflection"} & set(c.forms)


def test_statement_after_information_continues_the_input() -> None:
    c = code("Most people who quit have several goes. A slip does not wipe out the weeks.",
             "I slipped at the barbecue.")
    assert c.forms == ["giving_information"], c.evidence
    assert c.main_behaviour == "therapist_input"


def test_you_in_instruction_is_not_a_reflection() -> None:
    c = code("Notice the tension in your shoulders.", CLIENT, verbs=("notice",))
    assert not {"simple_reflection", "complex_reflection"} & set(c.forms)
    assert "exercise_instruction" in c.forms and "present_moment" in c.act


def test_sounds_like_a_plan_is_not_a_reflection() -> None:
    c = code("That sounds like a good plan.", CLIENT)
    assert c.forms == ["affirmation"]


def test_no_reflection_in_a_role_play_turn() -> None:
    c = code("Let's do a brief role-play. Missing deadlines is about trust.", "I missed it.")
    assert "role_play" in c.forms
    assert not {"simple_reflection", "complex_reflection"} & set(c.forms)


# --------------------------------------------------------------------------- MITI statement codes
@pytest.mark.parametrize("text,code_,main", [
    ("You made that happen.", "affirmation", "other"),
    ("Thanks for being so honest with me.", "affirmation", "other"),
    ("It's up to you.", "emphasizing_autonomy", "other"),
    ("Whatever you decide, you know yourself best.", "emphasizing_autonomy", "other"),
    ("Would it be okay if I shared some information?", "seeking_collaboration", "question"),
    ("Most people find the first week the hardest.", "giving_information", "therapist_input"),
    ("The guideline is fourteen units a week.", "giving_information", "therapist_input"),
    ("You need to cut down.", "persuade", "therapist_input"),
    ("You should quit before the baby comes.", "persuade", "therapist_input"),
    ("Get a pill box from the pharmacy.", "persuade", "therapist_input"),   # bare direction
    ("Of course you can, it's a choice.", "confront", "other"),
])
def test_miti_statement_codes(text: str, code_: str, main: str) -> None:
    c = code(text, "I don't know, I forget them.", verbs=("get",))
    assert code_ in c.forms, c.forms
    assert c.main_behaviour == main
    assert not {"simple_reflection", "complex_reflection"} & set(c.forms)


def test_lets_structures_and_is_not_persuade() -> None:
    c = code("Let's look at your week.", CLIENT)
    assert "persuade" not in c.forms


def test_persuade_with_permission_needs_autonomy_or_permission() -> None:
    c = code("I'd suggest two days off a week, but it's up to you.", "I drink most days.")
    assert {"persuade_with_permission", "emphasizing_autonomy"} <= set(c.forms)
    assert "persuade" not in c.forms
    c = code("I'd suggest two days off a week.", "I drink most days.")
    assert "persuade" in c.forms and "persuade_with_permission" not in c.forms


def test_dependency_rule_finds_modal_advice() -> None:
    c = code("Honestly you should stop.", CLIENT)
    assert "per_dep_modal" in [rule for rule, _ in c.evidence["persuade"]]


# ------------------------------------------------ reflection precision (MITI 4.2.1 decision rules)
def test_number_the_client_did_not_say_is_feedback() -> None:
    doc = mk("Your score was eighteen.")
    doc[3].tag_ = "CD"
    c = tq.get_coder(doc.vocab).code_turn(doc, mk("I filled in the form."))
    assert c.forms == ["giving_information"], c.evidence
    doc = mk("Eighteen drinks.")
    doc[0].tag_ = "CD"
    c = tq.get_coder(doc.vocab).code_turn(doc, mk("Maybe eighteen drinks."))
    assert c.main_behaviour == "reflection", c.evidence  # the client's own number: restatement


def test_long_statement_with_no_client_content_is_information() -> None:
    c = code("Smoking in pregnancy harms the baby and its lungs.", "I cut down to five a day.")
    assert c.forms == ["giving_information"], c.evidence
    c = code("Everything's kind of gone grey.", "I go to work, I come home, I sleep.")
    assert c.main_behaviour == "reflection", c.evidence  # short: still a reflection


def test_bare_acknowledgement_is_not_a_reflection() -> None:
    assert code("Okay, good.", "No pain at all.").forms == ["other"]
    assert code("Sounds like a plan.", "I'll buy the water.").forms == ["other"]


def test_client_number_with_unit_is_a_restatement() -> None:
    c = code("Ten minutes a day.", "Maybe ten minutes a day to start.")
    assert c.main_behaviour == "reflection", c.evidence
    assert "giving_information" in code("Ten minutes a day.", "I walk a bit.").forms


def test_input_turn_keeps_you_statement_as_input() -> None:
    c = code("Most people find the first week the hardest. Just so you know it's there.",
             "Yeah.")
    assert c.main_behaviour == "therapist_input", c.evidence


@pytest.mark.parametrize("text,present", [
    ("Wine is still a drink.", True),
    ("That's not really enough.", True),
    ("Alcohol makes sleep worse, not better.", True),
    ("You're still thinking about it.", False),
])
def test_contradiction_is_confront(text: str, present: bool) -> None:
    assert ("confront" in code(text, "It helps me sleep.").forms) is present


# --------------------------------------------------------------------------- other forms
@pytest.mark.parametrize("text,code_,present", [
    ("That's a great insight.", "affirmation", True),
    ("You're doing a great job.", "affirmation", True),
    ("That's a great deal of work.", "affirmation", False),
    ("It's completely normal to feel this way.", "giving_information", True),
    ("Having a plan can help you feel more in control.", "giving_information", True),
    ("It's raining today.", "giving_information", False),
    ("Would you be willing to try a short walk?", "seeking_collaboration", True),
    ("We can go back to that if you'd like.", "seeking_collaboration", True),
    ("What would you like to change?", "seeking_collaboration", False),
    ("Take a slow breath in.", "exercise_instruction", True),
    ("Say to yourself: \"I'm here.\"", "exercise_instruction", True),
    ("Let's take a deep breath and explore this value.", "exercise_instruction", False),
    ("Can you observe the thoughts that come up?", "exercise_instruction", False),
    ("Let's do a brief role-play.", "role_play", True),
    ("Imagine a different day.", "role_play", False),
    ("So far you've told me about work, your sister and the walk.", "summary", True),
])
def test_form_rules(text: str, code_: str, present: bool) -> None:
    assert (code_ in code(text, verbs=("take", "say", "imagine")).forms) is present


@pytest.mark.parametrize("text,code_,present", [
    ("Notice the sensation of your feet.", "present_moment", True),
    ("Let's take a moment to consider this.", "present_moment", False),
    ("Allow the shame to be there.", "acceptance", True),
    ("Notice the shame without trying to change it.", "acceptance", True),
    ("Notice your breath without trying to change it.", "acceptance", False),
    ("Notice the thought that you are a failure.", "defusion", True),
    ("Those thoughts are just thoughts.", "defusion", True),
    ("Think of a plan.", "defusion", False),
    ("You are not defined by this voice.", "self_as_context", True),
    ("You are tired.", "self_as_context", False),
    ("What matters most to you?", "values", True),
    ("What happened next?", "values", False),
    ("Can you commit to a small step tomorrow?", "committed_action", True),
    ("Let's take it one small step further.", "committed_action", False),
])
def test_act_rules(text: str, code_: str, present: bool) -> None:
    assert (code_ in code(text, verbs=("notice", "allow", "think")).act) is present


def test_evidence_points_at_words() -> None:
    c = code("That's a great insight. What did you notice?")
    assert c.evidence["affirmation"] == [["aff_great_x", "That's a great insight"]]
    assert c.evidence["open_question"] == [["q_detector", "What did you notice?"]]


# --------------------------------------------------------------------------- main behaviour
@pytest.mark.parametrize("forms,expected", [
    (["open_question", "complex_reflection"], "reflection"),
    (["exercise_instruction", "closed_question"], "question"),
    (["giving_information", "affirmation"], "therapist_input"),
    (["confront", "persuade"], "therapist_input"),
    (["confront", "closed_question"], "question"),
    (["affirmation", "seeking_collaboration"], "other"),
    (["emphasizing_autonomy"], "other"),
    (["persuade_with_permission", "emphasizing_autonomy"], "therapist_input"),
    (["summary"], "reflection"),
    (["other"], "other"),
    ([], "other"),
])
def test_main_behaviour_precedence(forms: list[str], expected: str) -> None:
    assert tq.main_behaviour(forms) == expected


def test_precedence_on_coded_turns() -> None:
    client = "The mornings are the worst, with coffee."
    c = code("So it's the mornings that are hardest. What happens then?", client)
    assert {"simple_reflection", "open_question"} <= set(c.forms)
    assert c.main_behaviour == "reflection"          # reflection > question
    c = code("Most people find mornings hard. What do you make of that?", client)
    assert c.main_behaviour == "question"            # question > therapist input
    c = code("You made that happen. Most people find mornings hard.", client)
    assert c.main_behaviour == "therapist_input"     # therapist input > other


def test_main_behaviour_custom_precedence() -> None:
    assert tq.main_behaviour(["open_question", "simple_reflection"],
                             ["question", "reflection", "therapist_input", "other"]) == "question"


# --------------------------------------------------------------------------- table
def test_code_turns_table() -> None:
    texts = [("patient", CLIENT), ("therapist", "You feel exhausted and stuck at work."),
             ("patient", "Yes."), ("therapist", "What did you notice?"),
             ("therapist", "")]
    turns = pd.DataFrame({"session_id": "s1", "turn": range(len(texts)),
                          "speaker": [s for s, _ in texts], "text": [t for _, t in texts],
                          "role_play": False})
    docs = [mk(t) for _, t in texts]
    out = tq.code_turns(turns, docs)
    assert list(out["turn"]) == [1, 3, 4]
    assert list(out["main_behaviour"]) == ["reflection", "question", "other"]
    assert list(out["form"]) == ["simple_reflection", "open_question", ""]
    assert out["form_simple_reflection"].tolist() == [True, False, False]
    assert {f"form_{f}" for f in tq.FORMS} | {f"act_{a}" for a in tq.ACT_PROCESSES} <= set(out)
    assert "simple_reflection" in json.loads(out["evidence"].iloc[0])
    with pytest.raises(ValueError):
        tq.code_turns(turns, docs[:-1])


def test_every_rule_codes_a_known_code() -> None:
    spec = read_yaml(DATA_DIR / "technique_patterns.yaml")
    known = set(tq.FORMS) | set(tq.ACT_PROCESSES) | set(spec["codes"]["helper"])
    assert {r["id"]: r["code"] for r in spec["rules"] if r["code"] not in known} == {}


# --------------------------------------------------------------------------- gold set
def test_gold_set_is_well_formed() -> None:
    rows = list(csv.DictReader(GOLD.open(encoding="utf-8")))
    assert len(rows) >= 60
    assert len({r["session_id"] for r in rows}) == 5
    assert len({(r["session_id"], r["turn"]) for r in rows}) == len(rows)
    for r in rows:
        fs = split_codes(r["form"])
        assert fs and set(fs) <= set(tq.FORMS), r
        assert set(split_codes(r["act_process"])) <= set(tq.ACT_PROCESSES), r
        assert r["main_behaviour"] == tq.main_behaviour(fs), r
        assert r["rationale"].strip()


# --------------------------------------------------------------------------- CLI
def test_cli_round_trip(tmp_path: Path) -> None:
    from therapy_turns.cli import main

    src = tmp_path / "mini.csv"
    pd.DataFrame({
        "session_id": ["a", "a", "a", "b", "b"],
        "speaker": ["client", "therapist", "client", "client", "counselor"],
        "text": ["I feel stuck.", "What did you notice?", "Nothing much.", "Hi.",
                 "That's a great insight. Take a slow breath in."],
    }).to_csv(src, index=False)
    out = tmp_path / "codes.csv"
    assert main(["techniques", str(src), "--out", str(out), "--quiet"]) == 0
    got = pd.read_csv(out, keep_default_na=False)
    assert list(got.columns) == ["session_id", "turn", "form", "act_process", "main_behaviour",
                                 "evidence"]
    assert got[["session_id", "turn"]].values.tolist() == [["a", 1], ["b", 1]]
    assert got["form"].iloc[0] == "open_question"
    assert set(split_codes(got["form"].iloc[1])) >= {"affirmation", "exercise_instruction"}
    assert got["main_behaviour"].tolist() == ["question", "therapist_input"]
    assert all(json.loads(e) for e in got["evidence"])
    assert main(["techniques", str(tmp_path / "missing.csv"), "--out", str(out)]) == 2


def test_mi_gold_set_is_well_formed() -> None:
    rows = list(csv.DictReader(GOLD_MI.open(encoding="utf-8")))
    assert len(rows) >= 420
    assert list(rows[0]) == ["id", "split", "session_id", "turn", "client_context", "utterance",
                             "form", "main_behaviour", "rationale"]
    assert len({r["id"] for r in rows}) == len(rows)
    sessions: dict[str, set[str]] = {}
    for r in rows:
        fs = split_codes(r["form"])
        assert fs and set(fs) <= set(tq.FORMS), r
        assert r["main_behaviour"] == tq.main_behaviour(fs), r
        assert r["rationale"].strip() and r["utterance"].strip() and r["client_context"].strip()
        n = int(r["session_id"].rsplit("_", 1)[1])
        fresh = r["session_id"].startswith("gold_mi2_")
        want = "heldout2" if fresh else "heldout" if n % 2 == 0 else "dev"
        assert r["split"] == want, r  # the documented split rule
        sessions.setdefault(r["session_id"], set()).add(r["split"])
    assert len(sessions) >= 40 and all(len(s) == 1 for s in sessions.values())
    halves = [sum(r["split"] == h for r in rows) for h in ("dev", "heldout", "heldout2")]
    assert min(halves[:2]) >= 200 and halves[2] >= 150
