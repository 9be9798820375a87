"""Support metrics from decision-log rows: volume, routing, resolution per tier, red flags.

Pure functions over plain dicts, so they are testable without a database;
``DecisionLog.metrics`` feeds them rows and ``render_table`` shows the result on a
terminal (``assistant report``).

>>> rows = [{"source": "history", "created_at": "2026-03-02T10:00:00Z",
...          "category": "integration", "resolved_tier": 1}]
>>> compute(rows)["tiers"]["tier1"]["rate"]
1.0

A row is a dict with these keys (all optional except ``created_at``):

    source          "api", "cli", "chat", "eval", "history", ...
    created_at      datetime or ISO text
    channel, category, priority, route, queue, reasons (list)
    predicted_category, predicted_priority   what the assistant said, when feedback corrected it
    resolved_tier   1, 2 or 3: the tier that resolved it (feedback or history)
    resolved_at, responded_at, due_by        datetime or ISO text
    outcome         accepted | edited | rejected | escalated (feedback)
    error           true for a bad input line that got an error result
    id, seq         the request id, and the log's insertion order (which of two rows is newer)
    request_digest  ``request_digest`` of the logged (redacted) subject and body

A request triaged more than once (the same id and the same text: classified, then
answered; a client's retry) is one request: ``one_per_request`` keeps one row for it.

Tier arithmetic follows the support process guide (OPS meeting notes): a request
resolved at tier t was received by tiers 1..t, so Tier 1 receives every request
with a known tier, Tier 2 those resolved at tier 2 or 3, Tier 3 those resolved at 3.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta

from assistant.errors import InputError
from assistant.support_hours import ResponseClock

# Healthy targets and red flags from the OPS meeting notes (seed 002). Ranges are
# inclusive: the notes' own "healthy" example has Tier 3 at exactly 5% (10 of 200).
TIER1_TARGET = (0.70, 0.80)  # share of all requests resolved by OPS
TIER2_TARGET = (0.80, 0.90)  # share of what Tier 2 receives that it resolves
TIER3_TARGET_MAX = 0.05  # share of all requests that reach product engineers
TIER1_RED_FLAG_BELOW = 0.50  # "OPS toolkit is too limited"
TIER2_ESCALATION_RED_FLAG_ABOVE = 0.20  # "needs better tooling or there are too many bugs"
TIER3_RED_FLAG_ABOVE = 0.10  # "product engineers pulled into support too much"

TARGETS = {
    "tier1_resolution": {"min": TIER1_TARGET[0], "max": TIER1_TARGET[1]},
    "tier2_resolution": {"min": TIER2_TARGET[0], "max": TIER2_TARGET[1]},
    "tier3_share": {"max": TIER3_TARGET_MAX},
}
RED_FLAGS = {
    "tier1_resolution_below": TIER1_RED_FLAG_BELOW,
    "tier2_escalation_above": TIER2_ESCALATION_RED_FLAG_ABOVE,
    "tier3_share_above": TIER3_RED_FLAG_ABOVE,
}

# Where a shown percentage must not round onto a bound it is not on ("70%" beside "below target").
_BOUNDS = (*TIER1_TARGET, *TIER2_TARGET, TIER3_TARGET_MAX, TIER1_RED_FLAG_BELOW, TIER2_ESCALATION_RED_FLAG_ABOVE,
           1 - TIER2_ESCALATION_RED_FLAG_ABOVE, TIER3_RED_FLAG_ABOVE)

PERIODS = ("day", "week", "month")
OUTCOMES = ("accepted", "edited", "rejected", "escalated")
TOP_N = 3
# Empty periods are listed between the first and the last with data up to this many periods
# (ten years of weeks, some seventeen months of days); beyond, only the periods with data.
MAX_FILLED_PERIODS = 520
_EPS = 1e-9  # 14/20 must count as exactly 70%


# --------------------------------------------------------------------------- time


def parse_time(value, field: str, *, end_of_day: bool = False) -> datetime | None:
    """A UTC datetime from a datetime, a date or ISO text; InputError names the field.

    A bare date as the upper bound (``end_of_day``) means the end of that day, so
    ``--until 2026-03-31`` includes March 31.

    >>> parse_time("2026-03-02", "until", end_of_day=True).isoformat()
    '2026-03-03T00:00:00+00:00'
    """
    if value is None or value == "":
        return None
    day_only = False
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment, day_only = datetime(value.year, value.month, value.day), True
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"{field}: not an ISO date or time: {value!r}", field=field) from None
        try:  # a bare date, in either ISO form (2026-03-31 or 20260331)
            date.fromisoformat(text)
            day_only = True
        except ValueError:
            day_only = False
    else:
        raise InputError(f"{field}: expected an ISO date or time, got {type(value).__name__}", field=field)
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if day_only and end_of_day:
            moment += timedelta(days=1)
    except OverflowError:  # 9999-12-31 as an end date, 0001-01-01 east of UTC
        raise InputError(f"{field}: {value!r} is out of the range of dates", field=field) from None
    return moment


def _time(value) -> datetime | None:
    """Lenient parse for stored values: None when absent or unreadable."""
    try:
        return parse_time(value, "time")
    except InputError:
        return None


def iso(moment: datetime | None) -> str | None:
    """ISO text in UTC with a ``Z``, the way the log's JSON shows times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_period(period: str) -> str:
    if period not in PERIODS:
        raise InputError(f"period must be one of {', '.join(PERIODS)}, got {period!r}", field="period")
    return period


