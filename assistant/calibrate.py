"""Calibrate the abstention thresholds of answer.should_abstain.

Evidence features are computed once per question; a grid over the five
thresholds is then scored by abstention on the unanswerable questions minus a
heavy penalty for refusing answerable ones. Among equal scores the most
lenient setting wins, so a threshold sits no higher than the data demands.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

from assistant.answer import Evidence, evidence, should_abstain
from assistant.evaluate import load_questions

GRID = {
    "abstain_dense": [0.36, 0.38, 0.40, 0.42, 0.44, 0.46],
    "abstain_names": [0.55, 0.60, 0.65, 0.70, 0.75],
    "abstain_coverage": [0.10, 0.15, 0.20, 0.25],
    "abstain_coverage_support": [0.50, 0.55, 0.60, 0.65, 0.70],
    # The exception before the rules: one passage holding this share of the
    # question's distinctive words answers it. Lower is more lenient, like
    # the others, so the tie-break below treats it the same way.
    "answer_coverage": [0.70, 0.75, 0.80, 0.85, 0.90],
}
# Refusing a question the report answers costs more than answering one it
# does not (the reader still sees the closest passages labelled as such).
FALSE_ABSTAIN_WEIGHT = 3.0


def features(assistant, questions: list[dict]) -> list[tuple[dict, Evidence]]:
    out = []
    for q in questions:
        if q.get("kind") == "compare":
            continue
        r = assistant.retriever.retrieve(q["question"], 10)
        out.append((q, evidence(q["question"], r, assistant.data, assistant._index_of)))
    return out


def calibrate(assistant, questions_path: Path, out_of_scope_path: Path) -> dict:
    questions = load_questions(questions_path) + load_questions(out_of_scope_path)
    feats = features(assistant, questions)
    answerable = [ev for q, ev in feats if q.get("answerable", True)]
    unanswerable = [ev for q, ev in feats if not q.get("answerable", True)]
    best = None
    for values in itertools.product(*GRID.values()):
        cfg = replace(assistant.cfg, **dict(zip(GRID, values, strict=True)))
        fa = sum(should_abstain(ev, cfg)[0] for ev in answerable) / max(1, len(answerable))
        ab = sum(should_abstain(ev, cfg)[0] for ev in unanswerable) / max(1, len(unanswerable))
        key = (ab - FALSE_ABSTAIN_WEIGHT * fa, -sum(values))
        if best is None or key > best[0]:
            best = (key, dict(zip(GRID, values, strict=True)), ab, fa)
    _, chosen, ab, fa = best
    current = {k: getattr(assistant.cfg, k) for k in GRID}
    summary = (f"best thresholds {chosen}: abstention {ab:.3f} on {len(unanswerable)} "
               f"unanswerable, false abstention {fa:.3f} on {len(answerable)} answerable "
               f"(current {current}); set them in assistant/config.py")
    return {"thresholds": chosen, "abstention": ab, "false_abstention": fa,
            "unanswerable": len(unanswerable), "answerable": len(answerable),
            "current": current, "summary": summary}
