"""Turn-level measures: one module per measure family, each computed from a chunk
``(turns, docs)`` and declared once in the registry (:mod:`therapy_turns.measures.registry`).

Importing this package registers the built-in measures, in this order (the order of the tables
in the manifest, the CLI and the session table).
"""

from therapy_turns.measures import client_talk, emotion, features, registry, techniques  # noqa: F401, I001

__all__ = ["registry"]
