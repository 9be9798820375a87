"""The HTTP API and the web pages (SPEC section 6), as one FastAPI app.

    uvicorn api.app:create_app --factory            # what `assistant serve` runs
    app = create_app(Settings(index="/srv/index"))  # in a test, or embedded

Each worker process calls ``create_app`` once and loads the pipeline and the
decision log once, in the lifespan; workers keep no other state, so several
processes (or hosts) can share one Chroma server (``ASSISTANT_CHROMA_URL``) and
one PostgreSQL decision log (``ASSISTANT_DATABASE_URL``). The only per-process
state is the chat rate-limit counter (set ``ASSISTANT_RATE_LIMIT_STORAGE`` to a
shared store to count across workers).
"""

from __future__ import annotations

import json
import os
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request, Response
from fastapi_offline import FastAPIOffline
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from slowapi import Limiter
from slowapi.util import get_remote_address
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.deps import ApiKeyDep, LogDep, PipelineDep, Runtime, RuntimeDep, SettingsDep, has_api_key
from api.errors import NotFound, error_body, error_response, install_error_handlers
from assistant import __version__, limit_blas_threads
from assistant.config import Settings, load_settings
from assistant.errors import AssistantError, InputError
from assistant.models import (MAX_ID_CHARS, ErrorResult, Priority, Reason, Route, SupportRequest, TriageResult,
                              id_as_text)
from assistant.requests_io import echo_id, not_an_object, parse_request

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATE_DIR = HERE / "templates"
DEFAULT_SAMPLES = HERE.parent / "kb" / "sample" / "requests.jsonl"
MAX_SAMPLES = 20

# Result fields that are for staff only: the escalation note and what decided the labels.
CHAT_HIDDEN_FIELDS = ("handoff", "rationale")

# The pages load nothing from anywhere else; this header makes the browser hold them to it.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'")


# -- shapes for the OpenAPI document ---------------------------------------------------
class BatchRequest(BaseModel):
    """Several requests in one call; each is answered or gets its own error item."""

    requests: list[SupportRequest]


class ClassifyResult(BaseModel):
    """The classify fields of SPEC section 4."""

    id: str | None = None
    category: str
    category_confidence: float
    priority: Priority
    route: Route
    queue: str
    reasons: list[Reason]


class BatchResult(BaseModel):
    results: list[TriageResult | ErrorResult]


class BatchClassifyResult(BaseModel):
    results: list[ClassifyResult | ErrorResult]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ChatMessage(BaseModel):
    """One message in the help chat; ``channel`` is always ``chat``."""

    id: str | None = Field(default=None, max_length=MAX_ID_CHARS)
    subject: str = ""
    body: str


