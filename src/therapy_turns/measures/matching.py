"""A pure-Python token-pattern matcher equal to spaCy's ``Matcher`` on our pattern subset.

spaCy's :class:`spacy.matcher.Matcher` evaluates ``{"LOWER": {"IN": [...]}}`` as a Python set
predicate called with a fresh ``Token`` object at every evaluation; for the short patterns of
``data/technique_patterns.yaml`` and ``lexicons/markers.yaml`` that is most of the cost of the
techniques table. :func:`compile_pattern` turns one pattern into a :class:`TokenPattern` whose
:meth:`TokenPattern.matches` works on plain lists of token attributes (see
:func:`token_attributes`) and returns exactly what ``Matcher`` returns for that pattern alone
(default settings: no ``greedy``, no ``as_spans``), in the same order.

Exactness comes from porting the Matcher's own state machine (``spacy/matcher/matcher.pyx``
3.8: ``find_matches``, ``transition_states``, ``get_action``, ``finish_states``): the same
operator expansion (``+`` = one then ``*``; ``{n,m}`` = n required then m-n optional), the same
actions per (quantifier, match, final) and the same state order, hence the same match order and
de-duplication. Start positions that cannot begin a match are never given a state (a state
that produces no match has no effect on the others, so the output is unchanged).

Supported token-spec keys (upper case, as in our files): ``LOWER`` (string, ``{"IN": [...]}``
or ``{"NOT_IN": [...]}``, strings only), ``POS`` (string or ``{"IN": [...]}``),
``IS_SENT_START`` (bool), ``IS_PUNCT`` (bool), ``OP`` (``"!"``, ``"?"``, ``"*"``, ``"+"``,
``"{n}"``, ``"{n,m}"``, ``"{n,}"``, ``"{,m}"``). Keys in one spec must all hold; ``{}``
matches any token. Anything else makes :func:`compile_pattern` return ``None``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, NamedTuple

from spacy.matcher import Matcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from therapy_turns.measures.views import DocView

__all__ = ["PatternSet", "TokenPattern", "compile_pattern", "token_attributes"]

#: ``(lower, pos, sent_start, punct)`` per token, as :meth:`TokenPattern.matches` reads them
Attrs = tuple[Sequence[str], Sequence[str], Sequence[bool], Sequence[bool]]

# quantifiers, as spaCy's matcher (ZERO is "!": the spec must NOT hold, one token consumed)
ZERO, ONE, ZERO_PLUS, ZERO_ONE = 0, 1, 2, 3
# ("1" is in spaCy's table too, but Matcher.add's pattern validation rejects it)
_OPS: dict[str, tuple[int, ...]] = {"*": (ZERO_PLUS,), "+": (ONE, ZERO_PLUS), "?": (ZERO_ONE,),
                                    "!": (ZERO,)}
_KEYS = frozenset({"LOWER", "POS", "IS_SENT_START", "IS_PUNCT", "OP"})
# column of each attribute in the ``cols`` tuple (lower, pos, sent_start, punct)
_LOWER, _POS, _SENT, _PUNCT = 0, 1, 2, 3


class _Node(NamedTuple):
    """One compiled pattern position (a token spec after operator expansion)."""

    quantifier: int
    lower_in: frozenset[str] | None  # LOWER must be in this set (string or IN)
    lower_not_in: frozenset[str] | None  # LOWER must not be in this set (NOT_IN)
    pos_in: frozenset[str] | None  # POS must be in this set (string or IN)
    sent_start: bool | None
    punct: bool | None


def _node_filter(node: _Node) -> tuple[int, frozenset[Any]] | None:
    """``(column, allowed values)``: a condition every token ``node`` can consume meets, or None
    (any token may be consumed)."""
    if node.quantifier == ZERO:
        return None
    if node.lower_in is not None:
        return _LOWER, node.lower_in
    if node.pos_in is not None:
        return _POS, node.pos_in
    if node.punct is not None:
        return _PUNCT, frozenset([node.punct])
    if node.sent_start is not None:
        return _SENT, frozenset([node.sent_start])
    return None


def _str_set(value: Any) -> frozenset[str] | None:
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return None


def _quantifiers(op: Any) -> tuple[int, ...] | None:
    """spaCy's ``_get_operators`` for one ``OP`` value (None if not accepted)."""
    if op is None:
        return (ONE,)
    if not isinstance(op, str):
        return None
    if op in _OPS:
        return _OPS[op]
    if len(op) < 3 or op[0] != "{" or op[-1] != "}":
        return None
    inner = op[1:-1]
    n, _, m = (inner if "," in inner else f"{inner},{inner}").partition(",")
    if "," in m or not (n.isdecimal() or m.isdecimal()) or (n and not n.isdecimal()) \
            or (m and not m.isdecimal()):
        return None
    lo = int(n or 0)
    if m and int(m) < lo:
        return None
    return (ONE,) * lo + ((ZERO_ONE,) * (int(m) - lo) if m else (ZERO_PLUS,))


