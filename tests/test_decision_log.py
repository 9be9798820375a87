"""The decision log on SQLite: record, list, feedback, history, metrics, corrections, faults.

The behaviour tests here take the ``db_url`` fixture; ``test_decision_log_postgres``
imports them and overrides ``db_url`` to run the same checks on real PostgreSQL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assistant import decision_log as dl
from assistant.config import Settings
from assistant.decision_log import DecisionLog
from assistant.errors import ConfigError, InputError, StoreUnavailable

ROOT = Path(__file__).resolve().parent.parent
HISTORY = Path(__file__).parent / "fixtures" / "history.jsonl"
VERSIONS = {"model": "minilm-l6-v2", "index": "idx-20260301", "config": "cfg-abc123"}
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def history() -> list[dict]:
    return [json.loads(line) for line in HISTORY.read_text().splitlines()]


def request(rid: str | None, channel: str = "email", body: str = "PAM does not sync with Xtime") -> dict:
    return {"id": rid, "channel": channel, "subject": "Sync issue", "body": body}


def result(rid: str | None, *, category="integration", priority="P2", route="answer", queue=None, **extra) -> dict:
    return {"id": rid, "category": category, "category_confidence": 0.9, "priority": priority, "route": route,
            "queue": queue or f"{category.replace('_', '-')}-support", "reasons": [] if route == "answer"
            else ["low_confidence"], "answer": "Xtime needs 24 hours after the invite.", "citations": [],
            "latency_ms": 12.5, **extra}


def record(log: DecisionLog, rid, minutes: int = 0, *, source="api", **kw) -> str:
    return log.record(request(rid), result(rid, **kw), source=source, versions=VERSIONS,
                      created_at=T0 + timedelta(minutes=minutes))


@pytest.fixture
def spool_dir(tmp_path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def db_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'index' / 'decisions.sqlite3'}"


@pytest.fixture
def log(db_url, spool_dir):
    opened = DecisionLog(db_url, spool_dir=spool_dir)
    yield opened
    opened.close()


# --------------------------------------------------------------------------- shared behaviour


def test_record_stores_request_result_versions_and_time(log):
    decision_id = record(log, "H-001", due_by="2026-03-02T13:00:00Z")
    [row] = log.decisions()
    assert row["decision_id"] == decision_id
    assert row["id"] == "H-001" and row["source"] == "api" and row["channel"] == "email"
    assert row["created_at"] == "2026-03-02T09:00:00Z" and row["due_by"] == "2026-03-02T13:00:00Z"
    assert row["request"] == request("H-001")
    assert row["result"] == result("H-001", due_by="2026-03-02T13:00:00Z")
    assert row["versions"] == VERSIONS
    assert (row["category"], row["priority"], row["route"], row["queue"]) == \
        ("integration", "P2", "answer", "integration-support")
    assert row["feedback"] is None


def test_record_without_time_uses_now(log):
    before = datetime.now(UTC)
    log.record(request("H-1"), result("H-1"), source="cli", versions=VERSIONS)
    stamp = datetime.fromisoformat(log.decisions()[0]["created_at"])
    assert before - timedelta(seconds=1) <= stamp <= datetime.now(UTC) + timedelta(seconds=1)


def test_decisions_newest_first_and_filtered(log):
    record(log, "A", 0, category="integration", route="answer")
    record(log, "B", 60, category="pam_core", route="escalate")
    record(log, "C", 120, category="pam_core", route="answer")
    record(log, "D", 24 * 60, category="llm_behavior", route="escalate", queue="llm-behavior-engineering")
    assert [r["id"] for r in log.decisions()] == ["D", "C", "B", "A"]
    assert [r["id"] for r in log.decisions(category="pam_core")] == ["C", "B"]
    assert [r["id"] for r in log.decisions(route="escalate")] == ["D", "B"]
    assert [r["id"] for r in log.decisions(queue="llm-behavior-engineering")] == ["D"]
    assert [r["id"] for r in log.decisions(since="2026-03-02T10:00:00Z")] == ["D", "C", "B"]
    assert [r["id"] for r in log.decisions(until="2026-03-02")] == ["C", "B", "A"]  # the whole day
    assert [r["id"] for r in log.decisions(since=T0, until=T0 + timedelta(hours=1))] == ["A"]
    assert [r["id"] for r in log.decisions(limit=2)] == ["D", "C"]


def test_same_timestamp_keeps_insertion_order_newest_first(log):
    for rid in ("first", "second", "third"):
        record(log, rid, 0)
    assert [r["id"] for r in log.decisions()] == ["third", "second", "first"]


def test_bad_list_arguments_name_the_field(log):
    with pytest.raises(InputError) as err:
        log.decisions(limit=0)
    assert err.value.field == "limit"
    with pytest.raises(InputError) as err:
        log.decisions(since="yesterday-ish")
    assert err.value.field == "since"


def test_feedback_attaches_to_the_newest_decision_with_that_id(log):
    older = record(log, "H-7", 0)
    newer = record(log, "H-7", 30)
    out = log.feedback({"id": "H-7", "outcome": "edited", "final_text": "Hi, the sync takes 24 h.",
                        "resolved_tier": "1", "category": "pam_core", "priority": "p3", "note": "wrong label",
                        "resolved_at": "2026-03-02T12:00:00Z", "responded_at": "2026-03-02T09:45:00Z"})
    assert out["decision_id"] == newer and out["resolved_tier"] == 1 and out["priority"] == "P3"
    rows = {r["decision_id"]: r for r in log.decisions()}
    assert rows[older]["feedback"] is None
    fb = rows[newer]["feedback"]
    assert fb["outcome"] == "edited" and fb["final_text"] == "Hi, the sync takes 24 h." and fb["note"] == "wrong label"
    assert rows[newer]["resolved_tier"] == 1 and rows[newer]["resolved_at"] == "2026-03-02T12:00:00Z"
    assert rows[newer]["responded_at"] == "2026-03-02T09:45:00Z"


def test_feedback_texts_are_stored_with_their_personal_data_redacted(log):
    # Found by a review: the reply OPS sent (final_text) and their note were stored as typed
    record(log, "H-9")
    log.feedback({"id": "H-9", "outcome": "edited", "final_text": "Hi Dana, we will call you on (212) 555-0147.",
                  "note": "customer paid with card 4111 1111 1111 1111, mail dana.smith@gmail.com"})
    fb = log.decisions()[0]["feedback"]
    assert fb["final_text"] == "Hi Dana, we will call you on [PHONE]."
    assert fb["note"] == "customer paid with card [CARD], mail [EMAIL]"


def test_later_feedback_adds_to_earlier_feedback(log):
    record(log, "H-8")
    log.feedback({"id": "H-8", "outcome": "accepted", "responded_at": "2026-03-02T09:30:00Z"})
    log.feedback({"id": "H-8", "outcome": "escalated", "resolved_tier": 2})
    fb = log.decisions()[0]["feedback"]
    assert fb["count"] == 2 and fb["outcome"] == "escalated" and fb["resolved_tier"] == 2
    assert fb["responded_at"] == "2026-03-02T09:30:00Z"


def test_feedback_for_an_unknown_id_is_an_input_error_on_id(log):
    record(log, "H-1")
    with pytest.raises(InputError) as err:
        log.feedback({"id": "H-404", "outcome": "accepted"})
    assert err.value.field == "id" and "H-404" in err.value.message


def test_feedback_by_decision_uuid_for_requests_without_id(log):
    decision_id = log.record(request(None), result(None), source="api", versions=VERSIONS)
    assert log.feedback({"id": decision_id, "outcome": "rejected"})["decision_id"] == decision_id


@pytest.mark.parametrize(
    ("fb", "field"),
    [
        ({"outcome": "accepted"}, "id"),
        ({"id": "H-1", "outcome": "maybe"}, "outcome"),
        ({"id": "H-1"}, "outcome"),
        ({"id": "H-1", "outcome": "accepted", "resolved_tier": 4}, "resolved_tier"),
        ({"id": "H-1", "outcome": "accepted", "resolved_tier": True}, "resolved_tier"),
        ({"id": "H-1", "outcome": "accepted", "priority": "P9"}, "priority"),
        ({"id": "H-1", "outcome": "accepted", "category": ""}, "category"),
        ({"id": "H-1", "outcome": "accepted", "note": 5}, "note"),
        ({"id": "H-1", "outcome": "edited"}, "final_text"),
        ({"id": "H-1", "outcome": "accepted", "resolved_at": "soon"}, "resolved_at"),
        ({"id": "H-1", "outcome": "accepted", "responded_at": "later"}, "responded_at"),
    ],
)
def test_invalid_feedback_names_the_field(log, fb, field):
    record(log, "H-1")
    with pytest.raises(InputError) as err:
        log.feedback(fb)
    assert err.value.field == field


def test_history_import_is_idempotent_by_ticket_id(log):
    tickets = history()
    assert log.import_history(tickets) == 20
    assert log.import_history(tickets) == 0
    assert log.import_history(tickets[:5] + tickets[:5]) == 0
    rows = log.decisions(limit=None)
    assert len(rows) == 20 and {r["source"] for r in rows} == {"history"}
    assert rows[0]["id"] == "T-20" and rows[-1]["id"] == "T-01"
    t08 = next(r for r in rows if r["id"] == "T-08")
    assert t08["resolved_tier"] == 3 and t08["queue"] == "integration-support" and t08["channel"] == "email"
    assert t08["request"]["subject"] == "No calls answered after Tekion update"


def test_a_ticket_triaged_live_first_brings_its_resolution_to_that_decision(log):
    # Found by a review: the ticket was skipped whole, so its tier never reached the metrics.
    record(log, "T-9001", 0)
    ticket = {"id": "T-9001", "subject": "Sync issue", "body": "PAM does not sync with Xtime",
              "category": "integration", "priority": "P2", "resolved_tier": 2,
              "created_at": "2026-03-02T09:00:00Z", "resolved_at": "2026-03-02T15:00:00Z"}
    assert log.import_history([ticket]) == 0
    assert log.import_history([dict(ticket, resolved_tier=3)]) == 0  # the decision's own tier now stands
    m = log.metrics()
    assert m["total"] == 1 and m["tiers"]["tier2"]["resolved"] == 1 and m["tiers"]["unknown"] == 0
    assert m["time_to_resolution"]["median_h"] == 6.0
    [row] = log.decisions(limit=None)
    assert row["source"] == "api" and row["resolved_tier"] == 2


def test_reimport_updates_a_changed_ticket_in_place(log):
    tickets = history()
    log.import_history(tickets)
    changed = dict(tickets[3], resolved_tier=2)  # T-04 later found to need Tier 2
    assert log.import_history([changed]) == 0
    [row] = [r for r in log.decisions(limit=None) if r["id"] == "T-04"]
    assert row["resolved_tier"] == 2


def test_history_tickets_without_a_date_are_skipped_and_bad_ones_rejected(log):
    assert log.import_history([{"id": "T-x", "body": "b", "category": "pam_core"}]) == 0
    with pytest.raises(InputError) as err:
        log.import_history([{"id": "T-y", "body": "b", "category": "pam_core", "resolved_tier": 5,
                             "created_at": "2026-03-02T10:00:00Z"}])
    assert err.value.field == "resolved_tier"
    with pytest.raises(InputError) as err:
        log.import_history([{"id": "T-z", "body": "b", "created_at": "2026-03-02T10:00:00Z"}])
    assert err.value.field == "category"


def test_metrics_on_the_history_fixture_have_the_known_numbers(log):
    log.import_history(history())
    m = log.metrics()
    assert m["total"] == 20
    t = m["tiers"]
    assert (t["tier1"]["resolved"], t["tier1"]["rate"]) == (14, 0.7)
    assert (t["tier2"]["received"], t["tier2"]["resolved"], t["tier2"]["rate"]) == (6, 5, 0.8333)
    assert (t["tier3"]["received"], t["tier3"]["share"]) == (1, 0.05)
    assert m["red_flags"] == []
    assert m["volume"]["by_queue"] == {"integration-support": 9, "pam-core-support": 7,
                                       "llm-behavior-engineering": 4}
    assert [p["count"] for p in m["volume"]["by_period"]] == [8, 7, 5]
    assert m["time_to_resolution"]["median_h"] == 5.0
    assert log.metrics(since="2026-03-09", until="2026-03-15")["total"] == 7
    assert [p["count"] for p in log.metrics(period="day")["volume"]["by_period"]][:3] == [2, 2, 1]


def test_metrics_raise_red_flags_on_an_unhealthy_log(log):
    tiers = [1, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    log.import_history([{"id": f"U-{i}", "body": "calls dropped", "category": "pam_core", "resolved_tier": t,
                         "created_at": f"2026-03-{2 + i:02d}T10:00:00Z"} for i, t in enumerate(tiers)])
    codes = [f["code"] for f in log.metrics()["red_flags"]]
    assert codes == ["tier1_resolution_low", "tier2_escalation_high", "tier3_share_high"]


def test_metrics_use_feedback_and_leave_out_eval_runs(log):
    record(log, "A", 0, route="answer", due_by="2026-03-02T13:00:00Z")
    record(log, "B", 10, route="escalate", category="pam_core", priority="P1", due_by="2026-03-02T11:10:00Z")
    record(log, "C", 20, route="answer")
    record(log, "E", 30, route="escalate", source="eval")
    log.feedback({"id": "A", "outcome": "accepted", "resolved_tier": 1, "responded_at": "2026-03-02T09:30:00Z",
                  "resolved_at": "2026-03-02T11:00:00Z"})
    log.feedback({"id": "B", "outcome": "escalated", "resolved_tier": 3, "category": "llm_behavior",
                  "responded_at": "2026-03-02T12:00:00Z"})
    log.feedback({"id": "C", "outcome": "edited", "final_text": "Reworded.", "resolved_tier": 1})
    m = log.metrics()
    assert m["total"] == 3 and m["by_source"] == {"api": 3}
    assert m["routing"]["answered"] == 2 and m["routing"]["escalation_rate"] == round(1 / 3, 4)
    assert m["volume"]["by_category"] == {"integration": 2, "llm_behavior": 1}  # B corrected
    assert m["tiers"]["tier1"]["resolved"] == 2 and m["tiers"]["tier3"]["received"] == 1
    assert m["acceptance"]["accepted"] == 1 and m["acceptance"]["edited"] == 1
    assert m["acceptance"]["category_corrected"] == 1
    assert (m["on_time"]["known"], m["on_time"]["in_time"], m["on_time"]["late"]) == (2, 1, 1)
    assert m["time_to_resolution"]["known"] == 1 and m["time_to_resolution"]["median_h"] == 2.0
    assert log.metrics(include_eval=True)["total"] == 4


def test_metrics_count_a_request_triaged_twice_once(log):
    record(log, "A", 0, route="answer")
    record(log, "A", 5, route="escalate")  # the same request again (classify, then ask)
    record(log, "B", 10, route="answer")
    log.feedback({"id": "A", "outcome": "escalated", "resolved_tier": 2})
    m = log.metrics()
    assert (m["total"], m["decisions"]) == (2, 3)
    assert m["routing"]["escalated"] == 1 and m["tiers"]["tier2"]["open"] == 1


def test_corrections_become_training_examples(log):
    record(log, "A", 0, category="integration", priority="P2")
    record(log, "B", 10, category="pam_core", priority="P3")
    record(log, "C", 20, category="pam_core", priority="P2")
    record(log, "E", 30, category="pam_core", source="eval")
    log.feedback({"id": "A", "outcome": "rejected", "category": "llm_behavior"})
    log.feedback({"id": "B", "outcome": "accepted", "priority": "P1"})
    log.feedback({"id": "C", "outcome": "accepted"})  # nothing corrected: not an example
    with pytest.raises(InputError):  # only an eval run has this id: nothing to attach to
        log.feedback({"id": "E", "outcome": "rejected", "category": "integration"})
    examples = log.corrections()
    assert [(e["id"], e["label"], e["priority"], e["corrected"]) for e in examples] == [
        ("A", "llm_behavior", "P2", ["category"]),
        ("B", "pam_core", "P1", ["priority"]),
    ]
    assert examples[0]["text"] == "Sync issue\nPAM does not sync with Xtime"


def test_record_never_raises_on_odd_input(log):
    decision_id = log.record({"id": "odd", "when": datetime(2026, 3, 2, tzinfo=UTC), "tags": {1, 2}},
                             {"id": "odd", "category": 7, "route": None}, source="", versions=None)
    [row] = log.decisions()
    assert row["decision_id"] == decision_id and row["source"] == "unknown" and row["category"] == "7"
    assert row["request"]["when"].startswith("2026-03-02")


def test_error_results_are_logged_but_not_counted(log):
    log.record({"id": "bad"}, {"id": "bad", "error": {"code": "invalid_input", "message": "no body"}},
               source="cli", versions=VERSIONS, created_at=T0)
    record(log, "good")
    assert len(log.decisions()) == 2
    m = log.metrics()
    assert m["total"] == 1 and m["errors"] == 1


def test_feedback_skips_an_error_result_logged_later_under_the_same_id(log):
    # Found by a review: a retry with a bad field logged an error row under the id, feedback
    # attached to it, and the metrics (which count error rows only as errors) dropped it.
    answered = record(log, "F1")
    log.record({"id": "F1"}, {"id": "F1", "error": {"code": "invalid_input", "message": "unknown channel"}},
               source="api", versions=VERSIONS, created_at=T0 + timedelta(minutes=5))
    assert log.feedback({"id": "F1", "outcome": "accepted", "resolved_tier": 1})["decision_id"] == answered
    m = log.metrics()
    assert m["tiers"]["tier1"]["resolved"] == 1 and m["errors"] == 1
    log.record({"id": "E1"}, {"id": "E1", "error": {"code": "invalid_input", "message": "no body"}},
               source="api", versions=VERSIONS, created_at=T0)
    with pytest.raises(InputError):  # only an error under that id: no decision to attach to
        log.feedback({"id": "E1", "outcome": "accepted"})


def test_a_retry_between_two_pieces_of_feedback_keeps_the_first(log):
    # Found by a review: feedback goes to the newest decision, so a retry logged after "escalated
    # to Tier 2" took the later "accepted"; the metrics keep one row per request, and the
    # request left the tier numbers (tiers.unknown 1).
    record(log, "Q1", 0)
    log.feedback({"id": "Q1", "outcome": "escalated", "resolved_tier": 2})
    record(log, "Q1", 10)  # the client's retry: the same id and text
    log.feedback({"id": "Q1", "outcome": "accepted"})
    tiers = log.metrics()["tiers"]
    assert tiers["tier2"]["resolved"] == 1 and tiers["unknown"] == 0
    record(log, "Q2", 0)
    log.feedback({"id": "Q2", "outcome": "escalated", "resolved_tier": 2})
    log.record(request("Q2", body="Another question entirely"), result("Q2"), source="api", versions=VERSIONS,
               created_at=T0 + timedelta(minutes=10))  # the same id, another request
    log.feedback({"id": "Q2", "outcome": "accepted"})
    assert log.metrics()["tiers"]["unknown"] == 1  # the other request's feedback names no tier


def test_spooled_rows_are_flushed_once_even_when_spooled_twice(log):
    row = log._decision_row(request("S-1"), result("S-1"), "api", VERSIONS, T0)
    log._spool(row)
    log._spool(row)
    assert log.flush_spool() == 1
    assert [r["id"] for r in log.decisions()] == ["S-1"]
    log._spool(row)  # already in the database: a replay writes nothing
    assert log.flush_spool() == 0 and len(log.decisions()) == 1
    assert log.spool_path.read_text() == ""


def test_reopening_runs_no_migration_twice_and_keeps_rows(db_url, spool_dir):
    with DecisionLog(db_url, spool_dir=spool_dir) as first:
        record(first, "H-1")
    with DecisionLog(db_url, spool_dir=spool_dir) as second:
        assert [r["id"] for r in second.decisions()] == ["H-1"]
        assert second.ping()


def test_models_match_the_migrations(log):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with log.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": dl.VERSION_TABLE, "compare_type": False})
        assert compare_metadata(context, dl.metadata) == []


# --------------------------------------------------------------------------- SQLite specifics


def test_from_settings_defaults_to_sqlite_in_the_index_folder(tmp_path):
    index = tmp_path / "idx"
    with DecisionLog.from_settings(Settings(index=index), index) as log:
        assert log.dialect == "sqlite" and log.spool_path == index / "decision-spool.jsonl"
        log.record(request("H-1"), result("H-1", category="llm_behavior"), source="cli", versions=VERSIONS)
    assert (index / "decisions.sqlite3").exists()


def test_from_settings_uses_database_url_and_configured_queues(tmp_path):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    settings = Settings(index=tmp_path / "idx", database_url=url, queues={"integration": "dms-team"})
    with DecisionLog.from_settings(settings, tmp_path / "idx") as log:
        log.import_history(history()[:1])
        assert log.decisions()[0]["queue"] == "dms-team"
    assert (tmp_path / "elsewhere.sqlite3").exists() and not (tmp_path / "idx" / "decisions.sqlite3").exists()


def test_a_malformed_url_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        DecisionLog("not a url", spool_dir=tmp_path)
    assert err.value.field == "database_url"
    with pytest.raises(ConfigError):
        DecisionLog("nosuchdb://x/y", spool_dir=tmp_path)


def test_database_unreachable_at_open_spools_until_it_is_back(tmp_path):
    blocker = tmp_path / "index"
    blocker.write_text("a file where the index folder should be")
    url = f"sqlite:///{blocker / 'decisions.sqlite3'}"
    log = DecisionLog(url, spool_dir=tmp_path / "spool")  # no exception: it can spool
    assert not log.ping()
    ids = [record(log, f"S-{i}", i) for i in range(3)]
    assert len(log.spool_path.read_text().splitlines()) == 3
    with pytest.raises(StoreUnavailable):
        log.decisions()
    blocker.unlink()  # the database can be created now
    assert log.flush_spool() == 3
    assert [r["decision_id"] for r in log.decisions()] == ids[::-1]
    log.close()


def test_unreachable_database_and_unwritable_spool_fail_at_open(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(StoreUnavailable) as err:
        DecisionLog(f"sqlite:///{blocker / 'decisions.sqlite3'}", spool_dir=blocker / "spool")
    assert "spool" in err.value.message


def test_a_locked_database_spools_and_a_background_probe_writes_the_spool_once_it_is_free(tmp_path, monkeypatch):
    monkeypatch.setattr(dl, "SQLITE_BUSY_TIMEOUT_S", 0.2)
    monkeypatch.setattr(dl, "RETRY_AFTER_S", 0.0)
    path = tmp_path / "decisions.sqlite3"
    log = DecisionLog(f"sqlite:///{path}", spool_dir=tmp_path)
    locker = sqlite3.connect(path, timeout=0, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another process mid-write, holding the lock
    started = time.monotonic()
    locked_id = record(log, "L-1", 0)
    assert time.monotonic() - started < 3
    assert log.spool_path.read_text().count(locked_id) == 1
    locker.execute("ROLLBACK")
    locker.close()
    record(log, "L-2", 1)  # spooled at once; the probe it starts finds the database free
    deadline = time.monotonic() + 10
    while log.spool_path.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [r["id"] for r in log.decisions()] == ["L-2", "L-1"]
    assert log.spool_path.read_text() == ""
    log.close()


def test_a_database_that_hangs_never_makes_a_request_wait(tmp_path, monkeypatch):
    # A server that accepts connections and never answers: each connect waits out its timeout.
    import socket
    import threading

    monkeypatch.setattr(dl, "PG_CONNECT_TIMEOUT_S", 1)
    monkeypatch.setattr(dl, "RETRY_AFTER_S", 0.05)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    accepted = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    try:
        log = DecisionLog(f"postgresql+psycopg://u@127.0.0.1:{server.getsockname()[1]}/db", spool_dir=tmp_path)
        slowest = 0.0
        for i in range(12):  # 1.2 s: the retry wait runs out again and again
            started = time.monotonic()
            record(log, f"H-{i}", i)
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.1)
        assert slowest < 0.5  # before: a request every RETRY_AFTER_S waited the whole connect timeout
        assert len(log.spool_path.read_text().splitlines()) == 12  # nothing lost
        assert len(accepted) >= 2  # and the background probe did keep trying
        log.engine.dispose()
    finally:
        stop.set()
        server.close()
        for conn in accepted:
            conn.close()


def test_a_flush_stalled_on_the_database_holds_up_no_request_and_no_read(log, monkeypatch):
    import threading

    first = log._decision_row(request("S-1"), result("S-1"), "api", VERSIONS, T0)
    log._spool(first)
    inside, release = threading.Event(), threading.Event()
    real_insert = log._insert_decision

    def stalled_insert(conn, row):  # the database answered the probe, then stalls mid-flush
        inside.set()
        release.wait(10)
        return real_insert(conn, row)

    monkeypatch.setattr(log, "_insert_decision", stalled_insert)
    flusher = threading.Thread(target=log.flush_spool)
    flusher.start()
    assert inside.wait(5)
    started = time.monotonic()
    log._spool(log._decision_row(request("S-2"), result("S-2"), "api", VERSIONS, T0 + timedelta(minutes=1)))
    record(log, "S-3", 2)  # joins the spool rather than wait for the flush in progress
    log.metrics()  # a read does not wait for it either
    assert time.monotonic() - started < 2  # before: each waited for the flush's lock
    release.set()
    flusher.join(10)
    # The flush wrote what was spooled while it waited, then emptied the spool.
    assert log.spool_path.read_text() == ""
    assert [r["id"] for r in log.decisions()] == ["S-3", "S-2", "S-1"]


def test_lines_spooled_during_a_flush_stay_in_the_spool_until_they_are_in_the_database(log, monkeypatch):
    import sqlalchemy as sa

    first = log._decision_row(request("S-1"), result("S-1"), "api", VERSIONS, T0)
    later = log._decision_row(request("S-2"), result("S-2"), "api", VERSIONS, T0 + timedelta(minutes=1))
    log._spool(first)
    real_insert = log._insert_decision

    def insert(conn, row):
        if row["uuid"] == first["uuid"]:
            log._spool(later)  # another request spools while the flush writes
            return real_insert(conn, row)
        raise sa.exc.OperationalError("INSERT", {}, Exception("database went away"))

    monkeypatch.setattr(log, "_insert_decision", insert)
    with pytest.raises(StoreUnavailable):
        log.flush_spool()
    spool = log.spool_path.read_text()  # before: emptied, then the write of S-2 could fail or crash
    assert first["uuid"] in spool and later["uuid"] in spool
    monkeypatch.setattr(log, "_insert_decision", real_insert)
    assert log.flush_spool() == 1 and log.spool_path.read_text() == ""
    assert sorted(r["id"] for r in log.decisions()) == ["S-1", "S-2"]


def test_a_decision_another_process_spools_during_a_flush_is_never_cut(log, monkeypatch):
    # The other process takes the spool's file lock, not this process's locks. (On opening, it may
    # flush the spool itself: that is fine, rows are written once by uuid.)
    first = log._decision_row(request("S-1"), result("S-1"), "api", VERSIONS, T0)
    log._spool(first)
    other = textwrap.dedent(f"""
        import sys, time; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r})
        from pathlib import Path
        from assistant.decision_log import DecisionLog
        log = DecisionLog({str(log.engine.url)!r}, spool_dir=Path({str(log.spool_dir)!r}))
        log._down_until = time.monotonic() + 100  # known down: it only spools
        print(log.record({{"id": "OTHER", "channel": "chat", "body": "from another worker"}},
                         {{"id": "OTHER", "route": "answer"}}, source="api", versions={{}}))
    """)
    real_write, spooled = log._write_spooled, []

    def write_while_another_process_spools(lines, memory):
        if len(spooled) < 3:
            done = subprocess.run([sys.executable, "-c", other], check=True, capture_output=True, text=True)
            spooled.append(done.stdout.strip())
        return real_write(lines, memory)

    monkeypatch.setattr(log, "_write_spooled", write_while_another_process_spools)
    log.flush_spool()
    monkeypatch.setattr(log, "_write_spooled", real_write)
    log.flush_spool()
    in_db = {r["decision_id"] for r in log.decisions(limit=None)}
    assert spooled and set(spooled) <= in_db and first["uuid"] in in_db
    assert log.spool_path.read_text() == ""


def test_a_spooled_request_with_unicode_line_separators_is_one_line(log):
    row = log._decision_row(request("S-1", body="first line\u2028second\u2029third\x85end"), result("S-1"),
                            "api", VERSIONS, T0)
    log._spool(row)
    assert log.flush_spool() == 1  # before: split in three, set aside as unreadable, never written
    [logged] = log.decisions()
    assert logged["request"]["body"] == "first line\u2028second\u2029third\x85end"


def test_metrics_count_different_requests_that_reuse_an_id_apart(log):
    log.record(request("a", body="PAM does not sync with Xtime"), result("a"), source="cli", versions=VERSIONS,
               created_at=T0)
    log.record(request("a", body="Calls go to voicemail"), result("a"), source="api", versions=VERSIONS,
               created_at=T0 + timedelta(days=7))
    log.record(request("a", body="Calls go to voicemail"), result("a"), source="api", versions=VERSIONS,
               created_at=T0 + timedelta(days=7, minutes=1))  # the same request again
    m = log.metrics()
    assert (m["total"], m["decisions"]) == (2, 3)


def test_unreadable_spool_lines_are_set_aside(log):
    row = log._decision_row(request("S-1"), result("S-1"), "api", VERSIONS, T0)
    log._spool(row)
    with open(log.spool_path, "a") as fh:
        fh.write("{not json\n")
    assert log.flush_spool() == 1
    assert (log.spool_dir / dl.REJECTED_SPOOL_NAME).read_text() == "{not json\n"
    assert log.spool_path.read_text() == ""


def test_a_spool_line_cut_inside_a_character_is_set_aside_and_the_rest_is_written(log):
    # Found by a review: a last line cut inside the two bytes of "é" (a full disk, a kill) made
    # every read of the spool raise, so no decision was written again and feedback got a 500.
    good = log._decision_row(request("S-1"), result("S-1", answer="café"), "api", VERSIONS, T0)
    torn = _spool_bytes(log._decision_row(request("S-2"), result("S-2", answer="café"), "api", VERSIONS, T0))
    log.spool_path.parent.mkdir(parents=True, exist_ok=True)
    log.spool_path.write_bytes(_spool_bytes(good) + b"\n" + torn[:torn.index("é".encode()) + 1])
    assert not log._spooled("S-9") and log._spooled("S-1")
    log._spool(log._decision_row(request("S-3"), result("S-3"), "api", VERSIONS, T0))  # a line of its own
    assert log.flush_spool() == 2
    assert sorted(d["id"] for d in log.decisions()) == ["S-1", "S-3"]
    assert (log.spool_dir / dl.REJECTED_SPOOL_NAME).read_text(encoding="utf-8").startswith('{"uuid"')
    assert log.spool_path.read_text() == ""


def test_feedback_finds_a_decision_flushed_between_its_two_looks(log, monkeypatch):
    # Found by a review: feedback looked in the database, then in the spool; a flush that wrote
    # the decision and emptied the spool in between made it a 404 "no decision".
    row = log._decision_row(request("S-1"), result("S-1"), "api", VERSIONS, T0)
    log._spool(row)
    spooled = log._spooled

    def flushed_meanwhile(request_id):
        monkeypatch.setattr(log, "_spooled", spooled)
        assert log.flush_spool() == 1  # written, then the spool emptied
        return spooled(request_id)

    monkeypatch.setattr(log, "_spooled", flushed_meanwhile)
    out = log._feedback(dl._validate_feedback({"id": "S-1", "outcome": "accepted", "resolved_tier": 1}))
    assert out["decision_id"] == row["uuid"]
    with pytest.raises(InputError):
        log._feedback(dl._validate_feedback({"id": "S-404", "outcome": "accepted"}))


def test_a_retry_a_week_later_counts_once_in_the_window_it_first_arrived_in_with_its_tier(log):
    # Found by a review: each window read only its own decisions, so a request with feedback in
    # one week and the client's retry in the next counted in both, the second with no tier.
    first = T0
    log.record(request("R1"), result("R1"), source="api", versions=VERSIONS, created_at=first)
    log.feedback({"id": "R1", "outcome": "accepted", "resolved_tier": 1})
    log.record(request("R1"), result("R1"), source="api", versions=VERSIONS, created_at=first + timedelta(days=8))
    day = lambda d: (first + timedelta(days=d)).date().isoformat()  # noqa: E731
    whole, before, after = log.metrics(), log.metrics(until=day(6)), log.metrics(since=day(7))
    assert (whole["total"], before["total"], after["total"]) == (1, 1, 0)
    assert whole["tiers"]["tier1"]["resolved"] == before["tiers"]["tier1"]["resolved"] == 1
    assert (before["decisions"], after["decisions"]) == (1, 1)


def _spool_bytes(row: dict) -> bytes:
    return dl._spool_line(row).encode("utf-8")


WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from assistant.decision_log import DecisionLog

    url, spool, name, go = sys.argv[1:5]
    while not Path(go).exists():
        time.sleep(0.005)
    log = DecisionLog(url, spool_dir=Path(spool))
    for i in range(200):
        log.record({"id": f"{name}-{i}", "channel": "email", "body": "x"},
                   {"id": f"{name}-{i}", "category": "pam_core", "priority": "P3", "route": "answer",
                    "queue": "pam-core-support", "reasons": []},
                   source="cli", versions={"model": "m"})
    log.close()
""")


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'index' / 'decisions.sqlite3'}"  # new file: both race to migrate it too
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, str(tmp_path), name, str(go)], env=env,
                              stderr=subprocess.PIPE, text=True) for name in ("p1", "p2")]
    time.sleep(0.5)  # let both import, then start them together
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    spool = tmp_path / dl.SPOOL_NAME
    # WAL and the busy timeout make each writer wait its turn, so nothing needed the spool.
    assert not spool.exists() or spool.read_text() == ""
    with DecisionLog(url, spool_dir=tmp_path) as log:
        rows = log.decisions(limit=None)
    ids = [r["id"] for r in rows]
    assert len(ids) == 400 and len(set(ids)) == 400
    assert {i.split("-")[0] for i in ids} == {"p1", "p2"}


