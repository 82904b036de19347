"""Speech, out-of-role notes and artefact flags of a turn's raw text (``docs/flags.md``)."""

import re

from therapy_turns.paths import DATA_DIR, read_yaml

FLAGS = ["generation_error", "missing_answer", "meta_note", "truncated", "role_play"]
_ARTEFACTS = {
    k: [re.compile(p, re.I | re.S) for p in v]
    for k, v in read_yaml(DATA_DIR / "artefacts.yaml")["patterns"].items()
}


def _is(kind: str, para: str) -> bool:
    return any(p.fullmatch(para) for p in _ARTEFACTS[kind])


def analyse_turn_text(raw: str, speaker: str) -> dict[str, object]:
    """``text`` (speech), ``meta_notes`` and the artefact flags of a turn's raw text."""
    keep, notes = [], []
    flags = dict.fromkeys(FLAGS, False)
    paras = [p.strip() for p in re.split(r"\n[ \t]*\n", raw.replace("\r\n", "\n"))]
    for para in filter(None, paras):
        kind = next((k for k in FLAGS[:3] if _is(k, para)), None)  # removed from ``text``
        if kind:
            flags[kind] = True
            notes += [para] if kind == "meta_note" else []
        else:
            keep.append(para)
            flags["role_play"] |= speaker == "therapist" and _is("role_play", para)
    text = "\n\n".join(keep)
    flags["missing_answer"] |= not text and not flags["generation_error"]  # no speech at all
    ending = text.rstrip()[-100:]  # the end is all the pattern needs: linear on any length
    flags["truncated"] = len(text.split()) >= 4 and not any(  # "Yeah", "I guess so": complete
        p.search(ending) for p in _ARTEFACTS["complete_ending"]
    )
    return {"text": text, "meta_notes": "\n\n".join(notes), **flags}
