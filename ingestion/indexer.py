"""Incremental indexing: embed only documents whose content hash changed.

Unchanged documents cost a metadata lookup, edited ones are re-chunked and
re-embedded (their old chunks removed first), and documents that left the KB
leave the index.

>>> report = Indexer(index, embedder).run(kb)        # doctest: +SKIP
>>> report.added, report.updated, report.removed, report.unchanged  # doctest: +SKIP
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from ingestion.chunker import Chunk, Chunker, indexed_hash
from ingestion.loader import KnowledgeBase


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # gone from the KB, but from a file with problems
    unchanged: int = 0
    chunks_embedded: int = 0
    chunks_total: int = 0

    def as_dict(self) -> dict:
        return {"added": len(self.added), "updated": len(self.updated), "removed": len(self.removed),
                "kept_despite_problems": len(self.kept), "unchanged": self.unchanged, "chunks_embedded": self.chunks_embedded,
                "chunks_total": self.chunks_total}


def _source(path: str, root) -> str:
    """A document's file relative to the KB folder: the same whatever folder ingest ran from."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


_INTERNAL = re.compile(r"^\s*audience\s*:\s*[\"']?internal\b", re.IGNORECASE | re.MULTILINE)


def _says_internal(path: Path) -> bool:
    """Whether a runbook file's front matter says ``audience: internal``, read as text."""
    try:
        # utf-8-sig: a byte-order mark before the first "---" hid the front matter
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError:
        return False
    front = text.split("\n---", 1)[0] if text.lstrip().startswith("---") else ""
    return bool(_INTERNAL.search(front))


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

    def _made_internal(self, doc_ids: list[str], sources: dict[str, str], root) -> set[str]:
        """Those of ``doc_ids`` indexed for customers whose file's front matter now says
        ``audience: internal`` (read as text: the file has a problem, it was not parsed)."""
        if not doc_ids:
            return set()
        customer = {m.get("doc_id") for m in self.index.all(include_documents=False)["metadatas"]
                    if m.get("audience") == "customer" and m.get("doc_id") in doc_ids}
        return {d for d in customer if d in sources and _says_internal(Path(root) / sources[d])}

    @staticmethod
    def _claimed_internal(kb: KnowledgeBase) -> set[str]:
        """The ids two files claim of which either says ``audience: internal``."""
        read = {d.id: d for d in kb.documents}
        return {doc_id for doc_id, others in kb.duplicated.items()
                if (doc_id in read and read[doc_id].kind == "runbook" and read[doc_id].audience == "internal")
                or any(_says_internal(Path(p)) for p in others)}  # as the loader read them

    def run(self, kb: KnowledgeBase) -> IngestReport:
        report = IngestReport()
        indexed, sources = self.index.doc_summary()
        wanted = {d.id: d for d in kb.documents}
        todo: list[Chunk] = []
        # An id two files claim, either of them staff-only: never customer text under it, not even
        # as indexed before (it would stay quotable on chat), and the customer claimant is not
        # indexed until the clash is fixed; the staff-only claimant is.
        internal_claim = self._claimed_internal(kb)
        withheld: set[str] = set()
        for doc in kb.documents:
            h = indexed_hash(doc)
            source = _source(doc.path, kb.root)
            if doc.id in internal_claim and doc.audience != "internal":
                withheld.add(doc.id)
                continue
            # A renamed file is written again (same text, new source): its old name left in the
            # index made a later problem in the new file look like another file's, and the
            # document was removed instead of kept.
            if indexed.get(doc.id) == h and sources.get(doc.id, source) == source:
                report.unchanged += 1
                continue
            if doc.id in kb.duplicated and doc.id in indexed and doc.id not in internal_claim:
                report.kept.append(doc.id)  # two documents claim an indexed id: leave it as it was
                continue
            (report.updated if doc.id in indexed else report.added).append(doc.id)
            for chunk in self.chunker.run(doc, h):
                chunk.metadata["source"] = source
                todo.append(chunk)
        # A document that is missing because its file now has a problem (a typo in the front
        # matter, a duplicate id, a bad line in tickets.jsonl) stays as it was indexed: a
        # mistake in one edit must not take an accepted document out of the index.
        # A bad line of tickets.jsonl whose id could be read keeps that ticket only: a ticket deleted
        # from the file (one that held personal data, say) leaves the index though another line
        # has a typo. A line with no readable id keeps every ticket missing from the file.
        troubled = {_source(p.path, kb.root) for p in kb.problems if p.path and getattr(p, "doc_id", None) is None}
        troubled_ids = {p.doc_id for p in kb.problems if getattr(p, "doc_id", None) is not None}
        gone = set(indexed) - set(wanted)
        kept = [d for d in gone if d in troubled_ids or sources.get(d) in troubled]
        # Except a customer runbook whose edit, the one with the problem, makes it staff-only:
        # kept, its old text would stay quotable on chat. It leaves the index until it is fixed.
        made_internal = self._made_internal(kept, sources, kb.root)
        report.kept = sorted(report.kept + [d for d in kept if d not in made_internal])
        report.removed = sorted((gone - set(report.kept)) | (withheld & set(indexed)))
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