def test_threads_of_one_process_share_a_log_safely(log):
    from concurrent.futures import ThreadPoolExecutor

    def write(n: int) -> list[str]:
        return [record(log, f"t{n}-{i}", i) for i in range(50)]

    with ThreadPoolExecutor(max_workers=4) as pool:
        written = [d for ids in pool.map(write, range(4)) for d in ids]
    assert {r["decision_id"] for r in log.decisions(limit=None)} == set(written)
    assert len(written) == 200


def test_a_lone_surrogate_in_a_logged_request_is_stored_not_lost(log):
    # An error result echoes raw input: "hi \ud800" cannot be encoded as UTF-8 anywhere.
    uuid_ = log.record({"id": "sur", "body": "hi \ud800 there"}, {"id": "sur", "error": {"code": "invalid_input"}},
                       source="cli", versions={})
    (row,) = [r for r in log.decisions(limit=None) if r["decision_id"] == uuid_]
    assert row["request"]["body"] == "hi ? there"
    assert not log._down_until  # a bad row is no database outage


def test_feedback_goes_to_the_live_decision_not_an_eval_run_of_the_same_id(log):
    live = record(log, "D-001", 0, source="api")
    record(log, "D-001", 5, source="eval")  # newer, but an eval run
    assert log.feedback({"id": "D-001", "outcome": "accepted", "resolved_tier": 1})["decision_id"] == live
    assert log.metrics()["tiers"]["tier1"]["resolved"] == 1


