"""Reciprocal-rank fusion: a pure function, tested on small rankings."""

from __future__ import annotations

import pytest

from assistant.retrieve.fusion import rrf


def test_single_ranking_keeps_its_order_with_rrf_scores():
    fused = rrf([[7, 3, 9]], k=60)
    assert [i for i, _ in fused] == [7, 3, 9]
    assert [s for _, s in fused] == pytest.approx([1 / 61, 1 / 62, 1 / 63])


def test_scores_add_up_across_rankings():
    fused = dict(rrf([[1, 2], [2, 3]], k=10))
    assert fused[1] == pytest.approx(1 / 11)
    assert fused[2] == pytest.approx(1 / 12 + 1 / 11)
    assert fused[3] == pytest.approx(1 / 12)


def test_agreement_beats_one_strong_vote():
    # Second in both lists outranks first in only one.
    fused = rrf([[1, 2, 3], [4, 2, 5]], k=60)
    assert fused[0][0] == 2


def test_result_is_sorted_best_first_and_has_each_item_once():
    rankings = [[5, 1, 4, 2], [2, 5, 3], [3, 1]]
    fused = rrf(rankings, k=5)
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    assert sorted(i for i, _ in fused) == [1, 2, 3, 4, 5]


def test_ties_are_broken_by_id_so_results_are_deterministic():
    fused = rrf([[8, 2], [2, 8]], k=60)
    assert fused[0][1] == pytest.approx(fused[1][1])
    assert [i for i, _ in fused] == [2, 8]


def test_weights_scale_each_ranking():
    fused = dict(rrf([[1], [2]], k=0, weights=[2.0, 1.0]))
    assert fused[1] == pytest.approx(2.0)
    assert fused[2] == pytest.approx(1.0)
    assert rrf([[1], [2]], weights=[0.5, 1.0])[0][0] == 2


def test_k_damps_the_head():
    sharp = dict(rrf([[1, 2]], k=1))
    flat = dict(rrf([[1, 2]], k=1000))
    assert sharp[1] / sharp[2] > flat[1] / flat[2] > 1.0


def test_empty_inputs():
    assert rrf([]) == []
    assert rrf([[], []]) == []


def test_weights_must_match_rankings():
    with pytest.raises(ValueError):
        rrf([[1], [2]], weights=[1.0])


def test_inputs_are_not_modified():
    rankings = [[3, 1], [1, 2]]
    rrf(rankings)
    assert rankings == [[3, 1], [1, 2]]


# -- candidate retrieval's pieces: exact top-k without a full sort, sparse scores --------

def test_top_stable_equals_a_stable_full_sort():
    import numpy as np

    from assistant.retrieve.candidates import top_stable

    rng = np.random.default_rng(0)
    for trial in range(300):
        n = int(rng.integers(0, 60))
        # Few distinct values, so ties straddle the cut-off often.
        scores = rng.integers(0, 6, n).astype(np.float32) / 5
        ids = np.sort(rng.choice(1000, n, replace=False))
        for depth in (0, 1, 3, 10, 59, 100):
            want = ids[np.argsort(-scores, kind="stable")][:depth]
            assert top_stable(ids, scores, depth).tolist() == want.tolist(), (trial, depth)


def test_sparse_scores_index_like_the_full_array():
    import numpy as np

    from assistant.retrieve.candidates import SparseScores

    full = np.linspace(-1, 1, 20, dtype=np.float32)
    ids = np.array([17, 2, 9, 3])
    s = SparseScores(ids, full[ids], 20)
    assert len(s) == 20
    assert s[9] == full[9] and s[np.int64(2)] == full[2] and s[-3] == full[17]
    assert s[np.array([3, 17, 3])].tolist() == full[[3, 17, 3]].tolist()
    assert s[[]].shape == (0,)
    assert 9 in s and 4 not in s and s.get(4) is None
    with pytest.raises(KeyError, match="4"):
        s[4]
    with pytest.raises(KeyError):
        s[np.array([2, 5])]
    dense = s.to_dense(fill=-9.0)
    assert dense[ids].tolist() == full[ids].tolist() and dense[0] == -9.0
    with pytest.raises(KeyError):
        SparseScores(np.zeros(0, int), np.zeros(0, np.float32), 5)[0]
    with pytest.raises(ValueError):
        SparseScores(np.array([1, 1]), np.zeros(2), 5)
    with pytest.raises(ValueError):
        SparseScores(np.array([5]), np.zeros(1), 5)
