"""Speaker labels: the line-start ``Label:`` grammar, the label -> speaker mapping, the
``--speaker`` option, and the rule that tells an unknown speaker from role-play content.

Grammar of a label line (every part but the name and the colon optional, in this order):
indentation (spaces, tabs, NBSP); a timestamp (``[00:01:10]``, ``(01:10)``, ``00:01:10.5 -``);
markdown bold (``**Therapist:**`` or ``**Therapist**:``); the name (1-5 words starting with a
letter); a number (``Client 1``); a parenthesised note (``Therapist (Dr. Lee)``); the
full-transcript part (`` Thinking``/`` Answer``); the colon. A name maps to a role by its
lower-case form with the number (``client 1``), else without it (``client``).

Unknown labels (the rule that keeps speakers from being merged silently)
-----------------------------------------------------------------------
A line that starts with a label the mapping does not know is content of the current turn
(role-play ``Manager: ...``, ``Try this: ...``) unless the label is *name-like* (at most three
words, each capitalised: ``Mother``, ``Dr Smith``, ``Co``; not a heading such as ``Step 1``,
``Goal``, ``Homework``: :data:`HEADING_WORDS`) and it *recurs like a speaker*:

- R0: it stands before the first known label (a file with no known label);
- R1: a known speaker's label (or the end of the file) comes next among the lines that open a
  turn or a paragraph: ``Therapist: ... / Mother: ... / Patient: ...`` (several unknown labels
  in a row count together: ``Mother: ... / Father: ... / Therapist: ...``);
- R2: it opens two or more paragraphs (the first line after a blank line or a header).

So role-play stays content when the turn goes on after it (``Manager: Why? / You: I missed it.
/ (blank line) / Try this: ...``), and when its labels are not name-like (``Try this:``).
An unknown speaker that speaks only once, in a turn of several paragraphs, reads like role-play
(its label is followed by an unlabelled paragraph) and stays content: the one blind spot.

Speech only: lines of ``Therapist Thinking:`` blocks (``Goal: ...``) are never speakers.
Abbreviations ``T``, ``P``, ``C``, ``Cl``, ``Co`` (``T``/``Co`` -> therapist, ``P``/``C``/``Cl``
-> patient) map by default when they recur like speakers and are unambiguous: together they
cover both roles, or no other label of the file has their role (``Therapist: / C: /
Therapist:``); one opening the file maps, and then any of the other role at a line start does.
A ``C: consequence`` line inside a turn that goes on stays content; one directly before a
``Patient:`` turn of a ``Patient:``/``Therapist:`` file is ambiguous. Any label that recurs like
a speaker and is not mapped is an :class:`UnknownSpeakerError` naming the label, its count and
first lines, and the ``--speaker`` option that maps it (``LABEL=content`` keeps it as content).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from therapy_turns.io.errors import SpeakerOptionError, UnknownSpeakerError
from therapy_turns.schema import SPEAKERS

ROLES = SPEAKERS  # the speaker roles, defined in therapy_turns.schema
CONTENT = "content"  # --speaker LABEL=content: a label that never opens a turn
DEFAULT_SPEAKERS: dict[str, str] = {
    "patient": "patient",
    "client": "patient",
    "participant": "patient",
    "therapist": "therapist",
    "counselor": "therapist",
    "counsellor": "therapist",
    "interviewer": "therapist",
}
ABBREVIATIONS: dict[str, str] = {
    "t": "therapist", "co": "therapist", "p": "patient", "c": "patient", "cl": "patient"}

_WORD = r"[A-Za-z][A-Za-z.'’-]{0,30}"
LABEL_RE = re.compile(
    r"(?P<indent>[ \t\u00a0]*)"
    r"(?:[\[(]?(?P<ts>\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d{1,3})?)[\])]?[ \t]+(?:-[ \t]+)?)?"
    r"(?:\*\*)?"
    rf"(?P<name>{_WORD}(?: {_WORD}){{0,4}}?)"
    r"(?: (?P<num>\d{1,3}))?"
    r"(?: ?\((?P<paren>[^()\n]{1,40})\))?"
    r"(?P<part> Thinking| Answer)?"
    r"(?:\*\*)?:(?:\*\*)?[ \t]?"
)
#: first words of line-start headings that are never taken for speakers unless mapped
HEADING_WORDS = frozenset(
    "step day week month option question answer example note tip goal exercise homework task "
    "part phase stage session point rule reminder summary plan scenario script practice "
    "remember and but so also then first next finally".split())
_NAME_LIKE = re.compile(r"[A-Z][A-Za-z.'’-]*(?: [A-Z][A-Za-z.'’-]*){0,2}")
_OPTION_LABEL = re.compile(rf"{_WORD}(?: {_WORD})*(?: \d{{1,3}})?")


@dataclass(frozen=True)
class Label:
    """A label at the start of a line: ``end`` (where its text ends), ``label`` (as written,
    without bold, timestamp or indentation), ``keys`` (lookup forms, most specific first),
    ``part`` (``thinking``/``answer``/``""``), ``timestamp`` (``""`` if none)."""

    end: int
    label: str
    name: str
    keys: tuple[str, ...]
    part: str
    timestamp: str

    @property
    def name_like(self) -> bool:
        """A label that looks like a speaker's name (see the module docstring)."""
        return bool(_NAME_LIKE.fullmatch(self.name)) and (
            len(self.name) > 1 or self.name.lower() in ABBREVIATIONS) and (
            self.name.split()[0].lower() not in HEADING_WORDS)

    def role(self, speakers: Mapping[str, str]) -> str | None:
        """The mapped role (``patient``/``therapist``/``content``), or None if unknown."""
        for k in self.keys:
            if k in speakers:
                return speakers[k]
        return None


