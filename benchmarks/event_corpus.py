"""A larger full-transcript corpus with events, recombined from the seeds' full transcripts.

Each generated session (``evt_NNN``) takes the turn blocks of one seed in ``seeds-full/`` up to a
random block and continues with the next blocks of another seed (renumbered ``--- Turn N ---``
headers), with the seeds' own event lines removed and 0-4 new ones planted at other blocks:
the seeds' four System Notes (and a few other bracketed headers), placed after the header
(before the thinking), after the therapist's answer, or two in one block. The patient's replies
were *not* written under these events, so the event-locked analysis should find no effect on
this corpus (a null check) while the loader must find every planted event.

Writes ``DIR/full/`` (the transcripts, with ``metadata.csv`` whose columns are not the seeds'),
``DIR/plain/`` (the same transcripts without event lines), ``DIR/events.csv`` (the planted events
as ``session_id, turn, event``: the annotated form for ``--events``, and the ground truth).

Usage: ``python benchmarks/event_corpus.py DIR [--sessions 40] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS_FULL = ROOT / "seeds-full"
HEADER = re.compile(r"^--- Turn (\d+)( \(Patient Initiation\))? ---\n", re.M)
EVENT_LINE = re.compile(r"^--- \[.*\] ---\n\n?", re.M)
NOTES = {
    "confusion": "You are suddenly confused by what the therapist is saying. It doesn't seem to "
                 "make sense or apply to you. Let this confusion show in your next response.",
    "stressful_news": "You just received a stressful text message. Your mood has suddenly "
                      "shifted to be more anxious and distracted.",
    "intrusive_memory": "You have just been distracted by a sudden, intrusive memory of a past "
                        "failure. Your response must be colored by the shame and frustration.",
    "fatigue": "You are suddenly feeling very tired and emotionally drained. The conversation "
               "feels like a huge effort.",
}
OTHER = ["[Researcher note: the connection dropped for a minute]",
         "[Observer: patient looked at their phone]"]


def blocks(text: str) -> list[str]:
    """The turn blocks of a full transcript without their headers and event lines."""
    text = EVENT_LINE.sub("", text)
    parts = HEADER.split(text)
    # split gives ['', n, initiation, body, n, initiation, body, ...]
    return [parts[i + 2] for i in range(1, len(parts), 3)]


def event_line(kind: str, n: int, rng: random.Random) -> str:
    if kind == "other":
        return f"--- {rng.choice(OTHER)} ---"
    return f"--- [SYSTEM INJECTION at Turn {n}]: [System Note: {NOTES[kind]}] ---"


def make(out: Path, n_sessions: int = 40, seed: int = 0) -> Path:
    """Write the corpus (see module docstring) under ``out``; returns ``out``."""
    rng = random.Random(seed)
    seeds = {f.stem: blocks(f.read_text(encoding="utf-8")) for f in sorted(
        SEEDS_FULL.glob("*.txt"))}
    names = sorted(seeds)
    (out / "full").mkdir(parents=True, exist_ok=True)
    (out / "plain").mkdir(parents=True, exist_ok=True)
    truth, meta = [], []
    for k in range(n_sessions):
        a, b = rng.sample(names, 2)
        n_blocks = rng.randint(14, 25)
        cut = rng.randint(5, n_blocks - 4)
        body = seeds[a][:cut] + seeds[b][cut:n_blocks]
        body = [blk for blk in body if "Patient:" in blk] if len(body) > 1 else body
        n_events = rng.choice([0, 1, 2, 3, 3, 4, 4])
        at = sorted(rng.sample(range(3, len(body)), min(n_events, len(body) - 3)))
        full, plain = [], []
        sid = f"evt_{k:03d}"
        for n, blk in enumerate(body):
            head = f"--- Turn {n}{' (Patient Initiation)' if n == 0 else ''} ---\n"
            plain.append(head + blk)
            if n not in at:
                full.append(head + blk)
                continue
            kinds = [rng.choice([*NOTES, *NOTES, "other"])]
            if rng.random() < 0.1:
                kinds.append(rng.choice(list(NOTES)))
            lines = "".join(f"{event_line(kd, n, rng)}\n\n" for kd in kinds)
            if rng.random() < 0.25 and "\nPatient:" in blk:  # after the therapist's answer
                i = blk.index("\nPatient:") + 1
                full.append(head + blk[:i] + lines + blk[i:])
            else:  # before the thinking
                full.append(head + "\n" + lines + blk.lstrip("\n"))
            truth += [{"session_id": sid, "turn": 2 * n, "event": kd} for kd in kinds]
        (out / "full" / f"{sid}.txt").write_text("".join(full), encoding="utf-8")
        (out / "plain" / f"{sid}.txt").write_text("".join(plain), encoding="utf-8")
        meta.append({"sid": sid, "first_source": a, "second_source": b, "blocks": len(body)})
    with (out / "events.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, ["session_id", "turn", "event"], lineterminator="\n")
        w.writeheader()
        w.writerows(truth)
    with (out / "full" / "metadata.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, list(meta[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(meta)
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=Path)
    p.add_argument("--sessions", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(make(a.out, a.sessions, a.seed))
