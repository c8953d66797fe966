"""Answer: extractive and honest.

The answer is made only of the report's own sentences, each followed by the
number of the passage it comes from. When the retrieved evidence is too weak
the answer says the report does not appear to address the question and shows
the passages as closest matches, not as an answer.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from assistant.config import Config
from assistant.index import IndexData
from assistant.lexical import BM25Index, fold, tokenize
from assistant.retrieve.hybrid import Retrieval
from assistant.types import FOOTNOTE, PEOPLE, Answer, AnswerGroup, AnswerSentence, Hit

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
    r"average|wage|salary|salaries|budget|gdp|inflation|unemployment)s?|value)\b"
    # ("values", plural, are principles, not a figure)
    r"|\b(qu[eé]|cu[aá]l)\s+(?:(?:es|era|fue)\s+)?(?:(?:el|la)\s+)?(porcentaje|proporci[oó]n|"
    r"tasa|cifra|n[uú]mero|monto|cantidad|total|valor|costo|precio|salario|inflaci[oó]n|"
    r"desempleo|pib|presupuesto)\b", re.I)
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


# -- what the question asks for -------------------------------------------------
# Each wanted kind of answer has a question pattern and a sentence cue; a
# sentence giving what was asked for (a figure for "how many", a reason for
# "why") is preferred over one that only restates the subject, which is the
# sentence closest in meaning more often than not.
_ASKS = {
    "person": re.compile(r"\b(who|whom|whose|qui[eé]n(?:es)?)\b", re.I),
    "date": re.compile(r"\b(when|what (?:year|date|day|month)|cu[aá]ndo|en qu[eé] (?:año|fecha))\b",
                       re.I),
    "reason": re.compile(r"\b(why|reasons?|caus\w*|what (?:drives|explains|led)|por qu[eé]|"
                         r"motivo|raz[oó]n)\b", re.I),
    "definition": re.compile(
        r"^[¿¡\s]*(?:what|qu[eé])\s+(?:is|are|was|were|es|son|fue|era)\s+(?:the\s+|an?\s+|el\s+|"
        r"la\s+|los\s+|las\s+)?[^?,]{2,60}\??\s*$|\bwhat does .{2,40} (?:mean|stand for|do)\b|"
        r"\bdefin\w*", re.I),
    "recommendation": re.compile(
        r"\b(recommend\w*|suggest\w*|propos\w*|advi[cs]\w*|should|next steps|what can|"
        r"recomiend\w*|recomend\w*|propon\w*|propuest\w*|sugier\w*|suger\w*|deber\w*)\b", re.I),
}
_CUES = {
    "person": re.compile(r"\b(recipients?|awardees?)\b"),
    # A sentence holding a list: a lead-in, an inline enumeration ("i) ... ii) ...").
    "list": re.compile(r":\s*$|:\s*(?:i\)|1\)|a\))|\bi\).*\bii\)|\binclude:?"),
    "date": re.compile(r"\b(1[89]\d\d|20\d\d)\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|"
                       r"Dec)[a-z]*\.? \d{1,2}\b"),
    "reason": re.compile(r"\b(because|since|due to|as a result|given|thus|therefore|leads? to|"
                         r"led to|caus\w+|reasons?|driven by|in order to|so that|which is why|"
                         r"owing to|problem)\b", re.I),
    "definition": re.compile(r"\b(is|are|was|were|refers? to|means|establishes|represents|"
                             r"consists? of|seeks|aims)\b"),
    "recommendation": re.compile(
        r"\b(must|should|needs? to|needed|necessary|important|essential|crucial|recommend\w*|"
        r"suggest\w*|could|can help|would help|requires?|call(?:s|ed)? for)\b", re.I),
}
_CAPS_RUN = re.compile(r"(?:[A-ZÁÉÍÓÚ][a-záéíóúñ'’-]+|[A-Z]\.)(?:\s+(?:[A-ZÁÉÍÓÚ][a-záéíóúñ'’-]+|"
                       r"[A-Z]\.))+")
# A question for the holder of a role ("Who is the president of ...?"): its
# answer names someone.
_ASKS_HOLDER = re.compile(
    r"^[¿¡\s]*(?:who|qui[eé]n)\s+(?:is|was|are|were|es|era|fue)\s+(?:the|el|la)\b", re.I)
# Head words of two-word names that are institutions or places, not people.
_INSTITUTION = frozenset((
    "Bank", "Fund", "Organization", "Council", "Institute", "University", "Center", "Centre",
    "Group", "Commission", "Department", "Ministry", "Secretariat", "Agreement", "Dialogue",
    "Summit", "Framework", "Initiative", "Award", "Party", "Senate", "House", "Congress", "States",
    "America", "Americas", "Mexico", "México", "California", "Texas", "Baja", "Diego", "Coast",
    "Patrol", "Protection", "Representative", "Border", "Health", "Forum", "War", "Union",
    "Nations", "Law", "Policy", "Studies", "Strategy", "Affairs", "Court", "Courts", "Canada",
    "North", "South", "Central", "Pacific", "Gulf", "City", "County", "Juárez", "Tijuana"))
# A question asking for several things: a list answers it whole.
_ASKS_LIST = re.compile(
    r"\b(which|what)\s+(?:\w+\s+){0,3}(?:are|were)\b|\b(list|lists|members|membership|panel(?:ist)?s|"
    r"participants|recommendations|areas|pillars|principles|factors|points|steps|achievements|"
    r"challenges|priorities|topics|issues|problems|successes|improvements|ways|institutions|"
    r"organi[sz]ations|companies|countries|circumstances|cu[aá]les|qui[eé]nes|miembros|"
    r"integrantes|recomendaciones|[aá]reas|problemas|retos|desaf[ií]os)\b", re.I)
# A question about a group's membership, not about one member.
_ASKS_MEMBERS = re.compile(
    r"\b(members?|membership|panel(?:ist)?s|participants|who (?:was|were|is|are|sat|served)"
    r" (?:in|on|part of)|who (?:took part|participated|attended|spoke)|who were|"
    r"qui[eé]n(?:es)? (?:integr|particip|form)\w*|miembros|integrantes|panelistas)\b", re.I)
# A question about what the report says in general, which may be in several places.
_ASKS_BROAD = re.compile(
    r"\b(say|says|said|discuss\w*|describ\w*|address\w*|sections?|different parts|across|"
    r"compar\w*|throughout|treat\w*|assess\w*|view|dice|dicen|opina)\b", re.I)
_NOTE_MARK = re.compile(r"[¹²³⁴⁵⁶⁷⁸⁹⁰]+")
# Openings that point back to the sentence before ("This initiative ...").
_ANAPHOR = re.compile(r"^(This|These|It|They|Such|Those|That)\b(?! report\b)")
# A sentence that cannot stand alone: a continuation ("and ..."), a footnote
# item ("5) cooperate ..."), a clause ending in a semicolon.
_FRAGMENT = re.compile(r"^(?:[a-z]|\d{1,2}\)|[¹²³⁴⁵⁶⁷⁸⁹])|;\s*$")


def asks_for(question: str) -> frozenset[str]:
    """The kinds of answer the question asks for: person, number, date, reason, definition,
    recommendation, list (any number of them; none for a plain "what")."""
    kinds = {k for k, pat in _ASKS.items() if pat.search(question)}
    if _ASKS_LIST.search(question):
        kinds.add("list")
    if _QUANTITY.search(question):
        kinds.add("number")
        kinds -= {"definition", "list"}  # "what is the rate of ..." wants the rate
    return frozenset(kinds)


def _has_cue(kind: str, sentence: str, question: str, terms: frozenset[str]) -> bool:
    """Whether the sentence gives the kind of thing asked for."""
    if kind == "number":
        return states_quantity(sentence, question)
    if kind == "definition":
        # The subject is named before the verb that defines it ("X ... establishes
        # a ..."), or the sentence opens by pointing at it ("This is the ...").
        if re.match(r"(This|It) (is|was) (the|a|an)\b", sentence):
            return True
        verb = _CUES["definition"].search(sentence)
        if not verb:
            return False
        before = set(tokenize(sentence[:verb.start()]))
        return bool(before & terms)
    if kind == "person":
        if _CUES["person"].search(sentence):
            return True
        # A personal name: a run of exactly two capitalised words (a middle
        # initial allowed) the question does not contain. Longer runs are the
        # names of institutions and awards ("Jeffrey Davidow Good Neighbor Award").
        asked = set(_WORD.findall(question))
        for m in _CAPS_RUN.finditer(sentence):
            names = [w for w in m.group(0).split() if not re.fullmatch(r"[A-Z]\.", w)]
            if (len(names) == 2 and not asked & set(names) and m.start() > 0
                    and not _INSTITUTION & set(names)):
                return True
        return False
    return bool(_CUES[kind].search(sentence))


@dataclass(frozen=True)
class Evidence:
    """How well the retrieved passages support the question (see should_abstain)."""

    support: float  # best cosine of the question with one sentence of the top hits
    coverage: float  # IDF-weighted share of the question's words in one top passage
    unknown_names: tuple[str, ...]  # capitalised names the documents never use
    wants_quantity: bool = False  # the question asks how many / how much
    states_quantity: bool = True  # one of the best sentences contains a number
    has_terms: bool = True  # the question has a word that is not a stop word
    # ordinary words of an English question that the report never uses
    missing_terms: tuple[str, ...] = ()
    quantity_support: float = 1.0  # cosine of the closest sentence that gives a figure (-1: none)
    wants_person: bool = False  # the question asks who holds a role ("who is the ...")
    names_person: bool = True  # one of the best sentences names someone (or is a member line)
    scoped: bool = False  # asked within a section or document the reader chose
    closest: str = ""  # the section of the closest passage, to say what the report does discuss
    # The question is in another language than the report: its words are not
    # the report's, so how many of them a passage holds (coverage) says nothing.
    cross_lingual: bool = False


def unknown_names(question: str, bm25: BM25Index) -> tuple[str, ...]:
    """Proper names in the question that no document mentions.

    A capitalised word (other than the first) is taken for a name. It counts
    as known when the vocabulary has a word sharing its first letters (four,
    or in an English question all but the last three), so "Chinese" is known
    from "China"; "Argentina", "Bitcoin" or "Guadalajara" are not.
    """
    # In an English question a name must share more of its letters with a word
    # of the documents ("Guadalajara" is not "Guadalupe"); a Spanish one keeps
    # four, as its names are often the report's own in another form.
    english = not _NOT_ENGLISH.search(question)
    names = []
    for m in _NAME.finditer(question):
        if m.start() == 0 or question[:m.start()].strip(" ¿¡\"'“") == "":
            continue
        word = m.group(1)
        stems = tokenize(word)
        n = max(4, len(word) - 3) if english else 4
        prefixes = bm25.prefixes(n)
        if not stems or any(s in bm25.df or fold(s)[:n] in prefixes for s in stems):
            continue
        names.append(word)
    return tuple(dict.fromkeys(names))


# Spanish (and other non-English) questions use words an English report never
# does, so the missing-word rule reads only English ones.
_NOT_ENGLISH = re.compile(r"[¿¡ñáéíóúü]|\b(qu[eé]|cu[aá]l(?:es)?|c[oó]mo|d[oó]nde|el|la|los|las|"
                          r"del|para|sobre|seg[uú]n|est[aá]n?|hay|son)\b", re.I)


def missing_terms(question: str, bm25: BM25Index) -> tuple[str, ...]:
    """Ordinary (lower-case) content words of an English question no document uses.

    "What is Mexico's unemployment rate?": the report never says
    "unemployment", so however close "rate" and "Mexico" bring a sentence, it
    is not about unemployment. A word counts as used when the vocabulary has
    its stem or a word sharing its first five letters ("vaccinated" and
    "vaccination"). Capitalised words are names, for unknown_names.
    """
    if _NOT_ENGLISH.search(question):
        return ()
    prefixes = bm25.prefixes(5)
    out = []
    for w in _WORD.findall(question):
        if not w.islower() or len(w) < 4:
            continue
        stems = tokenize(w)
        if not stems or any(s in bm25.df or fold(s)[:5] in prefixes for s in stems):
            continue
        out.append(w)
    return tuple(dict.fromkeys(out))


@functools.lru_cache(maxsize=65536)
def _tokens(text: str) -> frozenset[str]:
    """The stemmed words of a passage or sentence of the index; cached, as the same
    texts are read for question after question (tokenizing was most of composing)."""
    return frozenset(tokenize(text))


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
        words = _tokens(h.passage.context) | _tokens(h.passage.text)
        best = max(best, sum(v for t, v in idf.items() if t in words) / total)
    return best


def evidence(question: str, r: Retrieval, data: IndexData, index_of: dict[str, int],
             scored: list[Scored] | None = None, scoped: bool = False,
             cfg: Config | None = None, people: bool | None = None) -> Evidence:
    """The features should_abstain reads; ``scored`` is score_sentences' result, if at hand."""
    # A member list supports only a question about people: its lines carry
    # their group's name, so they sit near any question on that group's topic
    # without answering it (and compose would not show them for one).
    if people is None:
        people = asks_about_people(question, data)
    support = max((float(r.sentence[index_of[h.passage.id]]) for h in r.hits
                   if people or h.passage.kind != PEOPLE), default=-1.0)
    wants = bool(_QUANTITY.search(question))
    if scored is None:
        scored = score_sentences(question, r, data, index_of, cfg or Config(),
                                 member_lists=people)
    # The figure must be in what the answer would show, so the sentences are
    # the best as composition scores them (meaning, the question's rare words,
    # context), not by meaning alone: for a question in Spanish the closest
    # sentences by meaning are often a member list's Spanish names.
    states = any(states_quantity(c.text, question) for c in scored[:3])
    # How close the best sentence giving a figure is to the question: "How
    # many students attend UC San Diego?" finds a figure ("more than 100,000
    # Mexicans" vaccinated in San Diego), but in a sentence about something else.
    qsupport = max((c.sim for c in scored[:5] if states_quantity(c.text, question)),
                   default=-1.0)
    holder = bool(_ASKS_HOLDER.search(question))
    named = any(data.passages[c.passage].kind == PEOPLE or _has_cue("person", c.text, question,
                                                                     frozenset())
                for c in scored[:3])
    closest = next((h.passage.section for h in r.hits if h.passage.kind != PEOPLE), "")
    # A capitalised word of a question in another language is as often a
    # translated name ("Banco Mundial", "Cumbre de Líderes") as an unknown
    # one, and the English vocabulary cannot tell which; nor its other words.
    cross = r.cross_lingual
    return Evidence(support, coverage(question, r, data, index_of),
                    () if cross else unknown_names(question, data.bm25), wants, states,
                    has_terms=bool(tokenize(question)),
                    missing_terms=() if cross else missing_terms(question, data.bm25),
                    wants_person=holder, names_person=named, quantity_support=qsupport,
                    scoped=scoped, closest=closest, cross_lingual=cross)


