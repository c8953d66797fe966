"""Questions in other languages: language detection (a pure unit) and cross-lingual
retrieval with the real encoders over the real index.

The questions are our own (tests/data/multilingual_questions.jsonl: Spanish,
Portuguese, French and German paraphrases of report sentences, each with an
English twin), none from the dev or held-out sets.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.api import Assistant
from assistant.multilingual import language_name, question_language

QUESTIONS = [json.loads(line) for line in
             (Path(__file__).parent / "data" / "multilingual_questions.jsonl")
             .read_text(encoding="utf-8").splitlines() if line.strip()]


# -- language detection -----------------------------------------------------------
@pytest.mark.parametrize(("text", "lang"), [
    ("¿Qué propone el informe sobre las remesas?", "es"),
    ("¿Cuántos migrantes cruzaron la frontera?", "es"),
    ("Quais são as recomendações sobre energia?", "pt"),
    ("Que dit le rapport sur la migration ?", "fr"),
    ("Was sagt der Bericht über die Grenze?", "de"),
    ("Что говорится о миграции?", "ru"),
    ("移民について報告書は何と言っていますか", "ja"),
    ("关于移民报告说了什么", "zh"),
])
def test_detects_the_language_of_a_question(text, lang):
    assert question_language(text) == lang


@pytest.mark.parametrize("text", [
    "What did López Obrador say about the Mérida Initiative?",
    "Who from El Colegio de México was in the migration group?",
    "Which role does Sempra Infrastructure play?",
    "la",  # one stray word is no evidence
    "",
    "USMCA",
])
def test_english_or_unsure_stays_english(text):
    # A wrong "not English" would send an English question to the weaker
    # cross-lingual search, so names in Spanish must not tip it.
    assert question_language(text) == "en"


def test_every_question_of_our_set_is_detected_and_its_twin_is_english():
    for q in QUESTIONS:
        assert question_language(q["question"]) == q["lang"], q["question"]
        assert question_language(q["en"]) == "en", q["en"]


def test_language_names_for_the_note():
    assert language_name("es") == "Spanish"
    assert language_name("xx") == "xx"


# -- retrieval with the real encoders ---------------------------------------------
def _rank(hits, spans, normalise) -> int | None:
    for n, h in enumerate(hits, start=1):
        if any(normalise(s) in normalise(h.passage.text) for s in spans):
            return n
    return None


def test_the_index_holds_multilingual_vectors_row_for_row(assistant):
    d = assistant.data
    assert d.ml_vectors is not None and d.ml_vectors.shape == (len(d.passages), 512)
    assert d.ml_sent_vectors.shape == (len(d.sent_spans), 512)
    assert np.allclose(np.linalg.norm(d.ml_sent_vectors, axis=1), 1.0, atol=1e-3)


def test_questions_in_other_languages_find_the_english_passage(assistant, normalise):
    ranks = {q["id"]: _rank(assistant.search(q["question"], k=5), q["evidence"], normalise)
             for q in QUESTIONS}
    found = [i for i, r in ranks.items() if r is not None]
    first = [i for i, r in ranks.items() if r == 1]
    # Measured: 45 of 46 in the top five, 36 first (MiniLM alone: 8 and 2).
    assert len(found) >= 0.9 * len(QUESTIONS), sorted(set(ranks) - set(found))
    assert len(first) >= 0.7 * len(QUESTIONS)
    spanish = [q for q in QUESTIONS if q["lang"] == "es"]
    assert sum(ranks[q["id"]] is not None for q in spanish) >= 0.9 * len(spanish)


def test_the_answer_quotes_the_english_report_and_says_so(assistant, normalise):
    answered = 0
    for q in QUESTIONS[:12]:
        a = assistant.ask(q["question"])
        if a.abstained:
            continue
        answered += 1
        assert "the report is in English" in a.reason and "Spanish" in a.reason
        for s in a.sentences:
            # The report's own words, verbatim, from the passage cited.
            assert s.text in a.citations[s.citation - 1].passage.text
            assert question_language(s.text) == "en"
    assert answered >= 10


def test_spanish_answers_contain_the_answer(assistant, normalise):
    spanish = [q for q in QUESTIONS if q["lang"] == "es"]
    hit = sum(any(normalise(s) in normalise(assistant.ask(q["question"]).text)
                  for s in q["evidence"]) for q in spanish)
    # Measured 0.87 over all 46 before the answer work of issue 9 was merged.
    assert hit >= 0.8 * len(spanish)


def test_an_english_question_never_uses_the_cross_lingual_encoder(assistant):
    r = assistant.retriever.retrieve("Why do carmakers not want to build electric cars?", 5)
    assert r.language == "en" and not r.cross_lingual
    assert r.qvec.shape[0] == assistant.data.vectors.shape[1]
    assert not assistant.ask("Why is energy often treated as a side issue?").reason


def test_the_channel_can_be_turned_off(assistant, index_copy):
    # With no multilingual model the index has no multilingual vectors (the
    # build is stale for the old configuration and rebuilt), and a Spanish
    # question is searched with MiniLM as before, not refused or broken.
    cfg = replace(index_copy, multilingual_model="")
    off = Assistant.load(cfg, progress=lambda *_: None)
    assert off.data.ml_vectors is None
    r = off.retriever.retrieve(QUESTIONS[0]["question"], 5)
    assert r.language == "es" and not r.cross_lingual and len(r.hits) == 5
    assert off.data.manifest["multilingual_model"] == ""
