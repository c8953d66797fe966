"""Scale: how cost grows with the corpus, on synthetic corpora of 10k to 1M passages.

Vectors come from benchmarks.synth.Generator (mixtures around the report's
real passage and sentence embeddings, noise shaped like the real covariance,
calibrated on the real nearest-neighbour similarity); the queries are the
real questions embedded by the real model. For each size: exact search and
approximate indexes (HNSW, IVF) with build time, memory, single-query latency
p50/p95 and recall@10 against exact search, the engine's own choice
(assistant.index.make_faiss_index) among them. For the smaller sizes the whole
engine runs too (synthetic passages of recombined report sentences, BM25
included), to see what besides FAISS grows with the corpus.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from assistant import index as engine_index
from benchmarks.common import Table, pct
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


def variants(n: int, quick: bool, slow_hnsw: bool) -> list[Variant]:
    out = [Variant("Flat (exact)", _flat)]
    engine = (f"engine: make_faiss_index (FLAT_MAX={engine_index.FLAT_MAX:,}, "
              f"HNSW M={engine_index.HNSW_M}, efSearch={engine_index.HNSW_EF_SEARCH})")
    if n > engine_index.FLAT_MAX:
        out.append(Variant(engine, engine_index.make_faiss_index))
    out.append(Variant("HNSW M=32 efC=40", _hnsw(32, 40), "efSearch", (32, 64, 128)))
    if not quick:
        out.append(Variant("HNSW M=16 efC=40", _hnsw(16, 40), "efSearch", (64, 128)))
    if slow_hnsw:
        out.append(Variant("HNSW M=32 efC=200", _hnsw(32, 200), "efSearch", (64, 128)))
    nl = ivf_lists(n)
    out.append(Variant(f"IVF{nl},Flat", _ivf(nl), "nprobe", (8, 16, 32, 64)))
    return out


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
    syn = nn_similarities(gen.sample(len(pool), seed=101))
    uniform = np.random.default_rng(0).standard_normal(pool.shape).astype(np.float32)
    uniform /= np.linalg.norm(uniform, axis=1, keepdims=True)
    uni = nn_similarities(uniform)

    def top1(corpus: np.ndarray) -> np.ndarray:
        return (queries @ corpus.T).max(axis=1)

    q_real, q_syn = top1(pool), top1(gen.sample(len(pool), seed=202))
    qs = [10, 25, 50, 75, 90]
    t = Table("Synthetic vectors against the real report's embeddings",
              ["distribution", *[f"p{q}" for q in qs], "KS vs real"])
    t.add(f"NN similarity, real pool ({len(pool)} passages + sentences)",
          *np.percentile(real, qs).round(3).tolist(), "–")
    t.add(f"NN similarity, synthetic, same size (tau={gen.tau:.3f})",
          *np.percentile(syn, qs).round(3).tolist(), round(ks_statistic(real, syn), 3))
    t.add("NN similarity, uniform random, same size (for contrast)",
          *np.percentile(uni, qs).round(3).tolist(), round(ks_statistic(real, uni), 3))
    t.add(f"real question -> best match, real pool ({len(queries)} questions)",
          *np.percentile(q_real, qs).round(3).tolist(), "–")
    t.add("real question -> best match, synthetic, same size",
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
        "as the corpus grows, neighbours get closer: a million passages on the same topics "
        "hold many near-paraphrases",
    ]
    return t


def ann_table(n: int, gen: Generator, queries: np.ndarray, quick: bool, slow_hnsw: bool,
              keep_engine: bool) -> tuple[Table, object, np.ndarray]:
    t0 = time.perf_counter()
    x = gen.sample(n, seed=n)
    gen_s = time.perf_counter() - t0
    reps = 3 if n <= 100_000 else 2
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
        settings = v.values or (None,)
        if v.name.startswith("engine"):
            kind = type(idx).__name__
            settings = (None,)
        for val in settings:
            if val is not None:
                _set(idx, v.knob, val)
            lat = _latency(idx, queries, reps)
            _, f10 = idx.search(queries, 10)
            _, f40 = idx.search(queries, 40)
            r10, r40 = _recall(f10, truth10), _recall(f40, truth40)
            p50 = pct(lat, 50) * 1000
            label = f"{v.knob}={val}" if val is not None else (
                kind if v.name.startswith("engine") else "")
            t.add(v.name, label, round(build_s, 2), round(mem, 0), round(p50, 2),
                  round(pct(lat, 95) * 1000, 2), round(r10, 3), round(r40, 3),
                  p50 < TARGET_P50_MS and r10 >= TARGET_RECALL)
        if keep_engine and (v.name.startswith("engine") or (
                n <= engine_index.FLAT_MAX and v.name.startswith("Flat"))):
            engine = idx
        else:
            del idx
    t.notes += [
        f"vectors generated in {gen_s:.1f} s; queries: {len(queries)} real questions; latency: "
        f"one query per search call, {reps} passes; recall against exact search (Flat)",
        f"recall@40: the engine asks FAISS for {40} candidates (Config.candidates) before fusion",
        "memory: the index as FAISS writes it, which is what it holds in RAM (the float32 "
        f"vectors alone are {n * 384 * 4 / 2**20:,.0f} MiB at this size)",
    ]
    if n <= engine_index.FLAT_MAX:
        t.notes.append(f"the engine uses Flat at this size (FLAT_MAX={engine_index.FLAT_MAX:,})")
    return t, engine, x


def synthetic_assistant(n: int, x: np.ndarray, dense, gen: Generator, real, embedder, cfg):
    """An Assistant over n synthetic passages of recombined report sentences."""
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
    t0 = time.perf_counter()
    bm25 = BM25Index.build([f"{p.context}\n{p.text}" for p in passages])
    bm25_s = time.perf_counter() - t0
    sent_vectors = gen.sample(len(spans), seed=n + 1)
    data = IndexData(real.data.path, {}, passages, [], dense, x, sent_vectors,
                     np.asarray(spans, dtype=np.int64), bm25, dict(real.data.acronyms), [])
    return Assistant(data, embedder, cfg), bm25_s, len(spans)


def engine_table(rows: list[dict]) -> Table:
    from benchmarks.speed import STAGES

    t = Table("The whole engine on synthetic corpora (Assistant.ask, warm)",
              ["passages", "sentences", "BM25 build s", "process RSS MiB",
               *[f"{s.split(' (')[0]} p50 ms" for s in STAGES[:6]], "ask p50 ms", "ask p95 ms"])
    for r in rows:
        t.add(f"{r['n']:,}", f"{r['sentences']:,}", round(r["bm25_s"], 1), round(r["rss"], 0),
              *[round(pct(r["per"][s], 50) * 1000, 2) for s in STAGES[:6]],
              round(pct(r["per"]["ask total"], 50) * 1000, 1),
              round(pct(r["per"]["ask total"], 95) * 1000, 1))
    t.notes += [
        "passages are runs of 2-6 real report sentences in random order (word statistics of "
        "the report), under real section titles, 200 per synthetic document; passage and "
        "sentence vectors come from the generator, so these rows measure cost, not quality",
        "the dense index is the engine's own choice at that size; 'rest of retrieval' is "
        "retrieve() minus the timed parts: full-corpus passage and sentence cosines, the "
        "sentence maximum per passage and the full sort of it, which grow linearly",
    ]
    return t


def run(sizes: list[int], quick: bool, real, questions: list[str], cfg,
        engine_max: int = 100_000, slow_hnsw_max: int = 100_000) -> list[Table]:
    from benchmarks.speed import stage_samples

    embedder = real.embedder
    queries = embedder.encode(questions)
    pool = np.vstack([real.data.vectors, real.data.sent_vectors]).astype(np.float32)
    gen = Generator.from_real(pool)
    gen.calibrate(float(np.median(nn_similarities(pool))))
    tables = [generator_check(gen, pool, queries, sizes)]
    engine_rows = []
    for n in sizes:
        t, dense, x = ann_table(n, gen, queries, quick, n <= slow_hnsw_max,
                                keep_engine=n <= engine_max)
        tables.append(t)
        print(t.text(), flush=True)
        if n <= engine_max and dense is not None:
            a, bm25_s, n_sent = synthetic_assistant(n, x, dense, gen, real, embedder, cfg)
            for q in questions[:3]:
                a.ask(q)
            per = stage_samples(a, questions, 1)
            engine_rows.append({"n": n, "sentences": n_sent, "bm25_s": bm25_s, "rss": _rss_mib(),
                                "per": per})
            del a
        del x, dense
        gc.collect()
    if engine_rows:
        tables.append(engine_table(engine_rows))
    return tables
