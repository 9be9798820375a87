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


def test_exemplars_the_kb_covers_are_left_out_and_one_always_stays():
    # Found by a review on a payroll KB: generic exemplars such as "xero bank feed stopped
    # syncing" are that product's own questions, and called them out of scope.
    emb = HashEmbedder()
    ot = OffTopic(emb, ["xero bank feed stopped syncing", "write a haiku about autumn"])
    kb = emb.encode_documents(["xero bank feed stopped syncing"])
    vec = emb.encode_queries(["xero bank feed stopped syncing"])[0]
    assert round(ot.similarity(vec), 2) == 1.0
    ot.without_covered(kb, 0.45)
    assert ot.dropped == ["xero bank feed stopped syncing"] and ot.similarity(vec) < 0.5
    every = OffTopic(emb, ["xero bank feed stopped syncing"]).without_covered(kb, 0.45)
    assert every.matrix.shape[0] == 1  # a KB that covers every exemplar keeps one
    assert OffTopic(emb, ["write a haiku"]).without_covered(kb, None).dropped == []
