"""Speaker labels and the cut of a text transcript into segments (the label grammar and the
unknown-speaker rule: ``docs/loading.md``)."""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from therapy_turns.io import errors
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import SPEAKERS

Speakers = Mapping[str, str]  # a label (lower-case) -> role mapping
_DATA = read_yaml(DATA_DIR / "labels.yaml")
DEFAULT_SPEAKERS = {k: role for role, ks in _DATA["speakers"].items() for k in ks}
ABBREVIATIONS = {k: role for role, ks in _DATA["abbreviations"].items() for k in ks}
HEADING_WORDS = frozenset(_DATA["heading_words"])
BOM = "\ufeff"

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
_NAME_LIKE = re.compile(r"[A-Z][A-Za-z.'’-]*(?: [A-Z][A-Za-z.'’-]*){0,2}")
_OPTION_LABEL = re.compile(rf"{_WORD}(?: {_WORD})*(?: \d{{1,3}})?")
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # form feed, NEL, U+2028 stay
# a --- Turn N --- header, or an event line (``io.events``)
_SEP_RE = re.compile(r"^---(?:\s*Turn\s+\d+.*|[ \t]*(?P<event>\[.*\][^\n]*))---[ \t]*\r?$")
_OPTION = "LABEL=patient, LABEL=therapist or LABEL=content"
_HELP = _OPTION + ", with LABEL as written before the colon, e.g. --speaker 'Dr Lee=therapist'"
_MAP = "(map other labels with --speaker LABEL=patient|therapist)"
_A_LABEL = "a line starting with a speaker label such as 'Patient:' or 'Therapist:'"


class Label(NamedTuple):
    """A line-start label (``label`` as written, without bold, timestamp or indentation)."""

    end: int
    label: str
    keys: tuple[str, ...]
    part: str
    timestamp: str
    name_like: bool  # capitalised, at most three words, not a heading (``Step 1``, ``Goal``)

    def role(self, speakers: Speakers) -> str | None:
        """The mapped role (patient/therapist/content), or None if unknown."""
        return next((speakers[k] for k in self.keys if k in speakers), None)


def match_label(line: str) -> Label | None:
    """The label that opens ``line``, or None."""
    if not (m := LABEL_RE.match(line)):
        return None
    name, num, paren = " ".join(m["name"].split()), m["num"], m["paren"]
    label = name + (f" {num}" if num else "") + (f" ({paren.strip()})" if paren else "")
    keys = ((f"{name} {num}".lower(),) if num else ()) + (name.lower(),)
    name_like = bool(_NAME_LIKE.fullmatch(name)) and name.split()[0].lower() not in HEADING_WORDS
    name_like &= len(name) > 1 or name.lower() in ABBREVIATIONS
    return Label(m.end(), label, keys, (m["part"] or "").strip().lower(), m["ts"] or "", name_like)


def speaker_map(extra: Speakers | None = None) -> dict[str, str]:
    """The default label -> role mapping plus ``extra`` (``--speaker``: adds, never replaces)."""
    return DEFAULT_SPEAKERS | dict(check_speaker_option(k, r) for k, r in (extra or {}).items())


def check_speaker_option(label: str, role: str, option: str | None = None) -> tuple[str, str]:
    """One ``--speaker LABEL=ROLE`` as (lower-case key, role), or :class:`SpeakerOptionError`."""
    key, option = " ".join(label.split()), option or f"{label}={role}"
    why = next((w for p, w in _DATA["bad_option_labels"].items() if re.search(p, key)), None)
    if not why and not _OPTION_LABEL.fullmatch(key):
        why = _DATA["option_label_grammar"]
    if not why and role.strip().lower() not in (*SPEAKERS, "content"):  # content: opens no turn
        why = f"role {role.strip()!r}"
    if why:
        raise errors.SpeakerOptionError("--speaker", None, f"{option!r}: {why}", _HELP)
    return key.lower(), role.strip().lower()


def parse_speaker_options(values: Sequence[str]) -> dict[str, str]:
    """``--speaker LABEL=ROLE`` values as a mapping, each checked."""
    out: dict[str, str] = {}
    for v in values:
        label, sep, role = v.partition("=")
        if not sep:
            raise errors.SpeakerOptionError("--speaker", None, f"{v!r} without '='", _OPTION)
        key, out[key] = check_speaker_option(label, role, v)
    return out


class Segment(NamedTuple):
    """A piece of a text file (kind label, speech, thinking, event or separator)."""

    kind: str
    text: str
    line: int
    turn: int | None = None
    role: str | None = None


