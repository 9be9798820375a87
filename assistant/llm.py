"""The language-model boundary: one OpenAI-compatible client, retries, a breaker, one error.

Everything that can go wrong on the wire (connect or read timeout, 429, 5xx, a
body that is not JSON, an empty reply) leaves this module as
:class:`assistant.errors.LLMUnavailable`, raised ``from`` the foreign error.

    request ──> CircuitBreaker.allow()? ──no──> LLMUnavailable("circuit breaker open")
                      │ yes
                      v
               openai (max_retries=0, connect/read timeouts)
                      │ timeout, connection error, 408, 429, 5xx
                      v
               tenacity: exponential backoff + jitter, at most
               llm_max_attempts tries and llm_budget_s seconds in all

>>> client = LLMClient(Settings(openai_base_url="http://127.0.0.1:8000/v1"))  # doctest: +SKIP
>>> client.complete([{"role": "user", "content": "hi"}])                     # doctest: +SKIP
'Hello! [rb-greeting-customization]'
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import httpx
import openai
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

try:  # openai 3 talks through httpx2, earlier versions through httpx: map either's errors
    import httpx2

    _HTTP_LIBS: tuple[Any, ...] = (httpx, httpx2)
except ImportError:
    _HTTP_LIBS = (httpx,)
_HTTP_ERRORS: tuple[type[Exception], ...] = tuple(lib.HTTPError for lib in _HTTP_LIBS)
# The body is read by us (see _read_body), so a stall or a dropped connection while reading it
# arrives as the HTTP library's own error, not openai's.
_HTTP_TIMEOUTS: tuple[type[Exception], ...] = tuple(lib.TimeoutException for lib in _HTTP_LIBS)
_HTTP_TRANSPORT: tuple[type[Exception], ...] = tuple(lib.TransportError for lib in _HTTP_LIBS)

from assistant.deadline import Overdue, call_within
from assistant.errors import ConfigError, LLMUnavailable

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.grounding import GroundingReport, SourceText

log = logging.getLogger(__name__)

BreakerState = Literal["closed", "open", "half_open"]

# Backoff between attempts: 0.5 s, 1 s, 2 s ... capped at 4 s, plus up to 0.5 s of
# jitter so many workers that failed together do not retry together.
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 4.0
BACKOFF_JITTER_S = 0.5
# Below this much budget left another attempt cannot get an answer back anyway.
MIN_ATTEMPT_S = 0.05
# A reply longer than this is no answer to a support question (a model repeating itself): it is
# refused before the grounding check, which would spend the time budget reading it.
MAX_REPLY_CHARS = 6000
# The response body is read in pieces and given up past this many bytes, before it is parsed: a
# 6,000-character reply fits many times over (JSON escapes included). Without it a huge body, or a
# small compressed one that expands, was read whole into memory first. Compression is not asked
# for; a server that compresses anyway expands at most one network read past the limit.
MAX_BODY_BYTES = 256 * 1024
# Asked of the model, so that a runaway one stops near that length instead of generating until the
# budget ends (about four characters a token, and room to spare).
MAX_REPLY_TOKENS = 2000
# The HTTP timeouts are cut to the budget left, so a stall ends as a timeout; the whole-response
# deadline waits this much longer, to end only what they cannot (a response that trickles in).
DEADLINE_SLACK_S = 0.25
# Characters a reader cannot see that change how a reply reads: controls, bidi overrides; and
# half a surrogate pair ("\ud800", valid JSON but no character), which no UTF-8 output can write:
# kept, it failed the whole `assistant ask` output and made /v1/ask a 500.
_INVISIBLE_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Statuses that say "try again later" rather than "your request is wrong".
RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))


class CircuitBreaker:
    """Consecutive-failure breaker: closed -> open -> (cool-down) -> half_open -> closed.

    ``failures`` failed attempts in a row open it; while open, :meth:`allow` says no
    at once. ``cooldown_s`` after opening it lets exactly one trial call through
    (half-open); that call's success closes it, its failure opens it again.

    >>> t = [0.0]
    >>> b = CircuitBreaker(failures=2, cooldown_s=10, clock=lambda: t[0])
    >>> b.record_failure(); b.record_failure(); b.state
    'open'
    >>> b.allow()
    False
    >>> t[0] = 10.0; b.state, b.allow(), b.allow()
    ('half_open', True, False)
    >>> b.record_success(); b.state
    'closed'
    """

    def __init__(self, failures: int, cooldown_s: float, *, clock: Callable[[], float] = time.monotonic):
        if failures < 1:
            raise ConfigError("llm_breaker_failures must be at least 1", field="llm_breaker_failures")
        if cooldown_s < 0:
            raise ConfigError("llm_breaker_cooldown_s must not be negative", field="llm_breaker_cooldown_s")
        self.failures = failures
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._consecutive = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._consecutive

    def _maybe_half_open(self) -> None:
        if self._state == "open" and self._clock() - self._opened_at >= self.cooldown_s:
            self._state = "half_open"
            self._trial_in_flight = False

    def allow(self) -> bool:
        """Whether a call may go to the model now (in half-open: only the one trial call)."""
        with self._lock:
            self._maybe_half_open()
            if self._state == "closed":
                return True
            if self._state == "half_open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            if self._state != "closed":
                log.info("LLM circuit breaker closed")
            self._state = "closed"
            self._consecutive = 0
            self._trial_in_flight = False

    def release(self) -> None:
        """End a call that says nothing about the endpoint's health (e.g. a 400): a
        half-open breaker lets the next call be the trial instead."""
        with self._lock:
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            if self._state == "half_open" or self._consecutive >= self.failures:
                if self._state != "open":
                    log.warning("LLM circuit breaker opened after %d consecutive failures", self._consecutive)
                self._state = "open"
                self._opened_at = self._clock()
                self._trial_in_flight = False


class _Failed(Exception):
    """A failed attempt, already described; wraps the foreign error as __cause__."""

    def __init__(self, reason: str, *, retry: bool, counts: bool = True):
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        # Whether the failure says something about the endpoint's health (breaker).
        self.counts = counts


class _BreakerOpen(Exception):
    pass


# The HTTP timeouts bound each read, not the whole response: a server that sends a byte every
# few seconds would hold a request for minutes. A call is given the time left of the budget
# (assistant/deadline.py); the caller closes an abandoned call's connection pool, which ends it.
_Overdue = Overdue


def _within(call: Callable[[], Any], seconds: float) -> Any:
    return call_within(call, seconds, name="llm-call")


def _classify(exc: Exception) -> _Failed:
    """Describe a foreign error: short reason, retry or not, breaker or not."""
    if isinstance(exc, (openai.APITimeoutError, *_HTTP_TIMEOUTS)):
        return _Failed("timeout", retry=True)
    if isinstance(exc, (openai.APIConnectionError, *_HTTP_TRANSPORT)):
        return _Failed("connection error", retry=True)
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        retry = code in RETRY_STATUSES
        # Other 4xx are about this request (too long, bad params), not an outage.
        return _Failed(f"HTTP {code}", retry=retry, counts=retry or code in (401, 403, 404))
    if isinstance(exc, (openai.APIResponseValidationError, ValueError)):  # JSONDecodeError is a ValueError
        return _Failed("malformed response", retry=False)
    if isinstance(exc, (openai.OpenAIError, *_HTTP_ERRORS)):
        return _Failed(f"{type(exc).__name__}", retry=False)
    return _Failed(f"unexpected {type(exc).__name__}", retry=False)


def _read_body(chunks) -> bytes:
    """The response body, given up past MAX_BODY_BYTES (a _Failed, not retried: it would be again)."""
    body = bytearray()
    for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise _Failed(f"reply body over {MAX_BODY_BYTES:,} bytes", retry=False)
    return bytes(body)


def _reply_text(body: bytes) -> Any:
    """choices[0].message.content of a chat completion; ValueError for any other shape."""
    data = json.loads(body)
    try:
        return data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"not a chat completion ({type(exc).__name__}: {exc})") from exc


def _retry_after_s(exc: BaseException | None) -> float | None:
    cause = exc.__cause__ if isinstance(exc, _Failed) else exc
    if isinstance(cause, openai.APIStatusError):
        value = cause.response.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:  # an HTTP date: fall back to our own backoff
            return None
    return None


class LLMClient:
    """The official ``openai`` client with timeouts, bounded retries and a circuit breaker.

    >>> client = LLMClient(settings)                          # doctest: +SKIP
    >>> client.complete(messages)                             # doctest: +SKIP
    'Click **Resume** under Call Routing > Status. [rb-pam-not-answering-calls]'
    >>> client.breaker.state                                  # doctest: +SKIP
    'closed'

    ``clock`` drives the breaker's cool-down (tests inject a fake one); the retry
    budget is always measured in real time. The ``backoff_*`` keywords exist so
    tests need not sleep for half a second between attempts.
    """

    def __init__(
        self,
        settings: "Settings",
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_initial_s: float = BACKOFF_INITIAL_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        backoff_jitter_s: float = BACKOFF_JITTER_S,
    ):
        if not settings.openai_base_url:
            raise ConfigError("no LLM endpoint configured (ASSISTANT_OPENAI_BASE_URL)", field="openai_base_url")
        if settings.llm_max_attempts < 1:
            raise ConfigError("llm_max_attempts must be at least 1", field="llm_max_attempts")
        for name in ("llm_connect_timeout_s", "llm_read_timeout_s", "llm_budget_s"):
            if getattr(settings, name) <= 0:
                raise ConfigError(f"{name} must be positive", field=name)
        self.settings = settings
        self.model = settings.llm_model
        self.connect_timeout_s = settings.llm_connect_timeout_s
        self.read_timeout_s = settings.llm_read_timeout_s
        self.max_attempts = settings.llm_max_attempts
        self.budget_s = settings.llm_budget_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.backoff_jitter_s = backoff_jitter_s
        # The reply-length parameter: max_tokens, which OpenAI-compatible servers take, until a model
        # refuses it for max_completion_tokens (see _attempt).
        self._length_param = "max_tokens"
        self.breaker = CircuitBreaker(settings.llm_breaker_failures, settings.llm_breaker_cooldown_s, clock=clock)
        key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unused"
        # Retries are ours (tenacity), so openai's own are off; its timeout is only a
        # default, each attempt passes one cut to the budget left. Each attempt brings its
        # own HTTP client (no redirects; closed when the attempt ends, see _attempt).
        self._client = openai.OpenAI(
            base_url=settings.openai_base_url,
            api_key=key,
            max_retries=0,
            timeout=self._timeout(self.read_timeout_s),
        )

    def close(self) -> None:
        """Close the underlying HTTP connection pool."""
        self._client.close()

    def _timeout(self, remaining_s: float) -> "openai.Timeout":
        # openai.Timeout is the Timeout of whichever HTTP library this openai version uses.
        read = min(self.read_timeout_s, remaining_s)
        return openai.Timeout(read, connect=min(self.connect_timeout_s, remaining_s))

    def _wait(self, state: RetryCallState) -> float:
        base = wait_exponential_jitter(
            initial=self.backoff_initial_s, max=self.backoff_max_s, jitter=self.backoff_jitter_s
        )(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = _retry_after_s(exc)
        if retry_after is not None:
            # Honour the server's Retry-After, but never wait longer than our cap.
            base = max(base, min(retry_after, self.backoff_max_s))
        return base

    def _attempt(self, messages: list[dict], deadline: float) -> str:
        remaining = deadline - time.monotonic()
        if remaining < MIN_ATTEMPT_S:
            # Says nothing about the endpoint: the budget went on earlier attempts.
            raise _Failed("retry budget spent", retry=False, counts=False)
        if not self.breaker.allow():
            raise _BreakerOpen()
        # Its own connection pool, so that a call cut at the budget can be ended: closing the pool
        # closes the socket the abandoned call is reading from. No redirects: a 3xx must not
        # carry the prompt (internal runbooks, on email) elsewhere.
        http = openai.DefaultHttpxClient(follow_redirects=False)
        try:
            client = self._client.with_options(http_client=http)
            body = _within(lambda: self._post(client, messages, remaining), remaining + DEADLINE_SLACK_S)
            text = _reply_text(body)
        except _Overdue as exc:
            self.breaker.record_failure()
            raise _Failed("response not complete within the time budget", retry=False) from exc
        except _Failed:  # the body was too long: the endpoint answers, as with a reply too long below
            self.breaker.record_success()
            raise
        except Exception as exc:  # every foreign error is classified, none leaks
            failed = _classify(exc)
            if (isinstance(exc, openai.BadRequestError) and self._length_param == "max_tokens"
                    and "max_completion_tokens" in str(exc)):
                # OpenAI's reasoning models refuse max_tokens and name the parameter they take.
                self._length_param = "max_completion_tokens"
                failed = _Failed("the model takes max_completion_tokens, not max_tokens", retry=True, counts=False)
            if failed.counts:
                self.breaker.record_failure()
            else:
                self.breaker.release()
            raise failed from exc
        finally:
            http.close()
        if not isinstance(text, str) or not text.strip():
            self.breaker.record_failure()
            raise _Failed("empty reply", retry=False)
        self.breaker.record_success()  # the endpoint works; what it said is judged below
        text = _INVISIBLE_CONTROL.sub("", text).strip()
        if len(text) > MAX_REPLY_CHARS:
            raise _Failed(f"reply too long ({len(text)} characters)", retry=False, counts=False)
        return text

    def _post(self, client: "openai.OpenAI", messages: list[dict], remaining: float) -> bytes:
        """One chat completion's response body, read by us in pieces (see MAX_BODY_BYTES)."""
        with client.chat.completions.with_streaming_response.create(
            model=self.model, messages=messages, timeout=self._timeout(remaining),
            **{self._length_param: MAX_REPLY_TOKENS},
            extra_headers={"Accept-Encoding": "identity"},
        ) as response:
            return _read_body(response.iter_bytes())

    def complete(self, messages: list[dict]) -> str:
        """The model's reply text; LLMUnavailable after retries, or at once when the breaker is open."""
        start = time.monotonic()
        shared = _REQUEST_BUDGET.get()
        deadline = start + self.budget_s if shared is None else min(start + self.budget_s, shared.ends())
        if deadline - start < MIN_ATTEMPT_S:  # earlier calls of the same request spent it: the endpoint is not blamed
            raise LLMUnavailable("the request's model time budget is spent", stage="llm")
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts) | stop_before_delay(max(deadline - start - MIN_ATTEMPT_S, 0.0)),
            wait=self._wait,
            retry=retry_if_exception(lambda e: isinstance(e, _Failed) and e.retry),
            reraise=True,
        )
        last: list[_Failed] = []

        def attempt() -> str:
            try:
                return self._attempt(messages, deadline)
            except _Failed as exc:
                last.append(exc)
                raise

        try:
            return retrying(attempt)
        except _BreakerOpen as exc:
            if not last:
                raise LLMUnavailable("LLM circuit breaker open; model skipped", stage="llm") from exc
            # Our own failures opened it mid-retry: report what actually went wrong.
            failed = last[-1]
            raise LLMUnavailable(
                f"LLM request failed ({failed.reason}) after {len(last)} attempt(s) in "
                f"{time.monotonic() - start:.2f} s; circuit breaker now open",
                stage="llm",
            ) from (failed.__cause__ or failed)
        except _Failed as exc:
            if exc.reason == "empty reply":
                raise LLMUnavailable("empty reply", stage="llm") from exc
            note = "; circuit breaker now open" if self.breaker.state == "open" else ""
            raise LLMUnavailable(
                f"LLM request failed ({exc.reason}) after {len(last)} attempt(s) in "
                f"{time.monotonic() - start:.2f} s{note}",
                stage="llm",
            ) from (exc.__cause__ or exc)


