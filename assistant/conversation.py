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
3. The completion joins the two into one question:
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
# Joining words the follow-up may already start with.
_JOINER = re.compile(r"^(and|but|or|y|pero)\b", re.I)


def is_follow_up(question: str) -> bool:
    """True when ``question`` reads as a continuation of an earlier one (rule 1)."""
    q = " ".join(question.split())
    if not q or len(q.split()) > MAX_FOLLOW_UP_WORDS:
        return False
    return bool(_CONNECTIVE.match(q) or _PRONOUN.search(q))


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
