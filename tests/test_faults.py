"""Faults and accidents: analyze never destroys or mixes folders, every output is written
atomically, corrupt caches are recomputed, workers die with their parent, bad options are one
line and exit 2 before any computing, and cold/warm/resumed runs give byte-identical tables.

These run the real CLI on copies of the seeds (five sessions: about 2 s per cold analyze).
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from therapy_turns import cli
from therapy_turns.io import files
from therapy_turns.io.files import OutputError, atomic_write, output_folder

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"


def run(*argv: str) -> int:
    return cli.main([*map(str, argv)])


def table_bytes(out: Path) -> dict[str, bytes]:
    """Every Parquet part of a build, by relative path."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("*/part-*.parquet"))}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean cold build of the seeds with its own cache."""
    out = tmp_path_factory.mktemp("clean") / "out"
    assert run("analyze", SEEDS, "--out", out, "--quiet", "--chunk-sessions", 2) == 0
    return out


# --------------------------------------------------------------------------- never destroy or mix
def test_folder_not_written_by_analyze_is_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "study"
    (out / "sessions").mkdir(parents=True)
    kept = out / "notes.txt"
    kept.write_text("mine")
    assert run("analyze", SEEDS, "--out", out, "--quiet") == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"therapy-turns analyze: --out {out}: folder is not empty and was not written "
                   "by therapy-turns analyze (no .therapy-turns-analysis); choose a new or "
                   "empty folder")
    assert kept.read_text() == "mine" and (out / "sessions").is_dir()


def test_corpus_inside_the_output_folder_is_refused(tmp_path, capsys):
    study = tmp_path / "study"
    shutil.copytree(SEEDS, study / "sessions")
    before = sorted(p.name for p in (study / "sessions").iterdir())
    assert run("analyze", study / "sessions", "--out", study, "--quiet") == 2
    assert "holds the input" in capsys.readouterr().err
    assert sorted(p.name for p in (study / "sessions").iterdir()) == before


def test_second_run_on_a_locked_folder_fails_at_once(tmp_path, capsys):
    out = tmp_path / "out"
    with output_folder(out):
        t0 = time.monotonic()
        assert run("analyze", SEEDS, "--out", out, "--quiet") == 2
        assert time.monotonic() - t0 < 5
        err = capsys.readouterr().err
        assert f"another analyze (pid {os.getpid()}) is writing this folder" in err


def test_failed_rebuild_keeps_the_previous_build(tmp_path, clean, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(clean, out)
    before = table_bytes(out)
    manifest = (out / "manifest.json").read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full halfway")

    monkeypatch.setattr("therapy_turns.pipeline.parse_turns", boom)
    other = tmp_path / "other"
    shutil.copytree(SEEDS, other)
    (other / "000_9fc736dfb9bb5c37.txt").write_text("Patient: hello\n\nTherapist: hi\n")
    with pytest.raises(RuntimeError):
        cli.main(["analyze", str(other), "--out", str(out), "--quiet", "--chunk-sessions", "2"])
    assert table_bytes(out) == before
    assert (out / "manifest.json").read_bytes() == manifest


def test_cold_warm_and_resumed_runs_are_byte_identical(tmp_path, clean):
    warm = tmp_path / "warm"
    cache = tmp_path / "cache"
    assert run("analyze", SEEDS, "--out", warm, "--cache-dir", cache, "--quiet",
               "--chunk-sessions", 2) == 0
    assert table_bytes(warm) == table_bytes(clean)  # cold, own cache
    assert run("analyze", SEEDS, "--out", warm, "--cache-dir", cache, "--quiet",
               "--chunk-sessions", 2) == 0
    assert table_bytes(warm) == table_bytes(clean)  # warm: every table from the cache
    for p in list((cache / "tables").glob("*.parquet-cache"))[::2]:
        p.unlink()  # half the tables lost, as after a kill
    assert run("analyze", SEEDS, "--out", warm, "--cache-dir", cache, "--quiet",
               "--chunk-sessions", 2) == 0
    assert table_bytes(warm) == table_bytes(clean)  # resumed


def test_corrupt_cache_entries_are_reported_once_and_recomputed(tmp_path, clean, caplog):
    out, cache = tmp_path / "out", tmp_path / "cache"
    assert run("analyze", SEEDS, "--out", out, "--cache-dir", cache, "--quiet",
               "--chunk-sessions", 2) == 0
    parsed = sorted(cache.glob("*.spacy-cache"))[0]
    table, *others = sorted((cache / "tables").glob("*.parquet-cache"))
    for p in others:  # every chunk reads its parses again (and so meets the corrupt one)
        p.unlink()
    for p in (parsed, table):
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 0xFF  # one flipped byte
        p.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="therapy_turns.io.files"):
        assert run("analyze", SEEDS, "--out", out, "--cache-dir", cache, "--quiet",
                   "--chunk-sessions", 2) == 0
    warned = [r.getMessage() for r in caplog.records if "corrupt cache entry" in r.getMessage()]
    assert sorted(warned) == sorted(
        f"corrupt cache entry {p} (checksum mismatch): removed, recomputing"
        for p in (parsed, table))
    assert table_bytes(out) == table_bytes(clean)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="therapy_turns.io.files"):
        assert run("analyze", SEEDS, "--out", out, "--cache-dir", cache, "--quiet",
                   "--chunk-sessions", 2) == 0
    assert not [r for r in caplog.records if "corrupt" in r.getMessage()]  # once only


