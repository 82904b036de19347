"""Artefacts of generated transcripts: a turn's raw text split into speech, out-of-role notes and
flags (patterns and their rationale in ``data/artefacts.yaml``; each flag's precision on the seeds
in ``docs/flags.md``).

Flags: ``generation_error`` (a generator failure line; removed from ``text``), ``missing_answer``
(a generator placeholder where the answer should be, or no speech at all; removed),
``meta_note`` (an out-of-role note about the response or the session; moved to ``meta_notes``),
``truncated`` (speech that does not end like a sentence), ``role_play`` (a therapist paragraph
that is a quotation of five or more words: the therapist voicing another character).
"""

from __future__ import annotations

import re

from therapy_turns.paths import DATA_DIR, read_yaml

FLAGS = ["generation_error", "missing_answer", "meta_note", "truncated", "role_play"]
#: A turn without a closing mark counts as truncated (ends mid-sentence) only from this many
#: words: "Yeah", "Mm-hmm" or "I guess so" written without a full stop are complete turns.
TRUNCATED_MIN_WORDS = 4


def _artefact_patterns() -> dict[str, list[re.Pattern[str]]]:
    path = DATA_DIR / "artefacts.yaml"
    raw = read_yaml(path)
    return {k: [re.compile(p, re.I | re.S) for p in v] for k, v in raw["patterns"].items()}


_ARTEFACTS = _artefact_patterns()


def _paragraphs(text: str) -> list[str]:
    """Paragraphs: text between blank lines (a line of spaces or tabs only)."""
    return [p for p in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n")) if p.strip()]


def _match_any(kind: str, para: str) -> bool:
    """Whether a pattern of ``kind`` matches the whole stripped paragraph."""
    return any(p.fullmatch(para.strip()) for p in _ARTEFACTS[kind])


def analyse_turn_text(raw: str, speaker: str) -> dict[str, object]:
    """Split raw turn text into speech and artefacts; return ``text``, ``meta_notes`` and flags."""
    keep, notes = [], []
    flags = {f: False for f in FLAGS}
    for para in _paragraphs(raw):
        if _match_any("generation_error", para):
            flags["generation_error"] = True
        elif _match_any("missing_answer", para):
            flags["missing_answer"] = True
        elif _match_any("meta_note", para):
            flags["meta_note"] = True
            notes.append(para.strip())
        else:
            keep.append(para.strip())
            if speaker == "therapist" and _match_any("role_play", para):
                flags["role_play"] = True
    text = "\n\n".join(keep)
    if not text and not flags["generation_error"]:
        flags["missing_answer"] = True  # a label with no speech is a missing answer too
    ending = text.rstrip()[-100:]  # the end is all the pattern needs: linear on any length
    if (len(text.split()) >= TRUNCATED_MIN_WORDS
            and not any(p.search(ending) for p in _ARTEFACTS["complete_ending"])):
        flags["truncated"] = True
    return {"text": text, "meta_notes": "\n\n".join(notes), **flags}
