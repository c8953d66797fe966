"""The page's own words in English and Spanish; the report's words are never translated.

Two kinds of text:

* ``PAGE``: labels, buttons, tabs and fixed notes drawn by Gradio. They are
  given to ``gr.I18n`` (ui.py) and the browser picks the language from its own
  settings (navigator.language), falling back to English.
* ``SERVER``: words the server puts into HTML or Markdown it builds (the
  sources panel, the answer's labels, the status line). Gradio's i18n does not
  reach into that markup, so the server reads the request's Accept-Language
  (the same language setting the browser sends) and ``say`` picks the words.

Text from a document (passages, titles, section names) and the answer's own
sentences pass through untouched; so do library error messages, which name
files and settings a reader must type as written.
"""

from __future__ import annotations

import contextvars
import re

LANGUAGES = ("en", "es")
DEFAULT = "en"

PAGE: dict[str, dict[str, str]] = {
    "en": {
        "title": ("# Ask the report: *U.S.-Mexico Forum 2025: Report 2022*\n"
                  "Answers quote the report's own sentences and cite each by section and page."),
        "tab_ask": "Ask", "tab_compare": "Compare", "tab_browse": "Browse",
        "tab_docs": "Documents",
        "conversation": "Conversation",
        "chat_placeholder": (
            "### Ask the report a question\n"
            "Answers are the report's own sentences, each marked [1], [2]… and cited by "
            "section and page. When the report does not answer, the assistant says so.\n\n"
            "Try one of the examples below, or type your own question."),
        "question_placeholder": "Ask a question about the report…",
        "ask": "Ask",
        "document": "Document", "document_info": "Limit answers to one document",
        "search_in": "Search in", "search_in_info": "Limit answers to one section of the report",
        "clear": "Clear conversation",
        "where": "Where in the report",
        "export_box": "Copy or save this answer as Markdown",
        "export_label": "Answer with citations",
        "download": "Download answer (.md)",
        "compare_intro": ("Enter a topic to see which sections of the report take a position "
                          "on it, each in its own words, with its pages. With documents added, "
                          "compare them by document as well."),
        "topic_placeholder": "A topic, e.g. energy",
        "compare": "Compare", "compare_by": "Compare by", "order_rows": "Order rows",
        "example_topics": "Example topics",
        "export_md": "Export as Markdown", "export_csv": "Export as CSV",
        "browse_intro": ("The report's contents, with pages. Open a section to read it here; "
                         "choose one below to read it beside its page map or to ask questions "
                         "about it alone."),
        "section": "Section", "ask_in": "Ask about this section",
        "docs_intro": ("The documents the assistant searches. Answers from a document other "
                       "than the report name it in their citations."),
        "add": "Add to the library", "remove_doc": "Remove a document",
        "remove_info": ("Only documents added here (or with `add`) can be removed; the report "
                        "is kept."),
        "remove": "Remove",
        "uploads_off": "Adding documents is turned off on this server (REPORT_ASSISTANT_UPLOADS).",
    },
    "es": {
        "title": ("# Pregunte al informe: *U.S.-Mexico Forum 2025: Report 2022*\n"
                  "Las respuestas citan las propias frases del informe, cada una con su "
                  "sección y página."),
        "tab_ask": "Preguntar", "tab_compare": "Comparar", "tab_browse": "Explorar",
        "tab_docs": "Documentos",
        "conversation": "Conversación",
        "chat_placeholder": (
            "### Haga una pregunta al informe\n"
            "Las respuestas son frases del propio informe, marcadas [1], [2]… y citadas por "
            "sección y página. Cuando el informe no responde, el asistente lo dice.\n\n"
            "Pruebe uno de los ejemplos de abajo o escriba su propia pregunta."),
        "question_placeholder": "Haga una pregunta sobre el informe…",
        "ask": "Preguntar",
        "document": "Documento", "document_info": "Limitar las respuestas a un documento",
        "search_in": "Buscar en",
        "search_in_info": "Limitar las respuestas a una sección del informe",
        "clear": "Borrar la conversación",
        "where": "Dónde en el informe",
        "export_box": "Copiar o guardar esta respuesta en Markdown",
        "export_label": "Respuesta con citas",
        "download": "Descargar la respuesta (.md)",
        "compare_intro": ("Escriba un tema para ver qué secciones del informe toman postura "
                          "sobre él, cada una con sus propias palabras y sus páginas. Con "
                          "documentos añadidos, compárelos también por documento."),
        "topic_placeholder": "Un tema, p. ej. energía",
        "compare": "Comparar", "compare_by": "Comparar por", "order_rows": "Ordenar filas",
        "example_topics": "Temas de ejemplo",
        "export_md": "Exportar en Markdown", "export_csv": "Exportar en CSV",
        "browse_intro": ("El contenido del informe, con páginas. Abra una sección para leerla "
                         "aquí; elija una abajo para leerla junto a su mapa de páginas o para "
                         "preguntar solo sobre ella."),
        "section": "Sección", "ask_in": "Preguntar sobre esta sección",
        "docs_intro": ("Los documentos en los que busca el asistente. Las respuestas de un "
                       "documento que no es el informe lo nombran en sus citas."),
        "add": "Añadir a la biblioteca", "remove_doc": "Quitar un documento",
        "remove_info": ("Solo se pueden quitar los documentos añadidos aquí (o con `add`); el "
                        "informe se conserva."),
        "remove": "Quitar",
        "uploads_off": ("Añadir documentos está desactivado en este servidor "
                        "(REPORT_ASSISTANT_UPLOADS)."),
    },
}

