"""Settings, read once at start-up from the environment (prefix ``ASSISTANT_``).

>>> Settings(index="/tmp/idx").index_dir.name
'idx'
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from assistant.errors import ConfigError
from assistant.support_hours import ResponseClock, SupportHours


def default_index_dir() -> Path:
    """The per-user data folder (XDG), used when neither --index nor ASSISTANT_INDEX is set."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "pam-assistant" / "index"


DEFAULT_QUEUES = {
    "pam_core": "pam-core-support",
    "integration": "integration-support",
    # The OPS notes send LLM-behaviour problems through PAM-core support to product engineers.
    "llm_behavior": "llm-behavior-engineering",
    "out_of_scope": "ops-triage",
    "security": "security-incident",
    "risky": "support-lead",
}

# Keys of the queue map that name the queues of guardrail reasons, not of a category: a KB
# whose label is "security" must not send its ordinary questions to the incident queue.
REASON_QUEUE_KEYS = ("security", "risky")


def default_queue(category: str, queues: dict[str, str] = DEFAULT_QUEUES) -> str:
    """The queue of a category: its entry in ``queues``, else ``<label>-support`` in lower case
    with dashes ("billing_account" and "Fleet Portal": ``billing-account-support``,
    ``fleet-portal-support``; letters of any script are kept). A category named like a
    reason's key (``REASON_QUEUE_KEYS``) always gets ``<label>-support``."""
    if category in queues and category not in REASON_QUEUE_KEYS:
        return queues[category]
    slug = re.sub(r"[\W_]+", "-", category.lower()).strip("-")
    return f"{slug or 'other'}-support"


# The retriever ranks this many candidates and keeps the best top_k of them
# (retrieval/retriever.py, ``Retriever(candidates=30)``).
MAX_TOP_K = 30

# Minutes to first human response per priority (support process guide: P0 immediately,
# P1 < 2 h, P2 < 4 h, P3 < 24 h).
MAX_TARGET_MIN = 525_600  # a year
DEFAULT_RESPONSE_TARGETS = {"P0": 0, "P1": 120, "P2": 240, "P3": 1440}
DEFAULT_SCOPE = "PAM, your phone agent, its dashboard and your scheduler or DMS connections"


