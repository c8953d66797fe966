"""Eval's answer metrics on a small fixture, and the evidence check of the question sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import cli
from assistant.evaluate import Result, answer_text, load_questions, score, span_problems

ROOT = Path(__file__).resolve().parents[1]
SETS = [ROOT / "eval" / "heldout_questions.jsonl", ROOT / "eval" / "out_of_scope.jsonl",
        ROOT / "eval" / "fresh_questions.jsonl"]

FIXTURE = [
    {"id": "a", "kind": "fact", "answerable": True, "evidence": ["Over 500 Russian nationals"]},
    {"id": "b", "kind": "numeric", "answerable": True, "evidence": ["grow 2% in 2022"]},
    {"id": "c", "kind": "who", "answerable": True, "evidence": ["Enrique Dussel, UNAM"]},
    {"id": "d", "kind": "spanish", "answerable": True, "evidence": ["the 10 Mexican consulates"]},
    {"id": "e", "kind": "compare", "answerable": True, "evidence": [], "groups": [
        {"section": "One", "evidence": ["first place says it"]},
        {"section": "Two", "evidence": ["second place says it"]},
        {"section": "Three", "evidence": ["third place says it"]}]},
    {"id": "f", "kind": "unanswerable", "answerable": False, "evidence": []},
]


def test_answer_metrics_read_the_answer_not_the_passages():
    passages = ["Over 500 Russian nationals are crossing weekly. Mexico will grow 2% in 2022."]
    results = [
        # The answer quotes the span across a citation marker and a curly quote.
        Result(passages, False, answer="Over 500 [1] Russian nationals are crossing. [1]"),
        # The passage has the span but the answer does not: a retrieval hit, an answer miss.
        Result(passages, False, answer="Mexico's economy is expected to do well. [1]"),
        # Abstained: a miss even though the notice happens to contain the span.
        Result(["Enrique Dussel, UNAM"], True, answer="Enrique Dussel, UNAM",
               answer_abstained=True),
        Result(["for the 10 Mexican consulates"], False,
               answer="For the 10 Mexican consulates [2]"),
        Result(["first place says it", "second place says it", "third place says it"], False,
               answer="## One\nThe first place says it. [1]\n## Three\nThird place says it [2]"),
        Result([], True, answer="The report does not appear to address this.",
               answer_abstained=True),
    ]
    m = score(FIXTURE, results)
    assert m["hit@1"] == 1.0  # every first passage has its span, the abstention included
    assert m["answer_recall"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["spanish_answer_recall"] == 1.0
    assert m["answer_coverage"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["coverage@10"] == 1.0


def test_marker_removal_joins_a_span_split_by_a_citation():
    assert answer_text("crossing [12] weekly. [3]") == "crossing weekly."


def test_a_system_without_answers_reports_no_answer_metrics():
    m = score(FIXTURE, [Result(["x"], False) for _ in FIXTURE])
    assert m["answer_recall"] is None and m["answer_coverage"] is None


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name)
def test_question_sets_follow_the_matching_rule(assistant, path):
    questions = load_questions(path)
    assert span_problems(questions, assistant.data.documents, assistant.data.passages) == []


def test_span_check_finds_bad_evidence(assistant):
    bad = [{"id": "dup", "kind": "who", "evidence": ["Julio Portales, Constellation Brands"]},
           {"id": "none", "kind": "fact", "evidence": ["words the report never uses together"]},
           {"id": "empty", "kind": "fact", "evidence": []}]
    problems = span_problems(bad, assistant.data.documents, assistant.data.passages)
    assert [p.split(":")[0] for p in problems] == ["dup", "none", "empty"]


def test_fresh_set_has_the_kinds_asked_for():
    qs = load_questions(ROOT / "eval" / "fresh_questions.jsonl")
    kinds = [q["kind"] for q in qs]
    assert len(qs) >= 60 and kinds.count("spanish") >= 20 and kinds.count("unanswerable") >= 15
    assert {"fact", "numeric", "who", "compare"} <= set(kinds)


def test_eval_output_writes_the_answer_beside_the_passages(assistant, engine_config, tmp_path,
                                                           capsys):
    qfile = tmp_path / "q.jsonl"
    qs = [q for q in load_questions(ROOT / "eval" / "heldout_questions.jsonl")
          if q["kind"] in ("numeric", "compare")][:3]
    qfile.write_text("".join(json.dumps(q) + "\n" for q in qs), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    code = cli.main(["eval", "--index", str(engine_config.index_dir), "--questions", str(qfile),
                     "--output", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "answer_recall" in printed and "answer_coverage" in printed
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in records] == [q["id"] for q in qs]
    for r in records:
        assert list(r) == ["id", "abstained", "answer", "passages"]
        assert isinstance(r["answer"], str) and r["answer"]