def test_kill9_mid_run_then_rerun_equals_a_clean_run_and_workers_die(tmp_path, clean):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for k in range(4):  # 20 sessions: the run is still going when it is killed
        for f in sorted(SEEDS.glob("*.txt")):
            shutil.copy(f, corpus / f"{k}_{f.name}")
    out, cache = tmp_path / "out", tmp_path / "cache"
    cmd = [sys.executable, "-m", "therapy_turns.cli", "analyze", str(corpus), "--out", str(out),
           "--cache-dir", str(cache), "--workers", "2", "--chunk-sessions", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list((out / ".staging").glob("*/part-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children, "no worker processes started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"workers still running after their parent was killed: {alive}"
    assert not (out / "manifest.json").exists()  # incomplete, and says so
    assert run("analyze", corpus, "--out", out, "--cache-dir", cache, "--quiet",
               "--chunk-sessions", 1) == 0
    clean2 = tmp_path / "clean"
    assert run("analyze", corpus, "--out", clean2, "--quiet", "--chunk-sessions", 1) == 0
    assert table_bytes(out) == table_bytes(clean2)
    assert not (out / ".staging").exists()


# --------------------------------------------------------------------------- atomic files
def test_a_write_that_fails_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    out = tmp_path / "turns.csv"
    out.write_text("previous\n")

    def full_disk(self, *a, **k):
        Path(a[0]).write_text("trunc")  # part of the file written, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full_disk)
    with pytest.raises(OutputError, match=rf"^{out}: cannot write \(No space left on device\)$"):
        cli.write_table(pd.DataFrame({"a": [1]}), out)
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["turns.csv"]


def test_unwritable_output_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert run("parse", SEEDS, "--out", blocker / "turns.csv") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"therapy-turns parse: {blocker / 'turns.csv'}: "
                                               "cannot write (")


def test_atomic_write_cleans_up_on_error(tmp_path):
    target = tmp_path / "x.bin"
    with pytest.raises(ValueError), atomic_write(target) as tmp:
        tmp.write_bytes(b"half")
        raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_checked_cache_entry_round_trips_and_detects_truncation(tmp_path):
    p = tmp_path / "entry"
    files.write_cached(p, b"payload" * 100)
    assert files.read_cached(p) == b"payload" * 100
    p.write_bytes(p.read_bytes()[:-10])
    assert files.read_cached(p) is None and not p.exists()


# --------------------------------------------------------------------------- options and paths
@pytest.mark.parametrize(("args", "message"), [
    (["--workers", "0"], "argument --workers: expected a whole number >= 1, got '0'"),
    (["--chunk-sessions", "0"], "argument --chunk-sessions: expected a whole number >= 1, "
                                "got '0'"),
    (["--scheduler", "local:abc"], "argument --scheduler: 'local:abc': expected local:N "
                                   "(N >= 1 worker processes) or tcp://HOST:PORT"),
    (["--scheduler", "local:0"], "argument --scheduler: 'local:0': expected local:N "
                                 "(N >= 1 worker processes) or tcp://HOST:PORT"),
    (["--connect-timeout", "-1"], "argument --connect-timeout: expected a number of seconds > 0, "
                                  "got '-1'"),
    (["--metadata", "/no/such/meta.csv"], "/no/such/meta.csv: no such file; expected a session "
                                          "metadata CSV"),
])
def test_bad_analyze_options_are_one_line_before_computing(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    assert run("analyze", SEEDS, "--out", out, *args) == 2
    assert capsys.readouterr().err == f"therapy-turns analyze: {message}\n"
    assert not out.exists()  # nothing computed, nothing written


def test_malformed_metadata_is_one_line_before_computing(tmp_path, capsys):
    meta = tmp_path / "meta.csv"
    meta.write_text('session_id,group\n000,a\n"001,b\n')
    out = tmp_path / "out"
    assert run("analyze", SEEDS, "--out", out, "--metadata", meta) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"therapy-turns analyze: {meta}: not a readable CSV")
    assert not out.exists()


def test_unreachable_scheduler_fails_within_the_timeout(tmp_path, capsys):
    t0 = time.monotonic()
    assert run("analyze", SEEDS, "--out", tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9",
               "--connect-timeout", "1", "--quiet") == 2
    assert time.monotonic() - t0 < 15
    assert capsys.readouterr().err.startswith(
        "therapy-turns analyze: --scheduler tcp://127.0.0.1:9: no Dask scheduler answered within "
        "1 s")


@pytest.mark.parametrize("command", ["parse", "features"])
def test_output_never_over_an_input(tmp_path, capsys, command):
    src = tmp_path / "turns.csv"
    assert run("parse", SEEDS, "--out", src) == 0
    capsys.readouterr()
    before = src.read_bytes()
    assert run(command, src, "--out", src) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "an --out file that is not one of the inputs" in err[0]
    assert src.read_bytes() == before


def test_bad_out_suffix_is_refused_before_reading(tmp_path, capsys):
    assert run("features", SEEDS, "--out", tmp_path / "f.xlsx") == 2
    assert capsys.readouterr().err == (f"therapy-turns features: --out {tmp_path / 'f.xlsx'}: "
                                       "expected a .csv or .parquet file name\n")