def period_of(moment: datetime, period: str) -> tuple[str, date]:
    """The bucket label and its first day: ``2026-W10``/Monday, ``2026-03-02``, ``2026-03``."""
    day = moment.astimezone(UTC).date()
    if period == "day":
        return day.isoformat(), day
    if period == "week":
        year, week, weekday = day.isocalendar()
        return f"{year}-W{week:02d}", day - timedelta(days=weekday - 1)
    return f"{day.year}-{day.month:02d}", day.replace(day=1)


def _periods_between(first: date, last: date, period: str) -> int:
    """How many periods run from the one starting ``first`` to the one starting ``last``."""
    if period == "day":
        return (last - first).days + 1
    if period == "week":
        return (last - first).days // 7 + 1
    return (last.year - first.year) * 12 + last.month - first.month + 1


def _next_start(start: date, period: str) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


# --------------------------------------------------------------------------- helpers


def percent(value: float | None, digits: int = 0) -> str:
    """``value`` as a percentage with ``digits`` decimals, or more where rounding would put it on
    a target or red-flag bound it is not on: 0.6996 is "69.96%", not "70%" beside "below target"."""
    if value is None:
        return "—"
    shown = digits
    for shown in range(digits, max(digits + 1, 4)):
        rounded = round(value, shown + 2)
        if not _lands_on_a_bound(value, rounded):
            break
    return f"{value:.{shown}%}"


def _shown_rate(value: float | None) -> float | None:
    """A tier rate to four digits, or six where four would put it on a target or red-flag bound it
    is not on (1402 of 2003 is 0.69995, not 0.7 beside "below target")."""
    if value is None:
        return None
    rounded = round(value, 4)
    return round(value, 6) if _lands_on_a_bound(value, rounded) else rounded


def _lands_on_a_bound(value: float, rounded: float) -> bool:
    """Whether rounding puts ``value`` on a target or red-flag bound it is not on."""
    return any(abs(rounded - b) < _EPS < abs(value - b) for b in _BOUNDS)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _count(values: Iterable) -> dict[str, int]:
    counts = Counter(v if v not in (None, "") else "unknown" for v in values)
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _tier(value) -> int | None:
    try:
        tier = int(value)
    except (TypeError, ValueError):
        return None
    return tier if tier in (1, 2, 3) and not isinstance(value, bool) else None


def _normalise(row: Mapping) -> dict:
    out = dict(row)
    for key in ("created_at", "resolved_at", "responded_at", "due_by"):
        out[key] = _time(row.get(key))
    out["resolved_tier"] = _tier(row.get("resolved_tier"))
    return out


def _hours_summary(hours: list[float]) -> dict:
    if not hours:
        return {"known": 0, "mean_h": None, "median_h": None, "p90_h": None}
    ordered = sorted(hours)
    p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]  # nearest rank
    return {
        "known": len(ordered),
        "mean_h": round(statistics.fmean(ordered), 2),
        "median_h": round(statistics.median(ordered), 2),
        "p90_h": round(p90, 2),
    }


