"""Compare: distinct sections, each with its own passages and their pages."""

from __future__ import annotations

import pytest

from assistant.compare import comparison_passages
from assistant.errors import QueryError
from assistant.types import Comparison

TOPICS = [
    "electric vehicles",
    "USMCA",
    "COVID-19 vaccination",
    "How do different sections discuss migration?",
    "What do the sections say about Ukraine?",
    "energy policy",
]


def check_comparison(c: Comparison) -> None:
    """Invariants of every comparison."""
    keys = [(row.doc_id, row.section_path) for row in c.rows]
    assert len(set(keys)) == len(keys), "a section appears in two rows"
    scores = [row.score for row in c.rows]
    assert scores == sorted(scores, reverse=True)
    if c.abstained:
        assert c.reason and not c.rows
        return
    assert c.rows
    for row in c.rows:
        assert row.hits
        assert row.section == row.section_path[-1]
        for h in row.hits:
            assert h.passage.section_path == row.section_path
            assert h.passage.doc_id == row.doc_id
        assert row.pages == tuple(sorted({pg for h in row.hits for pg in h.passage.pages}))
        hit_scores = [h.score for h in row.hits]
        assert hit_scores == sorted(hit_scores, reverse=True)
        assert len({h.passage.id for h in row.hits}) == len(row.hits)
        # Every row states its position in its own one or two sentences.
        assert 1 <= len(row.position) <= 2
        for st in row.position:
            text = row.hits[st.hit].passage.text
            assert 0 <= st.start < st.end <= len(text) and text[st.start:st.end].strip()


@pytest.mark.parametrize("topic", TOPICS)
def test_comparison_invariants(assistant, topic):
    c = assistant.compare(topic)
    check_comparison(c)
    assert c.topic == topic


def test_electric_vehicles_span_several_sections(assistant):
    c = assistant.compare("electric vehicles")
    assert not c.abstained
    assert len(c.rows) >= 2
    # Each row's best passage is about the topic in that section's own words.
    assert sum("electric vehicle" in row.hits[0].passage.text.lower() for row in c.rows) >= 2


def test_dev_compare_questions_keep_invariants(assistant, dev_questions):
    for q in dev_questions:
        if q["kind"] == "compare":
            c = assistant.compare(q["question"])
            check_comparison(c)
            assert len(c.rows) >= 2, q["id"]


def test_comparison_passages_interleave_sections(assistant):
    c = assistant.compare("USMCA")
    flat = comparison_passages(c, limit=10)
    assert len(flat) <= 10
    # Every section's best passage comes before any section's second one.
    firsts = [row.hits[0].passage.id for row in c.rows]
    assert [h.passage.id for h in flat[: len(firsts)]] == firsts[:10]
    all_hits = {h.passage.id for row in c.rows for h in row.hits}
    assert {h.passage.id for h in flat} <= all_hits


def test_section_filter_limits_the_rows(assistant):
    c = assistant.compare("How do different sections discuss migration?",
                          section="Working Groups")
    check_comparison(c)
    assert c.rows
    assert all(row.section_path[0] == "Working Groups" for row in c.rows)


@pytest.mark.parametrize(("topic", "section"), [
    ("migration", "Migration"),
    ("energy", "Energy and Sustainability"),
    ("security", "Security and Public Health"),
])
def test_a_working_group_topic_finds_its_group(assistant, topic, section):
    """A topic the report gives a whole section to is compared, and that section is a row."""
    c = assistant.compare(topic)
    check_comparison(c)
    assert not c.abstained, c.reason
    assert section in [row.section for row in c.rows]


def test_unknown_section_is_a_query_error(assistant):
    with pytest.raises(QueryError, match="Migration"):
        assistant.compare("migration", section="Astronomy")


def test_off_topic_topic_is_abstained_on(assistant):
    c = assistant.compare("chocolate chip cookies")
    check_comparison(c)
    assert c.abstained


def test_compare_abstains_on_out_of_scope_questions(assistant, out_of_scope_questions):
    """A question the report does not address has no positions to set side by side."""
    comparisons = [assistant.compare(q) for q in out_of_scope_questions]
    for c in comparisons:
        check_comparison(c)
    shown = [c.topic for c in comparisons if not c.abstained]
    assert len(shown) / len(comparisons) <= 0.2, f"sections shown for: {shown}"


@pytest.mark.parametrize(("topic", "question"), [
    ("nearshoring", "How is nearshoring discussed in different parts of the report?"),
    ("nearshoring", "What do the sections say about nearshoring?"),
    ("fentanyl", "Compare what the report says about fentanyl"),
])
def test_asking_for_a_comparison_adds_no_sections(assistant, topic, question):
    # "report", "discussed", "about" name no topic; a passage using them does
    # not speak to the topic, so the framed question finds the topic's sections.
    plain = {row.section for row in assistant.compare(topic).rows}
    framed = {row.section for row in assistant.compare(question).rows}
    assert framed == plain


def _named(c: Comparison, words: list[str]) -> list[bool]:
    """Whether each row's own position sentences say one of ``words`` (case-folded)."""
    out = []
    for row in c.rows:
        said = " ".join(row.hits[st.hit].passage.text[st.start:st.end] for st in row.position)
        out.append(any(w.casefold() in said.casefold() for w in words))
    return out


@pytest.mark.parametrize(("topic", "names"), [
    ("USMCA", ["USMCA", "United States-Mexico-Canada Agreement"]),
    ("nearshoring", ["nearshoring"]),
    ("China", ["China"]),
])
def test_every_row_names_the_topic_it_is_shown_for(assistant, topic, names):
    """A topic with a name of its own: each row's position sentences name it.

    USMCA is expanded to its full name for searching; a section that only
    says "Canada" or "United States" was shown as a row before (3 of 7).
    """
    c = assistant.compare(topic)
    check_comparison(c)
    assert all(_named(c, names)), [" > ".join(r.section_path) for r in c.rows]