# -- sentences and their context ---------------------------------------------------
@dataclass(frozen=True)
class Scored:
    """A sentence of a passage with its score for the question."""

    score: float
    passage: int  # row of data.passages
    start: int  # offsets in the passage text
    end: int
    text: str
    rank: int = 0  # 1-based rank of its passage among the hits (0: not a hit)
    sim: float = 0.0  # its cosine with the question alone


# What precedes a list item's first sentence: a line break, then a bullet or
# an item number; a line break alone starts a new paragraph, which ends the list.
_ITEM = re.compile(r"\n[ \t]*(?:[-•*–]|\d{1,2}[.)]|[a-z][.)])[ \t]+$")
_LINE = re.compile(r"\n[ \t]*$")


class _Text:
    """Sentences of the document around the hits, in reading order, within one section.

    Lists and lead-ins cross passage boundaries, so the neighbours of a sentence
    are read from the passages before and after its own (same document and
    section, same kind), not only from the hits.
    """

    def __init__(self, r: Retrieval, data: IndexData) -> None:
        self.r = r
        self.data = data
        self.docs = {d.id: d for d in data.documents}

    def sentences(self, pi: int) -> list[tuple[int, int, int]]:
        spans = self.data.sent_spans
        return [(pi, int(spans[row, 1]), int(spans[row, 2])) for row in self.r.sentence_rows(pi)]

    def text(self, s: tuple[int, int, int]) -> str:
        return self.data.passages[s[0]].text[s[1]:s[2]]

    def before(self, s: tuple[int, int, int], n: int = 12) -> str:
        """The document text just before a sentence (across a passage start)."""
        p = self.data.passages[s[0]]
        doc = self.docs.get(p.doc_id)
        at = p.start + s[1]
        if doc is None:
            return p.text[max(0, s[1] - n):s[1]]
        return doc.text[max(0, at - n):at]

    def _same_place(self, a: int, b: int) -> bool:
        pa, pb = self.data.passages[a], self.data.passages[b]
        return (pa.doc_id == pb.doc_id and pa.section_path == pb.section_path
                and pa.kind == pb.kind)

    def around(self, pi: int, back: int = 1, ahead: int = 3) -> list[tuple[int, int, int]]:
        """Sentences of passage pi and of up to ``back`` / ``ahead`` passages around it."""
        n = len(self.data.passages)
        lo = pi
        while lo > 0 and pi - lo < back and self._same_place(lo - 1, pi):
            lo -= 1
        hi = pi
        while hi + 1 < n and hi - pi < ahead and self._same_place(hi + 1, pi):
            hi += 1
        out = []
        for i in range(lo, hi + 1):
            out.extend(self.sentences(i))
        return out

    def is_item(self, s: tuple[int, int, int]) -> bool:
        return bool(_ITEM.search(self.before(s)))

    def list_of(self, s: tuple[int, int, int]) -> tuple[tuple | None, list[tuple]]:
        """The lead-in and the items of the list a sentence leads or belongs to.

        Items are the first sentence of each bullet (an item may run on; its
        first sentence names it). No list: (None, []).
        """
        seq = self.around(s[0], back=2, ahead=4)
        try:
            at = seq.index(s)
        except ValueError:
            return None, []
        lead = None
        if self.text(s).rstrip().endswith(":"):
            lead = at
        elif self.is_item(s):
            i = at - 1
            while i >= 0:
                if self.text(seq[i]).rstrip().endswith(":") and not self.is_item(seq[i]):
                    lead = i
                    break
                if _LINE.search(self.before(seq[i])) and not self.is_item(seq[i]):
                    break  # a paragraph before the list, not its lead-in
                i -= 1
        if lead is None:
            return None, []
        items = []
        for x in seq[lead + 1:]:
            if self.is_item(x):
                items.append(x)
            elif _LINE.search(self.before(x)):
                break  # a new paragraph: the list is over
        return (seq[lead], items) if items else (None, [])

    def previous(self, s: tuple[int, int, int]) -> tuple | None:
        seq = self.around(s[0], back=1, ahead=0)
        at = seq.index(s) if s in seq else -1
        return seq[at - 1] if at > 0 else None

    def footnote(self, pi: int, mark: str) -> list[tuple[int, int, int]]:
        """The sentences of the footnote ``mark`` of passage pi's document."""
        i = _footnotes(self.data).get((self.data.passages[pi].doc_id, mark))
        return [] if i is None else self.sentences(i)

    def member_list(self, pi: int) -> list[tuple[int, int, int]]:
        """Every line of the member list passage pi belongs to (its passages in a row)."""
        return [x for x in self.around(pi, back=4, ahead=6)
                if not _is_label(self.text(x))]


