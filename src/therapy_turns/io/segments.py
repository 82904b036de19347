"""Segmentation of a text transcript: every character goes to a label, a turn's speech or
thinking, an event line or a separator, so the segments concatenate to the file.

Lines break at CR, LF and CRLF only. Speaker labels follow :mod:`therapy_turns.io.labels`
(grammar, mapping, the unknown-speaker rule); event lines :mod:`therapy_turns.io.events`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from therapy_turns.io import labels
from therapy_turns.io.errors import (
    NoSpeakerLabelError,
    TextBeforeLabelError,
    TranscriptError,
    UnknownSpeakerError,
)
from therapy_turns.io.events import is_event_line
from therapy_turns.io.labels import ABBREVIATIONS, DEFAULT_SPEAKERS, ROLES

BOM = "\ufeff"
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_HEADER_RE = re.compile(r"^---\s*Turn\s+\d+.*---[ \t]*\r?$")


@dataclass(frozen=True)
class Segment:
    """A piece of a text file. ``kind`` is ``speech``, ``thinking`` or ``separator``."""

    kind: str
    text: str
    line: int  # 1-based line on which the segment starts
    turn: int | None = None  # index of the turn it belongs to (None for separators)
    role: str | None = None  # the speaker a label segment maps to


def split_lines(text: str) -> list[str]:
    """``text`` cut after each line break, ends kept. Line breaks are ``\\r\\n``, ``\\n`` and
    ``\\r`` only: form feed, NEL, U+2028/U+2029 and the other characters ``str.splitlines`` breaks
    on stay inside their line (a speaker's text never splits there)."""
    return _LINE_RE.findall(text)


def segment_text(
    text: str, path: str | Path = "<text>", speakers: Mapping[str, str] | None = None
) -> list[Segment]:
    """Cut a text transcript into segments whose concatenation is exactly ``text``.

    Kinds: ``label`` (a speaker label as written, e.g. ``"Patient: "``; it opens or continues turn
    ``turn``; ``role`` is its speaker), ``speech`` and ``thinking`` (content of turn ``turn``),
    ``event`` (a bracketed event line; ``turn`` is the next patient turn, or the last turn when
    none follows), ``separator`` (a byte-order mark, turn headers and blank lines between turns;
    ``turn`` is None). Blank lines inside a turn are speech.

    Unknown labels follow :mod:`therapy_turns.io.labels`: abbreviations that recur like speakers
    become speakers, any other label that does raises :class:`UnknownSpeakerError`.
    """
    speakers = dict(speakers or DEFAULT_SPEAKERS)
    lines = split_lines(text)
    for _ in range(len(ABBREVIATIONS) + 1):
        try:
            segs = _cut(lines, path, speakers)
        except UnknownSpeakerError as e:  # an abbreviation opening the file is a speaker
            if e.label.lower() not in ABBREVIATIONS:
                raise
            speakers[e.label.lower()] = ABBREVIATIONS[e.label.lower()]
            continue
        like = labels.speaker_like(segs, speakers)
        if not _promote(like, speakers, segs):
            break
    if like:
        label, (where, rule) = min(like.items(), key=lambda kv: kv[1][0][0])
        others = {k: v[0] for k, v in sorted(like.items(), key=lambda kv: kv[1][0][0])
                  if k != label}
        raise labels.unknown_speaker(path, label, where, rule, others)
    return segs


def _promote(like: Mapping[str, object], speakers: dict[str, str], segs: Sequence[Segment]
             ) -> bool:
    """Map the abbreviations among the speaker-like labels ``like`` where unambiguous: together
    with the abbreviations already mapped they cover both roles, or no other label of the file
    has the abbreviation's role (``Therapist: / C: / Therapist:``; ``C: consequence`` in a file
    with ``Patient:`` turns stays an error). Once an abbreviation is mapped (one opening the
    file is), one of the other role at any line start is a speaker too (``C: / T: / (blank) /
    more``). True if any was mapped."""
    abbrev = {k.lower() for k in like if k.lower() in ABBREVIATIONS}
    mapped = {r for k, r in speakers.items() if k in ABBREVIATIONS and r in ROLES}
    if mapped:  # the file uses abbreviations: one of the other role at a line start is a speaker
        abbrev |= {k for x in segs if x.kind == "speech" and (lab := labels.match_label(x.text))
                   and (k := lab.keys[-1]) in ABBREVIATIONS and k not in speakers
                   and ABBREVIATIONS[k] not in mapped}
    roles = {ABBREVIATIONS[k] for k in abbrev} | mapped
    named = {x.role for x in segs
             if x.role and labels.match_label(x.text).keys[-1] not in ABBREVIATIONS}
    take = abbrev if roles == set(ROLES) else {k for k in abbrev
                                               if ABBREVIATIONS[k] not in named}
    speakers.update({k: ABBREVIATIONS[k] for k in take})
    return bool(take)


def _outside(lines: Sequence[str], lineno: int, path: str | Path,
             speakers: Mapping[str, str]) -> TranscriptError:
    """The error for text standing before the first known label at ``lineno``."""
    lab = labels.match_label(lines[lineno - 1].removeprefix(BOM))
    if lab and lab.role(speakers) is None:
        return labels.unknown_speaker(path, lab.label, labels.label_lines(lines, lab.label),
                                      "before any known speaker label")
    return TextBeforeLabelError(
        path, lineno, f"text outside any turn: {lines[lineno - 1].strip(BOM + ' ')[:60]!r}",
        "a line starting with a speaker label such as 'Patient:' or 'Therapist:' (map other "
        "labels with --speaker LABEL=patient|therapist)")


def _cut(lines: Sequence[str], path: str | Path, speakers: Mapping[str, str]) -> list[Segment]:
    """:func:`segment_text`'s cut with a fixed label mapping."""
    segs: list[Segment] = []
    turn, mode = -1, "separator"
    blanks: list[tuple[str, int]] = []  # blank lines whose owner is not known yet
    pending: list[int] = []  # indices in segs of event lines waiting for the next patient turn

    def flush(kind: str, owner: int | None) -> None:
        segs.extend(Segment(kind, b, n, owner) for b, n in blanks)
        blanks.clear()

    for lineno, line in enumerate(lines, start=1):
        if lineno == 1 and line.startswith(BOM):
            segs.append(Segment("separator", BOM, 1))
            line = line[1:]
        lab = labels.match_label(line)
        role = lab.role(speakers) if lab else None
        if _HEADER_RE.match(line):
            flush("separator", None)
            segs.append(Segment("separator", line, lineno))
            mode = "separator"
        elif is_event_line(line):
            flush("separator", None)
            pending.append(len(segs))
            segs.append(Segment("event", line, lineno))
        elif lab and role in ROLES:
            flush("separator", None)
            if not (lab.part == "answer" and mode == "thinking"):
                turn += 1
                if role == "patient":
                    for i in pending:
                        segs[i] = Segment("event", segs[i].text, segs[i].line, turn)
                    pending.clear()
            mode = "thinking" if lab.part == "thinking" else "speech"
            segs.append(Segment("label", line[: lab.end], lineno, turn, role))
            if line[lab.end :]:
                segs.append(Segment(mode, line[lab.end :], lineno, turn))
        elif not line.strip():
            blanks.append((line, lineno))
        elif mode == "separator":
            raise _outside(lines, lineno, path, speakers)
        else:
            flush(mode, turn)
            segs.append(Segment(mode, line, lineno, turn))
    flush("separator", None)
    for i in pending:  # events after the last patient turn: kept on the last turn
        segs[i] = Segment("event", segs[i].text, segs[i].line, max(turn, 0))
    if turn < 0:
        raise NoSpeakerLabelError(
            path,
            None,
            "no line starting with a recognised speaker label",
            f"lines starting with one of {sorted(k for k, v in speakers.items() if v in ROLES)} "
            "followed by ':' (map other labels with --speaker LABEL=patient|therapist)",
        )
    return segs
