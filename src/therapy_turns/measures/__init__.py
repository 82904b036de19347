"""Turn-level measures: one module per measure family, computed from (turns, docs)."""
