"""Scale: how cost grows with the corpus, on synthetic corpora of 10k to 1M passages.

Vectors come from benchmarks.synth.Generator (mixtures around the report's
real passage and sentence embeddings, noise shaped like the real covariance,
calibrated on the real nearest-neighbour similarity); the queries are the
real questions embedded by the real model. For each size: exact search and
approximate indexes (HNSW, IVF) with build time, memory, single-query latency
p50/p95 and recall@10 against exact search, the engine's own choice
(assistant.index.make_faiss_index) among them. For the smaller sizes the whole
engine runs too (synthetic passages of recombined report sentences, BM25
included), to see what besides FAISS grows with the corpus: in both retrieval
modes, scoring every passage and sentence (the engine before candidate
retrieval) and scoring the candidates only (the engine above
Config.exhaustive_max sentences), with how often the two agree.
`--only engine` runs these engine rows alone, at every size asked for.
"""

from __future__ import annotations

import gc
import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant import index as engine_index
from benchmarks.common import Table, fmt, pct
from benchmarks.synth import Generator, ks_statistic, nn_similarities, synthetic_passages

TARGET_P50_MS = 20.0
TARGET_RECALL = 0.95


def _rss_mib() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


@dataclass
class Variant:
    name: str
    build: Callable[[np.ndarray], object]
    knob: str | None = None  # "efSearch" or "nprobe"
    values: tuple[int, ...] = ()


def _hnsw(m: int, efc: int) -> Callable[[np.ndarray], object]:
    def build(x: np.ndarray):
        import faiss

        idx = faiss.IndexHNSWFlat(x.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = efc
        idx.add(x)
        return idx
    return build


def _ivf(nlist: int) -> Callable[[np.ndarray], object]:
    def build(x: np.ndarray):
        import faiss

        quant = faiss.IndexFlatIP(x.shape[1])
        idx = faiss.IndexIVFFlat(quant, x.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
        # 40 training points per list is what FAISS's k-means asks for at least.
        sample = x[np.random.default_rng(0).choice(len(x), min(len(x), 40 * nlist),
                                                   replace=False)]
        idx.train(sample)
        idx.add(x)
        return idx
    return build


def _flat(x: np.ndarray):
    import faiss

    idx = faiss.IndexFlatIP(x.shape[1])
    idx.add(x)
    return idx


def ivf_lists(n: int) -> int:
    """About 4 sqrt(n) lists, a power of two, with the 39 training points per list
    that FAISS's k-means wants."""
    return 2 ** min(round(math.log2(4 * math.sqrt(n))), int(math.log2(n / 39)))


def index_mib(idx) -> float:
    """Size of the index as FAISS stores it (vectors, graph links, lists)."""
    import os
    import tempfile

    import faiss

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "index.faiss")
        faiss.write_index(idx, path)
        return os.path.getsize(path) / 2**20


def engine_label() -> str:
    return "engine: make_faiss_index"


def variants(n: int, quick: bool, slow_hnsw: bool) -> list[Variant]:
    """What to build at size n: exact, the engine's own choice, and alternatives.

    HNSW builds slowly (minutes at 100k on this CPU), so it is built only up
    to ``slow_hnsw`` sizes; IVF is shown as an alternative only where the
    engine does not already use it.
    """
    out = [Variant("Flat (exact)", _flat)]
    engine_kind = "Flat" if n <= engine_index.FLAT_MAX else _engine_kind()
    if n > engine_index.FLAT_MAX:
        out.append(Variant(engine_label(), engine_index.make_faiss_index, "auto"))
    if slow_hnsw:
        out.append(Variant("HNSW M=32 efC=200", _hnsw(32, 200), "efSearch", (64, 128, 256)))
        if not quick:
            out.append(Variant("HNSW M=32 efC=40", _hnsw(32, 40), "efSearch", (64, 128, 256)))
    if engine_kind != "IVF":
        nl = ivf_lists(n)
        out.append(Variant(f"IVF{nl},Flat", _ivf(nl), "nprobe", (8, 16, 32, 64)))
    return out


def _engine_kind() -> str:
    import inspect

    src = inspect.getsource(engine_index.make_faiss_index)
    return "IVF" if "IVF" in src else "HNSW" if "HNSW" in src else "other"


def _auto_settings(idx) -> tuple[str | None, tuple[int, ...], int | None]:
    """The knob of the engine's index, values to sweep, and the engine's own value."""
    if hasattr(idx, "nprobe"):
        own = int(idx.nprobe)
        return "nprobe", tuple(sorted({8, 16, 32, 64, 128, own})), own
    if hasattr(idx, "hnsw"):
        own = int(idx.hnsw.efSearch)
        return "efSearch", tuple(sorted({64, 128, 256, own})), own
    return None, (), None


def _set(idx, knob: str | None, value: int) -> None:
    if knob == "efSearch":
        idx.hnsw.efSearch = value
    elif knob == "nprobe":
        idx.nprobe = value


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    k = truth.shape[1]
    return float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))


