"""Eval: the metrics of shared/eval/FORMAT.md over a question file.

`score` works on plain per-question results (ranked passage texts, the answer
text and an abstained flag) so any system, the baselines of benchmarks/
included, is measured by the same code. Retrieval metrics read the passages;
the answer metrics read only what `ask` shows as the answer, since a reader
reads the answer, not the ranking.
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
# A citation marker after an answer sentence ("... weekly. [1]"); FORMAT.md
# removes them before matching so a span ending a sentence still matches.
_MARKER = re.compile(r"\s*\[\d+\]")
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
    # The answer text as `ask` shows it (sentences brought forward, no sources);
    # for a compare question, the answer `ask` gives to it. None: not measured.
    answer: str | None = None
    answer_abstained: bool = False  # `ask` declined (for a compare question, its ask)


def _matches(text: str, spans: Iterable[str]) -> bool:
    t = normalise(text)
    return any(normalise(s) in t for s in spans)


def answer_text(text: str) -> str:
    """The answer as matched: citation markers removed (FORMAT.md)."""
    return _MARKER.sub("", text)


def answer_matches(r: Result, spans: Iterable[str]) -> bool:
    """Whether the answer shown contains an evidence span; an abstention is a miss."""
    if r.answer is None or r.answer_abstained:
        return False
    return _matches(answer_text(r.answer), spans)


def first_match_rank(passages: list[str], spans: list[str], depth: int = 10) -> int | None:
    for rank, text in enumerate(passages[:depth], start=1):
        if _matches(text, spans):
            return rank
    return None


def score(questions: list[dict], results: list[Result]) -> dict[str, Any]:
    """All FORMAT.md metrics (None where the set has no question of that kind)."""
    ranks, coverage, abstain, false_abstain, spanish, words = [], [], [], [], [], []
    recall, spanish_recall, answer_cov = [], [], []
    measured = any(r.answer is not None for r in results)
    for q, r in zip(questions, results, strict=True):
        kind = q.get("kind")
        words.extend(len(p.split()) for p in r.passages)
        if q.get("answerable", True):
            false_abstain.append(r.abstained)
        else:
            abstain.append(r.abstained)
        if kind in FACTUAL:
            ranks.append(first_match_rank(r.passages, q["evidence"]))
            recall.append(answer_matches(r, q["evidence"]))
        elif kind == "spanish":
            rank = first_match_rank(r.passages, q["evidence"], 5)
            spanish.append(rank is not None)
            spanish_recall.append(answer_matches(r, q["evidence"]))
        elif kind == "compare":
            groups = q.get("groups", [])
            hit = [any(_matches(p, g["evidence"]) for p in r.passages[:10]) for g in groups]
            coverage.append(sum(hit) / len(hit) if hit else 0.0)
            shown = [answer_matches(r, g["evidence"]) for g in groups]
            answer_cov.append(sum(shown) / len(shown) if shown else 0.0)

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
        # Answer metrics: None when no result carried an answer (a bare retriever).
        "answer_recall": mean(recall) if measured else None,
        "spanish_answer_recall": mean(spanish_recall) if measured else None,
        "answer_coverage": mean(answer_cov) if measured else None,
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
    """Ask one question the way a reader would: compare questions go to the compare view.

    A compare question is asked through `ask` as well (untimed), since a
    reader may type it in the chat: its answer is what answer_coverage reads.
    """
    from assistant.compare import comparison_passages

    t0 = time.perf_counter()
    if q.get("kind") == "compare":
        c = assistant.compare(q["question"])
        hits, abstained = comparison_passages(c, k), c.abstained
        secs = time.perf_counter() - t0
        a = assistant.ask(q["question"], k=k)
    else:
        a = assistant.ask(q["question"], k=k)
        # The ranking, not the citations (which put the quoted passages first).
        hits, abstained = list(a.ranked or a.citations), a.abstained
        secs = time.perf_counter() - t0
    rows = [{"id": h.passage.id, "text": h.passage.text, "section": h.passage.section,
             "pages": list(h.passage.pages)} for h in hits[:k]]
    return Result([h.passage.text for h in hits[:k]], abstained, secs, a.text,
                  a.abstained), rows


def run_eval(assistant, questions: list[dict], k: int = 10) -> tuple[dict, list[dict]]:
    """Metrics and one output record per question (FORMAT of `eval --output`)."""
    results, records = [], []
    for q in questions:
        res, rows = run_question(assistant, q, k)
        results.append(res)
        records.append({"id": q.get("id"), "abstained": res.abstained, "answer": res.answer,
                        "passages": rows})
    return score(questions, results), records


def _loose(span: str) -> re.Pattern:
    """A pattern finding a span in the raw text: any white space between words, any case."""
    words = [re.escape(w) for w in normalise(span).split()]
    return re.compile(r"\s+".join(words), re.I)


def span_problems(questions: list[dict], documents, passages) -> list[str]:
    """What is wrong with a question file's evidence under FORMAT.md's rules.

    Every span must occur exactly once in the documents (normalised), lie
    inside one passage, and not cross a page break; a question needs a span
    (or, for compare, groups each with spans) unless it is unanswerable.
    Written so a new question set can be checked before it is used.
    """
    texts = [normalise(d.text) for d in documents]
    ptexts = [normalise(p.text) for p in passages]
    problems = []
    for q in questions:
        qid = q.get("id")
        spans = list(q.get("evidence", []))
        for g in q.get("groups", []):
            if not g.get("evidence"):
                problems.append(f"{qid}: group {g.get('section')!r} has no evidence")
            spans.extend(g.get("evidence", []))
        if q.get("answerable", True) and not spans:
            problems.append(f"{qid}: answerable but no evidence")
        for span in spans:
            s = normalise(span)
            count = sum(t.count(s) for t in texts)
            if count != 1:
                problems.append(f"{qid}: {span!r} occurs {count} times in the documents")
                continue
            if not any(s in t for t in ptexts):
                problems.append(f"{qid}: {span!r} is not inside one passage")
            for d in documents:
                m = _loose(span).search(unicodedata.normalize("NFKC", d.text).translate(_QUOTES))
                if m and len(d.pages_of(m.start(), m.end())) > 1:
                    problems.append(f"{qid}: {span!r} crosses a page break")
    return problems
