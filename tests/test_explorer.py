"""Session explorer: HTML built from hand-made tables (counts, escaping, filters, fallbacks)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import matplotlib
import numpy as np
import pandas as pd
import pytest

from therapy_turns import schema
from therapy_turns.io.transcripts import parse_text
from therapy_turns.report import explorer

matplotlib.use("Agg")

TEXT = """\
Patient: I feel stuck. How is this supposed to help? <script>alert("x")</script> Right.

Therapist: What matters to you? Let's slow down & notice.

Patient: Can we slow down a bit? I'm "overwhelmed".

Therapist: [Llama Therapist generation error: prompt too long]
"""
KEYS = ["session_id", "turn", "speaker"]


def make_data() -> explorer.ExplorerData:
    a = parse_text(TEXT, "A")
    b = parse_text("Patient: Hello there.\n\nTherapist: Hi.\n", "B")
    turns = pd.concat([a, b], ignore_index=True)
    emotion = turns[KEYS].assign(valence=[2.0, 3.0, 4.5, np.nan, 3.0, 3.0],
                                 arousal=[3.5, 3.0, 1.5, np.nan, 3.0, 3.0])
    features = turns[KEYS].assign(marker_skeptic=[1, 0, 0, 0, 0, 0],  # therapist's not shown:
                                  marker_slow_down=[0, 1, 2, 0, 0, 0])
    ther = turns[turns.speaker == "therapist"][KEYS].reset_index(drop=True)
    techniques = ther.assign(
        form=["open_question;giving_information", "", "other"],
        act_process=["values;present_moment", "", ""],
        main_behaviour=["question", "", "other"],
        evidence=['{"open_question": [["oq", "What matters <b>to you</b>?"]], '
                  '"values": [["values.lex", "matters"]]}', "{}", '{"other": []}'])
    return explorer.ExplorerData(turns, features, emotion, techniques)


class Collect(HTMLParser):
    """Elements by class, with their attributes, from real HTML parsing (not string counts)."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, dict[str, str | None]]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.items.append((tag, dict(attrs)))

    def with_class(self, cls: str) -> list[dict[str, str | None]]:
        return [a for _, a in self.items if cls in (a.get("class") or "").split()]


def parsed(h: str) -> Collect:
    c = Collect()
    c.feed(h)
    return c


def test_render_counts_turns_codes_badges_flags_markers():
    h = explorer.render_session(make_data(), "A", figure=False)
    c = parsed(h)
    turns = c.with_class("tt-turn")
    assert [t["data-turn"] for t in turns] == ["0", "1", "2", "3"]
    assert [t["data-speaker"] for t in turns] == ["patient", "therapist", "patient", "therapist"]
    codes = c.with_class("tt-code")
    assert [(t["data-layer"], t["data-code"]) for t in codes] == [
        ("form", "open_question"), ("form", "giving_information"), ("process", "values"),
        ("process", "present_moment")]
    titles = [t["title"] for t in codes]
    # evidence is given per code on hover; HTMLParser unescapes the attribute
    assert titles[0] == "open_question: “What matters <b>to you</b>?” (oq)"
    assert titles[2] == "values: “matters” (values.lex)"
    assert titles[1] == "giving_information: no evidence recorded"
    assert len(c.with_class("tt-valence")) == len(c.with_class("tt-arousal")) == 4
    assert [t["data-flag"] for t in c.with_class("tt-flag")] == ["generation_error"]
    assert [t["data-marker"] for t in c.with_class("tt-marker")] == ["skeptic", "slow_down"]
    assert "tt-flagged" in turns[3]["class"] and "tt-marked" in turns[0]["class"]
    assert "tt-marked" not in turns[1]["class"]
    assert len(c.with_class("tt-main")) == 1


def test_transcript_text_is_escaped():
    h = explorer.render_session(make_data(), "A", figure=False)
    body = h.split("</style>", 1)[1]
    assert "<script" not in h
    assert "<b>" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in body
    assert "Let&#x27;s slow down &amp; notice." in body
    assert set(parsed(h).tags) <= {"div", "style", "h3", "span", "img", "details", "summary"}


