"""Turn-level measures, one module per family, each declared once in :mod:`.registry`. Importing
this package registers them in this order (of the CLI, the explorer and the session columns)."""

from therapy_turns.measures import client_talk, emotion, events, features, registry, techniques  # noqa: F401, I001
