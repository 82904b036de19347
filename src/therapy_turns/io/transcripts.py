"""Transcripts (files, folders, globs; text cut by speaker labels, CSV, JSONL) -> turn tables."""

import csv
import glob
import hashlib
import logging
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import groupby, islice
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import yaml
from tqdm.auto import tqdm

from therapy_turns.io.files import TranscriptError, csv_rows, jsonl_rows, read_text_file
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import DEFAULT_EXCLUDE, SPEAKERS

log = logging.getLogger(__name__)

TABLE_SUFFIXES = {".csv", ".jsonl"}
SUFFIXES = {".txt", ".md", ".text", *TABLE_SUFFIXES}
FLAGS = ["generation_error", "missing_answer", "meta_note", "truncated", "role_play"]
COLUMNS = ["session_id", "turn", "exchange", "speaker", "speaker_label", "text", "raw_text"]
COLUMNS += ["thinking", "event", "event_text", "source", "line_start", "line_end", "timestamp"]
COLUMNS += ["meta_notes", *FLAGS]
OTHER_EVENT, SEPARATOR = "other", ";"  # the type of an event line no pattern matches; joins types
REQUIRED_COLUMNS = ("session_id", "speaker", "text")  # of a CSV/JSONL transcript
EVENTS_FILE_COLUMNS = ("session_id", "turn", "event")
CorpusArg = str | Path | Sequence[str | Path]
Row = dict[str, object]
_INT = re.compile(r"\s*[+-]?\d+\s*")
EventTypes = dict[str, list[re.Pattern[str]]]  # event type -> patterns, in file order
_ARTEFACTS = {  # each kind's patterns as one alternation (docs/flags.md)
    k: re.compile("|".join(f"(?:{p})" for p in v), re.I | re.S)
    for k, v in read_yaml(DATA_DIR / "artefacts.yaml")["patterns"].items()
}
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
    name, num, paren = m["name"], m["num"], m["paren"]
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


class Corpus(NamedTuple):
    """The turn table of a corpus and the errors of the files skipped."""

    turns: pd.DataFrame
    skipped: list[TranscriptError]

    def summary(self) -> str:
        """One line: sessions, turns, flags, events, skipped files."""
        t, events = self.turns, event_counts(self.turns)
        flags = ", ".join(f"{f}={int(t[f].sum())}" for f in FLAGS)
        ev = "; events: " + ", ".join(f"{k}={n}" for k, n in events.items()) if events else ""
        n = t["session_id"].nunique()
        return f"{n} sessions, {len(t)} turns ({flags}){ev}; {len(self.skipped)} files skipped"


def event_types(path: str | Path | None = None) -> EventTypes:
    """The event type patterns of a YAML file (default the package's); a bad file raises."""
    path = Path(path or DATA_DIR / "events.yaml")
    try:
        raw = read_yaml(path)
        types = raw.get("types") if isinstance(raw, dict) else None
        if not isinstance(types, dict) or not all(isinstance(v, list) for v in types.values()):
            raise TranscriptError("event_types", path, what=f"{type(types).__name__} under 'types'")
        return {str(k): [re.compile(str(p), re.I) for p in v] for k, v in types.items()}
    except (OSError, yaml.YAMLError, re.error) as e:
        what = "no such file" if isinstance(e, OSError) else "invalid YAML"
        if isinstance(e, re.error):  # the first type holding the pattern, as in file order
            k = next(k for k, v in types.items() if e.pattern in map(str, v))
            what = f"an invalid regex for type {k!r} ({e})"
        mark = getattr(e, "problem_mark", None)
        raise TranscriptError("event_types", path, mark and mark.line + 1, what=what) from None


EVENT_TYPES = event_types()


def event_counts(turns: pd.DataFrame) -> dict[str, int]:
    """Events per type key in a turn table, sorted by key."""
    keys = [k for v in turns.get("event", []) if v for k in str(v).split(SEPARATOR)]
    return {k: keys.count(k) for k in sorted(set(keys))}