class Feedback(BaseModel):
    """What really happened to a request (SPEC section 6)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="ignore")

    # A help-chat request is logged as "chat:<id>" (CHAT_ID_PREFIX), and its feedback names it so.
    id: str = Field(min_length=1, max_length=MAX_ID_CHARS + len("chat:"),
                    description="the request id (or decision id) it is about")
    outcome: Literal["accepted", "edited", "rejected", "escalated"]
    resolved_tier: Literal[1, 2, 3] | None = None
    category: str | None = Field(default=None, min_length=1, max_length=100)
    priority: Priority | None = None
    final_text: str | None = Field(default=None, max_length=20_000, description="the reply sent, for 'edited'")
    note: str | None = Field(default=None, max_length=5_000)
    resolved_at: str | None = None
    responded_at: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value):
        return id_as_text(value)

    @field_validator("resolved_tier", mode="before")
    @classmethod
    def _tier_is_a_number(cls, value):
        if isinstance(value, bool):  # true would pass as 1 and count towards the Tier 1 rate
            raise ValueError("resolved_tier must be 1, 2 or 3, not a boolean")
        if isinstance(value, str) and value.strip() in ("1", "2", "3"):
            return int(value)  # as `assistant feedback` and the log itself accept it
        return value


class FeedbackRecorded(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    decision_id: str
    outcome: str
    created_at: str


class DecisionList(BaseModel):
    count: int
    decisions: list[dict[str, Any]]


class GapClusterOut(BaseModel):
    """Similar escalations no runbook settled; ``flagged`` when more than three: a runbook to write."""

    model_config = ConfigDict(extra="allow")

    size: int
    examples: list[str]
    category: str
    nearest_runbook: str | None = None
    nearest_score: float
    flagged: bool


class TopIssuesPeriod(BaseModel):
    """One week: volume, escalations, uncovered escalations, the top categories and gap clusters."""

    model_config = ConfigDict(extra="allow")

    period: str
    start: str
    total: int
    escalated: int
    gaps: int
    top_categories: list[dict[str, Any]]
    top_clusters: list[dict[str, Any]]


class GapReport(BaseModel):
    """The knowledge loop: clusters of uncovered escalations, largest first, and top issues per week."""

    model_config = ConfigDict(extra="allow")

    clusters: list[GapClusterOut]
    runbooks_to_write: int
    top_issues: list[TopIssuesPeriod]


ERRORS = {status: {"model": ErrorBody} for status in (400, 401, 413, 422, 500, 503)}


def _request_schema(batch: bool, model: type[BaseModel] = SupportRequest) -> dict:
    single = model.model_json_schema()
    single.pop("title", None)
    if not batch:
        return {"requestBody": {"required": True, "content": {"application/json": {"schema": single}}}}
    many = {"type": "object", "required": ["requests"],
            "properties": {"requests": {"type": "array", "items": single}}}
    return {"requestBody": {"required": True, "content": {"application/json": {
        "schema": {"anyOf": [single, many]},
        "examples": {
            "one": {"value": {"id": "H-001", "channel": "email", "subject": "Xtime not syncing",
                              "body": "We accepted the Xtime invite yesterday and nothing syncs yet."}},
            "batch": {"value": {"requests": [{"id": "a", "channel": "chat", "body": "How do I set holiday hours?"},
                                             {"id": "b", "channel": "email", "body": "PAM keeps repeating itself"}]}},
        }}}}}


def _json_body(request: Request, payload: Annotated[Any, Body()]) -> Any:
    """The body as any JSON value: one that is no object ("text", 42, [...]) is a bad request,
    logged as an error as a batch's bad item is (the error count must not depend on whether a
    client batched). A body that is not JSON at all (a form) is 415."""
    if isinstance(payload, bytes):  # what FastAPI passes on for another Content-Type
        content_type = request.headers.get("content-type", "")
        raise StarletteHTTPException(415, "send the body as JSON with 'Content-Type: application/json' "
                                          f"(got {content_type or 'no Content-Type'})")
    return payload


JsonBody = Annotated[Any, Depends(_json_body)]


# -- the request/result plumbing ------------------------------------------------------
def _results(payload: dict, pipeline, settings: Settings, *, source: str, view) -> Any:
    """One result for one request, or ``{"results": [...]}`` for ``{"requests": [...]}``."""
    if not isinstance(payload, dict) or "requests" not in payload:
        try:
            request = parse_request(payload, max_chars=settings.max_request_chars)
        except InputError as exc:  # logged as a batch's bad item is: the error count must not
            rid = payload.get("id") if isinstance(payload, dict) else None  # depend on whether a
            pipeline.log_error(payload, {"id": echo_id(rid), "error": exc.to_dict()}, source=source)
            raise                                                          # client batched its calls
        return view(pipeline.run(request, source=source))
    items = payload["requests"]
    if not isinstance(items, list):
        raise InputError("requests must be a list of request objects", field="requests")
    if not items:
        raise InputError("requests is empty", field="requests")
    if len(items) > settings.max_batch:
        raise InputError(f"requests holds {len(items)} items, over the limit of {settings.max_batch} per call",
                         field="requests")
    out = []
    for i, item in enumerate(items):
        rid = item.get("id") if isinstance(item, dict) else None
        try:
            request = parse_request(item, max_chars=settings.max_request_chars, where=f"requests[{i}]")
            out.append(view(pipeline.run(request, source=source)))
        except AssistantError as exc:  # one bad item never loses the others
            error = {"id": echo_id(rid), "error": exc.to_dict()}
            pipeline.log_error(item, error, source=source)
            out.append(error)
    return {"results": out}


def _public(result: TriageResult) -> dict:
    return result.public()


def _classify(result: TriageResult) -> dict:
    return result.classify_view()


def chat_view(result: TriageResult) -> dict:
    """The result as the customer may see it: no staff-only fields, customer runbooks only."""
    data = result.public()
    for name in CHAT_HIDDEN_FIELDS:
        data.pop(name, None)
    # The pipeline already filters chat citations; checked again at the edge.
    data["citations"] = [c for c in data.get("citations", [])
                         if c.get("audience") == "customer" and c.get("kind", "runbook") == "runbook"]
    return data


# -- /v1 ------------------------------------------------------------------------------
v1 = APIRouter(prefix="/v1", dependencies=[ApiKeyDep], responses=ERRORS)


@v1.post("/ask", summary="Answer one request or a batch", openapi_extra=_request_schema(batch=True),
         responses={200: {"model": TriageResult | BatchResult}})
def ask(payload: JsonBody, pipeline: PipelineDep, settings: SettingsDep):
    """One request (SPEC section 2) in, one result out; or ``{"requests": [...]}`` in,
    ``{"results": [...]}`` out, where a bad item gets ``{"id", "error"}`` and the rest are answered."""
    return _results(payload, pipeline, settings, source="api", view=_public)


@v1.post("/classify", summary="Classify one request or a batch", openapi_extra=_request_schema(batch=True),
         responses={200: {"model": ClassifyResult | BatchClassifyResult}})
def classify(payload: JsonBody, pipeline: PipelineDep, settings: SettingsDep):
    """Like ``/v1/ask``, with only the fields ``id, category, category_confidence, priority, route, queue, reasons``."""
    return _results(payload, pipeline, settings, source="api", view=_classify)


@v1.post("/feedback", summary="Record what really happened to a request", response_model=FeedbackRecorded,
         responses={404: {"model": ErrorBody}})
def feedback(body: Feedback, decision_log: LogDep):
    """Attach the outcome to the newest decision for ``id``; 404 when no decision has that id."""
    try:
        return decision_log.feedback(body.model_dump(exclude_none=True))
    except InputError as exc:
        if exc.field == "id":
            raise NotFound(exc.message, field="id") from exc
        raise


@v1.get("/decisions", summary="The decision log, newest first", response_model=DecisionList)
def decisions(
    decision_log: LogDep,
    since: Annotated[str | None, Query(description="ISO date or time, inclusive")] = None,
    until: Annotated[str | None, Query(description="ISO date or time; a bare date includes that day")] = None,
    category: str | None = None,
    route: Route | None = None,
    queue: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
):
    rows = decision_log.decisions(since=since, until=until, category=category, route=route, queue=queue,
                                  limit=limit)
    return {"count": len(rows), "decisions": rows}


@v1.get("/metrics", summary="Volume, routing and resolution per tier against the targets")
def metrics(
    decision_log: LogDep,
    settings: SettingsDep,
    since: str | None = None,
    until: str | None = None,
    period: Literal["day", "week", "month"] = "week",
    include_eval: bool = False,
) -> dict[str, Any]:
    return decision_log.metrics(since=since, until=until, period=period, include_eval=include_eval,
                                response_targets=settings.response_clock)


@v1.get("/gaps", summary="Escalations no runbook covers, clustered, and the top issues per week",
        responses={200: {"model": GapReport}})
def gaps(
    decision_log: LogDep,
    pipeline: PipelineDep,
    since: Annotated[str | None, Query(description="ISO date or time, inclusive")] = None,
    until: Annotated[str | None, Query(description="ISO date or time; a bare date includes that day")] = None,
) -> dict[str, Any]:
    """What ``assistant gaps --json`` prints: ``not_covered``/``low_confidence`` escalations
    clustered (size, examples, category, nearest runbook and its score, ``flagged`` when more
    than three), ``runbooks_to_write`` (the flagged count) and ``top_issues`` per week.
    Eval runs and imported history are left out."""
    from assistant.gaps import gap_report  # the one implementation the CLI and the dashboard share

    return gap_report(decision_log, pipeline.index, pipeline.embedder, since=since, until=until)


CHAT_ID_PREFIX = "chat:"  # Feedback.id allows for it


def chat(request: Request, response: Response, payload: JsonBody, pipeline: PipelineDep, settings: SettingsDep):
    """The customer help chat: one message in, the customer-visible result out.

    Takes no API key and is rate limited per client address. ``channel`` is always
    ``chat``; the result never carries ``handoff``, ``rationale`` or staff-only sources.
    """
    if not isinstance(payload, dict):
        exc = not_an_object(payload)
        pipeline.log_error(payload, {"id": None, "error": exc.to_dict()}, source="chat")
        raise exc
    if "requests" in payload:  # a public endpoint: one message per call keeps the rate limit honest
        raise InputError("the help chat takes one message per call, not a batch", field="requests")
    message = {k: payload.get(k) for k in ("id", "subject", "body") if payload.get(k) is not None}
    try:
        parsed = parse_request({**message, "channel": "chat"}, max_chars=settings.max_request_chars)
    except InputError as exc:
        logged = _chat_id(message.get("id"))  # logged apart, like a good message
        pipeline.log_error({**message, "id": logged}, {"id": logged, "error": exc.to_dict()}, source="chat")
        raise
    # Anyone may call this, with any id: it is logged as "chat:<id>", so that a ticket's id
    # ("T-9001") sent here can never take the ticket's feedback or keep its history out.
    logged = parsed.model_copy(update={"id": _chat_id(parsed.id)})
    result = pipeline.run(logged, source="chat")
    result.id = parsed.id
    return chat_view(result)


def _chat_id(rid) -> str | None:
    rid = echo_id(rid)
    return None if rid is None else f"{CHAT_ID_PREFIX}{rid}"


# -- middleware ---------------------------------------------------------------------
class BodySizeLimit:
    """413 for a body over ``max_bytes``: at once by Content-Length, else while it streams in."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.strip().isdigit() and int(length) > self.max_bytes:
            response = error_response(413, "payload_too_large", self._message(int(length)))
            return await response(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Raised inside the app's body read; FastAPI passes HTTPException through.
                    raise StarletteHTTPException(413, self._message(seen, streamed=True))
            return message

        await self.app(scope, counted, send)

    def _message(self, size: int, streamed: bool = False) -> str:
        got = f"over {size}" if streamed else f"{size}"
        return f"request body is {got} bytes, over the limit of {self.max_bytes}"


class SecurityHeaders:
    """Headers every response gets; pages add their own Content-Security-Policy."""

    HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)


