"""Speed and memory, as ratios against the tutorial pipeline in the same run.

* index build for the report (first build, then a second one over the same
  corpus that reuses the content-hash embedding cache), embedding throughput;
* warm in-process latency of Assistant.ask and .search against the tutorial
  pipeline's query (embed + FAISS flat search), interleaved question by
  question so both see the same machine;
* where ask's time goes, by timing the engine's pieces from the outside
  (wrapping the embedder, the FAISS index, BM25, RRF and compose of a loaded
  Assistant; no engine code is changed);
* cold start of the CLI and the app in fresh processes, against
  `import sentence_transformers` alone, with -X importtime to see what dominates;
* peak RSS of a process serving questions.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.config import Config
from assistant.embed import Embedder
from assistant.evaluate import load_questions
from assistant.index import build_index, embed_text
from benchmarks.common import DEV_QUESTIONS, OUT_OF_SCOPE, ROOT, Table, pct, rss_peak_kib

TARGET_P50 = 1.3
TARGET_P95 = 2.0


@dataclass
class Fixture:
    """A fresh index of the report in a temporary folder, built twice (timed)."""

    cfg: Config
    embedder: Embedder
    model_load_s: float
    builds: list[tuple[float, dict]]  # (seconds, manifest) of each build
    questions: list[str]
    questions_file: Path


def make_fixture(workdir: Path) -> Fixture:
    cfg = Config.from_env(index_dir=workdir / "index")
    embedder = Embedder(cfg.model, cfg.device, cfg.batch_size)
    t0 = time.perf_counter()
    embedder.encode_query("warm up")  # import torch + load the model, outside the build figure
    model_load = time.perf_counter() - t0
    builds = []
    for _ in range(2):
        t0 = time.perf_counter()
        data = build_index(cfg, embedder)
        builds.append((time.perf_counter() - t0, data.manifest))
    qs = load_questions(DEV_QUESTIONS) + (
        load_questions(OUT_OF_SCOPE) if OUT_OF_SCOPE.exists() else [])
    qfile = workdir / "questions.jsonl"
    qfile.write_text("".join(json.dumps({"question": q["question"]}) + "\n" for q in qs))
    return Fixture(cfg, embedder, model_load, builds, [q["question"] for q in qs], qfile)


# --- build -------------------------------------------------------------------

def build_table(fx: Fixture, assistant) -> Table:
    (t1, m1), (t2, m2) = fx.builds
    t = Table("Index build of the report", ["what", "value"])
    t.add("passages / sentences", f"{m1['passages']} / {m1['sentences']}")
    t.add("first build, empty cache (s)", round(t1, 2))
    t.add("  texts embedded", m1["newly_embedded"])
    t.add("  passages per second (whole build)", round(m1["passages"] / t1, 1))
    t.add("second build, unchanged corpus (s)", round(t2, 2))
    t.add("  texts embedded", m2["newly_embedded"])
    t.add("  second / first", f"{t2 / t1:.3f}")
    # Throughput of the model alone, on the texts the index embeds.
    ptexts = [embed_text(p) for p in assistant.passages]
    stexts = [assistant.passages[i].text[a:b] for i, a, b in assistant.data.sent_spans]
    t0 = time.perf_counter()
    fx.embedder.encode(ptexts)
    p_rate = len(ptexts) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    fx.embedder.encode(stexts)
    s_rate = len(stexts) / (time.perf_counter() - t0)
    t.add("embedding throughput: passages/s (batch 32)", round(p_rate, 1))
    t.add("embedding throughput: sentences/s (batch 32)", round(s_rate, 1))
    per_passage = len(stexts) / len(ptexts)
    t.add("implied time to embed 1M passages (h)", round(1e6 / p_rate / 3600, 1))
    t.add(f"  plus their ~{per_passage:.1f}M sentence vectors, as the engine builds (h)",
          round((1e6 / p_rate + 1e6 * per_passage / s_rate) / 3600, 1))
    t.notes += [
        f"model load before the builds (import torch + MiniLM): {fx.model_load_s:.2f} s, "
        "not counted in the build times",
        "the first build embeds every passage and sentence; the second finds them all in the "
        "content-hash cache (embcache.npz of the live version) and only re-parses, re-chunks "
        "and re-indexes",
    ]
    return t


# --- warm latency --------------------------------------------------------------

def latency(assistant, tutorial, questions: list[str], rounds: int) -> tuple[Table, dict]:
    for q in questions[:5]:  # warm every path once
        tutorial.query(q)
        assistant.ask(q)
        assistant.search(q)
    runs: dict[str, Callable[[str], object]] = {
        "tutorial query (embed + FAISS flat, top 5)": tutorial.query,
        "Assistant.search (k=5)": assistant.search,
        "Assistant.ask (k=5)": assistant.ask,
    }
    names = list(runs)
    samples: dict[str, list[float]] = defaultdict(list)
    for r in range(rounds):
        for i, q in enumerate(questions):
            # Rotate the order so no system always runs right after another.
            for j in range(3):
                name = names[(i + j + r) % 3]
                t0 = time.perf_counter()
                runs[name](q)
                samples[name].append(time.perf_counter() - t0)
    base50 = pct(samples[names[0]], 50)
    base95 = pct(samples[names[0]], 95)
    t = Table(f"Warm query latency, in process ({len(questions)} questions x {rounds} rounds)",
              ["query", "p50 ms", "p95 ms", "p50 / tutorial", "p95 / tutorial"])
    stats = {}
    for name in names:
        p50, p95 = pct(samples[name], 50), pct(samples[name], 95)
        stats[name] = (p50, p95)
        t.add(name, round(p50 * 1000, 1), round(p95 * 1000, 1), f"{p50 / base50:.2f}x",
              f"{p95 / base95:.2f}x")
    a50, a95 = stats[names[2]]
    ok50, ok95 = a50 / base50 <= TARGET_P50, a95 / base95 <= TARGET_P95
    t.notes.append(
        f"targets: ask p50 within {TARGET_P50}x of the tutorial query: "
        f"{'met' if ok50 else 'NOT met'} ({a50 / base50:.2f}x); p95 within {TARGET_P95}x: "
        f"{'met' if ok95 else 'NOT met'} ({a95 / base95:.2f}x)")
    t.notes.append("questions: the dev set plus eval/out_of_scope.jsonl, as a reader types them")
    return t, {"ratio_p50": a50 / base50, "ratio_p95": a95 / base95}


class _Clock:
    def __init__(self) -> None:
        self.t: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn: Callable) -> Callable:
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.t[name] += time.perf_counter() - t0
        return timed


class _Proxy:
    """Stands in for an engine object, timing some methods, passing the rest through."""

    def __init__(self, obj: object, **methods: Callable) -> None:
        self.__dict__["_obj"] = obj
        self.__dict__.update(methods)

    def __getattr__(self, name: str):
        return getattr(self._obj, name)


STAGES = ["query embedding", "dense search (FAISS)", "sentence search (FAISS)", "BM25",
          "fusion (RRF)", "rest of retrieval (sentence scores, ranking, de-duplication)",
          "answer composition", "question cleaning and the rest"]
# The stages retrieve() calls out to; "rest of retrieval" is retrieve() minus them.
INNER = STAGES[:5]
REST, COMPOSE, OTHER = STAGES[5], STAGES[6], STAGES[7]


def stage_samples(assistant, questions: list[str], rounds: int) -> dict[str, list[float]]:
    """Seconds per stage of each ask, by wrapping the engine's pieces from outside."""
    import assistant.api as api_mod
    import assistant.retrieve.hybrid as hybrid_mod

    clock = _Clock()
    data, emb, retr = assistant.data, assistant.embedder, assistant.retriever
    saved = (data.dense, data.bm25, hybrid_mod.rrf, api_mod.compose)
    sent_saved = getattr(data, "sent_dense", None)
    emb.encode_query = clock.wrap("query embedding", type(emb).encode_query.__get__(emb))
    data.dense = _Proxy(saved[0], search=clock.wrap("dense search (FAISS)", saved[0].search))
    if sent_saved is not None:  # asked only when retrieval takes candidates (large corpora)
        data.sent_dense = _Proxy(sent_saved, search=clock.wrap("sentence search (FAISS)",
                                                              sent_saved.search))
    data.bm25 = _Proxy(saved[1], scores=clock.wrap("BM25", saved[1].scores))
    hybrid_mod.rrf = clock.wrap("fusion (RRF)", saved[2])
    api_mod.compose = clock.wrap("answer composition", saved[3])
    retr.retrieve = clock.wrap("retrieve", type(retr).retrieve.__get__(retr))
    per: dict[str, list[float]] = defaultdict(list)
    try:
        for _ in range(rounds):
            for q in questions:
                clock.t.clear()
                t0 = time.perf_counter()
                assistant.ask(q)
                total = time.perf_counter() - t0
                parts = dict(clock.t)
                for s in INNER:
                    parts.setdefault(s, 0.0)
                inner = sum(parts[s] for s in INNER)
                parts[REST] = parts.pop("retrieve") - inner
                parts[OTHER] = total - parts[REST] - inner - parts[COMPOSE]
                parts["ask total"] = total
                for k, v in parts.items():
                    per[k].append(v)
    finally:
        del emb.encode_query, retr.retrieve
        data.dense, data.bm25, hybrid_mod.rrf, api_mod.compose = saved
        if sent_saved is not None:
            data.sent_dense = sent_saved
    return per


