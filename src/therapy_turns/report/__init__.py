"""Running notebooks, the report index, provenance, result sentences and the session explorer."""

from string import Template

from therapy_turns.paths import DATA_DIR, read_yaml

HTML = read_yaml(DATA_DIR / "html.yaml")  # the templates of the report index and the explorer


def fill(key: str, **values: object) -> str:
    """The template ``key`` of ``data/html.yaml`` filled with ``values`` (and a page's ``css``)."""
    if (css := DATA_DIR / f"{key}.css").exists():
        values["css"] = css.read_text(encoding="utf-8")
    return Template(HTML[key]).substitute(values)