def _value_sets(val: Any, not_in_ok: bool
                ) -> tuple[frozenset[str] | None, frozenset[str] | None] | None:
    """``(must be in, must not be in)`` for one attribute's value in a spec: a string,
    ``{"IN": [...]}`` or, if ``not_in_ok``, ``{"NOT_IN": [...]}`` (strings only); None if the
    value is anything else."""
    if isinstance(val, str):
        return frozenset([val]), None
    if isinstance(val, Mapping) and len(val) == 1:
        op, items = next(iter(val.items()))
        got = _str_set(items)
        if got is not None and op == "IN":
            return got, None
        if got is not None and op == "NOT_IN" and not_in_ok:
            return None, got
    return None


def _spec_nodes(spec: Any) -> list[_Node] | None:
    if not isinstance(spec, Mapping) or not set(spec) <= _KEYS:
        return None
    lower_in = lower_not_in = pos_in = None
    sent = punct = None
    if "LOWER" in spec:
        sets = _value_sets(spec["LOWER"], not_in_ok=True)
        if sets is None:
            return None
        lower_in, lower_not_in = sets
    if "POS" in spec:
        sets = _value_sets(spec["POS"], not_in_ok=False)
        if sets is None:
            return None
        pos_in = sets[0]
    if "IS_SENT_START" in spec:
        sent = spec["IS_SENT_START"]
        if not isinstance(sent, bool):
            return None
    if "IS_PUNCT" in spec:
        punct = spec["IS_PUNCT"]
        if not isinstance(punct, bool):
            return None
    if not spec:  # spaCy: an empty spec is one token of any kind (no OP possible)
        return [_Node(ONE, None, None, None, None, None)]
    quants = _quantifiers(spec.get("OP"))
    if quants is None:
        return None
    return [_Node(q, lower_in, lower_not_in, pos_in, sent, punct) for q in quants]