def stages(assistant, questions: list[str], rounds: int) -> Table:
    per = stage_samples(assistant, questions, rounds)
    t = Table("Where Assistant.ask spends its time (instrumented pass)",
              ["stage", "p50 ms", "p95 ms", "mean share"])
    mean_total = sum(per["ask total"]) / len(per["ask total"])
    for s in [*STAGES, "ask total"]:
        xs = per[s]
        t.add(s, round(pct(xs, 50) * 1000, 2), round(pct(xs, 95) * 1000, 2),
              f"{sum(xs) / len(xs) / mean_total:.0%}")
    t.notes.append("timed by wrapping the embedder, FAISS index, BM25, rrf and compose of one "
                   "loaded Assistant from outside (no engine change; wrappers add microseconds); "
                   "'rest of retrieval' is retrieve() minus the wrapped parts: passage and "
                   "sentence cosines (of every passage up to Config.exhaustive_max sentences, "
                   "of the candidates above), rankings, near-duplicate checks; the sentence "
                   "index is searched only above exhaustive_max, so it shows 0 on the report")
    return t


# --- cold start ---------------------------------------------------------------

def _env(cfg: Config) -> dict[str, str]:
    env = dict(os.environ)
    env["REPORT_ASSISTANT_INDEX_DIR"] = str(cfg.index_dir)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _wall(cmd: list[str], env: dict[str, str], repeats: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeats):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
        times.append(time.perf_counter() - t0)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {p.stderr[-2000:]}")
        out = p.stdout
    return pct(times, 50), out