class _SharedBudget:
    """The model time one request may spend, shared by all its model calls (see one_budget). It
    starts at the first call: the triage before it (splitting, retrieval, guardrails) is not
    model time, and under load it had eaten into the budget."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._ends: float | None = None

    def ends(self) -> float:
        if self._ends is None:
            self._ends = time.monotonic() + self.seconds
        return self._ends


_REQUEST_BUDGET: ContextVar[_SharedBudget | None] = ContextVar("llm_request_budget", default=None)


@contextmanager
def one_budget(seconds: float):
    """Every model call inside shares one budget of ``seconds``: an email split into five parts
    makes five calls, and each had the whole budget to itself (a 20 s budget, a model answering
    in 9 s: 50 s for one request). A call that finds the budget spent gets LLMUnavailable at
    once, as an endpoint out of time would. Nested, the outer budget stands."""
    if _REQUEST_BUDGET.get() is not None:
        yield
        return
    token = _REQUEST_BUDGET.set(_SharedBudget(seconds))
    try:
        yield
    finally:
        _REQUEST_BUDGET.reset(token)


class LLMAnswerer:
    """Prompt, model and grounding check in one call.

    >>> answerer = LLMAnswerer(settings, Embedder.default())                  # doctest: +SKIP
    >>> text, report = answerer.run("PAM stopped answering", sources, "chat")  # doctest: +SKIP
    >>> report.ok, report.cited_ids                                           # doctest: +SKIP
    (True, ['rb-pam-not-answering-calls'])

    The returned text has the ``[source_id]`` markers removed (ready for a reader);
    ``report.answer`` keeps them. The caller decides what a failed report means
    (usually: extractive answer or escalation). Raises LLMUnavailable.
    """

    def __init__(self, settings: "Settings", embedder, client: LLMClient | None = None):
        from assistant.grounding import GroundingChecker

        self.settings = settings
        self.client = client if client is not None else LLMClient(settings)
        self.checker = GroundingChecker(embedder)

    def run(
        self,
        request_text: str,
        sources: "list[SourceText]",
        channel: str,
        *,
        forbidden: Sequence[str] = (),
    ) -> "tuple[str, GroundingReport]":
        from assistant.grounding import strip_citations
        from assistant.prompts import allowed_sources, build_messages

        messages = build_messages(request_text, sources, channel)
        raw = self.client.complete(messages)
        # Checked against what the model was shown: on chat an internal id is "not retrieved".
        report = self.checker.run(raw, allowed_sources(sources, channel), request_text, forbidden=forbidden)
        return strip_citations(report.answer), report


__all__ = ["CircuitBreaker", "LLMAnswerer", "LLMClient", "one_budget"]
