"""Domain models: what comes in (`SupportRequest`) and what goes out (`TriageResult`).

Field names and literal values follow ``SPEC.md`` sections 2 and 8 exactly;
categories stay plain strings because another knowledge base brings its own labels.
"""

from __future__ import annotations

import json
from typing import Literal

from guardrails import fold_input
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

Channel = Literal["email", "chat"]
Route = Literal["answer", "escalate"]
Priority = Literal["P0", "P1", "P2", "P3"]
Reason = Literal[
    "low_confidence",
    "not_covered",
    "out_of_scope",
    "risky_topic",
    "security_incident",
    "pii_detected",
    "prompt_injection",
    "internal_only_source",
    "llm_unavailable",
]
REASONS: tuple[str, ...] = Reason.__args__  # type: ignore[attr-defined]
PRIORITIES: tuple[str, ...] = Priority.__args__  # type: ignore[attr-defined]
OUT_OF_SCOPE = "out_of_scope"

# The fields `classify` returns (SPEC section 4).
CLASSIFY_FIELDS = ("id", "category", "category_confidence", "priority", "route", "queue", "reasons")

# The longest request id accepted, by every entry point and by feedback alike.
MAX_ID_CHARS = 200


def id_as_text(value):
    """A request id as text: text stays, a number becomes its JSON text (42 -> "42");
    a boolean, object or array is no id (ValueError)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    kind = "a boolean" if isinstance(value, bool) else "an object or array"
    raise ValueError(f"id must be text or a number, not {kind}")


class SupportRequest(BaseModel):
    """One support request from email or the help chat.

    >>> SupportRequest(channel="chat", body="PAM keeps repeating itself").text
    'PAM keeps repeating itself'
    """

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    channel: Channel = "email"
    subject: str = ""
    body: str = ""

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value):
        return id_as_text(value)

    @field_validator("subject", "body", mode="before")
    @classmethod
    def _null_is_empty(cls, value):
        # "subject": null is a request without a subject, as an absent field is (and as a past ticket's is)
        return "" if value is None else value

    @field_validator("subject", "body", mode="after")
    @classmethod
    def _folded(cls, value: str) -> str:
        # Every check reads one spelling: full-width forms, no-break spaces, en dashes,
        # zero-width characters and CRLF folded (guardrails.fold_input), so personal data
        # or an instruction written in them looks like any other.
        return fold_input(value).strip()

    @model_validator(mode="after")
    def _needs_text(self):
        # After validation, so that a request with no body field at all ({}) is refused too.
        if not self.body and not self.subject:
            raise ValueError("request has neither subject nor body")
        return self

    @property
    def text(self) -> str:
        """Subject and body as one text, the way classifier and retriever read it."""
        return f"{self.subject}\n{self.body}".strip()


class Citation(BaseModel):
    """A knowledge-base document an answer rests on."""

    source_id: str
    title: str
    score: float
    snippet: str
    # Not in the SPEC's example but useful to staff: where the text came from.
    kind: Literal["runbook", "ticket"] = "runbook"
    audience: Literal["customer", "internal"] = "customer"


class Handoff(BaseModel):
    """The escalation note for the human queue (SPEC section 8)."""

    priority: Priority
    category: str
    queue: str
    summary: str = ""
    impact: str = ""
    evidence: list[str] = Field(default_factory=list)
    checked: list[str] = Field(default_factory=list)
    needed: str = ""
    missing: list[str] = Field(default_factory=list)


class Part(BaseModel):
    """One of several distinct requests found in a single email."""

    text: str
    category: str
    category_confidence: float
    priority: Priority
    route: Route
    queue: str
    reasons: list[Reason] = Field(default_factory=list)


class TriageResult(BaseModel):
    """The result for one request (SPEC section 2)."""

    id: str | None = None
    category: str
    category_confidence: float
    priority: Priority
    route: Route
    queue: str
    reasons: list[Reason] = Field(default_factory=list)
    answer: str = ""
    citations: list[Citation] = Field(default_factory=list)
    latency_ms: float = 0.0
    rationale: str | None = None
    due_by: str | None = None
    handoff: Handoff | None = None
    parts: list[Part] | None = None
    # The raw measurements the route was decided from (never serialised): lets
    # benchmarks/bench_thresholds.py sweep thresholds without re-running the pipeline.
    _measures: dict = PrivateAttr(default_factory=dict)

    def public(self) -> dict:
        """The result as JSON-ready dict, optional fields left out when unset."""
        return self.model_dump(mode="json", exclude_none=True)

    def classify_view(self) -> dict:
        data = self.model_dump(mode="json")
        return {k: data[k] for k in CLASSIFY_FIELDS}


class ErrorResult(BaseModel):
    """What a bad input line gets instead of a result: its id (if any) and the problem."""

    id: str | None = None
    error: dict
