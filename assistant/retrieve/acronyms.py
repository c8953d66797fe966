"""Acronyms the documents define inline, e.g. "Rapid Response Labor Mechanism (RRLM)".

Used to expand queries both ways: "What is the RRLM?" also searches the long
form, "rapid response mechanism" also searches "RRLM".
"""

from __future__ import annotations

import re

from assistant.lexical import tokenize

_PAREN = re.compile(r"\(([A-Z][A-Za-z&]{1,11})\)")
_SMALL = {"of", "and", "the", "for", "on", "in", "to", "de", "del", "la", "y", "&"}


def _initial_options(word: str) -> list[str]:
    parts = [p for p in re.split(r"[-–]", word) if p]
    opts = [word[0].upper()]
    if len(parts) > 1:
        opts.append("".join(p[0].upper() for p in parts))
    return opts


def _spells(words: list[str], acronym: str) -> bool:
    """Do the words' initials spell the acronym? Small words may be skipped."""
    letters = acronym.upper()

    def go(i: int, j: int) -> bool:
        if i == len(words):
            return j == len(letters)
        w = words[i]
        if w.lower() in _SMALL and go(i + 1, j):
            return True
        return any(letters.startswith(o, j) and go(i + 1, j + len(o)) for o in _initial_options(w))

    return bool(words) and words[0].lower() not in _SMALL and go(0, 0)


def _define(before: str, acronym: str) -> str | None:
    # A definition never reaches back past a clause break or a number.
    clause = re.split(r"[,;:()\n]|\b\d+\b", before)[-1]
    words = re.findall(r"[A-Za-z][\w'’.-]*", clause)[-12:]
    words = [w.rstrip(".") for w in words]
    core = acronym[:-1] if acronym.endswith("s") and len(acronym) > 2 else acronym
    for n in range(1, len(words) + 1):
        cand = words[-n:]
        if _spells(cand, core):
            return " ".join(cand)
    # Foreign-language acronyms (INECC, CFE): the run of capitalised words before it.
    run: list[str] = []
    for w in reversed(words):
        if w[0].isupper() or (w.lower() in _SMALL and run):
            run.insert(0, w)
        else:
            break
    while run and run[0].lower() in _SMALL:
        run.pop(0)
    if len(run) >= 2 and acronym.isupper():
        return " ".join(run)
    return None


def extract_acronyms(texts: list[str]) -> dict[str, str]:
    """{acronym: long form} for every inline definition found."""
    found: dict[str, str] = {}
    for text in texts:
        for m in _PAREN.finditer(text):
            acr = m.group(1)
            if sum(c.isupper() for c in acr) < 2:
                continue
            long = _define(text[max(0, m.start() - 160):m.start()], acr)
            if long and acr not in found:
                found[acr] = long
    return found


def expand_query(query: str, acronyms: dict[str, str]) -> str:
    """The query plus the other form of every acronym it mentions either way."""
    extra: list[str] = []
    q_tokens = set(tokenize(query))
    q_words = {w.upper() for w in re.findall(r"[A-Za-z]+", query)}
    for acr, long in acronyms.items():
        key = acr[:-1] if acr.endswith("s") and len(acr) > 2 else acr
        if acr.upper() in q_words or key.upper() in q_words:
            extra.append(long)
            continue
        long_tokens = set(tokenize(long))
        # Three of four words of the long form ("rapid response mechanism")
        # is a mention of it.
        if len(long_tokens) >= 2 and len(long_tokens & q_tokens) >= max(
                2, round(0.75 * len(long_tokens))):
            extra.append(acr)
    return query if not extra else f"{query} ({'; '.join(extra)})"