def _footnotes(data: IndexData) -> dict[tuple[str, str], int]:
    """{(document, marker): passage row} of every footnote, built once per loaded index
    (a scan of every passage per question would grow with the corpus)."""
    cache = data.__dict__.get("_footnote_rows")
    if cache is None:
        cache = {}
        for i, p in enumerate(data.passages):
            m = _NOTE_MARK.match(p.text) if p.kind == FOOTNOTE else None
            if m:
                cache.setdefault((p.doc_id, m.group(0)), i)
        data.__dict__["_footnote_rows"] = cache
    return cache


def score_sentences(question: str, r: Retrieval, data: IndexData, index_of: dict[str, int],
                    cfg: Config, member_lists: bool = True) -> list[Scored]:
    """Every sentence of the hits scored in its context, best first, each text once.

    score = cosine with the question
          + 0.15 x the share of the question's rare words it holds (a name, a figure)
          + answer_context_weight x the best neighbour's cosine (the sentence
            before or after): a sentence among sentences on the question sits
            where the report treats it
          + answer_passage_weight x its passage's cosine, section path included:
            the section says what the sentence is about when it does not
          + answer_cue_bonus when it gives what the question asks for
          - answer_fragment_penalty when it is a fragment (a footnote item, a clause)
          - 0.01 per rank of its passage.
    With ``member_lists=False`` the sentences of member lists are left out.
    """
    spans = data.sent_spans
    weights = _term_weights(question, data)
    total = sum(weights.values()) or 1.0
    terms = frozenset(weights)
    kinds = asks_for(question)
    out: list[Scored] = []
    for n_hit, hit in enumerate(r.hits, start=1):
        if hit.passage.kind == PEOPLE and not member_lists:
            continue
        pi = index_of[hit.passage.id]
        rows = list(r.sentence_rows(pi))
        sims = [float(r.sent_scores[row]) for row in rows]
        for j, row in enumerate(rows):
            s, e = int(spans[row, 1]), int(spans[row, 2])
            text = hit.passage.text[s:e]
            if _is_label(text):
                continue  # a list's heading ("MIGRATION GROUP") answers nothing
            overlap = sum(weights.get(t, 0.0) for t in _tokens(text)) / total
            near = max([sims[i] for i in (j - 1, j + 1) if 0 <= i < len(sims)], default=0.0)
            score = (sims[j] + 0.15 * overlap + cfg.answer_context_weight * max(near, 0.0)
                     + cfg.answer_passage_weight * float(r.dense[pi]))
            if hit.passage.kind != PEOPLE:
                if any(_has_cue(k, text, question, terms) for k in kinds):
                    score += cfg.answer_cue_bonus
                if _FRAGMENT.search(text) or hit.passage.kind == FOOTNOTE:
                    score -= cfg.answer_fragment_penalty
            out.append(Scored(score - 0.01 * (n_hit - 1), pi, s, e, text, n_hit, sims[j]))
    out.sort(key=lambda c: -c.score)
    # A sentence said twice (a repeated paragraph, a pull quote and its source)
    # is brought forward once, at its best place.
    seen: set[str] = set()
    unique = []
    for c in out:
        key = " ".join(c.text.split()).lower()
        if key not in seen:
            seen.add(key)
            unique.append(c)
    return unique


