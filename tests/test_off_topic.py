"""The generic off-topic exemplars behind the out-of-scope decision (guardrails/off_topic.py)."""

from __future__ import annotations

import re

from guardrails import read_lines
from guardrails.off_topic import EXEMPLARS_PATH, OffTopic
from retrieval.embedder import HashEmbedder


def test_the_score_is_the_best_cosine_to_an_exemplar():
    embedder = HashEmbedder()
    off = OffTopic(embedder, ["write a haiku about autumn", "who won the world cup in 2010"])
    same, other = embedder.encode_queries(["who won the world cup in 2010", "reset the sync token"])
    assert abs(off.similarity(same) - 1.0) < 1e-5
    assert off.similarity(other) < 0.5


def test_the_shipped_exemplars_carry_nothing_of_the_bundled_samples_domain():
    lines = read_lines(EXEMPLARS_PATH)
    assert len(lines) >= 250 and len(set(lines)) == len(lines)
    # Nothing of the bundled sample's domain: a deployment with another product gets the same bank.
    domain = re.compile(r"\b(pam|dealer\w*|vin|xtime|mykaarma|cdk|service advisor|bdc|runbook)\b", re.I)
    assert not [line for line in lines if domain.search(line)]


def test_the_exemplars_hold_no_copy_of_the_lines_the_margin_is_chosen_on(embedder):
    # benchmarks/bench_off_topic.py chooses OFF_TOPIC_MARGIN on these sets; an exemplar that
    # near-copies one of their lines (five did, and were removed) would flatter the choice.
    import json
    from pathlib import Path

    data = Path(__file__).resolve().parents[1] / "assistant" / "data"
    texts = [json.loads(line)["text"] for name in ("oos_heldout.jsonl", "oos_heldout_short.jsonl")
             for line in (data / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    closest = OffTopic(embedder).index.similarities(texts).max(axis=1)
    assert closest.max() < 0.85, [t for t, c in zip(texts, closest) if c >= 0.85]
