"""Turn-level measures: one module per measure family, each computed from a chunk
``(turns, docs)`` and declared once in the registry (:mod:`therapy_turns.measures.registry`).

Importing this package registers the built-in measures in this (alphabetical) order: the order
of their tables in the CLI, the explorer and the session table's columns. A new measure module
is added to this import.
"""

from therapy_turns.measures import client_talk, emotion, events, features, registry, techniques  # noqa: F401, I001
from therapy_turns.measures import thinking  # noqa: F401, I001

__all__ = ["registry"]
