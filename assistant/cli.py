"""Command line: `python -m assistant {build,ask,search,compare,eval,calibrate,...}`.

Library errors become one clear line on stderr and exit status 2; nothing
prints a stack trace for a problem the user can fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from assistant.config import ROOT, Config
from assistant.errors import AssistantError

DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def _arg_text(s: str) -> str:
    # argv arrives with undecodable bytes as surrogates; show them as U+FFFD.
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _config(args: argparse.Namespace) -> Config:
    return Config.from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model)


def _load(args: argparse.Namespace):
    from assistant.api import Assistant

    return Assistant.load(_config(args))


def _hit_dict(hit) -> dict[str, Any]:
    p = hit.passage
    return {"id": p.id, "text": p.text, "section": p.section, "section_path": list(p.section_path),
            "pages": list(p.pages), "document": p.doc_id, "kind": p.kind,
            "score": round(hit.score, 5), "dense": round(hit.dense, 4),
            "lexical": round(hit.lexical, 4)}


def answer_dict(a) -> dict[str, Any]:
    return {"question": a.question, "answer": a.text, "abstained": a.abstained,
            "reason": a.reason, "query": a.query,
            "sentences": [{"text": s.text, "citation": s.citation} for s in a.sentences],
            "citations": [_hit_dict(h) | {"n": n} for n, h in enumerate(a.citations, 1)]}


def comparison_dict(c) -> dict[str, Any]:
    return {"topic": c.topic, "abstained": c.abstained, "reason": c.reason,
            "rows": [{"section": r.section, "section_path": list(r.section_path),
                      "document": r.doc_id, "pages": list(r.pages), "score": round(r.score, 5),
                      "passages": [_hit_dict(h) for h in r.hits]} for r in c.rows]}


def _wrap(text: str, indent: str = "    ") -> str:
    return textwrap.fill(" ".join(text.split()), 96, initial_indent=indent,
                         subsequent_indent=indent)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def cmd_build(args: argparse.Namespace) -> int:
    from assistant.api import Assistant

    a = Assistant.build(_config(args), show_bar=not args.json)
    m = a.data.manifest
    if args.json:
        _print_json({k: m[k] for k in ("passages", "sentences", "newly_embedded",
                                        "build_seconds", "faiss_index", "skipped")})
    else:
        print(f"indexed {m['passages']} passages ({m['sentences']} sentences) from "
              f"{len(m['documents'])} document(s) in {m['build_seconds']} s; "
              f"{m['newly_embedded']} texts embedded, the rest reused")
        for s in m["skipped"]:
            print(f"skipped {s['path']}: {s['reason']}", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    question = _arg_text(" ".join(args.question))
    if question.strip() == "-":
        question = sys.stdin.buffer.read().decode("utf-8", "replace")
    a = _load(args).ask(question, k=args.k, section=args.section, doc=args.doc)
    if args.json:
        _print_json(answer_dict(a))
        return 0
    print(_wrap(a.text, ""))
    if a.reason:
        print(f"\n({a.reason})")
    print("\nClosest passages:" if a.abstained else "\nSources:")
    for n, h in enumerate(a.citations, 1):
        print(f"[{n}] {h.passage.citation}")
        print(_wrap(h.passage.text))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    hits = _load(args).search(_arg_text(" ".join(args.query)), k=args.k, section=args.section,
                              doc=args.doc)
    if args.json:
        _print_json([_hit_dict(h) for h in hits])
        return 0
    for n, h in enumerate(hits, 1):
        print(f"{n}. {h.passage.citation}  (score {h.score:.4f})")
        print(_wrap(h.passage.text))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    c = _load(args).compare(_arg_text(" ".join(args.topic)), section=args.section, doc=args.doc,
                            by=args.by)
    if args.json:
        _print_json(comparison_dict(c) | {"by": args.by})
        return 0
    if c.abstained:
        who = "No document" if args.by == "document" else "The report"
        print(f"{who} does not appear to address “{c.topic}” ({c.reason}).")
        return 0
    for r in c.rows:
        pages = ", ".join(map(str, r.pages))
        print(f"## {' › '.join(r.section_path)} (p. {pages})")
        for h in r.hits:
            # A document's row mixes its sections, so each passage says which.
            where = h.passage.citation if args.by == "document" else h.passage.page_label
            print(_wrap(h.passage.text) + f" [{where}]")
        print()
    return 0


def _questions(path: Path) -> list[dict]:
    from assistant.evaluate import load_questions

    try:
        return load_questions(path)
    except ValueError as exc:  # a line that is not JSON, or a file that is not UTF-8
        where = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
        raise AssistantError(f"cannot read the questions: {where}") from exc


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.evaluate import run_eval

    questions = _questions(args.questions)
    metrics, records = run_eval(_load(args), questions, k=10)
    if args.output:
        Path(args.output).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    if args.json:
        _print_json(metrics)
    else:
        for key, value in metrics.items():
            print(f"{key:>20}  {'-' if value is None else value}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from assistant.calibrate import calibrate

    for path in (args.questions, args.out_of_scope):
        _questions(path)  # a bad file is one clear line before any work starts
    report = calibrate(_load(args), args.questions, args.out_of_scope)
    _print_json(report) if args.json else print(report["summary"])
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from assistant.library import add_documents

    results = add_documents(_config(args), [Path(p) for p in args.files])
    _print_json(results) if args.json else [print(r) for r in results]
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from assistant.library import remove_document

    result = remove_document(_config(args), args.doc_id)
    _print_json(result) if args.json else print(result)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.library import list_documents

    docs = list_documents(_config(args))
    if args.json:
        _print_json(docs)
    else:
        for d in docs:
            print("  ".join(f"{k}={v}" for k, v in d.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/)")
    common.add_argument("--index", type=Path, help="index folder (default: index/)")
    common.add_argument("--model", help="sentence-transformers model name or path")
    common.add_argument("--json", action="store_true", help="print JSON")
    filt = argparse.ArgumentParser(add_help=False)
    filt.add_argument("-k", type=int, default=None, help="number of passages (default 5)")
    filt.add_argument("--section", help="only this section (title; a part includes its children)")
    filt.add_argument("--doc", help="only this document (id)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("build", parents=[common], help="(re)build the index").set_defaults(
        func=cmd_build)
    p = sub.add_parser("ask", parents=[common, filt], help="answer a question with citations")
    p.add_argument("question", nargs="+", help="the question ('-' reads it from stdin)")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("search", parents=[common, filt], help="ranked passages for a query")
    p.add_argument("query", nargs="+")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("compare", parents=[common],
                       help="what each section (or document) says on a topic")
    p.add_argument("topic", nargs="+")
    p.add_argument("--section", help="only this section")
    p.add_argument("--doc", help="only this document")
    p.add_argument("--by", choices=("section", "document"), default="section",
                   help="one row per section (default) or per document")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("eval", parents=[common], help="retrieval metrics on a question file")
    p.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    p.add_argument("--output", type=Path, help="write one JSON line per question")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("calibrate", parents=[common], help="fit the abstention thresholds")
    p.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    p.add_argument("--out-of-scope", type=Path, default=ROOT / "eval" / "out_of_scope.jsonl")
    p.set_defaults(func=cmd_calibrate)
    p = sub.add_parser("add", parents=[common], help="add documents to the corpus")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_add)
    p = sub.add_parser("remove", parents=[common], help="remove a document by id")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_remove)
    sub.add_parser("list", parents=[common], help="list the documents").set_defaults(
        func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A full disk, a folder that cannot be written, a path that is a file:
        # the user can fix these, so a line saying which, not a stack trace.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