# --------------------------------------------------------------------------- parts


def request_digest(request) -> str | None:
    """A short digest of a logged request's subject and body, case and spacing aside (a request
    re-triaged with its text re-spaced is the same request); None when there is no request."""
    if not isinstance(request, Mapping):
        return None
    text = " ".join(f"{request.get('subject') or ''}\n{request.get('body') or ''}".lower().split())
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16]


def request_key(request_id: str, source: str | None, digest: str | None) -> tuple:
    """What makes decisions one request: the same id and text (``request_digest``), eval runs
    apart from live ones (``one_per_request``; the decision log merges feedback by it too)."""
    return request_id, source == "eval", digest


def _has_feedback(row: Mapping) -> bool:
    outcome = row.get("outcome") or (row.get("feedback") or {}).get("outcome")
    return bool(outcome) or _tier(row.get("resolved_tier")) is not None


def within(moment: datetime, lo: datetime | None, hi: datetime | None) -> bool:
    """Whether ``moment`` is in ``[lo, hi)`` (None: unbounded on that side)."""
    return not ((lo and moment < lo) or (hi and moment >= hi))


def one_per_request(rows: Iterable[Mapping], *, first_seen: bool = False) -> list[Mapping]:
    """One row per request: its newest row with feedback (or a known tier), else its newest row.

    A request is its id and its text (``request_digest``): the same id logged again with
    the same text is the same request seen again (classified, then answered; a client's
    retry), so it counts once in every number. Ids come from clients and are not unique,
    so the same id with another text is another request. The row kept is the one that
    records what happened: feedback attaches to the newest decision, but a re-triage
    after the feedback must not hide it. Eval runs are keyed apart from live requests.
    Rows without an id, and error rows, are kept as they are, in their order.

    With ``first_seen`` (normalised rows: times are datetimes) the row kept is a copy carrying
    the request's first ``created_at`` and its earliest ``due_by``: a re-triage sets a new
    deadline from its own time, but the request arrived, and was promised a reply, at the first.
    """
    kept: dict[tuple, tuple[tuple, Mapping]] = {}
    first: dict[tuple, dict] = {}
    out: list[Mapping | tuple] = []
    for position, row in enumerate(rows):
        rid = row.get("id")
        if not rid or row.get("error"):
            out.append(row)
            continue
        key = request_key(rid, row.get("source"), row.get("request_digest"))
        created = _time(row.get("created_at"))
        seq = row.get("seq")
        rank = (_has_feedback(row), created.timestamp() if created else float("-inf"),
                seq if isinstance(seq, int) else -1, position)
        if key not in kept:
            out.append(key)
            kept[key] = (rank, row)
        elif rank > kept[key][0]:
            kept[key] = (rank, row)
        if first_seen:
            earliest = first.setdefault(key, {})
            for name in ("created_at", "due_by"):
                if row.get(name) is not None and (earliest.get(name) is None or row[name] < earliest[name]):
                    earliest[name] = row[name]
    if first_seen:
        return [{**kept[item][1], **first[item]} if isinstance(item, tuple) else item for item in out]
    return [kept[item][1] if isinstance(item, tuple) else item for item in out]


