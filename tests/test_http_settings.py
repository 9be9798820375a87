"""The HTTP-layer settings (``ASSISTANT_CHAT_RATE_LIMIT``, ``ASSISTANT_RATE_LIMIT_STORAGE``,
``ASSISTANT_MAX_BODY_BYTES``, ``ASSISTANT_MAX_BATCH``, ``ASSISTANT_SAMPLE_REQUESTS``) as fields of
``Settings``: their defaults, the environment, the errors for bad values, and the app obeying them.

The app tests run a real server (``LiveServer`` from test_api) with a stand-in pipeline and
decision log handed in, as ``create_app`` allows: what is tested is the HTTP layer, not the answers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest

from assistant.config import Settings, load_settings
from assistant.errors import ConfigError
from tests.test_api import LiveServer, assert_error

FIELDS = ("chat_rate_limit", "rate_limit_storage", "max_body_bytes", "max_batch", "sample_requests")


def variable(field: str) -> str:
    return f"ASSISTANT_{field.upper()}"


# -- Settings -------------------------------------------------------------------------
def test_defaults():
    s = Settings()
    assert (s.chat_rate_limit, s.rate_limit_storage, s.max_body_bytes, s.max_batch, s.sample_requests) == (
        "30/minute", "memory://", 262144, 64, None)


@pytest.mark.parametrize("field, raw, expected", [
    ("chat_rate_limit", "100/hour", "100/hour"),
    ("chat_rate_limit", "5 per second;100/day", "5 per second;100/day"),
    ("rate_limit_storage", "redis://cache:6379/0", "redis://cache:6379/0"),
    ("max_body_bytes", "1024", 1024),
    ("max_batch", " 7 ", 7),
    ("sample_requests", "/srv/samples.jsonl", Path("/srv/samples.jsonl")),
])
def test_each_field_is_read_from_its_variable(monkeypatch, field, raw, expected):
    monkeypatch.setenv(variable(field), raw)
    assert getattr(load_settings(), field) == expected


@pytest.mark.parametrize("field", FIELDS)
def test_an_empty_variable_means_the_default(monkeypatch, field):
    monkeypatch.setenv(variable(field), "")
    assert getattr(load_settings(), field) == Settings.model_fields[field].default


@pytest.mark.parametrize("field, raw", [
    ("chat_rate_limit", "30"),
    ("chat_rate_limit", "lots"),
    ("chat_rate_limit", "30/fortnight"),
    ("chat_rate_limit", "-1/minute"),
    ("rate_limit_storage", "localhost:6379"),
    ("rate_limit_storage", "nosuchstore://x"),
    ("rate_limit_storage", "async+memory://"),
    ("max_body_bytes", "256k"),
    ("max_body_bytes", "0"),
    ("max_body_bytes", "-5"),
    ("max_body_bytes", "1.5"),
    ("max_batch", "many"),
    ("max_batch", "0"),
    ("p0_threshold", "1.5"),
    ("p0_threshold", "high"),
    ("p0_threshold", "nan"),
    ("p0_threshold", "0.2"),
    ("p0_threshold", "1e400"),
    ("min_support_chat", "-0.1"),
    ("min_confidence_email", "0,7"),
])
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, field, raw):
    monkeypatch.setenv(variable(field), raw)
    with pytest.raises(ConfigError) as err:
        load_settings()  # `assistant serve` calls it once before starting the workers
    assert err.value.field == field
    assert variable(field) in err.value.message and repr(raw).strip("'") in err.value.message
    assert err.value.message.startswith("invalid settings:")  # the style of every other setting


@pytest.mark.parametrize("field, value", [("max_batch", 0), ("max_body_bytes", True), ("max_batch", 2.5),
                                          ("chat_rate_limit", "often")])
def test_bad_values_given_in_code_are_refused_too(field, value):
    with pytest.raises(ConfigError) as err:
        load_settings(**{field: value})
    assert err.value.field == field and variable(field) in err.value.message


def test_updated_changes_only_what_is_given_and_checks_it(monkeypatch, tmp_path):
    base = Settings(index=tmp_path, api_keys="k1,k2", database_url=None, max_batch=3)
    monkeypatch.setenv("ASSISTANT_DATABASE_URL", "sqlite:///elsewhere.sqlite3")
    copy = base.updated(max_batch=1, chat_rate_limit=None)
    assert copy.max_batch == 1 and base.max_batch == 3
    assert copy.chat_rate_limit == "30/minute" and copy.index == tmp_path and copy.api_key_list() == ["k1", "k2"]
    assert copy.database_url is None  # not filled in from the environment behind the caller's back
    assert base.updated() is base
    with pytest.raises(ConfigError) as err:
        base.updated(max_body_bytes=0)
    assert err.value.field == "max_body_bytes"


# -- the app ----------------------------------------------------------------------------
class _Result:
    def __init__(self, request):
        self.request = request

    def public(self) -> dict:
        return {"id": self.request.id, "answer": "stand-in", "citations": []}

    classify_view = public


class StandInPipeline:
    """Answers anything at once; counts what it was asked."""

    def __init__(self):
        self.calls = 0

    def run(self, request, source):
        self.calls += 1
        return _Result(request)


class StandInLog:
    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


def make_app(tmp_path, **kwargs):
    from api.app import create_app

    pipeline = StandInPipeline()
    app = create_app(Settings(index=tmp_path / "idx"), pipeline=pipeline, decision_log=StandInLog(), **kwargs)
    return app, pipeline


def samples_of(html: str) -> list[dict]:
    return json.loads(re.search(r'<script type="application/json" id="samples">(.*?)</script>', html, re.S).group(1))


def test_the_app_takes_its_http_settings_from_the_environment(monkeypatch, tmp_path):
    for field, raw in [("chat_rate_limit", "9/hour"), ("max_body_bytes", "1234"), ("max_batch", "2")]:
        monkeypatch.setenv(variable(field), raw)
    app, _ = make_app(tmp_path)
    s = app.state.runtime.settings
    assert (s.chat_rate_limit, s.max_body_bytes, s.max_batch) == ("9/hour", 1234, 2)


def test_create_app_arguments_win_over_the_settings_and_are_checked(monkeypatch, tmp_path):
    from api.app import create_app

    monkeypatch.setenv("ASSISTANT_MAX_BATCH", "9")
    app, _ = make_app(tmp_path, max_batch=1, chat_rate_limit="3/second")
    s = app.state.runtime.settings
    assert (s.max_batch, s.chat_rate_limit, s.max_body_bytes) == (1, "3/second", 262144)
    with pytest.raises(ConfigError) as err:
        make_app(tmp_path, max_body_bytes=0)
    assert err.value.field == "max_body_bytes"
    # With no settings at all (the uvicorn factory), a bad variable stops the app being built.
    monkeypatch.setenv("ASSISTANT_CHAT_RATE_LIMIT", "fast")
    with pytest.raises(ConfigError) as err:
        create_app()
    assert err.value.field == "chat_rate_limit" and "ASSISTANT_CHAT_RATE_LIMIT" in err.value.message


def test_the_limiter_counts_in_the_configured_storage(monkeypatch, tmp_path):
    import api.app

    seen = []
    real = api.app.Limiter

    def recording(**kwargs):
        seen.append(kwargs["storage_uri"])
        return real(**{**kwargs, "storage_uri": "memory://"})  # no Redis here: count in memory

    monkeypatch.setattr(api.app, "Limiter", recording)
    make_app(tmp_path)
    monkeypatch.setenv("ASSISTANT_RATE_LIMIT_STORAGE", "redis://cache:6379/1")
    make_app(tmp_path)
    assert seen == ["memory://", "redis://cache:6379/1"]


def test_a_body_over_max_body_bytes_is_413(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_MAX_BODY_BYTES", "200")
    app, pipeline = make_app(tmp_path)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.post("/v1/ask", json={"body": "x" * 100}).status_code == 200
        err = assert_error(c.post("/v1/ask", json={"body": "x" * 300}), 413, "payload_too_large")
        assert "over the limit of 200" in err["message"]
        assert_error(c.post("/v1/chat", json={"body": "x" * 300}), 413, "payload_too_large")
    assert pipeline.calls == 1


def test_a_batch_over_max_batch_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_MAX_BATCH", "1")
    app, pipeline = make_app(tmp_path)
    two = {"requests": [{"id": "a", "body": "first"}, {"id": "b", "body": "second"}]}
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        for path in ("/v1/ask", "/v1/classify"):
            err = assert_error(c.post(path, json=two), 422, "invalid_input", "requests")
            assert "over the limit of 1" in err["message"]
        one = c.post("/v1/ask", json={"requests": two["requests"][:1]})
        assert one.status_code == 200 and [r["id"] for r in one.json()["results"]] == ["a"]
    assert pipeline.calls == 1


def test_the_default_batch_limit_is_64(tmp_path):
    app, pipeline = make_app(tmp_path)
    many = {"requests": [{"id": str(i), "body": "hello"} for i in range(65)]}
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        err = assert_error(c.post("/v1/ask", json=many), 422, "invalid_input", "requests")
        assert "over the limit of 64" in err["message"]
        assert len(c.post("/v1/ask", json={"requests": many["requests"][:64]}).json()["results"]) == 64


def test_the_chat_rate_limit_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_CHAT_RATE_LIMIT", "1/minute")
    app, _ = make_app(tmp_path)
    with LiveServer(app) as server, httpx.Client(base_url=server.url, timeout=30) as c:
        assert c.post("/v1/chat", json={"body": "hello"}).status_code == 200
        err = assert_error(c.post("/v1/chat", json={"body": "hello again"}), 429, "rate_limited")
        assert "1 per 1 minute" in err["message"]


def test_the_console_shows_the_configured_sample_requests(monkeypatch, tmp_path):
    mine = tmp_path / "samples.jsonl"
    mine.write_text(json.dumps({"id": "MINE-1", "channel": "chat", "body": "my own sample"}) + "\n")
    app, _ = make_app(tmp_path)
    with LiveServer(app) as server:
        assert samples_of(httpx.get(server.url + "/").text)[0]["id"] == "S-001"  # the bundled ones
    monkeypatch.setenv("ASSISTANT_SAMPLE_REQUESTS", str(mine))
    app, _ = make_app(tmp_path)
    with LiveServer(app) as server:
        assert [s["id"] for s in samples_of(httpx.get(server.url + "/").text)] == ["MINE-1"]
        assert "my own sample" in httpx.get(server.url + "/chat").text


# -- found by a review, 2026-12-06 ------------------------------------------------------------------
@pytest.mark.parametrize("name, value", [("ASSISTANT_LLM_BUDGET_S", "nan"), ("ASSISTANT_LLM_READ_TIMEOUT_S", "inf"),
                                         ("ASSISTANT_LLM_BREAKER_COOLDOWN_S", "nan"),
                                         ("ASSISTANT_LLM_CONNECT_TIMEOUT_S", "0"),
                                         ("ASSISTANT_RESPONSE_TARGETS_MIN", '{"P3": 10000000000}')])
def test_settings_that_would_break_every_request_stop_start_up(monkeypatch, name, value):
    from assistant.config import load_settings
    from assistant.errors import ConfigError

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()
