"""Answers: the report's own sentences with valid [n] markers, and honest abstention."""

from __future__ import annotations

import re

import pytest

from assistant.errors import QueryError
from assistant.types import Answer

ABSTENTION_FLOOR = 0.80  # share of out_of_scope_questions (plus the dev unanswerables) abstained on
FALSE_ABSTENTION_CEILING = 0.10  # share of answerable dev questions wrongly abstained on

MARKER = re.compile(r"\[(\d+)\]")
NOTICE = "The report does not appear to address"


def check_answer_shape(ans: Answer) -> None:
    """Invariants every answer keeps, abstained or not."""
    n = len(ans.citations)
    for m in MARKER.finditer(ans.text):
        assert 1 <= int(m.group(1)) <= n, f"[{m.group(1)}] cites nothing: {ans.text!r}"
    if ans.abstained:
        assert ans.text.startswith(NOTICE)
        assert ans.sentences == ()
        assert not MARKER.search(ans.text)
        assert ans.reason
        return
    assert ans.sentences, "an answer without sentences"
    assert not ans.text.startswith(NOTICE)
    for s in ans.sentences:
        assert 1 <= s.citation <= n
        cited = ans.citations[s.citation - 1].passage
        assert s.text and s.text in cited.text, "a sentence that is not its passage's words"
        assert f"{s.text} [{s.citation}]" in ans.text
    # The groups hold the sentences, in the order shown; one heading per group
    # when there are several.
    assert tuple(s for g in ans.groups for s in g.sentences) == ans.sentences
    # The text is the sentences, each followed by its marker, in order; between
    # them only white space, a list bullet, a section heading or a "N more" note.
    rest = ans.text
    for s in ans.sentences:
        piece = f"{s.text} [{s.citation}]"
        gap, _, rest = rest.partition(piece)
        assert piece not in gap
        for line in gap.splitlines():
            line = line.strip()
            assert (line in ("", "-") or (line.startswith("(") and " more in " in line)
                    or any(line == f"{g.section} (p. {', '.join(map(str, g.pages))}):"
                           for g in ans.groups)), f"text between sentences: {line!r}"
    # Citation numbers run from [1] in the order first quoted, without gaps.
    first = list(dict.fromkeys(int(m.group(1)) for m in MARKER.finditer(ans.text)))
    assert first == list(range(1, len(first) + 1)), ans.text


@pytest.fixture(scope="module")
def dev_answers(assistant, dev_questions) -> list[tuple[dict, Answer]]:
    return [(q, assistant.ask(q["question"])) for q in dev_questions if q["kind"] != "compare"]


def test_dev_answers_keep_their_shape(dev_answers):
    for _, ans in dev_answers:
        check_answer_shape(ans)


def test_dev_answers_quote_sentences_of_their_passages(dev_answers, assistant):
    for _, ans in dev_answers:
        for s in ans.sentences:
            p = ans.citations[s.citation - 1].passage
            doc = assistant.document(p.doc_id)
            assert doc.text[p.start:p.end] == p.text
            # A whole sentence, not a fragment cut mid-word.
            at = p.text.index(s.text)
            assert at == 0 or p.text[at - 1].isspace()
            end = at + len(s.text)
            assert end == len(p.text) or p.text[end].isspace()


def test_false_abstention_ceiling(dev_answers):
    answerable = [(q, a) for q, a in dev_answers if q.get("answerable", True)]
    wrongly = [q["id"] for q, a in answerable if a.abstained]
    assert len(wrongly) / len(answerable) <= FALSE_ABSTENTION_CEILING, wrongly


def test_abstains_on_out_of_scope_questions(assistant, dev_questions, out_of_scope_questions):
    questions = out_of_scope_questions + [q["question"] for q in dev_questions
                                          if not q["answerable"]]
    answers = [assistant.ask(q) for q in questions]
    for ans in answers:
        check_answer_shape(ans)
    answered = [a.question for a in answers if not a.abstained]
    rate = 1 - len(answered) / len(answers)
    assert rate >= ABSTENTION_FLOOR, f"answered although out of scope: {answered}"


