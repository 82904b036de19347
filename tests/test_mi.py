"""MI session indices and the sequential analysis on hand-built tables with known values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from therapy_turns.analysis import shifts as mi
from therapy_turns.analysis.stats import next_turn


def session(sid: str, pairs: list[tuple[str, str, str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Alternating turns: (therapist form, therapist main behaviour, next client code)."""
    t, c = [], []
    for i, (form, mb, talk) in enumerate(pairs):
        t.append({"session_id": sid, "turn": 2 * i + 1, "form": form, "main_behaviour": mb})
        c.append({"session_id": sid, "turn": 2 * i + 2, "client_talk": talk})
    return pd.DataFrame(t), pd.DataFrame(c)


def test_session_indices_by_hand() -> None:
    t, c = session("a", [
        ("complex_reflection", "reflection", "change"),
        ("simple_reflection;affirmation", "reflection", "change"),
        ("open_question", "question", "sustain"),
        ("closed_question", "question", "neutral"),
        ("closed_question;confront", "question", "sustain"),
        ("persuade", "therapist_input", "neutral"),
        ("giving_information", "therapist_input", "change"),
        ("other", "other", "neutral"),
    ])
    out = mi.session_indices(t, c).loc["a"]
    assert out.reflection_rate == pytest.approx(2 / 8)
    assert out.question_rate == pytest.approx(3 / 8)
    assert out.therapist_input_rate == pytest.approx(2 / 8)
    assert out.other_rate == pytest.approx(1 / 8)
    assert out.reflection_question_ratio == pytest.approx(2 / 3)
    assert out.complex_reflection_share == pytest.approx(1 / 2)
    assert out.open_question_share == pytest.approx(1 / 3)
    assert out.mi_adherent_rate == pytest.approx(1 / 8)
    assert out.mi_non_adherent_rate == pytest.approx(2 / 8)
    assert out.mi_adherent_share == pytest.approx(1 / 3)
    assert out.change_talk_share == pytest.approx(3 / 5)


def test_empty_denominators_are_nan() -> None:
    t, c = session("b", [("other", "other", "neutral")])
    out = mi.session_indices(t, c).loc["b"]
    assert np.isnan(out.reflection_question_ratio) and np.isnan(out.open_question_share)
    assert np.isnan(out.complex_reflection_share) and np.isnan(out.change_talk_share)
    assert out.other_rate == 1.0


def test_sequential_probabilities_by_hand() -> None:
    # reflections: 3 of 4 followed by change talk; questions: 1 of 4, 2 of 4 by sustain
    t1, c1 = session("a", [("", "reflection", "change"), ("", "reflection", "change"),
                           ("", "question", "sustain"), ("", "question", "neutral")])
    t2, c2 = session("b", [("", "reflection", "change"), ("", "reflection", "neutral"),
                           ("", "question", "change"), ("", "question", "sustain")])
    tech, client = pd.concat([t1, t2]), pd.concat([c1, c2])
    # a client turn with no therapist turn right before it counts for the base rate only
    client = pd.concat([client, pd.DataFrame({"session_id": ["b"], "turn": [0],
                                              "client_talk": ["sustain"]})])
    res = mi.sequential(tech, client).set_index(["behaviour", "talk"])
    r = res.loc[("reflection", "change")]
    assert (r.k, r.n, r.p) == (3, 4, 0.75)
    low, high = proportion_confint(3, 4, method="wilson")
    assert (r.low, r.high) == pytest.approx((low, high))
    assert r.base_k == 4 and r.base_n == 9 and r.base_rate == pytest.approx(4 / 9)
    assert r.ratio == pytest.approx(0.75 / (4 / 9))
    q = res.loc[("question", "sustain")]
    assert (q.k, q.n) == (2, 4) and q.base_rate == pytest.approx(3 / 9)
    assert res.loc[("therapist_input", "change")].n == 0
    assert np.isnan(res.loc[("therapist_input", "change")].p)


def test_pairs_need_the_client_turn_right_after() -> None:
    tech = pd.DataFrame({"session_id": ["a", "a", "b"], "turn": [1, 2, 5],
                         "main_behaviour": ["question", "reflection", "question"]})
    client = pd.DataFrame({"session_id": ["a", "b", "c"], "turn": [3, 6, 0],
                           "client_talk": ["change", "sustain", "change"]})
    pairs = next_turn(tech, client, "client_talk")
    # turn 1 is followed by therapist turn 2, not a client turn; sessions never mix
    assert pairs[["session_id", "main_behaviour", "next_code"]].values.tolist() == [
        ["a", "reflection", "change"], ["b", "question", "sustain"]]


def test_sessions_table_carries_the_indices() -> None:
    from therapy_turns.analysis.sessions import summarise_sessions
    from therapy_turns.io.transcripts import FLAGS

    t, c = session("a", [("open_question", "question", "change"),
                         ("complex_reflection", "reflection", "sustain"),
                         ("closed_question", "question", "change")])
    turns = pd.concat([t.assign(speaker="therapist"), c.assign(speaker="patient")])
    turns = turns.sort_values("turn").assign(text="words here", **{f: False for f in FLAGS})
    # the last client turn is a generation error: it leaves the change-talk share
    turns.loc[turns.turn == 6, "generation_error"] = True
    out = summarise_sessions(turns.reset_index(drop=True), {"techniques": t, "client": c})
    row = out.set_index("session_id").loc["a"]
    assert row["techniques__mi_reflection_question_ratio"] == pytest.approx(1 / 2)
    assert row["techniques__mi_open_question_share"] == pytest.approx(1 / 2)
    assert row["techniques__mi_change_talk_share"] == pytest.approx(1 / 2)