# -- pages ---------------------------------------------------------------------------
def load_samples(path: Path | None = None) -> list[dict]:
    """A few sample requests for the console's picker: ``path`` (``ASSISTANT_SAMPLE_REQUESTS``) or the bundled ones."""
    path = Path(path or DEFAULT_SAMPLES)
    samples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    from guardrails.pii import PiiDetector

    detector = PiiDetector()
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and (obj.get("body") or obj.get("subject")):
            sample = {k: str(obj.get(k) or "") for k in ("id", "channel", "subject", "body")}
            # Shown on pages (the chat's suggestions to every customer): past requests may hold
            # personal data, redacted here as everything the assistant stores is.
            sample["subject"], sample["body"] = (_redacted(detector, sample["subject"]),
                                                 _redacted(detector, sample["body"]))
            samples.append(sample)
        if len(samples) >= MAX_SAMPLES:
            break
    return samples


def _redacted(detector, text: str) -> str:
    from guardrails import fold_input

    text = fold_input(text)
    return detector.redact(text) if text else text


def _embed_json(value) -> str:
    # Inside <script type="application/json">: "<" escaped so no text can close the tag.
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace("&", "\\u0026")


class Pages:
    """The three HTML pages, read once; data the page needs up front is embedded as JSON."""

    def __init__(self, settings: Settings):
        self.auth = "required" if settings.api_key_list() else "none"
        self.samples = load_samples(settings.sample_requests)
        self.html = {name: (TEMPLATE_DIR / f"{name}.html").read_text(encoding="utf-8")
                     for name in ("console", "chat", "dashboard")}

    def render(self, name: str) -> HTMLResponse:
        samples = self.samples
        if name == "chat":  # only the question text of chat samples: suggestions for a customer
            samples = [{"body": s["body"] or s["subject"]} for s in samples if s["channel"] == "chat"]
        html = (self.html[name].replace("{{AUTH}}", self.auth).replace("{{VERSION}}", __version__)
                .replace("{{SAMPLES}}", _embed_json(samples)))
        return HTMLResponse(html, headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"})


# -- the app -------------------------------------------------------------------------
@asynccontextmanager
async def _lifespan(app: FastAPI):
    runtime: Runtime = app.state.runtime
    injected = app.state.injected
    # Loading reads the model and the index from disk: off the event loop.
    await run_in_threadpool(runtime.open_log, injected.get("decision_log"))
    await run_in_threadpool(runtime.load_pipeline, injected.get("pipeline"))
    try:
        yield
    finally:
        runtime.close()


def create_app(settings: Settings | None = None, *, pipeline=None, decision_log=None,
               chat_rate_limit: str | None = None, max_body_bytes: int | None = None,
               max_batch: int | None = None) -> FastAPI:
    """The app. With no arguments (the uvicorn factory) everything comes from ``ASSISTANT_*``.

    ``chat_rate_limit``, ``max_body_bytes`` and ``max_batch``, when given, replace those
    fields of ``settings``. ``pipeline`` and ``decision_log`` may be handed in ready-made
    (tests, embedding); the app then does not load or close them. Bad settings raise
    ``ConfigError`` here.
    """
    limit_blas_threads()  # each worker process builds its app once
    http = {"chat_rate_limit": chat_rate_limit, "max_body_bytes": max_body_bytes, "max_batch": max_batch}
    settings = load_settings(**http) if settings is None else settings.updated(**http)
    runtime = Runtime.create(settings)
    # FastAPIOffline: /docs and /redoc serve Swagger UI and ReDoc from the package, no CDN.
    app = FastAPIOffline(
        title="PAM support assistant",
        version=__version__,
        summary="Triage, answers with citations, and safe escalation for PAM support requests.",
        description="Errors are always `{\"error\": {\"code\", \"message\", \"field\"}}`. "
                    "`/v1/*` except `/v1/chat` need `Authorization: Bearer <key>` when "
                    "`ASSISTANT_API_KEYS` is set; `/v1/chat` is rate limited per client.",
        lifespan=_lifespan,
    )
    app.state.runtime = runtime
    app.state.injected = {"pipeline": pipeline, "decision_log": decision_log}
    install_error_handlers(app)

    limiter = Limiter(key_func=get_remote_address, storage_uri=settings.rate_limit_storage, headers_enabled=True)
    app.state.limiter = limiter
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)

    app.include_router(v1)
    app.add_api_route("/v1/chat", limiter.limit(settings.chat_rate_limit)(chat), methods=["POST"],
                      summary="The customer help chat (no key, rate limited)", tags=["chat"],
                      openapi_extra=_request_schema(batch=False, model=ChatMessage),
                      responses={200: {"model": TriageResult}, 429: {"model": ErrorBody}, **ERRORS})

    # On the event loop, not in the worker threads: requests waiting on a slow model fill those,
    # and a liveness probe queued behind them (16 s in a review) would restart a healthy worker.
    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz():
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="Readiness: index loaded and decision log usable",
             responses={503: {"model": ErrorBody}})
    def readyz(request: Request, runtime: RuntimeDep):
        state = runtime.readiness()
        if not has_api_key(request, runtime.settings):
            # Public, on the same port as the help chat: what failed, not the server's folders and
            # errors (those are for API-key holders, and in the log).
            state = {**state, "checks": {name: "ok" if value == "ok" else "failing"
                                         for name, value in state["checks"].items()}}
        body = {"status": "ready" if state["ready"] else "not_ready", "checks": state["checks"],
                "worker": os.getpid()}
        if state["ready"]:
            body["versions"] = getattr(runtime.pipeline, "versions", {})
            llm = getattr(runtime.pipeline, "llm", None)
            if llm is not None:  # informational: a failing model means fallbacks, not "not ready"
                body["llm_breaker"] = getattr(llm, "breaker_state", "unknown")
            return body
        failing = [name for name, value in state["checks"].items() if value != "ok"]
        code = "index_missing" if "index" in failing else "store_unavailable"
        message = "; ".join(f"{name}: {state['checks'][name]}" for name in failing)
        return error_response_with(503, body, code, message)

    pages = Pages(runtime.settings)
    app.state.pages = pages
    for path, name in (("/", "console"), ("/chat", "chat"), ("/dashboard", "dashboard")):
        app.add_api_route(path, _page(pages, name), methods=["GET"], include_in_schema=False,
                          response_class=HTMLResponse)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _page(pages: Pages, name: str):
    def page():
        return pages.render(name)

    page.__name__ = f"page_{name}"
    return page


def error_response_with(status: int, body: dict, code: str, message: str) -> JSONResponse:
    """An error response that also carries extra top-level fields (``/readyz`` shows its checks)."""
    return JSONResponse({**body, **error_body(code, message)}, status_code=status, headers={"Retry-After": "15"})
