"""The page's language: picked from Accept-Language, kept per request, English otherwise."""

from __future__ import annotations

import threading

import pytest

from assistant.app import words


@pytest.mark.parametrize("header,lang", [
    ("es-ES,es;q=0.9,en;q=0.8", "es"),
    ("es-MX", "es"),
    ("en-US,en;q=0.9,es;q=0.8", "en"),
    ("fr-FR,fr;q=0.9,es;q=0.7,en;q=0.5", "es"),  # French is not offered; Spanish is preferred
    ("en;q=0.3,es;q=0.8", "es"),  # by q, not by order
    ("es;q=0,en", "en"),  # q=0: "not Spanish"
    ("de-DE", "en"),
    ("", "en"),
    (None, "en"),
    ("*;q=oops,,;;", "en"),
])
def test_the_language_follows_the_browsers_preference(header, lang):
    assert words.language_of(header) == lang


def test_every_word_exists_in_both_languages_with_the_same_fields():
    import string
    for table in (words.PAGE, words.SERVER):
        assert table["en"].keys() == table["es"].keys()
        for key, text in table["en"].items():
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
            es = {f for _, f, _, _ in string.Formatter().parse(table["es"][key]) if f}
            assert fields == es, key


def test_each_request_keeps_its_own_language():
    seen: dict[str, str] = {}
    go = threading.Barrier(2)

    def serve(lang: str) -> None:
        words.use(lang)
        go.wait()  # both set before either reads
        seen[lang] = words.say("show_in_context")

    threads = [threading.Thread(target=serve, args=(lang,)) for lang in ("es", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"es": "Ver en contexto", "en": "Show in context"}
    assert words.count(1, "page") == "1 page"
    words.use("xx")
    assert words.current() == "en"
