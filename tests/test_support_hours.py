"""Support hours: the response clock of P2/P3 stops outside them; P0/P1 (on call) never wait."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from assistant import metrics
from assistant import pipeline as pipeline_mod
from assistant.config import Settings, load_settings
from assistant.errors import ConfigError
from assistant.messages import due_by, holding_message, passed_on, retimed
from assistant.models import SupportRequest
from assistant.support_hours import ResponseClock, SupportHours

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")
TARGETS = {"P0": 0, "P1": 120, "P2": 240, "P3": 1440}
NINE_TO_FIVE = SupportHours.parse("Mon-Fri 09:00-17:00", "America/Chicago")
CLOCK = ResponseClock(TARGETS, NINE_TO_FIVE)


def local(*args) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


@pytest.mark.parametrize("start, priority, expected", [
    (local(2026, 12, 4, 16, 30), "P2", local(2026, 12, 7, 12, 30)),   # Friday 16:30: 30 min, then Monday
    (local(2026, 12, 4, 16, 30), "P3", local(2026, 12, 9, 16, 30)),   # 24 open hours: three working days
    (local(2026, 12, 5, 11, 0), "P2", local(2026, 12, 7, 13, 0)),     # Saturday: from Monday's opening
    (local(2026, 12, 7, 6, 0), "P2", local(2026, 12, 7, 13, 0)),      # before opening: from 9:00
    (local(2026, 12, 7, 10, 0), "P2", local(2026, 12, 7, 14, 0)),     # inside the hours: clock time
    (local(2026, 12, 7, 13, 0), "P2", local(2026, 12, 7, 17, 0)),     # ends exactly at closing
    (local(2026, 12, 7, 18, 0), "P2", local(2026, 12, 8, 13, 0)),     # evening: from the next morning
    (local(2026, 12, 4, 16, 30), "P1", local(2026, 12, 4, 18, 30)),   # on call: clock time
    (local(2026, 12, 5, 3, 0), "P0", local(2026, 12, 5, 3, 0)),       # on call: now, on a Saturday night
])
def test_due_counts_open_minutes_for_priorities_off_call(start, priority, expected):
    assert CLOCK.due(priority, start) == expected


def test_a_closed_date_is_skipped_and_a_priority_can_be_put_off_call():
    hours = SupportHours.parse("Mon-Fri 09:00-17:00", "America/Chicago", [date(2026, 12, 25)])
    thursday_evening = local(2026, 12, 24, 18, 0)
    assert ResponseClock(TARGETS, hours).due("P2", thursday_evening) == local(2026, 12, 28, 13, 0)
    # A team with no on-call rota for P1: its 2 hours wait for Monday too.
    p1_waits = ResponseClock(TARGETS, hours, around_the_clock=frozenset({"P0"}))
    assert p1_waits.due("P1", thursday_evening) == local(2026, 12, 28, 11, 0)
    # P0 off call: due when the team opens, told as that moment.
    p0_waits = ResponseClock(TARGETS, hours, around_the_clock=frozenset())
    assert p0_waits.when("P0", thursday_evening) == "by Monday 28 December at 09:00 (America/Chicago)"


def test_open_hours_are_real_hours_across_a_clock_change():
    every_hour = ResponseClock({"P3": 1440}, SupportHours.parse("Mon-Sun 00:00-24:00", "America/Chicago"))
    # Chicago skips 2:00-3:00 on Sunday 14 March 2027: 24 real hours from Saturday noon end at 13:00.
    assert every_hour.due("P3", local(2027, 3, 13, 12, 0)) == local(2027, 3, 14, 13, 0)


def test_when_tells_a_length_only_while_the_clock_runs_straight_through():
    monday_ten = local(2026, 12, 7, 10, 0)
    assert CLOCK.when("P2", monday_ten) == "within 4 hours"
    assert CLOCK.when("P3", monday_ten) == "by Thursday 10 December at 10:00 (America/Chicago)"
    assert CLOCK.when("P1", local(2026, 12, 5, 23, 0)) == "within 2 hours"
    assert CLOCK.when("P0", local(2026, 12, 5, 23, 0)) == "right away"
    # Without support hours nothing changes: the SPEC's clock-time targets.
    assert ResponseClock(TARGETS).when("P3", local(2026, 12, 4, 16, 30)) == "within 24 hours"


def test_messages_and_due_by_use_the_clock():
    friday = local(2026, 12, 4, 16, 30)
    text = holding_message(["out_of_scope"], "P3", "ops-triage", CLOCK, now=friday)
    assert "will reply by Wednesday 9 December at 16:30 (America/Chicago)" in text
    assert "24 hours" not in text
    assert due_by("P3", CLOCK, friday) == "2026-12-09T22:30:00+00:00"
    assert due_by("P3", TARGETS, friday) == "2026-12-05T22:30:00+00:00"  # plain targets: clock time
    # A part raised to P0 retells the time; passed-on points carry their own.
    assert "right away" in retimed(text, "P3", "P0", CLOCK, friday)
    line = passed_on([("integration-support", "P2"), ("pam-core-support", "P1")], CLOCK, friday)
    assert "integration support team will reply by Monday 7 December at 12:30" in line
    assert "PAM support team will reply within 2 hours" in line


@pytest.mark.parametrize("spec, zone, message", [
    ("Mon-Fry 09:00-17:00", "UTC", "'Fry' is no day"),
    ("Fri-Mon 09:00-17:00", "UTC", "runs backwards"),
    ("Mon-Fri 17:00-09:00", "UTC", "closing time must be after opening time"),
    ("Mon-Fri 09:00-25:00", "UTC", "'25:00' is no time of day"),
    ("weekdays", "UTC", "write days and hours like"),
    ("Mon-Fri 09:00-17:00", "Mars/Olympus", "time zone 'Mars/Olympus' is unknown"),
    ("Mon-Fri 09:00-17:00", "../../etc/passwd", "is unknown"),
    ("Mon - 09:00-17:00", "UTC", "'Mon -' has no last day"),  # was read as Monday alone
])
def test_bad_support_hours_are_named(spec, zone, message):
    with pytest.raises(ValueError, match=message):
        SupportHours.parse(spec, zone)


def test_a_time_zone_is_read_without_its_spaces_and_a_year_of_hours_is_the_limit():
    assert SupportHours.parse("Mon-Fri 09:00-17:00", " America/Chicago ").zone.key == "America/Chicago"
    a_minute = SupportHours.parse("Sun 09:00-09:01", "UTC")
    ResponseClock({"P3": 52}, a_minute)  # a year of Sundays
    with pytest.raises(ValueError, match="more than a year"):
        ResponseClock({"P3": 53}, a_minute)
    ResponseClock({"P0": 0, "P3": 525_600}, a_minute, around_the_clock=frozenset({"P0", "P1", "P2", "P3"}))


def test_settings_read_support_hours_from_the_environment(monkeypatch):
    monkeypatch.setenv("ASSISTANT_SUPPORT_HOURS", "Mon-Fri 08:00-18:00")
    monkeypatch.setenv("ASSISTANT_SUPPORT_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("ASSISTANT_SUPPORT_CLOSED_DATES", "2026-12-24, 2026-12-25")
    monkeypatch.setenv("ASSISTANT_AROUND_THE_CLOCK", "P0")
    clock = load_settings().response_clock
    assert clock.hours.zone.key == "Europe/Berlin" and clock.hours.closed_dates == {date(2026, 12, 24), date(2026, 12, 25)}
    assert clock.around_the_clock == {"P0"} and clock.counts_hours("P1")
    monkeypatch.setenv("ASSISTANT_AROUND_THE_CLOCK", '["P0", "P1"]')  # a JSON list as well
    assert load_settings().response_clock.around_the_clock == {"P0", "P1"}


@pytest.mark.parametrize("env, message", [
    ({"ASSISTANT_SUPPORT_HOURS": "Mon-Fri 9-5"}, "write days and hours like"),
    ({"ASSISTANT_SUPPORT_HOURS": "Mon-Fri 09:00-17:00", "ASSISTANT_SUPPORT_TIMEZONE": "Chicago"}, "is unknown"),
    ({"ASSISTANT_SUPPORT_TIMEZONE": "America/Chicago"}, "need ASSISTANT_SUPPORT_HOURS"),
    ({"ASSISTANT_SUPPORT_HOURS": "Mon-Fri 09:00-17:00", "ASSISTANT_SUPPORT_CLOSED_DATES": "2026-12-32"},
     "support_closed_dates"),
    ({"ASSISTANT_AROUND_THE_CLOCK": "P0,urgent"}, "ASSISTANT_AROUND_THE_CLOCK has unknown priorities"),
    # P1 off call but P2 on it: a P1 would be promised later than a P2 of the same moment
    ({"ASSISTANT_SUPPORT_HOURS": "Mon-Fri 09:00-17:00", "ASSISTANT_AROUND_THE_CLOCK": "P0,P2"},
     "must name the most urgent priorities"),
    ({"ASSISTANT_AROUND_THE_CLOCK": "P0"}, "ASSISTANT_AROUND_THE_CLOCK needs ASSISTANT_SUPPORT_HOURS"),
    # numbers had passed as Unix times (0: 1 January 1970)
    ({"ASSISTANT_SUPPORT_HOURS": "Mon-Fri 09:00-17:00", "ASSISTANT_SUPPORT_CLOSED_DATES": "0"},
     "must be dates like 2026-12-25"),
    # a year of P3 in one open minute a week ran past year 9999: every P3 request failed
    ({"ASSISTANT_SUPPORT_HOURS": "Sun 09:00-09:01", "ASSISTANT_RESPONSE_TARGETS_MIN": '{"P3": 525600}'},
     "P3's target of 525600 minutes would take more than a year"),
])
def test_bad_support_settings_fail_at_start_up_by_name(monkeypatch, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unset_support_hours_keep_every_target_in_clock_time(monkeypatch):
    clock = Settings().response_clock
    assert clock.hours is None and not clock.counts_hours("P3")
    # A template's blanks are the defaults, not "no priority on call" or an unknown zone "".
    for name in ("SUPPORT_HOURS", "SUPPORT_TIMEZONE", "SUPPORT_CLOSED_DATES", "AROUND_THE_CLOCK"):
        monkeypatch.setenv(f"ASSISTANT_{name}", " ")
    assert load_settings().response_clock == clock
    monkeypatch.setenv("ASSISTANT_SUPPORT_HOURS", "Mon-Fri 09:00-17:00")
    monkeypatch.setenv("ASSISTANT_AROUND_THE_CLOCK", "[]")  # no on-call rota: every clock stops
    assert load_settings().response_clock.counts_hours("P0")


def test_metrics_judge_a_corrected_priority_in_support_hours():
    created = local(2026, 12, 4, 16, 30)  # Friday afternoon
    row = {"created_at": created.astimezone(UTC), "due_by": CLOCK.due("P3", created).astimezone(UTC),
           "predicted_priority": "P3", "priority": "P2"}
    # Corrected to P2: 4 open hours from Friday 16:30 end Monday 12:30, not 20 hours before Wednesday.
    assert metrics.deadline(row, CLOCK) == local(2026, 12, 7, 12, 30)
    assert metrics.deadline(row, TARGETS) == row["due_by"] - timedelta(minutes=1200)  # around the clock
    row_p1 = dict(row, priority="P1")  # on call: two clock hours from arrival
    assert metrics.deadline(row_p1, CLOCK) == local(2026, 12, 4, 18, 30)
    responded = dict(row, responded_at=local(2026, 12, 7, 11, 0).astimezone(UTC), resolved_tier=1)
    assert metrics.on_time([responded], CLOCK)["in_time"] == 1
    assert metrics.on_time([dict(responded, responded_at=local(2026, 12, 7, 13, 0))], CLOCK)["late"] == 1


def test_an_outage_waiting_for_support_hours_is_measured_from_their_opening():
    # No on-call rota: a P0 on Saturday night is due at Monday's opening, and one in the hours
    # at once; both are "immediately", counted by minutes from the clock's start, not as late.
    clock = ResponseClock(TARGETS, NINE_TO_FIVE, around_the_clock=frozenset())
    saturday, monday = local(2026, 12, 5, 3, 0), local(2026, 12, 7, 10, 0)
    rows = [{"created_at": at.astimezone(UTC), "due_by": clock.due("P0", at), "priority": "P0",
             "predicted_priority": "P0", "responded_at": answered.astimezone(UTC)}
            for at, answered in ((saturday, local(2026, 12, 7, 9, 5)), (monday, local(2026, 12, 7, 10, 5)))]
    report = metrics.on_time(rows, clock)
    assert report["known"] == 0 and report["late"] == 0
    assert report["immediate"] == {"known": 2, "median_min": 5.0}


@pytest.fixture(scope="module")
def hours_pipeline(sample_index, embedder):
    from assistant.pipeline import Pipeline

    settings = Settings(index=sample_index, support_hours="Mon-Fri 09:00-17:00", support_timezone="America/Chicago")
    return Pipeline.load(settings, embedder=embedder)


def test_a_request_is_logged_at_its_arrival(sample_index, embedder, tmp_path, monkeypatch):
    # The report counts a corrected priority's deadline again from created_at in support hours:
    # logged after a slow triage, a request that came at 16:59:50 was given until 13:00, not 12:59:50.
    from assistant.decision_log import DecisionLog
    from assistant.pipeline import Pipeline

    log = DecisionLog(f"sqlite:///{tmp_path / 'decisions.sqlite3'}", spool_dir=tmp_path)
    pipeline = Pipeline.load(Settings(index=sample_index), embedder=embedder, decision_log=log)
    arrived = datetime(2026, 12, 4, 22, 59, 50, tzinfo=UTC)
    monkeypatch.setattr(pipeline_mod, "arrival_time", lambda: arrived)
    pipeline.run(SupportRequest(id="LOG-1", channel="chat", body="how do I add a holiday to our hours?"))
    assert [row["created_at"] for row in log.decisions()] == ["2026-12-04T22:59:50Z"]


def test_a_request_on_friday_evening_is_due_on_monday(hours_pipeline, monkeypatch):
    friday_evening = local(2026, 12, 4, 18, 0)
    monkeypatch.setattr(pipeline_mod, "arrival_time", lambda: friday_evening.astimezone(UTC))
    result = hours_pipeline.run(SupportRequest(id="BH-1", channel="chat",
                                               body="can you write me a limerick about my cat"))
    assert result.route == "escalate" and "out_of_scope" in result.reasons and result.priority == "P3"
    assert datetime.fromisoformat(result.due_by) == local(2026, 12, 9, 17, 0)  # 24 open hours from Monday 9:00
    assert "by Wednesday 9 December at 17:00 (America/Chicago)" in result.answer
    assert "within 24 hours" not in result.answer


def test_an_outage_on_friday_evening_is_still_due_now(hours_pipeline, monkeypatch):
    friday_evening = local(2026, 12, 4, 18, 0)
    monkeypatch.setattr(pipeline_mod, "arrival_time", lambda: friday_evening.astimezone(UTC))
    body = ("Hi,\n\nPAM is not answering any calls at all since this morning, every caller gets a busy signal.\n\n"
            "Separately, our advisor Jenny says the dashboard export to CSV does not include the customer's VIN "
            "column anymore.\n\nThanks,\nJoe")
    result = hours_pipeline.run(SupportRequest(id="BH-2", channel="email", subject="two things", body=body))
    assert result.priority == "P0" and datetime.fromisoformat(result.due_by) == friday_evening
    if result.route == "escalate":
        holding = result.answer.split("Meanwhile")[0]
        assert "right away" in holding and "December" not in holding  # the raised part's time, retold
