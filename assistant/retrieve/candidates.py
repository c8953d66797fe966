"""Pieces of candidate retrieval: scores kept for a few entries, exact top-k without a full sort.

On a large corpus retrieval scores only the passages (and their sentences)
that some retriever put forward, so its cost follows the candidates rather
than the corpus. ``SparseScores`` holds such scores and is indexed like the
full array it stands for, so code written against full arrays
(``r.sentence[i]``, ``r.sent_scores[rows]``) keeps working for every entry
that was scored, and fails loudly for one that was not instead of reading a
made-up value.
"""

from __future__ import annotations

import numpy as np


class SparseScores:
    """Scores of some entries of a vector of ``size`` entries, indexed like that vector.

    ``s[i]`` gives a NumPy scalar and ``s[array_of_ints]`` an array, as a
    full ``np.ndarray`` would; negative positions count from ``size``. An entry
    that was not scored raises KeyError. ``to_dense(fill)`` builds the full
    array explicitly when a caller really wants every position (it costs
    O(size), which is what this class exists to avoid).
    """

    __slots__ = ("ids", "size", "values")

    def __init__(self, ids: np.ndarray, values: np.ndarray, size: int) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        values = np.asarray(values)
        if ids.shape != values.shape or ids.ndim != 1:
            raise ValueError("ids and values must be 1-d arrays of the same length")
        if len(ids) > 1 and not np.all(ids[1:] > ids[:-1]):
            order = np.argsort(ids, kind="stable")
            ids, values = ids[order], values[order]
            if np.any(ids[1:] == ids[:-1]):
                raise ValueError("ids must be unique")
        if len(ids) and (ids[0] < 0 or ids[-1] >= size):
            raise ValueError(f"ids must lie in [0, {size})")
        self.ids = ids
        self.values = values
        self.size = int(size)

    def __len__(self) -> int:
        return self.size

    def _positions(self, key: np.ndarray) -> np.ndarray:
        if key.size == 0:
            key = key.astype(np.int64)  # an empty list selects nothing, as in NumPy
        if key.dtype.kind not in "iu":
            raise TypeError(f"scores are indexed by integer positions, not {key.dtype}")
        key = np.where(key < 0, key + self.size, key)
        if not len(self.ids):
            found = np.zeros(key.shape, dtype=bool)
            pos = np.zeros(key.shape, dtype=np.int64)
        else:
            pos = np.minimum(np.searchsorted(self.ids, key), len(self.ids) - 1)
            found = self.ids[pos] == key
        if not np.all(found):
            missing = np.asarray(key)[~found].ravel()[:5].tolist()
            raise KeyError(f"no score was computed for position(s) {missing}: only the "
                           f"{len(self.ids)} candidates of this query were scored")
        return pos

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return self.values[self._positions(np.asarray([key], dtype=np.int64))[0]]
        return self.values[self._positions(np.asarray(key))]

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True

    def get(self, key: int, default: float | None = None):
        try:
            return self[key]
        except KeyError:
            return default

    def to_dense(self, fill: float = np.nan) -> np.ndarray:
        out = np.full(self.size, fill, dtype=np.result_type(self.values.dtype, np.float32))
        out[self.ids] = self.values
        return out

    def __repr__(self) -> str:
        return f"SparseScores({len(self.ids)} of {self.size} scored)"


def top_stable(ids: np.ndarray, scores: np.ndarray, depth: int) -> np.ndarray:
    """The first ``depth`` of ``ids`` ordered by descending score, ties by position.

    Exactly ``ids[np.argsort(-scores, kind="stable")][:depth]``, but in
    O(len(ids)) rather than O(len(ids) log len(ids)): ``argpartition`` finds
    the depth-th best score, and only the entries at or above it (ties
    included, so the stable order among them is preserved) are sorted.
    """
    ids = np.asarray(ids)
    scores = np.asarray(scores)
    if depth <= 0 or not len(ids):
        return ids[:0]
    if len(ids) > depth:
        neg = -scores
        kth = neg[np.argpartition(neg, depth - 1)[depth - 1]]
        keep = np.flatnonzero(neg <= kth)  # ascending, so the stable order survives
        ids, scores = ids[keep], scores[keep]
    return ids[np.argsort(-scores, kind="stable")[:depth]]