def answer_sentences(question: str, r: Retrieval, data: IndexData, index_of: dict[str, int],
                     n: int, member_lists: bool = True) -> list[tuple[float, int, int, int]]:
    """The best sentences as (score, citation rank, start, end), at most n, best first."""
    scored = score_sentences(question, r, data, index_of, Config(), member_lists)
    return [(c.score, c.rank, c.start, c.end) for c in scored[:n]]


# -- the plan of an answer ---------------------------------------------------------
@dataclass
class _Group:
    path: tuple[str, ...]
    order: tuple[int, int]  # (document position, offset): the report's order
    best: float
    picks: list[tuple[tuple[int, int, int], bool, float]]  # sentence, is an item, score
    more: str = ""


def plan_answer(question: str, scored: list[Scored], r: Retrieval, data: IndexData,
                cfg: Config, people: bool) -> list[_Group]:
    """Which sentences the answer shows, grouped by section in the report's order.

    1. The best section gives its best sentences (answer_sentences, each
       within answer_margin of its best); another section gives its best
       (answer_section_sentences) when its best sentence is within
       answer_section_margin of the overall best (answer_broad_margin for a
       question on what the report says in general) and holds one of the
       question's rare words: the report addresses the question there too.
    2. A sentence that leads a list brings its items; an item brings its
       lead-in, and the whole list when the question asks for several things;
       a list longer than answer_list_items is cut, saying how many more and
       where. No list comes with a question for a figure.
    3. A sentence opening with "This/These/It ..." brings the sentence before it;
       one pointing to a footnote ("the five principles²") brings the footnote
       when the question asks for a list, a recommendation or a definition.
    4. For a question about a group's members, a member line brings its list.
    """
    if not scored:
        return []
    text = _Text(r, data)
    weights = _term_weights(question, data)
    rare = {t for t, w in weights.items() if w >= 1.5} or set(weights)
    kinds = asks_for(question)
    broad = bool(_ASKS_BROAD.search(question))
    wants_list = bool(_ASKS_LIST.search(question)) and not _QUANTITY.search(question)
    whole_members = people and bool(_ASKS_MEMBERS.search(question)) and not names_member(
        question, data)
    doc_order = {d.id: i for i, d in enumerate(data.documents)}
    best = scored[0].score
    margin = cfg.answer_broad_margin if broad else cfg.answer_section_margin

    by_section: dict[tuple[str, ...], list[Scored]] = {}
    for c in scored:
        p = data.passages[c.passage]
        by_section.setdefault(p.section_path or (p.section,), []).append(c)
    first = data.passages[scored[0].passage]
    primary = first.section_path or (first.section,)
    kept: list[tuple[tuple[str, ...], list[Scored]]] = []
    for path, cands in sorted(by_section.items(), key=lambda kv: -kv[1][0].score):
        if path != primary:
            # Another section counts by its best sentence naming what was asked
            # about: near in meaning alone, it is more likely another subject.
            cands = [c for c in cands
                     if _named_share(rare, weights, _tokens(c.text)) >= cfg.answer_section_naming]
            if (not cands or len(kept) >= cfg.answer_max_sections
                    or cands[0].score < best - margin):
                continue
        top = cands[0]
        n = cfg.answer_sentences if path == primary else cfg.answer_section_sentences
        # Measured from the section's second best: the best is often the one
        # sentence that restates the question's subject ("Another mechanism
        # resumed was the North American Leaders Summit."), far above the
        # sentences that answer it.
        ref = cands[1].score if len(cands) > 1 else top.score
        picks = [c for c in cands[:n] if c.score >= ref - cfg.answer_margin]
        # The question asks for a figure, a person, a date: when none of the
        # sentences kept gives one, the section's best that does comes too.
        for kind in kinds & {"number", "person", "date"}:
            if not any(_has_cue(kind, c.text, question, frozenset(weights)) for c in picks):
                extra = next((c for c in cands if c.score >= top.score - cfg.answer_cue_margin
                              and data.passages[c.passage].kind != PEOPLE
                              and _has_cue(kind, c.text, question, frozenset(weights))), None)
                if extra is not None:
                    picks.append(extra)
        kept.append((path, picks))

    groups: list[_Group] = []
    for path, picks in kept:
        if not whole_members:
            picks = _naming_members(picks, data, rare, weights)
        chosen: dict[tuple[int, int, int], tuple[bool, float]] = {}
        more = ""
        lists_done = 0
        for c in picks:
            s = (c.passage, c.start, c.end)
            kind = data.passages[c.passage].kind
            if kind == PEOPLE:
                lines = text.member_list(c.passage) if whole_members else [s]
                for x in lines[:cfg.answer_list_items]:
                    chosen.setdefault(x, (True, c.score))
                if len(lines) > cfg.answer_list_items:
                    more = _more(len(lines) - cfg.answer_list_items, lines, data)
                continue
            lead, items = (None, []) if _QUANTITY.search(question) else text.list_of(s)
            if lead == s and lists_done:
                continue  # a second lead-in without its list says nothing
            if lead is not None and lists_done == 0 and (lead == s or wants_list):
                # One list a section: two lists near a question ("the most
                # promising areas" / "the most challenging areas") are
                # alternatives, and the better one is the answer.
                lists_done += 1
                chosen.setdefault(lead, (False, c.score))
                for x in items[:cfg.answer_list_items]:
                    chosen.setdefault(x, (True, c.score))
                if len(items) > cfg.answer_list_items:
                    more = _more(len(items) - cfg.answer_list_items, items, data)
                continue
            if lead is not None and lead != s:
                chosen.setdefault(lead, (False, c.score))  # the item's sense needs its lead-in
                chosen.setdefault(s, (True, c.score))
                continue
            note = _NOTE_MARK.search(c.text)
            if note and (wants_list or kinds & {"recommendation", "definition"}):
                # "the five principles² ... remain applicable": the footnote is the list.
                for x in text.footnote(c.passage, note.group(0))[:cfg.answer_list_items]:
                    chosen.setdefault(x, (True, c.score))
            if _ANAPHOR.match(c.text):
                prev = text.previous(s)
                if prev is not None:
                    chosen.setdefault(prev, (text.is_item(prev), c.score))
            chosen.setdefault(s, (text.is_item(s) and lead is not None, c.score))
        if not whole_members and all(data.passages[x[0]].kind == PEOPLE for x in chosen):
            # Members picked one by one for a question about someone ("Which
            # Brookings scholar ..."): the best match first, not the list's order.
            ordered = sorted(chosen.items(), key=lambda kv: -kv[1][1])
        else:
            ordered = sorted(chosen.items(),
                             key=lambda kv: data.passages[kv[0][0]].start + kv[0][1])
        s0 = ordered[0][0]
        p0 = data.passages[s0[0]]
        groups.append(_Group(path, (doc_order.get(p0.doc_id, 0), p0.start + s0[1]),
                             picks[0].score, [(s, it, sc) for s, (it, sc) in ordered], more))
    groups.sort(key=lambda g: g.order)
    return groups


