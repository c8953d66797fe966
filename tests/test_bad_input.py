"""Odd and hostile questions through the Python API and the CLI.

Every input gets either a clear message (QueryError in the API; one
``error: ...`` line and exit status 2 from the CLI) or a sensible answer, never
a stack trace, and the question after it is answered as usual. The CLI cases
that need raw bytes (invalid UTF-8 in argv, NUL bytes on stdin) run the real
``python -m assistant`` in a subprocess; the rest call ``cli.main`` in-process.
The page's own bad-input checks live in test_app_security.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from assistant import cli
from assistant.api import clean_question
from assistant.errors import QueryError
from assistant.types import Answer

ROOT = Path(__file__).resolve().parents[1]
GOOD = "What is nearshoring?"
NOTICE = "The report does not appear to address"
# Every sort of character clean_question must treat as a space: C0 controls, NUL,
# DEL, C1 controls, zero-width and bidi overrides, the BOM, line/paragraph separators.
INVISIBLE = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\x9b", "\u200b", "\u200e",
             "\u202e", "\u2028", "\ufeff", "\t", "\r\n"]


def still_answers(assistant) -> Answer:
    """The next ordinary question after a bad one gets an ordinary answer."""
    ans = assistant.ask(GOOD)
    assert not ans.abstained and ans.sentences and ans.citations
    assert any("nearshoring" in h.passage.text.lower() for h in ans.citations)
    return ans


def same_result(a: Answer, b: Answer) -> bool:
    return ([h.passage.id for h in a.citations] == [h.passage.id for h in b.citations]
            and a.text == b.text and a.abstained == b.abstained)


def well_formed(ans: Answer) -> None:
    """Abstained or not, an answer says so plainly and cites real passages."""
    assert isinstance(ans, Answer)
    assert ans.citations, "even an abstention shows the closest passages"
    for h in ans.citations:
        assert h.passage.text and h.passage.section and h.passage.pages
    if ans.abstained:
        assert ans.text.startswith(NOTICE) and ans.reason
    else:
        assert ans.sentences and not ans.text.startswith(NOTICE)


# --- API: empty and unusable questions --------------------------------------------

@pytest.mark.parametrize("question", ["", " ", "   \n\t  ", "\x00\x00", "\u200b\u200b",
                                      "\x1b\x07", "\ufeff"],
                         ids=["empty", "space", "whitespace", "nul", "zero-width", "controls",
                              "bom"])
def test_empty_questions_get_a_clear_message(assistant, question):
    for call in (assistant.ask, assistant.search, assistant.compare):
        with pytest.raises(QueryError, match="empty"):
            call(question)
    still_answers(assistant)


@pytest.mark.parametrize("question", [None, 42, b"nearshoring", ["nearshoring"]])
def test_a_question_that_is_not_text_is_refused(assistant, question):
    with pytest.raises(QueryError, match="text"):
        assistant.ask(question)
    still_answers(assistant)


# --- API: long questions ------------------------------------------------------------

def test_clean_question_states_its_bound():
    # No question mark near either end: the head and the tail are kept.
    text, note = clean_question("word " * 30_000, 2000)
    assert len(text) <= 2000 and text.startswith("word") and text.endswith("word")
    assert " … " in text  # cut at words, not mid-word, with the gap shown
    assert "150,000" not in note and "149,999" in note and f"cut to {len(text):,}" in note
    assert "limit of 2,000" in note
    single = "x" * 100_000  # one endless "word": cut hard at the bound
    text, note = clean_question(single, 2000)
    assert len(text) <= 2000 and set(text) == {"x", " ", "…"}
    assert "100,000" in note and f"cut to {len(text):,}" in note
    assert clean_question("short question", 2000) == ("short question", "")


@pytest.mark.parametrize("filler", ["nearshoring ", "x", "lorem ipsum dolor "],
                         ids=["repeated-word", "one-long-word", "filler-words"])
def test_a_100k_question_is_cut_with_a_note(assistant, filler):
    bound = assistant.cfg.max_question_chars
    question = "What does the report say about nearshoring? "
    question += filler * ((100_000 - len(question)) // len(filler) + 1)
    assert len(question) >= 100_000
    t0 = time.perf_counter()
    ans = assistant.ask(question)
    assert time.perf_counter() - t0 < 30
    well_formed(ans)
    # The reader is told what was used: the original length and what was kept.
    assert "it was cut to" in ans.reason
    used = int(ans.reason.split("it was cut to ")[1].split(":")[0].replace(",", ""))
    assert 0 < used <= bound
    assert f"{len(' '.join(question.split())):,}" in ans.reason
    assert len(ans.question) <= 500  # the echo is bounded too
    assert len(ans.query) <= bound + 200  # what was searched (acronyms may add a little)
    # Only the question at the front was searched, and it is about nearshoring.
    assert any("nearshoring" in h.passage.text.lower() for h in ans.citations)
    for call in (assistant.search, assistant.compare):
        call(question)  # no error either
    still_answers(assistant)


# --- API: control characters, Unicode -------------------------------------------------

@pytest.mark.parametrize("char", INVISIBLE, ids=[f"U+{ord(c[0]):04X}" for c in INVISIBLE])
def test_invisible_characters_between_words_change_nothing(assistant, char):
    clean = assistant.ask(GOOD)
    dirty = assistant.ask(f"{char}What{char} is {char}nearshoring?{char}")
    assert same_result(clean, dirty)


def test_escape_sequences_do_not_reach_the_answer(assistant):
    ans = assistant.ask("\x1b[2J\x1b[31mWhat is nearshoring?\x1b[0m\x07")
    well_formed(ans)
    # The answer text quotes only report sentences or the cleaned question.
    assert "\x1b" not in ans.text and "\x07" not in ans.text and "\x1b" not in ans.query


def test_decomposed_accents_are_the_same_question(assistant):
    q = "¿Qué dice el informe sobre la migración?"
    nfc, nfd = unicodedata.normalize("NFC", q), unicodedata.normalize("NFD", q)
    assert nfc != nfd
    assert same_result(assistant.ask(nfc), assistant.ask(nfd))


@pytest.mark.parametrize("question", ["🙂🙂🙂", "🇲🇽🇺🇸 👩‍👩‍👧‍👦"], ids=["emoji", "flags-zwj"])
def test_emoji_only_questions_abstain_politely(assistant, question):
    ans = assistant.ask(question)
    well_formed(ans)
    assert ans.abstained
    assert ans.question == question  # echoed intact, not mangled
    still_answers(assistant)


def test_emoji_around_a_real_question(assistant):
    ans = assistant.ask("🙂 What is nearshoring? 🚚🏭")
    well_formed(ans)
    assert not ans.abstained
    assert any("nearshoring" in h.passage.text.lower() for h in ans.citations)


@pytest.mark.parametrize("question", ["מה הדוח אומר על הגירה?", "ما الذي يقوله التقرير عن الهجرة؟",
                                      "\u202bמה זה\u202c USMCA?"],
                         ids=["hebrew", "arabic", "rtl-embedding-with-acronym"])
def test_right_to_left_text(assistant, question):
    ans = assistant.ask(question)
    well_formed(ans)
    assert ans.question == question
    # Bidi controls are cleaned out of what is searched and quoted back.
    assert "\u202b" not in ans.query and "\u202b" not in ans.text
    still_answers(assistant)


def test_rtl_question_naming_a_report_term_finds_it(assistant):
    ans = assistant.ask("מה זה USMCA?")
    assert any("USMCA" in h.passage.text for h in ans.citations)


@pytest.mark.parametrize("question,section", [
    ("¿Qué dice el informe sobre la migración?", "Migration"),
    ("¿Qué propone el grupo de energía y sostenibilidad?", "Energy and Sustainability"),
    ("¿Qué recomienda el grupo de seguridad y salud pública?", "Security and Public Health"),
])
def test_spanish_questions_are_answered_from_the_right_place_or_declined(
        assistant, question, section):
    # The model is English-only; a sensible outcome is an honest abstention, or
    # citations that include the section the question names (near-cognates).
    ans = assistant.ask(question)
    well_formed(ans)
    if not ans.abstained:
        cited = [h.passage.section for h in ans.citations]
        assert section in cited, cited


# Question words ("what", "who", "how") are not in bm25s's 33 English stop words and
# are rare in the report, so the engine may take them for the topic of a question.
STOP_WORDS_ONLY = ["the of and is it", "what is the", "and or but if", "who is it", "how and why"]


@pytest.mark.parametrize("question", STOP_WORDS_ONLY)
def test_stop_words_only_abstain(assistant, question):
    ans = assistant.ask(question)
    well_formed(ans)
    assert ans.abstained, f"{question!r} is no question, yet was answered: {ans.text[:200]!r}"
    still_answers(assistant)


@pytest.mark.parametrize("topic", STOP_WORDS_ONLY)
def test_stop_words_only_compare_abstains(assistant, topic):
    c = assistant.compare(topic)
    assert c.abstained and not c.rows, f"{topic!r} is no topic, yet compare gave " \
        f"{[r.section for r in c.rows]}"
    assert c.reason


# --- API: k, section, document -----------------------------------------------------

@pytest.mark.parametrize("k", [0, -1, -10**9, True, 2.5, "5"])
def test_bad_k_is_refused(assistant, k):
    for call in (assistant.ask, assistant.search):
        with pytest.raises(QueryError, match="k must be"):
            call(GOOD, k=k)
    still_answers(assistant)


def test_huge_k_is_capped(assistant):
    hits = assistant.search(GOOD, k=10**9)
    assert 0 < len(hits) <= 50
    well_formed(assistant.ask(GOOD, k=10**9))


@pytest.mark.parametrize("section", ["No such section", "  ", "Migration; DROP TABLE", "<b>x</b>"])
def test_unknown_section_lists_the_real_ones(assistant, section):
    for call in (assistant.ask, assistant.search, assistant.compare):
        with pytest.raises(QueryError) as err:
            call(GOOD, section=section)
        msg = str(err.value)
        assert "no section named" in msg
        # The message offers every real section to choose from.
        assert all(name in msg for name in assistant.section_names())
    still_answers(assistant)


@pytest.mark.parametrize("section", [5, ["Migration"], 1.5])
def test_a_section_that_is_not_text_is_refused(assistant, section):
    with pytest.raises(QueryError):
        assistant.ask(GOOD, section=section)
    still_answers(assistant)


def test_section_names_match_loosely(assistant):
    # Case and punctuation do not matter; a real section always filters.
    for given in ("MIGRATION", "  migration ", "energy and sustainability!"):
        hits = assistant.search("workers", section=given)
        assert hits and all(given.strip().split()[0].lower() in
                            " ".join(h.passage.section_path).lower() for h in hits)


def test_unknown_document_is_refused(assistant):
    with pytest.raises(QueryError, match="no document"):
        assistant.ask(GOOD, doc="no-such-report")
    with pytest.raises(QueryError, match="no document"):
        assistant.document("no-such-report")
    with pytest.raises(QueryError, match="no passage"):
        assistant.passage("no-such-passage")
    still_answers(assistant)


# --- the page: the app's handlers, as the Ask and Compare tabs and the API call them --------

ODD = {
    "nul-and-controls": "\x00What\x01 is \x1b[31mnearshoring?\x07",
    "invalid-utf8-replaced": "What is \ufffd\ufffd nearshoring?",
    "emoji": "🙂 What is nearshoring? 🚚",
    "rtl": "מה הדוח אומר על הגירה?",
    "bidi-override": "\u202eWhat is nearshoring?\u202c",
    "spanish": "¿Qué dice el informe sobre la migración?",
    "stop-words": "the of and is it",
    "100k": "What is nearshoring? " + "x" * 100_000,
}


@pytest.mark.parametrize("name", list(ODD))
def test_page_handlers_answer_odd_questions(assistant, name):
    from assistant.app import handlers

    question = ODD[name]
    payload = handlers.ask(assistant, question)
    assert payload["citations"] or payload["closest"]
    assert len(payload["question"]) <= 500
    view = handlers.chat_view(assistant, payload)
    assert view["message"] and view["sources"]
    if name == "100k":
        assert "it was cut to" in payload["note"] and "Note:" in view["message"]
    compared = handlers.compare(assistant, question)
    assert compared["abstained"] or compared["rows"]
    handlers.compare_view(assistant, compared)
    assert not handlers.ask(assistant, GOOD)["abstained"]


@pytest.mark.parametrize("question,section,message", [
    ("", "", "empty"), ("\x00 \u200b", "", "empty"), (GOOD, "No such section", "no section"),
    (GOOD, "\x00", "no section"), (None, "", "text"), (GOOD, 5, "section"),
])
def test_page_handlers_refuse_with_a_message(assistant, question, section, message):
    from assistant.app import handlers
    from assistant.app.ui import _warn

    with pytest.raises(QueryError, match=message) as err:
        handlers.ask(assistant, question, section)
    # What the page shows in place of an answer: one line, no trace.
    warning = _warn(str(err.value))
    assert warning.startswith("⚠") and "Traceback" not in warning and "\n" not in warning
    assert not handlers.ask(assistant, GOOD)["abstained"]


# --- CLI in-process ------------------------------------------------------------------

def cli_run(capsys, index_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = cli.main([argv[0], "--index", str(index_dir), *argv[1:]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv,message", [
    (("ask", ""), "empty"),
    (("ask", "   ", "\t"), "empty"),
    (("search", " "), "empty"),
    (("compare", ""), "empty"),
    (("ask", "-k", "0", GOOD), "k must be"),
    (("ask", "-k", "-3", GOOD), "k must be"),
    (("search", "-k", "0", GOOD), "k must be"),
    (("ask", "--section", "No such section", GOOD), "no section named"),
    (("compare", "--section", "No such section", "energy"), "no section named"),
    (("ask", "--doc", "nope", GOOD), "no document named"),
], ids=["ask-empty", "ask-blank-words", "search-blank", "compare-empty", "k-zero", "k-negative",
        "search-k-zero", "unknown-section", "compare-unknown-section", "unknown-doc"])
def test_cli_user_errors_exit_2_with_one_line(capsys, assistant, engine_config, argv, message):
    code, out, err = cli_run(capsys, engine_config.index_dir, *argv)
    assert code == 2
    assert out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in err
    # The same CLI answers the next question.
    code, out, err = cli_run(capsys, engine_config.index_dir, "ask", "--json", GOOD)
    assert code == 0 and not json.loads(out)["abstained"]


def test_cli_argument_errors_are_argparse_exit_2(capsys, engine_config):
    with pytest.raises(SystemExit) as exc:
        cli.main(["ask", "--index", str(engine_config.index_dir), "-k", "many", GOOD])
    assert exc.value.code == 2
    assert "invalid int value" in capsys.readouterr().err


@pytest.mark.parametrize("question", ["the of and is it", "🙂🙂🙂", "מה הדוח אומר על הגירה?",
                                      "¿Qué dice el informe sobre la migración?"])
def test_cli_odd_questions_answer_or_decline(capsys, assistant, engine_config, question):
    code, out, err = cli_run(capsys, engine_config.index_dir, "ask", question)
    assert code == 0 and "Traceback" not in err
    assert ("Closest passages:" in out) or ("Sources:" in out)
    assert "[1] " in out and ", p. " in out  # a citation with its page


# --- CLI as a real process: raw bytes --------------------------------------------------

def run_cli(index_dir: Path, args: list[str | bytes],
            stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd: list[str | bytes] = [sys.executable, "-m", "assistant", "ask", "--index",
                              str(index_dir), "--json", *args]
    return subprocess.run(cmd, input=stdin if stdin is not None else b"", capture_output=True,
                          env=env, cwd=ROOT, timeout=180)


def no_traceback(p: subprocess.CompletedProcess) -> None:
    assert b"Traceback" not in p.stderr, p.stderr.decode("utf-8", "replace")[-2000:]


def test_cli_invalid_utf8_and_controls_in_argv(assistant, engine_config):
    # Raw bytes reach argv as-is (POSIX); Python sees them as surrogates.
    p = run_cli(engine_config.index_dir, [b"What \xff\xfe is \x01\x1b nearshoring\xc3?"])
    no_traceback(p)
    assert p.returncode == 0
    out = json.loads(p.stdout.decode("utf-8"))  # the output itself is valid UTF-8
    assert "\ufffd" in out["question"]  # the bad bytes are shown as U+FFFD, not dropped silently
    assert "\x1b" not in out["query"] and "\x01" not in out["query"]
    assert not out["abstained"]
    assert any("nearshoring" in c["text"].lower() for c in out["citations"])


def test_cli_stdin_with_nul_bytes_and_invalid_utf8(assistant, engine_config):
    p = run_cli(engine_config.index_dir, ["-"],
                stdin=b"\x00What\x00 is \xff\xfenearshoring?\x00\r\n")
    no_traceback(p)
    assert p.returncode == 0
    out = json.loads(p.stdout)
    assert "\x00" not in out["query"]
    assert any("nearshoring" in c["text"].lower() for c in out["citations"])


@pytest.mark.parametrize("stdin", [b"", b"\n\n", b"\x00\x00\x00"],
                         ids=["empty", "newlines", "nuls"])
def test_cli_empty_stdin_is_a_user_error(assistant, engine_config, stdin):
    p = run_cli(engine_config.index_dir, ["-"], stdin=stdin)
    no_traceback(p)
    assert p.returncode == 2 and p.stdout == b""
    assert p.stderr.decode().strip().splitlines()[-1] == (
        "error: the question is empty; type a question about the report")


def cli_stdin(monkeypatch, capsys, index_dir: Path, data: bytes, *argv: str
              ) -> tuple[int, str, str]:
    """cli.main with ``-`` and these bytes on stdin (in-process: no model reload)."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
    return cli_run(capsys, index_dir, "ask", *argv, "-")


