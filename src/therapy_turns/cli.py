"""Command line: ``therapy-turns parse|features|emotion|techniques|analyze ...``.

Every sub-command reads transcripts through :func:`therapy_turns.transcripts.load_corpus`; a
:class:`~therapy_turns.transcripts.TranscriptError` is printed as one line (file, line, found,
expected) without a traceback, with exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from .transcripts import Corpus, TranscriptError, load_corpus

log = logging.getLogger("therapy_turns")


def write_table(df: pd.DataFrame, out: str | Path) -> Path:
    """Write ``df`` as CSV or Parquet, chosen by the suffix of ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        df.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        df.to_csv(out, index=False, lineterminator="\n")
    else:
        raise SystemExit(f"therapy-turns: --out {out}: expected a .csv or .parquet file name")
    return out


def _speaker_arg(value: str) -> tuple[str, str]:
    label, sep, role = value.partition("=")
    if not sep or role.strip().lower() not in ("patient", "therapist"):
        raise argparse.ArgumentTypeError(f"{value!r}: expected LABEL=patient or LABEL=therapist")
    return label.strip(), role.strip().lower()


def load_args(args: argparse.Namespace) -> Corpus:
    """Load the corpus named by the common arguments and log what was skipped."""
    corpus = load_corpus(args.paths, on_error=args.on_error, speakers=dict(args.speaker) or None,
                         progress=None if not args.quiet else False)
    for s in corpus.skipped:
        print(f"skipped: {s.reason}", file=sys.stderr)
    return corpus


def _common(p: argparse.ArgumentParser, out_help: str = "output .csv or .parquet") -> None:
    p.add_argument("paths", nargs="+", help="transcript files, directories or globs")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--speaker", action="append", type=_speaker_arg, default=[],
                   metavar="LABEL=ROLE", help="extra speaker label mapping (repeatable)")
    p.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                   help="bad files: fail (default) or skip and list them")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def cmd_parse(args: argparse.Namespace) -> int:
    """Write the turn table."""
    corpus = load_args(args)
    write_table(corpus.turns, args.out)
    print(corpus.summary())
    return 0


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "parse": (cmd_parse, "load transcripts and write the turn table"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="therapy-turns", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (func, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        _common(p)
        p.set_defaults(func=func)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``therapy-turns`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except TranscriptError as e:
        print(f"therapy-turns: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
