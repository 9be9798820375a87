"""benchmarks/bench_llm_overhead.py on a few dev requests through the real pipeline.

Checks the report's shape and the one property the benchmark relies on: with the
breaker open, the model server is never called (its request count does not move).
"""

from __future__ import annotations

import json

import pytest

from benchmarks import bench_llm_overhead as bench

STATS = {"n", "p50_ms", "mean_ms", "p95_ms"}
OVERHEAD = {"overhead_p50_ms", "overhead_p50_pct", "overhead_mean_ms", "overhead_mean_pct",
            "paired_median_ms", "paired_mean_ms"}


def test_grounded_reply_cites_the_first_source_verbatim():
    from assistant.prompts import SourceText, build_messages

    src = SourceText("rb-a", "Title", "Open Dashboard > Settings > Call Routing > Status. It must say Live "
                                      "before calls are answered. Short.")
    reply = bench.grounded_reply({"messages": build_messages("PAM is down", [src], "email")})
    assert reply == ("Open Dashboard > Settings > Call Routing > Status. [rb-a] "
                     "It must say Live before calls are answered. [rb-a]")
    assert "[" not in bench.grounded_reply({"messages": build_messages("PAM is down", [], "email")})


@pytest.mark.slow
def test_benchmark_runs_the_three_pipelines_and_the_open_breaker_never_calls_the_server(embedder, sample_index):
    report = bench.run(n=6, rounds=1, warmup=1, embedder=embedder, index_dir=sample_index)
    json.loads(json.dumps(report))  # one JSON object, as printed

    assert report["requests"] == 6 and report["rounds"] == 1 and report["samples_per_path"] == 6
    assert report["answered_per_round"] + report["escalated_per_round"] == 6
    assert report["answered_per_round"] >= 1, "no request reached the answer stage: nothing measured"
    for scope in ("all", "answered"):
        assert set(report[scope]) == set(bench.PATHS)
        assert STATS <= set(report[scope]["extractive"])
        for path in ("llm", "breaker_open"):
            assert STATS | OVERHEAD <= set(report[scope][path])
    assert report["all"]["extractive"]["n"] == 6
    assert report["answered"]["extractive"]["n"] == report["answered_per_round"]

    # The LLM path really went to the server and its grounded replies were used ...
    assert report["llm"]["server_calls"] >= report["answered_per_round"]
    assert report["llm"]["answers_by_model"] >= 1
    assert report["llm"]["stage"]["n"] >= report["answered_per_round"]
    # ... the extractive one never did, and the open breaker let nothing through.
    assert report["extractive"]["server_calls"] == 0
    assert report["breaker_open"]["server_calls"] == 0
    assert report["breaker_open"]["breaker_state_at_end"] == "open"
    assert report["breaker_open"]["stage"]["n"] >= report["answered_per_round"]

    table = bench.format_table(report)
    assert "breaker_open" in table and "answered" in table
