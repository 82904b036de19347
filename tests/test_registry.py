"""The measure registry end to end: a toy measure added the way docs/architecture.md shows is
computed by ``analyze`` (serial and worker processes), has its CLI command, reaches the sessions
table and the manifest; one definition per concept (schema); paths relative to the current
folder."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pandas as pd
import pytest

from therapy_turns import cli, pipeline, schema
from therapy_turns.analysis import sessions
from therapy_turns.io.transcripts import load_corpus
from therapy_turns.measures import emotion, registry
from therapy_turns.measures.registry import Column, Measure, register
from therapy_turns.nlp import load_pipeline
from therapy_turns.paths import project_root

ROOT = Path(__file__).resolve().parents[1]
TEXT = ("Patient: I don't know! It's well-known, isn't it? 3.5 hours!\n\n"
        "Therapist: What brings you here today? Tell me more!\n\n"
        "Patient: Work. Everything is a mess!\n\n"
        "Therapist: So work feels like a mess right now.\n")


# --------------------------------------------------------------------------- the toy measure
def compute_toy(turns: pd.DataFrame, docs) -> pd.DataFrame:
    """Exclamation marks per turn; question marks on therapist turns only."""
    ther = (turns["speaker"] == "therapist").to_numpy()
    return turns[schema.KEYS].reset_index(drop=True).assign(
        n_exclaims=[sum(t.text == "!" for t in d) for d in docs],
        asks=[float(sum(t.text == "?" for t in d)) if th else math.nan
              for d, th in zip(docs, ther, strict=True)])


TOY = Measure("toy", compute_toy, "exclamation and question marks", (
    Column("n_exclaims", "exclamation marks", "count"),
    Column("asks", "question marks", "count", speakers=("therapist",))))


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # restored afterwards
    return register(TOY)


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "s1.txt").write_text(TEXT)
    (d / "s2.csv").write_text("session_id,speaker,text\nx9,client,Help!\nx9,counselor,How?\n")
    return d


# --------------------------------------------------------------------------- end to end
@pytest.mark.parametrize("workers", [1, 2])
def test_toy_measure_in_analyze_manifest_and_sessions(toy, corpus: Path, tmp_path: Path,
                                                      workers: int) -> None:
    out = tmp_path / "build"
    assert cli.main(["analyze", str(corpus), "--out", str(out), "--quiet",
                     "--workers", str(workers), "--chunk-sessions", "1"]) == 0
    table = pipeline.read_table("toy", out)
    assert table.n_exclaims.tolist() == [2, 1, 1, 0, 1, 0]  # s1 (4 turns), then x9
    m = json.loads((out / "manifest.json").read_text())
    assert m["tables"] == sorted([*registry.names(), "sessions", "turns"])
    assert "toy" in m["tables"]
    cols = m["parameters"]["measures"]["toy"]["columns"]
    assert cols["asks"] == {"meaning": "question marks", "unit": "count",
                            "speakers": ["therapist"]}
    s = pipeline.read_table("sessions", out).set_index("session_id")
    assert s.loc["s1", "toy__n_exclaims__patient"] == 1.5  # (2 + 1) / 2 patient turns
    assert s.loc["s1", "toy__n_exclaims__therapist"] == 0.5
    assert s.loc["x9", "toy__asks__therapist"] == 1.0
    assert "toy__asks__patient" not in s  # a therapist-only column: no all-NaN patient column


def test_toy_measure_cli_commands(toy, corpus: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert cli.main(["toy", str(corpus / "s1.txt"), "--out", str(a), "--quiet"]) == 0
    assert cli.main(["table", "toy", str(corpus / "s1.txt"), "--out", str(b), "--quiet"]) == 0
    got = pd.read_csv(a)
    assert list(got.columns) == TOY.column_names()
    assert got.n_exclaims.tolist() == [2, 1, 1, 0]
    pd.testing.assert_frame_equal(got, pd.read_csv(b))
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["toy"].format_help()
    assert "asks: question marks [count] (therapist only)" in help_text


def test_builtin_measures_declare_exactly_their_columns(corpus: Path) -> None:
    turns = load_corpus(corpus).turns
    docs = pipeline.parse_turns(turns)
    for name, m in registry.measures().items():
        table = m.compute(turns, docs)
        assert list(table.columns) == m.column_names(), name
        for c in m.columns:  # a column that does not apply to a speaker is empty there
            for sp in set(schema.SPEAKERS) - set(c.speakers):
                assert table.loc[table.speaker == sp, c.name].isna().all(), (name, c.name)
    summary = sessions.summarise_sessions(turns, {n: m.compute(turns, docs) for n, m in
                                                  registry.measures().items()})
    assert "features__lsm__patient" not in summary and "features__lsm__therapist" in summary
    assert "features__reflect_overlap__patient" not in summary
    assert not [c for c in summary if "emotion__n_words" in c or "fw_negate" in c]
    meta = pd.DataFrame({"session_id": summary.session_id, "arm": "a"})
    with warnings.catch_warnings():  # a fragmented frame: pandas warned on every analyze
        warnings.simplefilter("error")
        assert sessions.join_metadata(summary, meta)[0].arm.eq("a").all()


# --------------------------------------------------------------------------- one definition each
def test_one_word_definition(corpus: Path) -> None:
    turns = load_corpus(corpus).turns
    docs = pipeline.parse_turns(turns)
    feats = registry.get("features").compute(turns, docs)
    counted = [schema.count_words(t) for t in turns.text]
    assert counted == feats.n_words.tolist()  # the tokenizer alone gives the pipeline's words
    assert counted[0] == 10  # I do know It well known is it 3.5 hours ('s n't - ? ! . dropped)
    # the emotion scores weight sentences and divide NRC hits by the same words
    assert [emotion.span_unit(d).n for d in docs] == counted
    s = sessions.summarise_sessions(turns, {"features": feats}).set_index("session_id")
    assert s.loc["s1", "patient_words"] == counted[0] + counted[2]
    assert schema.is_clitic("n’t") and schema.is_clitic("'S") and not schema.is_clitic("nt")


def test_content_lemmas_one_definition() -> None:
    doc = load_pipeline()("I am running to the big old houses of my friends, Bob, and we go.")
    want = schema.content_lemmas(doc)
    assert want == {"run", "big", "old", "house", "friend", "bob"}  # "go": 2 characters


# --------------------------------------------------------------------------- paths
def test_analyze_resolves_relative_paths_against_the_current_folder(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    work = tmp_path / "elsewhere"
    work.mkdir()
    (work / "meta.csv").write_text("session_id,group\ns1,a\nx9,b\n")
    monkeypatch.chdir(work)
    before = sorted(p.name for p in project_root().iterdir())
    rel_corpus = Path("..") / "corpus"
    assert cli.main(["analyze", str(rel_corpus), "--out", "out", "--metadata", "meta.csv",
                     "--quiet"]) == 0
    assert (work / "out" / "manifest.json").is_file()
    assert sorted(p.name for p in project_root().iterdir()) == before  # nothing in the checkout
    s = pipeline.read_table("sessions", work / "out")
    assert s.group.tolist() == ["a", "b"]
    assert cli.main(["analyze", "nowhere", "--out", "out2", "--quiet"]) == 2
    assert cli.main(["analyze", str(rel_corpus), "--out", "out3", "--metadata", "no.csv",
                     "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no.csv: no such file" in err and "Traceback" not in err
    assert not (work / "out3" / "manifest.json").exists()
