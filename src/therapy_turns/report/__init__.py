"""Running notebooks, the report index, provenance, result sentences and the session explorer."""

from string import Template

from therapy_turns.paths import DATA_DIR


def fill_page(page: str, **values: str) -> str:
    """The page template ``data/<page>.html`` filled with ``values`` and ``data/<page>.css``."""
    css = (DATA_DIR / f"{page}.css").read_text(encoding="utf-8")
    template = Template((DATA_DIR / f"{page}.html").read_text(encoding="utf-8"))
    return template.substitute(css=css, **values)
