"""Calibrate the abstention thresholds of answer.should_abstain, and say how well they generalise.

Evidence features are computed once per question. Every setting of a grid
over the thresholds is then scored by abstention on the unanswerable questions
minus a heavy penalty for refusing answerable ones; among equal scores the most
lenient setting wins, so a threshold sits no higher than the data demands.

A fit on the very questions it is scored on flatters it, so ``calibrate`` also
cross-validates: the questions are split into folds, thresholds are fitted on
all folds but one and applied to the one left out, and the figures reported
are those of the left-out questions, pooled. Those are the figures to expect
on questions the fit never saw.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.answer import Evidence, evidence, should_abstain
from assistant.evaluate import load_questions

GRID = {
    "abstain_dense": [0.34, 0.36, 0.38, 0.40, 0.42, 0.44],
    "abstain_names": [0.55, 0.60, 0.65, 0.70, 0.75],
    "abstain_coverage": [0.10, 0.15, 0.20, 0.25],
    "abstain_coverage_support": [0.50, 0.55, 0.60],
    # The exception before the rules: one passage holding this share of the
    # question's distinctive words answers it. Lower is more lenient, like
    # the others, so the tie-break below treats it the same way.
    "answer_coverage": [0.70, 0.75, 0.80, 0.90],
    # The missing-word rule; 0.0 turns it off.
    "abstain_missing": [0.0, 0.45, 0.50, 0.55, 0.60],
    "abstain_quantity": [0.0, 0.35, 0.40, 0.45, 0.50],
}
# Refusing a question the report answers costs more than answering one it
# does not (the reader still sees the closest passages labelled as such).
FALSE_ABSTAIN_WEIGHT = 3.0
FOLDS = 5


def features(assistant, questions: list[dict]) -> list[tuple[dict, Evidence]]:
    """The evidence of each question as `ask` (k=10, as eval asks) would compute it."""
    out = []
    for q in questions:
        if q.get("kind") == "compare":
            continue
        r = assistant.retriever.retrieve(q["question"], 10)
        out.append((q, evidence(q["question"], r, assistant.data, assistant._index_of,
                                cfg=assistant.cfg)))
    return out


def settings() -> list[dict]:
    return [dict(zip(GRID, values, strict=True)) for values in itertools.product(*GRID.values())]


def decisions(feats: list[tuple[dict, Evidence]], base, grid: list[dict]) -> np.ndarray:
    """abstained[g, q]: whether setting g abstains on question q (should_abstain itself)."""
    out = np.zeros((len(grid), len(feats)), dtype=bool)
    for g, values in enumerate(grid):
        cfg = replace(base, **values)
        out[g] = [should_abstain(ev, cfg)[0] for _, ev in feats]
    return out


def fit(abstained: np.ndarray, answerable: np.ndarray, grid: list[dict],
        rows: np.ndarray) -> int:
    """The best setting on the questions ``rows``: the index into ``grid``."""
    ans = answerable[rows]
    a = abstained[:, rows]
    fa = a[:, ans].mean(axis=1) if ans.any() else np.zeros(len(grid))
    ab = a[:, ~ans].mean(axis=1) if (~ans).any() else np.zeros(len(grid))
    leniency = np.array([-sum(v.values()) for v in grid])
    # lexsort: last key first; best objective, then most lenient, then grid order.
    order = np.lexsort((np.arange(len(grid)), -leniency, -(ab - FALSE_ABSTAIN_WEIGHT * fa)))
    return int(order[0])


def cross_validate(abstained: np.ndarray, answerable: np.ndarray, grid: list[dict],
                   folds: int = FOLDS) -> dict:
    """Pooled abstention / false abstention of each fold's left-out questions."""
    n = abstained.shape[1]
    fold_of = np.arange(n) % folds  # questions interleave, so each fold mixes every set
    held = np.zeros(n, dtype=bool)
    for f in range(folds):
        train = np.flatnonzero(fold_of != f)
        test = np.flatnonzero(fold_of == f)
        held[test] = abstained[fit(abstained, answerable, grid, train), test]
    return {"abstention": round(float(held[~answerable].mean()), 4) if (~answerable).any()
            else None,
            "false_abstention": round(float(held[answerable].mean()), 4) if answerable.any()
            else None,
            "folds": folds}


def calibrate(assistant, paths: list[Path]) -> dict:
    questions = [q for p in paths for q in load_questions(p)]
    feats = features(assistant, questions)
    grid = settings()
    abstained = decisions(feats, assistant.cfg, grid)
    answerable = np.array([q.get("answerable", True) for q, _ in feats])
    best = fit(abstained, answerable, grid, np.arange(len(feats)))
    chosen = grid[best]
    ab = float(abstained[best, ~answerable].mean()) if (~answerable).any() else 0.0
    fa = float(abstained[best, answerable].mean()) if answerable.any() else 0.0
    cv = cross_validate(abstained, answerable, grid)
    current = {k: getattr(assistant.cfg, k) for k in GRID}
    summary = (f"best thresholds {chosen}: abstention {ab:.3f} on {int((~answerable).sum())} "
               f"unanswerable, false abstention {fa:.3f} on {int(answerable.sum())} answerable; "
               f"cross-validated ({cv['folds']} folds): abstention {cv['abstention']}, "
               f"false abstention {cv['false_abstention']} (current {current}); "
               "set them in assistant/config.py")
    return {"thresholds": chosen, "abstention": round(ab, 4), "false_abstention": round(fa, 4),
            "cross_validated": cv, "unanswerable": int((~answerable).sum()),
            "answerable": int(answerable.sum()), "current": current, "summary": summary}
