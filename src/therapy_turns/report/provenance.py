"""Provenance of an executed notebook: package versions, pipeline, git commit, corpus checksum."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from therapy_turns.io.transcripts import corpus_checksum, corpus_files
from therapy_turns.nlp import load_pipeline, pipeline_id
from therapy_turns.paths import project_path, project_root

PACKAGES = tuple(
    "therapy_turns spacy pandas numpy statsmodels scipy seaborn matplotlib scikit-learn pyphen "
    "vadersentiment nrclex ruptures papermill dask".split()
)


def git_commit() -> str:
    """The checked-out commit (``+dirty`` when the work tree has changes), or ``unknown``."""

    def git(*args: str) -> bytes:
        return subprocess.run(
            ["git", *args], cwd=project_root(), capture_output=True, check=True
        ).stdout

    try:
        dirty = "+dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
        return git("rev-parse", "--short=12", "HEAD").decode().strip() + dirty
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


def provenance(corpus: str | Path = "seeds") -> pd.DataFrame:
    """A two-column table (item, value) for the last cell of every notebook."""
    files = project_path(corpus)  # a notebook parameter: relative to the project root
    rows = {"corpus": str(corpus), "corpus files": str(len(corpus_files(files)))}
    rows |= {"corpus sha256": corpus_checksum(files), "git commit": git_commit()}
    rows["spaCy pipeline"] = pipeline_id(load_pipeline())
    rows |= {f"version {p}": _version(p) for p in PACKAGES}
    return pd.DataFrame({"item": list(rows), "value": list(rows.values())})