def test_cli_stdin_that_is_only_invalid_utf8(monkeypatch, capsys, assistant, engine_config):
    # Two U+FFFD replacement characters are a (meaningless) question, not an empty one.
    code, out, err = cli_stdin(monkeypatch, capsys, engine_config.index_dir, b"\xff\xfe",
                               "--json")
    assert code == 0 and json.loads(out)["abstained"] and "Traceback" not in err


def test_cli_100k_question_on_stdin(monkeypatch, capsys, assistant, engine_config):
    question = ("What does the report say about nearshoring? " * 2300).encode()
    assert len(question) > 100_000
    code, out, err = cli_stdin(monkeypatch, capsys, engine_config.index_dir, question, "--json")
    assert code == 0 and "Traceback" not in err
    answer = json.loads(out)
    assert "it was cut to" in answer["reason"]
    assert len(answer["question"]) <= 500
    # The plain-text output shows the note too.
    code, out, err = cli_stdin(monkeypatch, capsys, engine_config.index_dir, question)
    assert code == 0
    assert "it was cut to" in out


@pytest.mark.parametrize("content,words", [
    (b"{not json\n", "not a JSON object"),
    (b"\xff\xfe{}\n", "can't decode"),
], ids=["not-json", "not-utf8"])
@pytest.mark.parametrize("command", ["eval", "calibrate"])
def test_cli_bad_question_files_are_one_error_line(capsys, tmp_path, engine_config, command,
                                                   content, words):
    questions = tmp_path / "questions.jsonl"
    questions.write_bytes(content)
    code = cli.main([command, "--index", str(engine_config.index_dir),
                     "--questions", str(questions)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: cannot read the questions:") and words in line
    assert str(questions) in line


def test_cli_missing_question_file_is_one_error_line(capsys, tmp_path, engine_config):
    code = cli.main(["eval", "--index", str(engine_config.index_dir),
                     "--questions", str(tmp_path / "nope.jsonl")])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().splitlines()[-1] == (
        f"error: No such file or directory: {tmp_path / 'nope.jsonl'}")
