"""Session explorer: one session as readable turns, with its emotion trajectory and technique
timeline beside it.

The view is plain HTML built from the analysis tables (every transcript string HTML-escaped), so
the same output works three ways:

- live in JupyterLab, :class:`SessionExplorer` wraps it in ipywidgets (session picker, speaker,
  code and artefact filters) and re-renders on every change;
- without a widget frontend (papermill, nbval, nbconvert/report), the explorer's display bundle
  also carries the static HTML of the session named in the notebook's parameters, which those
  tools show instead of the widget;
- :func:`render_session` returns the HTML string for tests or other front ends.

Stable hooks for tests and styling: ``.tt-explorer`` (root), ``.tt-turn`` (one per shown turn,
``data-turn``, ``data-speaker``), ``.tt-code`` (one per technique code tag, ``data-code``,
``data-layer`` = ``form`` | ``process``, evidence in ``title``), ``.tt-main`` (main behaviour),
``.tt-valence`` / ``.tt-arousal`` (badges), ``.tt-flag`` (``data-flag``), ``.tt-marker``
(``data-marker``), ``.tt-event`` (``data-event``, the event lines in ``title``), ``.tt-figure``
(the trajectory/timeline image).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from therapy_turns import pipeline
from therapy_turns.io.redact import redact_turns
from therapy_turns.io.transcripts import FLAGS, analysable
from therapy_turns.measures import registry
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import DEFAULT_EXCLUDE, KEYS, SPEAKERS
from therapy_turns.viz import session as session_figure
from therapy_turns.viz.plots import PALETTE

log = logging.getLogger(__name__)

#: the measure tables the explorer reads (others registered are loaded into ``data.tables``)
TABLES = ("features", "emotion", "techniques")
#: Technique layers shown as tags: table column → ``data-layer`` value.
CODE_LAYERS = {"form": "form", "act_process": "process"}
#: Emotion columns shown as badges (EmoBank 1–5 scale; 3 = neutral).
BADGES = ("valence", "arousal")
MARKER_PREFIX = "marker_"
FLAG_LABELS = {f: f.replace("_", " ") for f in FLAGS}

CSS = """
.tt-explorer{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;color:#1b1b1b}
.tt-explorer .tt-layout{display:flex;gap:16px;align-items:flex-start}
.tt-explorer .tt-transcript{flex:1 1 58%;min-width:320px}
.tt-explorer .tt-side{flex:0 1 42%;position:sticky;top:0}
.tt-explorer .tt-side img{max-width:100%;height:auto;border:1px solid #ddd}
.tt-explorer h3{margin:4px 0 8px 0;font-size:15px}
.tt-explorer .tt-summary{color:#555;margin-bottom:8px}
.tt-turn{border-left:4px solid #ccc;padding:4px 8px;margin:0 0 6px 0;background:#fafafa}
.tt-turn.tt-patient{border-left-color:#0072B2}
.tt-turn.tt-therapist{border-left-color:#D55E00;background:#fffaf6}
.tt-turn.tt-flagged{background:repeating-linear-gradient(135deg,#f4f4f4,#f4f4f4 6px,
  #ececec 6px,#ececec 12px)}
.tt-turn.tt-marked{box-shadow:inset 0 0 0 2px #E69F00;background:#fff6dc}
.tt-head{display:flex;flex-wrap:wrap;gap:4px;align-items:center;margin-bottom:2px}
.tt-speaker{font-weight:700;text-transform:capitalize}
.tt-patient .tt-speaker{color:#0072B2}
.tt-therapist .tt-speaker{color:#B34700}
.tt-turnno{color:#666;font-variant-numeric:tabular-nums;margin-right:4px}
.tt-badge{border-radius:3px;padding:0 4px;font-size:11px;
  font-variant-numeric:tabular-nums;color:#fff}
.tt-flag{border:1px dashed #7a0000;color:#7a0000;background:#fff;border-radius:3px;
  padding:0 4px;font-size:11px;font-weight:600}
.tt-marker{background:#E69F00;color:#1b1b1b;border-radius:3px;padding:0 4px;font-size:11px;
  font-weight:600}
.tt-event{background:#CC79A7;color:#fff;border-radius:3px;padding:0 4px;font-size:11px;
  font-weight:600;cursor:help}
.tt-codes{display:flex;flex-wrap:wrap;gap:3px;margin:2px 0}
.tt-code{border-radius:9px;padding:0 6px;font-size:11px;cursor:help;border:1.5px solid transparent}
.tt-code[data-layer=form]{color:#fff}
.tt-code[data-layer=process]{background:#fff;font-weight:600}
.tt-main{font-size:11px;color:#444;border:1px solid #999;border-radius:3px;padding:0 4px}
.tt-text{white-space:pre-wrap;line-height:1.4}
.tt-raw{white-space:pre-wrap;color:#666;font-style:italic}
.tt-note{white-space:pre-wrap;color:#555;font-style:italic;border-top:1px dotted #bbb;
  margin-top:3px;padding-top:2px}
.tt-thinking summary{color:#666;cursor:pointer;font-size:11px}
.tt-thinking div{white-space:pre-wrap;color:#555}
.tt-legend{font-size:11px;color:#555;margin:4px 0}
"""


# --------------------------------------------------------------------------- data
@dataclass
class ExplorerData:
    """The analysis tables the explorer reads (any of the last three may be missing)."""

    turns: pd.DataFrame
    features: pd.DataFrame | None = None
    emotion: pd.DataFrame | None = None
    techniques: pd.DataFrame | None = None
    exclude: Sequence[str] = field(default=DEFAULT_EXCLUDE)
    #: every registered measure's table found in the build, by name
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    def sessions(self) -> list[str]:
        """Session ids in sorted order."""
        return sorted(self.turns["session_id"].astype(str).unique())

    def codes(self) -> list[str]:
        """Every technique code present (forms, then ACT processes, each in codebook order)."""
        if self.techniques is None or self.techniques.empty:
            return []
        order = code_order()
        seen = {c for col in CODE_LAYERS if col in self.techniques
                for v in self.techniques[col] for c in split_codes(v)}
        return sorted(seen, key=lambda c: (order.get(c, (9, 0)), c))


def load_data(corpus: str | Path = "seeds", analysis_dir: str | Path = "build/seeds",
              redact: bool = False,
              exclude: Sequence[str] = DEFAULT_EXCLUDE) -> ExplorerData:
    """Read ``turns`` and the table of every registered measure that the build holds, through
    :func:`therapy_turns.pipeline.load_table` (which refuses stale tables).

    A measure the build lacks is left out (logged). With ``redact`` the turn table is
    de-identified here unless the analysis step already did it (manifest parameter).
    """
    turns = pipeline.load_table("turns", corpus, analysis_dir)
    built = (pipeline.read_manifest(analysis_dir) or {}).get("tables", [])
    found: dict[str, pd.DataFrame] = {}
    for name in registry.names():
        if name in built:
            found[name] = pipeline.load_table(name, corpus, analysis_dir)
        else:
            log.warning("table %s not in %s: shown without it", name, analysis_dir)
    tables: dict[str, Any] = {name: found.get(name) for name in TABLES}
    if redact and not _built_redacted(analysis_dir):
        turns = redact_turns(turns)
    return ExplorerData(turns, exclude=tuple(exclude), tables=found, **tables)


def _built_redacted(analysis_dir: str | Path) -> bool:

    reader = getattr(pipeline, "read_manifest", None)
    manifest = reader(analysis_dir) if reader else None
    return bool(((manifest or {}).get("parameters") or {}).get("redact", False))


def split_codes(value: Any) -> list[str]:
    """Codes of a ``;``-joined cell (also accepts lists; empty/NaN → [])."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v).strip() for v in value if str(v).strip()]
    return [c.strip() for c in str(value).split(";") if c.strip()]


def evidence_by_code(evidence: Any, codes: Iterable[str]) -> dict[str, str]:
    """Evidence text per code, from a techniques ``evidence`` cell.

    Accepted shapes: a mapping ``{code: text | [texts] | [[rule id, matched text], ...]}`` (or
    its JSON; the last is what :func:`measures.techniques.code_turns` writes), a list of
    ``{"code": ..., "text"/"evidence": ...}`` records (or their JSON), or a string of
    ``code: text`` items separated by `` | `` or newlines. Text not attributable to a code is
    given to every code. Codes without evidence get "".
    """
    codes = list(codes)
    out: dict[str, list[str]] = {c: [] for c in codes}
    shared: list[str] = []
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            pass
    if isinstance(evidence, Mapping):
        for k, v in evidence.items():
            texts = [_evidence_item(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]
            (out.setdefault(str(k), []) if str(k) in out else shared).extend(texts)
    elif isinstance(evidence, (list, tuple, np.ndarray)):
        for item in evidence:
            if isinstance(item, Mapping):
                k = str(item.get("code", ""))
                t = str(item.get("text", item.get("evidence", "")))
                (out[k] if k in out else shared).append(t)
            else:
                shared.append(str(item))
    elif isinstance(evidence, str) and evidence.strip():
        for part in [p for chunk in evidence.split("\n") for p in chunk.split(" | ")]:
            k, sep, t = part.partition(":")
            if sep and k.strip() in out:
                out[k.strip()].append(t.strip())
            elif part.strip():
                shared.append(part.strip())
    return {c: " · ".join([*out.get(c, []), *shared]) for c in codes}


def _evidence_item(item: Any) -> str:
    """``[rule id, matched text]`` → ``“matched text” (rule id)``; anything else as text."""
    if isinstance(item, (list, tuple)) and len(item) == 2:
        return f"“{item[1]}” ({item[0]})"
    return str(item)


@lru_cache(maxsize=1)
def code_order() -> dict[str, tuple[int, int]]:
    """Code → (layer, position) from ``data/codebook.yaml`` (forms 0, ACT processes 1)."""
    path = DATA_DIR / "codebook.yaml"
    book = read_yaml(path) if path.is_file() else {}
    order = {c: (0, i) for i, c in enumerate(book.get("forms", {}))}
    order.update({c: (1, i) for i, c in enumerate(book.get("act_processes", {}))})
    return order


def code_color(code: str) -> str:
    """A stable colour per code: ACT processes on the Okabe-Ito palette, forms on tab20 (both
    in codebook order); unknown codes grey."""
    layer, i = code_order().get(code, (9, 0))
    if layer == 1:
        return PALETTE[i % len(PALETTE)] if PALETTE[i % len(PALETTE)] != "#F0E442" else "#8C7A00"
    if layer == 0:
        return mpl.colors.to_hex(mpl.colormaps["tab10"](i % 10))
    return "#777777"


def badge_color(value: float) -> str:
    """Diverging colour for a 1–5 score: blue below 3 (neutral, grey), orange above."""
    if value is None or not np.isfinite(value):
        return "#999999"
    x = float(np.clip((value - 3.0) / 1.5, -1, 1))
    return mpl.colors.to_hex(mpl.colormaps["RdBu_r"](0.5 + 0.45 * x))


def session_table(data: ExplorerData, session_id: str) -> pd.DataFrame:
    """One row per turn of ``session_id`` with the turn columns, ``valence``/``arousal`` (NaN when
    absent), ``markers`` (names of the ``marker_*`` features present; patient turns only),
    ``codes`` (list of
    ``(layer, code)``), ``main_behaviour`` and ``evidence``."""
    t = data.turns[data.turns["session_id"].astype(str) == str(session_id)]
    if t.empty:
        raise KeyError(f"session {session_id!r} not in the turn table; sessions: "
                       f"{data.sessions()[:5]}{' ...' if len(data.sessions()) > 5 else ''}")
    t = t.sort_values("turn").reset_index(drop=True)
    keys = t[KEYS].copy()
    out = t.copy()
    if data.emotion is not None:
        cols = [c for c in BADGES if c in data.emotion]
        out = out.merge(data.emotion[KEYS + cols], on=KEYS, how="left", validate="1:1")
    for c in BADGES:
        if c not in out:
            out[c] = np.nan
    markers: list[list[str]] = [[] for _ in range(len(out))]
    if data.features is not None:
        mcols = sorted(c for c in data.features if c.startswith(MARKER_PREFIX))
        f = keys.merge(data.features[KEYS + mcols], on=KEYS, how="left", validate="1:1")
        patient = (keys["speaker"] == "patient").to_numpy()
        for c in mcols:
            hit = (pd.to_numeric(f[c], errors="coerce").fillna(0).to_numpy() > 0) & patient
            for i in np.flatnonzero(hit):
                markers[i].append(c[len(MARKER_PREFIX):])
    out["markers"] = markers
    codes: list[list[tuple[str, str]]] = [[] for _ in range(len(out))]
    main = [""] * len(out)
    evidence: list[Any] = [None] * len(out)
    if data.techniques is not None:
        cols = [c for c in (*CODE_LAYERS, "main_behaviour", "evidence") if c in data.techniques]
        tech = keys.merge(data.techniques[KEYS + cols], on=KEYS, how="left", validate="1:1")
        for i, r in enumerate(tech.to_dict("records")):
            codes[i] = [(layer, c) for col, layer in CODE_LAYERS.items()
                        for c in split_codes(r.get(col))]
            mb = r.get("main_behaviour")
            main[i] = "" if mb is None or (isinstance(mb, float) and math.isnan(mb)) else str(mb)
            evidence[i] = r.get("evidence")
    out["codes"], out["main_behaviour"], out["evidence"] = codes, main, evidence
    return out


# --------------------------------------------------------------------------- figure
def plot_session(data: ExplorerData, session_id: str, width: float = 4.6) -> Figure:
    """The session's emotion trajectory above its technique timeline
    (:func:`therapy_turns.viz.session.plot_session`); turns flagged by ``data.exclude`` are left
    out of the trajectory and shaded."""
    s = session_table(data, session_id)
    kept = analysable(s, [f for f in data.exclude if f in s])
    codes = [c for c in data.codes() if any(c == code for row in s["codes"] for _, code in row)]
    layers = {c: code_order().get(c, (9, 0))[0] for c in codes}
    return session_figure.plot_session(s, kept, codes, layers, {c: code_color(c) for c in codes},
                                       session_id, BADGES, width)


def figure_png(fig: Figure, dpi: int = 110) -> str:
    """The figure as a base64 PNG data URI (no metadata, reproducible bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# --------------------------------------------------------------------------- HTML
def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _fmt(value: float) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.1f}"


def render_turn(row: Mapping[str, Any]) -> str:
    """HTML of one turn (a row of :func:`session_table`)."""
    flags = [f for f in FLAGS if bool(row.get(f, False))]
    marked = bool(row["markers"]) and row["speaker"] == "patient"
    classes = ["tt-turn", f"tt-{_esc(row['speaker'])}", *(["tt-flagged"] if flags else []),
               *(["tt-marked"] if marked else [])]
    head = [f'<span class="tt-speaker">{_esc(row["speaker"])}</span>',
            f'<span class="tt-turnno">turn {int(row["turn"])}</span>']
    for dim in BADGES:
        v = row.get(dim)
        v = float(v) if v is not None and not pd.isna(v) else float("nan")
        title = f"{dim} {v:.2f} (EmoBank scale 1–5, 3 = neutral)" if np.isfinite(v) else \
            f"{dim}: not scored"
        ink = "#fff" if np.isfinite(v) and abs(v - 3.0) >= 0.6 else "#1b1b1b"
        head.append(f'<span class="tt-badge tt-{dim}" style="background:{badge_color(v)};'
                    f'color:{ink}" '
                    f'title="{_esc(title)}">{dim[0].upper()} {_fmt(v)}</span>')
    head += [f'<span class="tt-flag" data-flag="{_esc(f)}" title="artefact flag: {_esc(f)}">'
             f'{_esc(FLAG_LABELS[f])}</span>' for f in flags]
    head += [f'<span class="tt-marker" data-marker="{_esc(m)}" title="patient marker: {_esc(m)}">'
             f'{_esc(m.replace("_", " "))}</span>' for m in row["markers"]]
    events = [e for e in str(row.get("event") or "").split(";") if e]
    head += [f'<span class="tt-event" data-event="{_esc(e)}" '
             f'title="{_esc(row.get("event_text") or e)}">event: {_esc(e.replace("_", " "))}'
             f'</span>' for e in events]
    parts = [f'<div class="{" ".join(classes)}" data-turn="{int(row["turn"])}" '
             f'data-speaker="{_esc(row["speaker"])}">',
             f'<div class="tt-head">{"".join(head)}</div>']
    if row["codes"] or row.get("main_behaviour"):
        ev = evidence_by_code(row.get("evidence"), [c for _, c in row["codes"]])
        tags = [f'<span class="tt-main" title="main behaviour (AnnoMI)">'
                f'{_esc(row["main_behaviour"])}</span>'] if row.get("main_behaviour") else []
        for layer, code in row["codes"]:
            colour = code_color(code)
            style = (f"background:{colour};border-color:{colour}" if layer == "form"
                     else f"color:{colour};border-color:{colour}")
            title = f"{code}: {ev.get(code) or 'no evidence recorded'}"
            tags.append(f'<span class="tt-code" data-layer="{layer}" data-code="{_esc(code)}" '
                        f'style="{style}" title="{_esc(title)}">{_esc(code.replace("_", " "))}'
                        f"</span>")
        parts.append(f'<div class="tt-codes">{"".join(tags)}</div>')
    text = str(row.get("text") or "")
    if text.strip():
        parts.append(f'<div class="tt-text">{_esc(text)}</div>')
    else:
        parts.append(f'<div class="tt-raw" title="no speech left: raw text shown">'
                     f'{_esc(row.get("raw_text", ""))}</div>')
    if str(row.get("meta_notes") or "").strip():
        parts.append(f'<div class="tt-note" title="out-of-role note, removed from the speech">'
                     f'{_esc(row["meta_notes"])}</div>')
    if str(row.get("thinking") or "").strip():
        parts.append(f'<details class="tt-thinking"><summary>therapist thinking</summary>'
                     f'<div>{_esc(row["thinking"])}</div></details>')
    parts.append("</div>")
    return "".join(parts)


def select_turns(table: pd.DataFrame, speakers: Sequence[str] = SPEAKERS,
                 codes: Sequence[str] = (), show_flagged: bool = True) -> pd.DataFrame:
    """Rows of a :func:`session_table` kept by the filters: speakers shown; with ``codes``, only
    turns carrying one of them; without ``show_flagged``, no turn with an artefact flag."""
    keep = table["speaker"].isin(list(speakers))
    if codes:
        want = set(codes)
        keep &= table["codes"].map(lambda row: any(c in want for _, c in row))
    if not show_flagged:
        flags = [f for f in FLAGS if f in table]
        keep &= ~table[flags].any(axis=1)
    return table[keep]


def render_session(data: ExplorerData, session_id: str,
                   speakers: Sequence[str] = SPEAKERS, codes: Sequence[str] = (),
                   show_flagged: bool = True, figure: bool = True) -> str:
    """The explorer HTML of one session: filtered turns, and (``figure``) the trajectory and
    technique timeline beside them. All transcript text is escaped."""
    table = session_table(data, session_id)
    shown = select_turns(table, speakers, codes, show_flagged)
    n_codes = sum(len(r) for r in shown["codes"])
    summary = (f"{len(shown)} of {len(table)} turns shown · {n_codes} technique codes · "
               f"{sum(bool(m) for m in shown['markers'])} turns with patient markers")
    legend = ('<div class="tt-legend">Tags: filled = form (MITI), outlined = ACT process; hover '
              'a tag for its evidence. Badges: V valence, A arousal (1–5, blue low, red high). '
              'Dashed red labels: artefact flags. Amber: patient markers.</div>')
    body = "".join(render_turn(r) for r in shown.to_dict("records"))
    side = ""
    if figure:
        fig = plot_session(data, session_id)
        side = (f'<div class="tt-side"><img class="tt-figure" alt="emotion trajectory and '
                f'technique timeline of {_esc(session_id)}" src="{figure_png(fig)}"></div>')
    return (f'<div class="tt-explorer" data-session="{_esc(session_id)}"><style>{CSS}</style>'
            f'<h3>Session {_esc(session_id)}</h3><div class="tt-summary">{_esc(summary)}</div>'
            f'{legend}<div class="tt-layout"><div class="tt-transcript">{body}</div>{side}</div>'
            f"</div>")


# --------------------------------------------------------------------------- widgets
class SessionExplorer:
    """ipywidgets explorer: session picker, speaker/code/artefact filters, the rendered session.

    With ``interactive`` (JupyterLab) it displays the widgets, with the static HTML of the initial
    session as fallback in the same display bundle. Without (papermill for the report) it shows
    only that static HTML and creates no widget, so the executed notebook stores no widget state
    and its HTML export needs no widget JavaScript. (The kernel cannot tell whether a widget
    frontend is attached, so this is a notebook parameter.)
    """

    def __init__(self, data: ExplorerData, session_id: str | None = None,
                 interactive: bool = True) -> None:
        self.data = data
        sessions = data.sessions()
        session_id = session_id or sessions[0]
        if session_id not in sessions:
            raise KeyError(f"session {session_id!r} not in the turn table")
        self.initial = session_id
        self.interactive = interactive
        self.widget: Any = None

    def build(self) -> Any:
        """Create the widgets (once) and return the top-level box."""
        if self.widget is not None:
            return self.widget
        import ipywidgets as w

        codes = self.data.codes()
        self.picker = w.Dropdown(options=self.data.sessions(), value=self.initial,
                                 description="session")
        self.speaker = w.ToggleButtons(options=["both", *SPEAKERS], value="both",
                                       description="speaker", style={"button_width": "80px"})
        self.codes = w.SelectMultiple(options=[(c.replace("_", " "), c) for c in codes],
                                      value=(), rows=min(8, max(2, len(codes))),
                                      description="codes")
        self.flagged = w.Checkbox(value=True, description="show flagged turns", indent=False)
        self.view = w.HTML(value=self.html())
        for ctl in (self.picker, self.speaker, self.codes, self.flagged):
            ctl.observe(self._update, names="value")
        self.widget = w.VBox([w.HBox([self.picker, self.flagged]), self.speaker, self.codes,
                              self.view])
        self.widget.add_class("tt-widget")
        return self.widget

    def html(self) -> str:
        """The HTML for the current control values (the initial session before :meth:`build`)."""
        if self.widget is None:
            return render_session(self.data, self.initial)
        spk = SPEAKERS if self.speaker.value == "both" else (self.speaker.value,)
        return render_session(self.data, self.picker.value, spk, tuple(self.codes.value),
                              self.flagged.value)

    def _update(self, _change: object = None) -> None:
        self.view.value = self.html()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        static = render_session(self.data, self.initial)
        if not self.interactive:
            return {"text/html": static, "text/plain": f"<session explorer: {self.initial}>"}
        bundle = dict(self.build()._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = static
        return bundle


def explore(data: ExplorerData, session_id: str | None = None,
            interactive: bool = True) -> SessionExplorer:
    """The session explorer: widgets (``interactive``) or the static HTML of ``session_id``
    (see :class:`SessionExplorer`)."""
    return SessionExplorer(data, session_id, interactive)