def test_session_id_is_escaped_too():
    d = make_data()
    d.turns = d.turns.assign(session_id=d.turns.session_id.replace("B", '<img src=x onerror="1">'))
    h = explorer.render_session(d, '<img src=x onerror="1">', figure=False)
    assert "<img" not in h and "&lt;img src=x onerror=&quot;1&quot;&gt;" in h


def test_filters():
    d = make_data()

    def shown(**filters) -> list[str]:
        h = explorer.render_session(d, "A", figure=False, **filters)
        return [t["data-turn"] for t in parsed(h).with_class("tt-turn")]

    assert shown(speakers=("patient",)) == ["0", "2"]
    assert shown(codes=["values"]) == ["1"]
    assert shown(show_flagged=False) == ["0", "1", "2"]
    h = explorer.render_session(d, "A", speakers=("therapist",), figure=False)
    assert len(parsed(h).with_class("tt-turn")) == 2
    assert "2 of 4 turns shown · 4 technique codes · 0 turns with patient markers" in h


def test_missing_tables_and_unknown_session():
    d = make_data()
    bare = explorer.ExplorerData(d.turns)
    c = parsed(explorer.render_session(bare, "B", figure=False))
    assert len(c.with_class("tt-turn")) == 2 and c.with_class("tt-code") == []
    assert [t["title"] for t in c.with_class("tt-valence")] == ["valence: not scored"] * 2
    with pytest.raises(KeyError, match="nope"):
        explorer.session_table(d, "nope")
    with pytest.raises(KeyError, match="nope"):
        explorer.SessionExplorer(d, "nope", interactive=False)


def test_codes_in_codebook_order_and_evidence_shapes():
    assert make_data().codes() == ["open_question", "giving_information", "other",
                                   "present_moment", "values"]
    ev = explorer.evidence_by_code
    assert ev('{"values": [["v", "x"]]}', ["values", "defusion"]) == {"values": "“x” (v)",
                                                                       "defusion": ""}
    assert ev(None, ["a"]) == ev(np.nan, ["a"]) == ev("", ["a"]) == {"a": ""}
    # the techniques table's shape: JSON code -> [[rule id, matched text], ...]
    assert ev('{"values": [["values.lex", "matters"], ["values.q", "important to you"]]}',
              ["values"]) == {"values": "“matters” (values.lex) · “important to you” (values.q)"}
    assert schema.split_codes("a; b;") == ["a", "b"] and schema.split_codes(np.nan) == []


def test_figure_embedded_and_plot_has_code_rows():
    d = make_data()
    fig = explorer.plot_session(d, "A")
    timeline = fig.axes[1]
    assert [t.get_text() for t in timeline.get_yticklabels()] == [
        "open question", "giving information", "present moment", "values"]
    h = explorer.render_session(d, "A")
    [img] = parsed(h).with_class("tt-figure")
    assert re.match(r"data:image/png;base64,[A-Za-z0-9+/=]{100,}$", img["src"])


def test_static_when_not_interactive():
    ex = explorer.SessionExplorer(make_data(), "A", interactive=False)
    bundle = ex._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"} and ex.widget is None
    assert len(parsed(bundle["text/html"]).with_class("tt-turn")) == 4


def test_widget_bundle_has_static_fallback_and_updates():
    pytest.importorskip("ipywidgets")
    ex = explorer.SessionExplorer(make_data(), "A", interactive=True)
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert len(parsed(bundle["text/html"]).with_class("tt-turn")) == 4
    ex.picker.value = "B"
    assert 'data-session="B"' in ex.view.value
    ex.picker.value = "A"
    ex.speaker.value = "patient"
    assert len(parsed(ex.view.value).with_class("tt-turn")) == 2
    ex.codes.value = ("values",)
    assert len(parsed(ex.view.value).with_class("tt-turn")) == 0
