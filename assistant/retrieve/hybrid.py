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

import functools
import re
from dataclasses import dataclass, field

import numpy as np

from assistant.config import Config
from assistant.embed import Embedder
from assistant.errors import QueryError
from assistant.index import IndexData
from assistant.lexical import fold, words
from assistant.multilingual import MultilingualEncoder, question_language
from assistant.retrieve.acronyms import expand_query
from assistant.retrieve.candidates import SparseScores, top_stable
from assistant.retrieve.cues import answer_form, has_form
from assistant.retrieve.fusion import rrf
from assistant.types import PEOPLE, Hit, Passage

Scores = np.ndarray | SparseScores


@dataclass(frozen=True)
class Retrieval:
    """Everything one query computed, so answer and compare need not redo it.

    ``dense``, ``sentence`` and ``sent_scores`` are full arrays on a small
    corpus. On a large one only the candidate passages are scored (see
    HybridRetriever), and they are ``SparseScores``: indexed the same way, for
    every hit and every sentence of a hit, but not for passages no retriever
    put forward. Read them by position (``r.sentence[i]``, ``r.sent_scores[rows]``)
    rather than with whole-array operations.
    """

    query: str  # as searched, after acronym expansion
    qvec: np.ndarray
    hits: tuple[Hit, ...]
    dense: Scores  # cosine of the query with each scored passage
    sentence: Scores  # best sentence cosine of each scored passage (-1: it has none)
    sent_scores: Scores  # cosine of the query with each sentence of a scored passage
    lexical: np.ndarray  # BM25 of every passage
    exhaustive: bool = True  # every passage was scored (False: the candidates only)
    # The question's language (multilingual.question_language). When it is not
    # English and the index has multilingual vectors, dense, sentence and
    # sent_scores are the cross-lingual encoder's cosines, moved onto the
    # English model's scale (Config.multilingual_shift) so that the answer's
    # sentence choice and the abstention thresholds read them as they are.
    language: str = "en"
    cross_lingual: bool = False
    # (start, rows): passage i's sentences are rows[start[i]:start[i + 1]]; see sentence_rows
    sent_layout: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    def sentence_rows(self, passage: int) -> np.ndarray:
        """Rows of sent_spans / sent_scores holding the sentences of one passage, in order.

        A lookup, not a scan of every sentence (``spans[:, 0] == i`` costs
        O(corpus) per passage, which at a million passages is most of an ask).
        """
        if self.sent_layout is None:
            raise ValueError("this Retrieval was made without its sentence layout")
        start, rows = self.sent_layout
        return rows[start[passage]:start[passage + 1]]


def near_duplicate(a: Passage, b: Passage, va: np.ndarray, vb: np.ndarray,
                   wa: frozenset[str] | None = None, wb: frozenset[str] | None = None) -> bool:
    """Whether b repeats a; ``wa``/``wb``, when given, are the passages' word sets."""
    # The same words reached twice (a quote repeating its paragraph, a list
    # printed in two sections) would waste a result slot.
    if float(va @ vb) > 0.97:
        return True
    wa = frozenset(words(a.text)) if wa is None else wa
    wb = frozenset(words(b.text)) if wb is None else wb
    if not wa or not wb:
        return False
    return len(wa & wb) / min(len(wa), len(wb)) > 0.9


