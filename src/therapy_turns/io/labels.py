"""Speaker labels and a text transcript cut into segments (the rules: ``docs/loading.md``)."""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

from therapy_turns.io.files import TranscriptError
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import SPEAKERS

Speakers = Mapping[str, str]  # a label (lower-case) -> role mapping
_DATA = read_yaml(DATA_DIR / "labels.yaml")
DEFAULT_SPEAKERS = {k: role for role, ks in _DATA["speakers"].items() for k in ks}
ABBREVIATIONS = {k: role for role, ks in _DATA["abbreviations"].items() for k in ks}
HEADING_WORDS = frozenset(_DATA["heading_words"])
BOM = "\ufeff"
_WORD = _DATA["word"]
LABEL_RE = re.compile("".join(_DATA["label"]).replace("WORD", _WORD))  # the label grammar
_NAME_LIKE = re.compile(_DATA["name_like"])
_SEP_RE = re.compile(_DATA["separator"])
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")  # form feed, NEL, U+2028 stay


class Label(NamedTuple):
    """A line-start label (``label`` as written, without bold, timestamp or indentation)."""

    end: int
    label: str
    keys: tuple[str, ...]  # the lower-case name with its number, then without
    part: str
    timestamp: str
    name_like: bool  # capitalised, at most three words, not a heading (``Step 1``, ``Goal``)


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
    return DEFAULT_SPEAKERS | parse_speaker_options([f"{k}={r}" for k, r in (extra or {}).items()])


def parse_speaker_options(values: Sequence[str]) -> dict[str, str]:
    """``--speaker LABEL=ROLE`` values as a (lower-case) label -> role mapping, each checked."""
    out: dict[str, str] = {}
    for v in values:
        label, sep, role = v.partition("=")
        key, role, bad = " ".join(label.split()), role.strip(), _DATA["bad_option_labels"]
        why = next((w for p, w in bad.items() if re.search(p.replace("WORD", _WORD), key)), None)
        if not sep:
            raise TranscriptError("speaker_option_sign", "--speaker", option=v)
        if why := why or (role.lower() not in (*SPEAKERS, "content") and f"role {role!r}"):
            raise TranscriptError("speaker_option", "--speaker", option=v, why=why)
        out[key.lower()] = role.lower()
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
    abbr, speakers = ABBREVIATIONS, dict(speakers or DEFAULT_SPEAKERS)
    bom = [Segment("separator", BOM, 1)] if text.startswith(BOM) else []  # a separator
    lines = _LINE_RE.findall(text.removeprefix(BOM))
    while True:  # cut again while abbreviations become speakers (docs/loading.md)
        segs, like, where = _cut(lines, path, speakers)
        abbrev = {k.lower() for k in like} & abbr.keys()
        mapped = {r for k, r in speakers.items() if k in abbr and r in SPEAKERS}
        if mapped:  # then one of the other role at any line start is a speaker too
            starts = {m.keys[-1] for x in segs if x.kind == "speech" and (m := match_label(x.text))}
            abbrev |= {k for k in starts - speakers.keys() if abbr.get(k) in {*SPEAKERS} - mapped}
        named = {x.role for x in segs if x.role and match_label(x.text).keys[-1] not in abbr}
        both = ({abbr[k] for k in abbrev} | mapped) == set(SPEAKERS)
        if not (take := {k: abbr[k] for k in abbrev if both or abbr[k] not in named}):
            break
        speakers.update(take)
    if like:  # the first unknown label by line; the others named too (their first 5 lines)
        label, *others = sorted(like, key=lambda k: where[k][0])
        n, at, name = len(where[label]), where[label], label.split(" (")[0]
        lines = f"{n} line{'s' * (n > 1)} ({str(at[:5])[1:-1]}{', ...' * (n > 5)}), {like[label]}"
        also = "".join(f"; also unknown: {k!r} (lines {str(where[k][:5])[1:-1]})" for k in others)
        info = {"label": label, "name": name, "lines": lines, "also": also}
        raise TranscriptError("unknown_speaker", path, at[0], **info)
    return bom + segs


def _cut(lines: Sequence[str], path: str | Path, speakers: Speakers) -> tuple[list, dict, dict]:
    # the cut with a fixed mapping, the unknown labels that recur like speakers and their lines
    turn, mode, blank, segs, like = -1, "separator", True, [], {}
    blanks: list[Segment] = []  # blank lines: speech if their turn goes on, else separators
    pending: list[int] = []  # indices in segs of event lines waiting for the next patient turn
    where: dict[str, list[int]] = {}  # unknown name-like label -> the lines it starts
    paras: Counter[str] = Counter()  # R2: unknown label -> paragraphs it opens
    waiting: list[str] = []  # R1: unknown labels since the last turn or paragraph opener
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            blanks.append(Segment("separator", line, n))
            blank = True
            continue
        lab = match_label(line)
        role = next((speakers[k] for k in lab.keys if k in speakers), None) if lab else None
        sep = _SEP_RE.match(line)
        if not (sep or role in SPEAKERS):  # content of the current turn
            if mode == "separator" and lab and role is None:  # R0: the cut stops here
                found = enumerate(map(match_label, lines), 1)
                at = [i for i, m in found if m and m.label == lab.label]
                return [], {lab.label: "before any known speaker label"}, {lab.label: at}
            if mode == "separator":
                raise TranscriptError("outside_turn", path, n, text=line.strip().strip(BOM)[:60])
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
        raise TranscriptError("no_label", path, known=known)
    like |= dict.fromkeys(waiting, "followed by a known speaker's turn")  # the end counts as one
    like |= {k: f"opening {n} paragraphs" for k, n in paras.items() if n >= 2 and k not in like}
    return segs, like, where
