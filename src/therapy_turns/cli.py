"""Command line: the ``therapy-turns`` sub-commands (their help and options: ``data/cli.yaml``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from contextlib import suppress
from inspect import signature
from pathlib import Path
from typing import NoReturn

import pandas as pd
import yaml

from therapy_turns.analysis.sessions import read_metadata
from therapy_turns.io import transcripts as tx
from therapy_turns.io.files import TranscriptError, atomic_write
from therapy_turns.measures import registry
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.pipeline import build_tables, parse_turns
from therapy_turns.schema import SPEAKERS

SPEC = read_yaml(DATA_DIR / "cli.yaml")  # the sub-commands' help, options and messages


class UsageError(Exception):
    """A bad option or path, found before any computing; printed as one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse with errors as one line (``therapy-turns CMD: message``), exit 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        self.exit(2, f"{self.prog}: {message}\n")


def write_table(df: pd.DataFrame, out: str | Path) -> None:
    """Write ``df`` as Parquet (suffix ``.parquet``) or CSV, atomically."""
    with atomic_write(out := Path(out)) as tmp:
        df.to_parquet(tmp, index=False) if out.suffix == ".parquet" else tx.to_csv(df, tmp)


def _positive(cast: Callable[[str], float], expected: str, value: str) -> float:
    with suppress(ValueError):
        if (x := cast(value)) > 0:
            return x
    raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")


def _scheduler(value: str) -> str:
    kind, sep, rest = value.partition(":")
    if "://" in value or (sep and rest.isdigit() and (kind != "local" or int(rest) >= 1)):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: {SPEC['messages']['scheduler']}")


def _setting(value: str) -> tuple[str, object]:
    key, sep, raw = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{value!r}: expected NAME=VALUE")
    return key.strip(), yaml.safe_load(raw)


def load_args(args: argparse.Namespace) -> tx.Corpus:
    """Load the corpus named by the common arguments; list what was skipped on stderr."""
    kw = dict(on_error=args.on_error, progress=False if args.quiet else None, out=args.out)
    kw |= dict(speakers=tx.parse_speaker_options(args.speaker), event_patterns=args.event_patterns)
    turns, skipped = tx.load_corpus(args.paths, **kw)
    for s in skipped:
        print(f"skipped: {s.withheld() if args.redact else s}", file=sys.stderr)
    if args.events:
        turns = tx.attach_events(turns, tx.read_events(args.events), args.events)
    if args.redact:
        from therapy_turns.io.redact import redact_turns

        turns = redact_turns(turns)
    return tx.Corpus(turns, skipped)


def _parse(args: argparse.Namespace) -> None:
    corpus = load_args(args)
    write_table(corpus.turns, args.out)
    print(corpus.summary())


def _analyze(args: argparse.Namespace) -> None:
    if args.workers > 1 and args.scheduler:
        raise UsageError("give --workers or --scheduler, not both")
    if args.metadata is not None:
        read_metadata(args.metadata)  # a missing or malformed file fails before any computing
    # the options named as build_tables' parameters are passed on as they are
    options = {k: v for k, v in vars(args).items() if k in signature(build_tables).parameters}
    options["speakers"] = tx.parse_speaker_options(args.speaker)
    m = build_tables(args.paths, args.out, progress=not args.quiet, **options)
    for s in m["skipped"]:
        print(f"skipped: {s['reason']}", file=sys.stderr)
    for key in ("missing_metadata", "unknown_ids"):
        if ids := (m["metadata"] or {}).get(key):
            print(f"{key}: {', '.join(ids)}", file=sys.stderr)
    rows = ", ".join(f"{k} ({v['rows']} rows)" for k, v in m["table_info"].items())
    print(f"{m['n_sessions']} sessions -> {args.out}: {rows}")


def _table(args: argparse.Namespace) -> None:
    from therapy_turns.measures.coder import TechniqueModel

    measure = registry.get(args.measure)
    if args.technique_model and measure.name != "techniques":
        raise UsageError("--technique-model applies to the techniques table only")
    compute = TechniqueModel(args.technique_model) if args.technique_model else measure.compute
    corpus = load_args(args)
    table = compute(corpus.turns, parse_turns(corpus.turns))
    if measure.cli_columns is not None:  # plus undeclared extras (main_behaviour_rules)
        extras = [c for c in table if c not in measure.column_names()]
        table = table[[*measure.cli_columns, *extras]]
    write_table(table, args.out)


