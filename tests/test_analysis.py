"""The analysis step: streaming chunks, partitioned tables, manifest, cache, executors, sessions,
metadata. Measures are small fakes defined here (monkeypatched into the measure registry; their
functions are module-level, so worker processes can import them too).

The Dask test (``test_dask_local_cluster_matches_serial``, marker ``dask``: ``-m dask``) starts a
two-worker LocalCluster: the slowest test here (~10 s).
"""

from __future__ import annotations

import gc
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from therapy_turns import cli, pipeline, store
from therapy_turns.analysis import sessions, shifts
from therapy_turns.io.transcripts import corpus_checksum, iter_chunks, load_corpus, session_parts
from therapy_turns.measures import registry
from therapy_turns.measures.registry import Column, Measure, speaker_means
from therapy_turns.measures.techniques import behaviour_entropy, code_rates

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_METADATA = ROOT / "tests" / "data" / "seed_metadata.csv"


def fake_features(turns: pd.DataFrame, docs) -> pd.DataFrame:
    """Per turn: whether the Doc is the turn's text (alignment), tokens, nouns."""
    return pd.DataFrame({
        "session_id": turns.session_id.to_numpy(), "turn": turns.turn.to_numpy(),
        "speaker": turns.speaker.to_numpy(),
        "aligned": [d.text == t for d, t in zip(docs, turns.text, strict=True)],
        "n_tokens": [len(d) for d in docs],
        "n_nouns": [sum(tok.pos_ == "NOUN" for tok in d) for d in docs],
    })


def fake_techniques(turns: pd.DataFrame, docs) -> pd.DataFrame:
    """Per therapist turn: asks a question (a '?' token), and a primary code from it."""
    ther = turns.speaker.to_numpy() == "therapist"
    q = [any(tok.text == "?" for tok in d) for d, keep in zip(docs, ther, strict=True) if keep]
    return pd.DataFrame({
        "session_id": turns.session_id[ther].to_numpy(), "turn": turns.turn[ther].to_numpy(),
        "speaker": "therapist", "question": q,
        "main_behaviour": ["question" if x else "statement" for x in q],
    })


FAKE = {
    "features": Measure("features", fake_features, "fake features", (
        Column("aligned", "the Doc is the turn's text", "bool"),
        Column("n_tokens", "tokens", "count"), Column("n_nouns", "nouns", "count"))),
    "techniques": Measure("techniques", fake_techniques, "fake codes", (
        Column("question", "a '?' token", "bool", ("therapist",)),
        Column("main_behaviour", "question or statement", "code", ("therapist",))),
        aggregates=(speaker_means, code_rates, behaviour_entropy)),
}


def fake_redact(turns: pd.DataFrame) -> pd.DataFrame:
    """Stands in for redact_turns: replaces the word 'Hello' everywhere."""
    out = turns.copy()
    for c in ("text", "raw_text"):
        out[c] = out[c].str.replace("Hello", "[PERSON_1]")
    return out


@pytest.fixture
def fake_funcs(monkeypatch: pytest.MonkeyPatch) -> dict[str, Measure]:
    monkeypatch.setattr(registry, "_REGISTRY", dict(FAKE))
    return FAKE


@pytest.fixture(scope="module")
def seed_turns() -> pd.DataFrame:
    return load_corpus(SEEDS).turns


