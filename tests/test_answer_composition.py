"""Answers that answer: each failure kind of issue 9 on real questions, the real model and index.

The questions are not those of the issue nor of eval/fresh_questions.jsonl (the
held-out set): they are others of the same kinds. Oracles come from the raw
report text or the parser's member lists, not from the answer code.
"""

from __future__ import annotations

import re

import pytest
from test_answer import MARKER, NOTICE, check_answer_shape

from assistant.conversation import complete_follow_up, is_follow_up
from assistant.types import PEOPLE


def plain(text: str) -> str:
    return " ".join(MARKER.sub("", text).split())


def raw_items_after(raw: str, lead: str) -> list[str]:
    """The bullet items that follow a lead-in in the raw report (an oracle from the file)."""
    at = raw.index(lead) + len(lead)
    items = []
    for line in raw[at:].splitlines():
        line = line.strip()
        if line.startswith("- "):
            items.append(line[2:])
        elif line and items and not line.startswith("U.S.-MEXICO FORUM"):
            break
    return items


# -- the sentence that answers --------------------------------------------------------

def test_a_definition_question_gets_the_defining_sentence(assistant):
    ans = assistant.ask("What is the HLED?")
    check_answer_shape(ans)
    # The sentence that says what it is: a cooperation mechanism, relaunched in 2021.
    assert "one of the most important cooperation mechanisms" in plain(ans.text)


def test_a_recommendation_question_gets_the_recommending_sentence(assistant):
    ans = assistant.ask("What does the energy group recommend about methane?")
    check_answer_shape(ans)
    assert "It is important to implement specific emission reduction projects" in plain(ans.text)


def test_a_why_question_gets_a_reason(assistant):
    ans = assistant.ask("Why is energy cooperation between the governments difficult?")
    check_answer_shape(ans)
    assert re.search(r"\b(due to|because|since|given)\b", plain(ans.text)), ans.text


def test_a_footnote_that_holds_the_list_comes_with_its_marker(assistant, report_raw):
    ans = assistant.ask("Which six key recommendations came from the forum's first stage?")
    check_answer_shape(ans)
    text = plain(ans.text)
    # Footnote 3 of the raw report lists them as 1) ... 6).
    note = report_raw[report_raw.index("³ 1)"):]
    for n in range(1, 7):
        item = re.search(rf"{n}\) ([^;.]+)", note).group(1)
        assert item[:40] in text, (n, item)


def test_a_list_item_brings_its_lead_in(assistant):
    ans = assistant.ask("Which trade issues are considered the hardest to cooperate on?")
    check_answer_shape(ans)
    items = [s for s in ans.sentences if s.item]
    assert items
    leads = [s for s in ans.sentences if s.text.rstrip().endswith(":")]
    assert leads and ans.sentences.index(leads[0]) < ans.sentences.index(items[0])


# -- whole lists ------------------------------------------------------------------------

def test_a_members_question_names_the_whole_group(assistant, report_document):
    ans = assistant.ask("Who were the members of the strategic diplomacy group?")
    check_answer_shape(ans)
    members = [p.name for p in report_document.people if p.section == "Strategic Diplomacy"
               and "GROUP" in p.role.upper()]
    assert len(members) >= 10
    missing = [m for m in members if m not in ans.text]
    assert not missing or re.search(r"\d+ more in ", ans.text), missing
    # Members of the other groups are not mixed in.
    others = {p.name for p in report_document.people if p.section == "Migration"} - set(members)
    assert not [m for m in others if m in ans.text]


def test_a_bulleted_list_is_given_whole(assistant, report_raw):
    lead = "Multiple improvement areas were identified for the U.S. and the 10 Mexican consulates"
    expected = raw_items_after(report_raw, "consulates in California:")
    assert len(expected) == 7
    ans = assistant.ask("Which areas for improvement were named for the consulates in California?")
    check_answer_shape(ans)
    assert lead in ans.text
    for item in expected:
        assert item in ans.text, item


def test_a_list_that_crosses_a_page_is_given_whole(assistant, report_raw):
    ans = assistant.ask("Which new circumstances could affect migration policy?")
    check_answer_shape(ans)
    lead = next(s for s in ans.sentences if s.text.endswith(":"))
    items = ans.sentences[ans.sentences.index(lead) + 1:]
    # Seven bullets in the raw report, the last one on the next page.
    raw = report_raw[report_raw.index(lead.text):]
    bullets = re.findall(r"^- (.+?[.!?])(?:\s|$)", raw[:4000], re.M)[:7]
    assert len([s for s in items if s.item]) >= 7
    for b in bullets:
        assert b.split(". ")[0][:50] in ans.text, b
    # The items quote two passages, each cited, numbered in the order quoted.
    assert len({s.citation for s in items}) >= 2