def _naming_members(picks: list[Scored], data: IndexData, rare: set[str],
                    weights: dict[str, float]) -> list[Scored]:
    """The member lines that name most of what the question asks about, when any names it.

    "Who from Brookings was in the energy group?": the lines near it in
    meaning are all that group's members, but only the one naming Brookings
    answers; the others are people the question did not ask about.
    """
    people = [c for c in picks if data.passages[c.passage].kind == PEOPLE]
    share = {id(c): _named_share(rare, weights, _tokens(c.text)) for c in people}
    best = max(share.values(), default=0.0)
    if best == 0.0:
        return picks
    return [c for c in picks if data.passages[c.passage].kind != PEOPLE or share[id(c)] == best]


def _more(n: int, rest: list[tuple[int, int, int]], data: IndexData) -> str:
    """Where the items a cut list leaves out are: "5 more in Working Groups › Migration, p. 17"."""
    p = data.passages[rest[-1][0]]
    return f"{n} more in {' › '.join(p.section_path) or p.section}, {p.page_label}"


def names_member(question: str, data: IndexData) -> bool:
    """Whether the question names someone the member lists name, or an institution
    only they mention as an affiliation ("Brookings"): it asks about one member."""
    return bool(set(_WORD.findall(question)) & _member_words(data))


def _member_words(data: IndexData) -> frozenset[str]:
    """Words of the member lists' names and affiliations that pick out someone:
    four letters or more, capitalised ("Gross", not "gross"), not a common word of
    affiliations. Built once per loaded index."""
    words = data.__dict__.get("_member_words")
    if words is None:
        words = frozenset(w for d in data.documents for p in d.people
                          for w in f"{p.name} {p.affiliation}".split()
                          if len(w) >= 4 and w[0].isupper() and w not in _COMMON_AFFILIATION)
        data.__dict__["_member_words"] = words
    return words


