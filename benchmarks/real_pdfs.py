"""Real filings: page hit@k, ask's answers and citations, beside the tutorial pipeline.

On the five public filings of ../shared/corpus/real-pdfs/ (built together with
the report) and questions with page evidence (../shared/eval/real_pdf_questions.jsonl
and eval/real_pdf_own_questions.jsonl), searching within the question's document:

* page hit@1 / hit@5: the evidence page among the pages of the first 1 / 5 passages;
* ask answers: the share of questions ask does not decline; cites evidence: the
  share whose answer cites a passage on an evidence page;
* the tutorial pipeline (benchmarks/tutorial.py, per page: 1,000/200-character
  chunks of the page's text, the same model, FAISS, top 5 within the document),
  built in the same run.

    python -m benchmarks.real_pdfs --corpus /tmp/real/corpus --index /tmp/real/index

The index is built unless --index already holds one for this corpus.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from assistant.config import Config
from assistant.embed import Embedder
from assistant.parse import doc_id_for

SHARED = Path(__file__).resolve().parents[2] / "shared"
QUESTIONS = [SHARED / "eval" / "real_pdf_questions.jsonl",
             Path(__file__).resolve().parents[1] / "eval" / "real_pdf_own_questions.jsonl"]


def load_questions(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


class PagedTutorial:
    """The tutorial pipeline on a PDF: 1,000/200-character chunks of each page's text."""

    def __init__(self, pdf: Path, embedder: Embedder) -> None:
        import faiss
        import pymupdf
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        self.chunks: list[tuple[int, str]] = []
        with pymupdf.open(pdf) as doc:
            for page in doc:
                for chunk in splitter.split_text(page.get_text()):
                    self.chunks.append((page.number + 1, chunk))
        self.embedder = embedder
        vectors = embedder.encode([c for _, c in self.chunks])
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def pages(self, question: str, k: int = 5) -> list[tuple[int, ...]]:
        q = self.embedder.encode_query(question).reshape(1, -1)
        _, ids = self.index.search(q, k)
        return [(self.chunks[i][0],) for i in ids[0] if i >= 0]


def hit(pages: list[tuple[int, ...]], evidence: set[int], k: int) -> bool:
    return any(set(p) & evidence for p in pages[:k])


def run(cfg: Config, question_files: list[Path]) -> dict:
    from assistant.api import Assistant

    t0 = time.perf_counter()
    a = Assistant.load(cfg, rebuild=True, progress=lambda s, f: None)
    load_seconds = time.perf_counter() - t0
    tutorials: dict[str, PagedTutorial] = {}
    out: dict = {"load_or_build_seconds": round(load_seconds, 1),
                 "skipped": [s.reason for s in a.data.skipped], "sets": {}}
    for path in question_files:
        if not path.exists():
            continue
        rows = []
        for q in load_questions(path):
            doc = doc_id_for(Path(q["document"]))
            evidence = {int(e["page"]) for e in q["evidence"]}
            hits = a.search(q["question"], k=5, doc=doc)
            ours = [h.passage.pages for h in hits]
            answer = a.ask(q["question"], doc=doc)
            cited = [h.passage.pages for h in answer.citations]
            if doc not in tutorials:
                tutorials[doc] = PagedTutorial(cfg.corpus_dir / q["document"], a.embedder)
            theirs = tutorials[doc].pages(q["question"])
            rows.append({"id": q["id"], "evidence": sorted(evidence),
                         "ours": [list(p) for p in ours], "tutorial": [list(p) for p in theirs],
                         "hit1": hit(ours, evidence, 1), "hit5": hit(ours, evidence, 5),
                         "tut_hit1": hit(theirs, evidence, 1),
                         "tut_hit5": hit(theirs, evidence, 5),
                         "answered": not answer.abstained,
                         "cites_evidence": (not answer.abstained) and hit(cited, evidence, 99)})
        n = len(rows)

        def share(key: str, rows: list[dict] = rows, n: int = n) -> float:
            return round(sum(r[key] for r in rows) / n, 3) if n else 0.0

        out["sets"][path.name] = {
            "questions": n,
            "page_hit@1": share("hit1"), "page_hit@5": share("hit5"),
            "tutorial_page_hit@1": share("tut_hit1"), "tutorial_page_hit@5": share("tut_hit5"),
            "ask_answers": share("answered"), "ask_cites_evidence_page": share("cites_evidence"),
            "rows": rows,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--index", type=Path, required=True)
    ap.add_argument("--questions", type=Path, nargs="*", default=QUESTIONS)
    ap.add_argument("--out", type=Path, help="write the full result (per question) as JSON")
    args = ap.parse_args(argv)
    cfg = Config.from_env(corpus_dir=args.corpus, index_dir=args.index)
    result = run(cfg, args.questions)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"index ready in {result['load_or_build_seconds']} s; skipped: {result['skipped']}")
    for name, s in result["sets"].items():
        print(f"{name}: {s['questions']} questions")
        for key in ("page_hit@1", "page_hit@5", "tutorial_page_hit@1", "tutorial_page_hit@5",
                    "ask_answers", "ask_cites_evidence_page"):
            print(f"  {key:>26}  {s[key]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