# -- every place the report says it ---------------------------------------------------------

def test_a_question_on_what_the_report_says_gives_each_section_under_its_heading(assistant):
    ans = assistant.ask("What does the report say about China?")
    check_answer_shape(ans)
    assert len(ans.groups) >= 3, ans.text
    sections = [g.section for g in ans.groups]
    for g in ans.groups:
        assert f"{g.section} (p. {', '.join(map(str, g.pages))}):" in ans.text
        # Every section shown names the topic.
        assert any("China" in s.text for s in g.sentences), g
    # In the report's order.
    firsts = [min(g.pages) for g in ans.groups]
    assert firsts == sorted(firsts), sections
    assert any("Strategic Diplomacy" in s for s in sections)


def test_citations_run_from_one_in_the_order_quoted(assistant):
    for q in ("How many Mexican consulates are in the U.S.?",
              "What does the report say about the Bicentennial Framework?"):
        ans = assistant.ask(q)
        check_answer_shape(ans)
        assert ans.sentences[0].citation == 1
        # Eval still reads the ranking: the citations are its passages, reordered.
        assert {h.passage.id for h in ans.ranked} <= {h.passage.id for h in ans.citations}


# -- an honest no, and no wrong one --------------------------------------------------------

@pytest.mark.parametrize("question", [
    "What is the unemployment rate in Canada?",
    "How many students attend UNAM?",
    "Who is the mayor of Tijuana?",
])
def test_confident_non_answers_are_refused_in_plain_words(assistant, question):
    ans = assistant.ask(question)
    assert ans.abstained, ans.text
    assert ans.text.startswith(NOTICE)
    # Plain words: no engine scores, and a suggestion of what to try.
    assert not re.search(r"\d\.\d", ans.reason), ans.reason
    assert "similarity" not in ans.reason and "coverage" not in ans.reason
    assert re.search(r"\b(try|rephrase|ask)\b", ans.reason), ans.reason


def test_a_short_question_inside_a_chosen_section_is_answered_from_it(assistant):
    section = "Energy and Sustainability"
    ans = assistant.ask("What are the main challenges?", section=section)
    check_answer_shape(ans)
    assert not ans.abstained
    assert all(ans.citations[s.citation - 1].passage.section == section for s in ans.sentences)
    assert "challenges" in plain(ans.text).lower()


def test_a_refusal_inside_a_section_suggests_widening_it(assistant):
    ans = assistant.ask("Who won the 2010 World Cup?", section="Migration")
    assert ans.abstained and "section filter" in ans.reason, ans.reason


# -- follow-ups keep their subject -----------------------------------------------------------

@pytest.mark.parametrize("anchor,follow,expected", [
    ("What did the security and public health group say about fentanyl?",
     "Who was in that working group?", "Who was in the security and public health group?"),
    ("What does the Energy and Sustainability section say about methane?",
     "Who was in that group?", "Who was in the Energy and Sustainability section?"),
    ("What were the main achievements of the High-Level Economic Dialogue?",
     "When was that dialogue relaunched?", "When was the High-Level Economic Dialogue relaunched?"),
])
def test_a_pointing_follow_up_takes_the_previous_subject(anchor, follow, expected):
    assert is_follow_up(follow)
    assert complete_follow_up(follow, [anchor]) == (expected, True)


def test_a_follow_up_about_a_group_names_that_groups_members(assistant, report_document):
    history = ["What did the security and public health group say about fentanyl?"]
    q, done = complete_follow_up("Who was in that working group?", history)
    assert done
    ans = assistant.ask(q)
    check_answer_shape(ans)
    assert any(ans.citations[s.citation - 1].passage.kind == PEOPLE for s in ans.sentences)
    security = [p.name for p in report_document.people if p.section == "Security and Public Health"]
    trade = [p.name for p in report_document.people if p.section == "Trade, Economy and Work"]
    assert all(m in ans.text for m in security)
    assert not [m for m in trade if m in ans.text and m not in security]


def test_an_unrelated_question_is_not_bent_into_a_follow_up():
    history = ["What did the security and public health group say about fentanyl?"]
    q = "Which group discussed electric vehicles?"
    assert complete_follow_up(q, history) == (q, False)


@pytest.mark.parametrize("question,named", [
    ("Who from Tec de Monterrey took part in the trade group?", "Tec de Monterrey"),
    ("Which member of the energy group works for Schneider Electric?", "Schneider Electric"),
])
def test_a_question_naming_an_affiliation_names_only_the_members_from_it(assistant, question,
                                                                          named):
    # The group's other members sit as near in meaning; naming them answers
    # a question nobody asked.
    ans = assistant.ask(question)
    assert not ans.abstained and ans.sentences, ans.text
    assert all(named in s.text for s in ans.sentences), ans.text
