"""The turn-level measures: importing this package registers them, in this (CLI, session) order."""

from therapy_turns.measures import client_talk, emotion, events, features, registry, techniques  # noqa: F401, I001
