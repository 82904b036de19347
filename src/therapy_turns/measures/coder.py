"""``train-coder``: TF-IDF + rule codes -> logistic regression on a lab's codes, grouped CV."""

import hashlib
import json
import logging
import pickle
from collections import defaultdict, namedtuple
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import Pipeline

from therapy_turns.io.files import atomic_write
from therapy_turns.measures.client_talk import CLIENT_CODES, COUNTS, code_client_turns
from therapy_turns.measures.techniques import CODEBOOK, FORMS, MAIN_BEHAVIOURS, code_turns
from therapy_turns.nlp import parse
from therapy_turns.paths import DATA_DIR, project_path, read_yaml

log = logging.getLogger(__name__)

MAGIC, FORMAT_VERSION = "therapy-turns-coder", 1
MODEL_FILE, SUMMARY_FILE = "coder.pkl", "summary.json"
RULE_SETS = ("auto", "therapist", "client", "none")
MIN_SESSIONS, MAX_FOLDS = 3, 5
MESSAGES = read_yaml(DATA_DIR / "coder.yaml")
#: session-grouped cross-validated agreement of a coder
CVResult = namedtuple("CVResult", "folds kappa macro_f1 per_class confusion accuracy predictions")


class CoderError(ValueError):
    """Bad training input or model file: one line naming the file and what was expected."""

    def __init__(self, key: str, **fields: Any) -> None:
        super().__init__(MESSAGES[key].format(**fields))


