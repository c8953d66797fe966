"""Quality side by side: the project's pipeline against three baselines.

Every system produces, per question, its ranked passage texts and whether it
abstained; the lead's scorer (assistant.evaluate.score) turns them into the
metrics of shared/eval/FORMAT.md, so all four are measured by the same code.
Baselines never abstain. The project answers compare questions through its
compare view, exactly as `python -m assistant eval` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from assistant.evaluate import Result, load_questions, run_question, score
from benchmarks.common import DEV_QUESTIONS, Table
from benchmarks.tutorial import TutorialPipeline

K = 10  # FORMAT.md's metrics look at the first ten passages

METRICS = ["hit@1", "hit@5", "mrr@10", "coverage@10", "abstention", "false_abstention",
           "spanish_hit@5", "words_per_passage", "latency_p50_ms"]


def _timed(fn: Callable[[str], list[str]]) -> Callable[[dict], Result]:
    def run(q: dict) -> Result:
        t0 = time.perf_counter()
        texts = fn(q["question"])
        return Result(texts, False, time.perf_counter() - t0)
    return run


def systems(assistant, tutorial: TutorialPipeline) -> dict[str, Callable[[dict], Result]]:
    data = assistant.data
    passages = data.passages

    def bm25_only(question: str) -> list[str]:
        s = data.bm25.scores(question)
        order = np.argsort(-s, kind="stable")[:K]
        return [passages[i].text for i in order]

    def dense_only(question: str) -> list[str]:
        q = assistant.embedder.encode_query(question).reshape(1, -1)
        _, ids = data.dense.search(q, K)
        return [passages[i].text for i in ids[0] if i >= 0]

    return {
        "project (hybrid + answer/compare)": lambda q: run_question(assistant, q, K)[0],
        "BM25 alone, project passages": _timed(bm25_only),
        "dense alone, project passages": _timed(dense_only),
        "tutorial (LangChain 1000/200 + MiniLM + FAISS flat)": _timed(
            lambda question: tutorial.query(question, K)),
    }


def run(assistant, tutorial: TutorialPipeline, questions_path=DEV_QUESTIONS) -> Table:
    questions = load_questions(questions_path)
    table = Table(f"Quality on {questions_path.name} ({len(questions)} questions, top {K})",
                  ["system", *METRICS])
    for name, system in systems(assistant, tutorial).items():
        system(questions[0])  # warm caches so the first question's latency is not an outlier
        metrics = score(questions, [system(q) for q in questions])
        table.add(name, *(metrics[m] for m in METRICS))
    kinds: dict[str, int] = {}
    for q in questions:
        kinds[q["kind"]] = kinds.get(q["kind"], 0) + 1
    table.notes += [
        "question kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
        f"project passages: {len(assistant.passages)}; tutorial chunks: "
        f"{len(tutorial.chunks)} (1,000 characters, 200 overlap)",
        "metrics by assistant.evaluate.score (FORMAT.md); baselines never abstain, so their "
        "abstention is 0 and false abstention 0 by construction",
        "BM25 and dense baselines search the raw question (no acronym expansion, no fusion); "
        "latency here is one pass, see the speed section for warm percentiles",
    ]
    return table
