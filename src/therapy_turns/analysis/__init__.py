"""Session-level analysis of the turn tables (no spaCy here)."""
