"""Command line: ``therapy-turns parse|analyze|table NAME|<measure> ...``.

``table NAME`` (and its alias, one command per registered measure: ``client``, ``emotion``,
``features``, ``techniques`` ...) writes one measure's table; the commands come from the measure
registry. Relative paths are relative to the current folder; nothing is written but the named
outputs.

Every sub-command reads transcripts through :func:`therapy_turns.io.transcripts.load_corpus`; a
:class:`~therapy_turns.io.transcripts.TranscriptError` is printed as one line (file, line, found,
expected) without a traceback, with exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import pandas as pd

from therapy_turns.analysis.sessions import MetadataError, read_metadata
from therapy_turns.io.errors import withhold_quoted
from therapy_turns.io.files import OutputError, atomic_write
from therapy_turns.io.labels import parse_speaker_options
from therapy_turns.io.tables import to_csv
from therapy_turns.io.transcripts import Corpus, TranscriptError, load_corpus
from therapy_turns.measures import registry
from therapy_turns.measures.registry import Measure
from therapy_turns.pipeline import SchedulerError, StaleTablesError, build_tables, parse_turns
from therapy_turns.schema import SPEAKERS

log = logging.getLogger("therapy_turns")


TABLE_OUT_SUFFIXES = (".csv", ".parquet")


class UsageError(Exception):
    """A bad option or path, found before any computing; printed as one line, exit 2."""


class Parser(argparse.ArgumentParser):
    """argparse with errors as one line (``therapy-turns CMD: message``), exit 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        self.exit(2, f"{self.prog}: {message}\n")


def check_out(out: str | Path) -> None:
    """``out`` must name a .csv or .parquet file (that it is not an input, the loader checks)."""
    if Path(out).suffix not in TABLE_OUT_SUFFIXES:
        raise UsageError(f"--out {out}: expected a .csv or .parquet file name")


def write_table(df: pd.DataFrame, out: str | Path) -> Path:
    """Write ``df`` as CSV or Parquet, chosen by the suffix of ``out`` (atomically: a failed
    write leaves the previous file)."""
    out = Path(out)
    with atomic_write(out) as tmp:
        if out.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif out.suffix == ".csv":
            to_csv(df, tmp)
        else:
            raise UsageError(f"--out {out}: expected a .csv or .parquet file name")
    return out


def _positive(cast: Callable[[str], float], expected: str) -> Callable[[str], float]:
    """An argparse type: ``cast(value)`` if it is > 0, else the error 'expected ...'."""
    def parse(value: str) -> float:
        try:
            x = cast(value)
        except ValueError:
            x = 0
        if not x > 0:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value!r}")
        return x
    return parse


_positive_int = _positive(int, "a whole number >= 1")
_positive_float = _positive(float, "a number of seconds > 0")


def _scheduler_arg(value: str) -> str:
    kind, sep, rest = value.partition(":")
    if kind == "local" and sep and rest.isdigit() and int(rest) >= 1:
        return value
    if "://" in value or (sep and rest.isdigit()):
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r}: expected local:N (N >= 1 worker processes) or tcp://HOST:PORT")


def _speaker_arg(value: str) -> tuple[str, str]:
    label, sep, role = value.partition("=")
    if not sep or role.strip().lower() not in SPEAKERS:
        raise argparse.ArgumentTypeError(f"{value!r}: expected LABEL=patient or LABEL=therapist")
    return label.strip(), role.strip().lower()


def load_args(args: argparse.Namespace) -> Corpus:
    """Load the corpus named by the common arguments and log what was skipped."""
    corpus = load_corpus(args.paths, on_error=args.on_error,
                         speakers=parse_speaker_options(args.speaker),
                         progress=None if not args.quiet else False, out=args.out,
                         event_patterns=getattr(args, "event_patterns", None))
    for s in corpus.skipped:
        reason = withhold_quoted(s.reason) if getattr(args, "redact", False) else s.reason
        print(f"skipped: {reason}", file=sys.stderr)
    if getattr(args, "events", None):
        from therapy_turns.io.events import attach_events, read_events

        corpus.turns = attach_events(corpus.turns, read_events(args.events), args.events)
    if getattr(args, "redact", False):
        from therapy_turns.io.redact import redact_turns

        corpus.turns = redact_turns(corpus.turns)
    return corpus


def _common(p: argparse.ArgumentParser, out_help: str = "output .csv or .parquet") -> None:
    p.add_argument("paths", nargs="+", help="transcript files, directories or globs")
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--speaker", action="append", default=[], metavar="LABEL=ROLE",
                   help="extra speaker label mapping, added to the defaults (repeatable): "
                        "ROLE is patient, therapist or content (never a speaker)")
    p.add_argument("--on-error", choices=["fail", "skip"], default="fail",
                   help="bad files: fail (default) or skip and list them")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--redact", action="store_true",
                   help="replace identifiers (names, places, organisations, dates, addresses, "
                        "postcodes, phone numbers, e-mails, URLs, handles, IPs, ID numbers, ages "
                        "over 89) by typed placeholders before anything else sees the text")