def test_abstention_still_offers_closest_passages(assistant):
    ans = assistant.ask("What is the recipe for chocolate chip cookies?")
    assert ans.abstained
    assert ans.citations  # shown as near matches, not as an answer
    assert "closest" in ans.text


def test_acronym_question_is_answered_from_its_definition(assistant):
    ans = assistant.ask("What is the RRLM?")
    check_answer_shape(ans)
    assert not ans.abstained
    assert "Rapid Response Labor Mechanism" in ans.query  # expanded before searching
    assert any("Rapid Response Labor Mechanism (RRLM)" in h.passage.text for h in ans.citations)


@pytest.mark.parametrize("k", [1, 3, 8])
def test_ask_respects_k(assistant, k):
    ans = assistant.ask("How has nearshoring affected Mexico?", k=k)
    assert len(ans.citations) <= k
    check_answer_shape(ans)


def test_section_filter_applies_to_answers(assistant):
    ans = assistant.ask("What are the challenges?", section="Security and Public Health")
    assert ans.citations
    assert all(h.passage.section == "Security and Public Health" for h in ans.citations)
    check_answer_shape(ans)


def test_long_question_is_cut_with_a_note(assistant):
    question = "What does the report say about nearshoring in Mexico? " * 100
    assert len(question) > assistant.cfg.max_question_chars
    ans = assistant.ask(question)
    check_answer_shape(ans)
    assert "characters" in ans.reason
    assert len(ans.question) <= 500


@pytest.mark.parametrize("question", ["", "  \n\t ", None, 42])
def test_bad_question_is_a_query_error(assistant, question):
    with pytest.raises(QueryError):
        assistant.ask(question)


@pytest.mark.parametrize("question, wants", [
    ("How many Russians cross every week?", True),
    ("What was the homicide rate in Tijuana?", True),
    ("What was the total dollar value of remittances?", True),
    ("¿Cuál es la tasa de pobreza en México?", True),
    ("What do both countries share?", False),  # "share" the verb
    ("What values guide the forum?", False),  # principles, not a figure
    ("What does the report say about oil prices?", False),  # a topic, not a figure
])
def test_quantity_questions_are_recognised(question, wants):
    from assistant.answer import _QUANTITY

    assert bool(_QUANTITY.search(question)) is wants


@pytest.mark.parametrize("sentence, question, states", [
    ("Over 500 Russian nationals are crossing weekly.", "How many Russians cross?", True),
    ("It is estimated that 30 thousand migrants have crossed.", "How many migrants?", True),
    # A year, a date or an item number answers no "how many".
    ("The security relationship is in its worst state since the 1990s.", "How many?", False),
    ("The policy is set to end on May 23, 2022.", "How many were expelled?", False),
    ("2) work to avoid an early crisis", "How many crises?", False),
    # A number the question already names is its subject, not its answer.
    ("Expulsions under Title 42 continue.", "How many were expelled under Title 42?", False),
])
def test_a_quantity_is_a_figure_the_question_lacks(sentence, question, states):
    from assistant.answer import states_quantity

    assert states_quantity(sentence, question) is states


def test_a_lead_in_brings_the_list_it_introduces(assistant):
    # The closest sentence ends in a colon; the items after it are the answer.
    ans = assistant.ask("What new circumstances will affect U.S. migration policy?")
    check_answer_shape(ans)
    lead = next(s for s in ans.sentences if s.text.endswith(":"))
    items = [s for s in ans.sentences if s.citation == lead.citation and s is not lead]
    assert len(items) >= 2
    passage = ans.citations[lead.citation - 1].passage.text
    for s in items:
        at = passage.index(s.text)
        # Each is the first sentence of a bulleted item after the lead-in.
        assert at > passage.index(lead.text) and passage[:at].rstrip().endswith("-")


def test_a_question_for_a_figure_brings_no_list(assistant):
    ans = assistant.ask("How many consulates does Mexico have in California?")
    check_answer_shape(ans)
    for lead in (s for s in ans.sentences if s.text.endswith(":")):
        same = [s for s in ans.sentences if s.citation == lead.citation]
        assert same[-1] is lead, "a list came along with a lead-in for a how-many question"
