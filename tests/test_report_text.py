"""Computed report text, metadata roles, session labels, figure pages and backchannels, on
hand-built inputs with values checked by hand."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from therapy_turns.analysis import sessions
from therapy_turns.analysis.stats import fit_mixedlm
from therapy_turns.io.transcripts import analyse_turn_text
from therapy_turns.measures import backchannels
from therapy_turns.report import narrate
from therapy_turns.viz import plots


def _turns(sid: str, speakers: str) -> pd.DataFrame:
    sp = {"p": "patient", "t": "therapist"}
    return pd.DataFrame({"session_id": sid, "turn": range(len(speakers)),
                         "speaker": [sp[c] for c in speakers]})


def test_turn_counts_sentence_is_computed_from_the_turns():
    turns = pd.concat([_turns("a", "ptpt"), _turns("b", "pptpt"), _turns("c", "tptp")])
    text = narrate.turn_counts(turns)
    assert text.startswith("3 sessions, 13 turns (4 to 5 per session (median 4))")
    assert "2 of 3 sessions alternate" in text
    assert "2 start with the patient, 1 with the therapist" in text


def test_trajectory_sentence_names_turns_and_segment_means():
    cps = pd.DataFrame({"session_id": ["s1", "s1", "s2"], "turn": [26, 44, 3],
                        "before": [2.86, 2.79, 3.0], "after": [2.79, 2.94, 3.1]})
    marks = pd.DataFrame({"session_id": ["s1"], "turn": [18]})
    text = narrate.trajectory(cps, "s1", marks, "valence")
    assert text == ("In session s1 the valence falls at turn 26 (2.86 → 2.79), then rises at "
                    "turn 44 (2.79 → 2.94); slow-down requests at turn 18.")


def test_trend_sentence_reports_the_table_it_describes():
    trends = pd.DataFrame({"session_id": ["a", "b"], "slope": [0.1, -0.2],
                           "ci_low": [-0.1, -0.3], "ci_high": [0.3, -0.1]})
    mixed = pd.DataFrame({"term": ["Intercept", "progress"], "estimate": [2.8, 0.048],
                          "ci_low": [2.7, 0.023], "ci_high": [2.9, 0.074], "p": [0, 0.0002],
                          "converged": [True, True]})
    change = pd.DataFrame({"session_id": ["a", "b", "all"], "change": [0.0, 0.1, 0.05],
                           "ci_low": [-0.1, 0.05, -0.01], "ci_high": [0.1, 0.2, 0.2]})
    text = narrate.trends(trends, mixed, change, "valence")
    assert "1 of 2 sessions have a slope whose 95% CI excludes zero (b −0.20)" in text
    assert "mixed-model slope is 0.048 (95% CI 0.023 to 0.074, p = 0.000, converged)" in text
    assert "1 of 2 sessions change beyond the bootstrap CI (b 0.10)" in text
    assert "spans zero" in text


def test_seed_note_only_on_the_seeds(tmp_path):
    assert narrate.seed_note("seeds", "03-trends").startswith("*On the seeds:*")
    assert narrate.seed_note(tmp_path, "03-trends") == ""
    with pytest.raises(KeyError):
        narrate.seed_note("seeds", "no-such-note")


def test_metadata_roles_by_type_and_levels():
    md = pd.DataFrame({"session_id": list("abcdef"), "arm": ["x", "y"] * 3,
                       "site": list("nnsswz"), "rating": [1, 2, 3, 4, 5, 3.5],
                       "notes": list("uvwxyz"), "one": ["k"] * 6})
    roles = sessions.metadata_roles(md)
    assert roles.factors == ["arm", "site"] and roles.outcomes == ["rating"]
    assert roles.skipped == {"notes": "a different value in every session",
                             "one": "1 distinct values (factors need 2–12)"}
    assert sessions.metadata_roles(md, ["site"], []).factors == ["site"]
    with pytest.raises(sessions.MetadataError, match="no column 'wai'"):
        sessions.metadata_roles(md, [], ["wai"])
    assert sessions.metadata_roles(md.drop(columns="rating")).outcomes == []


def test_holm_within_each_factor_and_bonferroni_for_top_contrasts():
    t = pd.DataFrame({"factor": ["f", "f", "g"], "measure": ["m1", "m2", "m1"],
                      "p": [0.01, 0.04, 0.01], "family": [1, 1, 1]})
    adj = sessions.family_adjust(t, "holm")
    assert adj.tolist() == pytest.approx([0.02, 0.04, 0.01])  # f: Holm over 2; g alone
    top = pd.DataFrame({"factor": ["h"] * 2, "measure": ["m1", "m1"], "p": [0.001, 0.01],
                        "family": [45, 45]})  # 10 levels: 45 pairs, 2 shown
    assert sessions.family_adjust(top).tolist() == pytest.approx([0.045, 0.45])


def test_many_level_factor_gets_omnibus_and_top_contrasts_only():
    rng = np.random.default_rng(0)
    levels = [f"L{i:02d}" for i in range(20)]
    d = pd.DataFrame({"g": np.repeat(levels, 3), "y": rng.normal(size=60)})
    d.loc[d.g == "L07", "y"] += 5
    out = sessions.compare_groups(d, ["y"], "g", max_levels=12, top=5)
    assert len(out) == 5 and (out["family"] == 190).all()
    assert out["omnibus_p"].iloc[0] < 1e-6
    assert ((out.group_a == "L07") | (out.group_b == "L07")).all()


def test_mixedlm_falls_back_through_optimisers_and_says_so(monkeypatch):
    class Model:
        def fit(self, reml, method):
            if method == ["bfgs"]:
                raise np.linalg.LinAlgError("Singular matrix")
            return type("R", (), {"converged": True})()

    monkeypatch.setattr("statsmodels.formula.api.mixedlm", lambda *a, **k: Model())
    res, used, converged, notes = fit_mixedlm("y ~ 1", pd.DataFrame({"session_id": ["s1"]}))
    assert used == "lbfgs" and converged and notes == ["bfgs: Singular matrix"]


def test_session_labels_are_unique_and_readable():
    ids = [f"annomi_{i:03d}_transcript" for i in range(133)]
    labels = plots.session_labels(ids)
    assert labels["annomi_007_transcript"] == "007" and len(set(labels.values())) == 133
    long = [f"client{c}_session_{n:02d}_long_name" for c in "AB" for n in range(3)]
    labels = plots.session_labels(long)
    assert len(set(labels.values())) == 6 and all(len(v) <= 16 for v in labels.values())
    assert plots.session_labels(["s1", "s2"]) == {"s1": "s1", "s2": "s2"}


def test_pages_are_saved_first_page_named_and_stale_pages_removed(tmp_path, monkeypatch):
    monkeypatch.delenv("THERAPY_TURNS_FIGURES", raising=False)
    import matplotlib.pyplot as plt

    figs = [plt.subplots(figsize=(2, 2))[0] for _ in range(3)]
    plots.save_fig(figs, "x", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"x-p0{k}.{e}" for k in (1, 2, 3)
                                                          for e in ("pdf", "png")]
    plots.save_fig(plt.subplots(figsize=(2, 2))[0], "x", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.pdf", "x.png"]


@pytest.mark.parametrize("text,expected", [
    ("Yeah.", True), ("Mm-hmm.", True), ("Okay, right.", True), ("No.", True), ("yes", True),
    ("Uh-huh, okay.", True), ("Yeah, mm-hmm, okay.", True), ("Mm-hmm, uh-huh, yeah.", True),
    ("Yeah mm hmm okay", False),
    ("Yeah, I think so.", False), ("I guess", False), ("Right. So what now?", False), ("", False),
])
def test_backchannels_by_list_and_length(text, expected):
    assert backchannels.is_backchannel(text) is expected


def test_backchannel_summary_counts_them():
    turns = pd.DataFrame({"speaker": ["patient"] * 4 + ["therapist"],
                          "text": ["Yeah.", "Yeah.", "I feel stuck at work.", "Mm-hmm", "Okay."]})
    s = backchannels.summary(turns)
    assert s.startswith("3 of 4 patient turns (75%) are backchannels")
    assert "“Yeah.”" in s and "left out" in s


def test_truncation_flag_not_tripped_by_a_bare_yeah():
    assert analyse_turn_text("Yeah", "patient")["truncated"] is False
    assert analyse_turn_text("I was going to say that the", "patient")["truncated"] is True


def test_roles_sentence_with_group_sizes():
    t = pd.DataFrame({"a": ["x", "y"] * 3, "b": list("ppqqqr"), "r": range(6)})
    assert narrate.roles(t, ["a", "b"], ["r"], {}) == (
        "Factors: `a` and `b`; outcomes: `r`. "
        "`a`: 2 levels, 3 sessions each; `b`: 3 levels, 1 to 3 sessions (median 2).")


def test_params_files_pass_no_seed_id_to_other_corpora():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    stems = [p.stem for p in (root / "seeds").glob("*.txt")]
    for params in (root / "params").glob("*.yaml"):
        text = params.read_text()
        body = "\n".join(line.split("#")[0] for line in text.splitlines())
        hits = [s for s in stems if re.search(rf"\b{s[:3]}", body)]
        assert not hits, f"{params.name} names seed sessions {hits}"


def test_model_fits_sentence_reports_warnings_and_boundary():
    rows = pd.DataFrame({
        "outcome": ["a", "a", "b", "c"], "term": ["Intercept", "x", "Intercept", "not fitted"],
        "converged": [True, True, False, False], "boundary": [True, True, False, False],
        "n_groups": [5, 5, 5, 1],
        "warnings": ["", "", "bfgs: failed to converge; lbfgs: failed to converge", "singular"]})
    text = narrate.model_fits(rows)
    assert text.startswith("2 of 3 models fitted, 1 converged (no convergence warning from the "
                           "optimiser used); 1 sit on the boundary")
    assert "not fitted: c" in text
    assert "statsmodels warned on the way for 1 of them" in text
    assert "lbfgs: failed to converge" in text


def test_metadata_match_sentence_names_both_sides():
    r = sessions.MetadataReport(4, 3, ["s9"], ["x1"], {"n_turns": "meta_n_turns"})
    assert narrate.metadata_match(r) == (
        "Metadata: 4 rows, 3 matched to a session. Sessions without metadata (kept, empty): s9. "
        "Metadata ids with no session (left out): x1. Renamed (clash with a summary column): "
        "`n_turns` → `meta_n_turns`."
    )
    assert narrate.metadata_match(sessions.MetadataReport(1, 1)) == (
        "Metadata: 1 row, 1 matched to a session."
    )
    assert narrate.metadata_match(sessions.MetadataReport()).startswith("No metadata")