class Settings(BaseSettings):
    """Everything configurable. Environment names are ``ASSISTANT_<FIELD>`` unless noted."""

    # hide_input_in_errors: a bad ASSISTANT_DATABASE_URL may hold a password; messages say "got ..." themselves.
    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore", hide_input_in_errors=True)

    index: Path | None = None
    database_url: str | None = None
    chroma_url: str | None = None
    # The collection on a Chroma server; by default one per index folder, named at its first
    # ingest and kept in its manifest (see assistant/manifest.py: collection_for).
    chroma_collection: str | None = None
    api_keys: SecretStr | None = None

    queues: dict[str, str] = Field(default_factory=dict)
    response_targets_min: dict[str, int] = Field(default_factory=dict)
    # Support hours (assistant/support_hours.py). Unset: every target counts clock time. Set
    # ("Mon-Fri 09:00-17:00"), the targets of priorities outside around_the_clock count open
    # minutes only, in support_timezone, skipping support_closed_dates ("2026-12-25,2027-01-01").
    support_hours: str | None = None
    support_timezone: str = "UTC"
    support_closed_dates: Annotated[list[date], NoDecode] = Field(default_factory=list)
    around_the_clock: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["P0", "P1"])
    # What the assistant helps with, in the customer's words: the out-of-scope and prompt-injection
    # holding messages say "questions about <scope>". Another deployment names its own product.
    scope: str = Field(default=DEFAULT_SCOPE, min_length=3, max_length=300)

    # Routing thresholds per surface. None means "use the value chosen by
    # cross-validation at ingest time" (stored in the index manifest).
    min_confidence_email: float | None = None
    min_confidence_chat: float | None = None
    min_support_email: float | None = None
    min_support_chat: float | None = None
    # Similarity of a sentence to the SPEC's P0 descriptions that makes a request P0 (calls not
    # answered, a breach, data loss). None: the model's own (0.75, assistant/priority.py). Lower
    # catches more live outages and pages people for more requests that are not P0
    # (benchmarks/bench_outage_state.py prints both by bar): a trade-off for the support team.
    p0_threshold: float | None = None

    max_request_chars: int = 20_000
    top_k: int = 5

    # LLM (any OpenAI-compatible endpoint). The two standard OpenAI variables work too.
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("ASSISTANT_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    )
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ASSISTANT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    llm_model: str = "gpt-4o-mini"
    llm_connect_timeout_s: float = 2.0
    llm_read_timeout_s: float = 10.0
    llm_max_attempts: int = 3
    llm_budget_s: float = 20.0
    llm_breaker_failures: int = 3
    llm_breaker_cooldown_s: float = 30.0
    # What a model failure means per surface: "extractive" answer or "escalate".
    llm_fallback_email: str = "extractive"
    llm_fallback_chat: str = "escalate"

    # The HTTP layer (`assistant serve`). An empty variable means the default.
    chat_rate_limit: str = "30/minute"      # per client address on /v1/chat; slowapi syntax, e.g. 100/hour
    rate_limit_storage: str = "memory://"   # per worker; e.g. redis://host:6379 to share between workers
    max_body_bytes: int = 256 * 1024        # a larger request body gets 413
    max_batch: int = 64                     # requests per {"requests": [...]} call
    sample_requests: Path | None = None     # JSONL for the console's sample picker; None: the bundled ones

    @field_validator("min_confidence_email", "min_confidence_chat", "min_support_email", "min_support_chat",
                     mode="before")
    @classmethod
    def _unit_interval(cls, value, info: ValidationInfo):
        return _threshold(value, info.field_name, low=0.0)

    @field_validator("p0_threshold", mode="before")
    @classmethod
    def _p0_threshold(cls, value, info: ValidationInfo):
        # Below 0.5 every request is "similar" to an outage: the P0 rule would page for all of them.
        return _threshold(value, info.field_name, low=0.5)

    @field_validator("llm_fallback_email", "llm_fallback_chat")
    @classmethod
    def _fallback(cls, value: str):
        if value not in ("extractive", "escalate"):
            raise ValueError("must be 'extractive' or 'escalate'")
        return value

    @field_validator("chat_rate_limit", "rate_limit_storage", "sample_requests", "index", mode="before")
    @classmethod
    def _empty_means_default(cls, value, info: ValidationInfo):
        return cls.model_fields[info.field_name].default if _blank(value) else value

    @field_validator("chroma_url", mode="before")
    @classmethod
    def _chroma_url(cls, value):
        if _blank(value):
            return None  # the default: embedded Chroma in the index folder
        from retrieval.index import chroma_server

        # Start-up stops on the scheme, host and port; a path is refused when the index is opened.
        chroma_server(value, allow_path=True)
        return str(value).strip()

    @field_validator("chroma_collection", mode="before")
    @classmethod
    def _collection_name(cls, value):
        if _blank(value):
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{1,61})[A-Za-z0-9]", value) \
                or ".." in value:
            raise ValueError("ASSISTANT_CHROMA_COLLECTION must be 3-63 letters, digits, '.', '_' or '-', "
                             "starting and ending with a letter or digit (Chroma's rule for collection names)")
        return value

    @field_validator("chat_rate_limit")
    @classmethod
    def _rate_limit(cls, value: str):
        from limits import parse_many  # what slowapi parses the limit with

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"ASSISTANT_CHAT_RATE_LIMIT must be a rate like '30/minute' "
                             f"(a number, '/', second|minute|hour|day|...), got {value!r}") from None
        return value

    @field_validator("rate_limit_storage")
    @classmethod
    def _storage_uri(cls, value: str):
        from urllib.parse import urlparse

        from limits.storage import SCHEMES  # the stores slowapi can count in

        scheme = urlparse(value).scheme
        if scheme not in SCHEMES or scheme.startswith("async+"):  # slowapi's limiter is synchronous
            raise ValueError(f"ASSISTANT_RATE_LIMIT_STORAGE must be a storage URI like 'memory://' or "
                             f"'redis://host:6379', got {value!r}")
        # The store's client library must be installed ("redis" for redis://): found here, not as a
        # traceback when `serve` builds the app. Either of redis' alternatives will do.
        needs = list(getattr(SCHEMES[scheme], "DEPENDENCIES", None) or [])
        if needs and not any(importlib.util.find_spec(name) for name in needs):
            raise ValueError(f"ASSISTANT_RATE_LIMIT_STORAGE {scheme}:// needs the Python package "
                             f"{' or '.join(repr(n) for n in needs)} (pip install {needs[0]})")
        return value

    @field_validator("max_body_bytes", "max_batch", "max_request_chars", "top_k", mode="before")
    @classmethod
    def _positive_whole_number(cls, value, info: ValidationInfo):
        if _blank(value):
            return cls.model_fields[info.field_name].default
        variable = f"ASSISTANT_{info.field_name.upper()}"
        try:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ValueError
            number = int(value)
        except ValueError:
            raise ValueError(f"{variable} must be a whole number, got {value!r}") from None
        if number < 1:
            raise ValueError(f"{variable} must be at least 1, got {number}")
        return number

    @field_validator("top_k")
    @classmethod
    def _top_k_within_candidates(cls, value: int):
        if value > MAX_TOP_K:
            raise ValueError(f"ASSISTANT_TOP_K must be at most {MAX_TOP_K} (the retriever's candidates), got {value}")
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value):
        if _blank(value):
            return None  # the default: SQLite in the index folder
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            url = make_url(str(value).strip())
            if url.drivername in ("postgresql", "postgres"):  # as the log opens it (psycopg 3)
                url = url.set(drivername="postgresql+psycopg")
            url.get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            # No echo of the value: it may hold a password.
            raise ValueError("ASSISTANT_DATABASE_URL must be a database URL like "
                             "'postgresql+psycopg://user@host/db' or 'sqlite:////path/decisions.sqlite3'") from None
        return str(value).strip()

    @field_validator("queues")
    @classmethod
    def _queue_names(cls, value: dict[str, str]):
        blank = sorted(category for category, queue in value.items() if not queue.strip())
        if blank:
            raise ValueError(f"ASSISTANT_QUEUES names an empty queue for {blank}")
        return {category: queue.strip() for category, queue in value.items()}

    @field_validator("response_targets_min")
    @classmethod
    def _targets_not_negative(cls, value: dict[str, int]):
        bad = {priority: minutes for priority, minutes in value.items() if not 0 <= minutes <= MAX_TARGET_MIN}
        if bad:  # beyond a year, due_by overflowed the calendar on every request
            raise ValueError(f"ASSISTANT_RESPONSE_TARGETS_MIN must be minutes from 0 to {MAX_TARGET_MIN} "
                             f"(a year), got {bad}")
        return value

    @field_validator("llm_connect_timeout_s", "llm_read_timeout_s", "llm_budget_s", "llm_breaker_cooldown_s")
    @classmethod
    def _finite_seconds(cls, value: float, info: ValidationInfo):
        # nan or inf passed every "<= 0" check and then failed every model call (or, as the
        # breaker's cooldown, never let it close) with no error at start-up.
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"ASSISTANT_{info.field_name.upper()} must be a number of seconds above 0, got {value}")
        return value

    @field_validator("support_closed_dates", "around_the_clock", mode="before")
    @classmethod
    def _comma_list(cls, value, info: ValidationInfo):
        # "P0,P1" and "2026-12-25, 2027-01-01" as written in a shell; a JSON list works too
        # ("[]": no priority on call). A blank is the default, as for every setting.
        if _blank(value):
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError(f"ASSISTANT_{info.field_name.upper()} is no JSON list: {text!r}") from None
            value = [v.strip() for v in text.split(",") if v.strip()]
        if info.field_name == "support_closed_dates" and isinstance(value, list):
            # A number would pass as a Unix time (0 is 1 January 1970): dates are written as dates.
            bad = [v for v in value if not isinstance(v, date) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(v))]
            if bad:
                raise ValueError(f"ASSISTANT_SUPPORT_CLOSED_DATES must be dates like 2026-12-25, got {bad}")
        return value

    @field_validator("support_hours", "support_timezone", mode="before")
    @classmethod
    def _hours_default_when_blank(cls, value, info: ValidationInfo):
        return cls.model_fields[info.field_name].default if _blank(value) else value

    @model_validator(mode="after")
    def _targets_known(self):
        unknown = set(self.response_targets_min) - set(DEFAULT_RESPONSE_TARGETS)
        if unknown:
            raise ValueError(f"response_targets_min has unknown priorities: {sorted(unknown)}")
        unknown = set(self.around_the_clock) - set(DEFAULT_RESPONSE_TARGETS)
        if unknown:
            raise ValueError(f"ASSISTANT_AROUND_THE_CLOCK has unknown priorities: {sorted(unknown)} "
                             f"(expected some of {', '.join(DEFAULT_RESPONSE_TARGETS)})")
        # On call for P0 and P2 but not P1 would promise a P1 later than a P2 of the same moment.
        ranked = list(DEFAULT_RESPONSE_TARGETS)
        if set(self.around_the_clock) != set(ranked[:len(set(self.around_the_clock))]):
            raise ValueError(f"ASSISTANT_AROUND_THE_CLOCK must name the most urgent priorities, from P0 on "
                             f"(like 'P0,P1'), got {','.join(sorted(self.around_the_clock))}")
        default = type(self).model_fields["around_the_clock"].get_default(call_default_factory=True)
        if set(self.around_the_clock) != set(default) and self.support_hours is None:
            raise ValueError("ASSISTANT_AROUND_THE_CLOCK needs ASSISTANT_SUPPORT_HOURS (like 'Mon-Fri 09:00-17:00'); "
                             "without support hours every priority counts clock time")
        self.response_clock  # noqa: B018 - bad support hours or time zone fail at start-up, by name
        return self

    @property
    def index_dir(self) -> Path:
        return Path(self.index) if self.index else default_index_dir()

    @cached_property
    def queue_map(self) -> dict[str, str]:
        return {**DEFAULT_QUEUES, **self.queues}

    def queue_for(self, category: str) -> str:
        """The human queue of a category (see ``default_queue``)."""
        return default_queue(category, self.queue_map)

    def reason_queue(self, key: str) -> str:
        """The queue of a guardrail reason: ``security`` (incidents) or ``risky`` (other risky topics)."""
        if key not in REASON_QUEUE_KEYS:
            raise ValueError(f"no reason queue {key!r}; expected one of {', '.join(REASON_QUEUE_KEYS)}")
        return self.queue_map[key]

    @cached_property
    def response_targets(self) -> dict[str, int]:
        return {**DEFAULT_RESPONSE_TARGETS, **self.response_targets_min}

    @cached_property
    def response_clock(self) -> ResponseClock:
        """The response targets and the support hours they count in (assistant/support_hours.py)."""
        hours = None
        if self.support_hours is not None:
            hours = SupportHours.parse(self.support_hours, self.support_timezone, self.support_closed_dates)
        elif self.support_timezone != "UTC" or self.support_closed_dates:
            # A time zone or holidays with no hours would be silently ignored.
            raise ValueError("ASSISTANT_SUPPORT_TIMEZONE and ASSISTANT_SUPPORT_CLOSED_DATES need "
                             "ASSISTANT_SUPPORT_HOURS (like 'Mon-Fri 09:00-17:00')")
        return ResponseClock(self.response_targets, hours, frozenset(self.around_the_clock))

    @field_validator("api_keys")
    @classmethod
    def _some_key(cls, value: SecretStr | None):
        # " , " (a template's blank) would be no key at all, and every keyed endpoint would open
        if value is not None and value.get_secret_value().strip() and not _keys(value):
            raise ValueError("ASSISTANT_API_KEYS holds separators and no key; unset it for no authentication")
        return value

    def api_key_list(self) -> list[str]:
        return _keys(self.api_keys) if self.api_keys else []

    @property
    def llm_enabled(self) -> bool:
        return bool(self.openai_base_url)

    def updated(self, **changes) -> "Settings":
        """A copy with ``changes`` (None: keep) applied and checked like start-up; ConfigError names the field."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        # Every field given explicitly, so the environment cannot fill a None back in.
        return _build({**self.model_dump(), **changes})


def _keys(value: SecretStr) -> list[str]:
    """The API keys in a comma-separated ``ASSISTANT_API_KEYS``."""
    return [k.strip() for k in value.get_secret_value().split(",") if k.strip()]


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _threshold(value, field: str, *, low: float) -> float | None:
    """A threshold setting as a number from ``low`` to 1; None (the default) when blank."""
    if _blank(value):
        return None  # the default: the index's or the model's own
    variable = f"ASSISTANT_{field.upper()}"
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError(f"{variable} must be a number between {low:g} and 1, got {value!r}") from None
    if not low <= number <= 1.0:  # NaN too
        raise ValueError(f"{variable} must be between {low:g} and 1, got {value!r}")
    return number


def _build(values: dict) -> Settings:
    try:
        return Settings(**values)
    except ValidationError as exc:
        field = next((str(e["loc"][0]) for e in exc.errors() if e["loc"]), None)
        raise ConfigError(f"invalid settings: {exc}", field=field) from exc
    except ValueError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc


def load_settings(**overrides) -> Settings:
    """Settings from the environment plus explicit overrides; ConfigError names the field."""
    return _build({k: v for k, v in overrides.items() if v is not None})
