"""Split documents into retrievable chunks, one Markdown section at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from ingestion.loader import KBDocument


# A ticket chunk is the customer's request, then its resolution after this mark.
RESOLUTION_MARK = "\n\nResolution: "


def ticket_requests(chunks: Iterable[tuple[str, dict]]) -> list[str]:
    """The customer's words of each ticket, rebuilt from its chunks in order, without the
    resolution staff wrote (which may start inside a chunk or be chunks of its own)."""
    by_doc: dict[str, list[tuple[int, str]]] = {}
    for text, meta in chunks:
        if meta.get("kind") == "ticket":
            by_doc.setdefault(meta["doc_id"], []).append((int(meta.get("position", 0)), text))
    requests = []
    for parts in by_doc.values():
        kept = []
        for _position, text in sorted(parts):
            if text.startswith(RESOLUTION_MARK.strip()):
                break
            head, mark, _ = text.partition(RESOLUTION_MARK)
            kept.append(head)
            if mark:
                break
        requests.append("\n\n".join(kept))
    return requests


# Raised when chunks gain what an index of older chunks lacks (2: section_no): the stored hash
# changes with it, so the next ingest cuts every document again once.
CHUNK_FORMAT = 2


def indexed_hash(doc: KBDocument) -> str:
    """The hash the index records for a document: its content's and the chunk format's."""
    return f"{doc.content_hash}/{CHUNK_FORMAT}"


@dataclass
class Chunk:
    """A piece of a document with everything retrieval and citations need."""

    id: str
    doc_id: str
    text: str  # what is shown and scored by BM25
    embed_text: str  # what is embedded: title and section give the chunk its context
    metadata: dict


class Chunker:
    """Markdown sections first (## and ###), then long sections by characters.

    >>> Chunker(max_chars=800).run(doc)   # doctest: +SKIP
    """

    def __init__(self, max_chars: int = 900, overlap: int = 120):
        if max_chars <= overlap:
            raise ValueError("max_chars must exceed overlap")
        self.headers = MarkdownHeaderTextSplitter(
            headers_to_split_on=[("#", "h1"), ("##", "h2"), ("###", "h3")], strip_headers=True
        )
        self.chars = RecursiveCharacterTextSplitter(chunk_size=max_chars, chunk_overlap=overlap)

    def run(self, doc: KBDocument, doc_hash: str) -> list[Chunk]:
        """``doc_hash``: what the index records of the document (see indexed_hash)."""
        base = {
            "doc_id": doc.id, "kind": doc.kind, "title": doc.title, "category": doc.category,
            "audience": doc.audience, "doc_hash": doc_hash,
        }
        pieces: list[tuple[str, int, str]] = []  # (section, which section of the document, text)
        if doc.kind == "ticket":
            text = doc.body.strip() or doc.title  # a ticket of a subject only (SPEC: subject or body) is its subject
            if doc.resolution:
                text += f"{RESOLUTION_MARK}{doc.resolution}"
            pieces = [("ticket", 0, p) for p in self.chars.split_text(text)]
        else:
            for n, section in enumerate(self.headers.split_text(doc.body)):
                name = section.metadata.get("h3") or section.metadata.get("h2") or section.metadata.get("h1") or ""
                for p in self.chars.split_text(section.page_content):
                    pieces.append((name, n, p))
        chunks = []
        for i, (section, section_no, text) in enumerate(pieces):
            head = f"{doc.title}. {section}." if section else f"{doc.title}."
            chunks.append(Chunk(
                id=f"{doc.id}::{i}", doc_id=doc.id, text=text,
                embed_text=f"{head}\n{text}",
                # n_chunks lets the index tell a whole document from one an interrupted ingest cut short.
                # section_no tells two sections of one name apart ("### Steps" under two "##").
                metadata={**base, "section": section, "section_no": section_no, "position": i,
                          "n_chunks": len(pieces)},
            ))
        return chunks