def cmd_parse(args: argparse.Namespace) -> int:
    """Write the turn table."""
    corpus = load_args(args)
    write_table(corpus.turns, args.out)
    print(corpus.summary())
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    """Parse once and write the partitioned Parquet tables and manifest (see pipeline.py).
    Relative paths are relative to the current folder."""
    from therapy_turns.measures.coder import CoderError

    if args.workers > 1 and args.scheduler:
        raise UsageError("give --workers or --scheduler, not both")
    if args.metadata is not None:
        read_metadata(args.metadata)  # a missing or malformed file fails before any computing
    try:
        tables = build_tables(args.paths, args.out, progress=not args.quiet,
                              metadata=args.metadata, workers=args.workers,
                              scheduler=args.scheduler, redact=args.redact,
                              chunk_sessions=args.chunk_sessions, cache_dir=args.cache_dir,
                              on_error=args.on_error, speakers=parse_speaker_options(args.speaker),
                              events=args.events, event_patterns=args.event_patterns,
                              technique_model=args.technique_model,
                              connect_timeout=args.connect_timeout)
    except CoderError as e:
        raise UsageError(str(e)) from None
    m = tables.manifest
    for s in m["skipped"]:
        print(f"skipped: {s['reason']}", file=sys.stderr)
    if m["metadata"]:
        for key in ("missing_metadata", "unknown_ids"):
            if m["metadata"][key]:
                print(f"{key}: {', '.join(m['metadata'][key])}", file=sys.stderr)
    print(f"{m['n_sessions']} sessions -> {args.out}: " + ", ".join(
        f"{k} ({v['rows']} rows)" for k, v in m["table_info"].items()))
    return 0


def cmd_table(args: argparse.Namespace) -> int:
    """Write the table of one registered measure (``therapy-turns table NAME`` or the measure's
    own command): keys plus the measure's columns (``--help`` of the command lists them); for
    ``techniques``, ``--technique-model`` takes the main behaviour from that trained coder."""
    from therapy_turns.measures.coder import CoderError, TechniqueModel

    measure = registry.get(args.measure)
    compute = measure.compute
    if getattr(args, "technique_model", None):
        if measure.name != "techniques":
            raise UsageError("--technique-model applies to the techniques table only")
        try:
            compute = TechniqueModel(args.technique_model)
        except CoderError as e:
            raise UsageError(str(e)) from None
    corpus = load_args(args)
    docs = parse_turns(corpus.turns, progress=not args.quiet)
    table = compute(corpus.turns, docs)
    if measure.cli_columns is not None:  # plus undeclared extras (main_behaviour_rules)
        declared = set(measure.column_names())
        table = table[[*measure.cli_columns, *(c for c in table if c not in declared)]]
    write_table(table, args.out)
    return 0


def _measure_help(measure: Measure) -> str:
    """A measure's columns with meaning and unit (``--help`` epilog)."""
    lines = [f"  {c.name}: {c.meaning}" + (f" [{c.unit}]" if c.unit else "")
             + ("" if set(c.speakers) == set(SPEAKERS) else f" ({'/'.join(c.speakers)} only)")
             for c in measure.columns]
    return "columns (after session_id, turn, speaker):\n" + "\n".join(lines)


def cmd_train_coder(args: argparse.Namespace) -> int:
    """Train a supervised coder on a coded turn table; print session-grouped CV agreement."""
    from therapy_turns.measures.coder import CoderError, format_cv, train_file

    try:
        coder, cv = train_file(args.table, args.label, args.out, args.text_column, args.group,
                               args.rules, args.seed)
    except CoderError as e:
        print(f"therapy-turns: {e}", file=sys.stderr)
        return 2
    s = coder.summary
    print(format_cv(cv, args.label, s["n_rows"], s["n_sessions"]))
    print(f"\nrule features: {s['rules']}; model -> {Path(args.out) / 'coder.pkl'} "
          f"(sha256 {s['payload_sha256'][:12]}), summary -> {Path(args.out) / 'summary.json'}")
    return 0


def _analyze_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--metadata", help="session metadata CSV keyed by session_id")
    p.add_argument("--workers", type=_positive_int, default=1,
                   help="local worker processes (default 1)")
    p.add_argument("--scheduler", type=_scheduler_arg,
                   help="Dask scheduler: local:N (LocalCluster) or tcp://HOST:PORT")
    p.add_argument("--connect-timeout", type=_positive_float, default=10.0,
                   help="seconds to wait for a --scheduler before giving up (default 10)")
    p.add_argument("--chunk-sessions", type=_positive_int, default=20,
                   help="sessions per partition")
    p.add_argument("--cache-dir", help="parse cache folder (default OUT/parse-cache)")


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--technique-model", metavar="MODEL_DIR",
                   help="code main behaviours with this train-coder model (default: the rules)")


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "parse": (cmd_parse, "load transcripts and write the turn table"),
    "analyze": (cmd_analyze, "parse once; write partitioned Parquet tables + manifest"),
}


