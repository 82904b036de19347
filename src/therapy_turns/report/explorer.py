"""Session explorer: a session's turns beside its emotion and technique timeline (escaped HTML)."""

from __future__ import annotations

import json
import logging
from base64 import b64encode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

import ipywidgets as w
import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from therapy_turns import pipeline
from therapy_turns.io.redact import redact_turns
from therapy_turns.io.transcripts import FLAGS, analysable
from therapy_turns.report.narrate import fill
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS, SPEAKERS, split_codes
from therapy_turns.viz import figures
from therapy_turns.viz.plots import png

log = logging.getLogger(__name__)

CODE_LAYERS = {"form": "form", "act_process": "process"}  # tags: table column -> data-layer
BADGES = ("valence", "arousal")  # emotion columns shown as badges (EmoBank 1–5; 3 = neutral)
TABLES = ("features", "emotion", "techniques")  # the measure tables shown beside the turns


@dataclass
class ExplorerData:
    """The analysis tables the explorer reads (any but ``turns`` may be missing)."""

    turns: pd.DataFrame
    features: pd.DataFrame | None = None
    emotion: pd.DataFrame | None = None
    techniques: pd.DataFrame | None = None
    exclude: Sequence[str] = DEFAULT_EXCLUDE

    def sessions(self) -> list[str]:
        return sorted(self.turns["session_id"].astype(str).unique())

    def codes(self) -> list[str]:
        """Every technique code present (forms, then ACT processes, each in codebook order)."""
        t = pd.DataFrame() if self.techniques is None else self.techniques
        seen = {c for col in CODE_LAYERS if col in t for v in t[col] for c in split_codes(v)}
        return sorted(seen, key=lambda c: (figures.CODE_ORDER.get(c, (9, 0)), c))


def load_data(
    corpus: str | Path = "seeds",
    analysis_dir: str | Path = "build/seeds",
    redact: bool = False,
    exclude: Sequence[str] = DEFAULT_EXCLUDE,
) -> ExplorerData:
    """The build's tables; with ``redact`` the turns de-identified (unless the build did it)."""
    turns = pipeline.load_table("turns", corpus, analysis_dir)
    manifest = pipeline.read_manifest(analysis_dir) or {}
    built = manifest.get("tables", [])
    for name in (n for n in TABLES if n not in built):
        log.warning("table %s not in %s: shown without it", name, analysis_dir)
    found = {n: pipeline.load_table(n, corpus, analysis_dir) for n in TABLES if n in built}
    if redact and not (manifest.get("parameters") or {}).get("redact"):
        turns = redact_turns(turns)
    return ExplorerData(turns, exclude=tuple(exclude), **found)


def evidence_by_code(evidence: Any, codes: Sequence[str]) -> dict[str, str]:
    """Evidence text per code from a techniques ``evidence`` cell (JSON, or missing: none)."""
    found = json.loads(evidence) if isinstance(evidence, str) and evidence else {}
    return {c: " · ".join(f"“{text}” ({rule})" for rule, text in found.get(c, [])) for c in codes}


def session_table(data: ExplorerData, session_id: str) -> pd.DataFrame:
    """The turns of ``session_id`` with emotion, patient markers, ``(layer, code)``s, evidence."""
    out = data.turns[data.turns["session_id"].astype(str) == str(session_id)]
    if out.empty:
        s = data.sessions()
        more = " ..." if len(s) > 5 else ""
        raise KeyError(f"session {session_id!r} not in the turn table; sessions: {s[:5]}{more}")
    out = out.sort_values("turn").reset_index(drop=True)

    def merged(table: pd.DataFrame | None, cols: Sequence[str]) -> pd.DataFrame:
        part = out[KEYS] if table is None else table[KEYS + [c for c in cols if c in table]]
        return out[KEYS].merge(part, on=KEYS, how="left", validate="1:1").reindex(columns=cols)

    out = out.assign(**merged(data.emotion, BADGES))
    mcols = sorted(c for c in getattr(data.features, "columns", []) if c.startswith("marker_"))
    hits = merged(data.features, mcols).apply(pd.to_numeric, errors="coerce").gt(0)
    hits = hits.where(out["speaker"].eq("patient"), False, axis=0).to_dict("records")
    out["markers"] = [[c.removeprefix("marker_") for c in mcols if r[c]] for r in hits]
    tech = merged(data.techniques, [*CODE_LAYERS, "main_behaviour", "evidence"])
    out["codes"] = [
        [(layer, c) for col, layer in CODE_LAYERS.items() for c in split_codes(r[col])]
        for r in tech.to_dict("records")
    ]
    out["main_behaviour"] = [m if isinstance(m, str) else "" for m in tech["main_behaviour"]]
    out["evidence"] = tech["evidence"].to_list()
    return out