@dataclass(frozen=True)
class TokenPattern:
    """One compiled Matcher token pattern (build it with :func:`compile_pattern`).

    ``nodes``: the specs after operator expansion; ``starts``: for the nodes that can consume
    the first token of a match (the leading optional nodes and the first required one), a
    ``(column, allowed values)`` condition each, or None when some such node accepts any token;
    ``required``: ``LOWER`` sets of required nodes (a Doc without any of one set cannot match).
    """

    nodes: tuple[_Node, ...]
    starts: tuple[tuple[int, frozenset[Any]], ...] | None
    required: tuple[frozenset[str], ...]

    def matches(self, lower: Sequence[str], pos: Sequence[str], sent_start: Sequence[bool],
                punct: Sequence[bool], forms: Set[str] | None = None) -> list[tuple[int, int]]:
        """Every ``(start, end)`` spaCy's ``Matcher`` (only this pattern, default settings)
        returns on a Doc with these token attributes, in the Matcher's order.

        The four sequences are per token of the Doc, as :func:`token_attributes` builds them:
        ``lower[i] = tok.lower_``, ``pos[i] = tok.pos_``, ``punct[i] = tok.is_punct`` and
        ``sent_start[i] = tok.is_sent_start is True`` (equivalently ``doc.to_array("SENT_START")
        [i] == 1``). The Matcher compares ``IS_SENT_START`` with ``TokenC.sent_start == 1``
        (``get_token_attr_for_matcher``): a token whose sentence start is unknown (``0``, e.g.
        every token but the first of ``Doc(vocab, words=...)``) counts as ``False``, and token 0
        is a sentence start only if the Doc says so (``Doc(vocab, words=...)`` and parsed Docs
        set it to 1; ``Doc(..., sent_starts=[None, ...])`` or ``[False, ...]`` leave it 0 / -1,
        and the Matcher then treats it as not a sentence start, unlike ``doc.sents``).
        ``forms``: optionally ``set(lower)``; when many patterns run on one Doc, computing it
        once per Doc makes rejecting Docs that lack a required word cheap.

        Order: the Matcher's order, i.e. by the token at which each match is found (its end, or
        one past its end for matches closed by a failing or missing token), then by the order of
        the Matcher's internal states; it is not simply sorted, so sort if you need to. Like
        spaCy, a pattern with ``POS`` is not checked for missing POS annotation here (the
        Matcher would raise on a Doc without POS).
        """
        n = len(lower)
        if n == 0:
            return []
        have = lower if forms is None else forms
        for req in self.required:
            if req.isdisjoint(have):
                return []
        cols = (lower, pos, sent_start, punct)
        starts = self.starts
        if starts is None:
            cands: list[int] = list(range(n))
        elif len(starts) == 1:
            col, allowed = starts[0]
            cands = [i for i, v in enumerate(cols[col]) if v in allowed]
        else:
            found_at: set[int] = set()
            for col, allowed in starts:
                found_at.update(i for i, v in enumerate(cols[col]) if v in allowed)
            cands = sorted(found_at)
        if not cands:
            return []
        nodes = self.nodes
        last = len(nodes) - 1

        def hit(node: _Node, i: int) -> bool:
            _, l_in, l_not, p_in, ss, pu = node
            if l_in is not None and lower[i] not in l_in:
                return False
            if l_not is not None and lower[i] in l_not:
                return False
            if p_in is not None and pos[i] not in p_in:
                return False
            if ss is not None and sent_start[i] != ss:
                return False
            return pu is None or punct[i] == pu

        out: list[tuple[int, int]] = []
        states: list[tuple[int, int]] = []  # (node index, start); a state's length is i - start
        nc = len(cands)
        ci = 0
        i = cands[0]
        while True:
            if not states:
                if ci == nc:
                    break
                i = cands[ci]
            if ci < nc and cands[ci] == i:
                states.append((0, i))
                ci += 1
            kept: list[tuple[int, int]] = []
            new: list[tuple[int, int]] = []
            for k, start in states:
                while True:  # the RETRY loop of transition_states
                    node = nodes[k]
                    q = node[0]
                    m = hit(node, i)
                    final = k == last
                    if q == ZERO:
                        m = not m
                        q = ONE
                    if q == ONE:
                        if m:
                            if final:
                                out.append((start, i + 1))  # MATCH
                            else:
                                kept.append((k + 1, start))  # ADVANCE
                        break  # (or REJECT)
                    if q == ZERO_PLUS:
                        if m and final:  # MATCH_EXTEND
                            if i > start:
                                out.append((start, i))
                            kept.append((k, start))
                            break
                        if m:  # RETRY_EXTEND
                            new.append((k, start))
                        elif final:  # MATCH_REJECT
                            if i > start:
                                out.append((start, i))
                            break
                        k += 1  # (RETRY)
                        continue
                    # ZERO_ONE
                    if m and final:  # MATCH_DOUBLE
                        if i > start:
                            out.append((start, i))
                        out.append((start, i + 1))
                        break
                    if m:  # RETRY_ADVANCE
                        new.append((k + 1, start))
                    elif final:  # MATCH_REJECT
                        if i > start:
                            out.append((start, i))
                        break
                    k += 1  # (RETRY)
            states = kept + new
            i += 1
            if i == n:
                break
        for k, start in states:  # finish_states: patterns ending in optional nodes
            while nodes[k][0] in (ZERO_PLUS, ZERO_ONE):
                if k == last:
                    if n > start:
                        out.append((start, n))
                    break
                k += 1
        return list(dict.fromkeys(out))  # de-duplicate, first occurrence kept (as spaCy)