def _set_arg(value: str) -> tuple[str, object]:
    key, sep, raw = value.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{value!r}: expected NAME=VALUE")
    import yaml

    return key.strip(), yaml.safe_load(raw)


def cmd_run_notebook(args: argparse.Namespace) -> int:
    """Execute a notebook with validated parameters (never in place)."""
    from papermill.exceptions import PapermillExecutionError

    from therapy_turns.report.notebooks import ParameterError, run_notebook

    logging.getLogger("therapy_turns.report").setLevel(logging.INFO)  # cell-by-cell progress
    try:
        run_notebook(args.notebook, args.output, args.params, dict(args.set), args.kernel,
                     html=args.html)
    except ParameterError as e:
        print(f"therapy-turns: {e}", file=sys.stderr)
        return 2
    except PapermillExecutionError as e:
        print(f"therapy-turns: {args.notebook} failed in cell {e.exec_count}: {e.ename}: "
              f"{e.evalue} (partial output in failed/ beside {args.output})", file=sys.stderr)
        return 1
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Build the self-contained HTML report from executed notebooks."""
    from therapy_turns.report.notebooks import build_index

    print(build_index(args.reports_dir, args.corpus, args.analysis_dir, args.out))
    return 0


def cmd_strip(args: argparse.Namespace) -> int:
    """Strip a notebook for commit, keeping (refreshed) nbval check outputs."""
    from therapy_turns.report.notebooks import strip_notebook

    for nb in args.notebooks:
        strip_notebook(nb, args.executed)
    return 0


def _add_report_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("strip-notebook", help=cmd_strip.__doc__)
    p.add_argument("notebooks", nargs="+")
    p.add_argument("--executed", help="executed copy to take the check cells' outputs from")
    p.set_defaults(func=cmd_strip)
    p = sub.add_parser("run-notebook", help=cmd_run_notebook.__doc__)
    p.add_argument("notebook")
    p.add_argument("output")
    p.add_argument("--params", help="params/*.yaml; unknown keys are an error")
    p.add_argument("--set", action="append", type=_set_arg, default=[], metavar="NAME=VALUE",
                   help="corpus-level override, passed only if the notebook declares NAME")
    p.add_argument("--kernel", default="therapy-turns")
    p.add_argument("--html", action="store_true", help="also write OUTPUT's .html beside it")
    p.set_defaults(func=cmd_run_notebook)
    p = sub.add_parser("report", help=cmd_report.__doc__)
    p.add_argument("reports_dir")
    p.add_argument("--corpus", default="seeds")
    p.add_argument("--analysis-dir", default="build/seeds")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_report)


def _add_coder_command(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train-coder", help=cmd_train_coder.__doc__,
                       description=cmd_train_coder.__doc__)
    p.add_argument("table", help="coded turn table (.csv or .jsonl), one row per coded turn")
    p.add_argument("--label", required=True, help="the code column to learn")
    p.add_argument("--out", required=True, help="model directory (coder.pkl + summary.json)")
    p.add_argument("--text-column", default="text", help="column holding the turn's text")
    p.add_argument("--group", default="session_id",
                   help="session column: cross-validation folds never split a session")
    p.add_argument("--rules", default="auto", choices=["auto", "therapist", "client", "none"],
                   help="rule coder whose codes are added as features (auto: by the label's codes)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_coder)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = Parser(prog="therapy-turns", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, (func, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        _common(p)
        if name == "analyze":
            _analyze_args(p)
        if name in ("parse", "analyze"):
            p.add_argument("--events", metavar="FILE.csv",
                           help="annotated events (session_id, turn, event) added to the turns' "
                                "event column")
            p.add_argument("--event-patterns", metavar="FILE.yaml",
                           help="event types of the transcripts' event lines (default: the "
                                "package's data/events.yaml)")
        if name == "analyze":
            _model_arg(p)
        p.set_defaults(func=func)
    measures = registry.measures()
    p = sub.add_parser("table", help="write the table of one measure: " + ", ".join(measures),
                       description=cmd_table.__doc__)
    p.add_argument("measure", choices=list(measures), help="the measure (table) name")
    _common(p)
    _model_arg(p)
    p.set_defaults(func=cmd_table)
    for name, m in measures.items():  # one command per measure, the same as `table NAME`
        if name in sub.choices:
            continue
        p = sub.add_parser(name, help=f"write the {name} table: {m.description}",
                           description=f"{m.description}.", epilog=_measure_help(m),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _common(p)
        if name == "techniques":
            _model_arg(p)
        p.set_defaults(func=cmd_table, measure=name)
    _add_report_commands(sub)
    _add_coder_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``therapy-turns`` console script."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # a bad option (one line printed) or --help
        return int(e.code or 0)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.func in (cmd_parse, cmd_table):
            check_out(args.out)
        return args.func(args)
    except TranscriptError as e:  # with --redact, without the transcript text it quotes
        print(f"therapy-turns {args.command}: "
              f"{e.withheld() if getattr(args, 'redact', False) else e}", file=sys.stderr)
        return 2
    except (OutputError, UsageError, MetadataError, SchedulerError, StaleTablesError) as e:
        print(f"therapy-turns {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
