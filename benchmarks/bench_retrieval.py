"""Retrieval quality: hybrid vs dense-only vs BM25-only, side by side in one run.

Scores every dev-set case that names expected sources, on the surface of its
channel, and prints recall@1/@3/@5 and MRR for each mode.

    python benchmarks/bench_retrieval.py [--kb kb/sample] [--cases evals/data/dev.jsonl]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.models import SupportRequest  # noqa: E402
from ingestion.indexer import Indexer  # noqa: E402
from ingestion.loader import KnowledgeBaseLoader  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.index import VectorIndex  # noqa: E402
from retrieval.retriever import Retriever  # noqa: E402


def evaluate(retriever, cases, mode: str, ks=(1, 3, 5)) -> dict:
    hits = {k: 0 for k in ks}
    rr = 0.0
    for case in cases:
        req = SupportRequest.model_validate(case)
        # Email sees everything; chat only customer runbooks (same rule as the pipeline).
        got = [h.doc_id for h in retriever.run(req.text, surface=req.channel, mode=mode, top_k=max(ks)).hits]
        want = set(case["expected"]["sources"])
        for k in ks:
            hits[k] += bool(want & set(got[:k]))
        rank = next((i + 1 for i, d in enumerate(got) if d in want), None)
        rr += 1.0 / rank if rank else 0.0
    n = len(cases)
    return {**{f"recall@{k}": round(hits[k] / n, 4) for k in ks}, "mrr": round(rr / n, 4), "n": n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kb", default="kb/sample")
    ap.add_argument("--cases", default="evals/data/dev.jsonl")
    args = ap.parse_args()
    cases = [json.loads(line) for line in open(args.cases) if line.strip()]
    cases = [c for c in cases if c.get("expected", {}).get("sources")]
    embedder = Embedder.default()
    with tempfile.TemporaryDirectory() as tmp:
        index = VectorIndex.open(Path(tmp), create=True)
        Indexer(index, embedder, progress=False).run(KnowledgeBaseLoader().run(Path(args.kb)))
        retriever = Retriever(index, embedder)
        rows = {mode: evaluate(retriever, cases, mode) for mode in ("hybrid", "dense", "bm25")}
    print(f"{'mode':8} {'recall@1':>9} {'recall@3':>9} {'recall@5':>9} {'MRR':>7}   (n={rows['hybrid']['n']})")
    for mode, r in rows.items():
        print(f"{mode:8} {r['recall@1']:9.3f} {r['recall@3']:9.3f} {r['recall@5']:9.3f} {r['mrr']:7.3f}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
