"""Lexical scoring: BM25 (bm25s) over stemmed, accent-folded words.

Accents are folded so "Lopez Obrador" finds "López Obrador"; stems let
"vaccinated" meet "vaccination".
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


# Spanish function words: readers ask in Spanish, and the report's Spanish
# names ("El Colegio de México") must not match a question's "el" and "de".
_STOP_ES = frozenset((
    "a", "al", "como", "con", "cual", "cuales", "cuando", "cuanto", "cuantos", "cuanta",
    "cuantas", "de", "del", "donde", "el", "en", "es", "esta", "este", "eso", "fue", "la",
    "las", "le", "les", "lo", "los", "mas", "para", "por", "que", "quien", "quienes", "se",
    "sobre", "son", "su", "sus", "un", "una", "uno", "y", "dijo", "dice", "informe",
))

# Question words and auxiliaries: bm25s's English list lacks them, and as they
# are rare in a report they would otherwise weigh like a topic ("who is it").
_STOP_QUESTION = frozenset((
    "what", "who", "whom", "whose", "which", "how", "why", "when", "where", "does", "do",
    "did",
))


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | _STOP_ES | _STOP_QUESTION


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def fold(text: str) -> str:
    """Lower case, accents removed."""
    t = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in t if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """Content words of ``text``: folded, stop words dropped, not stemmed."""
    stop = _stopwords()
    out = []
    for w in _WORD.findall(fold(text)):
        w = w.replace(".", "").replace("'", "")
        if w and w not in stop:
            out.append(w)
    return out


def tokenize(text: str) -> list[str]:
    return _stemmer().stemWords(words(text))


class BM25Index:
    """A bm25s index with our tokenizer; scores every passage for fusion."""

    def __init__(self, model, size: int, df: dict[str, int]) -> None:
        self.model = model
        self.size = size
        self.df = df  # document frequency of each stemmed token

    @classmethod
    def build(cls, texts: list[str]) -> BM25Index:
        import bm25s

        tokens = [tokenize(t) or ["\x00empty"] for t in texts]
        model = bm25s.BM25()
        model.index(tokens, show_progress=False)
        df: dict[str, int] = {}
        for toks in tokens:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        return cls(model, len(texts), df)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for ``query`` (zeros when no word is known)."""
        toks = self.query_tokens(query)
        if not toks or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self.model.get_scores(toks), dtype=np.float32)

    def query_tokens(self, query: str) -> list[str]:
        """The query's indexed tokens; an unknown long word borrows look-alikes.

        A word the corpus never uses but whose first five letters start one or
        two indexed words is most often a cognate or a variant ("fentanilo",
        "migración"): it is searched as those words.
        """
        out = []
        for t in tokenize(query):
            if t in self.df:
                out.append(t)
            elif len(t) >= 7:
                similar = self.by_prefix(5).get(t[:5], ())
                if 0 < len(similar) <= 2:
                    out.extend(similar)
        return out

    def by_prefix(self, n: int) -> dict[str, tuple[str, ...]]:
        cache = self.__dict__.setdefault("_by_prefix", {})
        if n not in cache:
            table: dict[str, list[str]] = {}
            for t in self.df:
                if len(t) >= n:
                    table.setdefault(t[:n], []).append(t)
            cache[n] = {k: tuple(sorted(v)) for k, v in table.items()}
        return cache[n]

    def known(self, word: str) -> bool:
        return any(t in self.df for t in tokenize(word))

    def prefixes(self, n: int) -> frozenset[str]:
        """First ``n`` letters of every indexed token (cached)."""
        cache = self.__dict__.setdefault("_prefixes", {})
        if n not in cache:
            cache[n] = frozenset(t[:n] for t in self.df if len(t) >= n)
        return cache[n]

    def save(self, path: Path) -> None:
        self.model.save(str(path), show_progress=False)
        (path / "df.json").write_text(json.dumps({"size": self.size, "df": self.df}))

    @classmethod
    def load(cls, path: Path) -> BM25Index:
        import bm25s

        meta = json.loads((path / "df.json").read_text())
        model = bm25s.BM25.load(str(path), show_progress=False)
        return cls(model, int(meta["size"]), meta["df"])