def tier_stats(rows: Iterable[Mapping]) -> dict:
    """Resolution per tier against the targets; rows need ``resolved_tier`` (and ``outcome``).

    A row whose outcome is ``escalated`` names the tier it was sent to, where it is still
    open: it has left the tiers below, but that tier has not resolved it. It counts in
    the tier's ``received`` and ``open``, not in its ``resolved``, and stays out of the
    tier's resolution rate until later feedback closes it.
    """
    tiers: Counter = Counter()  # resolved at that tier
    opened: Counter = Counter()  # sent to that tier, not resolved yet
    for r in rows:
        tier = _tier(r.get("resolved_tier"))
        (opened if tier is not None and r.get("outcome") == "escalated" else tiers)[tier] += 1
    known = tiers[1] + tiers[2] + tiers[3] + opened[1] + opened[2] + opened[3]
    unknown = tiers[None]
    reached3 = tiers[3] + opened[3]
    t2_received = tiers[2] + opened[2] + reached3
    t2_decided = tiers[2] + reached3  # resolved at Tier 2 or sent on; open ones are undecided

    def exact(part: int, whole: int) -> float | None:  # statuses are judged on these, not the rounded ones
        return part / whole if whole else None

    t1_exact, t2_exact = exact(tiers[1], known), exact(tiers[2], t2_decided)
    t2_esc_exact, t3_exact = exact(reached3, t2_decided), exact(reached3, known)
    t1_rate, t2_rate, t2_escalation, t3_share = (_shown_rate(v) for v in (t1_exact, t2_exact, t2_esc_exact, t3_exact))

    def status_t1(rate):
        if rate is None:
            return "no_data"
        if rate < TIER1_RED_FLAG_BELOW - _EPS:
            return "red_flag"
        if rate < TIER1_TARGET[0] - _EPS:
            return "below_target"
        return "above_target" if rate > TIER1_TARGET[1] + _EPS else "on_target"

    def status_t2(rate, escalation):
        if rate is None:
            return "no_data"
        if escalation > TIER2_ESCALATION_RED_FLAG_ABOVE + _EPS:
            return "red_flag"
        if rate < TIER2_TARGET[0] - _EPS:
            return "below_target"
        return "above_target" if rate > TIER2_TARGET[1] + _EPS else "on_target"

    def status_t3(share):
        if share is None:
            return "no_data"
        if share > TIER3_RED_FLAG_ABOVE + _EPS:
            return "red_flag"
        return "above_target" if share > TIER3_TARGET_MAX + _EPS else "on_target"

    return {
        "known": known,
        "unknown": unknown,
        "tier1": {
            "received": known,
            "resolved": tiers[1],
            "open": opened[1],
            "escalated": t2_received,
            "rate": t1_rate,
            "target": TARGETS["tier1_resolution"],
            "status": status_t1(t1_exact),
        },
        "tier2": {
            "received": t2_received,
            "decided": t2_decided,  # the rate's denominator: resolved there or sent on; open ones wait
            "resolved": tiers[2],
            "open": opened[2],
            "escalated": reached3,
            "rate": t2_rate,
            "escalation_rate": t2_escalation,
            "target": TARGETS["tier2_resolution"],
            "status": status_t2(t2_exact, t2_esc_exact),
        },
        "tier3": {
            "received": reached3,
            "resolved": tiers[3],
            "open": opened[3],
            "share": t3_share,
            "target": TARGETS["tier3_share"],
            "status": status_t3(t3_exact),
        },
    }


def red_flags(tiers: Mapping) -> list[dict]:
    """The seed's red flags raised by ``tier_stats`` output, each with value and threshold.

    Read from the statuses, which ``tier_stats`` judges on exact ratios: a rate shown as 0.5
    may be 0.49995, under the Tier 1 bar.
    """
    flags = []
    t1, t2, t3 = tiers["tier1"], tiers["tier2"], tiers["tier3"]
    if t1["status"] == "red_flag":
        flags.append({
            "code": "tier1_resolution_low", "tier": 1, "value": t1["rate"],
            "threshold": TIER1_RED_FLAG_BELOW, "n": t1["received"],
            "message": f"Tier 1 resolves {percent(t1['rate'])} (< 50%): the OPS toolkit is too limited",
        })
    if t2["status"] == "red_flag":
        flags.append({
            "code": "tier2_escalation_high", "tier": 2, "value": t2["escalation_rate"],
            "threshold": TIER2_ESCALATION_RED_FLAG_ABOVE, "n": t2["received"],
            "message": f"Tier 2 escalates {percent(t2['escalation_rate'])} (> 20%): "
                       "support engineers need better tooling, or there are too many bugs",
        })
    if t3["status"] == "red_flag":
        flags.append({
            "code": "tier3_share_high", "tier": 3, "value": t3["share"],
            "threshold": TIER3_RED_FLAG_ABOVE, "n": tiers["known"],
            "message": f"Tier 3 sees {percent(t3['share'])} of all requests (> 10%): "
                       "product engineers are pulled into support too much",
        })
    return flags