def test_a_ticket_already_triaged_live_is_not_imported_again_as_history(log):
    tickets = history()
    record(log, tickets[0]["id"], 0, source="api")  # triaged here first, later added to tickets.jsonl
    log.feedback({"id": tickets[0]["id"], "outcome": "accepted", "resolved_tier": 1})
    assert log.import_history(tickets) == len(tickets) - 1
    rows = [r for r in log.decisions(limit=None) if r["id"] == tickets[0]["id"]]
    assert [r["source"] for r in rows] == ["api"]  # one request, counted once


def waits_on(fn, release, timeout: float = 5.0) -> bool:
    """Run ``fn`` in a thread while a lock is held: True if it still waited after ``timeout``.
    ``release`` frees the lock either way, so the test ends."""
    worker = threading.Thread(target=fn, daemon=True)
    worker.start()
    worker.join(timeout=timeout)
    waited = worker.is_alive()
    release()
    worker.join()
    return waited


def ping_and_record_behind_a_migration(log, release) -> None:
    """With another process's migration lock held on a log opened while its database was down:
    ping() and record() give up instead of waiting, the decision is spooled, and it is written
    once the lock is gone (the PostgreSQL tests use it too)."""
    log._schema_ready = False  # as if opened while the database was down: it migrates on first use
    outcome: list = []

    def use():
        outcome.append(log.ping())
        outcome.append(record(log, "while migrating"))

    assert not waits_on(use, release), "ping()/record() waited for another process's migration"
    assert outcome[0] is False  # not ready while the schema cannot be checked
    assert len(log.spool_path.read_text().splitlines()) == 1  # the decision is kept
    log._down_until = 0.0
    assert log.ping()
    assert log.flush_spool() == 1
    assert [d["decision_id"] for d in log.decisions()] == [outcome[1]]


