"""Answer: extractive and honest.

The answer is made only of the report's own sentences, each followed by the
number of the passage it comes from. When the retrieved evidence is too weak
the answer says the report does not appear to address the question and shows
the passages as closest matches, not as an answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from assistant.config import Config
from assistant.index import IndexData
from assistant.lexical import BM25Index, fold, tokenize
from assistant.retrieve.hybrid import Retrieval
from assistant.types import PEOPLE, Answer, AnswerSentence

_NAME = re.compile(r"\b([A-ZÁÉÍÓÚÑ][\w'’-]{2,})")
# Questions that ask for a quantity; their answer must state one. Besides
# "how many / how much", a question that asks "what (is the) ... rate / total /
# share ..." wants a figure too; the words between "what" and the noun may not
# be an auxiliary verb, so "what do both countries share" is not one.
_AUX = r"(?:do|does|did|can|could|should|would|will|might|may|must|has|have|had)"
_QUANTITY = re.compile(
    r"\b(how (many|much|big|large|long|often|tall|far|old)|population|cu[aá]nt[oa]s?)\b"
    r"|\bwhat\s+(?:(?:is|was|are|were)\s+)?(?:the\s+)?(?:(?!" + _AUX + r"\b)[\w'’-]+\s+){0,3}"
    r"((?:percentage|share|proportion|portion|fraction|number|amount|rate|total|cost|price|size|"
    r"average)s?|value)\b"  # "values" are principles, not a figure
    r"|\b(qu[eé]|cu[aá]l)\s+(?:(?:es|era|fue)\s+)?(?:(?:el|la)\s+)?(porcentaje|proporci[oó]n|"
    r"tasa|cifra|n[uú]mero|monto|cantidad|total|valor|costo|precio)\b", re.I)
# "one" is left out: it is far more often a pronoun ("one of the", "on the one
# side") than a count.
_NUMBER = re.compile(r"\d[\d.,]*|\b(two|three|four|five|six|seven|eight|nine|ten|dozens?|"
                     r"hundreds?|thousands?|millions?|billions?|half|third|quarter)\b", re.I)
# Figures that are not quantities: a year ("in 2021", "the 1990s"), the day of
# a date ("May 23"), an item number ("1)").
_NOT_QUANTITY = re.compile(
    r"\b(1[89]\d\d|20\d\d)s?\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
    r"\s+\d{1,2}(-\d{1,2})?\b|\b\d{1,2}\)")


def states_quantity(sentence: str, question: str) -> bool:
    """Whether the sentence gives a figure the question did not already contain.

    Years, dates and list numbers are not the amounts a "how many" asks for,
    and a number the question itself names ("under Title 42 in 2021") is a
    pointer to the subject, not the answer.
    """
    asked = {m.group(0).lower() for m in _NUMBER.finditer(question)}
    text = _NOT_QUANTITY.sub(" ", sentence)
    return any(m.group(0).lower().rstrip(".,") not in asked for m in _NUMBER.finditer(text))

# A question about the forum's people: who took part, in which group, from
# which institution. Only such a question is answered from a member list; for
# any other, a list of names and affiliations is no answer, however close its
# vector (a Spanish question sits near the lists' Spanish names and institutions).
_ABOUT_PEOPLE = re.compile(
    r"\b(who|whom|whose|members?|membership|participants?|participated|took part|attend\w*|"
    r"panel(?:ist)?s?|speakers?|experts?|affiliat\w*|institutions?|organi[sz]ations?|"
    r"universit(?:y|ies)|qui[eé]n(?:es)?|miembros?|participantes?|particip[oó]|integr\w+|"
    r"panelistas?|expertos?|afiliaci[oó]n|instituci[oó]n(?:es)?|organizaci[oó]n(?:es)?|"
    r"universidad(?:es)?)\b", re.I)
_WORD = re.compile(r"[\w'’-]+")
ONLY_MEMBER_LISTS = ("the closest passages only list forum members, and the question is not "
                     "about people")
# Words of affiliations that name no one institution in particular.
_COMMON_AFFILIATION = frozenset(("University", "Universidad", "Institute", "Instituto",
                                 "Center", "Centre", "Mexico", "México", "Mexican", "American",
                                 "Americas", "California", "School", "Policy", "Global",
                                 "Foundation", "Group", "National", "Council", "Senator"))


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved passages support the question (see should_abstain)."""

    support: float  # best cosine of the question with one sentence of the top hits
    coverage: float  # IDF-weighted share of the question's words in one top passage
    unknown_names: tuple[str, ...]  # capitalised names the documents never use
    wants_quantity: bool = False  # the question asks how many / how much
    states_quantity: bool = True  # one of the best sentences contains a number
    has_terms: bool = True  # the question has a word that is not a stop word
    # The question is in another language than the report: its words are not
    # the report's, so how many of them a passage holds (coverage) says nothing.
    cross_lingual: bool = False