def routing(rows: Iterable[Mapping]) -> dict:
    """Answer and escalation rates over the rows the assistant routed (history has no route)."""
    rows = list(rows)
    answered = sum(1 for r in rows if r.get("route") == "answer")
    escalated = sum(1 for r in rows if r.get("route") == "escalate")
    decided = answered + escalated
    reasons = Counter(reason for r in rows if r.get("route") == "escalate" for reason in (r.get("reasons") or []))
    return {
        "decided": decided,
        "answered": answered,
        "escalated": escalated,
        "answer_rate": _ratio(answered, decided),
        "escalation_rate": _ratio(escalated, decided),
        "by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def acceptance(rows: Iterable[Mapping]) -> dict:
    """What OPS did with the suggestions: shares of each feedback outcome, and corrections."""
    rows = [r for r in rows if r.get("outcome")]
    counts = Counter(r["outcome"] for r in rows)
    total = len(rows)
    out: dict = {"with_feedback": total}
    for outcome in OUTCOMES:
        out[outcome] = counts[outcome]
        out[f"{outcome}_share"] = _ratio(counts[outcome], total)
    out["category_corrected"] = sum(
        1 for r in rows if r.get("predicted_category") and r.get("category") != r.get("predicted_category")
    )
    out["priority_corrected"] = sum(
        1 for r in rows if r.get("predicted_priority") and r.get("priority") != r.get("predicted_priority")
    )
    return out


def time_to_resolution(rows: Iterable[Mapping]) -> dict:
    """Hours from request to resolution where ``resolved_at`` is known, overall and per tier."""
    overall: list[float] = []
    by_tier: dict[int, list[float]] = defaultdict(list)
    for r in rows:
        if r.get("resolved_at") is None or r.get("created_at") is None:
            continue
        if r.get("outcome") == "escalated":  # sent on and still open there (tier_stats): not resolved
            continue
        hours = (r["resolved_at"] - r["created_at"]).total_seconds() / 3600
        if hours < 0:  # clock skew or a typo in an import; not a resolution time
            continue
        overall.append(hours)
        if r.get("resolved_tier"):
            by_tier[r["resolved_tier"]].append(hours)
    summary = _hours_summary(overall)
    summary["by_tier"] = {str(t): _hours_summary(by_tier[t]) for t in (1, 2, 3)}
    return summary


def deadline(row: Mapping, targets: ResponseClock | Mapping[str, int] | None = None):
    """``row``'s ``due_by``, moved to the target of the priority OPS corrected it to: the deadline
    was set from the assistant's priority ("P3: 24 h"), and a request corrected to P1 is judged
    by P1's 2 hours from the same start. With support hours (a ``ResponseClock`` that has them)
    the new deadline is counted again from ``created_at`` in those hours. Without ``targets``
    (or a correction), ``due_by``."""
    due, old, new = row.get("due_by"), row.get("predicted_priority"), row.get("priority")
    if due is None or targets is None or not old or not new or old == new:
        return due
    clock = ResponseClock.of(targets)
    if not clock.targets or old not in clock.targets or new not in clock.targets:
        return due
    created = row.get("created_at")
    try:
        if created is not None and (clock.counts_hours(old) or clock.counts_hours(new)):
            return clock.due(new, created)
        return due + timedelta(minutes=clock.targets[new] - clock.targets[old])
    except OverflowError:  # a deadline past year 9999 in imported history: kept as it was
        return due


def _immediate(row: Mapping, clock: ResponseClock | None = None) -> bool:
    """Whether the deadline is the moment the clock starts (a target of 0 minutes: P0's
    "immediately"), which no response can meet: such requests are measured by their minutes to
    a response. With a clock, by the priority's target: a P0 that waits for support hours is due
    when they open, later than its arrival, and is as immediate as one that arrived in them."""
    if row.get("created_at") is None:
        return False
    if clock is not None and row.get("priority") in clock.targets:
        return clock.targets[row["priority"]] == 0
    return row["due_by"] <= row["created_at"]


def on_time(rows: Iterable[Mapping], targets: ResponseClock | Mapping[str, int] | None = None) -> dict:
    """First responses within their deadline (``deadline``), counted where both the deadline and
    the response are known; ``targets`` are the response minutes per priority. A deadline at the
    arrival itself ("immediately") is left out of the rates (every response would be late) and its
    requests are given by their median minutes to a first response instead (``immediate``)."""
    rows = [dict(r, due_by=deadline(r, targets)) for r in rows]
    clock = ResponseClock.of(targets) if targets is not None else None
    with_due = [r for r in rows if r.get("due_by") is not None]
    responded = [r for r in with_due if r.get("responded_at") is not None]
    immediate = [r for r in responded if _immediate(r, clock)]
    known = [r for r in responded if not _immediate(r, clock)]
    in_time = [r for r in known if r["responded_at"] <= r["due_by"]]
    by_priority: dict[str, dict] = {}
    for prio in sorted({r.get("priority") or "unknown" for r in responded}):
        k = [r for r in known if (r.get("priority") or "unknown") == prio]
        i = sum(1 for r in k if r["responded_at"] <= r["due_by"])
        by_priority[prio] = {"known": len(k), "in_time": i, "rate": _ratio(i, len(k))}
        now = [r for r in immediate if (r.get("priority") or "unknown") == prio]
        if now:
            by_priority[prio]["immediate"] = _minutes_to_response(now)
    return {
        "with_due_by": len(with_due),
        "known": len(known),
        "in_time": len(in_time),
        "late": len(known) - len(in_time),
        "rate": _ratio(len(in_time), len(known)),
        "immediate": _minutes_to_response(immediate),
        "by_priority": by_priority,
    }


def _minutes_to_response(rows: list[Mapping]) -> dict:
    """Median minutes from the clock's start (the arrival, or the opening of support hours it
    waited for: ``due_by`` of an immediate target) to the first response; none below 0."""
    minutes = sorted(max(0.0, (r["responded_at"] - max(r["created_at"], r.get("due_by") or r["created_at"]))
                         .total_seconds() / 60) for r in rows)
    return {"known": len(minutes), "median_min": round(statistics.median(minutes), 1) if minutes else None}


def by_period(rows: Iterable[Mapping], period: str) -> list[dict]:
    """Volume, routing and tier resolution per period, oldest first, from the first period with data to
    the last, empty ones between included (not the empty periods at the edges of a since/until range).

    Over ``MAX_FILLED_PERIODS`` (a stray date such as 0001-01-01 or 9999-12-31 next to this
    year's), only the periods with data are listed: filling every day between made a response
    of hundreds of megabytes, and stepping past 9999-12-31 raised."""
    buckets: dict[date, list[Mapping]] = defaultdict(list)
    labels: dict[date, str] = {}
    for r in rows:
        label, start = period_of(r["created_at"], period)
        buckets[start].append(r)
        labels[start] = label
    if not buckets:
        return []
    first, last = min(buckets), max(buckets)
    starts = sorted(buckets)
    if _periods_between(first, last, period) <= MAX_FILLED_PERIODS:
        starts = [first]
        while starts[-1] < last:
            starts.append(_next_start(starts[-1], period))
    out = []
    for start in starts:
        group = buckets.get(start, [])
        label = labels.get(start) or period_of(datetime(start.year, start.month, start.day, tzinfo=UTC), period)[0]
        tiers = tier_stats(group)
        route = routing(group)
        top = Counter(r.get("category") or "unknown" for r in group)
        out.append({
            "period": label,
            "start": start.isoformat(),
            "count": len(group),
            "answered": route["answered"],
            "escalated": route["escalated"],
            "tier_known": tiers["known"],
            "tier1": tiers["tier1"]["resolved"],
            "tier2": tiers["tier2"]["resolved"],
            "tier3": tiers["tier3"]["resolved"],
            "tier1_rate": tiers["tier1"]["rate"],
            "tier2_rate": tiers["tier2"]["rate"],
            "tier3_share": tiers["tier3"]["share"],
            "top_categories": [
                {"category": c, "count": n} for c, n in sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]
            ],
        })
    return out


