"""The decision log on a real, throwaway PostgreSQL: the SQLite behaviour tests again, plus outages.

The behaviour tests are imported from ``test_decision_log`` and run here against
the ``db_url`` below (a fresh database per test on the session's cluster).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa

from assistant import decision_log
from assistant.config import Settings
from assistant.decision_log import DecisionLog
from assistant.errors import StoreUnavailable
from tests.pg import cluster_for, create_database, postgres_url  # noqa: F401
from tests.test_decision_log import (  # noqa: F401  (collected again, on PostgreSQL)
    ROOT,
    WRITER,
    ping_and_record_behind_a_migration,
    record,
    test_corrections_become_training_examples,
    test_decisions_newest_first_and_filtered,
    test_a_retry_between_two_pieces_of_feedback_keeps_the_first,
    test_feedback_attaches_to_the_newest_decision_with_that_id,
    test_feedback_by_decision_uuid_for_requests_without_id,
    test_feedback_for_an_unknown_id_is_an_input_error_on_id,
    test_feedback_finds_a_decision_flushed_between_its_two_looks,
    test_a_retry_a_week_later_counts_once_in_the_window_it_first_arrived_in_with_its_tier,
    test_feedback_for_an_id_only_an_eval_run_has_is_refused,
    test_feedback_by_the_uuid_of_an_eval_run_is_refused,
    test_a_re_triage_after_feedback_does_not_become_the_decision_the_metrics_keep,
    test_feedback_interleaved_over_a_retry_is_replayed_in_the_order_given,
    test_feedback_to_an_older_decision_given_last_is_the_latest,
    test_history_import_is_idempotent_by_ticket_id,
    test_a_ticket_triaged_live_first_brings_its_resolution_to_that_decision,
    test_history_tickets_without_a_date_are_skipped_and_bad_ones_rejected,
    test_invalid_feedback_names_the_field,
    test_later_feedback_adds_to_earlier_feedback,
    test_metrics_on_the_history_fixture_have_the_known_numbers,
    test_metrics_raise_red_flags_on_an_unhealthy_log,
    test_metrics_use_feedback_and_leave_out_eval_runs,
    test_models_match_the_migrations,
    test_record_never_raises_on_odd_input,
    test_record_stores_request_result_versions_and_time,
    test_reimport_updates_a_changed_ticket_in_place,
    test_reopening_runs_no_migration_twice_and_keeps_rows,
    test_same_timestamp_keeps_insertion_order_newest_first,
    test_spooled_rows_are_flushed_once_even_when_spooled_twice,
    test_error_results_are_logged_but_not_counted,
    test_feedback_skips_an_error_result_logged_later_under_the_same_id,
    log,
    spool_dir,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def db_url(postgres_url):  # noqa: F811
    return create_database(postgres_url)


def test_the_log_really_is_postgresql(log):
    assert log.dialect == "postgresql"
    with log.engine.connect() as conn:
        kind = conn.execute(sa.text(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'decisions' AND column_name = 'result'"
        )).scalar()
    assert kind == "jsonb"


def test_from_settings_moves_the_log_to_database_url(db_url, tmp_path):
    settings = Settings(index=tmp_path / "idx", database_url=db_url.replace("postgresql+psycopg", "postgresql"))
    with DecisionLog.from_settings(settings, tmp_path / "idx") as log:
        assert log.dialect == "postgresql"
        record(log, "H-1")
        assert [r["id"] for r in log.decisions()] == ["H-1"]
    assert not (tmp_path / "idx" / "decisions.sqlite3").exists()


def test_database_stopped_mid_run_loses_nothing_and_duplicates_nothing(log, db_url):
    cluster = cluster_for(db_url)
    before = [record(log, f"before-{i}", i) for i in range(3)]
    cluster.stop()
    try:
        assert not log.ping()
        started = time.monotonic()
        during = [record(log, f"down-{i}", 10 + i) for i in range(5)]  # must not raise
        assert time.monotonic() - started < 10
        assert len(log.spool_path.read_text().splitlines()) == 5
        with pytest.raises(StoreUnavailable):
            log.flush_spool()
        with pytest.raises(StoreUnavailable):
            log.decisions()
        assert len(log.spool_path.read_text().splitlines()) == 5  # a failed flush keeps the spool
    finally:
        cluster.start()
    assert log.ping()
    assert log.flush_spool() == 5
    assert log.flush_spool() == 0
    after = record(log, "after", 20)
    rows = log.decisions(limit=None)
    assert [r["decision_id"] for r in rows] == [after, *during[::-1], *before[::-1]]
    assert log.spool_path.read_text() == ""


def test_database_down_at_open_spools_and_catches_up(db_url, spool_dir):
    cluster = cluster_for(db_url)
    cluster.stop()
    try:
        log = DecisionLog(db_url, spool_dir=spool_dir)  # no exception: it can spool
        ids = [record(log, f"S-{i}", i) for i in range(5)]
    finally:
        cluster.start()
    assert log.flush_spool() == 5
    assert [r["decision_id"] for r in log.decisions()] == ids[::-1]
    log.close()


def test_down_database_and_unwritable_spool_fail_at_open(db_url, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    cluster = cluster_for(db_url)
    cluster.stop()
    try:
        with pytest.raises(StoreUnavailable):
            DecisionLog(db_url, spool_dir=blocker / "spool")
    finally:
        cluster.start()


def test_two_processes_migrate_and_write_at_once(db_url, tmp_path):
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db_url, str(tmp_path), name, str(go)], env=env,
                              stderr=subprocess.PIPE, text=True) for name in ("p1", "p2")]
    time.sleep(0.5)
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with DecisionLog(db_url, spool_dir=tmp_path) as log:
        ids = [r["id"] for r in log.decisions(limit=None)]
    assert len(ids) == 400 and len(set(ids)) == 400


def test_ping_checks_write_rights_without_taking_a_lock(log, db_url):
    import threading

    from sqlalchemy.engine import make_url

    assert log.ping()
    admin = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1)
                             if db_url.startswith("postgresql://") else db_url)
    # a role that may read and insert but not delete: the app never deletes, so it is ready
    with admin.begin() as conn:
        conn.execute(sa.text("CREATE ROLE writer_no_delete LOGIN PASSWORD 'pw'"))
        conn.execute(sa.text("GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO writer_no_delete"))
        conn.execute(sa.text("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO writer_no_delete"))
    limited_url = make_url(str(make_url(db_url))).set(username="writer_no_delete", password="pw")
    limited = DecisionLog(limited_url.render_as_string(hide_password=False), spool_dir=log.spool_path.parent / "l")
    assert limited.ping()  # before: a DELETE probe made it never ready
    limited.close()
    # a table lock held by a migration does not hold readiness up
    with admin.connect() as conn:
        transaction = conn.begin()
        conn.execute(sa.text("LOCK TABLE decisions IN SHARE MODE"))
        started = time.monotonic()
        result = []
        probe = threading.Thread(target=lambda: result.append(log.ping()))
        probe.start()
        probe.join(timeout=5)
        assert result == [True] and time.monotonic() - started < 3  # before: blocked until the lock went
        transaction.rollback()
    admin.dispose()


def test_a_request_holding_nul_is_logged_and_blocks_nothing(log):
    from tests.test_decision_log import T0, VERSIONS, request, result

    log.record(request("NUL-1", body="Xtime\u0000 not syncing"), result("NUL-1", answer="a\u0000b"), source="api",
               versions=VERSIONS, created_at=T0)
    record(log, "NUL-2")
    assert not log._spool_pending()  # before: PostgreSQL refused the row, and every later one waited behind it
    ids = {d["id"] for d in log.decisions(limit=10)}
    assert {"NUL-1", "NUL-2"} <= ids, ids
    log.feedback({"id": "NUL-2", "outcome": "accepted"})


def test_a_locked_table_spools_the_decision_instead_of_holding_the_request(log, db_url):
    # Found by a review (2026-12-06): a write waited for the lock as long as it was held, so a
    # migration or an ALTER held every request thread (the pool's ten, the rest 30 s for one).
    first = record(log, "before", 0)
    locker = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with locker.connect() as conn:
        conn.execute(sa.text("BEGIN"))
        conn.execute(sa.text("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE"))
        done: list[str] = []
        writer = threading.Thread(target=lambda: done.append(record(log, "while locked", 1)), daemon=True)
        writer.start()
        writer.join(timeout=5)  # must not wait for the lock
        waited = writer.is_alive()
        conn.execute(sa.text("ROLLBACK"))  # frees a writer that did wait, so the test ends
        writer.join()
        assert not waited, "record() waited for the table lock"
        (locked,) = done
        assert len(log.spool_path.read_text().splitlines()) == 1
    locker.dispose()
    log._down_until = 0.0  # the retry wait is over
    assert log.flush_spool() == 1
    assert [r["decision_id"] for r in log.decisions(limit=None)] == [locked, first]


def test_a_server_that_stops_answering_never_holds_a_request(log, db_url, monkeypatch):
    # Found by a review (2026-12-06): with the server frozen, record() on a pooled connection
    # waited as long as the freeze lasted (the connect and statement timeouts cannot fire), and
    # every /v1/ask with it.
    monkeypatch.setattr(decision_log, "PG_READ_WAIT_S", 2.0)
    first = record(log, "before", 0)  # leaves a pooled connection to the server
    calls: dict[str, object] = {}

    def call(name, fn):
        try:
            calls[name] = fn()
        except StoreUnavailable as exc:
            calls[name] = exc

    with cluster_for(db_url).frozen():
        for name, fn in (("record", lambda: record(log, "while frozen", 1)), ("read", log.decisions),
                         ("ping", log.ping)):
            worker = threading.Thread(target=call, args=(name, fn), daemon=True)
            started = time.monotonic()
            worker.start()
            worker.join(timeout=decision_log.PG_WAIT_S + 5)
            assert not worker.is_alive(), f"{name} waited for a server that does not answer"
            assert time.monotonic() - started < decision_log.PG_WAIT_S + 2
        assert len(log.spool_path.read_text().splitlines()) == 1  # the decision is kept
        assert isinstance(calls["read"], StoreUnavailable)  # the API answers 503
        assert calls["ping"] is False  # and /readyz says not ready
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the call left waiting finishes once the server answers
        log._down_until = 0.0
        try:
            log.flush_spool()
            rows = log.decisions(limit=None)
            break
        except StoreUnavailable:
            time.sleep(0.2)
    assert [r["decision_id"] for r in rows] == [calls["record"], first]  # each once


def test_calls_beyond_the_pool_wait_their_turn_on_a_healthy_database(log, monkeypatch):
    # Found by a review: with every pooled connection in use, the next call failed at once and
    # marked the database down, so 16-32 clients at once got 503s from a healthy server.
    monkeypatch.setattr(log, "_waiting", threading.BoundedSemaphore(2))
    results: list = []

    def select_one():
        time.sleep(0.05)  # a statement that takes a moment: the slots stay busy
        with log.engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1")).scalar()

    def call():
        try:
            results.append(log._within(decision_log.PG_WAIT_S, "select", select_one))
        except StoreUnavailable as exc:
            results.append(exc)

    workers = [threading.Thread(target=call) for _ in range(12)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert results == [1] * 12 and log._down_until == 0.0
    log._down_until = time.monotonic() + 60  # known to be down: a caller does not wait for a free slot
    monkeypatch.setattr(log, "_waiting", threading.BoundedSemaphore(1))
    log._waiting.acquire()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        log._within(decision_log.PG_WAIT_S, "count", lambda: 1)
    assert time.monotonic() - started < 1


def test_a_read_behind_a_locked_table_gives_up_instead_of_holding_the_request(log, db_url):
    record(log, "before", 0)
    locker = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with locker.connect() as conn:
        conn.execute(sa.text("BEGIN"))
        conn.execute(sa.text("LOCK TABLE decisions IN ACCESS EXCLUSIVE MODE"))
        outcome: list = []

        def read():
            try:
                outcome.append(log.decisions())
            except StoreUnavailable as exc:
                outcome.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout=5)
        waited = reader.is_alive()
        conn.execute(sa.text("ROLLBACK"))
        reader.join()
    locker.dispose()
    assert not waited, "decisions() waited for the table lock"
    assert isinstance(outcome[0], StoreUnavailable)  # the API answers 503
    assert len(log.decisions()) == 1  # and reads work again once the lock is gone


def test_a_log_opened_while_down_never_waits_behind_another_process_s_migration(log, db_url):
    # Found by a review (2026-12-06): the first use of a log opened while PostgreSQL was down
    # runs the migration, which waited without limit for another process's migration lock.
    from assistant.decision_log import PG_MIGRATION_LOCK

    other = sa.create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with other.connect() as conn:  # another process migrating
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": PG_MIGRATION_LOCK})

        def release():
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": PG_MIGRATION_LOCK})
            conn.commit()

        ping_and_record_behind_a_migration(log, release)
    other.dispose()


def test_a_long_spool_flush_does_not_cost_the_feedback_its_own_time(log, monkeypatch):
    # Found by a review: feedback flushed the spool inside its own 5 s, so after a long outage a
    # healthy database answered feedback with 503 while the flush went on.
    record(log, "FB-1", 0)
    monkeypatch.setattr(decision_log, "PG_WAIT_S", 1.0)
    real = log._try_flush
    monkeypatch.setattr(log, "_try_flush", lambda: (time.sleep(1.5), real()))
    out = log.feedback({"id": "FB-1", "outcome": "accepted", "resolved_tier": 1})
    assert out["decision_id"]
