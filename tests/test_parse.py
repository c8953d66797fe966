"""Parsing the report: pages, sections, people, footnotes, pull quotes, joined sentences.

Expectations come from the raw report text (its printed Table of Contents, its
page headers, its lines) rather than from the parser, so these tests check the
parser against the source, not against itself.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

import pytest

from assistant.parse import load_document
from assistant.types import FOOTNOTE, PEOPLE, QUOTE, TEXT, Document

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
TERMINAL = tuple('.?!:;"”)')
PERSON_LINE = re.compile(r"^([^,]{2,60}), (\S.*)$")


def key(title: str) -> str:
    """Titles compared without case, accents or punctuation (TOC prints them in capitals)."""
    t = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", t.lower()).strip()


def printed_toc(raw_pages: dict[int, str]) -> tuple[int, list[tuple[int, str]]]:
    """The contents page number and its (page, title) lines, read from the raw text."""
    for number, text in raw_pages.items():
        if "Table of Contents" in text:
            entries = [(int(m.group(1)), m.group(2).strip())
                       for m in re.finditer(r"^(\d+)\s+(\S.*)$", text, re.M)]
            return number, entries
    raise AssertionError("the raw report has no Table of Contents page")


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def section_of(doc: Document, offset: int):
    """The innermost section containing a character offset."""
    inside = [s for s in doc.sections if s.start <= offset < s.end]
    return max(inside, key=lambda s: s.level)


def test_parsing_is_deterministic(report_path, report_document):
    again = load_document(report_path)
    assert again == report_document
    assert again.meta["toc"] == report_document.meta["toc"]


def test_toc_is_read_from_the_contents_page(report_document, raw_pages):
    _, entries = printed_toc(raw_pages)
    assert len(entries) >= 10
    assert [tuple(e) for e in report_document.meta["toc"]] == entries


def test_every_toc_entry_starts_on_its_printed_page(report_document, raw_pages):
    _, entries = printed_toc(raw_pages)
    by_key = {key(s.title): s for s in report_document.sections}
    assert len(report_document.sections) == len(entries)
    wrong = []
    for page, title in entries:
        section = by_key.get(key(title))
        assert section is not None, f"no section for TOC entry {title!r}"
        if section.start_page != page:
            wrong.append((title, page, section.start_page))
        # The heading itself sits on that page of the raw report.
        assert key(title) in {key(line) for line in raw_pages[page].splitlines()}
    assert not wrong, f"(title, printed page, parsed page): {wrong}"


def test_section_pages_agree_with_page_map(report_document):
    doc = report_document
    for s in doc.sections:
        assert doc.pages_of(s.start, s.start + 1) == (s.start_page,)
        assert s.start_page <= s.end_page
        assert key(doc.text[s.start:s.start + len(s.title)]) == key(s.title)


def test_section_end_page_is_the_last_page_it_covers(report_document):
    # A section whose text runs onto a page and then ends with a footnote of
    # the page before (Strategic Diplomacy: its member list continues on p. 30,
    # footnote 3 is printed on p. 29) still covers that later page.
    doc = report_document
    wrong = [(s.title, s.end_page, max(doc.pages_of(s.start, s.end))) for s in doc.sections
             if s.end_page != max(doc.pages_of(s.start, s.end))]
    assert not wrong, f"(section, end_page, last page of its text): {wrong}"


def test_working_groups_hold_the_five_groups(report_document, raw_pages):
    doc = report_document
    _, entries = printed_toc(raw_pages)
    titles = [t for _, t in entries]
    wg_at = [key(t) for t in titles].index("working groups")
    # In the printed contents the groups are the five entries after the part heading.
    expected = [key(t) for t in titles[wg_at + 1:wg_at + 6]]
    part = next(s for s in doc.sections if key(s.title) == "working groups")
    assert part.path == (part.title,)
    children = [s for s in doc.sections if len(s.path) == 2 and s.path[0] == part.title]
    assert [key(s.title) for s in children] == expected
    for child in children:
        assert part.start <= child.start < child.end <= part.end
    # Everything else is top level, and nothing else sits inside the part.
    for s in doc.sections:
        if s is part or s in children:
            continue
        assert len(s.path) == 1
        assert s.end <= part.start or s.start >= part.end


def test_sections_tile_the_text(report_document):
    doc = report_document
    top = sorted((s for s in doc.sections if s.level == 1), key=lambda s: s.start)
    assert top[0].start == 0
    assert top[-1].end == len(doc.text)
    for a, b in itertools.pairwise(top):
        assert a.end == b.start


def test_cover_header_contents_and_back_cover_are_not_text(report_document, raw_pages):
    doc = report_document
    toc_page, _ = printed_toc(raw_pages)
    assert "U.S.-MEXICO FORUM 2025" not in doc.text
    assert "Table of Contents" not in doc.text
    assert "REPORT 2022" not in doc.text
    assert "USMEX.UCSD.EDU" not in doc.text
    pages = {p for _, p in doc.page_starts}
    last_section_page = max(p for p, _ in doc.meta["toc"])
    assert 1 not in pages and toc_page not in pages
    # Pages after the last listed section without a single sentence are the back cover.
    back = [n for n in raw_pages if n > last_section_page
            and not re.search(r"[a-z]{2,}[.?!](\s|$)", raw_pages[n])]
    assert back, "the report has a back cover page"
    assert not pages & set(back)
    assert pages <= set(raw_pages)


def test_markdown_link_residue_is_reduced_to_its_text(report_document, report_raw):
    text = report_document.text
    assert not re.search(r"\[[^\]]*\]\([^)]*\)", text)
    assert "](" not in text and "**" not in text
    link_texts = re.findall(r"\[([^\]]+)\]\([^)]*\)", report_raw)
    assert len(link_texts) >= 5
    for label in link_texts:
        if label == "USMEX.UCSD.EDU":  # back cover
            continue
        assert label in text


@pytest.mark.parametrize(("before", "after"), [
    ("met to", "review the main achievements"),  # page break
    ("the ability to realize", "these opportunities will depend"),  # pull quote
    ("Texas governor Greg Abbott", "ordered a reinforcement"),  # page break
    ("cooperation on migration", "remain applicable"),  # page break and footnotes
])
def test_split_sentences_are_joined(report_document, report_raw, before, after):
    doc = report_document
    # The raw text really splits them: something stands between the two halves.
    assert f"{before} {after}" not in report_raw
    joined = f"{before} {after}"
    at = doc.text.find(joined)
    assert at >= 0, f"{joined!r} not in the parsed text"
    block = next(b for b in doc.blocks if b.start <= at and at + len(joined) <= b.end)
    assert block.kind == TEXT
    from assistant.chunk import sentence_spans

    local = at - block.start
    assert any(s <= local and local + len(joined) <= e for s, e in sentence_spans(block.text)), \
        "the joined halves are not one sentence"


def _raw_paragraph_stream(raw_pages: dict[int, str], skip: set[int]) -> list[tuple[int, str]]:
    return [(n, p) for n, text in raw_pages.items() if n not in skip for p in paragraphs(text)]


def _is_set_apart(par: str) -> bool:
    bare = par.strip("*").strip()
    return (bare.startswith(("“", '"')) and bare.endswith(("”", '"'))) or par[0] in SUPERSCRIPTS


def test_every_sentence_broken_by_a_page_or_quote_is_joined(report_document, raw_pages, normalise):
    """Each raw prose paragraph that stops mid-sentence continues in the next prose paragraph."""
    toc_page, entries = printed_toc(raw_pages)
    last = max(p for p, _ in entries)
    skip = {1, toc_page} | {n for n in raw_pages if n > last}
    stream = _raw_paragraph_stream(raw_pages, skip)
    titles = {key(t) for _, t in entries}
    text = normalise(report_document.text)
    found = 0
    for i, (_, par) in enumerate(stream):
        line = par.splitlines()[-1]
        if (len(par.split()) < 6 or key(par) in titles or par.isupper()
                or _is_set_apart(par) or PERSON_LINE.match(line) or line.startswith("- ")
                or line.rstrip(SUPERSCRIPTS).endswith(TERMINAL)):
            continue
        nxt = next(p for _, p in stream[i + 1:] if not _is_set_apart(p))
        tail = " ".join(par.split()[-3:])
        head = " ".join(nxt.split()[:3])
        assert normalise(f"{tail} {head}") in text, f"not joined: ...{tail} | {head}..."
        found += 1
    assert found >= 5  # the report has at least this many; the test must see them


def test_pull_quotes_are_quote_blocks_of_their_own(report_document, raw_pages, normalise):
    doc = report_document
    toc_page, _ = printed_toc(raw_pages)
    raw_quotes = [p.strip("*").strip() for n, text in raw_pages.items() if n not in {1, toc_page}
                  for p in paragraphs(text)
                  if p.strip("*").strip().startswith("“") and p.strip("*").strip().endswith("”")]
    assert len(raw_quotes) >= 4
    quote_blocks = {normalise(b.text): b for b in doc.blocks if b.kind == QUOTE}
    assert len(quote_blocks) == len(raw_quotes)
    for q in raw_quotes:
        assert normalise(q) in quote_blocks
        for b in doc.blocks:
            if b.kind != QUOTE:
                assert normalise(q) not in normalise(b.text), "a pull quote is left inside prose"


def test_quote_blocks_are_on_their_page(report_document, raw_pages, normalise):
    doc = report_document
    for b in doc.blocks:
        if b.kind == QUOTE:
            (page,) = doc.pages_of(b.start, b.end)
            assert normalise(b.text) in normalise(raw_pages[page])


def _raw_people(raw_pages: dict[int, str], titles: set[str]) -> list[tuple[str, str, str]]:
    """(name, affiliation, label) for each line of a labelled people list in the raw text.

    A list opens at an all-capital label (PANELISTS, ... GROUP) and runs over
    "Name, Affiliation" lines, across page breaks and footnotes, until any other text.
    """
    out, label = [], None
    for _, text in sorted(raw_pages.items()):
        for line in (ln.strip() for ln in text.splitlines()):
            if not line:
                continue
            if line.isupper() and (line == "PANELISTS" or line.endswith("GROUP")):
                label = line
                continue
            if label is None or line[0] in SUPERSCRIPTS:
                continue
            m = PERSON_LINE.match(re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line))
            if m and key(line) not in titles and not line.endswith("."):
                out.append((m.group(1).strip(), m.group(2).strip(), label))
            else:
                label = None
    return out


def test_people_lists_are_structured(report_document, raw_pages):
    doc = report_document
    _, entries = printed_toc(raw_pages)
    expected = _raw_people(raw_pages, {key(t) for _, t in entries})
    assert len(expected) >= 80
    got = [(p.name, p.affiliation, p.role) for p in doc.people]
    assert sorted(got) == sorted(expected)


def test_people_belong_to_the_section_that_lists_them(report_document):
    doc = report_document
    titles = {s.title for s in doc.sections}
    by_label: dict[tuple[str, str], str] = {}
    for b in doc.blocks:
        if b.kind == PEOPLE:
            by_label[(b.label, b.section_id)] = doc.section(b.section_id).title
    for person in doc.people:
        # Person.section names a section of the document exactly as Section.title does,
        # so a reader (or the app) can match people to sections.
        assert person.section in titles, f"{person} names no section of the document"
        assert (person.role, next(s.id for s in doc.sections if s.title == person.section)
                ) in by_label


def test_energy_group_lists_samantha_gross(report_document):
    doc = report_document
    gross = [p for p in doc.people if p.name == "Samantha Gross"]
    assert len(gross) == 1
    assert gross[0].affiliation == "Brookings Institution"
    assert key(gross[0].section) == "energy and sustainability"
    assert gross[0].role == "ENERGY AND SUSTAINABILITY GROUP"


def test_strategic_diplomacy_list_continues_across_page_and_footnote(report_document, raw_pages):
    doc = report_document
    group = [p for p in doc.people if p.role == "STRATEGIC DIPLOMACY GROUP"]
    assert all(key(p.section) == "strategic diplomacy" for p in group)
    names = [p.name for p in group]
    # First and last names of the list as printed, on either side of the page break.
    assert names[0] == "Sergio Alcocer" and names[-1] == "Carlos Pérez Ricart"
    assert "Andres Rozental" in names and "Claudia Ruiz Massieu" in names
    block = next(b for b in doc.blocks if b.kind == PEOPLE and b.label == group[0].role)
    assert len(doc.pages_of(block.start, block.end)) == 2
    # The footnote printed between the two halves is not part of the list.
    assert "Build trust" not in block.text
    for p in group:
        assert f"{p.name}, {p.affiliation}" in block.text


def test_footnotes_are_blocks_linked_to_their_reference(report_document, raw_pages, normalise):
    doc = report_document
    raw_notes = {}
    for text in raw_pages.values():
        for line in text.splitlines():
            m = re.match(rf"^([{SUPERSCRIPTS}]+)\s+\S", line.strip())
            if m:
                raw_notes["".join(str(SUPERSCRIPTS.index(c)) for c in m.group(1))] = line.strip()
    assert len(raw_notes) >= 3
    notes = {b.label: b for b in doc.blocks if b.kind == FOOTNOTE}
    assert set(notes) == set(raw_notes)
    for label, block in notes.items():
        assert normalise(block.text) == normalise(raw_notes[label])
        marker = "".join(SUPERSCRIPTS[int(c)] for c in label)
        refs = [b for b in doc.blocks if b.kind != FOOTNOTE and label in b.notes]
        assert len(refs) == 1, f"footnote {label} is referenced by {len(refs)} blocks"
        ref = refs[0]
        assert marker in ref.text
        assert ref.section_id == block.section_id
        # The note is not swallowed by the paragraph that cites it.
        assert normalise(block.text) not in normalise(ref.text)
    for b in doc.blocks:
        for label in b.notes:
            assert label in notes


def test_blocks_are_verbatim_spans_in_order(report_document):
    doc = report_document
    for b in doc.blocks:
        assert doc.text[b.start:b.end] == b.text
        s = doc.section(b.section_id)
        assert section_of(doc, b.start).id == s.id
        assert s.start <= b.start < b.end <= s.end
    starts = [b.start for b in doc.blocks]
    assert starts == sorted(starts)
