"""Holding messages: honest, reason-specific, with what happens next and by when.

Response targets per priority come from the support process guide (P0
immediately, P1 within 2 hours, P2 within 4 hours, P3 within 24 hours), and are
configurable; no message promises a fix. With support hours set, a target the
clock stops for on the way is told as the moment it ends ("by Monday 7 December at
12:30 (America/Chicago)"), not as a length it would not keep (assistant/support_hours.py).

``targets`` below is a ``ResponseClock`` or plain minutes per priority (counted around
the clock); ``now`` is when the request arrived (default: this moment), one value for
every message of one request.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Mapping, Union

from assistant.config import DEFAULT_SCOPE
from assistant.support_hours import ResponseClock

Targets = Union[ResponseClock, Mapping[str, int]]


def due_by(priority: str, targets: Targets, now: datetime | None = None) -> str:
    """ISO time (UTC) by which a person must respond, from the priority's response target."""
    now = now or datetime.now(timezone.utc)
    return ResponseClock.of(targets).due(priority, now).isoformat(timespec="seconds")


def shown_below(value: float, bar: float) -> str:
    """``value``, known to be under ``bar``, with the digits that show it is: "0.447", not "0.45"
    beside a bar of 0.45 (a rationale that read "0.45 < 0.45" contradicted itself).

    >>> shown_below(0.4467, 0.45), shown_below(0.31, 0.45)
    ('0.447', '0.31')
    """
    digits = 2
    while digits < 6 and round(value, digits) >= bar:
        digits += 1
    if round(value, digits) >= bar:  # within a millionth (a float32 0.45 is 0.44999998): cut, not round
        return f"{math.floor(value * 10 ** digits) / 10 ** digits:.{digits}f}"
    return f"{value:.{digits}f}"


def _when(priority: str, targets: Targets, now: datetime | None = None) -> str:
    return ResponseClock.of(targets).when(priority, now or datetime.now(timezone.utc))


def retimed(message: str, old: str, new: str, targets: Targets, now: datetime | None = None) -> str:
    """A holding message written for priority ``old``, telling ``new``'s response time instead.

    >>> retimed("Someone will reply within 24 hours.", "P3", "P0", {"P0": 0, "P3": 1440})
    'Someone will reply right away.'
    """
    now = now or datetime.now(timezone.utc)
    return message.replace(_when(old, targets, now), _when(new, targets, now), 1)


_BODY = {
    "security_incident": (
        "Thank you for telling us. We treat possible security problems as our highest priority: "
        "we have passed this straight to our security team, who will contact you {when}. In the meantime, please do not "
        "share passwords or codes with anyone, including in this conversation."),
    "risky_topic": (
        "Thank you for your message. This needs a member of our support leadership to look at it "
        "personally, so we have passed it on rather than answer automatically. Someone will reply {when}."),
    "prompt_injection": (
        "We can only help with questions about {scope}. "
        "We have passed your message to our support team, who will reply {when}."),
    "pii_detected": (
        "For your security, please don't send card numbers, social security numbers or other personal "
        "details here. We have not stored them in our reply, and a member of our team will contact you "
        "{when} through a secure channel."),
    "out_of_scope": (
        "Thanks for your message! I can help with questions about {scope}. This one is outside what I can "
        "answer, so I have passed it to our team, who will reply {when} if they can help."),
    "internal_only_source": (
        "Thanks for your question. This is something our support team needs to handle for you directly, "
        "so I have passed it on. Someone will get back to you {when}."),
    "not_covered": (
        "Thanks for the details. I could not find a documented answer to this, so I have passed it to our "
        "{team} team. They will get back to you {when}."),
    "low_confidence": (
        "Thanks for the details. I want to make sure you get the right answer, so I have passed this to our "
        "{team} team. They will get back to you {when}."),
    "llm_unavailable": (
        "Thanks for your message. I could not prepare an answer just now, so I have passed it to our "
        "{team} team. They will get back to you {when}."),
}

# Which reason's message a person reads when several apply: the most serious first.
REASON_ORDER = ["security_incident", "risky_topic", "prompt_injection", "pii_detected", "out_of_scope",
                "internal_only_source", "not_covered", "low_confidence", "llm_unavailable"]

_TEAM = {"pam-core-support": "PAM support", "integration-support": "integration support",
         "llm-behavior-engineering": "PAM support"}


def holding_message(reasons: list[str], priority: str, queue: str, targets: Targets,
                    missing: list[str] | None = None, scope: str = DEFAULT_SCOPE,
                    now: datetime | None = None) -> str:
    """The reply when a person must handle the request; ``scope`` is what the assistant helps with."""
    reason = next((r for r in REASON_ORDER if r in reasons), "low_confidence")
    team = _TEAM.get(queue, "support")
    text = _BODY[reason].format(when=_when(priority, targets, now), team=team, scope=scope.strip().rstrip("."))
    if missing and reason in ("not_covered", "low_confidence", "llm_unavailable", "internal_only_source"):
        text += " To speed things up, it would help if you could tell us: " + "; ".join(missing) + "."
    return text


def passed_on(queues_and_priorities: list[tuple[str, str]], targets: Targets,
              now: datetime | None = None) -> str:
    """One line for the other points of an email that went to people: which team, and by when.

    >>> passed_on([("integration-support", "P1")], {"P1": 120})
    'We have also passed the other point in your email to our integration support team, who will reply within 2 hours.'
    """
    # Each team with the time its own most urgent point carries: one time for all would promise
    # a P3 point the P1 target.
    soonest: dict[str, str] = {}
    for queue, priority in queues_and_priorities:
        team = _TEAM.get(queue, "support")
        soonest[team] = min(soonest.get(team, priority), priority)
    point = "point" if len(queues_and_priorities) == 1 else "points"
    now = now or datetime.now(timezone.utc)
    times = {_when(p, targets, now) for p in soonest.values()}
    if len(times) == 1:
        teams = sorted(soonest)
        return (f"We have also passed the other {point} in your email to our {' and '.join(teams)} "
                f"team{'s' if len(teams) > 1 else ''}, who will reply {times.pop()}.")
    each = "; ".join(f"our {team} team will reply {_when(p, targets, now)}" for team, p in sorted(soonest.items()))
    return f"We have also passed the other {point} in your email on: {each}."
