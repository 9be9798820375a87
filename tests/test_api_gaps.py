"""``GET /v1/gaps`` over real HTTP: the sample index, the real MiniLM, a SQLite log seeded with
tests/fixtures/gaps_log.jsonl (25 rows: topic A, 6 uncovered escalations about PAM cancelling
instead of rescheduling; B, 4 about tire storage; C, 2 about fleet accounts; one-offs and rows
that are not gaps). The ``topic`` field of each row is the answer key.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from assistant.gaps import _example
from tests.test_api import API_KEY, LiveServer, api_settings, assert_error, sample_index_dir

ROWS = [json.loads(line) for line in
        (Path(__file__).parent / "fixtures" / "gaps_log.jsonl").read_text().splitlines() if line.strip()]
TOPIC_OF_EXAMPLE = {_example(row): row["topic"] for row in ROWS}
SAMPLE_RUNBOOKS = {p.stem for p in (Path(__file__).resolve().parents[1] / "kb/sample/runbooks").glob("*.md")}

pytestmark = pytest.mark.slow


def seed(decision_log, rows=ROWS, source="api") -> None:
    """Each fixture row as the pipeline would have logged it, at its own time."""
    for row in rows:
        decision_log.record(row["request"], {"id": row["id"], **row["result"]}, source=source,
                            versions={"index": "fixture"}, created_at=row["created_at"])


def topics(cluster: dict) -> set:
    return {TOPIC_OF_EXAMPLE.get(e) for e in cluster["examples"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.app import create_app

    index = sample_index_dir(tmp_path_factory)
    settings = api_settings(index, tmp_path_factory.mktemp("gaps-log"), api_keys=API_KEY)
    with LiveServer(create_app(settings)) as live:
        seed(live.app.state.runtime.log)
        # Eval runs and imported history are not escalations anybody sent: never gaps.
        seed(live.app.state.runtime.log, [r for r in ROWS if r["topic"] == "C"] * 2, source="eval")
        yield live


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300) as c:
        yield c


@pytest.fixture(scope="module")
def report(client):
    r = client.get("/v1/gaps")
    assert r.status_code == 200, r.text
    return r.json()


def test_gaps_finds_the_known_clusters_and_flags_those_over_three(report):
    assert [(c["size"], topics(c), c["flagged"]) for c in report["clusters"]] == [
        (6, {"A"}, True), (4, {"B"}, True), (2, {"C"}, False)]
    assert report["runbooks_to_write"] == 2


def test_each_cluster_has_the_shape_the_dashboard_reads(report):
    for c in report["clusters"]:
        assert set(c) == {"size", "examples", "category", "nearest_runbook", "nearest_score", "flagged"}
        assert 1 <= len(c["examples"]) <= 5 and all(isinstance(e, str) and e for e in c["examples"])
        assert c["nearest_runbook"] in SAMPLE_RUNBOOKS
        assert 0.0 < c["nearest_score"] <= 1.0
    a, b, _c = report["clusters"]
    assert a["category"] == "llm_behavior" and b["category"] == "pam_core"
    assert all("tire" in e.lower() for e in b["examples"])


def test_top_issues_are_per_week_with_the_top_clusters(report):
    weeks = report["top_issues"]
    assert [w["period"] for w in weeks] == ["2026-W10", "2026-W11"]
    assert sum(w["total"] for w in weeks) == len(ROWS)  # the eval rows are left out
    w10, w11 = weeks
    assert w10["top_categories"][0] == {"category": "llm_behavior", "count": 9}
    assert w10["top_clusters"][0]["count"] == 6 and w10["top_clusters"][0]["flagged"]
    assert w11["top_clusters"][0]["count"] == 4 and "tire" in w11["top_clusters"][0]["example"].lower()
    assert w11["top_clusters"][0]["cluster"] == 1  # an index into "clusters"


def test_since_and_until_narrow_the_rows(client):
    r = client.get("/v1/gaps", params={"since": "2026-03-09"})
    assert r.status_code == 200, r.text
    assert [w["period"] for w in r.json()["top_issues"]] == ["2026-W11"]
    empty = client.get("/v1/gaps", params={"until": "2026-02-28"}).json()
    assert empty == {"clusters": [], "runbooks_to_write": 0, "top_issues": []}


def test_a_bad_date_is_422_naming_the_field(client):
    assert_error(client.get("/v1/gaps", params={"since": "last tuesday"}), 422, "invalid_input", "since")


def test_gaps_needs_a_valid_key(server):
    with httpx.Client(base_url=server.url, timeout=60) as anon:
        missing = anon.get("/v1/gaps")
        assert_error(missing, 401, "unauthorized", "authorization")
        assert missing.headers["www-authenticate"] == "Bearer"
        assert_error(anon.get("/v1/gaps", headers={"Authorization": "Bearer wrong-key"}), 401, "unauthorized")


def test_gaps_without_an_index_is_a_503_that_says_how_to_build_one(tmp_path):
    from api.app import create_app

    with LiveServer(create_app(api_settings(tmp_path / "no-index", tmp_path))) as live, \
            httpx.Client(base_url=live.url, timeout=30) as c:
        err = assert_error(c.get("/v1/gaps"), 503, "index_missing")
        assert "assistant ingest" in err["message"]


def test_an_unexpected_error_is_a_500_without_a_stack_trace(server):
    from api.deps import get_log

    class Broken:
        def decisions(self, **kwargs):
            raise RuntimeError("password=hunter2 at /srv/secret/log.py")

    server.app.dependency_overrides[get_log] = lambda: Broken()
    # Its own connection: uvicorn closes the one an unhandled error went through.
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as c:
            r = c.get("/v1/gaps")
    finally:
        server.app.dependency_overrides.clear()
    assert_error(r, 500, "internal_error")
    assert "hunter2" not in r.text and "RuntimeError" not in r.text


def test_openapi_and_the_dashboard_show_the_gaps(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/gaps" in spec["paths"]
    params = {p["name"] for p in spec["paths"]["/v1/gaps"]["get"]["parameters"]}
    assert {"since", "until"} <= params
    html = client.get("/dashboard").text
    assert 'id="gaps-panel"' in html and "Runbooks to write" in html and "Top issues per week" in html
