"""Dynamics on hand-computed synthetic series: smoothing, trajectories, trends, start-end change,
change points and Utterance Emotion Dynamics (expected values worked out by hand in comments)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from therapy_turns.analysis import dynamics as dy


def scores_table(series: dict[str, list[float]], speaker: str = "patient") -> pd.DataFrame:
    """A score table in which ``speaker`` speaks on even turns, the other speaker on odd ones."""
    rows = []
    for sid, vals in series.items():
        for k, v in enumerate(vals):
            rows.append({"session_id": sid, "turn": 2 * k, "speaker": speaker, "valence": v})
            rows.append(
                {"session_id": sid, "turn": 2 * k + 1, "speaker": "therapist", "valence": 0.0}
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- smoothing
def test_rolling_mean_is_centred_and_shrinks_at_ends() -> None:
    # window 3 on [0, 3, 6, 9]: (0+3)/2, (0+3+6)/3, (3+6+9)/3, (6+9)/2
    assert dy.smooth([0, 3, 6, 9], 3).tolist() == [1.5, 3.0, 6.0, 7.5]


def test_lowess_reproduces_a_line() -> None:
    x = np.arange(10) * 0.5 + 1
    assert dy.smooth(x, 5, "lowess") == pytest.approx(x)


def test_trajectory_positions_skip_other_speaker_and_excluded_turns() -> None:
    sc = scores_table({"a": [1.0, 2.0, 3.0, 4.0]})
    turns = sc[["session_id", "turn", "speaker"]].assign(
        text="x", generation_error=False, missing_answer=False
    )
    turns.loc[turns.turn == 2, "generation_error"] = True  # the patient's 2nd turn
    tr = dy.trajectory(sc, "valence", "patient", window=1, turns=turns)
    assert tr["turn"].tolist() == [0, 4, 6]
    assert tr["position"].tolist() == [0, 1, 2]
    assert tr["value"].tolist() == [1.0, 3.0, 4.0] == tr["smooth"].tolist()
    assert tr["progress"].tolist() == [0.0, 0.5, 1.0]


# --------------------------------------------------------------------------- trends
def test_session_ols_slope_by_hand() -> None:
    # x = 0..4, y = [1, 2, 2, 3, 5]: Sxy = 9, Sxx = 10 -> slope 0.9
    tr = dy.trajectory(scores_table({"a": [1, 2, 2, 3, 5]}), window=1)
    row = dy.session_trends(tr).iloc[0]
    assert row["slope"] == pytest.approx(0.9)
    assert row["ci_low"] < 0.9 < row["ci_high"]
    assert row["ci_high"] - 0.9 == pytest.approx(0.9 - row["ci_low"])


def test_mixed_trend_recovers_common_slope() -> None:
    # five sessions with slope 1 per unit progress, different intercepts, tiny alternating noise
    series = {
        f"s{j}": [j + p / 9 + (0.02 if p % 2 else -0.02) for p in range(10)] for j in range(5)
    }
    tr = dy.trajectory(scores_table(series), window=1)
    tab = dy.mixed_trend(tr, x="progress").set_index("term")
    assert tab.loc["progress", "estimate"] == pytest.approx(1.0, abs=0.05)
    assert tab.loc["progress", "ci_low"] < 1.0 < tab.loc["progress", "ci_high"]
    assert tab["n_groups"].iloc[0] == 5 and tab["n_obs"].iloc[0] == 50
    with pytest.raises(ValueError):
        dy.mixed_trend(tr[tr.session_id == "s0"])


def test_start_end_change_exact_and_pooled() -> None:
    # n = 8, frac 0.25 -> k = 2; a: first [0, 0], last [5, 5] -> change 5, every resample 5
    tr = dy.trajectory(
        scores_table({"a": [0, 0, 1, 1, 1, 1, 5, 5], "b": [1, 1, 2, 2, 2, 2, 4, 4]}), window=1
    )
    out = dy.start_end_change(tr, frac=0.25, n_boot=200).set_index("session_id")
    assert out.loc["a", "k"] == 2
    assert out.loc["a", ["start", "end", "change", "ci_low", "ci_high"]].tolist() == [0, 5, 5, 5, 5]
    assert out.loc["b", "change"] == 3
    assert out.loc["all", "change"] == 4  # mean of 5 and 3
    assert 3 <= out.loc["all", "ci_low"] <= out.loc["all", "ci_high"] <= 5


# --------------------------------------------------------------------------- change points
def test_change_point_on_step_series() -> None:
    wiggle = [0.1, -0.1] * 5
    step = [w for w in wiggle] + [5 + w for w in wiggle]
    assert dy.change_points(step, "l2", penalty=3) == [10]
    two = wiggle + [3 + w for w in wiggle] + wiggle
    assert dy.change_points(two, "l2", penalty=3) == [10, 20]
    assert dy.change_points([1.0] * 20) == []
    assert dy.change_points([0, 5, 0], min_size=3) == []  # too short


def test_session_change_points_report_turns_and_segment_means() -> None:
    wiggle = [0.1, -0.1] * 4
    tr = dy.trajectory(scores_table({"a": wiggle + [4 + w for w in wiggle]}), window=1)
    cp = dy.session_change_points(tr, penalty=3)
    assert cp[["position", "turn"]].values.tolist() == [[8, 16]]  # patient turns are even
    assert cp["before"].iloc[0] == pytest.approx(0) and cp["after"].iloc[0] == pytest.approx(4)


# --------------------------------------------------------------------------- UED
def test_ued_hand_computed_series() -> None:
    # x = [0,0,0,0,8,12,10,0,0,0]: mean 3; squared deviations 7*9 + 25 + 81 + 49 = 218
    # sd = sqrt(218/9); band [3 - sd, 3 + sd] = [-1.92, 7.92]; points 4..6 above -> one run.
    # peak at 5 (|12-3| = 9): peak distance 9 - sd; rise: 2 turns (4, 5); recovery: 2 turns (6,
    # then 7 back home). Successive differences 0,0,0,8,4,-2,-10,0,0: RMSSD sqrt(184/9).
    x = [0, 0, 0, 0, 8, 12, 10, 0, 0, 0]
    sd = math.sqrt(218 / 9)
    u = dy.ued(x)
    assert u["home_mean"] == pytest.approx(3)
    assert (u["home_low"], u["home_high"]) == pytest.approx((3 - sd, 3 + sd))
    assert u["variability_sd"] == pytest.approx(sd)
    assert u["rmssd"] == pytest.approx(math.sqrt(184 / 9))
    assert u["n_displacements"] == 1 and u["displaced_share"] == pytest.approx(0.3)
    assert u["peak_distance"] == pytest.approx(9 - sd)
    assert u["rise_rate"] == pytest.approx((9 - sd) / 2)
    assert u["recovery_rate"] == pytest.approx((9 - sd) / 2)
    (d,) = dy.displacements(x).itertuples()
    assert (d.start, d.end, d.side, d.peak) == (4, 6, 1, 5)


def test_ued_below_side_short_runs_and_unrecovered() -> None:
    neg = dy.displacements([-v for v in [0, 0, 0, 0, 8, 12, 10, 0, 0, 0]])
    assert [(d.start, d.end, d.side, d.peak) for d in neg.itertuples()] == [(4, 6, -1, 5)]
    # a run of two outside the band is no displacement (mean 2, sd sqrt(160/9) = 4.22)
    assert dy.displacements([0] * 8 + [10, 10]).empty
    # a run that lasts to the end never recovers: mean 3, sd sqrt(210/9), peak at 7 (first max)
    (d,) = dy.displacements([0] * 7 + [10, 10, 10]).itertuples()
    sd = math.sqrt(210 / 9)
    assert (d.start, d.end, d.peak) == (7, 9, 7)
    assert d.rise_rate == pytest.approx(7 - sd) and math.isnan(d.recovery_rate)
    assert math.isnan(dy.ued([0] * 7 + [10, 10, 10])["recovery_rate"])


def test_ued_table_one_row_per_session_and_speaker() -> None:
    sc = scores_table({"a": [0, 0, 0, 0, 8, 12, 10, 0, 0, 0], "b": [1, 2, 3]})
    tab = dy.ued_table(dy.trajectory(sc, speaker=None, window=1))
    assert tab[["session_id", "speaker"]].values.tolist() == [
        ["a", "patient"],
        ["a", "therapist"],
        ["b", "patient"],
        ["b", "therapist"],
    ]
    assert tab.set_index(["session_id", "speaker"]).loc[("b", "patient"), "variability_sd"] == 1
    assert tab.set_index(["session_id", "speaker"]).loc[("a", "therapist"), "rmssd"] == 0


def test_phase_composition_thirds() -> None:
    sc = scores_table({"a": [1, 1, 2, 2, 3, 3]}).rename(columns={"valence": "nrc_joy"})
    out = dy.phase_composition(sc, ["nrc_joy"])
    assert out["phase"].astype(str).tolist() == ["beginning", "middle", "end"]
    assert out["mean"].tolist() == [1, 2, 3] and out["n_turns"].tolist() == [2, 2, 2]


def test_select_session_prefix_marks_and_fallback() -> None:
    tr = dy.trajectory(scores_table({"001_x": [1, 2, 3], "002_y": [1, 2, 3]}), window=1)
    marks = pd.DataFrame({"session_id": ["002_y", "002_y", "001_x"], "turn": [0, 2, 0]})
    assert dy.select_session(tr, "001") == "001_x"
    assert dy.select_session(tr, "", marks) == "002_y"
    assert dy.select_session(tr, "999", marks) == "002_y"  # unknown id: most marks
    assert dy.select_session(tr, "") == "001_x"
    with pytest.raises(ValueError):
        dy.select_session(tr, "00")