@pytest.fixture(scope="module")
def serial_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One serial build of the seeds with the fakes, chunks of 2 sessions (3 partitions)."""
    out = tmp_path_factory.mktemp("serial")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "_REGISTRY", dict(FAKE))
        pipeline.build_tables(SEEDS, out, list(FAKE), progress=False, chunk_sessions=2,
                              metadata=SEED_METADATA)
    return out


def _tables(out: Path) -> dict[str, pd.DataFrame]:
    return {n: pipeline.read_table(n, out) for n in ("turns", *FAKE, "sessions")}


# --------------------------------------------------------------------------- streaming
def test_sessions_one_by_one_match_load_corpus(seed_turns: pd.DataFrame) -> None:
    streamed = pd.concat(list(iter_chunks(session_parts(SEEDS), 1)), ignore_index=True)
    pd.testing.assert_frame_equal(streamed, seed_turns)
    chunks = list(iter_chunks(session_parts(SEEDS), 2))
    assert [c.session_id.nunique() for c in chunks] == [2, 2, 1]


def test_chunks_of_raw_rows_equal_load_corpus(tmp_path: Path) -> None:
    # analyze chunks text files as raw rows (one turn table per chunk) and CSV sessions as
    # tables: the chunks must hold exactly the rows load_corpus gives, in order
    for f in sorted(SEEDS.glob("*.txt"))[:3]:
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "mi.csv").write_text("session_id,speaker,text\nm1,client,Hi.\n"
                                     "m1,therapist,What brings you?\nm2,client,Stress.\n")
    (tmp_path / "zz.txt").write_text("Patient: Last one.\n\nTherapist: Thanks.\n")
    want = load_corpus(tmp_path).turns
    for size in (1, 2, 3, 10):
        chunks = list(iter_chunks(session_parts(tmp_path), size))
        pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), want)
        assert all(c.index.equals(pd.RangeIndex(len(c))) for c in chunks)


def test_build_writes_partitions_and_manifest(serial_build: Path, seed_turns) -> None:
    assert gc.get_freeze_count() == 0  # the serial run unfreezes what it froze
    m = json.loads((serial_build / "manifest.json").read_text())
    assert m["corpus_sha256"] == corpus_checksum(SEEDS)
    assert m["tables"] == ["features", "sessions", "techniques", "turns"]
    assert m["n_sessions"] == 5 and m["n_files"] == 5
    assert sorted(p.name for p in (serial_build / "turns").iterdir()) == [
        "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert m["table_info"]["turns"]["rows"] == len(seed_turns) == 253
    assert m["parameters"]["chunk_sessions"] == 2
    t = _tables(serial_build)
    pd.testing.assert_frame_equal(t["turns"], seed_turns)
    f = t["features"]
    assert f["aligned"].all() and len(f) == 253
    assert (f[["session_id", "turn"]].to_numpy() == seed_turns[["session_id", "turn"]]
            .to_numpy()).all()
    assert t["techniques"].speaker.eq("therapist").all()
    assert len(t["techniques"]) == int((seed_turns.speaker == "therapist").sum())


def test_load_table_sorted_and_fresh(serial_build: Path, tmp_path: Path, fake_funcs) -> None:
    out = tmp_path / "copy"
    shutil.copytree(serial_build, out)
    # shuffle the partition order on disk: load_table still sorts by session_id, turn
    parts = sorted((out / "features").glob("part-*.parquet"))
    parts[0].rename(out / "features" / "part-09999.parquet")
    df = pipeline.load_table("features", SEEDS, out)
    assert df.session_id.is_monotonic_increasing
    assert all(g.turn.is_monotonic_increasing for _, g in df.groupby("session_id"))
    assert df.index.tolist() == list(range(len(df)))


def test_load_table_is_read_only_and_refuses_stale_tables(
        tmp_path: Path, fake_funcs, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Patient: I feel low.\n\nTherapist: What happened?\n")
    out = tmp_path / "build"
    with pytest.raises(pipeline.StaleTablesError, match="stale: run make report"):
        pipeline.load_table("features", corpus, out)  # nothing built: no rebuild either
    assert not out.exists()
    pipeline.build_tables(corpus, out, progress=False)
    assert pipeline.load_table("features", corpus, out).n_tokens.tolist() == [4, 3]
    (corpus / "a.txt").write_text("Patient: I feel low.\n\nTherapist: Why?\n\nPatient: Work.\n")
    with pytest.raises(pipeline.StaleTablesError, match=rf"{out}.*other corpus.*stale: run"):
        pipeline.load_table("features", corpus, out)
    assert len(pipeline.read_table("features", out)) == 2  # the stale tables are untouched
    pipeline.build_tables(corpus, out, progress=False)
    assert len(pipeline.load_table("features", corpus, out)) == 3
    monkeypatch.setattr(store, "code_fingerprint", lambda: "other code")
    with pytest.raises(pipeline.StaleTablesError, match="other code.*stale: run make report"):
        pipeline.load_table("turns", corpus, out)


def test_warm_parse_cache_skips_parsing(serial_build: Path, tmp_path: Path, fake_funcs,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out, cache = tmp_path / "warm", tmp_path / "cache"
    cache.mkdir()
    for f in (serial_build / "parse-cache").glob("*.spacy-cache"):  # parses, no table cache
        shutil.copy(f, cache)
    assert len(list(cache.glob("*.spacy-cache"))) == 5  # one DocBin per session

    def no_parsing(*args, **kwargs):
        raise AssertionError("nlp.pipe called with a warm cache")

    monkeypatch.setattr("spacy.language.Language.pipe", no_parsing)
    pipeline.build_tables(SEEDS, out, list(FAKE), progress=False, chunk_sessions=2,
                          cache_dir=cache, metadata=SEED_METADATA)
    for name, df in _tables(serial_build).items():
        pd.testing.assert_frame_equal(pipeline.read_table(name, out), df, obj=name)


def test_warm_table_cache_skips_parsing_and_tables(serial_build: Path, tmp_path: Path, fake_funcs,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "warm"
    assert len(list((serial_build / "parse-cache" / "tables").glob("*.parquet-cache"))) == 6

    def boom(*args, **kwargs):
        raise AssertionError("parsed or recomputed with a warm table cache")

    monkeypatch.setattr(pipeline, "parse_turns", boom)
    monkeypatch.setattr(sys.modules[__name__], "fake_features", boom)
    pipeline.build_tables(SEEDS, out, list(FAKE), progress=False, chunk_sessions=2,
                          cache_dir=serial_build / "parse-cache", metadata=SEED_METADATA)
    for name, df in _tables(serial_build).items():
        pd.testing.assert_frame_equal(pipeline.read_table(name, out), df, obj=name)
    # another chunking changes the chunks' turns: the table cache misses and recomputes
    with pytest.raises(AssertionError, match="warm table cache"):
        pipeline.build_tables(SEEDS, tmp_path / "other", list(FAKE), progress=False,
                              chunk_sessions=3, cache_dir=serial_build / "parse-cache")


# --------------------------------------------------------------------------- executors
def test_process_pool_matches_serial(serial_build: Path, tmp_path: Path, fake_funcs) -> None:
    out = tmp_path / "pool"  # warm cache: this checks the executor plumbing, not parsing
    pipeline.build_tables(SEEDS, out, list(FAKE), progress=False, chunk_sessions=2, workers=2,
                          cache_dir=serial_build / "parse-cache", metadata=SEED_METADATA)
    for name, df in _tables(serial_build).items():
        pd.testing.assert_frame_equal(pipeline.read_table(name, out), df, obj=name)
    assert (json.loads((out / "manifest.json").read_text())
            == json.loads((serial_build / "manifest.json").read_text()))


@pytest.mark.dask
def test_dask_local_cluster_matches_serial(serial_build: Path, tmp_path: Path,
                                           fake_funcs) -> None:
    """Two-worker LocalCluster, cold cache (workers parse): same rows, same values."""
    pytest.importorskip("distributed")
    out = tmp_path / "dask"
    pipeline.build_tables(SEEDS, out, list(FAKE), progress=False, chunk_sessions=2,
                          scheduler="local:2", metadata=SEED_METADATA)
    assert len(list((out / "parse-cache").glob("*.spacy-cache"))) == 5
    for name, df in _tables(serial_build).items():
        pd.testing.assert_frame_equal(pipeline.read_table(name, out), df, obj=name)
    for name in ("turns", *FAKE):  # partition by partition, byte-identical content
        for a, b in zip(sorted((out / name).iterdir()), sorted((serial_build / name).iterdir()),
                        strict=True):
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))


# --------------------------------------------------------------------------- sessions
def _toy_turns() -> pd.DataFrame:
    rows = [("s1", 0, "patient", "one two three", False), ("s1", 1, "therapist", "a b", False),
            ("s1", 2, "patient", "x", False), ("s1", 3, "therapist", "c d e f", False),
            ("s1", 4, "patient", "p q", False), ("s2", 0, "patient", "[error]", True),
            ("s2", 1, "therapist", "hello there", False)]
    df = pd.DataFrame(rows, columns=["session_id", "turn", "speaker", "text",
                                     "generation_error"])
    df["missing_answer"] = False
    for f in ("meta_note", "truncated", "role_play"):
        df[f] = False
    return df


def test_summarise_sessions_by_hand() -> None:
    turns = _toy_turns()
    emo = turns[["session_id", "turn", "speaker"]].assign(
        valence=[0.0, 9.0, 0.5, 9.0, 1.0, 100.0, 3.0], arousal=0.0)  # every emotion table has both
    tech = turns[turns.speaker == "therapist"][["session_id", "turn", "speaker"]].assign(
        question=[True, False, True], main_behaviour=["q", "s", "q"])
    s = sessions.summarise_sessions(turns, {"emotion": emo, "techniques": tech}).set_index(
        "session_id")
    assert s.loc["s1", ["n_turns", "n_analysed", "n_patient", "n_therapist"]].tolist() == [
        5, 5, 3, 2]
    assert s.loc["s1", ["patient_words", "therapist_words"]].tolist() == [6, 6]
    assert s.loc["s1", "patient_word_share"] == 0.5
    # s2: the patient turn is a generation error, so it is not analysed
    assert s.loc["s2", ["n_turns", "n_analysed", "n_patient", "patient_words"]].tolist() == [
        2, 1, 0, 0]
    assert s.loc["s1", "emotion__valence__patient"] == pytest.approx(0.5)
    assert math.isnan(s.loc["s2", "emotion__valence__patient"])  # excluded turn not averaged
    # patient valence 0, .5, 1 at positions 0, .5, 1: slope 1 per session
    assert s.loc["s1", "emotion__valence__patient_slope"] == pytest.approx(1.0)
    # UED of the patient series 0, .5, 1: mean .5, sample SD .5, successive differences .5
    assert s.loc["s1", "emotion__valence__patient_ued_home_mean"] == pytest.approx(0.5)
    assert s.loc["s1", "emotion__valence__patient_ued_variability_sd"] == pytest.approx(0.5)
    assert s.loc["s1", "emotion__valence__patient_ued_rmssd"] == pytest.approx(0.5)
    assert s.loc["s1", "techniques__question__rate"] == 0.5
    assert s.loc["s2", "techniques__question__rate"] == 1.0
    assert s.loc["s1", "techniques__transition_entropy"] == 0.0  # q -> s only


def test_transition_entropy_by_hand() -> None:
    assert shifts.transition_entropy(["a", "b", "a", "b"]) == 0.0
    # transitions a->a, a->a, a->b: H = H(2/3, 1/3)
    h = -(2 / 3 * np.log2(2 / 3) + 1 / 3 * np.log2(1 / 3))
    assert shifts.transition_entropy(["a", "a", "a", "b"]) == pytest.approx(h)
    # a->b, b->a, a->a, a->b: from a (3): b,a,b -> H(1/3,2/3); from b (1): 0; weight 3/4
    assert shifts.transition_entropy(["a", "b", "a", "a", "b"]) == pytest.approx(0.75 * h)
    assert math.isnan(shifts.transition_entropy(["a"]))


def test_compare_groups_by_hand() -> None:
    d = pd.DataFrame({"session_id": list("abcdefg"), "y": [1, 2, 3, 4, 5, 6, np.nan],
                      "grp": ["a", "a", "a", "b", "b", "b", "b"]})
    t = sessions.compare_groups(d, ["y"], "grp")
    assert len(t) == 1
    r = t.iloc[0]
    assert (r.group_a, r.group_b, r.n_a, r.n_b) == ("a", "b", 3, 3)  # NaN session left out
    assert r["diff"] == pytest.approx(3.0)
    # pooled SD 1, t = 3 / sqrt(2/3) = 3.674 on 4 df: two-sided p = 0.0213
    assert r.p == pytest.approx(0.02131, abs=1e-4) and r.omnibus_p == pytest.approx(r.p)
    assert r.ci_low == pytest.approx(3 - 2.7764 * np.sqrt(2 / 3), abs=1e-3)
    assert r.hedges_g == pytest.approx(3 * (1 - 3 / 15))  # d = 3, J = 1 - 3/(4*6 - 9)
    one = sessions.compare_groups(d.assign(grp="a"), ["y"], "grp")
    assert one.empty  # one group: no contrast


def test_outcome_correlations_by_hand() -> None:
    d = pd.DataFrame({"x": [1, 2, 3, 4, 5], "y": [2, 1, 4, 3, 5]})
    t = sessions.outcome_correlations(d, ["x"], ["y"], method="pearson").iloc[0]
    # deviations (-2,-1,0,1,2) and (-1,-2,1,0,2): r = 8/10; Fisher z CI with SE 1/sqrt(2)
    assert t.r == pytest.approx(0.8) and t.n == 5
    assert t.ci_low == pytest.approx(np.tanh(np.arctanh(0.8) - 1.95996 / np.sqrt(2)), abs=1e-4)
    assert t.ci_high == pytest.approx(np.tanh(np.arctanh(0.8) + 1.95996 / np.sqrt(2)), abs=1e-4)
    s = sessions.outcome_correlations(d, ["x"], ["y"]).iloc[0]
    assert s.r == pytest.approx(0.8)  # ranks equal the values here
    assert s.ci_high - s.ci_low > t.ci_high - t.ci_low  # Bonett-Wright SE is wider


# --------------------------------------------------------------------------- metadata
def test_read_metadata_keeps_ids_as_text(tmp_path: Path) -> None:
    p = tmp_path / "m.csv"
    p.write_text("# invented\nsession_id,group\n007,a\n010,b\n")
    assert sessions.read_metadata(p).session_id.tolist() == ["007", "010"]
    p.write_text("session_id,group\n007,a\n007,b\n")
    with pytest.raises(sessions.MetadataError, match="twice"):
        sessions.read_metadata(p)
    p.write_text("id,group\n007,a\n")
    with pytest.raises(sessions.MetadataError, match="session_id"):
        sessions.read_metadata(p)


def test_join_metadata_reports_both_sides() -> None:
    summ = pd.DataFrame({"session_id": ["a", "b"], "n_turns": [3, 4]})
    meta = pd.DataFrame({"session_id": ["b", "z"], "group": ["g1", "g2"], "n_turns": [9, 9]})
    out, rep = sessions.join_metadata(summ, meta)
    assert out.session_id.tolist() == ["a", "b"]  # corpus sessions all kept, in order
    assert out.group.isna().tolist() == [True, False]
    assert out.has_metadata.tolist() == [False, True]
    assert rep.missing_metadata == ["a"] and rep.unknown_ids == ["z"]
    assert rep.renamed_columns == {"n_turns": "meta_n_turns"} and "meta_n_turns" in out


def test_seed_metadata_matches_seeds(serial_build: Path) -> None:
    s = pipeline.read_table("sessions", serial_build)
    assert s.has_metadata.all() and len(s) == 5
    arche = dict(zip(s.session_id.str[:3], s.patient_archetype, strict=True))
    assert arche == {"000": "Hopeless Skeptic", "001": "Overwhelmed Avoider",
                     "002": "Overwhelmed Avoider", "003": "Overwhelmed Avoider",
                     "004": "Intellectualizer"}


def test_redact_runs_before_parsing_and_skips_are_listed(tmp_path: Path, fake_funcs,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "REDACT_FUNC", "test_analysis:fake_redact")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "s1.txt").write_text("Patient: Hello there.\n\nTherapist: Hello.\n")
    (corpus / "s2.txt").write_bytes(b"\0\0binary")
    out = tmp_path / "out"
    m = pipeline.build_tables(corpus, out, ["features"], progress=False, redact=True,
                              on_error="skip")
    assert pipeline.read_table("turns", out).text.tolist() == ["[PERSON_1] there.", "[PERSON_1]."]
    assert pipeline.read_table("features", out).aligned.all()  # the Docs: of the redacted text
    assert m["parameters"]["redact"] is True
    assert [s["path"] for s in m["skipped"]] == [str(corpus / "s2.txt")]


def test_load_sessions_recomputes_for_other_metadata(serial_build: Path, fake_funcs) -> None:
    stored, rep = sessions.load_sessions(SEEDS, serial_build, SEED_METADATA)
    assert rep.n_matched == 5 and "therapist_model" in stored
    bare, rep0 = sessions.load_sessions(SEEDS, serial_build, None)  # recomputed from partitions
    assert rep0.n_metadata == 0 and "therapist_model" not in bare
    pd.testing.assert_frame_equal(bare, stored[bare.columns])


def test_load_sessions_recompute_counts_events_as_the_build_does(tmp_path: Path) -> None:
    full = ROOT / "seeds-full"  # events in some sessions only: chunks of one session each
    pipeline.build_tables(full, tmp_path, ["events"], progress=False, chunk_sessions=1,
                          metadata=full / "metadata.csv")
    stored = pipeline.read_table("sessions", tmp_path)
    counts = [c for c in stored if c.startswith("events__")]
    assert (stored[counts].dtypes == "int64").all() and (stored[counts] == 0).any().any()
    bare, _ = sessions.load_sessions(full, tmp_path, None)  # recomputed from the partitions
    pd.testing.assert_frame_equal(bare, stored[bare.columns])


def test_cli_analyze_reports_unknown_ids(tmp_path: Path, fake_funcs, capsys) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("s1", "s2"):
        (corpus / f"{name}.txt").write_text("Patient: Hello.\n\nTherapist: Hi.\n")
    meta = tmp_path / "meta.csv"
    meta.write_text("session_id,group\ns1,a\nghost,b\n")
    out = tmp_path / "out"
    rc = cli.main(["analyze", str(corpus), "--out", str(out), "--metadata", str(meta),
                   "--quiet", "--chunk-sessions", "1"])
    assert rc == 0
    err = capsys.readouterr().err
    assert "unknown_ids: ghost" in err and "missing_metadata: s2" in err
    m = json.loads((out / "manifest.json").read_text())
    assert m["metadata"]["unknown_ids"] == ["ghost"]
    assert m["metadata"]["missing_metadata"] == ["s2"]
    assert m["table_info"]["turns"]["partitions"] == 2
    assert pipeline.load_table("sessions", corpus, out).group.tolist()[0] == "a"


def test_session_position_one_definition() -> None:
    """turn / last turn, NaN for a one-turn session, the same in every analysis that uses it."""
    from therapy_turns.schema import session_position

    turns = pd.concat([_toy_turns(), _toy_turns().iloc[:1].assign(session_id="s3")])
    turns = turns.reset_index(drop=True)
    want = [0, 0.25, 0.5, 0.75, 1, 0, 1, np.nan]
    assert session_position(turns).tolist() == pytest.approx(want, nan_ok=True)
    feats = turns[["session_id", "turn", "speaker"]].assign(n_words=1.0)
    got = sessions.analysable_features(feats, turns).set_index(["session_id", "turn"])
    assert math.isnan(got.loc[("s3", 0), "position"])  # was 0 (the first and last turn)
    emo = feats.rename(columns={"n_words": "valence"})
    rows = sessions.turn_data(emo, turns, pd.DataFrame({"session_id": ["s1", "s2", "s3"]}), [])
    assert math.isnan(rows.set_index("session_id").loc["s3", "position"])
    assert rows.position.tolist()[:3] == pytest.approx([0, 0.5, 1])