def read_events(path: str | Path) -> pd.DataFrame:
    """The rows of an events CSV (other columns ignored) with ``line``, the row's file line."""
    if not (path := Path(path)).is_file():
        raise TranscriptError("events_file", path)
    rows = []
    for line, _, r in csv_rows(path, EVENTS_FILE_COLUMNS, empty=True):
        sid, turn, event = (str(r[c]).strip() for c in EVENTS_FILE_COLUMNS)
        if not re.fullmatch(r"\d+", turn):
            raise TranscriptError("event_turn", path, line, turn=turn)
        if not event or "\n" in event:
            raise TranscriptError("event_key", path, line, event=event)
        rows.append({"session_id": sid, "turn": int(turn), "event": event, "line": line})
    return pd.DataFrame(rows, columns=[*EVENTS_FILE_COLUMNS, "line"])


def check_events(events: pd.DataFrame, n_turns: Mapping[str, int], path: str | Path) -> None:
    """Raise for the first row whose session or turn (``n_turns``: per session) is not known."""
    some = ", ".join(sorted(n_turns)[:3]) + (", ..." if len(n_turns) > 3 else "")
    for r in events.itertuples(index=False):
        if (sid := r.session_id) not in n_turns:
            raise TranscriptError("event_session", path, r.line, sid=sid, some=some)
        if r.turn >= n_turns[sid]:
            last = n_turns[sid] - 1
            raise TranscriptError("event_turn_range", path, r.line, turn=r.turn, sid=sid, last=last)


