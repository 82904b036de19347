"""Statement rules of the technique coder (``docs/codebook.md``, decision rule 3): directions,
reflections and information among the statements no cue rule codes; simple vs complex."""

from __future__ import annotations

from dataclasses import dataclass, field

from therapy_turns.measures.views import DocView
from therapy_turns.schema import is_content

LEAD_SKIP = frozenset(
    "just now so and then okay ok well first next also again gently simply slowly um uh right "
    "yeah oh alright but ,".split()
)
_DIRECTION_PHRASES = ("let's", "i'd like you to", "i want you to", "i would like you to")
_YOU = frozenset({"you", "your", "yours", "yourself", "you're", "you've", "you'd", "you'll"})
_ACKNOWLEDGE = frozenset("good great okay fine sure alright right cool lovely yeah yes".split())
#: forms that make a turn input: its plain statements continue the input, not reflect
INPUT_FORMS = {"giving_information", "persuade", "exercise_instruction"}


@dataclass(frozen=True)
class Settings:
    """Thresholds of the reflection rules (``settings`` of ``technique_patterns.yaml``)."""

    min_overlap_plain: float
    min_content_plain: int
    complex_min_novelty: float
    complex_min_content: int
    statement_default: bool = True
    generic_min_content: int = 5


@dataclass
class Turn:
    """A therapist turn being coded: its view and quote mask, the client turn before (content
    lemmas, None without one; all words and lemmas) and the forms found so far."""

    v: DocView
    quoted: list[bool]
    settings: Settings
    role_play: bool = False
    client: set[str] | None = None
    words: set[str] = field(default_factory=set)
    input_turn: bool = False  # the turn's cue rules give information, advice or exercise steps
    found: dict[str, list[list[str]]] = field(default_factory=dict)

    def add(self, code: str, rule: str, text: str) -> None:
        """Record ``[rule, text]`` as evidence of ``code`` (once)."""
        evidence, item = self.found.setdefault(code, []), [rule, text.strip()[:120]]
        if item not in evidence:
            evidence.append(item)


def direction(v: DocView, start: int, end: int) -> str | None:
    """``"imperative"`` if the sentence ``start:end`` opens with an imperative verb (not
    ``be``/``let``, not after ``you``), ``"direction"`` for ``let's``, ``I'd like you to`` ...,
    else None."""
    skip = (v.punct[i] or v.space[i] or v.low[i] in LEAD_SKIP for i in range(start, end))
    i = next((start + k for k, s in enumerate(skip) if not s), None)
    if i is None:
        return None
    if v.tag[i] == "VB" and v.low[i] not in ("be", "let") and not (i and v.low[i - 1] == "you"):
        return "imperative"
    text = v.span_text(start, end).lower().replace("’", "'")
    let = v.low[i] in ("let", "let's") or any(p in text for p in _DIRECTION_PHRASES)
    return "direction" if let else None


def content_lemmas(v: DocView, start: int, end: int) -> set[str]:
    """The content lemmas (:func:`therapy_turns.schema.is_content`) of tokens ``start:end``."""
    cols = (v.lemma_lower, v.alpha, v.stop, v.pos, v.text)
    rows = zip(*(c[start:end] for c in cols), strict=True)
    return {lemma for lemma, alpha, stop, pos, text in rows if is_content(text, pos, alpha, stop)}


def addresses_client(v: DocView, start: int, end: int) -> bool:
    """Does the sentence speak of the client (``you``/``your`` ...), the fillers ``you know`` /
    ``you see`` aside?"""
    for i in range(start, end):
        if v.low[i] not in _YOU:
            continue
        after = v.low[i + 2] if i + 2 < end else ""
        filler = (
            v.low[i] == "you"
            and i + 1 < end
            and v.low[i + 1] in ("know", "see")
            and (after in (",", "", ".", "um", "uh", "like", "i") or v.punct[min(i + 2, end - 1)])
        )
        if not filler:
            return True
    return False


def reflection(t: Turn, start: int, end: int, stem: str | None, stem_complex: bool) -> str | None:
    """The rule id if the statement ``start:end`` reflects the client turn, ``info_*`` if it is
    information, else None (``stem``: the rule id of its lead-in)."""
    v, cfg, client = t.v, t.settings, t.client
    own = any(
        v.low[i] in ("i", "we") and v.dep[i] in ("nsubj", "nsubjpass", "expl")
        for i in range(start, end)
    )  # the therapist speaks of themselves
    if stem is not None and (stem_complex or not own):
        return stem
    if client is None:
        return None
    numbers = (v.tag[i] == "CD" and v.low[i] not in t.words | {"one"} for i in range(start, end))
    if stem is None and any(numbers):
        return "info_number"
    content = content_lemmas(v, start, end) - _ACKNOWLEDGE
    if own or not content:  # "Good.", "Okay, fine.": MISC 2.5 Facilitate
        return None
    overlap = len(content & client) / len(content)
    restated = len(content) >= cfg.min_content_plain or overlap == 1.0
    if overlap >= cfg.min_overlap_plain and restated:
        return f"refl_overlap_{overlap:.2f}"
    if t.input_turn or INPUT_FORMS & t.found.keys():
        return None
    you = addresses_client(v, start, end)
    if not overlap and not you and len(content) >= cfg.generic_min_content:
        return "info_generic"
    return "refl_you" if you else "refl_statement" if cfg.statement_default else None


def complexity(t: Turn, start: int, end: int, complex_stem: bool, cues: list[str]) -> str:
    """``simple|complex+<reason>`` of a reflection (``cues``: its complex cue texts)."""
    client = t.client or set()
    if complex_stem:
        return "complex+stem"
    new_cues = [c for c in cues if not all(w in t.words or w in client for w in c.lower().split())]
    if new_cues:
        return f"complex+cue:{new_cues[0]}"
    content = content_lemmas(t.v, start, end)
    if len(content) >= t.settings.complex_min_content:
        novelty = 1.0 - len(content & client) / len(content)
        if novelty >= t.settings.complex_min_novelty:
            return f"complex+novel_{novelty:.2f}"
    return "simple+default"
