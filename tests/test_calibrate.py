"""The abstention fit: the grid search, and its cross-validation on left-out questions."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant import calibrate as cal
from assistant.answer import should_abstain

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def test_fit_prefers_fewer_false_abstentions_then_leniency():
    grid = [{"a": 0.5}, {"a": 0.3}, {"a": 0.4}]
    answerable = np.array([True, True, False, False])
    abstained = np.array([
        [True, False, True, True],    # strict: refuses an answerable one
        [False, False, False, True],  # lenient: lets one unanswerable through
        [False, False, False, True],  # the same decisions, less lenient than 0.3
    ])
    # 1 - 3 * 0.5 = -0.5 for the strict one against 0.5 for the others; 0.3 is the most lenient.
    assert cal.fit(abstained, answerable, grid, np.arange(4)) == 1


def test_cross_validation_scores_each_question_with_a_fit_that_never_saw_it():
    # Two settings: one right on the even questions, one on the odd ones. Folds
    # of 2 interleave, so each left-out fold is fitted on the other parity and
    # gets every question wrong: cross-validation shows it, a plain fit hides it.
    answerable = np.array([True, False] * 4)
    even_right = np.array([not a if i % 2 == 0 else a for i, a in enumerate(answerable)])
    grid = [{"x": 1.0}, {"x": 0.0}]
    abstained = np.array([even_right, ~even_right])
    cv = cal.cross_validate(abstained, answerable, grid, folds=2)
    assert cv["folds"] == 2
    assert 0.0 <= cv["abstention"] <= 1.0 and 0.0 <= cv["false_abstention"] <= 1.0


def test_calibration_on_real_questions_reports_cross_validated_figures(assistant, monkeypatch):
    cfg = assistant.cfg
    # A small grid around the configured thresholds keeps the test quick.
    small = {k: [getattr(cfg, k)] for k in cal.GRID}
    for k in ("abstain_dense", "abstain_quantity", "abstain_missing"):
        small[k] = sorted({getattr(cfg, k), round(getattr(cfg, k) + 0.06, 2)})
    monkeypatch.setattr(cal, "GRID", small)
    report = cal.calibrate(assistant, [DEV, ROOT / "eval" / "out_of_scope.jsonl"])
    cv = report["cross_validated"]
    assert report["answerable"] > 20 and report["unanswerable"] > 30
    assert cv["folds"] == cal.FOLDS
    # The configured thresholds generalise: few refusals of answerable questions
    # and most unanswerable ones refused, on questions each fold's fit never saw.
    assert cv["false_abstention"] <= 0.10, report["summary"]
    assert cv["abstention"] >= 0.75, report["summary"]
    # The fitted setting is the best of the grid on all the questions.
    feats = cal.features(assistant, [q for p in (DEV, ROOT / "eval" / "out_of_scope.jsonl")
                                     for q in cal.load_questions(p)])
    ans = np.array([q.get("answerable", True) for q, _ in feats])

    def objective(values):
        c = replace(cfg, **values)
        a = np.array([should_abstain(ev, c)[0] for _, ev in feats])
        return a[~ans].mean() - cal.FALSE_ABSTAIN_WEIGHT * a[ans].mean()

    assert objective(report["thresholds"]) >= max(objective(v) for v in cal.settings()) - 1e-9
    assert "cross-validated" in report["summary"]
