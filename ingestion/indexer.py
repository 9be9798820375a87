"""Incremental indexing: embed only documents whose content hash changed.

Unchanged documents cost a metadata lookup, edited ones are re-chunked and
re-embedded (their old chunks removed first), and documents that left the KB
leave the index.

>>> report = Indexer(index, embedder).run(kb)        # doctest: +SKIP
>>> report.added, report.updated, report.removed, report.unchanged  # doctest: +SKIP
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from itertools import islice

from ingestion.chunker import Chunk, Chunker
from ingestion.loader import KnowledgeBase


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0

    def as_dict(self) -> dict:
        return {"added": len(self.added), "updated": len(self.updated), "removed": len(self.removed),
                "unchanged": self.unchanged, "chunks_embedded": self.chunks_embedded,
                "chunks_total": self.chunks_total}


def _batches(items, size):
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class Indexer:
    """Brings the vector index in line with a knowledge base."""

    def __init__(self, index, embedder, chunker: Chunker | None = None, batch_size: int = 64,
                 progress: bool | None = None):
        if batch_size <= 0:
            raise ValueError("batch_size must be positive")
        self.index, self.embedder = index, embedder
        self.chunker = chunker or Chunker()
        self.batch_size = batch_size
        self.progress = sys.stderr.isatty() if progress is None else progress

    def run(self, kb: KnowledgeBase) -> IngestReport:
        report = IngestReport()
        indexed = self.index.doc_hashes()
        wanted = {d.id: d for d in kb.documents}
        todo: list[Chunk] = []
        for doc in kb.documents:
            h = doc.content_hash
            if indexed.get(doc.id) == h:
                report.unchanged += 1
                continue
            (report.updated if doc.id in indexed else report.added).append(doc.id)
            todo.extend(self.chunker.run(doc, h))
        report.removed = sorted(set(indexed) - set(wanted))
        # Old chunks of edited documents go first: an edit may leave fewer chunks.
        self.index.delete_docs(report.removed + report.updated)
        bar = None
        if self.progress and todo:
            from tqdm import tqdm

            bar = tqdm(total=len(todo), desc="embedding chunks", unit="chunk", file=sys.stderr)
        for batch in _batches(todo, self.batch_size):
            vectors = self.embedder.encode_documents([c.embed_text for c in batch])
            self.index.upsert([c.id for c in batch], vectors, [c.text for c in batch], [c.metadata for c in batch])
            report.chunks_embedded += len(batch)
            if bar:
                bar.update(len(batch))
        if bar:
            bar.close()
        report.chunks_total = self.index.count()
        return report