def _latency(idx, queries: np.ndarray, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        for q in queries:
            t0 = time.perf_counter()
            idx.search(q[None, :], 10)
            out.append(time.perf_counter() - t0)
    return out


def generator_check(gen: Generator, pool: np.ndarray, queries: np.ndarray,
                    sizes: list[int]) -> Table:
    real = nn_similarities(pool)
    # Five corpora of the pool's size, not used to fit tau, pooled for a stable shape.
    syn = np.concatenate([nn_similarities(gen.sample(len(pool), seed=101 + i)) for i in range(5)])
    uniform = np.random.default_rng(0).standard_normal(pool.shape).astype(np.float32)
    uniform /= np.linalg.norm(uniform, axis=1, keepdims=True)
    uni = nn_similarities(uniform)

    def top1(corpus: np.ndarray) -> np.ndarray:
        return (queries @ corpus.T).max(axis=1)

    q_real = top1(pool)
    q_syn = np.concatenate([top1(gen.sample(len(pool), seed=202 + i)) for i in range(5)])
    qs = [10, 25, 50, 75, 90]
    t = Table("Synthetic vectors against the real report's embeddings",
              ["distribution", *[f"p{q}" for q in qs], "KS vs real"])
    t.add(f"NN similarity, real pool ({len(pool)} passages + sentences)",
          *np.percentile(real, qs).round(3).tolist(), "–")
    t.add(f"NN similarity, synthetic, same size (5 corpora; tau={gen.tau:.3f})",
          *np.percentile(syn, qs).round(3).tolist(), round(ks_statistic(real, syn), 3))
    t.add("NN similarity, uniform random, same size (for contrast)",
          *np.percentile(uni, qs).round(3).tolist(), round(ks_statistic(real, uni), 3))
    t.add(f"real question -> best match, real pool ({len(queries)} questions)",
          *np.percentile(q_real, qs).round(3).tolist(), "–")
    t.add("real question -> best match, synthetic, same size (5 corpora)",
          *np.percentile(q_syn, qs).round(3).tolist(), round(ks_statistic(q_real, q_syn), 3))
    for n in sizes:
        x = gen.sample(n, seed=n)
        t.add(f"NN similarity, synthetic corpus of {n:,} (2,000 sampled)",
              *np.percentile(nn_similarities(x, 2000), qs).round(3).tolist(), "–")
        del x
    t.notes += [
        "v = normalise(weighted mix of a real anchor and 0-2 of its 8 nearest real neighbours "
        "+ tau * s * z), z ~ N(0, covariance of the real embeddings), s log-normal per vector "
        f"(spread {gen.spread}); tau fitted so the median NN similarity at the pool's size "
        "matches the real one; the KS distance checks the whole shape, and the question rows "
        "check how real queries meet the corpus, which was not fitted",
        "real questions come a little closer to the real report than to a synthetic corpus of "
        "its size: the dev questions were written from its sentences, which the synthetic "
        "vectors only approximate",
        "as the corpus grows, neighbours get closer: a million passages on the same topics "
        "hold many near-paraphrases",
    ]
    return t


def ann_table(n: int, gen: Generator, queries: np.ndarray, quick: bool, slow_hnsw: bool,
              keep_engine: bool) -> tuple[Table, object, np.ndarray]:
    t0 = time.perf_counter()
    x = gen.sample(n, seed=n)
    gen_s = time.perf_counter() - t0
    reps = 3 if n <= 100_000 else 2  # passes over the queries for latency
    exact = _flat(x)
    _, truth10 = exact.search(queries, 10)
    _, truth40 = exact.search(queries, 40)
    del exact
    t = Table(f"Dense index at {n:,} synthetic passages (384-d)",
              ["index", "setting", "build s", "memory MiB", "p50 ms", "p95 ms", "recall@10",
               "recall@40", f"p50<{TARGET_P50_MS:.0f}ms & R@10>={TARGET_RECALL}"])
    engine = None
    for v in variants(n, quick, slow_hnsw):
        gc.collect()
        t0 = time.perf_counter()
        idx = v.build(x)
        build_s = time.perf_counter() - t0
        mem = index_mib(idx)
        knob, settings, own = v.knob, v.values or (None,), None
        if knob == "auto":
            knob, settings, own = _auto_settings(idx)
            settings = settings or (None,)
        for val in settings:
            if val is not None:
                _set(idx, knob, val)
            # A full scan of a million vectors takes most of a second: a sample suffices.
            slow = v.build is _flat and n > 100_000
            lat = _latency(idx, queries[:20] if slow else queries, 1 if slow else reps)
            _, f10 = idx.search(queries, 10)
            _, f40 = idx.search(queries, 40)
            r10, r40 = _recall(f10, truth10), _recall(f40, truth40)
            p50 = pct(lat, 50) * 1000
            label = f"{knob}={val}" if val is not None else ""
            name = v.name
            if v.knob == "auto":
                name = f"{v.name} -> {type(idx).__name__}"
                label += " (engine's setting)" if val == own else ""
            t.add(name, label, round(build_s, 2), round(mem, 0), round(p50, 2),
                  round(pct(lat, 95) * 1000, 2), round(r10, 3), round(r40, 3),
                  p50 < TARGET_P50_MS and r10 >= TARGET_RECALL)
        if own is not None:
            _set(idx, knob, own)  # later sections use the index as the engine built it
        if keep_engine and (v.knob == "auto" or (
                n <= engine_index.FLAT_MAX and v.name.startswith("Flat"))):
            engine = idx
        else:
            del idx
    t.notes += [
        f"vectors generated in {gen_s:.1f} s; queries: {len(queries)} real questions; latency: "
        f"one query per search call, {reps} passes"
        + (" (Flat: 20 queries, one pass)" if n > 100_000 else "")
        + "; recall against exact search (Flat)",
        f"recall@40: the engine asks FAISS for {40} candidates (Config.candidates) before fusion",
        "memory: the index as FAISS writes it, which is what it holds in RAM (the float32 "
        f"vectors alone are {n * 384 * 4 / 2**20:,.0f} MiB at this size)",
    ]
    if n <= engine_index.FLAT_MAX:
        t.notes.append(f"the engine uses Flat at this size (FLAT_MAX={engine_index.FLAT_MAX:,})")
    if not slow_hnsw:
        t.notes.append("HNSW is not built at this size: its build time grows faster than "
                       "linearly (see the smaller sizes) and would dominate the suite's run time")
    return t, engine, x


def synthetic_assistant(n: int, x: np.ndarray, dense, gen: Generator, real, embedder, cfg,
                        workdir: Path | None = None):
    """An Assistant over n synthetic passages of recombined report sentences.

    Returns it and what building it took. With ``workdir`` the sentence
    vectors go to a memory-mapped file there rather than into RAM: at a million
    passages they are 6 GB, and the sentence index holds its own copy.
    """
    from assistant.api import Assistant
    from assistant.index import IndexData
    from assistant.lexical import BM25Index
    from assistant.types import Passage

    sentences = [real.passages[i].text[a:b] for i, a, b in real.data.sent_spans]
    sections = [(s.title, s.path) for d in real.documents for s in d.sections]
    rng = np.random.default_rng(n)
    texts = synthetic_passages(sentences, n, seed=n)
    passages, spans = [], []
    for i, (text, sp) in enumerate(texts):
        title, path = sections[rng.integers(len(sections))]
        doc = f"synthetic-{i // 200:05d}"  # reports of 200 passages each
        passages.append(Passage(f"{doc}-{i:07d}", doc, text, title, tuple(path), (1,), 0,
                                len(text), context=" > ".join(path), doc_title=doc))
        spans.extend((i, a, b) for a, b in sp)
    del texts
    spans = np.asarray(spans, dtype=np.int64)
    t0 = time.perf_counter()
    bm25 = BM25Index.build([f"{p.context}\n{p.text}" for p in passages])
    bm25_s = time.perf_counter() - t0
    gc.collect()
    shape = (len(spans), x.shape[1])
    out = None
    if workdir is not None:
        out = np.lib.format.open_memmap(workdir / f"sentences-{n}.npy", mode="w+",
                                        dtype=np.float32, shape=shape)
    sent_vectors = gen.sample(len(spans), seed=n + 1, out=out)
    t0 = time.perf_counter()
    sent_dense = engine_index.make_faiss_index(sent_vectors)  # the engine's own choice
    sent_s = time.perf_counter() - t0
    data = IndexData(real.data.path, {}, passages, [], dense, x, sent_vectors, spans, bm25,
                     dict(real.data.acronyms), [], sent_dense)
    built = {"bm25_s": bm25_s, "sentences": len(spans), "sent_index_s": sent_s,
             "sent_index": type(sent_dense).__name__}
    return Assistant(data, embedder, cfg), built


def retrieve_pieces(a, queries: np.ndarray) -> dict[str, list[float]]:
    """The full-corpus array operations of HybridRetriever.retrieve, timed one by one.

    They mirror its code (kept in step by hand) to show which of them makes
    'rest of retrieval' grow; the engine itself is not changed or called here.
    """
    data = a.data
    n = len(data.passages)
    owner = a.retriever.sent_owner
    out: dict[str, list[float]] = {k: [] for k in PIECES}
    for q in queries:
        t0 = time.perf_counter()
        dense = data.vectors @ q
        t1 = time.perf_counter()
        sent_scores = data.sent_vectors @ q
        t2 = time.perf_counter()
        sentence = np.full(n, -1.0, dtype=np.float32)
        np.maximum.at(sentence, owner, sent_scores.astype(np.float32))
        t3 = time.perf_counter()
        allowed = np.flatnonzero(a.retriever.mask_for(None, None))
        np.argsort(-sentence[allowed], kind="stable")
        t4 = time.perf_counter()
        np.argsort(-dense[allowed], kind="stable")  # the lexical ranking sorts the same way
        t5 = time.perf_counter()
        for k, v in zip(PIECES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            out[k].append(v)
    return out


PIECES = ["passage cosines (vectors @ q)", "sentence cosines (sent_vectors @ q)",
          "best sentence per passage (np.maximum.at)", "full sort of the sentence ranking",
          "one more full sort (as the lexical ranking does)"]


def pieces_table(rows: list[dict]) -> Table:
    t = Table("What grows inside retrieve() when it scores every passage: its full-corpus "
              "operations timed alone",
              ["operation", *[f"{r['n']:,} p50 ms" for r in rows]])
    for k in PIECES:
        t.add(k, *[round(pct(r["pieces"][k], 50) * 1000, 2) for r in rows])
    t.notes.append("same numpy calls as HybridRetriever.retrieve makes when it scores every "
                   "passage (up to Config.exhaustive_max sentences, and the 'before' rows above), "
                   "on the synthetic corpora above; each runs over every passage or sentence of "
                   "the corpus for every query")
    return t


# exhaustive_max that makes retrieval score every passage and sentence, as it
# did for every corpus before candidate retrieval: the "before" of the tables.
EVERYTHING = 10**12
MODES = ("every passage scored (before)", "candidates only (after)")


def measure_engine(a, questions: list[str], rounds: int) -> dict:
    """Ask every question of the engine in both retrieval modes, interleaved
    question by question so load on a shared machine hits both alike; then
    compare what the two modes return."""
    from assistant.api import Assistant
    from benchmarks.speed import stage_samples

    before = Assistant(a.data, a.embedder, replace(a.cfg, exhaustive_max=EVERYTHING))
    pair = dict(zip(MODES, (before, a), strict=True))
    for q in questions[:3]:
        for asst in pair.values():
            asst.ask(q)
    per: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in MODES}
    for _ in range(rounds):
        for q in questions:
            for mode, asst in pair.items():
                for k, v in stage_samples(asst, [q], 1).items():
                    per[mode][k] += v
    same5, overlap10, same_answer, n_pass, n_sent = [], [], [], [], []
    for q in questions:
        re_, rc = before.retriever.retrieve(q, 10), a.retriever.retrieve(q, 10)
        ie, ic = [h.passage.id for h in re_.hits], [h.passage.id for h in rc.hits]
        same5.append(ie[:5] == ic[:5])
        overlap10.append(len(set(ie) & set(ic)) / max(1, len(ie)))
        if not rc.exhaustive:
            n_pass.append(len(rc.sentence.ids))
            n_sent.append(len(rc.sent_scores.ids))
        ae, ac = before.ask(q), a.ask(q)
        same_answer.append((ae.text, ae.abstained) == (ac.text, ac.abstained))
    return {"per": per, "same5": same5, "overlap10": overlap10, "same_answer": same_answer,
            "n_pass": n_pass, "n_sent": n_sent}


def engine_table(rows: list[dict]) -> Table:
    from benchmarks.speed import STAGES

    shown = STAGES[:7]
    t = Table("The whole engine on synthetic corpora: every passage scored (before) against "
              "candidates only (after), Assistant.ask warm",
              ["passages", "sentences", "retrieval", *[f"{s.split(' (')[0]} p50 ms"
                                                       for s in shown],
               "ask p50 ms", "ask p95 ms"])
    for r in rows:
        for mode in MODES:
            per = r["m"]["per"][mode]
            t.add(f"{r['n']:,}", f"{r['sentences']:,}", mode,
                  *[round(pct(per[s], 50) * 1000, 2) for s in shown],
                  round(pct(per["ask total"], 50) * 1000, 1),
                  round(pct(per["ask total"], 95) * 1000, 1))
    t.notes += [
        "passages are runs of 2-6 real report sentences in random order (word statistics of "
        "the report), under real section titles, 200 per synthetic document; passage and "
        "sentence vectors come from the generator, so these rows measure cost, not quality",
        "both modes run on the same loaded index, question by question in turn; 'before' sets "
        f"Config.exhaustive_max to {EVERYTHING:.0e} so retrieve() scores every passage and "
        "sentence and sorts them in full, as the engine did on every corpus; 'after' is the "
        "default, which scores only the candidates of the passage index, the sentence index "
        "and BM25 above exhaustive_max sentences",
        "'rest of retrieval' is retrieve() minus the timed parts: passage and sentence "
        "cosines, the best sentence per passage, the rankings, near-duplicate checks",
    ]
    return t


def agreement_table(rows: list[dict]) -> Table:
    t = Table("Candidate retrieval against scoring every passage (same corpora and questions)",
              ["passages", "passage index", "sentence index", "index builds s (passages + "
               "sentences)", "BM25 build s", "process RSS MiB", "passages scored p50",
               "sentences scored p50", "top-5 hits identical", "top-10 overlap",
               "answers identical", "ask p50 before / after"])
    for r in rows:
        m = r["m"]
        before, after = (pct(m["per"][mode]["ask total"], 50) for mode in MODES)
        t.add(f"{r['n']:,}", r["dense_index"], r["built"]["sent_index"],
              f"{fmt(r['dense_s'])} + {fmt(r['built']['sent_index_s'])}",
              round(r["built"]["bm25_s"], 1), round(r["rss"], 0),
              int(np.median(m["n_pass"])) if m["n_pass"] else "–",
              int(np.median(m["n_sent"])) if m["n_sent"] else "–",
              f"{np.mean(m['same5']):.3f}", f"{np.mean(m['overlap10']):.3f}",
              f"{np.mean(m['same_answer']):.3f}", f"{before / after:.1f}x")
    t.notes += [
        "top-5 hits identical: share of questions whose first five hits (retrieve, k=10) are "
        "the same passages in the same order in both modes; top-10 overlap: mean share of "
        "the ten hits in common; answers identical: Assistant.ask gives the same text and "
        "abstention (k=5)",
        "with Flat indexes (up to 50,000 vectors) the candidate rankings equal the exhaustive "
        "ones by construction (tests/test_retrieval.py checks it on the real report); above, "
        "the passage and sentence indexes are IVF and the candidates are as good as their "
        "recall",
        "scored: passages (and their sentences) whose cosines retrieve() computed; the "
        "exhaustive mode computes them for the whole corpus",
        "process RSS counts the memory-mapped sentence vectors it touched (file pages) where "
        "the run kept them on disk (--only engine)",
    ]
    return t


def engine_rows(n: int, x: np.ndarray, dense, dense_s: float, gen: Generator, real,
                questions: list[str], queries: np.ndarray, cfg, rounds: int,
                workdir: Path | None) -> dict:
    a, built = synthetic_assistant(n, x, dense, gen, real, real.embedder, cfg, workdir)
    m = measure_engine(a, questions, rounds)
    row = {"n": n, "sentences": built["sentences"], "built": built, "rss": _rss_mib(),
           "dense_index": type(dense).__name__, "dense_s": dense_s, "m": m,
           "pieces": retrieve_pieces(a, queries)}
    del a
    gc.collect()
    return row


def run(sizes: list[int], quick: bool, real, questions: list[str], cfg,
        engine_max: int = 100_000, slow_hnsw_max: int = 100_000, sweep: bool = True,
        workdir: Path | None = None) -> list[Table]:
    """The scale tables. ``sweep=False`` skips the index sweeps and measures only
    the whole engine (at every size up to ``engine_max``)."""
    embedder = real.embedder
    queries = embedder.encode(questions)
    pool = np.vstack([real.data.vectors, real.data.sent_vectors]).astype(np.float32)
    gen = Generator.from_real(pool)
    gen.calibrate(float(np.median(nn_similarities(pool))))
    tables = [generator_check(gen, pool, queries, sizes)] if sweep else []
    rows = []
    rounds = 1 if quick else 2
    for n in sizes:
        dense_s = float("nan")
        if sweep:
            t, dense, x = ann_table(n, gen, queries, quick, n <= slow_hnsw_max,
                                    keep_engine=n <= engine_max)
            tables.append(t)
            print(t.text(), flush=True)
        elif n <= engine_max:
            x = gen.sample(n, seed=n)
            t0 = time.perf_counter()
            dense = engine_index.make_faiss_index(x)
            dense_s = time.perf_counter() - t0
        else:
            continue
        if n <= engine_max and dense is not None:
            rows.append(engine_rows(n, x, dense, dense_s, gen, real, questions, queries, cfg,
                                    rounds, workdir))
            print(f"engine at {n:,} passages measured", flush=True)
        del x, dense
        gc.collect()
    if rows:
        tables.append(engine_table(rows))
        tables.append(agreement_table(rows))
        tables.append(pieces_table(rows))
    return tables