SERVER: dict[str, dict[str, str]] = {
    "en": {
        "sources_head": "Sources: the cited passages, in the report's own words",
        "abstain_head": ("Not answered by the report. Closest passages, shown as near matches "
                         "only:"),
        "show_in_context": "Show in context",
        "in_context": "In context:",
        "also": "Also retrieved, not quoted in the answer ({n})",
        "no_passages": "No passages.",
        "empty_sources": ("Ask a question: the passages that answer it appear here, each with "
                          "its section and page. Open one to read it in context."),
        "removed": ("This answer cites a document that has since been removed, so its "
                    "passages cannot be shown."),
        "original_where": "page {page} of {count}",
        "original_printed": " (printed {label})",
        "original_title": "Original page: {where} in {source}",
        "original_alt": "{where} of {source}, the cited sentences highlighted",
        "follow_up": "Read as a follow-up:",
        "searched_only": "Searched only in:",
        "why": "Why:",
        "closest": "Closest passages (near matches, **not** an answer):",
        "sources": "Sources:",
        "note": "Note:",
        "ready": "Ready:",
        "passages_indexed": "{n} passages indexed",
        "ready_in": "ready in {s} s",
        "whole_report": "Whole report", "all_documents": "All documents",
        "all_sections": "All sections", "whole_document": "Whole document",
        "map_cited_one": "Cited page {pages} of {total}, in {sections}: {where}",
        "map_cited_many": "Cited pages {pages} of {total}, in {sections}: {where}",
        "map_abstained": "The report does not answer this, so no page is cited.",
        "map_none": "No page is cited.",
        "map_report": ("The report's {total} pages and its {n} sections; the pages an answer "
                       "cites are marked here."),
        "map_doc": "{title}: {pages}, {sections}; the pages an answer cites are marked here.",
    },
    "es": {
        "sources_head": "Fuentes: los pasajes citados, con las palabras del propio informe",
        "abstain_head": ("El informe no responde a esto. Pasajes más cercanos, mostrados solo "
                         "como coincidencias aproximadas:"),
        "show_in_context": "Ver en contexto",
        "in_context": "En contexto:",
        "also": "También recuperados, no citados en la respuesta ({n})",
        "no_passages": "Ningún pasaje.",
        "empty_sources": ("Haga una pregunta: aquí aparecen los pasajes que la responden, cada "
                          "uno con su sección y página. Abra uno para leerlo en contexto."),
        "removed": ("Esta respuesta cita un documento que se ha quitado desde entonces; sus "
                    "pasajes no se pueden mostrar."),
        "original_where": "página {page} de {count}",
        "original_printed": " (numerada {label})",
        "original_title": "Página original: {where} en {source}",
        "original_alt": "{where} de {source}, con las frases citadas resaltadas",
        "follow_up": "Leída como continuación:",
        "searched_only": "Buscado solo en:",
        "why": "Por qué:",
        "closest": "Pasajes más cercanos (coincidencias aproximadas, **no** una respuesta):",
        "sources": "Fuentes:",
        "note": "Nota:",
        "ready": "Listo:",
        "passages_indexed": "{n} pasajes indexados",
        "ready_in": "listo en {s} s",
        "whole_report": "Todo el informe", "all_documents": "Todos los documentos",
        "all_sections": "Todas las secciones", "whole_document": "Todo el documento",
        "map_cited_one": "Página citada: {pages} de {total}, en {sections}: {where}",
        "map_cited_many": "Páginas citadas: {pages} de {total}, en {sections}: {where}",
        "map_abstained": "El informe no responde a esto, así que no se cita ninguna página.",
        "map_none": "No se cita ninguna página.",
        "map_report": ("Las {total} páginas del informe y sus {n} secciones; aquí se marcan "
                       "las páginas que cita una respuesta."),
        "map_doc": ("{title}: {pages}, {sections}; aquí se marcan las páginas que cita una "
                    "respuesta."),
    },
}

NOUNS = {
    "en": {"page": ("page", "pages"), "section": ("section", "sections")},
    "es": {"page": ("página", "páginas"), "section": ("sección", "secciones")},
}


# The language of the request being served; set by the page's handlers from
# the request (ui.py), read wherever server-built text is written. A context
# variable, so concurrent requests in other threads keep their own.
_CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("page_language", default=DEFAULT)

_TAG = re.compile(r"\s*([A-Za-z]{1,8})(?:-[A-Za-z0-9]{1,8})*\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def language_of(accept_language: str | None) -> str:
    """The page language for an Accept-Language header: the first of ours the browser
    prefers most (by q, then order), else English."""
    best, best_q = DEFAULT, -1.0
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        m = _TAG.match(part)
        if not m:
            continue
        lang = m.group(1).lower()
        try:
            q = float(m.group(2)) if m.group(2) else 1.0
        except ValueError:
            continue
        # Earlier tags win ties: the order is the browser's own preference.
        if lang in LANGUAGES and q > 0 and q - i * 1e-6 > best_q:
            best, best_q = lang, q - i * 1e-6
    return best


def use(lang: str) -> None:
    """Serve the rest of this request's server-built text in ``lang``."""
    _CURRENT.set(lang if lang in LANGUAGES else DEFAULT)


def current() -> str:
    return _CURRENT.get()


def say(key: str, **values: object) -> str:
    """The server's words for ``key`` in the current request's language."""
    table = SERVER.get(current(), SERVER[DEFAULT])
    text = table.get(key, SERVER[DEFAULT][key])
    return text.format(**values) if values else text


def count(n: int, noun: str) -> str:
    """``n`` and the noun, singular or plural, in the current language ("5 pages")."""
    one, many = NOUNS.get(current(), NOUNS[DEFAULT])[noun]
    return f"{n} {one if n == 1 else many}"
