"""--events FILE.csv: annotated events attached to any corpus, its errors (file and line), the
events in analyze's tables and the sessions table's counts per type."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from therapy_turns import cli, pipeline
from therapy_turns.analysis.sessions import summarise_sessions
from therapy_turns.io.files import TranscriptError
from therapy_turns.io.redact import redact_turns
from therapy_turns.io.transcripts import attach_events, load_corpus, read_events
from therapy_turns.measures.events import compute_events

NEWS = ("--- [SYSTEM INJECTION at Turn 1]: [System Note: You just received a stressful text "
        "message.] ---")


def corpus(tmp_path: Path) -> Path:
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.txt").write_text("Patient: I slipped again.\n\nTherapist: What happened?\n\n"
                             "Patient: I drank.\n\nTherapist: Okay.\n")
    (d / "b.txt").write_text("--- Turn 0 ---\nPatient: Hi.\n\n--- Turn 1 ---\n"
                             "Therapist Thinking:\nHe seems anxious.\n\nTherapist Answer:\n"
                             f"Welcome.\n\n{NEWS}\n\nPatient: Fine.\n")
    return d


def events_csv(tmp_path: Path, body: str, name: str = "ev.csv") -> Path:
    p = tmp_path / name
    p.write_text(body)
    return p


def test_attach_merges_with_the_transcripts_own_events(tmp_path):
    turns = load_corpus(corpus(tmp_path)).turns
    path = events_csv(tmp_path, "session_id,turn,event,coder\na,2,rupture,JS\n"
                                "b,2,homework_review,JS\nb,2,rupture,AB\n")
    out = attach_events(turns, read_events(path), path)
    got = out.set_index(["session_id", "turn"])
    assert got.loc[("a", 2), "event"] == "rupture" and got.loc[("a", 2), "event_text"] == "rupture"
    assert got.loc[("b", 2), "event"] == "stressful_news;homework_review;rupture"
    assert got.loc[("b", 2), "event_text"] == f"{NEWS}\nhomework_review\nrupture"
    assert (out.drop(columns=["event", "event_text"]) == turns.drop(
        columns=["event", "event_text"])).all().all()
    assert (out["event"] != "").sum() == 2 and (turns["event"] != "").sum() == 1


@pytest.mark.parametrize("body,line,found", [
    ("session_id,turn\na,1\n", 1, "columns ['session_id', 'turn']"),
    ("session_id,turn,event\na,2,rupture\nzz,1,rupture\n", 3, "unknown session 'zz'"),
    ("session_id,turn,event\na,4,rupture\n", 2, "turn 4 in session 'a'"),
    ("session_id,turn,event\na,two,rupture\n", 2, "turn 'two'"),
    ("session_id,turn,event\na,-1,rupture\n", 2, "turn '-1'"),
    ("session_id,turn,event\na,1,\n", 2, "event ''"),
    ('session_id,turn,event,note\n"a",1,x,"two\nlines"\nb,9,x,\n', 4, "turn 9 in session 'b'"),
    ('session_id,turn,event\na,1,"two\nlines"\n', 2, "event 'two\\nlines'"),
    ("\ufeffsession_id,turn,event\n\na,1,\n", 3, "event ''"),  # BOM, true line after a blank
])
def test_events_file_errors_name_file_and_line(tmp_path, body, line, found, capsys):
    c = corpus(tmp_path)
    ev = events_csv(tmp_path, body)
    with pytest.raises(TranscriptError) as info:
        attach_events(load_corpus(c).turns, read_events(ev), ev)
    assert info.value.line == line and found in str(info.value)
    assert str(info.value).startswith(f"{ev}:{line}: found ")
    # the CLI: one line, exit 2, nothing written
    out = tmp_path / "t.csv"
    assert cli.main(["parse", str(c), "--out", str(out), "--events", str(ev)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"therapy-turns parse: {ev}:{line}: found")
    assert not out.exists()


def test_parse_with_events_writes_the_columns(tmp_path, capsys):
    c = corpus(tmp_path)
    ev = events_csv(tmp_path, "session_id,turn,event\na,2,rupture\n")
    out = tmp_path / "t.csv"
    assert cli.main(["parse", str(c), "--out", str(out), "--events", str(ev)]) == 0
    t = pd.read_csv(out, keep_default_na=False)
    assert t.loc[t.event != "", ["session_id", "turn", "event"]].values.tolist() == [
        ["a", 2, "rupture"], ["b", 2, "stressful_news"]]
    assert "events: rupture=1, stressful_news=1" in capsys.readouterr().out


def test_sessions_table_counts_events_per_type():
    turns = pd.DataFrame({"session_id": ["a", "a", "a", "b", "b"], "turn": [0, 1, 2, 0, 1],
                          "speaker": ["patient", "therapist", "patient", "patient", "therapist"],
                          "text": ["x"] * 5, "event": ["confusion;fatigue", "", "rupture", "", ""],
                          "generation_error": False, "missing_answer": False})
    s = summarise_sessions(turns, {"events": compute_events(turns)}).set_index("session_id")
    assert s.loc["a", ["events__n", "events__confusion", "events__fatigue", "events__rupture",
                       "events__stressful_news", "events__other"]].tolist() == [3, 1, 1, 1, 0, 0]
    assert s.loc["b", "events__n"] == 0 and s.loc["b", "events__rupture"] == 0


def test_analyze_carries_events_and_checks_them_first(tmp_path):
    c = corpus(tmp_path)
    ev = events_csv(tmp_path, "session_id,turn,event\na,2,rupture\n")
    out = tmp_path / "build"
    manifest = pipeline.build_tables(c, out, ["events"], progress=False, events=ev,
                                     chunk_sessions=1)
    turns = pipeline.read_table("turns", out)
    assert turns.loc[turns.event != "", "event"].tolist() == ["rupture", "stressful_news"]
    s = pipeline.read_table("sessions", out).set_index("session_id")
    assert s.loc["a", "events__rupture"] == 1 and s.loc["b", "events__rupture"] == 0
    assert s.loc["b", "events__stressful_news"] == 1
    assert manifest["events"]["rows"] == 1
    # a changed events file makes the tables stale (load_table never rebuilds); a build again
    ev.write_text("session_id,turn,event\na,0,crisis\n")
    with pytest.raises(pipeline.StaleTablesError, match="events file.*stale: run make report"):
        pipeline.load_table("turns", c, out)
    pipeline.build_tables(c, out, ["events"], progress=False, events=ev, chunk_sessions=1)
    t2 = pipeline.load_table("turns", c, out)
    assert t2.loc[t2.event != "", "event"].tolist() == ["crisis", "stressful_news"]
    bad = events_csv(tmp_path, "session_id,turn,event\nq,0,x\n", "bad.csv")
    with pytest.raises(TranscriptError, match="unknown session 'q'"):
        pipeline.build_tables(c, tmp_path / "b2", ["events"], progress=False, events=bad)
    assert not (tmp_path / "b2" / "emotion").exists()


def test_redaction_covers_annotated_event_text(tmp_path):
    turns = load_corpus(corpus(tmp_path)).turns
    ev = events_csv(tmp_path,
                    "session_id,turn,event\na,2,call from Maria Gonzalez at 617-555-0143\n")
    red = redact_turns(attach_events(turns, read_events(ev), ev))
    text = red.loc[(red.session_id == "a") & (red.turn == 2), "event_text"].iloc[0]
    assert "Gonzalez" not in text and "617-555-0143" not in text and "[" in text


def make_dry_run(*args: str) -> str:
    """The commands ``make -n`` would run for ``args`` (nothing is executed)."""
    root = Path(__file__).resolve().parents[1]
    res = subprocess.run(["make", "-n", "-B", "-o", ".venv/.installed", *args], cwd=root,
                         capture_output=True, text=True, check=True)
    return res.stdout


def test_make_passes_events_to_analyze_and_07_reads_the_events_corpus(tmp_path):
    c = corpus(tmp_path)
    ev = events_csv(tmp_path, "session_id,turn,event\na,2,rupture\n")
    cmds = make_dry_run(f"CORPUS={c}", f"EVENTS={ev}", "reports/corpus/07-event-response.ipynb")
    assert f"analyze {c} --out build/corpus" in cmds and f"--events {ev}" in cmds
    assert f"--set corpus={c} --set analysis_dir=build/corpus" in cmds
    # the default corpus: notebook 07 reads the seeds' full transcripts, the others the seeds
    cmds = make_dry_run("reports/07-event-response.ipynb")
    assert "analyze seeds-full --out build/seeds-full" in cmds
    assert "--set corpus=seeds-full --set analysis_dir=build/seeds-full" in cmds
    cmds = make_dry_run("reports/03-emotional-trajectory.ipynb")
    assert "--set corpus=seeds --set analysis_dir=build/seeds " in cmds and "seeds-full" not in cmds


def test_event_patterns_file_on_parse_and_analyze(tmp_path, capsys):
    c = corpus(tmp_path)
    pats = tmp_path / "types.yaml"
    pats.write_text("types:\n  news:\n    - 'text message'\n")
    out = tmp_path / "t.csv"
    assert cli.main(["parse", str(c), "--out", str(out), "--event-patterns", str(pats)]) == 0
    t = pd.read_csv(out, keep_default_na=False)
    assert t.loc[t.event != "", "event"].tolist() == ["news"]
    manifest = pipeline.build_tables(c, tmp_path / "b", ["events"], progress=False,
                                     event_patterns=pats)
    turns, sessions = (pipeline.read_table(n, tmp_path / "b") for n in ("turns", "sessions"))
    assert turns.loc[lambda d: d.event != "", "event"].tolist() == ["news"]
    assert sessions.set_index("session_id").loc["b", "events__news"] == 1
    assert manifest["event_patterns"]["path"] == str(pats)
    # a bad pattern file: one line naming it, exit 2
    for body, found in [("types: [a, b]\n", "list under 'types'"),
                        ("types:\n  x: ['(']\n", "an invalid regex for type 'x'"),
                        ("types: {x: [a]\n", "invalid YAML")]:
        pats.write_text(body)
        assert cli.main(["parse", str(c), "--out", str(out), "--event-patterns", str(pats)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(pats) in err[0] and found in err[0]
    assert cli.main(["parse", str(c), "--out", str(out), "--event-patterns",
                     str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