def unknown_names(question: str, bm25: BM25Index) -> tuple[str, ...]:
    """Proper names in the question that no document mentions.

    A capitalised word (other than the first) is taken for a name. It counts
    as known when the vocabulary has a word sharing its first four letters, so
    "Chinese" is known from "China"; "Argentina" or "Bitcoin" are not.
    """
    prefixes = bm25.prefixes(4)
    names = []
    for m in _NAME.finditer(question):
        if m.start() == 0 or question[:m.start()].strip(" ¿¡\"'“") == "":
            continue
        word = m.group(1)
        stems = tokenize(word)
        if not stems or any(s in bm25.df or fold(s)[:4] in prefixes for s in stems):
            continue
        names.append(word)
    return tuple(dict.fromkeys(names))


def coverage(question: str, r: Retrieval, data: IndexData, index_of: dict[str, int],
             top: int = 3) -> float:
    """Largest IDF-weighted share of the question's words found in one of the top passages."""
    qt = set(tokenize(question))
    if not qt or not r.hits:
        return 0.0
    n = data.bm25.size
    idf = {t: math.log((n + 1) / (data.bm25.df.get(t, 0) + 0.5)) for t in qt}
    total = sum(idf.values()) or 1.0
    best = 0.0
    for h in r.hits[:top]:
        words = set(tokenize(f"{h.passage.context} {h.passage.text}"))
        best = max(best, sum(v for t, v in idf.items() if t in words) / total)
    return best


def evidence(question: str, r: Retrieval, data: IndexData, index_of: dict[str, int]
             ) -> Evidence:
    # A member list supports only a question about people: its lines carry
    # their group's name, so they sit near any question on that group's topic
    # without answering it (and compose would not show them for one).
    people = asks_about_people(question, data)
    support = max((float(r.sentence[index_of[h.passage.id]]) for h in r.hits
                   if people or h.passage.kind != PEOPLE), default=-1.0)
    wants = bool(_QUANTITY.search(question))
    # The figure must be in what the answer would show, so the sentences are
    # chosen as compose chooses them (meaning plus the question's rare words),
    # not by meaning alone: for a question in Spanish the closest sentences by
    # meaning are often a member list's Spanish names.
    states = any(states_quantity(r.hits[c - 1].passage.text[s:e], question)
                 for _, c, s, e in answer_sentences(question, r, data, index_of, 3))
    # A capitalised word of a question in another language is as often a
    # translated name ("Banco Mundial", "Cumbre de Líderes") as an unknown
    # one, and the English vocabulary cannot tell which.
    names = () if r.cross_lingual else unknown_names(question, data.bm25)
    return Evidence(support, coverage(question, r, data, index_of), names, wants, states,
                    has_terms=bool(tokenize(question)), cross_lingual=r.cross_lingual)