def attach_events(turns: pd.DataFrame, events: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """``turns`` with each row of ``events`` (``read_events`` of ``path``) added to its turn's."""
    check_events(events, turns.groupby("session_id")["turn"].max().add(1).to_dict(), path)
    out, key = turns.copy(), pd.MultiIndex.from_frame(turns[["session_id", "turn"]])
    for col, sep in (("event", SEPARATOR), ("event_text", "\n")):  # after the turn's own
        new = events.groupby(["session_id", "turn"])["event"].agg(sep.join).reindex(key).fillna("")
        out[col] = [sep.join(filter(None, p)) for p in zip(out[col].fillna(""), new, strict=True)]
    return out


def analyse_turn_text(raw: str, speaker: str) -> dict[str, object]:
    """``text`` (speech), ``meta_notes`` and the artefact flags of a turn's raw text."""
    keep, notes, flags = [], [], dict.fromkeys(FLAGS, False)
    paras = [p.strip() for p in re.split(r"\n[ \t]*\n", raw.replace("\r\n", "\n"))]
    for para in filter(None, paras):
        kind = next((k for k, rx in _ARTEFACTS.items() if rx.fullmatch(para)), None)  # file order
        if kind in FLAGS[:3]:  # removed from ``text``
            flags[kind] = True
            notes += [para] if kind == "meta_note" else []
        else:
            keep.append(para)
            flags["role_play"] |= kind == "role_play" and speaker == "therapist"
    text = "\n\n".join(keep)
    flags["missing_answer"] |= not text and not flags["generation_error"]  # no speech at all
    complete = _ARTEFACTS["complete_ending"].search(text.rstrip()[-100:])  # linear on any length
    flags["truncated"] = len(text.split()) >= 4 and not complete  # "Yeah", "I guess so": complete
    return {"text": text, "meta_notes": "\n\n".join(notes), **flags}


def turn_table(rows: list[Row]) -> pd.DataFrame:
    """The turn table of raw turn rows, grouped by session (each patient turn opens an exchange)."""
    if not rows:
        return pd.DataFrame(columns=COLUMNS)
    df = pd.DataFrame(rows)
    by = df.groupby("session_id", sort=False)
    opens = (df["speaker"] == "patient") & (by["speaker"].shift() != "patient")
    df["turn"] = by.cumcount()
    df["exchange"] = (opens.groupby(df["session_id"]).cumsum() - 1).clip(lower=0)
    derived = pd.DataFrame([analyse_turn_text(r["raw_text"], r["speaker"]) for r in rows])
    return pd.concat([df, derived], axis=1)[COLUMNS]


def text_rows(
    text: str, sid: str, source: str | Path, speakers: Speakers | None, types: EventTypes | None
) -> list[Row]:
    """The raw turn rows of one text transcript (plain or full variant)."""
    rows, types = [], EVENT_TYPES if types is None else types
    owned = [s for s in segment_text(text, source, speakers) if s.turn is not None]
    for _, g in groupby(sorted(owned, key=lambda s: s.turn), key=lambda s: s.turn):
        segs = list(g)
        head = next(s for s in segs if s.kind == "label")
        lab, events = match_label(head.text), [s.text for s in segs if s.kind == "event"]
        lines = [s.line for s in segs if s.kind != "event"]  # in order; an event stands before
        text = {k: "".join(s.text for s in segs if s.kind == k) for k in ("speech", "thinking")}
        kinds = [[k for k, ps in types.items() if any(p.search(e) for p in ps)] for e in events]
        row = {"session_id": sid, "speaker": head.role, "speaker_label": lab.label}
        row |= {"timestamp": lab.timestamp, "raw_text": text["speech"], "source": str(source)}
        row |= {"thinking": text["thinking"].strip(), "line_start": lines[0], "line_end": lines[-1]}
        row |= {"event": SEPARATOR.join((k or [OTHER_EVENT])[0] for k in kinds)}
        rows.append(row | {"event_text": "\n".join(e.rstrip("\r\n") for e in events)})
    return rows


def parse_text(
    text: str, session_id: str, source: str | Path = "<text>", speakers: Speakers | None = None
) -> pd.DataFrame:
    """The turn table of one text transcript (``speakers``: a label -> role mapping)."""
    return turn_table(text_rows(text, session_id, source, speakers, None))


def _string(path: Path, line: int, rec: dict[str, object], key: str, csv_: bool) -> str:
    value = rec.get(key)
    if key == "session_id" and (csv_ or type(value) is int):  # a JSON int id kept as text
        value = str(value).strip()
    if isinstance(value, str) and (value or key == "text"):
        return value
    what = "missing" if key not in rec else "empty" if value == "" else "null" * (value is None)
    what = f"{what} {key!r}" if what else f"{key} {value!r} ({type(value).__name__})"
    raise TranscriptError("not_string", path, line, what=what, key=key)


def table_rows(path: Path, speakers: Speakers) -> list[dict[str, object]]:
    """The raw turn rows of a CSV or JSONL file, by session (first appearance) and turn."""
    csv_ = path.suffix.lower() == ".csv"  # JSONL: a missing key is an error on its line
    records = list(csv_rows(path, REQUIRED_COLUMNS) if csv_ else jsonl_rows(path))
    if not records:
        raise TranscriptError("no_objects", path)
    has_turn = any("turn" in r for _, _, r in records)
    lookup, rows = ABBREVIATIONS | dict(speakers), {}
    for start, end, rec in records:
        sid, label, text = (_string(path, start, rec, k, csv_) for k in REQUIRED_COLUMNS)
        if (role := lookup.get(" ".join(label.split()).lower())) not in SPEAKERS:
            known = sorted(k for k, v in speakers.items() if v in SPEAKERS)
            raise TranscriptError("unmapped_speaker", path, start, label=label, known=known)
        order = rec.get("turn") if has_turn else len(rows)
        if not (type(order) is int or isinstance(order, str) and _INT.fullmatch(order)):
            raise TranscriptError("turn", path, start, turn=order)
        if (key := (sid, int(order))) in rows:
            raise TranscriptError("turn_again", path, start, key=key, first=rows[key]["line_start"])
        event = str(rec.get("event") or "").strip()
        stamp = "" if rec.get("timestamp") is None else str(rec["timestamp"])
        row = {"session_id": sid, "speaker": role, "speaker_label": label, "raw_text": text}
        row |= {"thinking": "", "event": event, "event_text": event, "source": str(path)}
        rows[key] = row | {"line_start": start, "line_end": end, "timestamp": stamp}
    first = {sid: i for i, sid in enumerate(dict.fromkeys(sid for sid, _ in rows))}
    return [rows[k] for k in sorted(rows, key=lambda k: (first[k[0]], k[1]))]


def to_csv(df: pd.DataFrame, out: str | Path) -> None:
    """Write ``df`` as CSV with every string cell quoted (a bare CR then reads back)."""
    df.to_csv(out, index=False, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)


def corpus_files(corpus: CorpusArg) -> dict[Path, str]:
    """The transcript files of a corpus in reading order with their session ids."""
    found: list[tuple[Path, Path]] = []  # (file, the folder its id is relative to)
    for p in map(Path, [corpus] if isinstance(corpus, (str, Path)) else corpus):
        if p.is_file():
            found.append((p, p.parent))
            continue
        if not p.is_dir() and not re.search(r"[*?[]", str(p)):
            raise TranscriptError("missing_path", p)
        pattern = f"{glob.escape(str(p))}/**/*" if p.is_dir() else str(p)
        files = sorted(Path(f) for f in glob.glob(pattern, recursive=True) if Path(f).is_file())
        if p.is_dir():  # transcripts by suffix (glob leaves hidden files out), not documentation
            files = [f for f in files if f.suffix.lower() in SUFFIXES]
            docs = [f for f in files if re.fullmatch(r"readme\.[^.]*|metadata\.csv", f.name, re.I)]
            if docs:
                names = ", ".join(str(f.relative_to(p)) for f in docs)
                log.info("%s: not read as sessions (documentation, metadata): %s", p, names)
            files = [f for f in files if f not in docs]
        elif not files:
            raise TranscriptError("no_match", p)
        base = p if p.is_dir() else Path(os.path.dirname(re.split(r"[*?[]", str(p))[0]) or ".")
        found += [(f, base) for f in files]
    stems, ids = Counter(f.stem for f, _ in found), {}
    for f, base in found:
        sid = f.stem if stems[f.stem] == 1 else f.relative_to(base).with_suffix("").as_posix()
        if sid in ids.values():
            raise TranscriptError("file_id", f, sid=sid)
        ids[f] = sid
    return ids


def corpus_checksum(corpus: CorpusArg) -> str:
    """SHA-256 over the sorted files' names and bytes."""
    h = hashlib.sha256()
    for f in corpus_files(corpus):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def session_parts(
    corpus: CorpusArg,
    speakers: Speakers | None = None,
    skipped: list[TranscriptError] | None = None,
    event_types: EventTypes | None = None,
) -> Iterator[list[Row]]:
    """The raw turn rows of each session; a bad file raises, or is skipped into ``skipped``."""
    speakers, seen = speaker_map(speakers), {}
    for f, sid in corpus_files(corpus).items():
        try:
            if f.suffix.lower() in TABLE_SUFFIXES:
                rows = table_rows(f, speakers)
            else:
                rows = text_rows(read_text_file(f), sid, f, speakers, event_types)
        except TranscriptError as e:
            if skipped is None:
                raise
            log.warning("skipped %s", e.withheld())
            skipped.append(e)
            continue
        for sid, session in groupby(rows, key=lambda r: r["session_id"]):
            if sid in seen:
                raise TranscriptError("session_id", f, sid=sid, other=seen[sid])
            seen[sid] = str(f)
            yield list(session)


def iter_chunks(sessions: Iterable[list[Row]], chunk_sessions: int) -> Iterator[pd.DataFrame]:
    """Turn tables of at most ``chunk_sessions`` consecutive sessions of :func:`session_parts`."""
    if chunk_sessions < 1:
        raise ValueError("chunk_sessions must be >= 1")
    it = iter(sessions)
    while batch := list(islice(it, chunk_sessions)):
        yield turn_table([r for s in batch for r in s])


def load_corpus(
    paths: CorpusArg,
    *,
    on_error: str = "fail",
    speakers: Speakers | None = None,
    progress: bool | None = None,
    event_patterns: str | Path | None = None,
    out: str | Path | None = None,
) -> Corpus:
    """One turn table of a corpus (``out``, the file the caller writes, must not be an input)."""
    files = corpus_files(paths)
    if out is not None and (same := [f for f in files if f.resolve() == Path(out).resolve()]):
        raise TranscriptError("same_file", out, file=same[0])
    skipped: list[TranscriptError] = []
    types = event_types(event_patterns) if event_patterns else None
    parts = session_parts(paths, speakers, skipped if on_error == "skip" else None, types)
    show = progress if progress is not None else len(files) > 20
    rows = [r for s in tqdm(parts, desc="load", unit="session", disable=not show) for r in s]
    return Corpus(turn_table(rows), skipped)


def analysable(turns: pd.DataFrame, exclude: Sequence[str] = DEFAULT_EXCLUDE) -> pd.DataFrame:
    """Turns kept for analysis: those with none of the ``exclude`` flags."""
    if unknown := set(exclude) - set(FLAGS):
        raise ValueError(f"unknown artefact flags {sorted(unknown)}; expected some of {FLAGS}")
    return turns[~turns[list(exclude)].any(axis=1)]