def asks_about_people(question: str, data: IndexData) -> bool:
    """Whether the question asks who took part, or names someone the member lists name.

    Naming a listed person, or an institution only the member lists mention
    as an affiliation ("Brookings"), is asking about people too.
    """
    return bool(_ABOUT_PEOPLE.search(question)) or names_member(question, data)


# -- abstention --------------------------------------------------------------------
def should_abstain(ev: Evidence, cfg: Config) -> tuple[bool, str]:
    """Decide whether the report answers the question at all; the reason in plain words.

    ``support`` is the evidence that matters most: a sentence that answers a
    question sits close to it, a passage that is merely on the same topic
    does not. The thresholds are fitted by `python -m assistant calibrate`
    (cross-validated) so that almost no answerable question is refused:

    0. a question made only of stop words ("what is the") has no subject;
    then, unless one top passage holds nearly all of the question's
    distinctive words (coverage >= answer_coverage, and no unknown name),
    since the report then speaks to it however short the question ("China"):
    1. no sentence is close enough (support < abstain_dense; within a section
       the reader chose, abstain_scoped): abstain;
    2. the question names something the report never mentions (a person,
       place or thing, e.g. "Bitcoin") and the support is not strong;
    3. the question uses an ordinary word the report never does
       ("unemployment") and the support is not strong: the near sentences
       are about the rest of the question;
    4. few of the question's distinctive words appear in any top passage and
       the support is only middling: a topical neighbour, not an answer;
    5. the question asks for a quantity and none of the sentences the answer
       would show states one (a year, a date or a number the question names
       does not count), or the closest that does is far from the question
       (quantity_support < abstain_quantity): a figure about something else;
    6. the question asks who holds a role ("who is the president of ...") and
       none of those sentences names anyone.
    """
    where = f"“{ev.closest}”" if ev.closest else "other sections"
    widen = ("widen the section filter or " if ev.scoped else "")
    if not ev.has_terms:
        return True, ("the question has no words to search for (only stop words or symbols); "
                      "ask about a subject of the report")
    if ev.coverage >= cfg.answer_coverage and not ev.unknown_names and not ev.cross_lingual:
        return False, ""
    floor = cfg.abstain_scoped if ev.scoped else cfg.abstain_dense
    if ev.support < floor:
        if ev.support <= -1.0:  # evidence() found no sentence it may count
            return True, (ONLY_MEMBER_LISTS + "; try naming the topic in other words")
        return True, (f"no sentence of the report comes close to this question (the nearest "
                      f"passages, in {where}, are about something else); {widen}try the "
                      "report's own words for the subject")
    if ev.unknown_names and ev.support < cfg.abstain_names:
        return True, (f"the report never mentions {', '.join(ev.unknown_names[:3])}; the nearest "
                      f"passages, in {where}, are about something else")
    if ev.missing_terms and ev.support < cfg.abstain_missing:
        return True, (f"the report discusses related matters in {where} but never uses the "
                      f"word{'s' if len(ev.missing_terms) > 1 else ''} "
                      f"“{'”, “'.join(ev.missing_terms[:3])}”; {widen}rephrase with the "
                      "report's own terms")
    if (ev.coverage < cfg.abstain_coverage and ev.support < cfg.abstain_coverage_support
            and not ev.cross_lingual):
        return True, (f"the nearest passages, in {where}, share too few of the question's key "
                      f"words to answer it; {widen}rephrase with the report's own terms")
    if ev.wants_quantity and (not ev.states_quantity
                              or ev.quantity_support < cfg.abstain_quantity):
        return True, (f"the report discusses this in {where} but gives no figure for it; ask "
                      "what the report says about the subject instead")
    if ev.wants_person and not ev.names_person:
        return True, (f"the report discusses this in {where} but names no one in that role; "
                      "ask what the report says about the subject instead")
    return False, ""