def answer_sentences(question: str, r: Retrieval, data: IndexData, index_of: dict[str, int],
                     n: int, member_lists: bool = True) -> list[tuple[float, int, int, int]]:
    """The sentences an answer brings forward: (score, citation, start, end), best first.

    Every sentence of the hits is scored by its similarity to the question,
    with a small prior for the passage's rank; at most n are kept, and only
    those nearly as good as the best one. With ``member_lists=False`` the
    sentences of member lists (people passages) are left out.
    """
    spans = data.sent_spans
    weights = _term_weights(question, data)
    total = sum(weights.values()) or 1.0
    cands: list[tuple[float, int, int, int]] = []  # score, citation, start, end
    for n_hit, hit in enumerate(r.hits, start=1):
        if hit.passage.kind == PEOPLE and not member_lists:
            continue
        pi = index_of[hit.passage.id]
        for row in r.sentence_rows(pi):
            s, e = int(spans[row, 1]), int(spans[row, 2])
            text = hit.passage.text[s:e]
            if _is_label(text):
                continue  # a list's heading ("MIGRATION GROUP") answers nothing
            # Meaning first; the question's rarer words (a name, a figure)
            # break ties between sentences on the same subject.
            overlap = sum(weights.get(t, 0.0) for t in set(tokenize(text))) / total
            score = float(r.sent_scores[row]) + 0.15 * overlap - 0.01 * (n_hit - 1)
            cands.append((score, n_hit, s, e))
    cands.sort(key=lambda c: -c[0])
    # A sentence said twice (a repeated paragraph, a pull quote and its source)
    # is brought forward once, at its best place.
    seen: set[str] = set()
    unique = []
    for c in cands:
        key = " ".join(r.hits[c[1] - 1].passage.text[c[2]:c[3]].split()).lower()
        if key not in seen:
            seen.add(key)
            unique.append(c)
    cands = unique
    if not cands:
        return []
    best = cands[0][0]
    # Keep sentences nearly as good as the best one: a sentence far below the
    # first is more likely noise than more answer.
    chosen = [c for c in cands[:n] if c[0] >= best - 0.12]
    return chosen + _continuations(question, chosen, cands, r)


_LIST_ITEMS = 8  # the longest list a lead-in brings along
# What precedes a list item's first sentence: a line break, then a bullet or
# an item number; a line break alone starts a new paragraph, which ends the list.
_ITEM = re.compile(r"\n[ \t]*(?:[-•*–]|\d{1,2}[.)]|[a-z][.)])[ \t]+$")
_LINE = re.compile(r"\n[ \t]*$")


def _continuations(question: str, chosen: list[tuple[float, int, int, int]],
                   cands: list[tuple[float, int, int, int]], r: Retrieval
                   ) -> list[tuple[float, int, int, int]]:
    """The list a chosen lead-in introduces: each item's first sentence, same passage.

    The sentence closest to a "what / which" question often only restates its
    subject and ends in a colon ("Multiple improvement areas were identified
    for ...:"); the answer is the list that follows, whose items carry few of
    the question's words and so score low on their own. An item may run to
    several sentences; its first one names it. A question asking for a figure
    is answered by the sentence giving it, so no list comes along then; nor
    for a member list, whose heading is not a sentence.
    (Tried and dropped: also bringing the next sentence when it opens with
    "This" or "These"; on the dev and held-out questions it added context far
    more often than answer.)
    """
    if _QUANTITY.search(question):
        return []
    have = {(c[1], c[2]) for c in chosen}
    extra: list[tuple[float, int, int, int]] = []
    for c in chosen:
        text = r.hits[c[1] - 1].passage.text
        if r.hits[c[1] - 1].passage.kind == PEOPLE or not text[c[2]:c[3]].rstrip().endswith(":"):
            continue
        items = 0
        for x in sorted((x for x in cands if x[1] == c[1] and x[2] > c[2]), key=lambda x: x[2]):
            before = text[max(0, x[2] - 12):x[2]]
            if _ITEM.search(before):
                items += 1
                if items > _LIST_ITEMS:
                    break
                if (x[1], x[2]) not in have:
                    have.add((x[1], x[2]))
                    extra.append(x)
            elif _LINE.search(before):
                break  # a new paragraph: the list is over
    return extra


def asks_about_people(question: str, data: IndexData) -> bool:
    """Whether the question asks who took part, or names someone the member lists name.

    Naming a listed person, or an institution only the member lists mention
    as an affiliation ("Brookings"), is asking about people too.
    """
    if _ABOUT_PEOPLE.search(question):
        return True
    words = set(_WORD.findall(question))
    # Four letters or more, capitalised, so "Gross" and not "gross".
    return any(w in words for d in data.documents for p in d.people
               for w in f"{p.name} {p.affiliation}".split()
               if len(w) >= 4 and w[0].isupper() and w not in _COMMON_AFFILIATION)


