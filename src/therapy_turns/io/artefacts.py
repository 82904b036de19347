"""Artefacts of generated transcripts: a turn's raw text split into speech, out-of-role notes and
flags (patterns in ``data/artefacts.yaml``; codebook and precision in ``docs/flags.md``)."""

from __future__ import annotations

import re

from therapy_turns.paths import DATA_DIR, read_yaml

FLAGS = ["generation_error", "missing_answer", "meta_note", "truncated", "role_play"]
#: below this many words a turn without a closing mark is complete ("Yeah", "I guess so")
TRUNCATED_MIN_WORDS = 4
_REMOVED = ("generation_error", "missing_answer", "meta_note")  # paragraphs out of ``text``
_ARTEFACTS = {
    k: [re.compile(p, re.I | re.S) for p in v]
    for k, v in read_yaml(DATA_DIR / "artefacts.yaml")["patterns"].items()
}


def _is(kind: str, para: str) -> bool:
    return any(p.fullmatch(para) for p in _ARTEFACTS[kind])


def analyse_turn_text(raw: str, speaker: str) -> dict[str, object]:
    """``text`` (speech), ``meta_notes`` and the artefact flags of a turn's raw text, judged by
    paragraph: a generator failure line or placeholder is removed, an out-of-role note moves to
    ``meta_notes``; ``truncated``: speech that does not end like a sentence; ``role_play``: a
    therapist paragraph quoting another character (five or more words)."""
    keep, notes = [], []
    flags = dict.fromkeys(FLAGS, False)
    for para in re.split(r"\n[ \t]*\n", raw.replace("\r\n", "\n")):
        para = para.strip()
        if not para:
            continue
        kind = next((k for k in _REMOVED if _is(k, para)), None)
        if kind:
            flags[kind] = True
            notes += [para] if kind == "meta_note" else []
        else:
            keep.append(para)
            flags["role_play"] |= speaker == "therapist" and _is("role_play", para)
    text = "\n\n".join(keep)
    flags["missing_answer"] |= not text and not flags["generation_error"]  # no speech at all
    ending = text.rstrip()[-100:]  # the end is all the pattern needs: linear on any length
    flags["truncated"] = len(text.split()) >= TRUNCATED_MIN_WORDS and not any(
        p.search(ending) for p in _ARTEFACTS["complete_ending"]
    )
    return {"text": text, "meta_notes": "\n\n".join(notes), **flags}
