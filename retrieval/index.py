"""The vector index: Chroma, embedded (PersistentClient) or server (HttpClient).

Only this module talks to chromadb; its errors leave as ``RetrievalError`` or
``IndexMissing``. Embeddings are computed by our own embedder and passed in.

>>> index = VectorIndex.open(Path("/tmp/idx"))              # doctest: +SKIP
>>> index.upsert(chunks, vectors); index.count()            # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple
from urllib.parse import urlparse

import numpy as np

from assistant.errors import IndexMissing, RetrievalError

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

COLLECTION = "kb_chunks"
# Chroma turns one get or delete into one SQL statement with a placeholder per record, and SQLite
# refuses more than 32,766 of them: an index read whole failed past that many chunks. Reads go in
# pages of this many records, deletes in groups of this many documents.
PAGE = 5000
DELETE_GROUP = 500


class ChromaServer(NamedTuple):
    """Where a Chroma server listens, as ``chromadb.HttpClient`` takes it."""

    host: str
    port: int
    ssl: bool


def chroma_server(url: str, *, allow_path: bool = False) -> ChromaServer:
    """The host, port and TLS of a Chroma server's URL (ASSISTANT_CHROMA_URL); ValueError saying what
    is wrong with any other. The one place such a URL is read: the settings and ``VectorIndex.open``
    both call it.

    It must be http or https, with a host and a port that is a number; a port left out is the
    scheme's (https: 443), else Chroma's own 8000. A path or a query is refused, since Chroma takes
    no prefix, unless ``allow_path``: the settings leave that to ``VectorIndex.open``, which refuses it.
    """
    parsed = urlparse(str(url).strip())
    try:
        parsed.port  # noqa: B018 - raises on a port that is no number or out of range
    except ValueError:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError("ASSISTANT_CHROMA_URL must be a Chroma server's address like 'http://host:8000' "
                         "(http or https, a host, a port if not the scheme's)")
    if not allow_path and (parsed.path.strip("/") or parsed.query):
        raise ValueError(f"the Chroma server URL {url} has a path: give the server's "
                         "own address (scheme, host and port), Chroma takes no prefix")
    # A port left out is the scheme's (https: 443), else Chroma's own 8000.
    return ChromaServer(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 8000),
                        parsed.scheme == "https")


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


class VectorIndex:
    """Chunks with their vectors and metadata, in one Chroma collection."""

    def __init__(self, collection, location: str):
        self.collection = collection
        self.location = location

    @classmethod
    def open(cls, index_dir: Path, *, chroma_url: str | None = None, create: bool = False,
             namespace: str | None = None) -> "VectorIndex":
        """Open (or with ``create`` make) the collection; embedded unless ``chroma_url`` is set.

        ``namespace`` names the collection on a shared Chroma server, so two
        deployments (or two test runs) never mix their chunks.
        """
        import chromadb

        name = namespace or COLLECTION
        try:
            if chroma_url:
                try:
                    server = chroma_server(chroma_url)
                except ValueError as exc:
                    raise RetrievalError(str(exc)) from None
                port = server.port
                try:
                    client = chromadb.HttpClient(host=server.host, port=port, ssl=server.ssl,
                                                 settings=_chroma_settings())
                except Exception as exc:  # a server that is down is no missing index: nothing to rebuild
                    raise RetrievalError(f"the Chroma server at {chroma_url} (port {port}) cannot be reached "
                                         f"({exc.__class__.__name__}); check that it is running") from exc
                location = chroma_url
            else:
                path = Path(index_dir) / "chroma"
                if not create and not path.exists():
                    raise IndexMissing(
                        f"no index in {index_dir}: run `assistant ingest KB --index {index_dir}` first")
                client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
                location = str(path)
            if create:
                coll = client.get_or_create_collection(name, metadata={"hnsw:space": "cosine"})
            else:
                coll = client.get_collection(name)
        except (IndexMissing, RetrievalError):
            raise
        except Exception as exc:  # chromadb raises many unrelated types; translate them all here
            if create:
                raise RetrievalError(f"cannot open the vector index at {chroma_url or index_dir}: {exc}") from exc
            raise IndexMissing(
                f"the index in {chroma_url or index_dir} cannot be read ({exc.__class__.__name__}: {exc}); "
                f"run `assistant ingest KB --index {index_dir}` to rebuild it") from exc
        return cls(coll, location)

    def count(self) -> int:
        try:
            return self.collection.count()
        except Exception as exc:
            raise RetrievalError(f"index at {self.location} cannot be counted: {exc}") from exc

    def doc_hashes(self) -> dict[str, str]:
        """doc_id -> content hash of what is indexed now (one entry per document); see doc_summary."""
        return self.doc_summary()[0]

    def doc_summary(self) -> tuple[dict[str, str], dict[str, str]]:
        """(doc_id -> content hash, doc_id -> source file) from one read of the index.

        A document with fewer chunks stored than it was cut into (an ingest killed while
        writing it) gets the hash "" so that the next ingest rewrites it. Chunks written
        before chunk counts were stored are taken as complete; documents indexed before
        sources were stored have none.
        """
        hashes: dict[str, str] = {}
        sources: dict[str, str] = {}
        stored: dict[str, int] = {}
        expected: dict[str, int] = {}
        for meta in self.all(include_documents=False)["metadatas"]:
            doc = meta["doc_id"]
            hashes[doc] = meta["doc_hash"]
            stored[doc] = stored.get(doc, 0) + 1
            if meta.get("n_chunks") is not None:
                expected[doc] = int(meta["n_chunks"])
            if meta.get("source"):
                sources[doc] = meta["source"]
        for doc, n in expected.items():
            if stored[doc] != n:
                hashes[doc] = ""
        return hashes, sources

    def all(self, include_documents: bool = True, include_embeddings: bool = False) -> dict:
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        if include_embeddings:
            include.append("embeddings")
        out: dict = {"ids": [], "metadatas": [], "documents": []}
        pages = []
        try:
            while True:  # in pages: see PAGE
                got = self.collection.get(include=include, limit=PAGE, offset=len(out["ids"]))
                out["ids"] += got["ids"]
                out["metadatas"] += got["metadatas"] or []
                out["documents"] += got.get("documents") or []
                vectors = got.get("embeddings")
                if include_embeddings and vectors is not None and len(vectors):
                    pages.append(np.asarray(vectors, dtype=np.float32))
                if len(got["ids"]) < PAGE:
                    break
        except Exception as exc:
            raise RetrievalError(f"index at {self.location} cannot be read: {exc}") from exc
        if include_embeddings:
            out["embeddings"] = np.concatenate(pages) if pages else np.zeros((0, 0), dtype=np.float32)
        return out

    def upsert(self, ids: list[str], vectors: np.ndarray, texts: list[str], metadatas: list[dict]) -> None:
        if not ids:
            return
        try:
            self.collection.upsert(ids=ids, embeddings=vectors.tolist(), documents=texts, metadatas=metadatas)
        except Exception as exc:
            raise RetrievalError(f"cannot write {len(ids)} chunks to {self.location}: {exc}") from exc

    def delete_docs(self, doc_ids: Iterable[str]) -> None:
        doc_ids = list(doc_ids)
        if not doc_ids:
            return
        try:
            for start in range(0, len(doc_ids), DELETE_GROUP):  # see PAGE
                self.collection.delete(where={"doc_id": {"$in": doc_ids[start:start + DELETE_GROUP]}})
        except Exception as exc:
            raise RetrievalError(f"cannot delete documents from {self.location}: {exc}") from exc

    def query(self, vector: np.ndarray, n: int, where: dict | None = None) -> list[tuple[str, float]]:
        """Nearest chunks as (chunk_id, cosine similarity), best first.

        Only ids and distances come back: the retriever holds the texts and metadata
        already, and leaving them out halves Chroma's cost per query (1.5 vs 3.2 ms).
        """
        try:
            res = self.collection.query(
                query_embeddings=[vector.tolist()], n_results=n, where=where, include=["distances"])
        except Exception as exc:
            raise RetrievalError(f"query on {self.location} failed: {exc}") from exc
        return [(cid, 1.0 - float(dist)) for cid, dist in zip(res["ids"][0], res["distances"][0])]