def compile_pattern(pattern: Sequence[Mapping[str, Any]]) -> TokenPattern | None:
    """Compile one spaCy ``Matcher`` token pattern; None if it uses anything outside the
    supported subset (see the module docstring), in which case use spaCy's ``Matcher``."""
    if isinstance(pattern, str | bytes) or not isinstance(pattern, Sequence) or not pattern:
        return None
    nodes: list[_Node] = []
    for spec in pattern:
        got = _spec_nodes(spec)
        if got is None:
            return None
        nodes.extend(got)
    if not nodes:  # e.g. only {"OP": "{0}"} specs
        return None
    starts: list[tuple[int, frozenset[Any]]] | None = []
    for node in nodes:
        cond = _node_filter(node)
        if cond is None:
            starts = None
            break
        assert starts is not None
        starts.append(cond)
        if node.quantifier in (ONE, ZERO):
            break
    if starts is not None:  # merge conditions on the same column
        merged: dict[int, frozenset[Any]] = {}
        for col, allowed in starts:
            merged[col] = merged.get(col, frozenset()) | allowed
        starts = sorted(merged.items())
    required = tuple(dict.fromkeys(node.lower_in for node in nodes
                                   if node.quantifier == ONE and node.lower_in is not None))
    return TokenPattern(tuple(nodes), None if starts is None else tuple(starts), required)


def token_attributes(doc: Doc) -> tuple[list[str], list[str], list[bool], list[bool]]:
    """``(lower, pos, sent_start, punct)`` of the tokens of ``doc`` for
    :meth:`TokenPattern.matches`, read through :class:`~measures.views.DocView` (no Token
    objects): ``pos`` is ``""`` where unset, ``sent_start`` is ``SENT_START == 1`` (as the
    Matcher), ``punct`` the ``IS_PUNCT`` flag."""
    return DocView.of(doc).match_attrs


class PatternSet:
    """Named token patterns, each matched on its own: by :func:`compile_pattern` where it
    compiles, else by a spaCy ``Matcher`` holding that one pattern. The matches are those of one
    spaCy ``Matcher`` holding every pattern (each pattern is matched independently)."""

    def __init__(self, vocab: Vocab, patterns: Iterable[tuple[str, list[dict[str, Any]]]]
                 ) -> None:
        self._items: list[tuple[int, TokenPattern | Matcher]] = []
        for key, pat in patterns:
            compiled = compile_pattern(pat)
            if compiled is None:
                compiled = Matcher(vocab)
                compiled.add(key, [list(pat)])
            self._items.append((vocab.strings.add(key), compiled))

    def __len__(self) -> int:
        return len(self._items)

    def requirements(self) -> list[tuple[frozenset[str], ...]] | None:
        """Per pattern, the ``LOWER`` sets a Doc must each share a form with for that pattern to
        match (:attr:`TokenPattern.required`); None if some pattern runs on spaCy's Matcher."""
        if not all(isinstance(m, TokenPattern) for _, m in self._items):
            return None
        return [m.required for _, m in self._items if isinstance(m, TokenPattern)]

    def __call__(self, doc: Doc, attrs: Attrs | None = None, forms: Set[str] | None = None
                 ) -> list[tuple[int, int, int]]:
        """``(match id, start, end)`` of every match in ``doc``, pattern by pattern (the id is
        the string-store hash of the pattern's name, as spaCy's). ``attrs``:
        :func:`token_attributes` of ``doc`` and ``forms``: the set of its ``lower``, if the
        caller has them."""
        if attrs is None:
            attrs = token_attributes(doc)
        if forms is None:
            forms = set(attrs[0])
        out: list[tuple[int, int, int]] = []
        for key, m in self._items:
            if isinstance(m, TokenPattern):
                out.extend((key, s, e) for s, e in m.matches(*attrs, forms=forms))
            else:
                out.extend(m(doc))
        return out
