"""Package data folders; notebook parameters (only they) resolved against the project root."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = PACKAGE_DIR / "data"
LEXICON_DIR = PACKAGE_DIR / "lexicons"
MODEL_DIR = PACKAGE_DIR / "models"


def project_root() -> Path:
    """The folder with this project's ``pyproject.toml`` above here or the package, else here."""
    for p in (Path.cwd(), *Path.cwd().parents, PACKAGE_DIR, *PACKAGE_DIR.parents):
        if (p / "pyproject.toml").is_file() and (p / "src" / "therapy_turns").is_dir():
            return p
    return Path.cwd().resolve()


def project_path(p: str | os.PathLike[str]) -> Path:
    """``p`` if absolute, else ``p`` under the project root."""
    return Path(p) if Path(p).is_absolute() else project_root() / p


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """The YAML file ``path`` (UTF-8) parsed safely, by libyaml where PyYAML has it (10x faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(encoding="utf-8"), Loader=loader)  # noqa: S506
