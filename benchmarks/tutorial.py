"""The common tutorial pipeline, the baseline a reader would otherwise build.

LangChain's RecursiveCharacterTextSplitter (1,000 characters, 200 overlap)
over the raw report text, the same MiniLM model through the project's own
Embedder (so the model is not what differs), a FAISS flat inner-product index
over normalised vectors, top-k. No sections, pages, BM25 or abstention.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from assistant.embed import Embedder


class TutorialPipeline:
    def __init__(self, chunks: list[str], vectors: np.ndarray, embedder: Embedder,
                 build_seconds: float) -> None:
        import faiss

        self.chunks = chunks
        self.embedder = embedder
        self.build_seconds = build_seconds
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    @classmethod
    def build(cls, report: Path, embedder: Embedder) -> TutorialPipeline:
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        t0 = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        chunks = splitter.split_text(report.read_text(encoding="utf-8"))
        vectors = embedder.encode(chunks)
        return cls(chunks, vectors, embedder, time.perf_counter() - t0)

    def query(self, question: str, k: int = 5) -> list[str]:
        """Ranked chunk texts: embed the question, search the flat index."""
        q = self.embedder.encode_query(question).reshape(1, -1)
        _, ids = self.index.search(q, k)
        return [self.chunks[i] for i in ids[0] if i >= 0]
