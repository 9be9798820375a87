"""Speed of the core pipeline, each figure beside its baseline, in one process.

1. Marginal cost of one request through the `ask` pipeline (extractive, no LLM,
   decision log off) as a multiple of the bare cost of embedding that request's text.
2. Full ingest of a KB vs bare embedding of the same chunks.
3. A no-op re-ingest as a share of a full ingest.

    python benchmarks/bench_speed.py [--kb kb/sample] [--requests evals/data/dev.jsonl] [--n 60]
                                     [--risk-runs gated|all|none]

`--risk-runs` sets how the risk check scores runs of consecutive sentences (gated, as
shipped; every run; none, sentences alone): what the gate in guardrails/risk.py saves.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import SupportRequest  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402
from assistant.training import Trainer  # noqa: E402
from ingestion.chunker import Chunker  # noqa: E402
from ingestion.indexer import Indexer  # noqa: E402
from ingestion.loader import KnowledgeBaseLoader  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402
from retrieval.index import VectorIndex  # noqa: E402


def ingest(kb_path: Path, index_dir: Path, embedder) -> float:
    t = time.perf_counter()
    kb = KnowledgeBaseLoader().run(kb_path)
    index = VectorIndex.open(index_dir, create=True)
    Indexer(index, embedder, progress=False).run(kb)
    Trainer(embedder).run(kb, index_dir, doc_hashes=index.doc_hashes())
    return time.perf_counter() - t


def noop_reingest(kb_path: Path, index_dir: Path, embedder) -> float:
    """What `assistant ingest` does when nothing changed: hash check, no embedding, no training."""
    from assistant.training import index_version, is_current

    t = time.perf_counter()
    kb = KnowledgeBaseLoader().run(kb_path)
    index = VectorIndex.open(index_dir, create=True)
    report = Indexer(index, embedder, progress=False).run(kb)
    assert report.chunks_embedded == 0
    assert is_current(index_dir, index_version(index.doc_hashes(), []))
    return time.perf_counter() - t


def main() -> None:
    limit_blas_threads()  # as the CLI and the app do: the pipeline's speed depends on it
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kb", default="kb/sample")
    ap.add_argument("--requests", default="evals/data/dev.jsonl")
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--risk-runs", choices=("gated", "all", "none"), default="gated")
    args = ap.parse_args()
    embedder = Embedder.default()
    embedder.encode_queries(["warm up"])
    kb_path = Path(args.kb)

    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp)
        kb = KnowledgeBaseLoader().run(kb_path)
        chunks = [c.embed_text for d in kb.documents for c in Chunker().run(d, d.content_hash)]
        texts = [d.classifier_text for d in kb.documents]
        t = time.perf_counter()
        embedder.encode_documents(chunks)
        embedder.encode_documents(texts)  # the classifier embeds whole documents once as well
        bare_embed = time.perf_counter() - t
        full = ingest(kb_path, index_dir, embedder)
        noop = noop_reingest(kb_path, index_dir, embedder)

        pipeline = Pipeline.load(Settings(index=index_dir), embedder=embedder)
        if args.risk_runs == "all":
            pipeline.risk.run_gate = 0.0
        elif args.risk_runs == "none":
            pipeline.risk.window = 1
        reqs = [SupportRequest.model_validate(json.loads(line)) for line in open(args.requests) if line.strip()]
        reqs = reqs[: args.n]
        for r in reqs[:3]:
            pipeline.run(r)  # warm caches
        per_request, per_embed = [], []
        for r in reqs:
            t = time.perf_counter()
            embedder.encode_queries([r.text])
            per_embed.append(time.perf_counter() - t)
            t = time.perf_counter()
            pipeline.run(r)
            per_request.append(time.perf_counter() - t)

    emb_ms = statistics.median(per_embed) * 1000
    ask_ms = statistics.median(per_request) * 1000
    out = {
        "ask_ms_p50": round(ask_ms, 2), "embed_ms_p50": round(emb_ms, 2),
        "ask_over_embed": round(ask_ms / emb_ms, 2),
        "ingest_full_s": round(full, 2), "bare_embedding_s": round(bare_embed, 2),
        "ingest_over_embedding": round(full / bare_embed, 2),
        "noop_reingest_s": round(noop, 3), "noop_share_of_full": round(noop / full, 4),
        "n_requests": len(reqs), "n_chunks": len(chunks), "risk_runs": args.risk_runs,
    }
    print(f"ask per request (p50)     {ask_ms:8.1f} ms   vs embedding the request {emb_ms:6.1f} ms "
          f"-> {out['ask_over_embed']}x (target <= 3x)")
    print(f"full ingest               {full:8.2f} s    vs bare embedding        {bare_embed:6.2f} s  "
          f"-> {out['ingest_over_embedding']}x")
    print(f"no-op re-ingest           {noop:8.3f} s    = {out['noop_share_of_full']:.1%} of a full ingest "
          f"(aim < 5%)")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