def read_coded(path: str | Path, label: str, text_column="text", group="session_id"):
    """The checked coded table at ``path`` (.csv/.jsonl) with ``_context``, labelled rows only."""
    path = Path(path)
    if not path.is_file():
        raise CoderError("no_table", path=path)
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise CoderError("suffix", path=path, suffix=path.suffix)
    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        else:
            df = pd.read_json(path, lines=True, dtype=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as e:
        why = (str(e).strip() or type(e).__name__).splitlines()[0]
        raise CoderError("unreadable", path=path, why=why) from None
    for what, col in (("label", label), ("text", text_column), ("group", group)):
        if col not in df.columns:
            cols = ", ".join(map(str, df.columns))
            raise CoderError("column", path=path, what=what, col=col, cols=cols)
    df = df.assign(_context=_contexts(df))  # before unlabelled (client) rows are left out
    df[label] = df[label].astype("string").fillna("").str.strip()
    log.info("%s: %d rows without a '%s' code left out", path, (df[label] == "").sum(), label)
    return df[df[label] != ""].reset_index(drop=True)


def _contexts(df: pd.DataFrame) -> list[str]:
    """The client turn before each row (``client_context`` or the turn table's), else ""."""
    if "client_context" in df.columns:
        return df["client_context"].fillna("").astype(str).tolist()
    if not {"speaker", "turn", "session_id", "text"} <= set(df.columns):
        return [""] * len(df)
    order = df.assign(_turn=pd.to_numeric(df["turn"], errors="coerce"))
    order = order.sort_values(["session_id", "_turn"], kind="stable")
    text = order["text"].astype(str)
    client = order["speaker"].astype(str).str.lower().isin(["patient", "client"])
    said = text.where(client & (text.str.strip() != ""))
    prev = said.groupby(order["session_id"]).transform(lambda s: s.ffill().shift())
    return prev.fillna("").reindex(df.index).tolist()


def rule_frame(texts: Sequence[str], contexts: Sequence[str], rules: str) -> pd.DataFrame:
    """The rule coder's codes of each text as ``rule__<code>`` columns (``rules``: which)."""
    if rules == "none" or not len(texts):
        return pd.DataFrame(index=range(len(texts)))
    ids = [f"r{i:07d}" for i in range(len(texts))]
    if rules == "therapist":  # each text as a therapist turn after its client turn
        pairs = [str(t) for pair in zip(contexts, texts, strict=True) for t in pair]
        turns = pd.DataFrame({"session_id": np.repeat(ids, 2), "turn": np.tile([0, 1], len(ids))})
        turns = turns.assign(speaker=np.tile(["patient", "therapist"], len(ids)), text=pairs)
        coded = code_turns(turns, parse(pairs)).sort_values("session_id")
        cols = [f"form_{f}" for f in FORMS]
    else:
        turns = pd.DataFrame({"session_id": ids, "turn": 0, "speaker": "patient", "text": texts})
        coded = code_client_turns(turns, parse([str(t) for t in texts]))
        cols = ["change_talk", "sustain_talk", *COUNTS]
    return pd.DataFrame(coded[cols].to_numpy(float), columns=[f"rule__{c}" for c in cols])


def agreement(gold: Sequence[str], pred: Sequence[str], labels: list[str]):
    """Cohen's κ, macro-F1, per-code precision/recall/F1/support and confusion (rows: gold)."""
    r = metrics.classification_report(gold, pred, labels=labels, output_dict=True, zero_division=0)
    per = pd.DataFrame(r).T.loc[labels].set_axis(["precision", "recall", "f1", "support"], axis=1)
    cm = pd.DataFrame(metrics.confusion_matrix(gold, pred, labels=labels), labels, labels)
    kappa = float(metrics.cohen_kappa_score(gold, pred, labels=labels))
    return kappa, float(r["macro avg"]["f1-score"]), per.astype({"support": int}), cm


@dataclass
class TrainedCoder:
    """A fitted coder and its training summary."""

    pipeline: Pipeline
    summary: dict[str, Any]
    path: Path | None = None  # the model file it was loaded from

    rules = property(lambda self: str(self.summary["rules"]), doc="therapist | client | none")
    classes = property(lambda self: [str(c) for c in self.pipeline.classes_])

    def predict(self, texts: Sequence[str], contexts=None, rule_codes: pd.DataFrame | None = None):
        """The predicted code of each text (``contexts``: the client turns before)."""
        X = pd.DataFrame({"text": [str(t) for t in texts]})
        if cols := self.summary["rule_columns"]:
            if rule_codes is None:
                rule_codes = rule_frame(X.text.tolist(), contexts or [""] * len(X), self.rules)
            if missing := [c for c in cols if c not in rule_codes.columns]:
                raise CoderError("rule_features", missing=missing)
            X = pd.concat([X, rule_codes[cols].reset_index(drop=True).astype(float)], axis=1)
        return self.pipeline.predict(X)


def train(
    df: pd.DataFrame,
    label: str,
    text_column: str = "text",
    group: str = "session_id",
    rules: str = "auto",
    source: str = "table",
    seed: int = 0,
) -> tuple[TrainedCoder, CVResult]:
    """Cross-validate (session-grouped) and fit a coder of ``label`` on ``df``."""
    if rules not in RULE_SETS:
        raise CoderError("rules", rules=rules, choices=", ".join(RULE_SETS))
    y, groups = df[label].astype(str).to_numpy(), df[group].astype(str).to_numpy()
    classes, n_groups = sorted(set(y)), len(set(groups))
    if len(classes) < 2:
        raise CoderError("one_class", source=source, label=label, one=(classes or ["none"])[0])
    if n_groups < MIN_SESSIONS:
        raise CoderError("few_sessions", source=source, n=n_groups, group=group, min=MIN_SESSIONS)
    if rules == "auto":  # the rule coder that knows the codes, if any
        codes = {p for c in classes for p in c.split(";") if p}
        therapist = codes <= set(MAIN_BEHAVIOURS) | set(FORMS)
        rules = "client" if codes <= set(CLIENT_CODES) else "therapist" if therapist else "none"
    texts = df[text_column].fillna("").astype(str).tolist()
    contexts = df["_context"] if "_context" in df else pd.Series(_contexts(df), index=df.index)
    R = rule_frame(texts, contexts.fillna("").astype(str).tolist(), rules)
    X, folds = pd.concat([pd.DataFrame({"text": texts}), R], axis=1), min(MAX_FOLDS, n_groups)
    # TF-IDF word 1-2-grams, char 2-5-grams and rule columns -> balanced logistic regression
    words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b|[?]")
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
    parts: list[tuple[str, Any, Any]] = [("words", words, "text"), ("chars", chars, "text")]
    parts += [("rules", "passthrough", list(R.columns))] if len(R.columns) else []
    lr = LogisticRegression(C=10.0, class_weight="balanced", max_iter=5000, random_state=seed)
    pipe = Pipeline([("features", ColumnTransformer(parts)), ("model", lr)])
    try:  # out-of-fold predictions over session-grouped folds
        pred = cross_val_predict(pipe, X, y, groups=groups, cv=GroupKFold(folds))
    except ValueError as e:  # a training fold with a single class
        raise CoderError("cv_failed", why=str(e).splitlines()[0]) from None
    cv = CVResult(folds, *agreement(y, pred, classes), float(np.mean(pred == y)), pred)
    rule_text = f" + {rules} rule codes" if len(R.columns) else ""
    model = f"word 1-2-gram + char 2-5-gram TF-IDF{rule_text} -> class-balanced logistic regression"
    summary = dict(format_version=FORMAT_VERSION, label=label, text_column=text_column, group=group)
    summary |= dict(rules=rules, rule_columns=list(R.columns), classes=classes, n_rows=len(df))
    summary |= dict(class_counts={c: int((y == c).sum()) for c in classes}, n_sessions=n_groups)
    summary |= dict(source=source, model=model + " (C=10)", sklearn=sklearn.__version__, seed=seed)
    scores = dict(kappa=cv.kappa, macro_f1=cv.macro_f1, accuracy=cv.accuracy)
    summary["cv"] = {"folds": folds, **{k: round(v, 4) for k, v in scores.items()}}
    summary["cv"]["per_class"] = cv.per_class.round(4).astype({"support": int}).to_dict("index")
    summary["cv"]["confusion"] = dict(labels=classes, matrix=cv.confusion.values.tolist())
    return TrainedCoder(pipe.fit(X, y), summary), cv


def save_model(coder: TrainedCoder, out_dir: str | Path) -> Path:
    """Write ``coder.pkl`` (versioned, checksummed) and ``summary.json`` into ``out_dir``."""
    out, payload = Path(out_dir), pickle.dumps(coder.pipeline, protocol=5)
    sha = hashlib.sha256(payload).hexdigest()
    header = dict(format_version=FORMAT_VERSION, sklearn=sklearn.__version__, payload_sha256=sha)
    header = json.dumps(header | {"label": coder.summary["label"]}, sort_keys=True)
    with atomic_write(out / MODEL_FILE) as tmp:  # creates out
        tmp.write_bytes(f"{MAGIC} {FORMAT_VERSION}\n{header}\n".encode() + payload)
    coder.summary = {**coder.summary, "model_file": MODEL_FILE, "payload_sha256": sha}
    (out / SUMMARY_FILE).write_text(json.dumps(coder.summary, indent=1, sort_keys=True) + "\n")
    return out / MODEL_FILE


def _read(path: str | Path) -> tuple[Path, dict[str, Any], bytes]:
    """The model file of ``path`` (a directory or the file), its JSON header and checked payload."""
    p = Path(path) / MODEL_FILE if Path(path).is_dir() else Path(path)
    if not p.is_file():
        raise CoderError("no_model", path=p)
    first, head, payload = (p.read_bytes().split(b"\n", 2) + [b"", b""])[:3]
    magic, header = f"{MAGIC} {FORMAT_VERSION}", {}
    with suppress(json.JSONDecodeError):
        header = json.loads(head) if first == magic.encode() else {}
    if header.get("format_version") != FORMAT_VERSION:
        raise CoderError("not_a_model", path=p, magic=magic)
    if hashlib.sha256(payload).hexdigest() != header.get("payload_sha256"):
        raise CoderError("checksum", path=p)
    return p, header, payload


def payload_sha256(path: str | Path) -> str | None:
    """The payload checksum of a model file (None if there is no readable model file)."""
    with suppress(OSError, CoderError):
        return _read(path)[1]["payload_sha256"]
    return None


def load_model(path: str | Path) -> TrainedCoder:
    """The coder in a model directory or ``coder.pkl``, its file checked first."""
    p, header, payload = _read(path)
    if (version := header.get("sklearn")) != sklearn.__version__:
        log.warning("%s: written with scikit-learn %s, this is %s", p, version, sklearn.__version__)
    pipe = pickle.loads(payload)  # noqa: S301 - checksummed model of our own format
    summary_path, sha = p.parent / SUMMARY_FILE, header["payload_sha256"]
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    if summary.get("payload_sha256", sha) != sha:
        raise CoderError("summary", path=summary_path)
    summary = {"rules": "none", "rule_columns": [], "label": header.get("label"), **summary}
    return TrainedCoder(pipe, summary | {"payload_sha256": sha}, p)


def format_cv(cv: CVResult, label: str, n_rows: int, n_sessions: int) -> str:
    """The cross-validation report train-coder prints."""
    head = f"{label}: {n_rows} rows, {n_sessions} sessions, {cv.folds}-fold GroupKFold (session)"
    scores = f"kappa {cv.kappa:.3f}  macro-F1 {cv.macro_f1:.3f}  accuracy {cv.accuracy:.3f}"
    per, cm = cv.per_class.round(3).to_string(), cv.confusion.to_string()
    return f"{head}\n{scores}\n\n{per}\n\nconfusion (rows gold, columns coder):\n{cm}"


def train_file(path, label, out_dir, text_column="text", group="session_id", rules="auto", seed=0):
    """:func:`read_coded` + :func:`train` + :func:`save_model` (the train-coder command)."""
    df = read_coded(path, label, text_column, group)
    coder, cv = train(df, label, text_column, group, rules, str(path), seed)
    coder.summary["source_sha256"] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    save_model(coder, out_dir)
    return coder, cv


@lru_cache(maxsize=4)
def _cached_model(path: str, sha: str) -> TrainedCoder:  # sha keys the cache
    coder = load_model(path)
    if coder.summary["payload_sha256"] != sha:
        raise CoderError("changed", path=path)
    return coder


class TechniqueModel:
    """``(turns, docs) -> techniques table`` with a trained coder's main behaviours."""

    def __init__(self, path: str | Path) -> None:
        coder = load_model(path)
        self.path, self.summary = str(coder.path.resolve()), coder.summary
        if set(coder.classes) - set(MAIN_BEHAVIOURS) or coder.rules not in ("therapist", "none"):
            codes, main = ", ".join(coder.classes), ", ".join(MAIN_BEHAVIOURS)
            label = self.summary.get("label")
            raise CoderError("not_main", path=coder.path, label=label, codes=codes, main=main)
        self.sha256 = str(coder.summary["payload_sha256"])
        #: identifies the function and model in cache keys and the manifest
        self.fingerprint = f"therapy_turns.measures.coder:TechniqueModel@{self.sha256}"

    def __call__(self, turns: pd.DataFrame, docs: Sequence[Any]) -> pd.DataFrame:
        """Code the therapist turns of ``turns`` (``docs`` row-aligned, as code_turns)."""
        coded = code_turns(turns, docs)
        rules = coded["main_behaviour"]
        coded.insert(coded.columns.get_loc("main_behaviour") + 1, "main_behaviour_rules", rules)
        if coded.empty:
            return coded
        text = turns.set_index([turns.session_id.astype(str), "turn"])["text"]
        at = pd.MultiIndex.from_arrays([coded.session_id.astype(str), coded.turn])
        texts = text.reindex(at).fillna("").astype(str).tolist()
        rule_codes = coded[[f"form_{f}" for f in FORMS]].astype(float).add_prefix("rule__")
        pred = _cached_model(self.path, self.sha256).predict(texts, rule_codes=rule_codes)
        coded["main_behaviour"] = np.where([bool(t.strip()) for t in texts], pred, rules)
        return coded


def technique_methods(manifest: dict[str, Any] | None, requested: str | Path = "") -> str:
    """The methods sentence naming the main-behaviour coder of a build's ``manifest``."""
    info = ((manifest or {}).get("parameters") or {}).get("technique_model")
    if bool(info) != bool(str(requested)):
        asked = "the rule coder was" if info else f"technique model {requested} was"
        built = f"technique model {info['path']}" if info else "the rule coder"
        how = "without" if info else "with"
        raise CoderError("mismatch", asked=asked, built=built, how=how)
    if not info:
        return CODEBOOK["methods"]["rules"]
    s = load_model(project_path(info["path"])).summary
    if s["payload_sha256"] != info["sha256"]:
        raise CoderError("other_model", path=info["path"], sha=info["sha256"][:12])
    cv = {"kappa": float("nan"), "macro_f1": float("nan"), **s.get("cv", {})}
    source, sha = Path(str(s.get("source", "?"))).name, str(s.get("payload_sha256", ""))[:12]
    fields = defaultdict(lambda: None, {**s, **cv, "source": source, "sha": sha})
    return CODEBOOK["methods"]["model"].format_map(fields)  # a missing summary field reads "None"
