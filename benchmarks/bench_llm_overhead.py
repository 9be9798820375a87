"""Per-request cost of the LLM path over the real extractive pipeline, side by side.

One process, one MiniLM, one index (kb/sample ingested into a temp dir as in
benchmarks/bench_speed.py), and three ``assistant.pipeline.Pipeline`` objects that
share the embedder and the index (decision log off):

    extractive     Settings without an endpoint: no model, extractive answers
    llm            LLM enabled, tests/fake_llm.py on 127.0.0.1 answering at once with
                   a grounded reply (the first sentences of the first source it was
                   given, each citing that source's id), so the model stage runs in
                   full: prompt, HTTP call, grounding check
    breaker_open   LLM enabled, circuit breaker held open (as during an outage, past
                   ``llm_breaker_failures`` failures, cool-down never ends): the model
                   is skipped and the surface's fallback applies (email: extractive
                   answer; chat: ``llm_unavailable`` escalation, the shipped defaults)

The dev requests (evals/data/dev.jsonl, 132) run ``--rounds`` times, interleaved: each
request goes through all three paths back to back, in an order that rotates from
request to request, so load drift on the shared cores hits every path alike. Before
each timed call the per-text encoder caches (classifier layer features, guardrail
segment vectors) are emptied, so each path pays for a request it has never seen, as
in production, rather than the first path paying and the other two reading the cache.

The breaker-open pipeline points at the same fake server, so a call that leaked past
the breaker would show up in its request count (reported as
``breaker_open.server_calls``; must be 0).

Reported per path: p50 / mean / p95 over ALL requests and over the requests the
extractive path answers (only those reach the answer stage, so only those can call
the model; escalated requests never do), and the overhead of ``llm`` and
``breaker_open`` over ``extractive`` in ms and % (difference of p50s, of means, and
the median of the per-request paired differences, the figure least moved by load
from other processes). The LLM stage itself is timed inside each pipeline too
(``stage``): for ``breaker_open`` that is exactly the latency the outage path adds.
A table, then one JSON object.

    python benchmarks/bench_llm_overhead.py                  # the 132 dev requests, 3 rounds
    python benchmarks/bench_llm_overhead.py --rounds 1       # one pass, a third of the time
    python benchmarks/bench_llm_overhead.py --index DIR      # reuse an ingested index
    python benchmarks/bench_llm_overhead.py --standalone     # client cost only, no pipeline
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_speed import ingest  # noqa: E402  (the same ingest as the speed benchmark)
from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.errors import LLMUnavailable  # noqa: E402
from assistant.llm import LLMClient  # noqa: E402
from assistant.prompts import SourceText, build_messages  # noqa: E402
from tests.fake_llm import FakeLLM  # noqa: E402

PATHS = ("extractive", "llm", "breaker_open")
_SOURCE_RE = re.compile(r'<source id="([^"]+)"[^>]*>\n(.*?)\n</source>', re.S)


# --- the fake model's reply --------------------------------------------------------

def grounded_reply(body: dict) -> str:
    """A reply built from the prompt's own sources: the first two full sentences of the
    first source, verbatim, each citing that source (what a well-behaved model writes;
    it passes the grounding check). No sources: the hand-over line, citing nothing."""
    from assistant.grounding import split_sentences

    user = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"), "")
    found = _SOURCE_RE.search(user)
    if not found:
        return "I am passing your request to a PAM support specialist."
    source_id, text = found.group(1), found.group(2)
    sentences = [s for s in split_sentences(text) if len(s.split()) >= 5 and "[" not in s]
    picked = sentences[:2] or [text.strip().split("\n")[0]]
    return " ".join(f"{s.rstrip('.')}. [{source_id}]" for s in picked)


# --- the pipeline benchmark ---------------------------------------------------------

def _stats(samples: list[float]) -> dict:
    if not samples:
        return {"n": 0, "p50_ms": None, "mean_ms": None, "p95_ms": None}
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 2),
    }


def _overhead(path: dict, base: dict) -> dict:
    out = {}
    for stat in ("p50", "mean"):
        a, b = path[f"{stat}_ms"], base[f"{stat}_ms"]
        if a is None or b is None:
            out[f"overhead_{stat}_ms"] = out[f"overhead_{stat}_pct"] = None
            continue
        out[f"overhead_{stat}_ms"] = round(a - b, 2)
        out[f"overhead_{stat}_pct"] = round((a - b) / b * 100, 1)
    return out


def _paired(path: list[float], base: list[float]) -> dict:
    """Median and mean of the per-request differences (same request, same moment)."""
    diffs = [a - b for a, b in zip(path, base)]
    if not diffs:
        return {"paired_median_ms": None, "paired_mean_ms": None}
    return {"paired_median_ms": round(statistics.median(diffs) * 1000, 2),
            "paired_mean_ms": round(statistics.fmean(diffs) * 1000, 2)}


class _TimedStage:
    """The pipeline's LLM stage, timing each call (a refusal or failure included)."""

    def __init__(self, stage):
        self.stage = stage
        self.samples: list[float] = []

    def __getattr__(self, name):
        return getattr(self.stage, name)

    def run(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.stage.run(*args, **kwargs)
        finally:
            self.samples.append(time.perf_counter() - start)


def _forget_request_encodings(embedder) -> None:
    """Empty the per-text encoder caches, so the next request is new to the process.

    Both caches are keyed by the request's text; across three pipelines in one process
    the first path to see a request would pay for the encoder and the others read it.
    """
    import guardrails
    from assistant.classifier import LayerFeatures

    with LayerFeatures._cache_lock:
        LayerFeatures._cache.clear()
    with guardrails._lock:
        guardrails._segment_cache.pop(embedder, None)


def build_pipelines(index_dir: Path, embedder, server_url: str) -> dict:
    """The three pipelines on one embedder and one index; the third one's breaker open."""
    from assistant.llm_stage import LLMStage
    from assistant.pipeline import Pipeline

    base = Pipeline.load(Settings(index=index_dir), embedder=embedder)
    llm_settings = Settings(index=index_dir, openai_base_url=server_url, openai_api_key="bench")
    # Held open for the whole run: the cool-down never ends, so no half-open trial call.
    open_settings = llm_settings.model_copy(update={"llm_breaker_cooldown_s": 1e9})

    def sharing(settings: Settings, stage: LLMStage) -> Pipeline:
        return Pipeline(settings, embedder, base.index, base.classifier, base.priority, base.manifest,
                        decision_log=None, llm=stage)

    llm = sharing(llm_settings, LLMStage(llm_settings, embedder))
    open_stage = LLMStage(open_settings, embedder)
    breaker = open_stage.answerer.client.breaker
    for _ in range(open_settings.llm_breaker_failures):
        breaker.record_failure()  # as after that many failed calls to a server that is down
    assert breaker.state == "open", breaker.state
    return {"extractive": base, "llm": llm, "breaker_open": sharing(open_settings, open_stage)}


def _time_stages(pipelines: dict) -> dict[str, _TimedStage]:
    timers = {}
    for name in ("llm", "breaker_open"):
        timers[name] = pipelines[name].llm = _TimedStage(pipelines[name].llm)
    return timers


def load_requests(path: Path, n: int | None = None) -> list:
    """The requests of an evaluation file, read as `assistant eval` reads them (bad lines fail loudly)."""
    from evals.runner import read_cases

    cases, bad = read_cases(path)
    if bad:
        raise SystemExit("\n".join(b.message for b in bad))
    reqs = [c.request for c in cases]
    return reqs[:n] if n else reqs


def run(
    *,
    kb: Path = ROOT / "kb" / "sample",
    requests: Path = ROOT / "evals" / "data" / "dev.jsonl",
    n: int | None = None,
    rounds: int = 3,
    warmup: int = 6,
    embedder=None,
    index_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Time the three pipelines on the first ``n`` dev requests (all if None), ``rounds`` times.

    ``index_dir`` given: use that ingested index instead of ingesting ``kb`` into a temp dir.
    ``warmup`` requests (per path, untimed) first warm torch and the grounding checker.
    """
    if embedder is None:
        from retrieval.embedder import Embedder

        embedder = Embedder.default()
    reqs = load_requests(Path(requests), n)
    with tempfile.TemporaryDirectory(prefix="bench-llm-") as tmp:
        ingest_s = None
        if index_dir is None:
            index_dir = Path(tmp)
            ingest_s = ingest(Path(kb), index_dir, embedder)
            if progress:
                progress(f"ingested {kb} in {ingest_s:.1f} s")
        server = FakeLLM().start()
        try:
            server.script([], then=grounded_reply)
            pipelines = build_pipelines(Path(index_dir), embedder, server.url)
            open_breaker = pipelines["breaker_open"].llm.answerer.client.breaker
            for r in reqs[:warmup]:
                for name in PATHS:
                    pipelines[name].run(r)
            stages = _time_stages(pipelines)  # after the warm-up: only timed requests count

            times: dict[str, list[float]] = {p: [] for p in PATHS}
            calls: dict[str, int] = {p: 0 for p in PATHS}
            answered_idx: list[int] = []      # sample positions the extractive path answered
            model_used = 0                    # llm-path answers written by the model (grounded)
            llm_routes_differ = 0
            k = 0
            for rnd in range(rounds):
                t_round = time.perf_counter()
                for i, req in enumerate(reqs):
                    order = PATHS[k % 3:] + PATHS[: k % 3]
                    routes = {}
                    for name in order:
                        _forget_request_encodings(embedder)
                        before = len(server.requests)
                        start = time.perf_counter()
                        result = pipelines[name].run(req)
                        elapsed = time.perf_counter() - start
                        calls[name] += len(server.requests) - before
                        times[name].append(elapsed)
                        routes[name] = result
                    if routes["extractive"].route == "answer":
                        answered_idx.append(k)
                    if "written by the model" in routes["llm"].rationale:
                        model_used += 1
                    if routes["llm"].route != routes["extractive"].route:
                        llm_routes_differ += 1
                    k += 1
                if progress:
                    progress(f"round {rnd + 1}/{rounds}: {len(reqs)} requests x 3 paths in "
                             f"{time.perf_counter() - t_round:.1f} s")
            breaker_state = open_breaker.state
        finally:
            server.stop()

    answered = set(answered_idx)
    report: dict = {"requests": len(reqs), "rounds": rounds, "samples_per_path": k,
                    "answered_per_round": len(answered) // max(rounds, 1),
                    "escalated_per_round": (k - len(answered)) // max(rounds, 1)}
    for scope in ("all", "answered"):
        pick = (lambda s: s) if scope == "all" else (lambda s: [x for j, x in enumerate(s) if j in answered])
        block = {p: _stats(pick(times[p])) for p in PATHS}
        for p in ("llm", "breaker_open"):
            block[p].update(_overhead(block[p], block["extractive"]))
            block[p].update(_paired(pick(times[p]), pick(times["extractive"])))
        report[scope] = block
    stage_stats = {p: _stats(stages[p].samples) for p in ("llm", "breaker_open")}
    report["llm"] = {"server_calls": calls["llm"], "answers_by_model": model_used,
                     "route_differs_from_extractive": llm_routes_differ, "stage": stage_stats["llm"]}
    report["breaker_open"] = {"server_calls": calls["breaker_open"], "breaker_state_at_end": breaker_state,
                              "stage": stage_stats["breaker_open"]}
    report["extractive"] = {"server_calls": calls["extractive"]}
    report["ingest_s"] = round(ingest_s, 2) if ingest_s is not None else None
    return report


def format_table(report: dict) -> str:
    lines = []
    head = f"{'path':<14}{'scope':<10}{'n':>5}{'p50 ms':>10}{'mean ms':>10}{'p95 ms':>10}" \
           f"{'+p50 ms':>10}{'+p50 %':>9}{'+mean ms':>10}{'+mean %':>9}{'paired med':>12}"
    lines.append(head)
    lines.append("-" * len(head))

    def f(v, spec):
        return format(v, spec) if v is not None else "-"

    for scope in ("all", "answered"):
        for p in PATHS:
            s = report[scope][p]
            lines.append(
                f"{p:<14}{scope:<10}{s['n']:>5}{f(s['p50_ms'], '10.1f')}{f(s['mean_ms'], '10.1f')}"
                f"{f(s['p95_ms'], '10.1f')}{f(s.get('overhead_p50_ms'), '+10.1f') if p != 'extractive' else '':>10}"
                f"{f(s.get('overhead_p50_pct'), '+8.1f') + '%' if p != 'extractive' else '':>9}"
                f"{f(s.get('overhead_mean_ms'), '+10.1f') if p != 'extractive' else '':>10}"
                f"{f(s.get('overhead_mean_pct'), '+8.1f') + '%' if p != 'extractive' else '':>9}"
                f"{f(s.get('paired_median_ms'), '+12.2f') if p != 'extractive' else '':>12}"
            )
    lines.append("")
    lines.append(f"{report['requests']} dev requests x {report['rounds']} rounds; per round "
                 f"{report['answered_per_round']} answered (reach the answer stage), "
                 f"{report['escalated_per_round']} escalated (never call the model).")
    lines.append(f"llm path: {report['llm']['server_calls']} calls to the server, "
                 f"{report['llm']['answers_by_model']} answers written by the model; "
                 f"breaker_open path: {report['breaker_open']['server_calls']} calls "
                 f"(breaker {report['breaker_open']['breaker_state_at_end']}).")
    for p in ("llm", "breaker_open"):
        st = report[p]["stage"]
        lines.append(f"{p} stage alone ({st['n']} calls): p50 {f(st['p50_ms'], '.2f')} ms, "
                     f"mean {f(st['mean_ms'], '.2f')} ms, p95 {f(st['p95_ms'], '.2f')} ms")
    return "\n".join(lines)


# --- the old standalone mode: the client's own cost, no pipeline ----------------------

_SOURCES = [SourceText(
    "rb-pam-not-answering-calls", "PAM is not answering calls at all",
    "Open Dashboard > Settings > Call Routing > Status. It must say Live. If it says Paused, click "
    "Resume; calls are answered again within 2 minutes.",
)]
_TEXTS = ["PAM is not answering calls since this morning", "Callers hear endless ringing instead of PAM",
          "Our line looks paused in the dashboard, what do we do?", "Nobody gets PAM when they call the store"]


def run_standalone(*, n: int = 200, warmup: int = 20) -> dict:
    """Prompt + HTTP call to the instant server, and a call the open breaker refuses, vs nothing."""
    server = FakeLLM().start()
    try:
        server.script([], then=grounded_reply)
        settings = Settings(openai_base_url=server.url, openai_api_key="bench")
        client = LLMClient(settings)
        open_client = LLMClient(settings.model_copy(update={"llm_breaker_cooldown_s": 1e9}))
        for _ in range(settings.llm_breaker_failures):
            open_client.breaker.record_failure()

        def breaker_open(text: str) -> None:
            try:
                open_client.complete(build_messages(text, _SOURCES, "email"))
            except LLMUnavailable:
                return
            raise AssertionError("breaker-open path reached the model")

        paths = {"llm_call": lambda t: client.complete(build_messages(t, _SOURCES, "email")),
                 "breaker_open_call": breaker_open}
        samples: dict[str, list[float]] = {p: [] for p in paths}
        for i in range(warmup + n):
            for name, fn in paths.items():
                start = time.perf_counter()
                fn(_TEXTS[i % len(_TEXTS)])
                if i >= warmup:
                    samples[name].append(time.perf_counter() - start)
        calls = len(server.requests)
    finally:
        server.stop()
    return {**{p: _stats(s) for p, s in samples.items()}, "server_calls": calls}


def main(argv: list[str] | None = None) -> int:
    limit_blas_threads()  # as the CLI and the app do: the pipeline's speed depends on it
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", default=str(ROOT / "kb" / "sample"))
    parser.add_argument("--index", default=None, help="use this ingested index instead of ingesting --kb")
    parser.add_argument("--requests", default=str(ROOT / "evals" / "data" / "dev.jsonl"))
    parser.add_argument("--n", type=int, default=None, help="first N requests only (default: all)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the requests (default 3)")
    parser.add_argument("--warmup", type=int, default=6, help="untimed requests per path first")
    parser.add_argument("--standalone", action="store_true",
                        help="old mode: the LLM client's own cost per call, no pipeline, no MiniLM")
    args = parser.parse_args(argv)
    if args.standalone:
        print(json.dumps(run_standalone(n=args.n or 200), indent=2))
        return 0
    report = run(kb=Path(args.kb), requests=Path(args.requests), n=args.n, rounds=args.rounds,
                 warmup=args.warmup, index_dir=Path(args.index) if args.index else None, progress=lambda m: print(m, file=sys.stderr, flush=True))
    print(format_table(report))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