def segment_text(
    text: str, path: str | Path = "<text>", speakers: Speakers | None = None
) -> list[Segment]:
    """A text transcript cut into segments whose concatenation is exactly ``text``."""
    speakers = dict(speakers or DEFAULT_SPEAKERS)
    lines = _LINE_RE.findall(text)
    while True:  # again while abbreviations become speakers (each time one more is mapped)
        try:
            segs, like, where = _cut(lines, path, speakers)
        except errors.UnknownSpeakerError as e:  # an abbreviation opening the file is a speaker
            if e.label.lower() not in ABBREVIATIONS:
                raise
            speakers[e.label.lower()] = ABBREVIATIONS[e.label.lower()]
            continue
        # map the speaker-like abbreviations where unambiguous (docs/loading.md), and cut again
        abbrev = {k.lower() for k in like if k.lower() in ABBREVIATIONS}
        mapped = {r for k, r in speakers.items() if k in ABBREVIATIONS and r in SPEAKERS}
        if mapped:  # then one of the other role at any line start is a speaker too
            starts = {m.keys[-1] for x in segs if x.kind == "speech" and (m := match_label(x.text))}
            other = set(SPEAKERS) - mapped
            abbrev |= {k for k in starts - speakers.keys() if ABBREVIATIONS.get(k) in other}
        named = {
            x.role for x in segs if x.role and match_label(x.text).keys[-1] not in ABBREVIATIONS
        }
        both = ({ABBREVIATIONS[k] for k in abbrev} | mapped) == set(SPEAKERS)
        take = {k: ABBREVIATIONS[k] for k in abbrev if both or ABBREVIATIONS[k] not in named}
        if not take:
            break
        speakers.update(take)
    if like:
        (label, rule), *others = sorted(like.items(), key=lambda kv: where[kv[0]][0])
        others = [(k, where[k]) for k, _ in others]
        raise errors.UnknownSpeakerError(path, label, where[label], rule, others)
    return segs


def _cut(lines: Sequence[str], path: str | Path, speakers: Speakers) -> tuple[list, dict, dict]:
    # the cut with a fixed mapping, the unknown labels that recur like speakers and their lines
    segs: list[Segment] = []
    turn, mode, blank = -1, "separator", True
    blanks: list[Segment] = []  # blank lines: speech if their turn goes on, else separators
    pending: list[int] = []  # indices in segs of event lines waiting for the next patient turn
    where: dict[str, list[int]] = {}  # unknown name-like label -> the lines it starts
    paras: Counter[str] = Counter()  # R2: unknown label -> paragraphs it opens
    like: dict[str, str] = {}
    waiting: list[str] = []  # R1: unknown labels since the last turn or paragraph opener
    for n, line in enumerate(lines, start=1):
        if n == 1 and line.startswith(BOM):
            segs.append(Segment("separator", BOM, 1))
            line = line[1:]
        if not line.strip():
            blanks.append(Segment("separator", line, n))
            blank = True
            continue
        lab = match_label(line)
        role = lab.role(speakers) if lab else None
        sep = _SEP_RE.match(line)
        if not (sep or role in SPEAKERS):  # content of the current turn
            if mode == "separator" and lab and role is None:  # text before the first known label
                found = (match_label(x.removeprefix(BOM)) for x in lines)
                at = [i for i, m in enumerate(found, 1) if m and m.label == lab.label]
                rule = "before any known speaker label"
                raise errors.UnknownSpeakerError(path, lab.label, at, rule)
            if mode == "separator":
                found = f"text outside any turn: {line.strip().strip(BOM)[:60]!r}"
                raise errors.TextBeforeLabelError(path, n, found, f"{_A_LABEL} {_MAP}")
            segs += [b._replace(kind=mode, turn=turn) for b in blanks]
            segs.append(Segment(mode, line, n, turn))
            if mode == "speech" and lab and role is None and lab.name_like:
                where.setdefault(lab.label, []).append(n)
                paras[lab.label] += blank
                waiting.append(lab.label)
            elif mode == "speech" and blank:
                waiting.clear()
        elif sep:
            segs += blanks
            pending += [len(segs)] if sep["event"] else []
            segs.append(Segment("event" if sep["event"] else "separator", line, n))
            mode = mode if sep["event"] else "separator"
        else:
            segs += blanks
            if not (lab.part == "answer" and mode == "thinking"):
                turn += 1
                if role == "patient":
                    for i in pending:
                        segs[i] = segs[i]._replace(turn=turn)
                    pending.clear()
            mode = "thinking" if lab.part == "thinking" else "speech"
            like |= dict.fromkeys(waiting, "followed by a known speaker's turn")
            waiting.clear()
            segs.append(Segment("label", line[: lab.end], n, turn, role))
            if line[lab.end :]:
                segs.append(Segment(mode, line[lab.end :], n, turn))
        blank = bool(sep)
        blanks.clear()
    segs += blanks
    for i in pending:  # events after the last patient turn: kept on the last turn
        segs[i] = segs[i]._replace(turn=max(turn, 0))
    if turn < 0:
        known = sorted(k for k, v in speakers.items() if v in SPEAKERS)
        expected = f"lines starting with one of {known} followed by ':' {_MAP}"
        found = "no line starting with a recognised speaker label"
        raise errors.NoSpeakerLabelError(path, None, found, expected)
    like |= dict.fromkeys(waiting, "followed by a known speaker's turn")  # the end counts as one
    like |= {k: f"opening {n} paragraphs" for k, n in paras.items() if n >= 2 and k not in like}
    return segs, like, where
