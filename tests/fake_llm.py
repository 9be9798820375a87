"""A real OpenAI-compatible HTTP server for tests: FastAPI under uvicorn, in a thread.

It listens on a free 127.0.0.1 port and answers ``POST /v1/chat/completions`` from a
script the test sets, so the LLM client is tested over real sockets with real faults.

    from tests.fake_llm import fake_llm  # noqa

    def test_retry_on_429(fake_llm):
        fake_llm.script([status(429), "Click Resume. [rb-a]"])
        client = LLMClient(Settings(openai_base_url=fake_llm.url))
        assert client.complete(msgs) == "Click Resume. [rb-a]"
        assert len(fake_llm.requests) == 2

Behaviours (one per request, in order; ``then`` answers once the script runs out):

    "text"                   a normal completion with that content
    answer(text)             the same, spelled out
    stall(seconds, text)     wait, then answer (past the client's read timeout: a timeout)
    trickle(seconds, text)   headers at once, then the body one byte every ``seconds`` (each
                             read is quick, the whole response is not)
    redirect(url)            307 to ``url`` (the client must not follow it)
    status(code, ...)        an OpenAI-style error body with that HTTP status (429, 500 ...)
    MALFORMED                200, ``application/json``, a body that is not JSON
    EMPTY                    a completion whose content is ""
    {"body": obj}            exactly this JSON (valid JSON, any shape)
    raw(bytes, headers)      exactly these bytes and headers (a gzip body, say), status 200
    callable(body) -> one of the above, decided from the request body

One server runs per test session (started on first use, stopped at the end);
``fake_llm`` hands it to each test with the script and the recorded requests
cleared. Fixtures wider than a function use ``fake_llm_server`` (no reset).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections import deque
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

MALFORMED = {"malformed": True}
EMPTY = {"empty": True}
DEFAULT_ANSWER = "This is the fake model's answer."


def answer(text: str) -> dict:
    return {"text": text}


def stall(seconds: float, text: str = DEFAULT_ANSWER) -> dict:
    return {"stall": seconds, "text": text}


def trickle(seconds: float, text: str = DEFAULT_ANSWER) -> dict:
    return {"trickle": seconds, "text": text}


def escaped(text: str) -> dict:
    """An answer sent as ASCII JSON, so that it may hold what UTF-8 cannot ("\\ud800", half a surrogate pair)."""
    return {"escaped": text}


def raw(content: bytes, headers: dict[str, str] | None = None) -> dict:
    return {"raw": content, "headers": headers or {}}


def redirect(url: str) -> dict:
    return {"redirect": url}


def status(code: int, *, retry_after: float | None = None, message: str | None = None) -> dict:
    return {"status": code, "retry_after": retry_after, "message": message}


class FakeLLM:
    """The scriptable OpenAI-compatible server. ``url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[Any] = deque()
        self._then: Any = DEFAULT_ANSWER
        self._requests: list[dict] = []
        self._ids = itertools.count(1)
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- what tests use -----------------------------------------------------

    def script(self, behaviours: list[Any], then: Any = DEFAULT_ANSWER) -> "FakeLLM":
        """Answer the next requests with ``behaviours`` in order, then with ``then``."""
        with self._lock:
            self._queue = deque(behaviours)
            self._then = then
        return self

    @property
    def requests(self) -> list[dict]:
        """What the server received, oldest first: ``{"path", "headers", "json", "messages"}``."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget the script and the recorded requests."""
        with self._lock:
            self._queue.clear()
            self._then = DEFAULT_ANSWER
            self._requests.clear()

    # --- the server ---------------------------------------------------------

    def _next(self, body: dict) -> Any:
        with self._lock:
            behaviour = self._queue.popleft() if self._queue else self._then
        return behaviour(body) if callable(behaviour) else behaviour

    def _completion(self, body: dict, text: str) -> dict:
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "fake"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat_completions(request: Request):
            raw = await request.body()
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            with self._lock:
                self._requests.append(
                    {
                        "path": request.url.path,
                        "headers": dict(request.headers),
                        "json": body,
                        "messages": body.get("messages", []),
                        "at": time.monotonic(),
                    }
                )
            behaviour = self._next(body)
            if isinstance(behaviour, str):
                behaviour = {"text": behaviour}
            if behaviour.get("stall"):
                # Stall, but stop as soon as the client gives up, so no task outlives the test.
                until = time.monotonic() + float(behaviour["stall"])
                while time.monotonic() < until:
                    if await request.is_disconnected():
                        return Response(status_code=499)
                    await asyncio.sleep(0.02)
            if behaviour.get("status"):
                code = int(behaviour["status"])
                headers = {}
                if behaviour.get("retry_after") is not None:
                    headers["retry-after"] = str(behaviour["retry_after"])
                message = behaviour.get("message") or f"fake error {code}"
                kind = "rate_limit_exceeded" if code == 429 else "server_error" if code >= 500 else "invalid_request_error"
                return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status_code=code, headers=headers)
            if behaviour.get("redirect"):
                return Response(status_code=307, headers={"location": behaviour["redirect"]})
            if behaviour.get("trickle"):
                payload = json.dumps(self._completion(body, behaviour.get("text", DEFAULT_ANSWER))).encode()
                pause = float(behaviour["trickle"])

                async def drip():
                    for i in range(len(payload)):
                        if await request.is_disconnected():
                            return
                        yield payload[i:i + 1]
                        await asyncio.sleep(pause)

                return StreamingResponse(drip(), media_type="application/json")
            if "raw" in behaviour:
                return Response(content=behaviour["raw"], media_type="application/json", headers=behaviour["headers"])
            if "body" in behaviour:
                return JSONResponse(behaviour["body"], status_code=int(behaviour.get("code", 200)))
            if behaviour.get("malformed"):
                return Response(content=b'{"id": "chatcmpl-broken", "choices": [{"mess', media_type="application/json")
            if "escaped" in behaviour:
                return Response(content=json.dumps(self._completion(body, behaviour["escaped"])).encode(),
                                media_type="application/json")
            if behaviour.get("empty"):
                return JSONResponse(self._completion(body, ""))
            return JSONResponse(self._completion(body, behaviour.get("text", DEFAULT_ANSWER)))

        return app

    def start(self) -> "FakeLLM":
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True, name="fake-llm")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake LLM server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)


_shared: FakeLLM | None = None
_shared_lock = threading.Lock()


def _session_server(config: pytest.Config | None = None) -> FakeLLM:
    """The one server of this test session, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = FakeLLM().start()
            server = _shared

            def _stop() -> None:
                global _shared
                server.stop()
                _shared = None

            if config is not None:
                config.add_cleanup(_stop)
        return _shared


@pytest.fixture(scope="session")
def fake_llm_server(pytestconfig) -> FakeLLM:
    """The session's server without per-test reset, for module- or session-scoped fixtures."""
    return _session_server(pytestconfig)


@pytest.fixture
def fake_llm(pytestconfig):
    """The session's fake OpenAI server, script and recorded requests cleared for this test."""
    server = _session_server(pytestconfig)
    server.reset()
    yield server
    server.reset()


__all__ = ["EMPTY", "MALFORMED", "FakeLLM", "answer", "fake_llm", "fake_llm_server", "stall", "status"]
