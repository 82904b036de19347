"""train-coder: grouped CV on a small hand-coded table, the model file, noise labels, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from therapy_turns import cli
from therapy_turns.measures import coder as cd

QUESTIONS = ["What brings you in today?", "How has the week been?", "Do you drink every day?",
             "What would you like to change?", "How do you feel about that?",
             "Is that something you want?", "When did you last smoke?", "What worries you most?"]
REFLECTIONS = ["So the evenings are the hardest part.", "You're worried about your health.",
               "It sounds like you feel stuck.", "Part of you wants to stop.",
               "You've been trying really hard.", "The money is what bothers you.",
               "You feel nobody listens.", "So it helps you unwind."]


def table(n_sessions: int = 6) -> pd.DataFrame:
    """Hand-coded table: questions end in '?', reflections are statements; 8 turns a session."""
    rows = []
    for s in range(n_sessions):
        for i in range(4):
            q = QUESTIONS[(s + i) % len(QUESTIONS)]
            r = REFLECTIONS[(s + 2 * i) % len(REFLECTIONS)]
            rows += [{"session_id": f"s{s}", "text": q, "code": "question"},
                     {"session_id": f"s{s}", "text": r, "code": "reflection"}]
    return pd.DataFrame(rows)


def test_grouped_cv_learns_a_separable_code() -> None:
    model, cv = cd.train(table(), "code", rules="none")
    assert cv.folds == 5
    assert cv.kappa > 0.9 and cv.macro_f1 > 0.9
    assert int(cv.confusion.to_numpy().sum()) == 48
    assert set(model.predict(["How is your sleep?", "You feel tired."])) == {"question",
                                                                                "reflection"}


def test_groups_never_split_across_folds() -> None:
    # each session has its own made-up word and one code: a fold that saw the session would
    # code it perfectly (row-wise CV gives kappa 1); kept out, its word is unseen -> chance
    rng = np.random.default_rng(3)
    letters = np.array(list("bcdfghjklmnpqrstvwxz"))
    words = ["".join(rng.choice(letters, 7)) for _ in range(10)]
    df = pd.DataFrame({"session_id": np.repeat([f"s{i}" for i in range(10)], 6),
                       "text": np.repeat(words, 6),
                       "code": np.repeat(["a", "b"] * 5, 6)})
    _, cv = cd.train(df, "code", rules="none")
    assert cv.folds == 5 and len(cv.predictions) == 60
    assert cv.kappa < 0.3


def test_noise_labels_score_at_chance() -> None:
    rng = np.random.default_rng(7)
    df = pd.concat([table(10)] * 2, ignore_index=True)
    df["noise"] = rng.choice(["x", "y"], size=len(df))
    _, cv = cd.train(df, "noise", rules="none")
    assert abs(cv.kappa) < 0.2
    assert 0.3 < cv.macro_f1 < 0.65


def test_model_file_round_trips_and_detects_damage(tmp_path: Path) -> None:
    src = tmp_path / "coded.csv"
    table().to_csv(src, index=False)
    model, _ = cd.train_file(src, "code", tmp_path / "m", rules="none")
    raw = (tmp_path / "m" / "coder.pkl").read_bytes()
    assert raw.startswith(b"therapy-turns-coder 1\n")
    summary = json.loads((tmp_path / "m" / "summary.json").read_text())
    assert summary["label"] == "code" and summary["n_sessions"] == 6
    assert summary["cv"]["folds"] == 5 and set(summary["classes"]) == {"question", "reflection"}
    again = cd.load_model(tmp_path / "m")
    texts = ["What happened next?", "So you felt let down.", "How often?"]
    assert list(again.predict(texts)) == list(model.predict(texts))
    damaged = bytearray(raw)
    damaged[-20] ^= 0xFF
    (tmp_path / "m" / "coder.pkl").write_bytes(bytes(damaged))
    with pytest.raises(cd.CoderError, match="checksum"):
        cd.load_model(tmp_path / "m")
    (tmp_path / "m" / "coder.pkl").write_bytes(b"hello\n")
    with pytest.raises(cd.CoderError, match="line 1"):
        cd.load_model(tmp_path / "m")


@pytest.mark.parametrize("frame, args, message", [
    (table(), ["--label", "nope"], "unknown label column 'nope'"),
    (table().assign(code="question"), ["--label", "code"], "single class (question)"),
    (table(2), ["--label", "code"], "2 sessions in column 'session_id'"),
    (table(), ["--label", "code", "--text-column", "utterance"], "unknown text column"),
    (table(), ["--label", "code", "--group", "sid"], "unknown group column 'sid'"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      frame: pd.DataFrame, args: list[str], message: str) -> None:
    src = tmp_path / "coded.csv"
    frame.to_csv(src, index=False)
    rc = cli.main(["train-coder", str(src), "--out", str(tmp_path / "m"), "--rules", "none",
                   *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and message in err and str(src) in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "m").exists()


def test_missing_file_and_jsonl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["train-coder", str(tmp_path / "none.csv"), "--label", "code",
                     "--out", str(tmp_path / "m")]) == 2
    assert "no such file" in capsys.readouterr().err
    src = tmp_path / "coded.jsonl"
    table().to_json(src, orient="records", lines=True)
    assert cli.main(["train-coder", str(src), "--label", "code", "--out", str(tmp_path / "m"),
                     "--rules", "none"]) == 0
    out = capsys.readouterr().out
    assert "5-fold GroupKFold (session)" in out and "kappa" in out and "confusion" in out


def test_unlabelled_rows_are_left_out_and_contexts_come_from_the_turn_table(
        tmp_path: Path) -> None:
    turns = pd.DataFrame({"session_id": ["a"] * 4, "turn": [0, 1, 2, 3],
                          "speaker": ["patient", "therapist", "patient", "therapist"],
                          "text": ["I drink.", "You drink.", "Every day.", "Every day?"],
                          "code": ["", "reflection", "", "question"]})
    src = tmp_path / "t.csv"
    turns.to_csv(src, index=False)
    df = cd.read_coded(src, "code")
    assert list(df.text) == ["You drink.", "Every day?"]
    assert list(df._context) == ["I drink.", "Every day."]


def test_technique_model_replaces_main_behaviour(tmp_path: Path) -> None:
    from therapy_turns.nlp import load_pipeline

    df = table()
    model, _ = cd.train(df, "code", rules="therapist")
    cd.save_model(model, tmp_path / "m")
    func = cd.TechniqueModel(tmp_path / "m")
    assert func.fingerprint.endswith(model.summary["payload_sha256"])
    turns = pd.DataFrame({"session_id": ["x"] * 4, "turn": [0, 1, 2, 3],
                          "speaker": ["patient", "therapist", "patient", "therapist"],
                          "text": ["I can't sleep.", "How long has that been going on?",
                                   "Months.", "So it's been months of this."]})
    nlp = load_pipeline()
    out = func(turns, [nlp(t) for t in turns.text])
    assert list(out.main_behaviour) == ["question", "reflection"]
    assert "main_behaviour_rules" in out.columns
    client = df.assign(code=np.where(df.code == "question", "change", "neutral"))
    m2, _ = cd.train(client, "code", rules="none")
    cd.save_model(m2, tmp_path / "c")
    with pytest.raises(cd.CoderError, match="not a main-behaviour coder"):
        cd.TechniqueModel(tmp_path / "c")


def test_technique_methods_names_the_coder_and_refuses_a_mismatch(tmp_path: Path) -> None:
    model, cv = cd.train(table(), "code", rules="none")
    cd.save_model(model, tmp_path / "m")
    sha = model.summary["payload_sha256"]
    rules_text = cd.technique_methods({"parameters": {"technique_model": None}})
    assert "rule-based coder" in rules_text
    built = {"parameters": {"technique_model": {"path": str(tmp_path / "m"), "sha256": sha}}}
    text = cd.technique_methods(built, tmp_path / "m")
    assert f"κ = {cv.kappa:.2f}" in text and sha[:12] in text and "48 coded turns" in text
    with pytest.raises(cd.CoderError, match="rule coder was asked for"):
        cd.technique_methods(built, "")
    with pytest.raises(cd.CoderError, match="built with the rule coder"):
        cd.technique_methods({"parameters": {}}, tmp_path / "m")
    wrong = {"parameters": {"technique_model": {"path": str(tmp_path / "m"), "sha256": "0" * 64}}}
    with pytest.raises(cd.CoderError, match="not the model the tables were built with"):
        cd.technique_methods(wrong, tmp_path / "m")
    assert cd.payload_sha256(tmp_path / "m") == sha
    assert cd.payload_sha256(tmp_path / "nothing") is None


def test_analyze_with_a_technique_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    from therapy_turns import pipeline

    model, _ = cd.train(table(), "code", rules="therapist")
    cd.save_model(model, tmp_path / "m")
    corpus = tmp_path / "c.csv"
    pd.DataFrame({"session_id": ["x"] * 4, "speaker": ["Client", "Counsellor"] * 2,
                  "text": ["I can't sleep.", "How long has that been going on?", "Months.",
                           "So it's been months of this."]}).to_csv(corpus, index=False)
    manifest = pipeline.build_tables(corpus, tmp_path / "b", progress=False,
                                     technique_model=tmp_path / "m")
    info = manifest["parameters"]["technique_model"]
    assert info["sha256"] == model.summary["payload_sha256"]
    assert manifest["parameters"]["measures"]["techniques"]["compute"].endswith(
        info["sha256"])
    tech = pipeline.read_table("techniques", tmp_path / "b")
    assert list(tech.main_behaviour) == ["question", "reflection"]
    assert "main_behaviour_rules" in tech.columns
    assert {"techniques__mi_reflection_rate", "techniques__mi_change_talk_share"} <= set(
        pipeline.read_table("sessions", tmp_path / "b").columns)
    client = pipeline.read_table("client", tmp_path / "b")
    assert client.client_talk.tolist() == ["neutral", "neutral"]
    # a bad model path is one line, exit 2, for analyze and techniques
    for cmd in ("analyze", "techniques"):
        rc = cli.main([cmd, str(corpus), "--out", str(tmp_path / f"o-{cmd}.csv"), "--quiet",
                       "--technique-model", str(tmp_path / "none")])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "no model file" in err and len(err.splitlines()) == 1


def test_the_same_command_trains_a_client_coder() -> None:
    said = {"change": ["I want to quit.", "I've cut down a lot.", "I'm going to stop."],
            "sustain": ["I like a drink.", "It calms me down.", "I can't stop."],
            "neutral": ["Yeah.", "On Tuesday.", "Mm-hm."]}
    rows = [{"session_id": f"s{s}", "text": t, "code": c}
            for s in range(4) for c, ts in said.items() for t in ts]
    model, cv = cd.train(pd.DataFrame(rows), "code")
    assert model.rules == "client" and "rule__change_talk" in model.summary["rule_columns"]
    assert cv.folds == 4 and cv.kappa > 0.8
    assert list(model.predict(["I want to quit.", "Yeah."])) == ["change", "neutral"]
