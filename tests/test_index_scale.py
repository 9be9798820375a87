"""The vector index past SQLite's 32,766 placeholders per statement (real embedded Chroma)."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import index as index_module
from retrieval.index import VectorIndex


def _fill(index: VectorIndex, n: int, chunks_per_doc: int = 1) -> None:
    rng = np.random.default_rng(0)
    for start in range(0, n, 4000):
        ids = [f"c{i}" for i in range(start, min(n, start + 4000))]
        vectors = rng.normal(size=(len(ids), 8)).astype(np.float32)
        metas = [{"doc_id": f"d{int(i[1:]) // chunks_per_doc}", "doc_hash": "h", "n_chunks": chunks_per_doc}
                 for i in ids]
        index.upsert(ids, vectors, ids, metas)


def test_all_reads_in_pages_and_returns_every_record_once(tmp_path, monkeypatch):
    monkeypatch.setattr(index_module, "PAGE", 7)
    index = VectorIndex.open(tmp_path, create=True)
    _fill(index, 30, chunks_per_doc=3)
    got = index.all(include_embeddings=True)
    assert sorted(got["ids"]) == sorted(f"c{i}" for i in range(30))
    assert len(got["metadatas"]) == len(got["documents"]) == 30 and got["embeddings"].shape == (30, 8)
    assert got["documents"] == got["ids"]  # each record's fields stay together across pages
    assert index.doc_hashes() == {f"d{i}": "h" for i in range(10)}


def test_an_empty_index_reads_as_empty(tmp_path):
    got = VectorIndex.open(tmp_path, create=True).all(include_embeddings=True)
    assert got["ids"] == [] and got["embeddings"].shape == (0, 0)


@pytest.mark.slow
def test_an_index_past_32766_chunks_reads_and_deletes(tmp_path):
    # Before: one get for the whole index, "too many SQL variables" at 32,767 chunks, so no
    # `ask`, `serve` or re-ingest could open an index that size; one delete for every document likewise.
    index = VectorIndex.open(tmp_path, create=True)
    _fill(index, 33_000)
    assert len(index.all(include_documents=False)["ids"]) == 33_000
    index.delete_docs(f"d{i}" for i in range(32_900))
    assert index.count() == 100