def test_a_log_opened_while_down_never_waits_behind_another_process_s_migration(log, db_url):
    # Found by a review (2026-12-06): a log opened while its database was down migrates on
    # its first use, and that waited without limit for another process's migration lock,
    # holding /readyz and every request thread that logged a decision.
    import fcntl

    with open(f"{db_url.removeprefix('sqlite:///')}.migrate-lock", "a") as other:  # another process migrating
        fcntl.flock(other, fcntl.LOCK_EX)
        ping_and_record_behind_a_migration(log, lambda: fcntl.flock(other, fcntl.LOCK_UN))


def test_a_read_waits_for_another_process_s_migration_once_not_twice(log, db_url, monkeypatch):
    # Found by a review (2026-12-06): a read tried the spool flush first, which waited out the
    # migration lock, and then waited again for the schema itself (about 1 s, on every read).
    import fcntl

    log._schema_ready = False  # as if opened while the database was down
    waits = []
    real = DecisionLog._migration_lock
    monkeypatch.setattr(DecisionLog, "_migration_lock", lambda self, **kw: (waits.append(kw), real(self, **kw))[1])
    with open(f"{db_url.removeprefix('sqlite:///')}.migrate-lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        record(log, "spooled")  # a row waiting in the spool
        assert log._spool_pending()
        log._down_until = 0.0  # the retry wait is over: a read would try to flush the spool
        for read in (log.decisions, log.metrics, lambda: log.feedback({"id": "spooled", "outcome": "accepted"})):
            waits.clear()
            with pytest.raises(StoreUnavailable):
                read()
            assert len(waits) == 1, waits  # before: two waits of 0.5 s
        fcntl.flock(other, fcntl.LOCK_UN)


def test_a_server_that_opens_its_log_on_a_request_never_waits_behind_a_migration(tmp_path):
    # Found by a review (2026-12-06): a server started before `assistant ingest` made the index
    # folder opens its SQLite log there on a request (/readyz or a triage), holding the runtime
    # lock; opening waited without limit for another process's migration of that new log.
    import fcntl

    from api.deps import Runtime
    from assistant.config import Settings
    from assistant.decision_log import SQLITE_NAME

    index = tmp_path / "idx"
    runtime = Runtime(settings=Settings(index=str(index)))
    runtime.open_log()
    assert runtime.log is None  # no index folder yet
    index.mkdir()
    with open(index / f"{SQLITE_NAME}.migrate-lock", "a") as other:
        fcntl.flock(other, fcntl.LOCK_EX)
        runtime._next_try = 0.0
        assert not waits_on(runtime.readiness, lambda: fcntl.flock(other, fcntl.LOCK_UN)), \
            "/readyz waited for another process's migration"
    assert runtime.log is not None and runtime.log._down_until  # opened, spooling until it can migrate
    runtime.close()


def test_a_sqlite_file_deleted_or_replaced_under_the_log_is_followed(tmp_path, spool_dir):
    # Found by a review: the log kept writing to the unlinked file of a deleted index folder.
    import shutil

    index = tmp_path / "index"
    with DecisionLog(f"sqlite:///{index / 'decisions.sqlite3'}", spool_dir=spool_dir) as log:
        record(log, "A-1")
        shutil.rmtree(index)
        record(log, "A-2", 1)  # the folder and a new file are made for it
        assert [r["id"] for r in log.decisions()] == ["A-2"]
        (index / "decisions.sqlite3").unlink()
        (index / "decisions.sqlite3").write_bytes(b"")  # replaced by another (empty) file
        record(log, "A-3", 2)
        assert [r["id"] for r in log.decisions()] == ["A-3"]
    with DecisionLog(f"sqlite:///{index / 'decisions.sqlite3'}", spool_dir=spool_dir) as again:
        assert [r["id"] for r in again.decisions()] == ["A-3"]


def test_feedback_to_an_older_decision_given_last_is_the_latest(log):
    # Found by a review of the merge: it went by decision order, not by when feedback was given.
    older = record(log, "Q3", 0)
    record(log, "Q3", 10)
    log.feedback({"id": "Q3", "outcome": "escalated", "resolved_tier": 2})  # to the newest decision
    time.sleep(0.01)
    log.feedback({"id": older, "outcome": "accepted", "resolved_tier": 1})  # by decision uuid, later
    tiers = log.metrics()["tiers"]
    assert tiers["tier1"]["resolved"] == 1 and tiers["tier2"]["open"] == 0


def test_feedback_interleaved_over_a_retry_is_replayed_in_the_order_given(log):
    # Found by a review: each decision's feedback was merged first, then the decisions in the
    # order of their last feedback, so the first decision's early Tier 2 overwrote the retry's
    # later Tier 3.
    first = record(log, "Q4", 0)
    log.feedback({"id": "Q4", "outcome": "escalated", "resolved_tier": 2})
    record(log, "Q4", 10)  # a client's retry: now the newest decision
    time.sleep(0.01)
    log.feedback({"id": "Q4", "outcome": "escalated", "resolved_tier": 3})
    time.sleep(0.01)
    log.feedback({"id": first, "outcome": "accepted"})  # by the first decision's uuid, last
    tiers = log.metrics()["tiers"]
    assert tiers["tier3"]["resolved"] == 1 and tiers["tier2"]["resolved"] == 0, tiers


def test_feedback_for_an_id_only_an_eval_run_has_is_refused(log):
    # Found by a review: it was accepted and attached to the eval run, which the metrics leave out.
    record(log, "EV-1", 0, source="eval")
    with pytest.raises(InputError) as err:
        log.feedback({"id": "EV-1", "outcome": "accepted"})
    assert err.value.field == "id"
    assert log.metrics(include_eval=True)["acceptance"]["with_feedback"] == 0


def test_a_re_triage_after_feedback_does_not_become_the_decision_the_metrics_keep(log):
    # Found by a review of the change: every decision of the request carried the merged
    # feedback, so the newest re-triage (escalated, P1) replaced the answered P3 decision.
    record(log, "Q5", 0, priority="P3")
    log.feedback({"id": "Q5", "outcome": "accepted", "resolved_tier": 1})
    record(log, "Q5", 10, route="escalate", priority="P1")
    m = log.metrics()
    assert m["routing"]["answered"] == 1 and m["volume"]["by_priority"] == {"P3": 1}
    assert m["tiers"]["tier1"]["resolved"] == 1


def test_feedback_by_the_uuid_of_an_eval_run_is_refused(log):
    decision = record(log, "EV-2", 0, source="eval")
    with pytest.raises(InputError):
        log.feedback({"id": decision, "outcome": "accepted"})
