"""The scale-out path end to end: one Chroma server, one PostgreSQL, `assistant serve --workers 2`.

Everything is a real process on loopback: ``chroma run`` holds the vectors, the
sample KB is ingested into it, a throwaway PostgreSQL holds the decision log, and
two uvicorn workers answer. Every answer must be in PostgreSQL afterwards, no
matter which worker gave it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.pg import create_database, postgres_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_KB = ROOT / "kb" / "sample"
KEY = "scale-key"

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """A child in its own process group, output to a file (a pipe could fill up and stall it)."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 30) -> None:
    """Stop a child started by ``start`` and everything in its process group."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
    try:  # workers left behind by a supervisor that died first
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else "(no log)"


def wait_for(check, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with {proc.returncode}:\n{tail(log) if log else ''}")
        try:
            value = check()
            if value:
                return value
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f} s\n{tail(log) if log else ''}")


def serve_command(index: Path, port: int) -> list[str]:
    """`assistant serve`, or `python -m api.serve` while the CLI does not list serve yet."""
    import argparse

    from assistant.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    base = [sys.executable, "-m", "assistant.cli", "serve"] if "serve" in sub.choices else [sys.executable, "-m", "api.serve"]
    return base + ["--index", str(index), "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                   "--log-level", "warning"]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    data = tmp_path_factory.mktemp("chroma-data")
    port = free_port()
    log = data.parent / f"chroma-{port}.log"
    proc = start([chroma, "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)], log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(url + "/api/v2/heartbeat", timeout=2).status_code == 200, 120,
                 "chroma run", proc, log)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def stack(chroma_url, postgres_url, tmp_path_factory):  # noqa: F811
    """The sample KB in Chroma, a fresh PostgreSQL database, and two workers serving them."""
    index = tmp_path_factory.mktemp("scale-index")
    database_url = create_database(postgres_url, prefix="scale")
    env = {**os.environ, "ASSISTANT_CHROMA_URL": chroma_url, "ASSISTANT_DATABASE_URL": database_url,
           "ASSISTANT_API_KEYS": KEY, "ASSISTANT_CHAT_RATE_LIMIT": "1000/minute",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False"}
    env.pop("ASSISTANT_INDEX", None)
    ingest = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(SAMPLE_KB), "--index", str(index),
                             "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1500)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    assert not (index / "chroma").exists()  # the vectors went to the server, not to the folder

    port = free_port()
    log = index.parent / f"serve-{port}.log"
    proc = start(serve_command(index, port), log, env)
    url = f"http://127.0.0.1:{port}"
    try:
        # Each worker loads the model and index on its own; wait until two different ones say ready.
        ready: set[int] = set()

        def both_ready():
            r = httpx.get(url + "/readyz", timeout=10)  # a new connection each time: any worker may take it
            if r.status_code == 200:
                ready.add(r.json()["worker"])
            return len(ready) >= 2

        wait_for(both_ready, 900, "two ready workers", proc, log)
        yield {"url": url, "database_url": database_url, "proc": proc, "log": log, "workers": ready, "index": index,
               "env": env}
    finally:
        stop(proc, signal.SIGTERM)


def test_two_workers_answer_from_one_chroma_and_log_every_decision_in_postgres(stack):
    import sqlalchemy as sa

    url, t = stack["url"], uuid.uuid4().hex[:8]
    headers = {"Authorization": f"Bearer {KEY}"}
    questions = [
        ("email", "Xtime still not syncing", "We accepted the Xtime invite yesterday and no appointments sync yet."),
        ("chat", "", "How do I set our hours for Thanksgiving so PAM tells callers we're closed?"),
        ("email", "PAM keeps repeating", "Callers say PAM asks the same question three times."),
        ("chat", "", "How long does it take to connect PAM to myKaarma?"),
    ]
    calls = []
    for i in range(16):
        channel, subject, body = questions[i % len(questions)]
        path = ("/v1/ask", "/v1/classify", "/v1/chat")[i % 3]
        calls.append((path, {"id": f"scale-{t}-{i}", "channel": channel, "subject": subject, "body": body}))

    def send(call):
        path, payload = call
        with httpx.Client(base_url=url, headers=headers, timeout=300) as c:  # fresh connection per call
            return path, payload, c.post(path, json=payload)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, calls))
    for path, payload, r in responses:
        assert r.status_code == 200, (path, r.text)
        result = r.json()
        assert result["id"] == payload["id"] and result["category"] in ("integration", "pam_core", "llm_behavior",
                                                                        "out_of_scope")
        if path == "/v1/chat":
            assert "handoff" not in result and all(c["audience"] == "customer" for c in result["citations"])
        if path == "/v1/ask":
            assert result["answer"] and result["route"] in ("answer", "escalate")

    batch = httpx.post(url + "/v1/ask", headers=headers, timeout=300, json={"requests": [
        {"id": f"scale-{t}-b0", "body": "PAM is interrupting callers mid-sentence"},
        {"id": f"scale-{t}-b1", "channel": "fax", "body": "x"},
        {"id": f"scale-{t}-b2", "channel": "chat", "body": "Where do I see my billing minutes?"},
    ]})
    assert batch.status_code == 200, batch.text
    assert ["error" in r for r in batch.json()["results"]] == [False, True, False]

    expected = {(f"chat:{payload['id']}" if path == "/v1/chat" else payload["id"]): ("chat" if path == "/v1/chat" else "api")
                for path, payload, _ in responses}  # the public chat's ids are logged apart
    expected.update({f"scale-{t}-b0": "api", f"scale-{t}-b1": "api", f"scale-{t}-b2": "api"})  # errors are logged too

    engine = sa.create_engine(stack["database_url"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT request_id, source FROM decisions WHERE request_id LIKE :p"),
                                {"p": f"%scale-{t}-%"}).all()
    finally:
        engine.dispose()
    assert dict(rows) == expected, "every result from either worker, error results too, is one row in PostgreSQL"
    assert len(rows) == len(expected)

    # Feedback through whichever worker, read back through whichever: no state lives in a worker.
    fb = httpx.post(url + "/v1/feedback", headers=headers, timeout=60,
                    json={"id": f"scale-{t}-0", "outcome": "accepted", "resolved_tier": 1})
    assert fb.status_code == 200, fb.text
    for _ in range(4):
        rows = httpx.get(url + "/v1/decisions", headers=headers, timeout=60, params={"limit": 100}).json()["decisions"]
        (row,) = [d for d in rows if d["id"] == f"scale-{t}-0"]
        assert row["feedback"]["outcome"] == "accepted"
    assert len(stack["workers"]) == 2
    assert stack["proc"].poll() is None, tail(stack["log"])


def test_two_index_folders_on_one_chroma_server_keep_their_own_chunks(stack, chroma_url, tmp_path):
    # Found by a review: every folder wrote to one collection on the server, so ingesting another
    # KB into another folder removed this one's whole KB, and the running workers answered PAM
    # questions from the other KB's runbooks.
    from assistant.manifest import read_manifest
    from retrieval.index import VectorIndex

    ours = read_manifest(stack["index"])["collection"]
    before = VectorIndex.open(stack["index"], chroma_url=chroma_url, namespace=ours).count()
    other = tmp_path / "other-index"
    env = {k: v for k, v in stack["env"].items() if k != "ASSISTANT_DATABASE_URL"}
    ingest = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(ROOT / "tests" / "fixtures" / "kb_alt"),
                             "--index", str(other), "--quiet", "--no-history"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1500)
    assert ingest.returncode == 0, ingest.stderr[-3000:]
    theirs = read_manifest(other)["collection"]
    assert theirs != ours and json.loads(ingest.stdout.strip().splitlines()[-1])["removed"] == 0
    assert VectorIndex.open(stack["index"], chroma_url=chroma_url, namespace=ours).count() == before
    headers = {"Authorization": f"Bearer {KEY}"}
    r = httpx.post(stack["url"] + "/v1/chat", headers=headers, timeout=300,
                   json={"body": "How do I set our hours for Thanksgiving so PAM tells callers we're closed?"})
    assert r.status_code == 200 and r.json()["citations"]
    assert all(c["source_id"].startswith("rb-") for c in r.json()["citations"])  # the sample KB's own runbooks
