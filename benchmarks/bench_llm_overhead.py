"""Per-request overhead of the LLM path over a baseline that uses no model.

Three paths run interleaved (round-robin, so load drift hits all alike) on the same
requests:

    baseline       baseline(request)                        the no-LLM pipeline
    llm            baseline(request) + prompt + HTTP call   server answers at once
                   (+ grounding check with --grounding)
    breaker_open   baseline(request) + a call the open breaker refuses (the outage path)

and the report gives each path's latency and its overhead over the baseline (p50 and
mean difference) as JSON. The server is tests/fake_llm.py on 127.0.0.1, so the LLM
number is our own cost (openai client, HTTP, JSON, retry wrapper), not a model's.

Standalone, with a trivial baseline:

    python benchmarks/bench_llm_overhead.py --n 300
    python benchmarks/bench_llm_overhead.py --grounding        # loads MiniLM

From the pipeline: ``run(lambda text: pipeline.run(...), n=200)``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant.config import Settings  # noqa: E402
from assistant.errors import LLMUnavailable  # noqa: E402
from assistant.llm import LLMAnswerer, LLMClient  # noqa: E402
from assistant.prompts import SourceText, build_messages  # noqa: E402
from tests.fake_llm import FakeLLM  # noqa: E402

SOURCES = [
    SourceText(
        "rb-pam-not-answering-calls",
        "PAM is not answering calls at all",
        "Open Dashboard > Settings > Call Routing > Status. It must say Live. If it says Paused, click "
        "Resume; calls are answered again within 2 minutes.",
    )
]
ANSWER = (
    "Open Dashboard > Settings > Call Routing > Status and check that it says Live. [rb-pam-not-answering-calls] "
    "If it says Paused, click Resume; calls are answered again within 2 minutes. [rb-pam-not-answering-calls]"
)
REQUESTS = [
    "PAM is not answering calls since this morning",
    "Callers hear endless ringing instead of PAM",
    "Our line looks paused in the dashboard, what do we do?",
    "Nobody gets PAM when they call the store",
]


def trivial_baseline(text: str) -> str:
    """Stands in for the no-LLM pipeline until the lead hooks the real one in."""
    return f"{SOURCES[0].text.split('. ')[0]}. ({len(text)} chars read)"


def _stats(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 3),
    }


def run(
    baseline: Callable[[str], object] = trivial_baseline,
    *,
    n: int = 200,
    warmup: int = 20,
    embedder=None,
    channel: str = "email",
) -> dict:
    """Time the three paths ``n`` times each (after ``warmup``) and report overhead vs baseline.

    ``embedder`` given: the LLM path includes the grounding check (LLMAnswerer.run).
    """
    server = FakeLLM().start()
    try:
        server.script([], then=ANSWER)
        settings = Settings(openai_base_url=server.url, llm_read_timeout_s=5.0, llm_budget_s=10.0)
        client = LLMClient(settings)
        answerer = LLMAnswerer(settings, embedder, client=client) if embedder is not None else None
        # A second client whose breaker is held open, as during an outage.
        open_client = LLMClient(settings.model_copy(update={"llm_breaker_cooldown_s": 1e9}))
        for _ in range(settings.llm_breaker_failures):
            open_client.breaker.record_failure()

        def llm_path(text: str) -> None:
            baseline(text)
            if answerer is not None:
                answerer.run(text, SOURCES, channel)
            else:
                client.complete(build_messages(text, SOURCES, channel))

        def breaker_open_path(text: str) -> None:
            baseline(text)
            try:
                open_client.complete(build_messages(text, SOURCES, channel))
            except LLMUnavailable:
                pass  # the pipeline falls back to the baseline answer
            else:  # pragma: no cover - would mean the breaker let a call through
                raise AssertionError("breaker-open path reached the model")

        paths = {"baseline": baseline, "llm": llm_path, "breaker_open": breaker_open_path}
        samples: dict[str, list[float]] = {name: [] for name in paths}
        for i in range(warmup + n):
            text = REQUESTS[i % len(REQUESTS)]
            for name, fn in paths.items():
                start = time.perf_counter()
                fn(text)
                elapsed = time.perf_counter() - start
                if i >= warmup:
                    samples[name].append(elapsed)
        requests_seen = len(server.requests)
    finally:
        server.stop()

    report = {name: _stats(s) for name, s in samples.items()}
    for name in ("llm", "breaker_open"):
        report[name]["overhead_p50_ms"] = round(report[name]["p50_ms"] - report["baseline"]["p50_ms"], 3)
        report[name]["overhead_mean_ms"] = round(report[name]["mean_ms"] - report["baseline"]["mean_ms"], 3)
    report["n"] = n
    report["grounding"] = embedder is not None
    report["server_requests"] = requests_seen  # llm path only: warmup + n
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="timed requests per path (default 200)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--grounding", action="store_true", help="include the MiniLM grounding check in the LLM path")
    args = parser.parse_args(argv)
    embedder = None
    if args.grounding:
        from retrieval.embedder import Embedder

        embedder = Embedder.default()
    print(json.dumps(run(n=args.n, warmup=args.warmup, embedder=embedder), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
