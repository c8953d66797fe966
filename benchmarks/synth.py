"""Synthetic corpora that keep the structure of real embeddings.

Embedding a million passages with MiniLM on this CPU takes hours, so the scale
benchmark generates vectors instead. Uniform random vectors would be useless:
no real corpus looks like that and approximate indexes cannot find neighbours
in them. Each synthetic vector is instead a mixture around real embeddings of
the report:

    v = normalise(sum_j w_j * a_j + tau * z)

* ``a_j``: one real passage or sentence embedding (the anchor) and, for most
  vectors, one or two of its nearest real neighbours, so vectors fill the
  space *between* related real texts (topics blending) rather than sitting
  on 563 points;
* ``w``: Dirichlet weights, the anchor dominant;
* ``z``: Gaussian noise with the covariance of the real embeddings, so the
  noise follows the directions real texts vary along (their spectrum decays;
  isotropic noise in 384 dimensions would make every vector a stranger);
* ``tau``: calibrated so that a synthetic corpus the size of the real pool has
  the same median nearest-neighbour similarity as the real pool.

``check`` compares the nearest-neighbour similarity distribution of real and
synthetic corpora of the same size, and how close real questions come to each.

Synthetic text for BM25 is made the same way in spirit: passages recombined
from the report's real sentences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Generator:
    anchors: np.ndarray  # real embeddings, unit rows
    chol: np.ndarray  # Cholesky factor of their covariance (noise shape)
    neighbours: np.ndarray  # per anchor, its nearest other anchors
    tau: float = 0.5
    spread: float = 0.5  # log-normal spread of each vector's own noise scale
    mix_prob: float = 0.7  # share of vectors that blend two or three anchors

    @classmethod
    def from_real(cls, anchors: np.ndarray, n_neighbours: int = 8) -> Generator:
        a = np.asarray(anchors, dtype=np.float32)
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        cov = np.cov(a.T.astype(np.float64))
        # A small floor keeps the factor defined when the pool is smaller than
        # the dimension, without making the noise isotropic.
        cov += np.eye(cov.shape[0]) * 1e-4 * np.trace(cov) / cov.shape[0]
        chol = np.linalg.cholesky(cov).astype(np.float32)
        sims = a @ a.T
        np.fill_diagonal(sims, -np.inf)
        nb = np.argsort(-sims, axis=1)[:, :n_neighbours]
        return cls(a, chol, nb)

    def sample(self, n: int, seed: int = 0, batch: int = 100_000,
               out: np.ndarray | None = None) -> np.ndarray:
        """``n`` unit vectors, float32, generated in batches to bound memory.

        ``out`` (n x dim float32, e.g. a memory-mapped .npy) receives them
        instead of a new array; the vectors are the same for the same seed.
        """
        rng = np.random.default_rng(seed)
        if out is None:
            out = np.empty((n, self.anchors.shape[1]), dtype=np.float32)
        for lo in range(0, n, batch):
            out[lo:lo + batch] = self._batch(min(batch, n - lo), rng)
        return out

    def _batch(self, n: int, rng: np.random.Generator) -> np.ndarray:
        na, k = self.neighbours.shape
        first = rng.integers(0, na, n)
        parts = rng.integers(1, 4, n) * (rng.random(n) < self.mix_prob) + (
            rng.random(n) >= self.mix_prob)  # 1 anchor, or 2-3 when mixing
        parts = np.clip(parts, 1, 3)
        w = rng.dirichlet([4.0, 1.0, 1.0], n).astype(np.float32)
        w[parts < 2, 1] = 0
        w[parts < 3, 2] = 0
        w /= w.sum(1, keepdims=True)
        second = self.neighbours[first, rng.integers(0, k, n)]
        third = self.neighbours[first, rng.integers(0, k, n)]
        v = (w[:, :1] * self.anchors[first] + w[:, 1:2] * self.anchors[second]
             + w[:, 2:3] * self.anchors[third])
        z = rng.standard_normal((n, self.chol.shape[0]), dtype=np.float32) @ self.chol.T
        # Real texts sit at varied distances from their nearest topic: some
        # near-duplicates, some loners. One noise scale per vector keeps both tails.
        scale = self.tau * np.exp(self.spread * rng.standard_normal(n) - self.spread ** 2 / 2)
        v += scale.astype(np.float32)[:, None] * z
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return v

    def calibrate(self, target_median: float, size: int | None = None, seed: int = 1,
                  samples: int = 5) -> float:
        """Set ``tau`` so corpora of ``size`` have the given median NN similarity.

        The median is taken over several sampled corpora: one corpus the size
        of the report is small enough for its median to wander by a few
        hundredths from seed to seed.
        """
        size = size or len(self.anchors)
        lo, hi = 0.0, 4.0
        for _ in range(20):
            self.tau = (lo + hi) / 2
            sims = np.concatenate([nn_similarities(self.sample(size, seed + i))
                                   for i in range(samples)])
            if float(np.median(sims)) > target_median:
                lo = self.tau
            else:
                hi = self.tau
        self.tau = (lo + hi) / 2
        return self.tau


def nn_similarities(x: np.ndarray, sample: int | None = None, seed: int = 0) -> np.ndarray:
    """Cosine similarity of each (sampled) row with its nearest other row."""
    import faiss

    rows = np.arange(len(x))
    if sample is not None and sample < len(x):
        rows = np.random.default_rng(seed).choice(len(x), sample, replace=False)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(np.ascontiguousarray(x))
    sims, ids = index.search(np.ascontiguousarray(x[rows]), 2)
    # Column 0 is the row itself unless an exact duplicate came first.
    return np.where(ids[:, 0] == rows, sims[:, 1], sims[:, 0])


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance (largest gap between the CDFs)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    ca = np.searchsorted(a, grid, side="right") / len(a)
    cb = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(ca - cb)))


def synthetic_passages(sentences: list[str], n: int, seed: int = 0,
                       per_passage: tuple[int, int] = (2, 6)
                       ) -> list[tuple[str, list[tuple[int, int]]]]:
    """Report-like text: each passage is a run of real sentences of the report,
    picked at random, so word statistics stay those of the report. Returns each
    passage's text and the (start, end) of its sentences in it."""
    rng = np.random.default_rng(seed)
    lo, hi = per_passage
    counts = rng.integers(lo, hi + 1, n)
    picks = rng.integers(0, len(sentences), int(counts.sum()))
    out, pos = [], 0
    for c in counts:
        parts, spans, at = [], [], 0
        for i in picks[pos:pos + c]:
            s = sentences[i]
            parts.append(s)
            spans.append((at, at + len(s)))
            at += len(s) + 1
        out.append((" ".join(parts), spans))
        pos += c
    return out
