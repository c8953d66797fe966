"""What kind of answer a question asks for, and whether a sentence is of that kind.

A passage that names the question's subject without answering it often has a
sentence closer in meaning to the question than the one that answers: "What
causes the largest gender gaps?" sits nearest to a sentence giving the gaps'
sizes, while the answer says they are "due to impunity". The answer has the
form the question asks for (a figure for "how many", a cause for "why", a date
for "when"), which a small embedding model weighs little. So a sentence of
the asked-for form gets a small bonus (Config.answer_form_bonus) before the
passages are ranked by their best sentence.
"""

from __future__ import annotations

import re

QUANTITY, REASON, DATE = "quantity", "reason", "date"

# The question asks for a figure: "how many / much", "what percentage / share
# / number / rate", or the Spanish and Portuguese forms.
_ASKS_QUANTITY = re.compile(
    r"\bhow (many|much)\b|\b(what|which) (percentage|share|proportion|portion|fraction|number|"
    r"rate|amount)\b|\bby (what|how much)\b|\bcu[aá]nt[oa]s?\b|\bquant[oa]s?\b|"
    r"\bporcentaje\b|\bcombien\b", re.I)
_ASKS_REASON = re.compile(r"\bwhy\b|\bwhat (causes|caused|explains|drives|leads to)\b|"
                          r"\bpor ?qu[eé]\b|\bpourquoi\b|\bwarum\b", re.I)
_ASKS_DATE = re.compile(r"\bwhen\b|\bwhat (date|year|day|month)\b|\bcu[aá]ndo\b|\bquando\b|"
                        r"\bquand\b|\bwann\b", re.I)

# A figure: digits (not a lone list number "1)"), or a number word with its noun.
_FIGURE = re.compile(r"(?<![\w.])\d[\d.,]*(?!\))\s*(%|percent|percentage|thousand|million|"
                     r"billion)?|\b(two|three|four|five|six|seven|eight|nine|ten|dozens?|"
                     r"hundreds?|thousands?|millions?)\b", re.I)
_YEAR_ONLY = re.compile(r"\b(19|20)\d\d\b")
_CAUSE = re.compile(r"\b(because|due to|since|as a result of|caused by|leads? to|led to|"
                    r"result(s|ed)? in|owing to|thanks to|the reason|driven by|fuel(s|ing|ed)?)\b",
                    re.I)
_DATE = re.compile(r"\b(19|20)\d\d\b|\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)"
                   r"[a-z]*\.?\s+\d{1,2}\b")


def answer_form(question: str) -> str | None:
    """The form of answer the question asks for (QUANTITY, REASON, DATE), or None."""
    if _ASKS_QUANTITY.search(question):
        return QUANTITY
    if _ASKS_REASON.search(question):
        return REASON
    if _ASKS_DATE.search(question):
        return DATE
    return None


def has_form(sentence: str, form: str | None) -> bool:
    """Whether a sentence is of the form a question asks for."""
    if form == QUANTITY:
        # A year is a date, not an amount.
        return any(not _YEAR_ONLY.fullmatch(m.group(0).strip(" .,")) for m in
                   _FIGURE.finditer(sentence))
    if form == REASON:
        return bool(_CAUSE.search(sentence))
    if form == DATE:
        return bool(_DATE.search(sentence))
    return False
