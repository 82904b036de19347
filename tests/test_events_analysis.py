"""Event-locked analysis on hand-built tables: a planted step is recovered exactly, a table
without an effect gives no significant result; therapist response and thinking rule by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from therapy_turns.analysis import shifts as E
from therapy_turns.measures.events import compute_thinking, word_sets
from therapy_turns.report.explorer import render_turn

STEP = 1.0
N_POS = 12  # patient turns per session
EVENT_POS = 6


def session_turns(sid: str, events: dict[int, str], n_pos: int = N_POS) -> pd.DataFrame:
    """Alternating patient/therapist turns; patient turn ``pos`` is turn ``2 * pos``."""
    rows = []
    for turn in range(2 * n_pos):
        pos = turn // 2
        patient = turn % 2 == 0
        rows.append(
            {
                "session_id": sid,
                "turn": turn,
                "speaker": "patient" if patient else "therapist",
                "event": events.get(pos, "") if patient else "",
                "thinking": "",
                "generation_error": False,
                "missing_answer": False,
            }
        )
    return pd.DataFrame(rows)


def planted(n_sessions: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Valence whose change is +0.3/-0.3 alternately (10 changes summing to 0 per session) and
    exactly STEP at the event turn; session levels differ."""
    turns, scores = [], []
    for s in range(n_sessions):
        sid = f"s{s}"
        turns.append(session_turns(sid, {EVENT_POS: "news"}))
        changes, sign = [], 1.0
        for pos in range(1, N_POS):
            if pos == EVENT_POS:
                changes.append(STEP)
            else:
                changes.append(0.3 * sign)
                sign = -sign
        values = 2.0 + 0.5 * s + np.concatenate([[0.0], np.cumsum(changes)])
        scores.append(
            pd.DataFrame({"session_id": sid, "turn": 2 * np.arange(N_POS), "valence": values})
        )
    return pd.concat(turns, ignore_index=True), pd.concat(scores, ignore_index=True)


def test_planted_step_is_recovered_exactly():
    turns, emo = planted()
    mt = E.measure_table(turns, {"emotion": emo}, ["valence"])
    assert mt.groupby("session_id")["pos"].max().eq(N_POS - 1).all()
    eff = E.event_effects(mt, ["valence"], n_perm=2000, seed=0).iloc[0]
    assert eff["event"] == "news" and eff["n_events"] == 6 and eff["n_sessions"] == 6
    assert eff["mean_change"] == pytest.approx(STEP, abs=1e-12)
    assert (eff["ci_low"], eff["ci_high"]) == pytest.approx((STEP, STEP), abs=1e-12)
    assert eff["baseline_change"] == pytest.approx(0.0, abs=1e-12)
    assert eff["n_baseline"] == 6 * (N_POS - 2)
    assert eff["estimate"] == pytest.approx(STEP, abs=1e-9)
    assert eff["est_ci_low"] > 0.5 and eff["p_mixed"] < 1e-6
    # only a permutation that puts every session's event on its step reaches the observed
    # difference: (1/11)^6 of them, so none of 2000 does
    assert eff["p_perm"] == pytest.approx(1 / 2001)
    assert eff["p_adj"] == pytest.approx(eff["p_mixed"]) and eff["p_perm_adj"] == eff["p_perm"]


def test_locked_lags_count_the_patients_own_turns():
    turns, emo = planted()
    mt = E.measure_table(turns, {"emotion": emo}, ["valence"])
    long = E.locked(mt, E.event_rows(turns), ["valence"])
    one = long[long.session_id == "s0"].set_index("lag")["value"]
    # lag k is patient turn 2 * (EVENT_POS + k): therapist turns between are not counted
    expected = emo[emo.session_id == "s0"].set_index("turn")["valence"]
    assert one.to_dict() == {k: expected[2 * (EVENT_POS + k)] for k in range(-3, 4)}
    means = E.locked_means(long).set_index("lag")
    assert means.loc[0, "mean"] - means.loc[-1, "mean"] == pytest.approx(STEP)
    assert means["n"].eq(6).all()


