"""Eval: the retrieval metrics of shared/eval/FORMAT.md over a question file.

`score` works on plain per-question results (ranked passage texts and an
abstained flag) so any system, the baselines of benchmarks/ included, is
measured by the same code.
"""

from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})
FACTUAL = ("fact", "numeric", "who")


def normalise(text: str) -> str:
    """FORMAT.md's matching rule: NFKC, straight quotes, links to text, spaces, lower case."""
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    t = _LINK.sub(r"\1", t)
    return " ".join(t.split()).lower()


def load_questions(path: Path) -> list[dict]:
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError as exc:
            raise ValueError(f"{path}:{n}: not a JSON object ({exc})") from exc
    return out


@dataclass(frozen=True)
class Result:
    """What a system returned for one question."""

    passages: list[str]  # ranked passage texts
    abstained: bool
    seconds: float = 0.0


def _matches(text: str, spans: Iterable[str]) -> bool:
    t = normalise(text)
    return any(normalise(s) in t for s in spans)


def first_match_rank(passages: list[str], spans: list[str], depth: int = 10) -> int | None:
    for rank, text in enumerate(passages[:depth], start=1):
        if _matches(text, spans):
            return rank
    return None


def score(questions: list[dict], results: list[Result]) -> dict[str, Any]:
    """All FORMAT.md metrics (None where the set has no question of that kind)."""
    ranks, coverage, abstain, false_abstain, spanish, words = [], [], [], [], [], []
    for q, r in zip(questions, results, strict=True):
        kind = q.get("kind")
        words.extend(len(p.split()) for p in r.passages)
        if q.get("answerable", True):
            false_abstain.append(r.abstained)
        else:
            abstain.append(r.abstained)
        if kind in FACTUAL:
            ranks.append(first_match_rank(r.passages, q["evidence"]))
        elif kind == "spanish":
            rank = first_match_rank(r.passages, q["evidence"], 5)
            spanish.append(rank is not None)
        elif kind == "compare":
            groups = q.get("groups", [])
            hit = [any(_matches(p, g["evidence"]) for p in r.passages[:10]) for g in groups]
            coverage.append(sum(hit) / len(hit) if hit else 0.0)

    def mean(xs: list) -> float | None:
        return round(sum(xs) / len(xs), 4) if xs else None

    secs = sorted(r.seconds for r in results)
    return {
        "questions": len(questions),
        "hit@1": mean([r is not None and r <= 1 for r in ranks]),
        "hit@5": mean([r is not None and r <= 5 for r in ranks]),
        "mrr@10": mean([1 / r if r else 0.0 for r in ranks]),
        "coverage@10": mean(coverage),
        "abstention": mean(abstain),
        "false_abstention": mean(false_abstain),
        "spanish_hit@5": mean(spanish),
        "words_per_passage": round(statistics.mean(words), 1) if words else None,
        "latency_p50_ms": round(_pct(secs, 50) * 1000, 1) if secs else None,
        "latency_p95_ms": round(_pct(secs, 95) * 1000, 1) if secs else None,
    }


def _pct(sorted_xs: list[float], p: float) -> float:
    if len(sorted_xs) == 1:
        return sorted_xs[0]
    pos = (len(sorted_xs) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (sorted_xs[hi] - sorted_xs[lo]) * (pos - lo)


def run_question(assistant, q: dict, k: int = 10) -> tuple[Result, list[dict]]:
    """Ask one question the way a reader would: compare questions go to the compare view."""
    from assistant.compare import comparison_passages

    t0 = time.perf_counter()
    if q.get("kind") == "compare":
        c = assistant.compare(q["question"])
        hits, abstained = comparison_passages(c, k), c.abstained
    else:
        a = assistant.ask(q["question"], k=k)
        hits, abstained = list(a.citations), a.abstained
    secs = time.perf_counter() - t0
    rows = [{"id": h.passage.id, "text": h.passage.text, "section": h.passage.section,
             "pages": list(h.passage.pages)} for h in hits[:k]]
    return Result([h.passage.text for h in hits[:k]], abstained, secs), rows


def run_eval(assistant, questions: list[dict], k: int = 10) -> tuple[dict, list[dict]]:
    """Metrics and one output record per question (FORMAT of `eval --output`)."""
    results, records = [], []
    for q in questions:
        res, rows = run_question(assistant, q, k)
        results.append(res)
        records.append({"id": q.get("id"), "abstained": res.abstained, "passages": rows})
    return score(questions, results), records
