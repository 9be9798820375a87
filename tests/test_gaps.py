"""Knowledge gaps from the decision log, with the real MiniLM.

tests/fixtures/gaps_log.jsonl holds 25 decision-log rows: three topics the KB
does not cover (A: PAM cancels when asked to reschedule, 6 rows; B: tire
storage questions, 4; C: fleet accounts, 2), six one-off uncovered requests,
and seven rows GapFinder must ignore (answered, or escalated for risk, personal
data, injection or security; three of them are about topic A). Each row's
``topic`` field is the answer key.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.gaps import GapFinder, is_gap, top_issues

ROWS = [json.loads(line) for line in
        (Path(__file__).parent / "fixtures" / "gaps_log.jsonl").read_text().splitlines() if line.strip()]


def _topics(cluster) -> set:
    return {ROWS[m]["topic"] for m in cluster.members}


@pytest.fixture(scope="module")
def clusters(embedder):
    return GapFinder(embedder).run(ROWS)


def test_fixture_is_what_the_docstring_says():
    assert len(ROWS) == 25
    assert sum(is_gap(r) for r in ROWS) == 18


def test_finds_the_three_known_topics_exactly(clusters):
    assert [(c.size, _topics(c)) for c in clusters] == [(6, {"A"}), (4, {"B"}), (2, {"C"})]
    assert clusters[0].category == "llm_behavior" and clusters[1].category == "pam_core"


def test_flags_clusters_of_more_than_three(clusters):
    assert [c.flagged for c in clusters] == [True, True, False]


def test_ignores_answered_and_non_gap_escalations(clusters):
    used = {m for c in clusters for m in c.members}
    assert all(ROWS[m]["topic"] not in ("ignore", None) for m in used)


def test_examples_are_the_requests_themselves(clusters):
    tire = clusters[1]
    assert 1 <= len(tire.examples) <= 5
    assert all("tire" in e.lower() for e in tire.examples)


def test_nearest_runbook_by_centroid(embedder, clusters):
    titles = {"rb-tire-storage": "Seasonal tire storage and changeover: what PAM tells callers",
              "rb-reschedule": "Rescheduling and cancelling appointments by phone",
              "rb-greeting": "Changing the greeting PAM says when it answers"}
    vectors = embedder.encode_documents(list(titles.values()))
    runbooks = [(rid, title, vec) for (rid, title), vec in zip(titles.items(), vectors)]
    found = GapFinder(embedder).run(ROWS, runbooks)
    assert [c.nearest_runbook for c in found[:2]] == ["rb-reschedule", "rb-tire-storage"]
    assert 0.3 < found[1].nearest_score <= 1.0
    assert all(c.nearest_runbook is None and c.nearest_score == 0.0 for c in clusters)


def test_min_cluster_drops_small_groups(embedder):
    assert [c.size for c in GapFinder(embedder, min_cluster=3).run(ROWS)] == [6, 4]


def test_nothing_to_cluster_gives_nothing(embedder):
    assert GapFinder(embedder).run([]) == []
    assert GapFinder(embedder).run([r for r in ROWS if not is_gap(r)]) == []


def test_top_issues_per_week(clusters):
    weeks = top_issues(ROWS, clusters)
    assert [w["period"] for w in weeks] == ["2026-W10", "2026-W11"]
    assert sum(w["total"] for w in weeks) == 25
    w10, w11 = weeks
    assert w10["top_clusters"][0]["count"] == 6 and w10["top_clusters"][0]["flagged"]
    assert w11["top_clusters"][0]["count"] == 4 and "tire" in w11["top_clusters"][0]["example"].lower()
    assert w10["top_categories"][0] == {"category": "llm_behavior", "count": 9}


def test_top_issues_rejects_an_unknown_period(clusters):
    from assistant.errors import InputError

    with pytest.raises(InputError):
        top_issues(ROWS, clusters, period="fortnight")


def test_the_same_request_logged_again_counts_once(embedder):
    # Re-triaged in the console or repeated in a chat: four copies are one request, not a cluster to write for.
    gap = next(r for r in ROWS if is_gap(r))
    copies = [json.loads(json.dumps(gap)) for _ in range(4)]
    copies[1]["request"]["body"] = "  " + copies[1]["request"]["body"].upper() + " "
    assert GapFinder(embedder, min_cluster=2).run(copies) == []


def test_the_same_question_from_different_requesters_is_a_gap(embedder):
    # Found by a review: four chats asking the same thing word for word were deduplicated to one
    # text, below the cluster size, while the metrics counted four requests.
    gap = next(r for r in ROWS if is_gap(r))
    copies = [dict(json.loads(json.dumps(gap)), id=f"chat-s{n}-1") for n in range(4)]
    (cluster,) = GapFinder(embedder, min_cluster=4).run(copies)
    assert cluster.size == 4 and cluster.flagged


def test_top_issues_count_a_request_triaged_twice_once_as_the_metrics_do(clusters):
    # The dashboard shows the metrics' total next to these weekly lines: they must agree.
    from assistant.metrics import compute, request_digest

    again = dict(ROWS[0], created_at=ROWS[0]["created_at"])  # the same id and text, logged again
    rows = ROWS + [again]
    weeks = top_issues(rows, clusters)
    assert sum(w["total"] for w in weeks) == 25
    flat = [dict(r, request_digest=request_digest(r.get("request"))) for r in rows]
    assert compute(flat)["total"] == 25


def test_a_request_triaged_again_a_week_later_stays_in_the_week_it_arrived_as_in_the_metrics():
    # Found by a review: the weekly lines placed it at its newest decision, the metrics at its first.
    from assistant.metrics import compute, request_digest

    first = dict(json.loads(json.dumps(ROWS[0])), created_at="2026-03-02T10:00:00Z")
    again = dict(json.loads(json.dumps(ROWS[0])), created_at="2026-03-10T10:00:00Z")
    weeks = top_issues([first, again], [])
    assert [(w["period"], w["total"]) for w in weeks] == [("2026-W10", 1)]
    flat = [dict(r, request_digest=request_digest(r.get("request"))) for r in (first, again)]
    assert [(p["period"], p["count"]) for p in compute(flat)["volume"]["by_period"]] == [("2026-W10", 1)]


def test_a_bad_retry_under_the_same_id_does_not_hide_the_request_from_the_weekly_lines(clusters):
    # Found by a review: one_per_request picked the newest row, the error, which was then skipped.
    good = json.loads(json.dumps(ROWS[0]))
    bad = dict(json.loads(json.dumps(ROWS[0])), result={"id": good.get("id"), "error": {"code": "invalid_input"}})
    with_error = top_issues([good, bad], [])
    assert sum(w["total"] for w in with_error) == 1 == sum(w["total"] for w in top_issues([good], []))


def test_a_gap_re_triaged_and_answered_is_no_gap_as_in_the_metrics(embedder):
    # Found by a review: the first (escalated) row of each request was clustered, while the
    # metrics and the weekly lines kept the newest, answered one.
    gap = next(r for r in ROWS if is_gap(r))
    escalated = [dict(json.loads(json.dumps(gap)), id=f"G-{n}") for n in range(4)]
    answered = [dict(json.loads(json.dumps(r)), result=dict(r["result"], route="answer", reasons=[]),
                     created_at="2099-01-01T00:00:00Z") for r in escalated]
    assert len(GapFinder(embedder, min_cluster=4).run(escalated)) == 1
    assert GapFinder(embedder, min_cluster=2).run(escalated + answered) == []


def test_a_gap_report_window_places_a_retried_request_at_its_first_arrival(tmp_path, embedder):
    # Found by a review: the window read only its own decisions, so a retry the week after counted
    # the request again in that week (the metrics count it once, in the week it first arrived).
    from datetime import UTC, datetime, timedelta

    from assistant.decision_log import DecisionLog
    from assistant.gaps import gap_report

    class NoRunbooks:
        class collection:  # noqa: N801
            @staticmethod
            def get(**_kw):
                return {"embeddings": [], "metadatas": []}

    log = DecisionLog(f"sqlite:///{tmp_path / 'd.sqlite3'}", spool_dir=tmp_path)
    first = datetime(2026, 3, 2, 10, tzinfo=UTC)
    request = {"id": "G1", "channel": "email", "subject": "", "body": "Can PAM send invoices by fax?"}
    result = {"id": "G1", "category": "pam_core", "priority": "P3", "route": "escalate",
              "queue": "pam-core-support", "reasons": ["not_covered"]}
    for days in (0, 8):
        log.record(request, result, source="api", versions={}, created_at=first + timedelta(days=days))

    def weeks(**window):
        return [(w["period"], w["total"]) for w in gap_report(log, NoRunbooks, embedder, **window)["top_issues"]]

    assert weeks() == weeks(until="2026-03-08") == [("2026-W10", 1)]
    assert weeks(since="2026-03-09") == []
    assert log.metrics(since="2026-03-09")["total"] == 0


def test_top_categories_count_the_category_ops_corrected_as_the_metrics_do():
    # Found by a review: the weekly lines read the logged category, the metrics the corrected one
    rows = [dict(json.loads(json.dumps(ROWS[0])), id=f"c-{n}", created_at="2026-03-02T10:00:00Z",
                 feedback={"category": "integration"}) for n in range(3)]
    for r in rows:
        r["result"]["category"] = "pam_core"
        r["request"]["body"] += r["id"]
    (week,) = top_issues(rows, [])
    assert week["top_categories"] == [{"category": "integration", "count": 3}]


def test_a_category_corrected_on_an_earlier_decision_counts_for_the_retry_kept():
    # Found by a review: feedback corrected the first decision; the retry kept for the request had
    # none of its own, so the weekly line read the logged category while the metrics read the fix
    first = dict(json.loads(json.dumps(ROWS[0])), id="r-1", created_at="2026-03-02T10:00:00Z",
                 feedback={"category": "billing", "outcome": "escalated"})
    again = dict(json.loads(json.dumps(ROWS[0])), id="r-1", created_at="2026-03-02T11:00:00Z",
                 feedback={"outcome": "accepted", "resolved_tier": 2})
    (week,) = top_issues([first, again], [])
    assert week["top_categories"] == [{"category": "billing", "count": 1}]


def _split_email(n: int, other: str) -> dict:
    """An email of two points: one a runbook answered (``other``), one nobody covers."""
    question = "Can PAM upload our call recordings to our Google Drive folder every night?"
    return {"id": f"split-{n}", "source": "api", "created_at": f"2026-03-0{n + 2}T10:00:00Z",
            "request": {"id": f"split-{n}", "channel": "email", "subject": "two things",
                        "body": f"Hi,\n\n{other}\n\nAlso, {question.lower()}\n\nThanks"},
            "result": {"route": "escalate", "reasons": ["not_covered"], "category": "pam_core",
                       "parts": [{"text": other, "category": "integration", "route": "answer", "reasons": []},
                                 {"text": f"Also, {question.lower()}", "category": "pam_core",
                                  "route": "escalate", "reasons": ["not_covered"]}]}}


def test_a_split_email_counts_its_uncovered_part_not_its_other_points(embedder):
    # Found by a review: the whole email was clustered, so the same uncovered question asked in
    # four emails beside four different answered points made no cluster at all.
    others = ["Xtime has not synced our appointments since Monday.",
              "How do I change the greeting for the holidays?",
              "Our new advisor cannot log in to the dashboard.",
              "Please move the Saturday hours to close at 2pm."]
    rows = [_split_email(n, other) for n, other in enumerate(others)]
    (cluster,) = GapFinder(embedder, min_cluster=2).run(rows)
    assert cluster.size == 4 and cluster.flagged and sorted(cluster.members) == [0, 1, 2, 3]
    assert all("google drive" in e.lower() and "xtime" not in e.lower() for e in cluster.examples)
    assert cluster.category == "pam_core"
    weeks = top_issues(rows, [cluster])
    assert sum(c["count"] for w in weeks for c in w["top_clusters"]) == 4