def test_no_effect_is_not_significant():
    rng = np.random.default_rng(7)
    turns, scores = [], []
    for s in range(8):
        sid = f"s{s}"
        pos = rng.choice(np.arange(1, N_POS), size=2, replace=False)
        turns.append(session_turns(sid, {int(p): "news" for p in pos}))
        scores.append(
            pd.DataFrame(
                {
                    "session_id": sid,
                    "turn": 2 * np.arange(N_POS),
                    "valence": rng.normal(3, 0.3, N_POS),
                }
            )
        )
    mt = E.measure_table(pd.concat(turns), {"emotion": pd.concat(scores)}, ["valence"])
    eff = E.event_effects(mt, ["valence"], n_perm=2000, seed=0).iloc[0]
    assert eff["n_events"] == 16
    assert eff["p_perm"] > 0.05 and eff["p_mixed"] > 0.05
    assert eff["est_ci_low"] < 0 < eff["est_ci_high"] and eff["ci_low"] < 0 < eff["ci_high"]


def test_permutation_is_seeded_and_within_sessions():
    turns, emo = planted()
    mt = E.measure_table(turns, {"emotion": emo}, ["valence"])
    ct = mt.assign(valence_change=mt.groupby("session_id")["valence"].diff())
    ct = ct.dropna(subset=["valence_change"])
    args = (
        ct["valence_change"].to_numpy(),
        (ct["event"] != "").to_numpy(),
        ct["session_id"].to_numpy(),
    )
    assert E.permutation_p(*args, n_perm=500, seed=3) == E.permutation_p(*args, n_perm=500, seed=3)
    # a session whose every turn is an event keeps its labels: the statistic cannot move
    change = np.array([1.0, 2.0, 0.0, 0.0])
    assert (
        E.permutation_p(change, np.array([1, 1, 0, 0]), np.array(["a", "a", "b", "b"]), n_perm=200)
        == 1.0
    )


def test_excluded_turn_keeps_its_position_but_has_no_value():
    turns, emo = planted(2)
    bad = (turns.session_id == "s0") & (turns.turn == 2 * (EVENT_POS - 1))
    turns.loc[bad, "generation_error"] = True
    mt = E.measure_table(turns, {"emotion": emo}, ["valence"])
    eff = E.event_effects(mt, ["valence"], n_perm=100).iloc[0]
    assert eff["n_events"] == 1  # s0's event has no lag -1 value: no change, not a wrong one
    long = E.locked(mt, E.event_rows(turns), ["valence"])
    assert long[(long.session_id == "s0") & (long.lag == -1)]["value"].isna().all()


def test_event_rows_split_types_and_move_therapist_events_to_the_reply():
    t = session_turns("a", {1: "confusion;fatigue"}, n_pos=3)
    t.loc[t.turn == 3, "event"] = "rupture"  # a therapist turn: conditions patient turn 4
    t.loc[t.turn == 5, "event"] = "late"  # after the last patient turn: left out
    ev = E.event_rows(t)
    assert ev.values.tolist() == [["a", 2, "confusion"], ["a", 2, "fatigue"], ["a", 4, "rupture"]]


def test_marker_fallback_says_what_it_uses():
    t = session_turns("a", {}, n_pos=3)
    feats = pd.DataFrame(
        {"session_id": "a", "turn": range(6), "marker_slow_down": [0, 0, 2, 1, 0, 0]}
    )
    src = E.choose_events(t, feats, "marker_slow_down")
    assert src.kind == "marker" and "no events" in src.description
    assert src.turns["event"].tolist() == ["", "", "marker_slow_down", "", "", ""]
    t2 = session_turns("a", {1: "fatigue"}, n_pos=3)
    src2 = E.choose_events(t2, feats)
    assert src2.kind == "events" and "fatigue (1)" in src2.description
    assert "`event` column" in src2.description
    t2["event_text"] = np.where(t2["event"] != "", "--- [tired] ---", "")
    assert "event lines of the transcripts" in E.choose_events(t2, feats).description
    assert (
        "annotations in `ev.csv` and event lines"
        in E.choose_events(t2, feats, annotated="ev.csv").description
    )
    src0 = E.choose_events(t, feats.assign(marker_slow_down=0))
    assert src0.kind == "none" and "empty" in src0.description
    with pytest.raises(ValueError, match="marker_nope"):
        E.choose_events(t, feats, "marker_nope")


