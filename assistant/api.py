"""The Python API: load once, then ask, search and compare.

    from assistant import Assistant
    a = Assistant.load()
    a.ask("What is the RRLM?")          # -> Answer
    a.search("nearshoring", k=5)        # -> list[Hit]
    a.compare("USMCA")                  # -> Comparison
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from dataclasses import replace

from assistant.answer import compose, evidence, should_abstain
from assistant.compare import GROUPINGS, compare_sections, without_framing
from assistant.config import Config
from assistant.embed import Embedder
from assistant.errors import AssistantError, IndexError_, QueryError
from assistant.index import (
    IndexData,
    Progress,
    build_index,
    build_lock,
    load_index,
    staleness,
)
from assistant.lexical import tokenize
from assistant.multilingual import cross_lingual_note
from assistant.retrieve.hybrid import HybridRetriever
from assistant.types import Answer, Comparison, Document, Hit, Passage, Section

log = logging.getLogger("assistant")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")


# Where a question can end: after . ? ! (and any closing quote or bracket), or at a line break.
_SEGMENT = re.compile(r"(?<=[.?!？。])[\"'”’)\]]*\s+|\s*\n\s*")
_ASKS = re.compile(r"[?？][\"'”’)\]]*$")


def clean_question(text: str, max_chars: int) -> tuple[str, str]:
    """Normalise a question; returns it and a note for the reader if it was cut."""
    if not isinstance(text, str):
        raise QueryError("the question must be text")
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)  # line breaks stay for now: they end sentences in _cut
    flat = " ".join(text.split())
    if not flat:
        raise QueryError("the question is empty; type a question about the report")
    if len(flat) <= max_chars:
        return flat, ""
    cut, how = _cut(text, flat, max_chars)
    return cut, (f"the question was {len(flat):,} characters, over the limit of "
                 f"{max_chars:,}; it was cut to {len(cut):,}: {how}")


def _cut(text: str, flat: str, max_chars: int) -> tuple[str, str]:
    """What of an over-long question to search, and how it was chosen.

    Text this long is a question pasted together with something else (an
    article, notes, padding), and the reader's question sits at one end of it:
    typed before the paste or after it. The middle could not all be searched
    anyway (the embedding model reads about 250 tokens), and keeping the first
    N characters loses a question typed at the end and buries one at the start
    under pasted text that then decides what is retrieved. So:

    1. Sentences (ended by . ? ! or a line break) that ask something, ending
       in a question mark, within the first or last half of the bound are the
       question: only they are kept, once each.
    2. Failing that (no question mark near either end), the head and the tail
       are kept, half the bound each, cut at a space, with " … " between, so a
       question at either end is still in what is searched.
    """
    half = (max_chars - 3) // 2
    segments = [" ".join(s.split()) for s in _SEGMENT.split(text)]
    segments = [s for s in segments if s]
    head = _within(segments, half)
    tail = _within(segments[::-1], half)[::-1]
    asked = list(dict.fromkeys(s for s in [*head, *tail] if _ASKS.search(s)))
    if asked:
        ends = [name for name, part in (("start", head), ("end", tail))
                if any(s in part for s in asked)]
        return " ".join(asked), (f"only the question at its {' and '.join(ends)} was kept, "
                                 "not the text around it")
    first = flat[:half].rsplit(" ", 1)[0] or flat[:half]
    last = flat[-half:].split(" ", 1)[-1] or flat[-half:]
    return f"{first} … {last}", (f"its first {len(first):,} and last {len(last):,} characters "
                                 "were kept")


def _within(segments: list[str], budget: int) -> list[str]:
    """The leading segments that fit in ``budget`` characters together."""
    out, used = [], 0
    for s in segments:
        used += len(s) + 1
        if used > budget + 1:
            break
        out.append(s)
    return out


# The "what to do" tail of load_index's messages, dropped once a rebuild was tried.
_FIX_ADVICE = re.compile(r"; run `python -m assistant build`[^;]*$")


def _join_notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


def _stderr_progress(stage: str, fraction: float) -> None:
    print(f"[{fraction:4.0%}] {stage}", file=sys.stderr, flush=True)


def _rebuild(cfg: Config, embedder: Embedder, progress: Progress) -> IndexData:
    """Build the index, unless another process built a usable one while this one waited.

    Several ``ask`` runs finding the same stale index would otherwise each
    rebuild it in turn behind the build lock.
    """
    with build_lock(cfg.index_dir):
        try:
            data = load_index(cfg)
            if staleness(data.manifest, cfg) is None:
                return data
        except IndexError_:
            pass
        return build_index(cfg, embedder, progress)


class Assistant:
    def __init__(self, data: IndexData, embedder: Embedder, cfg: Config) -> None:
        self.cfg = cfg
        self.data = data
        self.embedder = embedder
        self.retriever = HybridRetriever(data, embedder, cfg)
        self._index_of = {p.id: i for i, p in enumerate(data.passages)}
        self._docs = {d.id: d for d in data.documents}
        # What a reader should know about the index being served (e.g. it is stale
        # because a rebuild failed); the CLI logs these, an app may show them.
        self.warnings: list[str] = []

    # -- loading ---------------------------------------------------------------
    @classmethod
    def load(cls, cfg: Config | None = None, rebuild: bool = True,
             progress: Progress | None = None) -> Assistant:
        """Open the saved index; build it first when it is missing, stale or damaged.

        With ``rebuild=False`` a missing or unusable index raises IndexError_.
        When a rebuild is needed but impossible (say the folder is read-only),
        a stale but intact index is still served, with a warning.
        """
        cfg = cfg or Config.from_env()
        embedder = Embedder(cfg.model, cfg.device, cfg.batch_size)
        progress = progress or _stderr_progress
        problem = None
        data = None
        try:
            data = load_index(cfg)
            problem = staleness(data.manifest, cfg)
        except IndexError_ as exc:
            problem = str(exc)
        if problem is None:
            return cls(data, embedder, cfg)
        if not rebuild:
            raise IndexError_(f"the index cannot be used: {problem}; "
                              "run `python -m assistant build`")
        log.warning("rebuilding the index: %s", problem)
        progress(f"rebuilding the index: {problem}", 0.0)
        try:
            data = _rebuild(cfg, embedder, progress)
        except (AssistantError, OSError) as exc:  # OSError: the folder turned read-only mid-write
            # Say both what was wrong with the index and why it could not be
            # rebuilt: either alone leaves the reader guessing what to fix.
            failed = _error_text(exc)
            problem = _FIX_ADVICE.sub("", problem)
            if not (cfg.index_dir / "CURRENT").exists():
                raise  # a first build: there was no index to say anything about
            # An intact old index of the same model beats no answers at all.
            if data is None or data.manifest.get("model") != cfg.model:
                raise IndexError_(f"the index cannot be used ({problem}) and rebuilding it "
                                  f"failed: {failed}") from exc
            warning = (f"could not rebuild the index ({failed}); serving the previous index, "
                       f"which is out of date ({problem})")
            log.warning(warning)
            a = cls(data, embedder, cfg)
            a.warnings.append(warning)
            return a
        return cls(data, embedder, cfg)

    @classmethod
    def build(cls, cfg: Config | None = None, progress: Progress | None = None,
              show_bar: bool = False) -> Assistant:
        cfg = cfg or Config.from_env()
        embedder = Embedder(cfg.model, cfg.device, cfg.batch_size)
        data = build_index(cfg, embedder, progress or _stderr_progress, show_bar=show_bar)
        return cls(data, embedder, cfg)

    # -- questions -------------------------------------------------------------
    def _k(self, k: int | None) -> int:
        k = self.cfg.k if k is None else k
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise QueryError(f"k must be a whole number of at least 1 (got {k!r})")
        return min(k, 50)

    def ask(self, question: str, k: int | None = None, section: str | None = None,
            doc: str | None = None) -> Answer:
        q, note = clean_question(question, self.cfg.max_question_chars)
        r = self.retriever.retrieve(q, self._k(k), section, doc)
        ans = compose(q, r, self.data, self.cfg, self._index_of,
                      _join_notes(note, cross_lingual_note(r)), scoped=bool(section or doc))
        return replace(ans, question=question if len(question) <= 500 else q[:500])

    def search(self, query: str, k: int | None = None, section: str | None = None,
               doc: str | None = None) -> list[Hit]:
        q, _ = clean_question(query, self.cfg.max_question_chars)
        return self.retriever.search(q, self._k(k), section, doc)

    def compare(self, topic: str, section: str | None = None, doc: str | None = None,
                by: str = "section", depth: int = 30) -> Comparison:
        """Rank what each section (``by="section"``) or document (``by="document"``) says."""
        if not isinstance(by, str) or by not in GROUPINGS:
            raise QueryError(f"compare by {by!r} is not possible; choose one of: "
                             f"{', '.join(GROUPINGS)}")
        q, _ = clean_question(topic, self.cfg.max_question_chars)
        r = self.retriever.retrieve(q, depth, section, doc)
        bm25 = self.data.bm25
        # Words that pick out a topic are the rare ones; "report" or "Mexico" do not.
        terms = frozenset(t for t in tokenize(r.query)
                          if 0 < bm25.df.get(t, 0) <= 0.2 * bm25.size)
        abstain, reason = should_abstain(
            evidence(without_framing(q), r, self.data, self._index_of, cfg=self.cfg,
                     scoped=bool(section or doc)),
            self.cfg)
        if abstain:
            return Comparison(q, (), True, reason)
        return compare_sections(q, r, self._index_of, terms, by=by,
                                sent_spans=self.data.sent_spans)

    # -- the report itself -------------------------------------------------------
    @property
    def documents(self) -> list[Document]:
        return list(self.data.documents)

    def document(self, doc_id: str) -> Document:
        try:
            return self._docs[doc_id]
        except KeyError:
            raise QueryError(f"no document {doc_id!r}; have: {', '.join(self._docs)}") from None

    def sections(self) -> list[tuple[Document, Section]]:
        return [(d, s) for d in self.data.documents for s in d.sections]

    def section_names(self) -> list[str]:
        return self.retriever.sections()

    @property
    def passages(self) -> list[Passage]:
        return self.data.passages

    def passage(self, passage_id: str) -> Passage:
        try:
            return self.data.passages[self._index_of[passage_id]]
        except KeyError:
            raise QueryError(f"no passage {passage_id!r}") from None

    def context(self, passage_id: str) -> tuple[str, int, int]:
        """The text of the passage's section and the passage's offsets within it."""
        p = self.passage(passage_id)
        doc = self.document(p.doc_id)
        section = next(s for s in doc.sections if s.path == p.section_path)
        text = doc.text[section.start:section.end]
        return text, p.start - section.start, p.end - section.start
