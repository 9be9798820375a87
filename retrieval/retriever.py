"""Hybrid retrieval: dense (MiniLM; exact in memory, or Chroma on a very large index) and BM25, fused by rank.

The surface decides what may be seen: ``chat`` only ever sees ``customer``
runbooks; ``email`` (reviewed by OPS before it is sent) sees everything.

>>> retriever = Retriever(index, embedder)                      # doctest: +SKIP
>>> retriever.run("xtime not syncing", surface="chat").hits[0].doc_id   # doctest: +SKIP
'rb-xtime-invite-delay'
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Literal

import bm25s
import numpy as np

from retrieval.index import VectorIndex

Surface = Literal["chat", "email", "internal"]
Mode = Literal["hybrid", "dense", "bm25"]
RRF_K = 60  # the constant from Cormack et al. (2009); rank fusion is insensitive to it
# Up to this many chunks, dense search is one exact matrix product over the vectors the
# retriever holds anyway (0.05 ms for 600 chunks, 0.7 ms for 10k, 5 ms for 50k on one
# core) instead of a Chroma query (~2 ms each, approximate). Above it, Chroma's HNSW
# index answers: exact search grows linearly (23 ms at 200k).
EXACT_SEARCH_LIMIT = 20_000
logging.getLogger("bm25s").setLevel(logging.WARNING)


def visible(meta: dict, surface: str, kind: str | None = None) -> bool:
    """May a chunk with this metadata be shown on this surface? (SPEC section 2)"""
    if kind is not None and meta.get("kind") != kind:
        return False
    if surface == "chat":
        return meta.get("kind") == "runbook" and meta.get("audience") == "customer"
    return True


def _where(surface: str, kind: str | None) -> dict | None:
    if surface == "chat":
        return {"$and": [{"kind": "runbook"}, {"audience": "customer"}]}
    return {"kind": kind} if kind else None


@dataclass
class ChunkHit:
    chunk_id: str
    section: str
    text: str
    dense: float  # cosine similarity to the query; 0 when only BM25 found it
    position: int = 0
    section_no: int | None = None  # which section of its document (None in an index from before it was kept)


@dataclass
class DocHit:
    """One document with its best matching chunks, for citations and answers."""

    doc_id: str
    title: str
    kind: str
    audience: str
    category: str
    score: float  # cosine similarity of the best chunk: an absolute "how well covered" signal
    fused: float  # reciprocal-rank-fusion score: the ordering signal
    chunks: list[ChunkHit] = field(default_factory=list)


@dataclass
class RetrievalResult:
    hits: list[DocHit]

    @property
    def support(self) -> float:
        return self.hits[0].score if self.hits else 0.0


class Retriever:
    """Dense + BM25 over the chunks in the index, filtered by surface, fused by rank."""

    def __init__(self, index: VectorIndex, embedder, *, top_k: int = 5, candidates: int = 30,
                 exact_limit: int = EXACT_SEARCH_LIMIT):
        if top_k <= 0 or candidates < top_k:
            raise ValueError("need 0 < top_k <= candidates")
        self.index, self.embedder = index, embedder
        self.top_k, self.candidates = top_k, candidates
        data = index.all(include_embeddings=True)
        self.ids: list[str] = data["ids"]
        self.texts: list[str] = data["documents"]
        self.metas: list[dict] = data["metadatas"]
        # Chunk vectors in memory (1.5 KB a chunk): BM25-only hits get their cosine
        # without another round trip to the index.
        self._vectors: np.ndarray = data["embeddings"]
        self._kinds = {(m.get("kind"), m.get("audience")) for m in self.metas}
        self._categories = {m["doc_id"]: m.get("category") for m in self.metas}
        self._by_doc: dict[str, list[int]] = {}  # each document's chunk positions, for doc_chunks
        for i, m in enumerate(self.metas):
            self._by_doc.setdefault(m["doc_id"], []).append(i)
        # For best_match: the runbook chunks written for each audience (None: any), built once here
        # so that requests served from several threads only read them.
        self._audience_masks: dict[tuple[str, str | None], np.ndarray] = {
            ("runbook", aud): np.array([m.get("kind") == "runbook" and aud in (None, m.get("audience"))
                                        for m in self.metas], dtype=np.float32)
            for aud in (None, "customer", "internal")
        }
        self.exact = 0 < len(self.ids) <= exact_limit and self._vectors.shape[0] == len(self.ids)
        self.pos = {cid: i for i, cid in enumerate(self.ids)}
        self._bm25 = None
        if self.ids:
            corpus = [f"{m.get('title', '')} {m.get('section', '')} {t}" for t, m in zip(self.texts, self.metas)]
            self._bm25 = bm25s.BM25()
            self._bm25.index(bm25s.tokenize(corpus, show_progress=False), show_progress=False)
        self._masks = {
            (s, k): np.array([visible(m, s, k) for m in self.metas], dtype=np.float32)
            for s in ("chat", "email", "internal") for k in (None, "runbook", "ticket")
        }

    def _dense(self, vector: np.ndarray, surface: str, kind: str | None) -> list[tuple[str, float]]:
        n = int(min(self.candidates, self._masks[(surface, kind)].sum()))
        if n == 0:
            return []
        if self.exact:
            return self._exact(vector, self._masks[(surface, kind)], n)
        return self.index.query(vector, n, _where(surface, kind))

    def _exact(self, vector: np.ndarray, mask: np.ndarray, n: int) -> list[tuple[str, float]]:
        """The n most similar visible chunks by exact cosine (vectors are normalised), best first."""
        sims = self._vectors @ np.asarray(vector, dtype=np.float32)
        sims = np.where(mask > 0, sims, -np.inf)
        top = np.argpartition(-sims, n - 1)[:n] if n < len(sims) else np.arange(len(sims))
        top = top[np.argsort(-sims[top], kind="stable")]
        return [(self.ids[i], float(sims[i])) for i in top if np.isfinite(sims[i])]

    def _sparse(self, query: str, surface: str, kind: str | None) -> list[tuple[str, float]]:
        if self._bm25 is None:
            return []
        tokens = bm25s.tokenize([query], show_progress=False)
        if not tokens.ids or not tokens.ids[0]:
            return []
        # Map the query's own vocabulary onto the corpus vocabulary; unknown words drop out.
        inv = {i: w for w, i in tokens.vocab.items()}
        words = [[inv[i] for i in tokens.ids[0] if inv[i] in self._bm25.vocab_dict]]
        if not words[0]:
            return []
        k = min(self.candidates, len(self.ids))
        docs, scores = self._bm25.retrieve(words, k=k, show_progress=False, weight_mask=self._masks[(surface, kind)])
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def run(self, query: str, *, surface: Surface = "email", vector: np.ndarray | None = None,
            mode: Mode = "hybrid", top_k: int | None = None, kind: str | None = "runbook") -> RetrievalResult:
        """The best documents of ``kind`` (None: any) for ``query`` that ``surface`` may see, best first."""
        top_k = top_k or self.top_k
        if vector is None:
            vector = self.embedder.encode_queries([query])[0]
        dense = self._dense(vector, surface, kind) if mode in ("hybrid", "dense") else []
        sparse = self._sparse(query, surface, kind) if mode in ("hybrid", "bm25") else []
        fused: dict[str, float] = {}
        for ranked in (dense, sparse):
            for rank, (cid, _s) in enumerate(ranked):
                fused[cid] = fused.get(cid, 0.0) + 1.0 / (RRF_K + rank + 1)
        dense_sim = dict(dense)
        missing = [cid for cid in fused if cid not in dense_sim]
        if missing:  # BM25-only chunks: give them a real cosine so coverage stays comparable
            vecs = self._chunk_vectors(missing)
            for cid, v in zip(missing, vecs):
                dense_sim[cid] = float(v @ vector) if v is not None else 0.0
        docs: dict[str, DocHit] = {}
        for cid in sorted(fused, key=fused.get, reverse=True):
            if cid not in self.pos:  # written by an ingest after this snapshot: the next reload reads it
                continue
            meta = self.metas[self.pos[cid]]
            if not visible(meta, surface, kind):
                continue  # enforced here as well as in the Chroma filter
            hit = ChunkHit(cid, meta.get("section", ""), self.texts[self.pos[cid]], dense_sim.get(cid, 0.0),
                           int(meta.get("position", 0)), meta.get("section_no"))
            doc = docs.get(meta["doc_id"])
            if doc is None:
                doc = docs[meta["doc_id"]] = DocHit(
                    meta["doc_id"], meta.get("title", ""), meta.get("kind", "runbook"),
                    meta.get("audience", "customer"), meta.get("category", ""), 0.0, 0.0)
            doc.chunks.append(hit)
            doc.fused = max(doc.fused, fused[cid])
            doc.score = max(doc.score, hit.dense)
        ranked = sorted(docs.values(), key=lambda d: d.fused, reverse=True)[:top_k]
        return RetrievalResult(ranked)

    def _chunk_vectors(self, ids: list[str]) -> list[np.ndarray | None]:
        rows = [self.pos.get(cid) for cid in ids]
        return [self._vectors[r] if r is not None and r < len(self._vectors) else None for r in rows]

    def best_match(self, vector: np.ndarray, *, audience: str | None, kind: str = "runbook") -> tuple[str | None, float]:
        """The document of the closest chunk of ``kind`` written for ``audience`` (None: any), and its cosine.

        One dense search for one chunk, no fusion; ``(None, 0.0)`` when the index has no such chunk.
        """
        if not any(k == kind and (audience is None or a == audience) for k, a in self._kinds):
            return None, 0.0
        if self.exact:
            mask = self._audience_masks.get((kind, audience))
            if mask is None:  # another kind or audience than the pipeline asks for: built per call
                mask = np.array([m.get("kind") == kind and (audience is None or m.get("audience") == audience)
                                 for m in self.metas], dtype=np.float32)
            hits = self._exact(vector, mask, 1)
        else:
            where = {"kind": kind} if audience is None else {"$and": [{"kind": kind}, {"audience": audience}]}
            hits = self.index.query(vector, 1, where)
        if not hits or hits[0][0] not in self.pos:
            return None, hits[0][1] if hits else 0.0
        return self.metas[self.pos[hits[0][0]]]["doc_id"], hits[0][1]

    def runbook_vectors(self) -> np.ndarray:
        """The chunk vectors of every runbook (any audience)."""
        return self._vectors[self._audience_masks[("runbook", None)] > 0] if self.ids else np.zeros((0, 0))

    def category_of(self, doc_id: str | None) -> str | None:
        """The category of an indexed document (None when unknown)."""
        return self._categories.get(doc_id) if doc_id else None

    def doc_chunks(self, doc_id: str) -> list[ChunkHit]:
        """Every chunk of one document in reading order (for extractive answers)."""
        out = [ChunkHit(self.ids[i], self.metas[i].get("section", ""), self.texts[i], 0.0,
                        int(self.metas[i].get("position", 0)), self.metas[i].get("section_no"))
               for i in self._by_doc.get(doc_id, ())]
        return sorted(out, key=lambda c: c.position)