def import_profile(cmd: list[str], env: dict[str, str], top: int = 10) -> list[tuple[str, float]]:
    """Import time by top-level package (python -X importtime, self times summed).

    Self times are summed so torch imported by transformers counts as torch,
    not as whoever imported it first.
    """
    p = subprocess.run([sys.executable, "-X", "importtime", *cmd], env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    totals: dict[str, float] = defaultdict(float)
    for line in p.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _, name = line[len("import time:"):].split("|", 2)
        totals[name.strip().split(".")[0]] += int(self_us) / 1e6
    return sorted(totals.items(), key=lambda kv: -kv[1])[:top]


def cold_start(fx: Fixture, repeats: int) -> tuple[Table, Table]:
    env = _env(fx.cfg)
    py = sys.executable
    question = fx.questions[0]
    t_st, _ = _wall([py, "-c", "import sentence_transformers"], env, repeats)
    t_torch, _ = _wall([py, "-c", "import torch"], env, repeats)
    t_py, _ = _wall([py, "-c", "pass"], env, repeats)
    t_tf, _ = _wall([py, "-c", "import torch; from transformers import AutoModel, AutoTokenizer"],
                    env, repeats)
    t_cli, _ = _wall([py, "-m", "assistant", "ask", question], env, repeats)
    _, out = _wall([py, "-m", "benchmarks.coldstart", question], env, 1)
    phases = json.loads(out)["phases"]
    table = Table(f"Cold start (fresh processes, median of {repeats})",
                  ["what", "seconds", "/ import sentence_transformers"])
    table.add("python -c pass", round(t_py, 2), f"{t_py / t_st:.2f}x")
    table.add("import torch", round(t_torch, 2), f"{t_torch / t_st:.2f}x")
    table.add("import torch + transformers AutoModel/AutoTokenizer (no sentence-transformers)",
              round(t_tf, 2), f"{t_tf / t_st:.2f}x")
    table.add("import sentence_transformers", round(t_st, 2), "1.00x")
    table.add("CLI: python -m assistant ask \"...\" (to exit)", round(t_cli, 2),
              f"{t_cli / t_st:.2f}x")
    app = app_start(fx, env)
    if app is not None:
        table.add("app: start to first HTTP 200", round(app["ready_s"], 2),
                  f"{app['ready_s'] / t_st:.2f}x")
        if app["first_answer_s"]:
            table.add("app: start to first answer through its /ask API",
                      round(app["first_answer_s"], 2), f"{app['first_answer_s'] / t_st:.2f}x")
    else:
        table.notes.append("app.py not found: app time to serve not measured")
    table.notes.append("phases of a fresh process up to its first answer "
                       "(python -m benchmarks.coldstart, same path as the CLI):")
    for k, v in phases.items():
        table.notes.append(f"{k}: {v:.2f} s")
    prof = import_profile(["-m", "assistant", "ask", question], env)
    table.notes.append("python -X importtime on the CLI ask, import time by package (self times "
                       "summed; importtime inflates them): "
                       + ", ".join(f"{k} {v:.2f} s" for k, v in prof))
    mem = memory(fx, env, app)
    return table, mem


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_start(fx: Fixture, env: dict[str, str]) -> dict | None:
    """Start app.py, time until its port answers, ask questions through it, read peak RSS."""
    app = ROOT / "app.py"
    if not app.exists():
        return None
    port = _free_port()
    env = env | {"REPORT_ASSISTANT_PORT": str(port), "REPORT_ASSISTANT_HOST": "127.0.0.1",
                 "GRADIO_ANALYTICS_ENABLED": "False"}
    with tempfile.TemporaryFile() as log:
        return _serve_app(app, port, env, log, fx.questions)


def _serve_app(app: Path, port: int, env: dict[str, str], log, questions: list[str]) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(app)], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    ready = None
    try:
        while time.perf_counter() - t0 < 300 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        ready = time.perf_counter() - t0
                        break
            except OSError:
                time.sleep(0.05)
        if ready is None:
            log.seek(0)
            raise RuntimeError("app did not serve: " + log.read()[-2000:].decode(errors="replace"))
        rss_idle = rss_peak_kib(proc.pid)
        served, err, first = _ask_app(port, questions)
        return {"ready_s": ready, "first_answer_s": first - t0 if first else None,
                "rss_idle_kib": rss_idle, "rss_peak_kib": rss_peak_kib(proc.pid),
                "served": served, "error": err}
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ask_app(port: int, questions: list[str]) -> tuple[int, str, float | None]:
    """Ask through the app's own API with gradio_client.

    Returns how many questions were served, an error if any, and when the
    first answer arrived (perf_counter), which includes any index or model
    loading the app does after its port opens.
    """
    try:
        from gradio_client import Client
    except ImportError:
        return 0, "gradio_client not installed", None
    served, first = 0, None
    try:
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        names = list(client.view_api(print_info=False, return_format="dict")
                     .get("named_endpoints", {}))
        ask = "/ask" if "/ask" in names else next((n for n in names if "ask" in n), None)
        if ask is None:
            return 0, f"no ask endpoint among {names}", None
        for q in questions:
            client.predict(q, api_name=ask)
            served += 1
            first = first or time.perf_counter()
        return served, "", first
    except Exception as exc:  # the app is someone else's; report, do not crash the suite
        return served, f"{type(exc).__name__}: {exc}", first


def memory(fx: Fixture, env: dict[str, str], app: dict | None) -> Table:
    _, out = _wall([sys.executable, "-m", "benchmarks.coldstart", fx.questions[0], "--serve",
                    str(fx.questions_file)], env, 1)
    res = json.loads(out)
    t = Table("Peak memory (RSS)", ["process", "peak RSS MiB"])
    t.add(f"library: load + {res['served'] + 2} asks (python -m benchmarks.coldstart)",
          round(res["peak_rss_kib"] / 1024, 1))
    if app is not None:
        t.add("app: after start, before queries", round((app["rss_idle_kib"] or 0) / 1024, 1))
        t.add(f"app: after serving {app['served']} asks over HTTP",
              round((app["rss_peak_kib"] or 0) / 1024, 1))
        if app["error"]:
            t.notes.append(f"asking through the app failed: {app['error']}")
    t.notes.append("peak RSS is the kernel's high-water mark (ru_maxrss / VmHWM)")
    return t
