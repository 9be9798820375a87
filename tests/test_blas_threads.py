"""Process entry points limit BLAS to one thread (assistant.limit_blas_threads); the Pipeline does not."""

from __future__ import annotations

import io
import sys

import numpy as np  # noqa: F401  (loads OpenBLAS, so threadpoolctl can see and set it)
import pytest
from threadpoolctl import threadpool_info, threadpool_limits


def blas_threads() -> set[int]:
    return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


@pytest.fixture()
def two_blas_threads():
    if not blas_threads():
        pytest.skip("no BLAS library visible to threadpoolctl")
    threadpool_limits(2, user_api="blas")
    if blas_threads() != {2}:
        pytest.skip("this BLAS cannot run 2 threads here")
    yield
    threadpool_limits(1, user_api="blas")


def test_the_cli_limits_blas_to_one_thread(two_blas_threads, tmp_path, monkeypatch):
    from assistant.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["classify", "--index", str(tmp_path / "no-index")]) == 3
    assert blas_threads() == {1}


def test_the_http_app_limits_blas_to_one_thread(two_blas_threads, tmp_path):
    from api.app import create_app
    from assistant.config import Settings

    create_app(Settings(index=tmp_path / "no-index"))
    assert blas_threads() == {1}


def test_building_a_pipeline_leaves_the_process_alone(two_blas_threads, sample_index, embedder):
    from assistant.config import Settings
    from assistant.pipeline import Pipeline

    Pipeline.load(Settings(index=sample_index), embedder=embedder)
    assert blas_threads() == {2}
