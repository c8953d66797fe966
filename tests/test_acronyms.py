"""Inline acronym definitions and query expansion, on small strings."""

from __future__ import annotations

import pytest

from assistant.retrieve.acronyms import expand_query, extract_acronyms


@pytest.mark.parametrize(("text", "acronym", "long_form"), [
    ("which include the Rapid Response Labor Mechanism (RRLM). Other areas",
     "RRLM", "Rapid Response Labor Mechanism"),
    # Small words inside the long form are skipped by the initials.
    ("collaborate in the information and communication technology (ICT) sectors",
     "ICT", "information and communication technology"),
    # Hyphenated words may give one initial per part.
    ("the United States-Mexico-Canada Agreement (USMCA) on energy",
     "USMCA", "United States-Mexico-Canada Agreement"),
    ("was relaunched: the High-Level Economic Dialogue (HLED). At that time",
     "HLED", "High-Level Economic Dialogue"),
    # A plural acronym spells the singular.
    ("small and medium-sized enterprises (SMEs), the Mexican Secretariat",
     "SMEs", "small and medium-sized enterprises"),
    # Initials that do not spell it (a translated name): the capitalised name before it.
    ("absorbed former National Institute of Ecology and Climate Change (INECC) functions",
     "INECC", "National Institute of Ecology and Climate Change"),
])
def test_inline_definitions_are_found(text, acronym, long_form):
    assert extract_acronyms([text]) == {acronym: long_form}


@pytest.mark.parametrize("text", [
    "the minimum wage (it has increased 67%) rose",  # not an acronym
    "El Colegio de México (Colmex) hosted",  # one capital letter: a short name, not initials
    "the gap (i.e., the difference) persists",
    "an agreement (USMCA) was signed",  # nothing before it spells it
    "the report (2022) says",
    "",
])
def test_no_definition_is_invented(text):
    assert extract_acronyms([text]) == {}


def test_a_definition_never_reaches_past_a_clause_break():
    found = extract_acronyms(["Rapid growth, Response times and Labor Mechanism (RRLM) rules"])
    assert found.get("RRLM") != "Rapid growth Response times and Labor Mechanism"
    assert "growth" not in found.get("RRLM", "")


def test_first_definition_wins_and_all_texts_are_read():
    found = extract_acronyms([
        "the Rapid Response Labor Mechanism (RRLM) applies",
        "later the Regional Rural Lending Market (RRLM) and the Federal Electricity "
        "Commission (CFE) appear",
    ])
    assert found == {"RRLM": "Rapid Response Labor Mechanism",
                     "CFE": "Federal Electricity Commission"}


ACRONYMS = {"RRLM": "Rapid Response Labor Mechanism", "CFE": "Federal Electricity Commission",
            "SMEs": "small and medium-sized enterprises"}


@pytest.mark.parametrize(("query", "added"), [
    ("What is the RRLM?", "Rapid Response Labor Mechanism"),
    ("what does the rrlm do", "Rapid Response Labor Mechanism"),  # case does not matter
    ("rapid response mechanism", "RRLM"),  # three of four words of the long form
    ("the rapid response labor mechanism", "RRLM"),
    ("Federal Electricity Commission purchases", "CFE"),
    ("support for SME owners", "small and medium-sized enterprises"),  # singular of SMEs
])
def test_queries_are_expanded_both_ways(query, added):
    expanded = expand_query(query, ACRONYMS)
    assert expanded.startswith(query)
    assert added in expanded[len(query):]


@pytest.mark.parametrize("query", [
    "response times at the border",  # one word of the long form is not a mention
    "electricity prices",
    "What is the minimum wage?",
])
def test_unrelated_queries_are_left_alone(query):
    assert expand_query(query, ACRONYMS) == query


def test_expansion_with_no_acronyms_is_identity():
    assert expand_query("What is the RRLM?", {}) == "What is the RRLM?"