# --------------------------------------------------------------------------- all of it


def compute(
    rows: Iterable[Mapping],
    *,
    period: str = "week",
    since=None,
    until=None,
    include_eval: bool = False,
    response_targets: ResponseClock | Mapping[str, int] | None = None,
) -> dict:
    """The metrics dict of ``GET /v1/metrics`` from decision-log rows.

    ``response_targets`` (``Settings.response_clock``, or minutes per priority counted around
    the clock) move the deadline of a request whose priority feedback corrected (``deadline``).

    Eval-run rows (source ``eval``) are left out unless ``include_eval``. ``total`` counts
    requests (one per id and text, ``one_per_request``) that first arrived in ``[since, until)``,
    each once, with what happened to it (feedback on a later retry too: pass every decision of
    the requests concerned, as ``DecisionLog.metric_rows`` does); ``decisions`` the logged results
    of that window. Rows whose result was an input error count in ``errors`` and nowhere else.
    """
    check_period(period)
    lo = parse_time(since, "since")
    hi = parse_time(until, "until", end_of_day=True)

    def in_window(moment) -> bool:
        return within(moment, lo, hi)

    selected = []
    for row in rows:
        r = _normalise(row)
        if r["created_at"] is None:
            continue
        if not include_eval and r.get("source") == "eval":
            continue
        selected.append(r)
    errors = sum(1 for r in selected if r.get("error") and in_window(r["created_at"]))
    logged = [r for r in selected if not r.get("error")]
    # A request is placed at its first arrival, so two windows never both count it (a retry a week
    # later is no new request in that week), and it keeps the tier its feedback gave.
    valid = [r for r in one_per_request(logged, first_seen=True) if in_window(r["created_at"])]
    logged = [r for r in logged if in_window(r["created_at"])]

    tiers = tier_stats(valid)
    periods = by_period(valid, period)
    return {
        "since": iso(lo),
        "until": iso(hi),
        "period": period,
        "include_eval": include_eval,
        "total": len(valid),
        "decisions": len(logged),
        "errors": errors,
        "first": iso(min((r["created_at"] for r in valid), default=None)),
        "last": iso(max((r["created_at"] for r in valid), default=None)),
        "by_source": _count(r.get("source") for r in valid),
        "volume": {
            "by_period": [{k: p[k] for k in ("period", "start", "count")} for p in periods],
            "by_category": _count(r.get("category") for r in valid),
            "by_priority": _count(r.get("priority") for r in valid),
            "by_channel": _count(r.get("channel") for r in valid),
            "by_queue": _count(r.get("queue") for r in valid),
        },
        "routing": routing(valid),
        "tiers": tiers,
        "red_flags": red_flags(tiers),
        "acceptance": acceptance(valid),
        "time_to_resolution": time_to_resolution(valid),
        "on_time": on_time(valid, response_targets),
        "periods": periods,
        "top_categories": [
            {"period": p["period"], "start": p["start"], "top": p["top_categories"]} for p in periods if p["count"]
        ],
        "targets": TARGETS,
        "red_flag_thresholds": RED_FLAGS,
    }