def should_abstain(ev: Evidence, cfg: Config) -> tuple[bool, str]:
    """Decide whether the report answers the question at all.

    ``support`` is the evidence that matters most: a sentence that answers a
    question sits close to it, a passage that is merely on the same topic
    does not. Three rules, thresholds calibrated on the dev questions plus
    eval/out_of_scope.jsonl by `python -m assistant calibrate` so that almost
    no answerable question is refused:

    1. no sentence is close enough (support < abstain_dense): abstain;
    2. the question names something the report never mentions (a person,
       place or thing, e.g. "Bitcoin") and the support is not strong: the
       nearby sentences are about something else;
    3. few of the question's distinctive words appear in any top passage and
       the support is only middling: a topical neighbour, not an answer;
    4. the question asks for a quantity and none of the sentences the answer
       would show states one (a year, a date or a number the question names
       does not count): they talk about the subject without giving what was
       asked.

    Before all of them: a question made only of stop words ("what is the")
    has no subject, and whatever sits nearest to it in vector space is chance.

    One exception comes next: when a single top passage holds nearly all of
    the question's distinctive words (coverage >= answer_coverage), the
    report does speak to it, however short the question ("China") and so
    however weak its vector match.
    """
    if not ev.has_terms:
        return True, "the question has no content words to search for (only stop words or symbols)"
    if ev.coverage >= cfg.answer_coverage and not ev.unknown_names and not ev.cross_lingual:
        return False, ""
    if ev.support < cfg.abstain_dense:
        if ev.support <= -1.0:  # evidence() found no sentence it may count
            return True, ONLY_MEMBER_LISTS
        return True, ("no passage is close to the question "
                      f"(best sentence similarity {ev.support:.2f})")
    if ev.unknown_names and ev.support < cfg.abstain_names:
        return True, (f"the report never mentions {', '.join(ev.unknown_names[:3])}, and the "
                      f"closest sentence is only loosely related ({ev.support:.2f})")
    if (ev.coverage < cfg.abstain_coverage and ev.support < cfg.abstain_coverage_support
            and not ev.cross_lingual):
        return True, (f"the closest passages share few of the question's key words "
                      f"(coverage {ev.coverage:.2f}, similarity {ev.support:.2f})")
    if ev.wants_quantity and not ev.states_quantity:
        return True, "the question asks for a quantity and no close sentence gives one"
    return False, ""


def compose(question: str, r: Retrieval, data: IndexData, cfg: Config,
            index_of: dict[str, int], note: str = "") -> Answer:
    """Build the Answer from a retrieval: best sentences with [n] markers, or an abstention."""
    hits = r.hits
    abstain, reason = (True, "nothing was retrieved") if not hits else should_abstain(
        evidence(question, r, data, index_of), cfg)
    if abstain:
        topic = question.strip().rstrip("?.!")
        text = f"The report does not appear to address this: “{topic}”."
        if hits:
            text += " The closest passages are shown below as near matches, not as an answer."
        return Answer(question, text, (), hits, True, _join(reason, note), r.query)

    # A member list answers only a question about people; for any other it
    # would put names and affiliations forward as the answer. (The abstention
    # rules above still see every hit, as they were calibrated.)
    people = asks_about_people(question, data)
    chosen = answer_sentences(question, r, data, index_of, cfg.answer_sentences,
                              member_lists=people)
    if not chosen:
        # No sentence to answer with (every hit a member list the question does
        # not ask about, or a heading): say so plainly rather than answer with nothing.
        topic = question.strip().rstrip("?.!")
        text = (f"The report does not appear to address this: “{topic}”. The closest "
                "passages are shown below as near matches, not as an answer.")
        why = (ONLY_MEMBER_LISTS if not people and any(h.passage.kind == PEOPLE for h in hits)
               else "none of the closest passages has a sentence that answers it")
        return Answer(question, text, (), hits, True, _join(why, note), r.query)
    chosen.sort(key=lambda c: (c[1], c[2]))
    sentences = tuple(
        AnswerSentence(hits[c[1] - 1].passage.text[c[2]:c[3]], c[1], round(c[0], 4))
        for c in chosen
    )
    text = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
    return Answer(question, text, sentences, hits, False, note, r.query)


def _term_weights(question: str, data: IndexData) -> dict[str, float]:
    n = data.bm25.size
    return {t: math.log((n + 1) / (data.bm25.df.get(t, 0) + 0.5)) for t in set(tokenize(question))
            if t in data.bm25.df}


def _is_label(text: str) -> bool:
    return text.isupper() and len(text.split()) <= 6


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
