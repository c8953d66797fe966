"""Hybrid retrieval: dense passages, dense sentences and BM25, fused by RRF.

Three views of relevance vote:
* the passage vector (section path + text) against the question: topic;
* the best single sentence of the passage against the question: a short
  factual question is often answered by one sentence that a whole passage's
  vector dilutes;
* BM25 over stemmed, accent-folded words: names, numbers and rare terms
  that a small embedding model blurs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.config import Config
from assistant.embed import Embedder
from assistant.errors import QueryError
from assistant.index import IndexData
from assistant.lexical import fold, words
from assistant.retrieve.acronyms import expand_query
from assistant.retrieve.fusion import rrf
from assistant.types import Hit, Passage


@dataclass(frozen=True)
class Retrieval:
    """Everything one query computed, so answer and compare need not redo it."""

    query: str  # as searched, after acronym expansion
    qvec: np.ndarray
    hits: tuple[Hit, ...]
    dense: np.ndarray  # cosine of the query with every passage
    sentence: np.ndarray  # best sentence cosine of every passage
    sent_scores: np.ndarray  # cosine of the query with every sentence
    lexical: np.ndarray  # BM25 of every passage


def near_duplicate(a: Passage, b: Passage, va: np.ndarray, vb: np.ndarray) -> bool:
    # The same words reached twice (a quote repeating its paragraph, a list
    # printed in two sections) would waste a result slot.
    if float(va @ vb) > 0.97:
        return True
    wa, wb = set(words(a.text)), set(words(b.text))
    if not wa or not wb:
        return False
    return len(wa & wb) / min(len(wa), len(wb)) > 0.9


class HybridRetriever:
    def __init__(self, data: IndexData, embedder: Embedder, cfg: Config) -> None:
        self.data = data
        self.embedder = embedder
        self.cfg = cfg
        n = len(data.passages)
        self.sent_owner = data.sent_spans[:, 0] if len(data.sent_spans) else np.zeros(0, int)
        self._section_keys = {}
        for i, p in enumerate(data.passages):
            for key in (*p.section_path, p.section, p.doc_id, p.doc_title):
                self._section_keys.setdefault(_key(key), set()).add(i)
        self._all = np.ones(n, dtype=bool)

    # -- filters -------------------------------------------------------------
    def sections(self) -> list[str]:
        seen: dict[str, None] = {}
        for p in self.data.passages:
            for t in p.section_path:
                seen.setdefault(t, None)
        return list(seen)

    def mask_for(self, section: str | None = None, doc: str | None = None) -> np.ndarray:
        mask = self._all.copy()
        for value, what in ((section, "section"), (doc, "document")):
            if not value:
                continue
            if not isinstance(value, str):
                raise QueryError(f"a {what} is chosen by its name (got {value!r})")
            ids = self._section_keys.get(_key(value))
            if ids is None:
                choices = "; ".join(self.sections()) if what == "section" else ", ".join(
                    sorted({p.doc_id for p in self.data.passages}))
                raise QueryError(f"no {what} named {value!r}; choose one of: {choices}")
            sel = np.zeros_like(mask)
            sel[list(ids)] = True
            mask &= sel
        return mask

    # -- search ----------------------------------------------------------------
    def retrieve(self, question: str, k: int, section: str | None = None,
                 doc: str | None = None) -> Retrieval:
        if k < 1:
            raise QueryError(f"k must be at least 1 (got {k})")
        data = self.data
        n = len(data.passages)
        mask = self.mask_for(section, doc)
        query = expand_query(question, data.acronyms)
        qvec = self.embedder.encode_query(query)

        dense = data.vectors @ qvec if n else np.zeros(0, np.float32)
        sent_scores = data.sent_vectors @ qvec if len(data.sent_vectors) else np.zeros(0)
        sentence = np.full(n, -1.0, dtype=np.float32)
        if len(sent_scores):
            np.maximum.at(sentence, self.sent_owner, sent_scores.astype(np.float32))
        lexical = data.bm25.scores(query)

        depth = min(n, max(self.cfg.candidates, k * 4))
        dense_rank = self._dense_ranking(qvec, mask, depth)
        allowed = np.flatnonzero(mask)
        sent_rank = allowed[np.argsort(-sentence[allowed], kind="stable")][:depth]
        lex_allowed = allowed[lexical[allowed] > 0]
        lex_rank = lex_allowed[np.argsort(-lexical[lex_allowed], kind="stable")][:depth]
        fused = rrf([dense_rank.tolist(), sent_rank.tolist(), lex_rank.tolist()],
                    k=self.cfg.rrf_k)

        hits: list[Hit] = []
        for idx, score in fused:
            p = data.passages[idx]
            if any(near_duplicate(p, h.passage, data.vectors[idx], data.vectors[j])
                   for h, j in zip(hits, self._indices(hits), strict=True)):
                continue
            hits.append(Hit(p, float(score), float(dense[idx]), float(lexical[idx])))
            if len(hits) >= k:
                break
        return Retrieval(query, qvec, tuple(hits), dense, sentence, sent_scores, lexical)

    def search(self, question: str, k: int, section: str | None = None,
               doc: str | None = None) -> list[Hit]:
        return list(self.retrieve(question, k, section, doc).hits)

    def _indices(self, hits: list[Hit]) -> list[int]:
        return [self.index_of(h.passage.id) for h in hits]

    def index_of(self, passage_id: str) -> int:
        if not hasattr(self, "_pos"):
            self._pos = {p.id: i for i, p in enumerate(self.data.passages)}
        return self._pos[passage_id]

    def _dense_ranking(self, qvec: np.ndarray, mask: np.ndarray, depth: int) -> np.ndarray:
        n = len(mask)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        # With a filter, look deeper so enough allowed passages survive it.
        want = depth if mask.all() else min(n, depth * 8)
        _, ids = self.data.dense.search(qvec.reshape(1, -1).astype(np.float32), want)
        ids = ids[0]
        ids = ids[ids >= 0]
        ids = ids[mask[ids]]
        return ids[:depth]


def _key(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", fold(s)).strip()
