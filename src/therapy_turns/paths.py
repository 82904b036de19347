"""Project paths: everything relative is resolved against the project root, not the cwd.

Notebooks run with the cwd set to ``notebooks/`` (nbval, JupyterLab) or the root (papermill via
make); resolving through here makes ``"seeds"`` mean the same folder in both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

#: libyaml's safe loader where PyYAML was built with it (same documents, about 10x faster)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: the package folder and its shipped data (codebooks, patterns), lexicons and models
PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
LEXICON_DIR = PACKAGE_DIR / "lexicons"
MODEL_DIR = PACKAGE_DIR / "models"


def project_root() -> Path:
    """The folder holding this project's ``pyproject.toml`` (or ``$THERAPY_TURNS_ROOT``)."""
    env = os.environ.get("THERAPY_TURNS_ROOT")
    if env:
        return Path(env).resolve()
    for base in (Path.cwd(), Path(__file__).resolve()):
        for p in (base, *base.parents):
            if (p / "pyproject.toml").is_file() and (p / "src" / "therapy_turns").is_dir():
                return p
    return Path.cwd().resolve()


def project_path(p: str | os.PathLike[str]) -> Path:
    """``p`` if absolute, else ``p`` under the project root."""
    p = Path(p)
    return p if p.is_absolute() else project_root() / p


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """The YAML file ``path`` parsed with a safe loader (UTF-8)."""
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506


SEEDS = "seeds"
FIGURES = "figures"
REPORTS = "reports"
BUILD = "build"