# -- composing the answer ----------------------------------------------------------
def compose(question: str, r: Retrieval, data: IndexData, cfg: Config,
            index_of: dict[str, int], note: str = "", scoped: bool = False) -> Answer:
    """Build the Answer from a retrieval: the report's sentences with [n] markers, or an
    abstention. ``scoped``: the reader limited the search to a section or document."""
    hits = r.hits
    if not hits:
        return _abstained(question, r, "nothing was retrieved; try other words", note)
    # A member list answers only a question about people; for any other it
    # would put names and affiliations forward as the answer.
    people = asks_about_people(question, data)
    scored = score_sentences(question, r, data, index_of, cfg, member_lists=people)
    abstain, reason = should_abstain(
        evidence(question, r, data, index_of, scored, scoped, cfg, people), cfg)
    if abstain:
        return _abstained(question, r, reason, note)
    groups = plan_answer(question, scored, r, data, cfg, people)
    if not groups:
        # No sentence to answer with (every hit a member list the question does
        # not ask about, or a heading): say so plainly rather than answer with nothing.
        why = (ONLY_MEMBER_LISTS + "; try naming the topic in other words"
               if not people and any(h.passage.kind == PEOPLE for h in hits)
               else "none of the closest passages has a sentence that answers it")
        return _abstained(question, r, why, note)
    return _render(question, groups, r, data, note)