# --------------------------------------------------------------------------- terminal


def _pct(value: float | None) -> str:
    return percent(value, 1)


_STATUS_STYLE = {
    "on_target": ("on target", "green"),
    "above_target": ("above target", "yellow"),
    "below_target": ("below target", "yellow"),
    "red_flag": ("RED FLAG", "bold red"),
    "no_data": ("no data", "dim"),
}


def render_table(metrics: Mapping):
    """A rich renderable of the metrics dict, for ``assistant report`` on a terminal.

    >>> from rich.console import Console
    >>> Console(width=100).print(render_table(compute([])))  # doctest: +SKIP
    """
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts = []
    span = f"{metrics.get('since') or metrics.get('first') or '…'} → {metrics.get('until') or metrics.get('last') or '…'}"
    route = metrics["routing"]
    summary = Table(title="Decision log", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("Period", span)
    logged = metrics.get("decisions", metrics["total"])
    summary.add_row("Requests", str(metrics["total"]) + (f" ({logged} decisions)" if logged != metrics["total"] else ""))
    summary.add_row("Sources", ", ".join(f"{k} {v}" for k, v in metrics["by_source"].items()) or "—")
    summary.add_row("Answered", f"{route['answered']} ({_pct(route['answer_rate'])})")
    summary.add_row("Escalated", f"{route['escalated']} ({_pct(route['escalation_rate'])})")
    if metrics.get("errors"):
        summary.add_row("Input errors", str(metrics["errors"]))
    parts.append(summary)

    tiers = metrics["tiers"]
    tier_table = Table(title=f"Resolution per tier ({tiers['known']} with known tier)", title_justify="left")
    for name in ("Tier", "Received", "Resolved", "Rate", "Target", "Status"):
        tier_table.add_column(name, justify="right" if name not in ("Tier", "Status", "Target") else "left")
    for key, label, rate, target in (
        ("tier1", "Tier 1 (OPS)", tiers["tier1"]["rate"], "70–80% of all"),
        ("tier2", "Tier 2 (support eng)", tiers["tier2"]["rate"], "80–90% of received"),
        ("tier3", "Tier 3 (product eng)", tiers["tier3"]["share"], "< 5% of all"),
    ):
        t = tiers[key]
        text, style = _STATUS_STYLE[t["status"]]
        # Tier 2's rate leaves out what is still open there: the count beside it says of how many
        resolved = (f"{t['resolved']} of {t['decided']} decided" if key == "tier2" and t["open"]
                    else str(t["resolved"]))
        tier_table.add_row(label, str(t["received"]), resolved, _pct(rate), target, Text(text, style=style))
    parts.append(tier_table)

    flags = metrics["red_flags"]
    if flags:
        parts.append(Text("\n".join(f"RED FLAG  {f['message']}" for f in flags), style="bold red"))
    else:
        parts.append(Text("No red flags.", style="green"))

    if metrics["periods"]:
        per = Table(title=f"Per {metrics['period']}", title_justify="left")
        for name in ("Period", "Requests", "Answered", "Escalated", "T1 rate", "T2 rate", "T3 share", "Top categories"):
            per.add_column(name, justify="left" if name in ("Period", "Top categories") else "right")
        for p in metrics["periods"]:
            per.add_row(
                p["period"], str(p["count"]), str(p["answered"]), str(p["escalated"]),
                _pct(p["tier1_rate"]), _pct(p["tier2_rate"]), _pct(p["tier3_share"]),
                ", ".join(f"{c['category']} {c['count']}" for c in p["top_categories"]),
            )
        parts.append(per)

    volume = metrics["volume"]
    breakdown = Table(title="Volume", title_justify="left")
    breakdown.add_column("By")
    breakdown.add_column("Counts")
    for key, label in (("by_category", "category"), ("by_priority", "priority"),
                       ("by_channel", "channel"), ("by_queue", "queue")):
        breakdown.add_row(label, ", ".join(f"{k} {v}" for k, v in volume[key].items()) or "—")
    parts.append(breakdown)

    acc, ttr, ontime = metrics["acceptance"], metrics["time_to_resolution"], metrics["on_time"]
    other = Table(title="Feedback and timing", show_header=False, title_justify="left")
    other.add_column(style="bold")
    other.add_column()
    other.add_row(
        "Suggestions",
        f"{acc['with_feedback']} with feedback: "
        + ", ".join(f"{o} {acc[o]} ({_pct(acc[o + '_share'])})" for o in OUTCOMES),
    )
    other.add_row("Corrections", f"category {acc['category_corrected']}, priority {acc['priority_corrected']}")
    if ttr["known"]:
        other.add_row(
            "Time to resolution",
            f"median {ttr['median_h']} h, mean {ttr['mean_h']} h, p90 {ttr['p90_h']} h ({ttr['known']} known)",
        )
    else:
        other.add_row("Time to resolution", "not known yet")
    if ontime["known"]:
        other.add_row("Responded in time", f"{ontime['in_time']} of {ontime['known']} ({_pct(ontime['rate'])})")
    else:
        other.add_row("Responded in time", "not known yet")
    if ontime["immediate"]["known"]:  # a target of 0 minutes ("immediately"): its minutes, not a rate
        now = ontime["immediate"]
        other.add_row("Immediate (P0)", f"median {now['median_min']} min to a first response ({now['known']} known)")
    parts.append(other)
    return Group(*parts)
