"""The HTTP API over real HTTP: uvicorn in a thread, the real pipeline on the sample KB, SQLite in tmp.

Like httpx's ``tests/conftest.py``: one server per session (``api_server``), built
on the sample index ingested once; a few tests start a second, small server for
what needs other settings (a tight chat rate limit, no index at all).
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_KB = ROOT / "kb" / "sample"
API_KEY = "test-key-1"
OTHER_KEY = "test-key-2"

_BUILT: dict[str, Path] = {}


def sample_index_dir(tmp_path_factory) -> Path:
    """The sample KB ingested once per session, shared by the API and browser tests."""
    if "index" not in _BUILT:
        from assistant.cli import main

        index = tmp_path_factory.mktemp("api-sample-index")
        assert main(["ingest", str(SAMPLE_KB), "--index", str(index), "--quiet"]) == 0
        _BUILT["index"] = index
    return _BUILT["index"]


class LiveServer:
    """A uvicorn server for ``app`` in a thread on a free 127.0.0.1 port.

    >>> with LiveServer(create_app(settings)) as server:   # doctest: +SKIP
    ...     httpx.get(server.url + "/healthz")
    """

    def __init__(self, app, startup_timeout_s: float = 600):
        import uvicorn

        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.startup_timeout_s = startup_timeout_s

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the test server exited during start-up (see the log above)")
            if time.monotonic() > deadline:
                raise TimeoutError("the test server did not start in time")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def api_settings(index: Path, log_dir: Path, **extra) -> Settings:
    return Settings(index=index, database_url=f"sqlite:///{log_dir / 'decisions.sqlite3'}", **extra)


# -- fixtures ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    from api.app import create_app

    index = sample_index_dir(tmp_path_factory)
    settings = api_settings(index, tmp_path_factory.mktemp("api-log"), api_keys=f"{API_KEY}, {OTHER_KEY}")
    app = create_app(settings, chat_rate_limit="1000/minute", max_body_bytes=64 * 1024, max_batch=5)
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def client(api_server):
    with httpx.Client(base_url=api_server.url, headers={"Authorization": f"Bearer {API_KEY}"},
                      timeout=120) as c:
        yield c


@pytest.fixture(scope="session")
def anon(api_server):
    """A client without an API key."""
    with httpx.Client(base_url=api_server.url, timeout=120) as c:
        yield c


@pytest.fixture
def overrides(api_server):
    """``app.dependency_overrides`` of the live app, emptied after the test."""
    yield api_server.app.dependency_overrides
    api_server.app.dependency_overrides.clear()


def tag() -> str:
    return uuid.uuid4().hex[:8]


def assert_error(response: httpx.Response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"error"} and set(body["error"]) <= {"code", "message", "field"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    if field is not None:
        assert body["error"].get("field") == field, body
    assert "Traceback" not in response.text and 'File "' not in response.text
    return body["error"]


XTIME = "We accepted the Xtime invite yesterday afternoon and still nothing syncs. How long does it take?"
HOURS = "How do I set our hours for Thanksgiving so PAM tells callers we're closed?"
OFF_TOPIC = "Can you recommend a good recipe for lasagna for twelve people?"

slow = pytest.mark.slow


# -- health and readiness ---------------------------------------------------------------
@slow
def test_healthz_and_readyz_say_ok_without_a_key(anon):
    assert anon.get("/healthz").json()["status"] == "ok"
    ready = anon.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and body["checks"] == {"index": "ok", "decision_log": "ok"}
    assert body["versions"]["index"]


@slow
def test_healthz_answers_while_every_worker_thread_waits(api_server, anon, overrides):
    # Found by a review: /healthz waited in the worker threads behind requests stuck on a slow
    # model (16 s), and a liveness probe would have restarted a healthy worker
    from concurrent.futures import ThreadPoolExecutor

    from api.deps import get_runtime

    release = threading.Event()

    class Stuck:
        def readiness(self):
            release.wait(30)
            return {"ready": False, "checks": {"index": "stuck"}}

    def stuck_runtime():  # a sync dependency: it takes a worker thread, as a model call does
        return Stuck()

    overrides[get_runtime] = stuck_runtime
    try:
        with ThreadPoolExecutor(48) as pool:
            waiting = [pool.submit(anon.get, "/readyz") for _ in range(48)]  # more than the 40 worker threads
            time.sleep(1.0)
            started = time.monotonic()
            assert anon.get("/healthz", timeout=5).json()["status"] == "ok"
            assert time.monotonic() - started < 1.0
            release.set()
            for w in waiting:
                w.result()
    finally:
        release.set()


@slow
def test_readyz_is_503_when_the_decision_log_stops_answering(api_server, anon, monkeypatch):
    monkeypatch.setattr(api_server.app.state.runtime.log, "ping", lambda: False)
    err = assert_error(anon.get("/readyz"), 503, "store_unavailable")
    assert "decision_log" in err["message"]


def test_readyz_names_folders_and_errors_only_to_api_key_holders(tmp_path):
    # Found by a review: /readyz, public on the chat's port, told anyone the index folder's path
    from api.app import create_app

    app = create_app(api_settings(tmp_path / "no-index", tmp_path, api_keys=API_KEY))
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        public = c.get("/readyz")
        assert public.status_code == 503 and public.json()["checks"]["index"] == "failing"
        assert str(tmp_path) not in public.text and "ingest" not in public.text
        keyed = c.get("/readyz", headers={"Authorization": f"Bearer {API_KEY}"})
        assert keyed.status_code == 503 and str(tmp_path / "no-index") in keyed.json()["checks"]["index"]


def test_readyz_is_503_and_ask_names_the_missing_index_when_there_is_none(tmp_path):
    from api.app import create_app

    app = create_app(api_settings(tmp_path / "no-index", tmp_path))
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.get("/healthz").status_code == 200
        ready = c.get("/readyz")
        err = assert_error(ready, 503, "index_missing")
        assert "assistant ingest" in err["message"] and str(tmp_path / "no-index") in err["message"]
        assert ready.json()["checks"]["decision_log"] == "ok"
        err = assert_error(c.post("/v1/ask", json={"body": "PAM is not answering calls"}), 503, "index_missing")
        assert "assistant ingest" in err["message"]
        assert_error(c.post("/v1/chat", json={"body": "hello"}), 503, "index_missing")
        # The rest of the app still works: the console loads and shows its error state.
        assert c.get("/").status_code == 200
        assert c.get("/v1/decisions").json() == {"count": 0, "decisions": []}


# -- /v1/ask and /v1/classify ------------------------------------------------------------
@slow
def test_ask_answers_one_request_with_the_result_shape_of_the_spec(client):
    rid = f"H-{tag()}"
    r = client.post("/v1/ask", json={"id": rid, "channel": "email", "subject": "Xtime not syncing", "body": XTIME})
    assert r.status_code == 200, r.text
    result = r.json()
    assert set(result) >= {"id", "category", "category_confidence", "priority", "route", "queue", "reasons",
                           "answer", "citations", "latency_ms"}
    assert result["id"] == rid and result["category"] == "integration"
    assert result["route"] in ("answer", "escalate") and result["answer"]
    assert result["citations"][0]["source_id"] == "rb-xtime-invite-delay"
    assert {"source_id", "title", "score", "snippet"} <= set(result["citations"][0])


@slow
def test_ask_batch_answers_good_items_and_gives_bad_items_an_error(client):
    t = tag()
    r = client.post("/v1/ask", json={"requests": [
        {"id": f"a-{t}", "channel": "chat", "body": HOURS},
        {"id": f"b-{t}", "channel": "fax", "body": "hello"},
        "not an object",
        {"id": f"d-{t}", "channel": "email", "subject": "", "body": ""},
        {"id": f"e-{t}", "channel": "email", "body": XTIME},
    ]})
    assert r.status_code == 200, r.text
    a, b, c, d, e = r.json()["results"]
    assert a["id"] == f"a-{t}" and a["category"] == "pam_core" and "error" not in a
    assert b["id"] == f"b-{t}" and b["error"]["field"] == "channel" and "fax" in b["error"]["message"]
    assert c["id"] is None and "expected a JSON object" in c["error"]["message"]
    assert d["error"]["code"] == "invalid_input" and "neither subject nor body" in d["error"]["message"]
    assert e["id"] == f"e-{t}" and e["category"] == "integration"


@slow
def test_classify_returns_only_the_classify_fields(client):
    r = client.post("/v1/classify", json={"id": 7, "channel": "email", "subject": "PAM keeps repeating",
                                          "body": "It loops on every call"})
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"id", "category", "category_confidence", "priority", "route", "queue", "reasons"}
    assert r.json()["id"] == "7" and r.json()["category"] == "llm_behavior"
    batch = client.post("/v1/classify", json={"requests": [{"body": HOURS}, {"channel": 1}]}).json()["results"]
    assert set(batch[0]) == {"id", "category", "category_confidence", "priority", "route", "queue", "reasons"}
    assert "error" in batch[1]


# -- bad input ---------------------------------------------------------------------------
@slow
def test_bad_json_is_a_400_that_says_so(client):
    r = client.post("/v1/ask", content=b'{"body": "PAM is', headers={"Content-Type": "application/json"})
    err = assert_error(r, 400, "invalid_json")
    assert "not valid JSON" in err["message"]


@pytest.mark.parametrize("path", ["/v1/ask", "/v1/classify", "/v1/feedback", "/v1/chat"])
@pytest.mark.parametrize("content, problem", [
    (b'{"body": "caf\xe9 xtime"}', "not UTF-8 text"),
    (b'{"body": ' + b"[" * 20_000 + b"]" * 20_000 + b"}", "nested too deeply"),  # under the 64 KB limit
    (b'{"id": ' + b"9" * 5000 + b', "body": "xtime"}', "digits"),
])
def test_a_body_that_cannot_be_read_as_json_is_a_400_naming_why(client, path, content, problem):
    # Found by a review: these were "There was an error parsing the body", naming nothing.
    err = assert_error(client.post(path, content=content, headers={"Content-Type": "application/json"}),
                       400, "invalid_json")
    assert err["message"].startswith("request body is") and problem in err["message"]


@pytest.mark.parametrize("content", [b'{"body": "PAM is', b'{"body": "caf\xe9"}', b'{"channel": 5, "body": "x"}'])
def test_a_caller_without_a_key_gets_401_whatever_its_body(anon, content):
    # FastAPI reads the body before it checks the key: a bad body was 400 or 422 to anyone.
    r = anon.post("/v1/ask", content=content, headers={"Content-Type": "application/json"})
    assert_error(r, 401, "unauthorized", "authorization")


@slow
@pytest.mark.parametrize("payload, field", [
    ({"channel": 5, "body": "hello"}, "channel"),
    ({"channel": "fax", "body": "hello"}, "channel"),
    ({"subject": "", "body": ""}, "body"),
    ({"requests": "not a list"}, "requests"),
    ({"requests": []}, "requests"),
    ({"requests": [{"body": "x"}] * 6}, "requests"),  # the test server allows 5 per call
    ({"body": "x" * 25_000}, "body"),  # over max_request_chars (20,000) but under the byte limit
])
def test_wrong_fields_are_422_naming_the_field(client, payload, field):
    err = assert_error(client.post("/v1/ask", json=payload), 422, "invalid_input", field)
    assert "x" * 100 not in err["message"]  # the input is never echoed back


@slow
@pytest.mark.parametrize("payload, kind", [([1, 2], "array"), ("just text", "string"), (42, "number"), (None, "null")])
def test_a_body_that_is_not_an_object_is_422_and_logged_as_an_error(client, anon, payload, kind):
    before = client.get("/v1/metrics").json()["errors"]
    for api, path in ((client, "/v1/ask"), (client, "/v1/classify"), (anon, "/v1/chat")):
        err = assert_error(api.post(path, content=json.dumps(payload), headers={"Content-Type": "application/json"}),
                           422, "invalid_input")
        assert err["message"] == f"request: expected a JSON object, got {kind}"
    # found by a review: counted when batched, not when sent alone
    assert client.get("/v1/metrics").json()["errors"] == before + 3


@slow
def test_a_form_body_is_415_asking_for_json(client):
    r = client.post("/v1/ask", content=b"body=hello", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert "application/json" in assert_error(r, 415, "unsupported_media_type")["message"]


@slow
def test_query_parameters_of_the_wrong_type_are_422(client):
    assert_error(client.get("/v1/decisions", params={"limit": "many"}), 422, "invalid_request", "limit")
    assert_error(client.get("/v1/decisions", params={"limit": 0}), 422, "invalid_request", "limit")
    assert_error(client.get("/v1/decisions", params={"route": "maybe"}), 422, "invalid_request", "route")
    assert_error(client.get("/v1/decisions", params={"since": "last tuesday"}), 422, "invalid_input", "since")
    assert_error(client.get("/v1/metrics", params={"period": "year"}), 422, "invalid_request", "period")


@slow
def test_oversize_body_is_413_by_length_and_while_streaming(client):
    big = json.dumps({"body": "x" * 100_000}).encode()
    err = assert_error(client.post("/v1/ask", content=big, headers={"Content-Type": "application/json"}),
                       413, "payload_too_large")
    assert "65536" in err["message"]

    def chunks():  # no Content-Length: the limit must hold while the body streams in
        for _ in range(20):
            yield b"x" * 8192

    r = client.post("/v1/ask", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "payload_too_large")


@slow
def test_unknown_path_and_wrong_method_get_the_error_shape(client):
    assert_error(client.get("/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/v1/ask"), 405, "method_not_allowed")


# -- API keys ------------------------------------------------------------------------------
@slow
@pytest.mark.parametrize("method, path", [
    ("POST", "/v1/ask"), ("POST", "/v1/classify"), ("POST", "/v1/feedback"),
    ("GET", "/v1/decisions"), ("GET", "/v1/metrics"),
])
def test_v1_needs_a_valid_key(anon, method, path):
    body = {"body": HOURS} if method == "POST" else None
    missing = anon.request(method, path, json=body)
    assert_error(missing, 401, "unauthorized", "authorization")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_error(anon.request(method, path, json=body, headers={"Authorization": "Bearer wrong-key"}),
                 401, "unauthorized")
    assert_error(anon.request(method, path, json=body, headers={"Authorization": f"Basic {API_KEY}"}),
                 401, "unauthorized")


@slow
def test_every_configured_key_works_and_chat_needs_none(anon):
    r = anon.get("/v1/metrics", headers={"Authorization": f"Bearer {OTHER_KEY}"})
    assert r.status_code == 200, r.text
    assert anon.post("/v1/chat", json={"body": HOURS}).status_code == 200


# -- /v1/chat --------------------------------------------------------------------------------
INTERNAL_IDS = {p.stem for p in (SAMPLE_KB / "runbooks").glob("*.md") if "audience: internal" in p.read_text()}


@slow
@pytest.mark.parametrize("message", [
    "Can you force a resync of our CDK DMS connection right now?",
    "PAM is looping and asking callers the same thing twice",
    XTIME,
    OFF_TOPIC,
])
def test_chat_never_returns_a_handoff_or_internal_text(anon, message):
    r = anon.post("/v1/chat", json={"id": f"c-{tag()}", "channel": "email", "body": message})
    assert r.status_code == 200, r.text
    result = r.json()
    assert "handoff" not in result and "rationale" not in result
    for c in result["citations"]:
        assert c["source_id"] not in INTERNAL_IDS and not c["source_id"].startswith("T-")
        assert c["audience"] == "customer" and c["kind"] == "runbook"


@slow
def test_chat_takes_one_message_per_call(anon):
    r = anon.post("/v1/chat", json={"requests": [{"body": HOURS}, {"body": XTIME}]})
    assert_error(r, 422, "invalid_input", "requests")


@slow
def test_chat_strips_a_handoff_and_staff_sources_even_if_the_pipeline_returned_them(api_server, anon, overrides):
    from api.deps import get_pipeline
    from assistant.models import Citation, Handoff

    real = api_server.app.state.runtime.pipeline
    secret = "STAFF ONLY: reset the tenant with the admin console"

    class LeakyPipeline:
        def run(self, request, *, source):
            result = real.run(request, source=source)
            leak = Citation(source_id="rb-internal-dms-force-resync", title="internal", score=0.99,
                            snippet=secret, audience="internal")
            return result.model_copy(update={
                "handoff": Handoff(priority=result.priority, category=result.category, queue=result.queue,
                                   summary=secret),
                "rationale": secret, "citations": [leak, *result.citations]})

    overrides[get_pipeline] = lambda: LeakyPipeline()
    r = anon.post("/v1/chat", json={"body": XTIME})
    assert r.status_code == 200, r.text
    assert secret not in r.text and "handoff" not in r.json() and "rationale" not in r.json()
    assert all(c["source_id"] != "rb-internal-dms-force-resync" for c in r.json()["citations"])


@slow
def test_chat_is_rate_limited_per_client_with_the_error_shape(api_server):
    from api.app import create_app

    runtime = api_server.app.state.runtime
    app = create_app(runtime.settings, pipeline=runtime.pipeline, decision_log=runtime.log, chat_rate_limit="2/minute")
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=120) as c:
        codes = [c.post("/v1/chat", json={"body": HOURS}).status_code for _ in range(2)]
        assert codes == [200, 200]
        limited = c.post("/v1/chat", json={"body": HOURS})
        err = assert_error(limited, 429, "rate_limited")
        assert "2 per 1 minute" in err["message"]
        assert int(limited.headers["retry-after"]) > 0
        # The limit is on the chat only: the keyed API is not counted against it.
        assert c.get("/healthz").status_code == 200


# -- /v1/feedback ------------------------------------------------------------------------------
@slow
def test_feedback_attaches_to_the_decision_and_shows_in_the_log(client):
    rid = f"F-{tag()}"
    assert client.post("/v1/ask", json={"id": rid, "body": HOURS}).status_code == 200
    r = client.post("/v1/feedback", json={"id": rid, "outcome": "edited", "resolved_tier": 1,
                                          "final_text": "Set the holiday under Settings > Hours.", "note": "ok"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == rid and r.json()["outcome"] == "edited" and r.json()["decision_id"]
    (row,) = [d for d in client.get("/v1/decisions", params={"limit": 1000}).json()["decisions"] if d["id"] == rid]
    assert row["feedback"]["outcome"] == "edited" and row["resolved_tier"] == 1


@slow
def test_feedback_for_an_unknown_id_is_404(client):
    err = assert_error(client.post("/v1/feedback", json={"id": f"never-{tag()}", "outcome": "accepted"}),
                       404, "not_found", "id")
    assert "never-" in err["message"]


@slow
@pytest.mark.parametrize("payload, field", [
    ({"outcome": "accepted"}, "id"),
    ({"id": "x", "outcome": "loved it"}, "outcome"),
    ({"id": "x", "outcome": "accepted", "resolved_tier": 4}, "resolved_tier"),
    ({"id": "x", "outcome": "accepted", "resolved_tier": "one"}, "resolved_tier"),
])
def test_bad_feedback_is_422_naming_the_field(client, payload, field):
    assert_error(client.post("/v1/feedback", json=payload), 422, "invalid_request", field)


@slow
def test_edited_feedback_without_the_text_sent_is_422(client):
    rid = f"E-{tag()}"
    client.post("/v1/ask", json={"id": rid, "body": HOURS})
    assert_error(client.post("/v1/feedback", json={"id": rid, "outcome": "edited"}), 422, "invalid_input",
                 "final_text")


@slow
def test_a_decision_log_that_is_down_is_a_503(client, overrides):
    from api.deps import get_log
    from assistant.errors import StoreUnavailable

    class DownLog:
        def feedback(self, fb):
            raise StoreUnavailable("decision log: cannot record feedback: OperationalError")

    overrides[get_log] = lambda: DownLog()
    r = client.post("/v1/feedback", json={"id": "x", "outcome": "accepted"})
    assert_error(r, 503, "store_unavailable")
    assert r.headers["retry-after"]


# -- /v1/decisions and /v1/metrics ---------------------------------------------------------------
@slow
def test_decisions_are_newest_first_and_filtered(client, anon):
    t = tag()
    sent = [(f"D1-{t}", "email", XTIME), (f"D2-{t}", "email", OFF_TOPIC), (f"D3-{t}", "email", HOURS)]
    results = {}
    for rid, channel, body in sent:
        results[rid] = client.post("/v1/ask", json={"id": rid, "channel": channel, "body": body}).json()
    anon.post("/v1/chat", json={"id": f"D4-{t}", "body": HOURS})
    chat_id = f"chat:D4-{t}"  # the public chat's ids are logged apart

    rows = client.get("/v1/decisions", params={"limit": 1000}).json()["decisions"]
    ours = [d["id"] for d in rows if d["id"] and d["id"].endswith(t)]
    assert ours == [chat_id, f"D3-{t}", f"D2-{t}", f"D1-{t}"]
    times = [d["created_at"] for d in rows]
    assert times == sorted(times, reverse=True)
    by_id = {d["id"]: d for d in rows}
    assert by_id[chat_id]["source"] == "chat" and by_id[f"D1-{t}"]["source"] == "api"
    assert by_id[f"D1-{t}"]["result"]["category"] == results[f"D1-{t}"]["category"]

    for name in ("route", "category", "queue"):
        for value in {r[name] for r in results.values()}:
            filtered = client.get("/v1/decisions", params={name: value, "limit": 1000}).json()["decisions"]
            assert all(d[name] == value for d in filtered), (name, value)
            assert {d["id"] for d in filtered} >= {rid for rid, r in results.items() if r[name] == value}

    limited = client.get("/v1/decisions", params={"limit": 2}).json()
    assert limited["count"] == 2 and [d["id"] for d in limited["decisions"]] == [chat_id, f"D3-{t}"]
    assert client.get("/v1/decisions", params={"since": "2999-01-01"}).json()["count"] == 0
    assert client.get("/v1/decisions", params={"until": "2000-01-01"}).json()["count"] == 0
    today = by_id[chat_id]["created_at"][:10]
    assert client.get("/v1/decisions", params={"since": today, "until": today, "limit": 1000}).json()["count"] >= 4


@slow
def test_metrics_have_the_dashboard_shape_and_count_new_decisions(client):
    before = client.get("/v1/metrics").json()
    client.post("/v1/ask", json={"id": f"M-{tag()}", "body": HOURS})
    after = client.get("/v1/metrics", params={"period": "day"}).json()
    assert after["total"] == before["total"] + 1
    assert after["period"] == "day"
    assert set(after) >= {"total", "routing", "tiers", "red_flags", "periods", "targets", "volume", "acceptance"}
    assert set(after["routing"]) >= {"answered", "escalated", "answer_rate", "escalation_rate"}
    assert set(after["tiers"]) >= {"tier1", "tier2", "tier3"}
    assert after["targets"]["tier1_resolution"] == {"min": 0.7, "max": 0.8}
    assert set(after["periods"][-1]) >= {"period", "count", "answered", "escalated", "tier1_rate"}
    assert client.get("/v1/metrics", params={"since": "2999-01-01"}).json()["total"] == 0


# -- failures that nobody planned ----------------------------------------------------------------
@slow
def test_an_unexpected_error_is_a_500_without_a_stack_trace(client, overrides):
    from api.deps import get_pipeline

    class Broken:
        def run(self, request, *, source):
            raise RuntimeError("password=hunter2 at /srv/secret/config.py")

    overrides[get_pipeline] = lambda: Broken()
    r = client.post("/v1/ask", json={"body": HOURS})
    err = assert_error(r, 500, "internal_error")
    assert "hunter2" not in r.text and "/srv/secret" not in r.text and "RuntimeError" not in r.text
    assert re.search(r"incident [0-9a-f]{12}", err["message"])


# -- the OpenAPI document and the pages ---------------------------------------------------------
@slow
def test_openapi_documents_every_endpoint(anon):
    spec = anon.get("/openapi.json").json()
    for path in ("/v1/ask", "/v1/classify", "/v1/chat", "/v1/feedback", "/v1/decisions", "/v1/metrics",
                 "/healthz", "/readyz"):
        assert path in spec["paths"], path
    assert "/" not in spec["paths"] and "/dashboard" not in spec["paths"]
    ask = spec["paths"]["/v1/ask"]["post"]
    assert "anyOf" in json.dumps(ask["requestBody"])  # one request or a batch
    docs = anon.get("/docs")
    assert docs.status_code == 200
    # Works with no internet: the Swagger UI assets come from the app, not a CDN.
    assert "cdn" not in docs.text.lower() and "http://" not in docs.text and "https://" not in docs.text
    for asset in re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', docs.text):
        assert anon.get(asset).status_code == 200, asset
    assert re.search(r'src="/[^"]+swagger-ui-bundle\.js"', docs.text)


@slow
@pytest.mark.parametrize("path, marker", [("/", "Triage a request"), ("/chat", "Ask about PAM"),
                                          ("/dashboard", "Support health")])
def test_pages_are_served_with_a_strict_content_security_policy(anon, path, marker):
    r = anon.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert marker in r.text
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert '<meta name="viewport"' in r.text


@slow
def test_console_embeds_the_sample_requests_and_asks_for_a_key(anon):
    html = anon.get("/").text
    assert 'data-auth="required"' in html
    samples = json.loads(re.search(r'<script type="application/json" id="samples">(.*?)</script>', html, re.S).group(1))
    assert samples and samples[0]["id"] == "S-001" and set(samples[0]) == {"id", "channel", "subject", "body"}


@slow
def test_pages_load_nothing_from_another_host(anon):
    html = "".join(anon.get(p).text for p in ("/", "/chat", "/dashboard"))
    assets = set(re.findall(r'(?:src|href)="(/static/[^"?]+)', html))
    assert {"/static/app.css", "/static/common.js", "/static/console.js", "/static/chat.js",
            "/static/dashboard.js", "/static/charts.js"} <= assets
    text = html
    for asset in assets:
        r = anon.get(asset)
        assert r.status_code == 200, asset
        text += r.text
    urls = set(re.findall(r"https?://[^\s\"')]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls  # the SVG namespace is a name, not a download


# -- input that once broke a whole call (review of the API against SPEC) -------------------------
@slow
def test_a_batch_item_with_an_unencodable_id_does_not_lose_the_good_items(client):
    t = tag()
    raw = '{"requests": [{"id": "g-%s", "body": "%s"}, {"id": "b\\ud800", "body": "hello"}]}' % (t, HOURS)
    r = client.post("/v1/ask", content=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text  # before: 500, the good item's result lost
    good, bad = r.json()["results"]
    assert good["id"] == f"g-{t}" and good["category"] == "pam_core"
    assert bad["error"]["field"] == "id" and bad["id"] == "b?"


@slow
def test_a_request_with_no_text_at_all_is_422_not_triaged(client):
    for payload in ({}, {"id": f"E-{tag()}"}, {"channel": "chat"}):
        assert_error(client.post("/v1/ask", json=payload), 422, "invalid_input", "body")


@slow
def test_dates_out_of_range_are_422_naming_the_parameter(client):
    assert_error(client.get("/v1/metrics", params={"until": "9999-12-31"}), 422, "invalid_input", "until")
    assert_error(client.get("/v1/decisions", params={"since": "0001-01-01T00:00:00+01:00"}), 422,
                 "invalid_input", "since")


@slow
def test_resolved_tier_true_is_not_tier_1(client):
    rid = f"T-{tag()}"
    assert client.post("/v1/ask", json={"id": rid, "body": HOURS}).status_code == 200
    r = client.post("/v1/feedback", json={"id": rid, "outcome": "accepted", "resolved_tier": True})
    assert r.status_code == 422, r.text
    r = client.post("/v1/feedback", json={"id": rid, "outcome": "accepted", "resolved_tier": "2"})
    assert r.status_code == 200 and r.json()["resolved_tier"] == 2, r.text  # as `assistant feedback` reads it


@slow
def test_error_items_of_a_batch_are_logged_and_counted_as_errors(client):
    before = client.get("/v1/metrics").json()
    t = tag()
    r = client.post("/v1/ask", json={"requests": [{"id": f"x-{t}", "channel": "fax", "body": "call me on 212 555 0147"},
                                                  {"id": f"y-{t}", "body": HOURS}]})
    assert r.status_code == 200
    after = client.get("/v1/metrics").json()
    assert after["errors"] == before["errors"] + 1
    rows = {d["id"]: d for d in client.get("/v1/decisions", params={"limit": 1000}).json()["decisions"]}
    assert f"x-{t}" in rows and f"y-{t}" in rows
    # logged redacted like any request (read in the request itself: a random decision uuid may hold "555")
    assert "555" not in json.dumps(rows[f"x-{t}"]["request"]) and "[PHONE]" in json.dumps(rows[f"x-{t}"]["request"])


# -- found by a review, 2026-12-06 ------------------------------------------------------------------
@slow
def test_the_public_chat_cannot_take_a_ticket_id_from_the_staff_side(client, anon):
    rid = f"T-{tag()}"
    email = client.post("/v1/ask", json={"id": rid, "channel": "email", "body": "PAM is not answering calls at all"})
    chat = anon.post("/v1/chat", json={"id": rid, "body": "how do i set holiday hours?"})
    assert chat.status_code == 200 and chat.json()["id"] == rid  # the customer gets their id back
    fb = client.post("/v1/feedback", json={"id": rid, "outcome": "escalated", "resolved_tier": 3})
    rows = {d["decision_id"]: d for d in client.get("/v1/decisions", params={"limit": 1000}).json()["decisions"]}
    assert rows[fb.json()["decision_id"]]["source"] == "api"  # before: the anonymous chat row took it
    assert email.status_code == 200 and rows[fb.json()["decision_id"]]["channel"] == "email"
    assert any(d["id"] == f"chat:{rid}" and d["source"] == "chat" for d in rows.values())
    bad = f"T-{tag()}"  # a message that is no valid request is logged apart too
    assert_error(anon.post("/v1/chat", json={"id": bad, "body": ""}), 422, "invalid_input")
    ids = {d["id"] for d in client.get("/v1/decisions", params={"limit": 1000}).json()["decisions"]}
    assert f"chat:{bad}" in ids and bad not in ids


@slow
def test_feedback_reaches_a_chat_request_with_the_longest_id(client, anon):
    # Found by a review: a chat id of 196-200 characters was logged as "chat:<id>", and feedback
    # naming that was refused as over 200 characters.
    rid = f"L{tag()}".ljust(200, "x")
    assert anon.post("/v1/chat", json={"id": rid, "body": "how do i set holiday hours?"}).status_code == 200
    fb = client.post("/v1/feedback", json={"id": f"chat:{rid}", "outcome": "accepted", "resolved_tier": 1})
    assert fb.status_code == 200, fb.text
    assert_error(client.post("/v1/feedback", json={"id": "x" * 206, "outcome": "accepted"}), 422, "invalid_request")


def test_a_fault_on_the_public_chat_names_no_server_path(tmp_path):
    from api.app import create_app

    app = create_app(api_settings(tmp_path / "secret-index", tmp_path))
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        err = assert_error(c.post("/v1/chat", json={"body": "hello"}), 503, "index_missing")
        assert "secret-index" not in err["message"] and str(tmp_path) not in err["message"]
        # the staff API still names what to do
        assert "assistant ingest" in assert_error(c.post("/v1/ask", json={"body": "hi"}), 503, "index_missing")["message"]


def test_sample_requests_shown_on_pages_are_redacted(tmp_path):
    from api.app import load_samples

    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps({"id": "s1", "channel": "chat", "body": "Jane Roe, call me at 212-555-0147, "
                                "jane@roe.com, my card 4111 1111 1111 1111"}) + "\n"
                    + json.dumps({"id": "s2", "channel": "email", "subject": "DOB 01/02/1980", "body": "John"}) + "\n")
    text = json.dumps(load_samples(path))
    for secret in ("212-555-0147", "jane@roe.com", "4111 1111", "01/02/1980"):
        assert secret not in text  # before: shown to every visitor of /chat and /


@slow
def test_a_bad_single_request_is_logged_like_a_bad_batch_item(client):
    before = client.get("/v1/metrics").json()["errors"]
    t = tag()
    assert_error(client.post("/v1/ask", json={"id": f"bad-{t}", "channel": "fax", "body": "x"}), 422, "invalid_input",
                 "channel")
    assert client.get("/v1/metrics").json()["errors"] == before + 1  # before: counted only when batched


@slow
def test_a_running_server_serves_a_reingested_index_without_a_restart(tmp_path, monkeypatch):
    # Found by a review: a runbook made staff-only by an ingest stayed quotable on chat until the
    # server was restarted (the retriever keeps a snapshot of the chunks and their audience).
    from api import deps
    from api.app import create_app
    from assistant.cli import main
    from tests.kb_factory import RUNBOOKS, make_kb, write_runbook

    monkeypatch.setattr(deps, "CHECK_INDEX_EVERY_S", 0.0)
    kb = make_kb(tmp_path / "kb")
    assert main(["ingest", str(kb), "--index", str(tmp_path / "index"), "--quiet"]) == 0
    question = {"body": "how do I add a holiday to our business hours so PAM tells callers we are closed?"}
    with LiveServer(create_app(api_settings(tmp_path / "index", tmp_path), chat_rate_limit="1000/minute")) as server, \
            httpx.Client(base_url=server.url, timeout=60) as c:
        before = c.post("/v1/chat", json=question).json()
        assert "rb-holiday-hours" in [x["source_id"] for x in before["citations"]]
        title, category, _audience, body = RUNBOOKS["rb-holiday-hours"]
        write_runbook(kb, "rb-holiday-hours", title, category, "internal", body)
        assert main(["ingest", str(kb), "--index", str(tmp_path / "index"), "--quiet"]) == 0
        after = c.post("/v1/chat", json=question).json()
        assert "rb-holiday-hours" not in json.dumps(after)  # now staff-only: never on chat
        assert "Special dates" not in after.get("answer", "")
        assert c.get("/readyz").json()["status"] == "ready"


def test_an_index_folder_deleted_and_built_again_under_the_server_keeps_every_decision(tmp_path, monkeypatch):
    # Found by a review: the SQLite log lives in the index folder; after `rm -rf` (and an ingest)
    # the server kept writing to the unlinked file, so every later decision was lost, and
    # /readyz said ready throughout.
    import shutil

    from api import deps
    from api.app import create_app
    from assistant.cli import main
    from assistant.decision_log import DecisionLog
    from tests.kb_factory import make_kb

    monkeypatch.setattr(deps, "CHECK_INDEX_EVERY_S", 0.0)
    kb, index = make_kb(tmp_path / "kb"), tmp_path / "index"
    assert main(["ingest", str(kb), "--index", str(index), "--quiet", "--no-history"]) == 0
    ask = {"channel": "email", "body": "how do I add a holiday to our business hours so PAM tells callers we are closed?"}
    with LiveServer(create_app(Settings(index=index), chat_rate_limit="1000/minute")) as server, \
            httpx.Client(base_url=server.url, timeout=60) as c:
        assert c.post("/v1/ask", json={**ask, "id": "before"}).status_code == 200
        shutil.rmtree(index)
        ready = c.get("/readyz")
        assert ready.status_code == 503 and "no manifest" in ready.text
        assert c.post("/v1/ask", json={**ask, "id": "during"}).status_code == 200  # the loaded index answers
        # The ingest runs as it does in a deployment, in a process of its own: in this one, Chroma
        # keeps the server's client for the path it deleted, and an ingest here would open that.
        ingest = subprocess.run([sys.executable, "-m", "assistant.cli", "ingest", str(kb), "--index", str(index),
                                 "--quiet", "--no-history"], capture_output=True, text=True, timeout=600)
        assert ingest.returncode == 0, ingest.stderr
        assert c.post("/v1/ask", json={**ask, "id": "after"}).status_code == 200
        assert c.get("/readyz").json()["status"] == "ready"
    with DecisionLog.from_settings(Settings(index=index), index) as log:
        logged = {r["id"] for r in log.decisions()}
    assert {"during", "after"} <= logged  # "before" went with the folder


def test_an_index_that_fails_to_reload_is_tried_again(tmp_path, monkeypatch):
    # Found by a review: one failed reload (a passing fault) recorded the new manifest as seen,
    # so the old snapshot was served until the next ingest.
    from api import deps
    from assistant import pipeline as pipeline_mod
    from assistant.errors import IndexMissing

    runtime = deps.Runtime(settings=api_settings(tmp_path / "index", tmp_path))
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "manifest.json").write_text("{}")
    old = object()
    runtime.pipeline, runtime._loaded_stamp = old, runtime._manifest_stamp()
    monkeypatch.setattr(deps, "CHECK_INDEX_EVERY_S", 0.0)
    monkeypatch.setattr(deps, "RELOAD_EVERY_S", 0.0)
    (tmp_path / "index" / "manifest.json").write_text('{"index_version": "new"}')  # an ingest ran
    attempts = []

    def load(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise IndexMissing("the index is being written")
        return "new pipeline"

    monkeypatch.setattr(pipeline_mod.Pipeline, "load", staticmethod(load))
    runtime.reload_if_reindexed()
    assert runtime.pipeline is old  # still serving what it had
    runtime.reload_if_reindexed()
    assert runtime.pipeline == "new pipeline" and len(attempts) == 2
    runtime.reload_if_reindexed()
    assert len(attempts) == 2  # loaded: nothing more to do until the next ingest


@slow
def test_an_ingest_that_changes_the_index_but_not_the_models_is_served(tmp_path, monkeypatch):
    # Found by a review: only training rewrote the manifest a server watches, so an ingest that
    # removed a runbook now marked staff-only, while the models' documents stayed the same
    # (its earlier version already had a problem), left the server quoting it on chat.
    from api import deps
    from api.app import create_app
    from assistant.cli import main
    from assistant.manifest import read_manifest
    from tests.kb_factory import RUNBOOKS, make_kb, write_runbook

    monkeypatch.setattr(deps, "CHECK_INDEX_EVERY_S", 0.0)
    kb, index = make_kb(tmp_path / "kb"), tmp_path / "index"
    assert main(["ingest", str(kb), "--index", str(index), "--quiet", "--no-history"]) == 0
    question = {"body": "how do I add a holiday to our business hours so PAM tells callers we are closed?"}
    title, _category, _audience, body = RUNBOOKS["rb-holiday-hours"]
    with LiveServer(create_app(api_settings(index, tmp_path), chat_rate_limit="1000/minute")) as server, \
            httpx.Client(base_url=server.url, timeout=60) as c:
        write_runbook(kb, "rb-holiday-hours", title, "pam_cor", "customer", body)  # a typo: kept as indexed
        assert main(["ingest", str(kb), "--index", str(index), "--quiet", "--no-history"]) == 1
        before = c.post("/v1/chat", json=question).json()
        assert "rb-holiday-hours" in [x["source_id"] for x in before["citations"]]
        contents = read_manifest(index)["contents"]
        write_runbook(kb, "rb-holiday-hours", title, "pam_cor", "internal", body)  # and now staff-only
        assert main(["ingest", str(kb), "--index", str(index), "--quiet", "--no-history"]) == 1
        assert read_manifest(index)["contents"] != contents  # the models unchanged, the index not
        after = c.post("/v1/chat", json=question).json()
        assert "rb-holiday-hours" not in json.dumps(after)  # before: still quoted until a restart
    from assistant.decision_log import DecisionLog

    settings = api_settings(index, tmp_path)
    with DecisionLog.from_settings(settings, index) as log:
        logged = [r["versions"].get("contents") for r in log.decisions()]
    assert len(set(logged)) == 2  # the log tells which index content each answer came from
