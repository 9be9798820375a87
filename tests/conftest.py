"""Shared fixtures: the real MiniLM loaded once per run, a clean environment per test."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2, loaded once per test session (stateless at inference)."""
    from retrieval.embedder import Embedder

    return Embedder.default()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    """No test sees the developer's settings, endpoints or data folders."""
    for name in list(os.environ):
        if name.startswith("ASSISTANT_") or name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory):
    """The bundled sample KB ingested once per test session (real MiniLM, real Chroma)."""
    from pathlib import Path

    from assistant.cli import main

    kb = Path(__file__).resolve().parents[1] / "kb" / "sample"
    index = tmp_path_factory.mktemp("sample-index")
    assert main(["ingest", str(kb), "--index", str(index), "--quiet", "--no-history"]) == 0
    return index


@pytest.fixture(scope="session")
def sample_pipeline(sample_index, embedder):
    """A pipeline on the sample index with the session's MiniLM, for tests that only run requests
    through it (a test that changes its settings or detectors builds its own)."""
    from assistant.config import Settings
    from assistant.pipeline import Pipeline

    return Pipeline.load(Settings(index=sample_index), embedder=embedder)
