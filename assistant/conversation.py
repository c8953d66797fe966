"""Follow-up questions: complete a short question from the conversation so far.

The rule, kept small so a reader can predict it:

1. A question is a *follow-up* when it is short (at most ``MAX_FOLLOW_UP_WORDS``
   words) and either opens with a connective ("and ...", "what about ...",
   "how about ...", "also ...", "y ...") or leans on a pronoun that points back
   ("it", "they", "their", "that?" ...). A longer or self-contained question
   is taken as it stands.
2. A follow-up is read against the *anchor*: the most recent earlier question
   that was not itself a follow-up, so "and energy?" then "and trade?" both
   refer to the question that opened the thread.
3. A follow-up that points back at a group, section or thing by a
   demonstrative ("Who was in that working group?", "What does this section
   recommend?") gets the anchor's own name for it: the anchor's noun phrase
   with the same head word ("the security working group"), or, for a place
   in the report (group, section, panel), any such phrase of the anchor
   ("the Energy section" for "that group"). The question is then
   self-contained: "Who was in the security working group?". Joining it to
   the anchor instead would search the anchor's topic too, and a question
   about members would find whichever list sits nearest to both.
4. Otherwise the completion joins the two into one question:
   "What does the report say about USMCA?" + "and what about energy?"
   -> "What does the report say about USMCA, and what about energy?"
   The anchor supplies the subject (USMCA) and the follow-up the new angle
   (energy), so the search looks for passages on both; the reader is shown
   the completed question, so the reading is never hidden.

Pure functions on strings: no model, no state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_FOLLOW_UP_WORDS = 8

# Openers that continue the previous question rather than start a new one.
_CONNECTIVE = re.compile(
    r"^[¿¡\s]*(and|but|also|so|then|or|plus|what about|how about|what of|same for|"
    r"y|pero|también|tambien|qué hay de|que hay de)\b",
    re.I,
)
# Pronouns that only make sense with something said before. "this"/"that"/
# "these"/"those" count only when no noun follows ("who said that?"), since
# "this report" is self-contained.
_PRONOUN = re.compile(
    r"\b(it|its|they|them|their|theirs|he|she|him|his|her|hers)\b"
    r"|\b(this|that|these|those)\s*[?.!]*\s*$",
    re.I,
)
# A demonstrative and the noun it points with ("that working group", "this
# section", "the same panel"). Words of a place in the report are
# interchangeable: "that group" can point at "the Energy section".
_PLACES = ("working group", "group", "section", "panel", "chapter", "part")
_THINGS = ("mechanism", "agreement", "law", "policy", "dialogue", "program", "programme",
           "initiative", "award", "meeting", "summit", "framework", "list", "issue", "topic",
           "country", "sector", "proposal", "recommendation")
_HEADS = "|".join(sorted((*_PLACES, *_THINGS), key=len, reverse=True))
_POINTED = re.compile(rf"\b(?:that|this|those|these|the same|ese|esa|este|esta)\s+"
                      rf"(?P<head>{_HEADS})s?\b", re.I)
# A noun phrase of the anchor ending in one of those words: up to four words
# before it, from the last article or after the last function word.
_STOPS = frozenset((
    "what", "who", "which", "how", "why", "when", "where", "does", "do", "did", "is", "are",
    "was", "were", "say", "says", "said", "recommend", "about", "on", "in", "of", "for", "to",
    "from", "and", "or", "the", "a", "an", "by", "with", "its", "their", "qué", "que", "cuál",
    "quién", "cómo"))
# Joining words the follow-up may already start with.
_JOINER = re.compile(r"^(and|but|or|y|pero)\b", re.I)


def is_follow_up(question: str) -> bool:
    """True when ``question`` reads as a continuation of an earlier one (rule 1)."""
    q = " ".join(question.split())
    if not q or len(q.split()) > MAX_FOLLOW_UP_WORDS:
        return False
    return bool(_CONNECTIVE.match(q) or _PRONOUN.search(q) or _POINTED.search(q))


def _named_in(anchor: str, head: str) -> str | None:
    """The anchor's phrase for what ``head`` points at ("the security working group"), or None."""
    heads = [head] if head.lower() not in _PLACES else sorted(_PLACES, key=len, reverse=True)
    for h in heads:
        for m in re.finditer(rf"\b{re.escape(h)}s?\b", anchor, re.I):
            words = anchor[:m.start()].split()[-5:]
            kept: list[str] = []
            for i in range(len(words) - 1, -1, -1):
                w = words[i]
                # "and" inside a name ("Energy and Sustainability", "security and
                # public health") stays: a content word stands on both sides.
                inside = (w.lower() == "and" and bool(kept) and i > 0
                          and words[i - 1].lower().strip("¿¡,;:") not in _STOPS)
                if w.lower().strip("¿¡,;:") in _STOPS and not inside:
                    break
                kept.insert(0, w)
            if kept:  # "the group" alone names nothing
                return f"the {' '.join(kept)} {m.group(0)}"
    return None


def anchor_question(history: Sequence[str]) -> str | None:
    """The most recent earlier question that was not a follow-up (rule 2)."""
    for earlier in reversed(history):
        if earlier and earlier.strip() and not is_follow_up(earlier):
            return " ".join(earlier.split())
    return None


def complete_follow_up(question: str, history: Sequence[str]) -> tuple[str, bool]:
    """Return the question to search and whether it was completed from ``history``.

    ``history`` holds the reader's earlier questions, oldest first, as they
    typed them. A question that is not a follow-up, or has no anchor, is
    returned unchanged (whitespace tidied).
    """
    q = " ".join(question.split())
    if not is_follow_up(q):
        return q, False
    anchor = anchor_question(history)
    if anchor is None:
        return q, False
    pointed = _POINTED.search(q)
    if pointed:
        named = _named_in(anchor, pointed.group("head"))
        if named:  # rule 3: the anchor's name replaces the pointing phrase
            return q[:pointed.start()] + named + q[pointed.end():], True
    stem = anchor.rstrip(" ?.!¿¡")
    rest = q.lstrip("¿¡ ")
    # Keep an acronym or name capitalised ("USMCA?"), lower an ordinary first word.
    first = rest.split(" ", 1)[0]
    if _JOINER.match(first) or (first[:1].isupper() and not first.isupper()):
        rest = rest[0].lower() + rest[1:]
    if not _JOINER.match(rest):
        rest = f"and {rest}"
    if not rest.rstrip().endswith(("?", ".", "!")):
        rest = f"{rest}?"
    return f"{stem}, {rest}", True
