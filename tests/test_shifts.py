"""Shift analyses on synthetic sequences whose structure is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from therapy_turns.analysis import shifts


def codes_from(seqs: dict[str, list[str]]) -> pd.DataFrame:
    rows = [
        {"session_id": s, "turn": 2 * i + 1, "main_behaviour": c}
        for s, seq in seqs.items()
        for i, c in enumerate(seq)
    ]
    return pd.DataFrame(rows)


def test_transition_counts_by_hand() -> None:
    c = codes_from({"a": ["q", "r", "q", "q"], "b": ["r", "q"]})
    m = shifts.permutation_test(c, n_perm=10).observed
    # a: q->r, r->q, q->q ; b: r->q  (no transition across sessions)
    assert m.loc["q", "r"] == 1 and m.loc["r", "q"] == 2 and m.loc["q", "q"] == 1
    assert m.loc["r", "r"] == 0 and int(m.values.sum()) == 4
    p = shifts.row_normalise(m)
    assert p.loc["q", "q"] == pytest.approx(0.5) and p.loc["r", "q"] == pytest.approx(1.0)


def test_permutation_detects_alternation() -> None:
    # strictly alternating sessions: far fewer self-transitions than shuffles give
    c = codes_from({f"s{i}": ["q", "i"] * 10 for i in range(4)})
    res = shifts.permutation_test(c, n_perm=300, seed=1)
    assert res.p_value < 0.01
    assert res.observed.loc["q", "q"] == 0 and res.null_mean.loc["q", "q"] > 3
    assert res.p_cell.loc["q", "q"] < 0.01


def test_permutation_null_for_random_sequence() -> None:
    rng = np.random.default_rng(7)
    c = codes_from({f"s{i}": list(rng.choice(["q", "r", "i"], size=30)) for i in range(5)})
    res = shifts.permutation_test(c, n_perm=300, seed=2)
    assert res.p_value > 0.05
    again = shifts.permutation_test(c, n_perm=300, seed=2)
    assert again.p_value == res.p_value  # reproducible


def test_entropy_and_window() -> None:
    c = codes_from({"a": ["q", "q", "r", "r"]})
    w = shifts.windowed_entropy(c, window=2)
    assert np.isnan(w.entropy.iloc[0])
    assert w.entropy.iloc[1:].tolist() == pytest.approx([0.0, 1.0, 0.0])
    four = shifts.windowed_entropy(codes_from({"a": ["a", "a", "a", "b", "c", "d"]}), window=3)
    assert four.entropy.iloc[2] == 0.0 and four.entropy.iloc[5] == pytest.approx(np.log2(3))


def test_run_lengths_and_perseveration() -> None:
    c = codes_from({"a": ["x", "x", "x", "y", "x"]})  # therapist turns 1,3,5,7,9
    patient = pd.DataFrame(
        {"session_id": "a", "turn": [0, 2, 4, 6, 8], "marker_slow_down": [1, 1, 0, 1, 1]}
    )
    runs = shifts.perseveration(c, patient, "marker_slow_down", "main_behaviour", 1)
    assert runs[["code", "start_turn", "end_turn", "length"]].values.tolist() == [
        ["x", 1, 5, 3],
        ["y", 7, 7, 1],
        ["x", 9, 9, 1],
    ]
    p = shifts.perseveration(c, patient, "marker_slow_down", "main_behaviour", 3)
    assert p[["start_turn", "length", "n_marked_patient_turns"]].values.tolist() == [[1, 3, 1]]


def test_responsiveness_by_hand() -> None:
    turns = pd.DataFrame(
        {"session_id": "a", "turn": range(8), "speaker": ["patient", "therapist"] * 4}
    )
    codes = pd.DataFrame(
        {"session_id": "a", "turn": [1, 3, 5, 7], "main_behaviour": ["q", "i", "i", "q"]}
    )
    patient = pd.DataFrame({"session_id": "a", "turn": [0, 2, 4, 6], "m": [0, 1, 1, 0]})
    r = shifts.responsiveness(codes, turns, patient, "m").set_index(["condition", "code"])
    assert r.loc[("after_marker", "i"), "share"] == 1.0
    assert r.loc[("otherwise", "q"), "k"] == 2 and r.loc[("otherwise", "q"), "n"] == 2
    lo, hi = r.loc[("after_marker", "i"), ["ci_low", "ci_high"]]
    assert 0 < lo < 1 and hi == pytest.approx(1.0)


def test_change_points_find_a_switch() -> None:
    c = codes_from({"a": ["q"] * 8 + ["i"] * 8})
    c["is_q"] = (c.main_behaviour == "q").astype(int)
    c["is_i"] = 1 - c["is_q"]
    cp = shifts.technique_change_points(c, ["is_q", "is_i"], penalty=1.0)
    assert cp.turn.tolist() == [17]  # 9th therapist turn (turn 2*8+1)


def synthetic_coupling(
    effect: float, n_sessions: int = 12, n_ex: int = 20, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    trows, crows, erows = [], [], []
    for s in range(n_sessions):
        sid, v, base = f"s{s:02d}", 0.0, rng.normal(0, 0.3)
        for k in range(n_ex):
            tp, tt = 2 * k, 2 * k + 1
            trows += [
                {"session_id": sid, "turn": tp, "speaker": "patient"},
                {"session_id": sid, "turn": tt, "speaker": "therapist"},
            ]
            erows.append({"session_id": sid, "turn": tp, "valence": v})
            a = int(rng.random() < 0.5)
            crows.append(
                {"session_id": sid, "turn": tt, "act_x": a, "act_noise": int(rng.random() < 0.5)}
            )
            v = base + 0.3 * v + effect * a + rng.normal(0, 0.2)
    return pd.DataFrame(crows), pd.DataFrame(trows), pd.DataFrame(erows)


def test_coupling_recovers_a_known_effect() -> None:
    codes, turns, emo = synthetic_coupling(effect=0.5)
    d = shifts.coupling_data(codes, turns, emo, ["act_x", "act_noise"], "valence")
    assert len(d) == 12 * 19  # the last therapist turn of each session has no patient turn after
    row = d.iloc[0]
    assert row.delta == pytest.approx(row.after - row.prior)
    res = shifts.coupling_model(d, ["act_x", "act_noise"]).set_index("code")
    assert res.loc["act_x", "ci_low"] < 0.5 < res.loc["act_x", "ci_high"]
    assert res.loc["act_x", "p_adj"] < 0.001
    assert res.loc["act_noise", "p_adj"] > 0.05
    assert (res["p_adj"] >= res["p"]).all()


def test_coupling_skips_rare_codes() -> None:
    codes, turns, emo = synthetic_coupling(effect=0.0, n_sessions=3, n_ex=6)
    codes["act_rare"] = 0
    d = shifts.coupling_data(codes, turns, emo, ["act_x", "act_rare"], "valence")
    res = shifts.coupling_model(d, ["act_x", "act_rare"], min_count=3).set_index("code")
    assert np.isnan(res.loc["act_rare", "estimate"]) and "skipped" in res.loc["act_rare", "note"]