class HybridRetriever:
    """Fuse three rankings; score the whole corpus only while that is cheap.

    Up to ``cfg.exhaustive_max`` sentences every passage and sentence is
    scored against the query (a few milliseconds; the rankings are then exact
    by construction). Above it, the cost of that grows with the corpus (about
    125 ms of a 165 ms ask at 100k passages, benchmarks/RESULTS.md), so only
    candidates are scored: the passages of FAISS's passage top-N, of the
    sentence index's top-N sentences and of BM25's top-N. With exact (Flat)
    indexes the three rankings are the same as the exhaustive ones: a passage
    whose best sentence ranks in the exhaustive top-N has that sentence among
    the sentence index's top hits, as long as those name more than N
    passages, which the search makes sure of by looking deeper. With IVF
    indexes (large corpora) they are as good as the indexes' recall. On
    synthetic corpora an ask took 36 ms at 100k passages and 49 ms at 1M this
    way, against 143 ms and 1.1 s scoring everything; the top 5 was the same
    for every question at 100k and for 66 of 70 at 1M (benchmarks/README.md).
    """

    # Sentences asked of the sentence index per passage wanted: a passage
    # often has several sentences near a question, so more sentences than
    # passages are needed to name enough distinct passages.
    SENTENCES_PER_PASSAGE = 4

    def __init__(self, data: IndexData, embedder: Embedder, cfg: Config) -> None:
        self.data = data
        self.embedder = embedder
        self.cfg = cfg
        self.multilingual = (MultilingualEncoder(cfg.multilingual_model)
                             if cfg.multilingual_model and data.ml_vectors is not None else None)
        n = len(data.passages)
        self.sent_owner = data.sent_spans[:, 0] if len(data.sent_spans) else np.zeros(0, int)
        self._section_keys = {}
        for i, p in enumerate(data.passages):
            for key in (*p.section_path, p.section, p.doc_id, p.doc_title):
                self._section_keys.setdefault(_key(key), set()).add(i)
        self._all = np.ones(n, dtype=bool)
        # The sentences of passage i are rows _sent_rows[_sent_start[i]:_sent_start[i + 1]].
        # A build writes them in passage order; sort anyway rather than rely on it.
        owner = np.asarray(self.sent_owner, dtype=np.int64)
        if len(owner) > 1 and not np.all(owner[1:] >= owner[:-1]):
            self._sent_rows = np.argsort(owner, kind="stable")
        else:
            self._sent_rows = np.arange(len(owner))
        self._sent_start = np.searchsorted(owner[self._sent_rows], np.arange(n + 1))
        # Word sets for the near-duplicate check: folding and splitting the same
        # passages' text again for every pair was most of retrieve() after the
        # embedding (about 3 ms a query), for texts that never change.
        self._words = functools.lru_cache(maxsize=8192)(self._passage_words)

    def _passage_words(self, i: int) -> frozenset[str]:
        return frozenset(words(self.data.passages[i].text))

    @property
    def sent_index(self):
        """FAISS over the sentence vectors (None in an IndexData made without one)."""
        return getattr(self.data, "sent_dense", None)

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
        language = question_language(question)
        cross = self.multilingual is not None and language != "en"
        # A question in another language is searched with the cross-lingual
        # encoder instead of MiniLM, whose vector of it is near noise (see
        # assistant/multilingual.py); an English one never pays for it.
        qvec = (self.multilingual.encode_query(query) if cross
                else self.embedder.encode_query(query))
        depth = min(n, max(self.cfg.candidates, k * 4))
        if cross:
            dense, sentence, sent_scores, lexical, rankings = self._rank_cross_lingual(
                query, qvec, mask, depth)
        elif self._exhaustive():
            dense, sentence, sent_scores, lexical, rankings = self._rank_all(
                query, qvec, mask, depth)
        else:
            dense, sentence, sent_scores, lexical, rankings = self._rank_candidates(
                query, qvec, mask, depth)
        if cross:
            # The multilingual sentence ranking leads, BM25 (which still matches
            # names, figures and acronyms written alike in both languages) has a
            # smaller say; see _rank_cross_lingual.
            fused = rrf([r.tolist() for r in rankings], k=self.cfg.rrf_k,
                        weights=[1.0, self.cfg.cross_lingual_lexical_weight])
        else:
            fused = self._fuse(question, rankings, dense, sentence, sent_scores, lexical, depth)
        fused = self._member_lists_last(question, fused)

        hits: list[Hit] = []
        taken: list[int] = []
        for idx, score in fused:
            p = data.passages[idx]
            if any(near_duplicate(p, h.passage, data.vectors[idx], data.vectors[j],
                                  self._words(idx), self._words(j))
                   for h, j in zip(hits, taken, strict=True)):
                continue
            hits.append(Hit(p, float(score), float(dense[idx]), float(lexical[idx])))
            taken.append(idx)
            if len(hits) >= k:
                break
        return Retrieval(query, qvec, tuple(hits), dense, sentence, sent_scores, lexical,
                         exhaustive=isinstance(sentence, np.ndarray),
                         sent_layout=(self._sent_start, self._sent_rows),
                         language=language, cross_lingual=cross)

    def _fuse(self, question: str, rankings, dense: Scores, sentence: Scores,
              sent_scores: Scores, lexical: np.ndarray, depth: int) -> list[tuple[int, float]]:
        """The passages any ranking put forward, by one score: best sentence, passage, BM25.

        ``best sentence + w_d * passage cosine + w_l * BM25 / best BM25``. Each
        ranking's candidates are scored, so the cost follows the candidates.
        Scores rather than ranks (RRF): a margin counts. A passage whose one
        sentence answers far better than anything else (0.51 against 0.38)
        lost to one ranked second by all three lists; BM25 far ahead for a
        name ("Where does Barbara Walter work?") lost to dense noise at 0.2.
        On the factual questions of dev, eval/heldout_questions.jsonl and the
        English twins of tests/data/multilingual_questions.jsonl, hit@1 went
        from 99 of 114 (RRF) to 107 (weights 0.5, 0.25, answer-form bonus
        0.15; dev 22 of 24 both ways, held-out 34 -> 40 of 44, twins 43 -> 45
        of 46). A bonus of 0.05 gave 106 (dev lost "what causes" to a
        passage giving the gaps' sizes); 0.15 to 0.2 the same 107.

        Then among the best ``depth``, a sentence of the form the question
        asks for (a figure, a cause, a date; see cues.py) adds
        cfg.answer_form_bonus to its cosine before the passage's best is taken.
        """
        cfg = self.cfg
        cand = np.unique(np.concatenate([np.asarray(r, dtype=np.int64) for r in rankings]))
        if not len(cand):
            return []
        lex = np.asarray(lexical[cand], dtype=np.float64)
        top_lex = float(lex.max())
        lex = lex / top_lex if top_lex > 0 else np.zeros_like(lex)
        best = np.asarray(sentence[cand], dtype=np.float64)
        score = best + cfg.fusion_dense_weight * np.asarray(dense[cand]) + (
            cfg.fusion_lexical_weight * lex)
        form = answer_form(question)
        if form is not None and cfg.answer_form_bonus:
            spans = self.data.sent_spans
            for j in np.argsort(-score, kind="stable")[:depth]:
                rows = self._sent_rows[self._sent_start[cand[j]]:self._sent_start[cand[j] + 1]]
                text = self.data.passages[int(cand[j])].text
                shaped = [float(sent_scores[row]) + cfg.answer_form_bonus for row in rows
                          if has_form(text[spans[row, 1]:spans[row, 2]], form)]
                if shaped and max(shaped) > best[j]:
                    score[j] += max(shaped) - best[j]
        order = np.argsort(-score, kind="stable")
        # The hit's score stays a reciprocal rank, as RRF's was: comparable
        # within one query, and compressed the same way, so the compare view's
        # "a second passage only when nearly as good as the first" (a ratio of
        # scores) keeps its meaning.
        return [(int(cand[j]), 1.0 / (cfg.rrf_k + rank)) for rank, j in enumerate(order, 1)]

    def _member_lists_last(self, question: str, fused: list[tuple[int, float]]
                           ) -> list[tuple[int, float]]:
        """Member lists after every other passage, unless the question is about people.

        A list's lines carry their group's name and institutions, so they sit
        near any question on that group's topic (and, for a question in
        Spanish, near its Spanish words) without answering it; the answer
        never quotes them for such a question, so ranking them first only
        pushes the passage that answers down.
        """
        from assistant.answer import asks_about_people  # answer imports this module

        if asks_about_people(question, self.data):
            return fused
        passages = self.data.passages
        return ([f for f in fused if passages[f[0]].kind != PEOPLE]
                + [f for f in fused if passages[f[0]].kind == PEOPLE])

    def _exhaustive(self) -> bool:
        """Score everything: the corpus is small, or there is no sentence index to ask."""
        return self.sent_index is None or len(self.sent_owner) <= self.cfg.exhaustive_max

    def _rank_all(self, query: str, qvec: np.ndarray, mask: np.ndarray, depth: int):
        """Every passage and sentence scored; rankings by full sorts (small corpora)."""
        data = self.data
        n = len(data.passages)
        dense = data.vectors @ qvec if n else np.zeros(0, np.float32)
        sent_scores = data.sent_vectors @ qvec if len(data.sent_vectors) else np.zeros(0)
        sentence = np.full(n, -1.0, dtype=np.float32)
        if len(sent_scores):
            np.maximum.at(sentence, self.sent_owner, sent_scores.astype(np.float32))
        lexical = data.bm25.scores(query)

        dense_rank = self._dense_ranking(qvec, mask, depth)
        allowed = np.flatnonzero(mask)
        sent_rank = allowed[np.argsort(-sentence[allowed], kind="stable")][:depth]
        lex_allowed = allowed[lexical[allowed] > 0]
        lex_rank = lex_allowed[np.argsort(-lexical[lex_allowed], kind="stable")][:depth]
        return dense, sentence, sent_scores, lexical, (dense_rank, sent_rank, lex_rank)

    def _rank_cross_lingual(self, query: str, qvec: np.ndarray, mask: np.ndarray, depth: int):
        """Passages ranked by their best sentence under the multilingual encoder, and by BM25.

        Exhaustive whatever the corpus size: the multilingual vectors have no
        FAISS index, and only questions in other languages come here. The
        cosines are shifted onto MiniLM's scale. On the 46 questions of
        tests/data/multilingual_questions.jsonl the best sentence alone put
        the answer first for 36 and in the top five for 45; adding the
        passage-vector ranking or BM25 at full weight lost one or two of each,
        BM25 at 0.3 none; MiniLM's own rankings, at any weight, lost a third.
        """
        data = self.data
        n = len(data.passages)
        shift = self.cfg.multilingual_shift
        dense = (data.ml_vectors @ qvec + shift).astype(np.float32)
        sent_scores = (data.ml_sent_vectors @ qvec + shift).astype(np.float32)
        sentence = np.full(n, -1.0, dtype=np.float32)
        if len(sent_scores):
            np.maximum.at(sentence, self.sent_owner, sent_scores)
        lexical = data.bm25.scores(query)
        allowed = np.flatnonzero(mask)
        sent_rank = allowed[np.argsort(-sentence[allowed], kind="stable")][:depth]
        lex_allowed = allowed[lexical[allowed] > 0]
        lex_rank = lex_allowed[np.argsort(-lexical[lex_allowed], kind="stable")][:depth]
        return dense, sentence, sent_scores, lexical, (sent_rank, lex_rank)

    def _rank_candidates(self, query: str, qvec: np.ndarray, mask: np.ndarray, depth: int):
        """Only candidate passages scored; the same rankings as _rank_all with exact indexes."""
        data = self.data
        lexical = data.bm25.scores(query)
        allowed = np.flatnonzero(mask) if not mask.all() else None
        if allowed is not None and self._sentences_of(allowed) <= self.cfg.exhaustive_max:
            # A filter leaves few passages: score them all, exactly and cheaply.
            cand = allowed
            dense_rank = None
            sent_found = allowed
        else:
            dense_rank = self._dense_ranking(qvec, mask, depth)
            sent_found = self._sentence_candidates(qvec, mask, depth)
            cand = None
        # BM25 scores every passage anyway (bm25s has no top-k score call);
        # argpartition keeps its ranking O(n) rather than a full sort.
        lex_ok = (lexical > 0) & mask
        lex_ids = np.flatnonzero(lex_ok)
        lex_rank = top_stable(lex_ids, lexical[lex_ids], depth)
        if cand is None:
            cand = np.union1d(np.union1d(dense_rank, sent_found), lex_rank)
        cand = cand.astype(np.int64)

        dense_c = data.vectors[cand] @ qvec
        rows, which = self._rows_of(cand)
        sent_c = data.sent_vectors[rows] @ qvec
        best = np.full(len(cand), -1.0, dtype=np.float32)
        if len(rows):
            np.maximum.at(best, which, sent_c.astype(np.float32))
        if dense_rank is None:
            dense_rank = top_stable(cand, dense_c, depth)
        # Every allowed passage whose best sentence could rank in the top depth is
        # in cand (see the class docstring), so ranking cand ranks the corpus.
        sent_rank = top_stable(cand, best, depth)
        n = len(data.passages)
        return (SparseScores(cand, dense_c, n), SparseScores(cand, best, n),
                SparseScores(rows, sent_c, len(self.sent_owner)), lexical,
                (dense_rank, sent_rank, lex_rank))

    def _sentence_candidates(self, qvec: np.ndarray, mask: np.ndarray, depth: int
                             ) -> np.ndarray:
        """Allowed passages owning the sentence index's best sentences: more than depth of them.

        Sorted by descending sentence score, the first time a passage appears
        is its best sentence; so once the hits name more than depth passages,
        the top depth by best sentence are among them. Looks deeper (4x) until
        they do, the index has no more to give, or a filter hides too much.
        """
        index = self.sent_index
        total = int(index.ntotal)
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        want = depth * self.SENTENCES_PER_PASSAGE * (1 if mask.all() else 8)
        q = qvec.reshape(1, -1).astype(np.float32)
        while True:
            want = min(total, want)
            _, ids = index.search(q, want)
            ids = ids[0]
            ids = ids[ids >= 0]
            owners = self.sent_owner[ids]
            owners = np.unique(owners[mask[owners]])
            # An IVF index returns fewer than asked once its probed lists run out.
            if len(owners) > depth or want >= total or len(ids) < want:
                return owners
            want *= 4

    def _sentences_of(self, passages: np.ndarray) -> int:
        return int(np.sum(self._sent_start[passages + 1] - self._sent_start[passages]))

    def _rows_of(self, passages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sentence rows of the given passages, and for each row the position of its passage."""
        lo = self._sent_start[passages]
        lens = self._sent_start[passages + 1] - lo
        total = int(lens.sum())
        # One arange shifted per passage: lo[j] + 0..lens[j]-1, without a Python loop.
        shift = np.repeat(lo - (np.cumsum(lens) - lens), lens)
        rows = self._sent_rows[shift + np.arange(total)]
        return rows, np.repeat(np.arange(len(passages)), lens)

    def search(self, question: str, k: int, section: str | None = None,
               doc: str | None = None) -> list[Hit]:
        return list(self.retrieve(question, k, section, doc).hits)

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
