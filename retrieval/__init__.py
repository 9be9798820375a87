"""Embedding, the vector index and hybrid retrieval."""