def plot_session(data: ExplorerData, session_id: str) -> Figure:
    """The session's emotion trajectory (``data.exclude`` turns shaded) above its code timeline."""
    s = session_table(data, session_id)
    kept = analysable(s, [f for f in data.exclude if f in s])
    codes = [c for c in data.codes() if any(c == code for row in s["codes"] for _, code in row)]
    return figures.plot_session(s, kept, codes, session_id)


def _tag(name: str, cls: str, text: str, title: str | None = None, attrs: str = "") -> str:
    title = "" if title is None else f' title="{escape(title)}"'
    return f'<{name} class="{cls}"{attrs}{title}>{escape(str(text))}</{name}>'


def render_turn(row: Mapping[str, Any]) -> str:
    """HTML of one turn (a row of :func:`session_table`)."""
    flags = [f for f in FLAGS if bool(row.get(f, False))]
    spk, turn = escape(row["speaker"]), int(row["turn"])
    cls = f"tt-turn tt-{spk}" + " tt-flagged" * bool(flags) + " tt-marked" * bool(row["markers"])
    head = [f'<span class="tt-speaker">{spk}</span><span class="tt-turnno">turn {turn}</span>']
    for dim in BADGES:
        v = float("nan") if pd.isna(row.get(dim)) else float(row[dim])
        ok, letter = np.isfinite(v), dim[0].upper()
        title = f"{dim} {v:.2f} (EmoBank scale 1–5, 3 = neutral)" if ok else f"{dim}: not scored"
        rgb = mpl.colormaps["RdBu_r"](0.5 + 0.45 * np.clip((v - 3) / 1.5, -1, 1))
        ink = "#fff" if ok and abs(v - 3.0) >= 0.6 else "#1b1b1b"
        style = f' style="background:{mpl.colors.to_hex(rgb) if ok else "#999999"};color:{ink}"'
        text = f"{letter} {v:.1f}" if ok else f"{letter} –"
        head.append(_tag("span", f"tt-badge tt-{dim}", text, title, style))
    events = [e for e in str(row.get("event") or "").split(";") if e]
    tags = [("flag", f, f"artefact flag: {f}", f) for f in flags]
    tags += [("marker", m, f"patient marker: {m}", m) for m in row["markers"]]
    tags += [("event", e, row.get("event_text") or e, f"event: {e}") for e in events]
    for kind, value, title, label in tags:
        attrs = f' data-{kind}="{escape(value)}"'
        head.append(_tag("span", f"tt-{kind}", label.replace("_", " "), title, attrs))
    html = dict(cls=cls, turn=turn, speaker=spk, head="".join(head), codes="", note="", thinking="")
    if (mb := row.get("main_behaviour")) or row["codes"]:
        ev = evidence_by_code(row.get("evidence"), [c for _, c in row["codes"]])
        tags = [_tag("span", "tt-main", mb, "main behaviour (AnnoMI)")] if mb else []
        for layer, code in row["codes"]:
            c, prop = figures.code_color(code), "background" if layer == "form" else "color"
            attrs = f' data-layer="{layer}" data-code="{escape(code)}" '
            attrs += f'style="{prop}:{c};border-color:{c}"'
            title = f"{code}: {ev.get(code) or 'no evidence recorded'}"
            tags.append(_tag("span", "tt-code", code.replace("_", " "), title, attrs))
        html["codes"] = f'<div class="tt-codes">{"".join(tags)}</div>'
    if str(row.get("text") or "").strip():
        html["text"] = _tag("div", "tt-text", row["text"])
    else:
        raw = row.get("raw_text", "")
        html["text"] = _tag("div", "tt-raw", raw, "no speech left: raw text shown")
    if str(row.get("meta_notes") or "").strip():
        title = "out-of-role note, removed from the speech"
        html["note"] = _tag("div", "tt-note", row["meta_notes"], title)
    if str(row.get("thinking") or "").strip():
        html["thinking"] = fill("thinking", text=escape(str(row["thinking"])))
    return fill("turn", **html)


