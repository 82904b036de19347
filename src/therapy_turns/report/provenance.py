"""Provenance of an executed notebook: package versions, pipeline, git commit, corpus checksum."""

from __future__ import annotations

import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from therapy_turns.io.transcripts import corpus_checksum, corpus_files
from therapy_turns.nlp import load_pipeline, pipeline_id
from therapy_turns.paths import project_path, project_root

PACKAGES = ("therapy_turns", "spacy", "pandas", "numpy", "statsmodels", "scipy", "seaborn",
            "matplotlib", "scikit-learn", "pyphen", "vadersentiment", "nrclex",
            "ruptures", "papermill", "dask")


def git_commit(root: Path | None = None) -> str:
    """The checked-out commit (``+dirty`` when the work tree has changes), or ``unknown``."""
    root = root or project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, text=True,
                             capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               text=True, capture_output=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def package_versions(packages: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages the analyses depend on."""
    out = {}
    for p in packages:
        try:
            out[p] = version(p)
        except PackageNotFoundError:
            out[p] = "not installed"
    return out


def provenance(corpus: str | Path = "seeds") -> pd.DataFrame:
    """A two-column table (item, value) for the last cell of every notebook."""
    files = project_path(corpus)  # a notebook parameter: relative to the project root
    rows = {"corpus": str(corpus), "corpus files": str(len(corpus_files(files))),
            "corpus sha256": corpus_checksum(files), "git commit": git_commit(),
            "spaCy pipeline": pipeline_id(load_pipeline())}
    rows.update({f"version {k}": v for k, v in package_versions().items()})
    return pd.DataFrame({"item": list(rows), "value": list(rows.values())})
