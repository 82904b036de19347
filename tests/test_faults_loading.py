"""Fault suite, loading cases (issue 17): each bad input of the issue through the CLI, with its
exact one-line message, exit status 2, no traceback, and no file written or overwritten."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from therapy_turns import cli
from therapy_turns.io.transcripts import iter_chunks, session_parts


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main([*args, "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, content: str) -> Path:
    p = tmp_path / name
    p.write_text(content, encoding="utf-8", newline="")
    return p


CASES = [
    # the client's words counted as the therapist's, exit 0 (before)
    ("mother.txt", "Therapist: Hi.\n\nMother: She won't eat.\n\nPatient: I eat.\n",
     "{p}:3: found unknown speaker label 'Mother' at the start of 1 line (3), followed by a "
     "known speaker's turn; expected a known speaker label or a mapping: --speaker "
     "'Mother=patient' or --speaker 'Mother=therapist' (--speaker 'Mother=content' keeps it "
     "inside turns)"),
    # first-line unknown label: the message names --speaker (before: it did not)
    ("coach.txt", "Coach: Hi.\nClient: Hello.\n",
     "{p}:1: found unknown speaker label 'Coach' at the start of 1 line (1), before any known "
     "speaker label; expected a known speaker label or a mapping: --speaker 'Coach=patient' or "
     "--speaker 'Coach=therapist' (--speaker 'Coach=content' keeps it inside turns)"),
    # pandas' implicit index invented sessions and speakers (before)
    ("commas.csv", "session_id,speaker,text\ns1,patient,I feel low, tired\ns1,therapist,ok\n",
     "{p}:2: found a row of 4 fields (the header has 3); expected comma-separated rows with the "
     "header's number of fields (quote texts that hold commas)"),
    ("turn.csv", "session_id,speaker,text,turn\ns1,patient,hi,first\n",
     "{p}:2: found turn 'first'; expected an integer turn number"),
    ("header.csv", "session_id,speaker,text\n",
     "{p}:1: found a header and no rows; expected one row per turn"),
    ("null.jsonl", '{"session_id": "s", "speaker": "patient", "text": null}\n',
     "{p}:1: found null 'text'; expected a text string"),
    ("missing.jsonl", '{"session_id": "s", "speaker": "patient"}\n',
     "{p}:1: found missing 'text'; expected a text string"),
]


@pytest.mark.parametrize("name,content,message", CASES)
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, name, content, message):
    p = write(tmp_path, name, content)
    out = tmp_path / "out.csv"
    code, _, err = run(["parse", str(p), "--out", str(out)], capsys)
    assert code == 2 and not out.exists()
    assert err == f"therapy-turns parse: {message.format(p=p)}\n"


@pytest.mark.parametrize("option,why", [
    ("12=patient", "a label of digits only (a label starts with a letter)"),
    ("(Dr. Lee)=therapist", "a label with parentheses (map the name before them: "
     "'Therapist (Dr. Lee)' is matched by 'Therapist')"),
    ("Coach:=therapist", "a label with a colon (give the label without its colon)"),
    ("=therapist", "an empty label"),
])
@pytest.mark.parametrize("command", ["parse", "analyze"])
def test_speaker_option_that_can_never_match(tmp_path, capsys, option, why, command):
    p = write(tmp_path, "s.txt", "Patient: hi.\n")
    out = tmp_path / ("o.csv" if command == "parse" else "o")
    code, _, err = run([command, str(p), "--out", str(out), "--speaker", option], capsys)
    assert code == 2 and not out.exists()
    assert err == (f"therapy-turns {command}: --speaker: found {option!r}: {why}; expected "
                   "LABEL=patient, "
                   "LABEL=therapist or LABEL=content, with LABEL as written before the colon, "
                   "e.g. --speaker 'Dr Lee=therapist'\n")


def test_parse_refuses_to_overwrite_its_input(tmp_path, capsys):
    p = write(tmp_path, "x.csv", "session_id,speaker,text\ns,patient,hi\n")
    code, _, err = run(["parse", str(p), "--out", str(p)], capsys)
    assert code == 2 and p.read_text() == "session_id,speaker,text\ns,patient,hi\n"
    assert err == (f"therapy-turns parse: {p}: found an output path that is the input file {p}; "
                   "expected an --out file that is not one of the inputs\n")


def test_speaker_option_adds_to_the_defaults_in_every_command(tmp_path, capsys):
    p = write(tmp_path, "s.txt", "Patient: hi.\n\nTherapist: ok.\n\nCoach: go.\n")
    out = tmp_path / "o.csv"
    args = ["--speaker", "patient=patient", "--speaker", "Coach=therapist"]
    assert run(["parse", str(p), "--out", str(out), *args], capsys)[0] == 0
    assert pd.read_csv(out)["speaker"].tolist() == ["patient", "therapist", "therapist"]
    # analyze's loader (was: the defaults dropped, 'Therapist:' unknown)
    parts = session_parts([p], speakers={"patient": "patient", "Coach": "therapist"})
    turns = next(iter_chunks(parts, 1))
    assert turns["speaker"].tolist() == ["patient", "therapist", "therapist"]


def test_bom_and_conventions_load(tmp_path, capsys):
    p = write(tmp_path, "s.txt", "\ufeff[00:00:05] **Client 1:** hi.\n\tT: ok.\nC: fine.\n")
    out = tmp_path / "o.csv"
    assert run(["parse", str(p), "--out", str(out)], capsys)[0] == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert df["speaker"].tolist() == ["patient", "therapist", "patient"]
    assert df["timestamp"].tolist() == ["00:00:05", "", ""]


def test_cli_prints_no_traceback(tmp_path):
    p = write(tmp_path, "m.txt", "Therapist: Hi.\n\nMother: No.\n\nPatient: Yes.\n")
    r = subprocess.run([sys.executable, "-m", "therapy_turns.cli", "parse", str(p), "--out",
                        str(tmp_path / "o.csv")], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "unknown speaker label 'Mother'" in r.stderr
