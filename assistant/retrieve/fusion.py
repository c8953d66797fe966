"""Reciprocal-rank fusion: each ranked list votes 1 / (k + rank) for its items.

RRF needs no score calibration between BM25 and cosine similarity, which live
on unrelated scales; k = 60 (Cormack et al., 2009) damps the head of each list.
"""

from __future__ import annotations

from collections.abc import Sequence


def rrf(rankings: Sequence[Sequence[int]], k: int = 60,
        weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """Fuse ranked lists of ids into one [(id, score)] list, best first."""
    weights = weights or [1.0] * len(rankings)
    scores: dict[int, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + w / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