def match_label(line: str) -> Label | None:
    """The label that opens ``line``, or None."""
    m = LABEL_RE.match(line)
    if not m:
        return None
    name = " ".join(m.group("name").split())
    num, paren = m.group("num"), m.group("paren")
    label = name + (f" {num}" if num else "") + (f" ({paren.strip()})" if paren else "")
    keys = ((f"{name} {num}".lower(),) if num else ()) + (name.lower(),)
    part = (m.group("part") or "").strip().lower()
    return Label(m.end(), label, name, keys, part, m.group("ts") or "")


def speaker_map(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The default label -> role mapping extended by ``extra`` (labels compared lower-case;
    roles ``patient``, ``therapist`` or ``content``). ``extra`` adds to the defaults, whatever
    it holds (``patient=patient`` keeps ``Therapist``)."""
    out = dict(DEFAULT_SPEAKERS)
    for label, role in (extra or {}).items():
        key, role = check_speaker_option(label, role)
        out[key] = role
    return out


def check_speaker_option(label: str, role: str, option: str | None = None) -> tuple[str, str]:
    """Validate one ``--speaker LABEL=ROLE``: the lower-case lookup key and the role.

    Raises :class:`SpeakerOptionError` for a role other than patient/therapist/content and for
    a label no transcript line can carry: empty, digits only, with parentheses or a colon."""
    option = option or f"{label}={role}"
    key = " ".join(label.split())
    why = None
    if not key:
        why = "an empty label"
    elif key.isdigit():
        why = "a label of digits only (a label starts with a letter)"
    elif "(" in key or ")" in key:
        why = "a label with parentheses (map the name before them: 'Therapist (Dr. Lee)' is " \
              "matched by 'Therapist')"
    elif ":" in key:
        why = "a label with a colon (give the label without its colon)"
    elif not _OPTION_LABEL.fullmatch(key):
        why = "a label that can never open a line (letters, spaces, . ' - and an optional " \
              "number only)"
    elif role.strip().lower() not in (*ROLES, CONTENT):
        why = f"role {role.strip()!r}"
    if why:
        raise SpeakerOptionError("--speaker", None, f"{option!r}: {why}",
                                 "LABEL=patient, LABEL=therapist or LABEL=content, with LABEL as "
                                 "written before the colon, e.g. --speaker 'Dr Lee=therapist'")
    return key.lower(), role.strip().lower()


def parse_speaker_options(values: Sequence[str]) -> dict[str, str]:
    """``--speaker`` values (``LABEL=ROLE``) as a mapping, each checked by
    :func:`check_speaker_option`."""
    out: dict[str, str] = {}
    for v in values:
        label, sep, role = v.partition("=")
        if not sep:
            raise SpeakerOptionError("--speaker", None, f"{v!r} without '='",
                                     "LABEL=patient, LABEL=therapist or LABEL=content")
        key, role = check_speaker_option(label, role, v)
        out[key] = role
    return out


class _Seg(Protocol):
    kind: str
    text: str
    line: int
    turn: int | None


def speaker_like(segs: Sequence[_Seg], speakers: Mapping[str, str]
                 ) -> dict[str, tuple[list[int], str]]:
    """Unknown name-like labels that recur like speakers (rules R1, R2 of the module
    docstring) in a segmented file: label -> (the lines it starts, which rule)."""
    openers: list[tuple[str, int, int | None, Label | None]] = []  # kind K/U/C, line, turn
    para_starts: set[int] = set()
    prev_blank = True
    after_label = False
    for s in segs:
        if s.kind == "label":
            openers.append(("K", s.line, s.turn, None))
            prev_blank, after_label = False, True
            continue
        if s.kind != "speech":
            prev_blank = s.kind != "thinking" or not s.text.strip()
            after_label = False
            continue
        if after_label:  # the rest of a label line
            after_label = False
            continue
        if not s.text.strip():
            prev_blank = True
            continue
        lab = match_label(s.text)
        if prev_blank:
            para_starts.add(s.line)
        if lab and lab.role(speakers) is None and lab.name_like:
            openers.append(("U", s.line, s.turn, lab))
        elif prev_blank:
            openers.append(("C", s.line, s.turn, None))
        prev_blank = False
    found: dict[str, list[int]] = {}
    paras: dict[str, int] = {}
    flagged: dict[str, str] = {}
    for _, line, _, lab in openers:
        if lab is not None:
            found.setdefault(lab.label, []).append(line)
            paras[lab.label] = paras.get(lab.label, 0) + (line in para_starts)
    i, n = 0, len(openers)
    while i < n:  # R1: runs of unknown labels a known label (or the file's end) follows
        j = i
        while j < n and openers[j][0] == "U":
            j += 1
        if j > i and (openers[j][0] if j < n else "K") == "K":
            for _, _, _, lab in openers[i:j]:
                flagged.setdefault(lab.label, "followed by a known speaker's turn")
        i = j + 1
    for k in found:  # R2
        if k not in flagged and paras[k] >= 2:
            flagged[k] = f"opening {paras[k]} paragraphs"
    return {k: (found[k], why) for k, why in flagged.items()}


def label_lines(text_lines: Sequence[str], label: str) -> list[int]:
    """The 1-based lines of ``text_lines`` that start with ``label`` (as written)."""
    out = []
    for n, line in enumerate(text_lines, start=1):
        lab = match_label(line.removeprefix("\ufeff"))
        if lab and lab.label == label:
            out.append(n)
    return out


def unknown_speaker(path: object, label: str, lines: Sequence[int], rule: str,
                    others: Mapping[str, Sequence[int]] | None = None) -> UnknownSpeakerError:
    """The error for an unknown label that recurs like a speaker (``rule`` says how); ``others``:
    the file's other such labels and their lines, named at the end."""
    first = ", ".join(map(str, lines[:5])) + (", ..." if len(lines) > 5 else "")
    name = label.split(" (")[0]
    n = len(lines)
    err = UnknownSpeakerError(
        path, lines[0],
        f"unknown speaker label {label!r} at the start of {n} line{'s' * (n > 1)} ({first}), "
        f"{rule}",
        f"a known speaker label or a mapping: --speaker '{name}=patient' or "
        f"--speaker '{name}=therapist' (--speaker '{name}=content' keeps it inside turns)"
        + "".join(f"; also unknown: {k!r} (lines {', '.join(map(str, v[:5]))})"
                  for k, v in (others or {}).items()))
    err.label = label
    return err