def render_session(
    data: ExplorerData,
    session_id: str,
    speakers: Sequence[str] = SPEAKERS,
    codes: Sequence[str] = (),
    show_flagged: bool = True,
    figure: bool = True,
) -> str:
    """The explorer HTML of one session, its turns filtered by speaker, code and artefact flags."""
    table = session_table(data, session_id)
    keep = table["speaker"].isin(list(speakers))
    if codes:
        keep &= table["codes"].map(lambda row: any(c in codes for _, c in row))
    if not show_flagged:
        keep &= ~table[[f for f in FLAGS if f in table]].any(axis=1)
    shown = table[keep]
    counts = dict(shown=len(shown), total=len(table), n_codes=sum(map(len, shown["codes"])))
    counts["n_marked"] = sum(map(bool, shown["markers"]))
    body = "".join(render_turn(r) for r in shown.to_dict("records"))
    sid, side = escape(str(session_id)), ""
    if figure:
        uri = "data:image/png;base64," + b64encode(png(plot_session(data, session_id))).decode()
        side = fill("figure_side", sid=sid, uri=uri)
    return fill("explorer", sid=sid, body=body, side=side, **counts)


class SessionExplorer:
    """ipywidgets explorer; not ``interactive`` (papermill): the first session's static HTML."""

    def __init__(self, data: ExplorerData, session_id: str = "", interactive: bool = True) -> None:
        self.data, self.initial, self.widget = data, session_id or data.sessions()[0], None
        self.static = render_session(data, self.initial)  # KeyError for an unknown session
        if interactive:
            codes, sessions = data.codes(), data.sessions()
            self.picker = w.Dropdown(options=sessions, value=self.initial, description="session")
            speakers, wide = ["both", *SPEAKERS], {"button_width": "80px"}
            self.speaker = w.ToggleButtons(options=speakers, description="speaker", style=wide)
            labels, rows = [(c.replace("_", " "), c) for c in codes], min(8, max(2, len(codes)))
            self.codes = w.SelectMultiple(options=labels, rows=rows, description="codes")
            self.flagged = w.Checkbox(value=True, description="show flagged turns", indent=False)
            self.view = w.HTML(value=self.static)
            for ctl in (self.picker, self.speaker, self.codes, self.flagged):
                ctl.observe(self._update, names="value")
            top = w.HBox([self.picker, self.flagged])
            self.widget = w.VBox([top, self.speaker, self.codes, self.view])
            self.widget.add_class("tt-widget")

    def _update(self, _change: object = None) -> None:
        spk = SPEAKERS if self.speaker.value == "both" else (self.speaker.value,)
        shown = (spk, tuple(self.codes.value), self.flagged.value)
        self.view.value = render_session(self.data, self.picker.value, *shown)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self.widget is None:
            return {"text/html": self.static, "text/plain": f"<session explorer: {self.initial}>"}
        return {**(self.widget._repr_mimebundle_(**kwargs) or {}), "text/html": self.static}