def _abstained(question: str, r: Retrieval, reason: str, note: str) -> Answer:
    topic = question.strip().rstrip("?.!")
    text = f"The report does not appear to address this: “{topic}”."
    if r.hits:
        text += " The closest passages are shown below as near matches, not as an answer."
    return Answer(question, text, (), r.hits, True, _join(reason, note), r.query, (), r.hits)


def _render(question: str, groups: list[_Group], r: Retrieval, data: IndexData,
            note: str) -> Answer:
    """Number the quoted passages from [1] in the order quoted, and write the text.

    One section: its sentences as a paragraph, list items on their own lines.
    Several: each section's sentences under its heading, in the report's order.
    """
    rank_of = {h.passage.id: i for i, h in enumerate(r.hits)}
    numbers: dict[int, int] = {}
    cited: list[Hit] = []
    out_groups = []
    for g in groups:
        sents = []
        for (pi, s, e), item, score in g.picks:
            p = data.passages[pi]
            if pi not in numbers:
                numbers[pi] = len(cited) + 1
                # A neighbour passage brought in for a lead-in or the rest of a list.
                cited.append(r.hits[rank_of[p.id]] if p.id in rank_of else Hit(p, 0.0))
            sents.append(AnswerSentence(p.text[s:e], numbers[pi], round(score, 4), item))
        pages = tuple(sorted({pg for (pi, _, _), _, _ in g.picks
                              for pg in data.passages[pi].pages}))
        out_groups.append(AnswerGroup(" › ".join(g.path), pages, tuple(sents), g.more))
    quoted = {h.passage.id for h in cited}
    citations = tuple(cited) + tuple(h for h in r.hits if h.passage.id not in quoted)
    text = render_text(out_groups)
    sentences = tuple(s for g in out_groups for s in g.sentences)
    return Answer(question, text, sentences, citations, False, note, r.query,
                  tuple(out_groups), r.hits)


def render_text(groups: list[AnswerGroup] | tuple[AnswerGroup, ...]) -> str:
    """The answer as text: "sentence [n]" runs, items on lines of their own, and a
    heading per section when there are several."""
    blocks = []
    for g in groups:
        lines: list[str] = []
        for s in g.sentences:
            piece = f"{s.text} [{s.citation}]"
            if s.item:
                lines.append(f"- {piece}")
            elif lines and not lines[-1].startswith("- "):
                lines[-1] += f" {piece}"
            else:
                lines.append(piece)
        if g.more:
            lines.append(f"({g.more})")
        if len(groups) > 1:
            pages = ", ".join(map(str, g.pages))
            lines.insert(0, f"{g.section} (p. {pages}):")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


# Words that ask about the report rather than name a subject ("what does the
# report say / recommend about ..."): rare in the report, so they would weigh
# like a topic and favour the Introduction's sentences about recommendations.
_META = frozenset(tokenize("report reports say says said recommend recommends recommended "
                           "recommendation recommendations suggest suggested propose proposed "
                           "discuss discussed describe described mention mentioned section "
                           "sections forum think view according different differ parts part "
                           "across compare throughout way ways "
                           # the kind of answer asked for, not its subject
                           "percentage percent share proportion number amount rate total many "
                           "much "
                           # function words the lexical stop list lacks
                           "about from has have had only also more most other such some any "
                           "all into over under between among after before than then now been "
                           "being will would could should can may might must there their"))


def _term_weights(question: str, data: IndexData) -> dict[str, float]:
    n = data.bm25.size
    return {t: math.log((n + 1) / (data.bm25.df.get(t, 0) + 0.5)) for t in set(tokenize(question))
            if t in data.bm25.df and t not in _META}


def _named_share(rare: set[str], weights: dict[str, float], tokens: frozenset[str]) -> float:
    """The share, by weight, of the question's rare words that a sentence holds."""
    total = sum(weights[t] for t in rare)
    return sum(weights[t] for t in rare & tokens) / total if total else 0.0


def _is_label(text: str) -> bool:
    return text.isupper() and len(text.split()) <= 6


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