def test_therapist_response_counts_the_next_turn():
    t = session_turns("a", {1: "news", 3: "news"}, n_pos=5)
    codes = t[t.speaker == "therapist"][["session_id", "turn"]].copy()
    # after the two events (turns 3 and 7) a reflection, else questions
    codes["main_behaviour"] = np.where(codes.turn.isin([3, 7]), "reflection", "question")
    codes["act_values"] = codes.turn.isin([3])
    r = E.therapist_response(t, codes).set_index(["condition", "family", "code"])
    assert r.loc[("news", "main_behaviour", "reflection"), ["k", "n"]].tolist() == [2, 2]
    assert r.loc[("news", "act_process", "values"), ["k", "n"]].tolist() == [1, 2]
    assert r.loc[("no event", "main_behaviour", "question"), ["k", "n"]].tolist() == [3, 3]
    lo, hi = proportion_confint(1, 2, method="wilson")
    assert r.loc[
        ("news", "act_process", "values"), ["ci_low", "ci_high"]
    ].tolist() == pytest.approx([lo, hi])


def test_thinking_rule_on_lemmas():
    t = session_turns("a", {1: "fatigue", 3: "fatigue", 5: "fatigue"}, n_pos=6)
    thinking = {
        1: "Goal: values.",
        3: "The patient suddenly seems exhausted.",
        5: "Goal: explore values again.",
        7: "They want to stop.",
        9: "Energy is low; the patient is drained.",
        11: "[Thinking part is not generated with this prompt]",
    }  # placeholder: left out
    t["thinking"] = t["turn"].map(thinking).fillna("")
    per_event, summary = E.thinking_response(t, compute_thinking(t))
    assert per_event[["turn", "event", "next_turn", "cues"]].values.tolist() == [
        [2, "fatigue", 3, "exhausted,suddenly"],
        [6, "fatigue", 7, ""],
    ]
    row = summary.iloc[0]
    assert (row["k"], row["n"], row["k_base"], row["n_base"]) == (1, 2, 1, 3)
    # lemmas: "drains" / "draining" count as the cue "drain"
    assert E.refers(word_sets(["It keeps draining him."])[0], "fatigue", E.CUES) == "drain"


def test_analysis_imports_no_spacy():
    """analysis/ reads tables: no module in it imports spaCy (the thinking words are a measure)."""
    for path in Path(E.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n.split(".")[0] == "spacy" for n in names), path.name


def test_thinking_rule_skips_types_without_cues():
    t = session_turns("a", {1: "rupture"}, n_pos=3)
    t["thinking"] = t["turn"].map({1: "x", 3: "The patient suddenly shifted.", 5: "y"}).fillna("")
    per_event, summary = E.thinking_response(t, compute_thinking(t))
    assert per_event.empty and summary.empty


def test_explorer_shows_events_with_their_lines():
    row = {
        "speaker": "patient",
        "turn": 4,
        "markers": [],
        "codes": [],
        "text": "Okay.",
        "event": "confusion;fatigue",
        "event_text": "--- [x <b>] ---\n--- [y] ---",
    }
    html = render_turn(row)
    assert html.count('class="tt-event"') == 2
    assert 'data-event="confusion"' in html and "event: fatigue" in html
    assert "&lt;b&gt;" in html and "<b>" not in html  # event lines are escaped
    assert 'class="tt-event"' not in render_turn({**row, "event": ""})


def test_unknown_measure_names_the_numeric_columns():
    turns, emo = planted(1)
    emo = emo.assign(label="x")  # a text column is no measure
    with pytest.raises(ValueError, match=r"'arousal' is in none of the tables \['emotion'\]") as e:
        E.measure_table(turns, {"emotion": emo}, ["arousal"])
    assert str(e.value).endswith("include ['valence'] ...")