def _train_coder(args: argparse.Namespace) -> None:
    from therapy_turns.measures.coder import format_cv, train_file

    a, out = args, Path(args.out)
    coder, cv = train_file(a.table, a.label, out, a.text_column, a.group, a.rules, a.seed)
    s = coder.summary
    print(format_cv(cv, args.label, s["n_rows"], s["n_sessions"]))
    print(SPEC["messages"]["trained"].format(summary=s, out=out, sha=s["payload_sha256"][:12]))


def _notebooks(args: argparse.Namespace) -> int | None:
    """run-notebook, report, strip-notebook: papermill and nbconvert (1.4 s) imported here only."""
    from papermill.exceptions import PapermillExecutionError

    from therapy_turns.report import notebooks

    a = args
    if a.command == "report":
        print(notebooks.build_index(a.reports_dir, a.corpus, a.analysis_dir, a.out))
    elif a.command == "strip-notebook":
        for nb in a.notebooks:
            notebooks.strip_notebook(nb, a.executed)
    else:
        logging.getLogger("therapy_turns.report").setLevel(logging.INFO)  # cell-by-cell progress
        try:
            notebooks.run_notebook(a.notebook, a.output, a.params, dict(a.set), a.kernel, a.html)
        except PapermillExecutionError as e:
            print(SPEC["messages"]["notebook_failed"].format(args=a, error=e), file=sys.stderr)
            return 1


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command (their help and options: ``data/cli.yaml``)."""
    spec, measures = SPEC, registry.measures()
    types = {"int": int, "setting": _setting, "scheduler": _scheduler}
    types["count"] = lambda v: _positive(int, "a whole number >= 1", v)
    types["seconds"] = lambda v: _positive(float, "a number of seconds > 0", v)
    parser = Parser(prog="therapy-turns", description=spec["help"]["therapy-turns"])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.set_defaults(event_patterns=None, technique_model=None, events=None)  # if no option
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    reads = {"parse": _parse, "analyze": _analyze, "table": _table}  # transcripts: the options
    commands = reads | dict.fromkeys(measures, _table)
    commands |= dict.fromkeys(("strip-notebook", "run-notebook", "report"), _notebooks)
    commands["train-coder"] = _train_coder
    for name, func in commands.items():
        help, kw = spec["help"].get(name, "").format(", ".join(measures)), {}
        if m := measures.get(name):  # one command per measure, the same as `table NAME`
            help = f"write the {name} table: {m.description}"
            epilog = "columns (after session_id, turn, speaker):"
            for c in m.columns:
                only = "" if set(c.speakers) == set(SPEAKERS) else f" ({'/'.join(c.speakers)} only)"
                epilog += f"\n  {c.name}: {c.meaning}" + (f" [{c.unit}]" if c.unit else "") + only
            raw = argparse.RawDescriptionHelpFormatter
            kw = dict(description=f"{m.description}.", epilog=epilog, formatter_class=raw)
        p = sub.add_parser(name, help=help, **{"description": help, **kw})
        p.set_defaults(func=func, measure=name)
        if name == "table":
            p.add_argument("measure", choices=list(measures), help="the measure (table) name")
        options = spec["transcripts"] if func in reads.values() else {}
        for flag, o in {**options, **spec.get(name, {})}.items():
            p.add_argument(flag, **{**o, "type": types[o["type"]]} if "type" in o else o)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``therapy-turns`` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # a bad option (one line printed) or --help
        return int(e.code or 0)
    level = logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.func in (_parse, _table) and Path(args.out).suffix not in (".csv", ".parquet"):
            raise UsageError(f"--out {args.out}: expected a .csv or .parquet file name")
        return args.func(args) or 0  # a command returns None for 0
    except Exception as e:  # the package's own error types are one-line messages, exit 2
        if not (isinstance(e, UsageError) or type(e).__module__.startswith("therapy_turns.")):
            raise
        if isinstance(e, TranscriptError) and getattr(args, "redact", False):
            e = e.withheld()  # with --redact, without the transcript text it quotes
        print(f"therapy-turns {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
