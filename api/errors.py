"""Every failure leaves the API as ``{"error": {"code", "message", "field"?}}`` with a 4xx/5xx.

One boundary, like httpx's ``map_httpcore_exceptions``: our ``AssistantError``
tree, FastAPI's validation errors, Starlette's ``HTTPException``, slowapi's
``RateLimitExceeded`` and anything unexpected are turned into that shape here,
and nothing else in ``api/`` builds an error body by hand. A stack trace never
leaves the process: an unexpected error is logged with an incident id, and the
client gets only the id.

    AssistantError (assistant/errors.py)      status
    ├── InputError                            422 (a bad field of a good JSON body)
    ├── IndexMissing                          503
    ├── RetrievalError, LLMUnavailable        503
    ├── StoreUnavailable                      503
    ├── ConfigError, other                    500
    ├── NotFound            (here)            404
    ├── Unauthorized        (here)            401
    └── PayloadTooLarge     (here)            413
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from slowapi.errors import RateLimitExceeded
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.errors import (
    AssistantError,
    ConfigError,
    IndexMissing,
    InputError,
    LLMUnavailable,
    RetrievalError,
    StoreUnavailable,
)

log = logging.getLogger("api")


class NotFound(AssistantError):
    """The thing the request names (a decision id, a path) does not exist."""

    code = "not_found"


class Unauthorized(AssistantError):
    """No API key, or one that is not configured (``ASSISTANT_API_KEYS``)."""

    code = "unauthorized"


class PayloadTooLarge(AssistantError):
    """The request body is over the configured byte limit."""

    code = "payload_too_large"


# Most specific first: the first class in the error's MRO found here wins.
STATUS: dict[type[AssistantError], int] = {
    NotFound: 404,
    Unauthorized: 401,
    PayloadTooLarge: 413,
    InputError: 422,
    IndexMissing: 503,
    RetrievalError: 503,
    LLMUnavailable: 503,
    StoreUnavailable: 503,
    ConfigError: 500,
    AssistantError: 500,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(code: str, message: str, field: str | None = None) -> dict:
    err = {"code": code, "message": message}
    if field:
        err["field"] = field
    return {"error": err}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, field), status_code=status, headers=headers)


def status_of(exc: AssistantError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


# Paths anyone may call without a key: a server fault there is told without its details (the
# index folder, the database), which the log keeps for the operators.
PUBLIC_PATHS = frozenset({"/v1/chat"})
PUBLIC_FAULT = "the help chat is not available right now; please try again in a few minutes"


async def _assistant_error(request: Request, exc: AssistantError) -> JSONResponse:
    status = status_of(exc)
    if status >= 500:
        log.warning("%s %s: %s: %s", request.method, request.url.path, exc.code, exc.message)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
    if isinstance(exc, (IndexMissing, StoreUnavailable)):
        headers = {"Retry-After": "30"}
    body = exc.to_dict()
    if status >= 500 and request.url.path in PUBLIC_PATHS:
        body = {"code": exc.code, "message": PUBLIC_FAULT}
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _field(loc) -> str | None:
    # FastAPI prefixes where the value came from ("body", "query"); the client names the field.
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or (str(loc[0]) if loc else None)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _key_refused(request: Request) -> JSONResponse | None:
    """The 401 of a keyed endpoint whose key is missing or wrong. FastAPI reads the body before
    it checks the key: without this, a caller with no key would learn how its body was read."""
    path = request.url.path
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None or not path.startswith("/v1/") or path in PUBLIC_PATHS:
        return None
    from api.deps import require_api_key

    try:
        require_api_key(request, runtime.settings)
    except Unauthorized as exc:
        return await _assistant_error(request, exc)
    return None


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    if (refused := await _key_refused(request)) is not None:
        return refused
    errors = exc.errors()
    first = errors[0] if errors else {"type": "invalid", "loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error")
        where = f" at position {first['loc'][1]}" if len(first.get("loc", ())) > 1 else ""
        message = f"request body is not valid JSON{where}" + (f" ({detail})" if detail else "")
        return error_response(400, "invalid_json", message)
    loc = tuple(first.get("loc", ()))
    if loc == ("body",):  # the body as a whole is wrong: not JSON at all, or not an object
        content_type = request.headers.get("content-type", "")
        if request.method in ("POST", "PUT", "PATCH") and not _is_json(content_type):
            return error_response(415, "unsupported_media_type",
                                  "send the body as JSON with 'Content-Type: application/json' "
                                  f"(got {content_type or 'no Content-Type'})")
        message = "the request body must be a JSON object" + (
            "" if first.get("type") == "missing" else f" ({first.get('msg', 'wrong type')})")
        return error_response(422, "invalid_request", message)
    field = _field(loc)
    message = f"{field}: {first.get('msg', 'invalid value')}" if field else first.get("msg", "invalid request")
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    # Never echo the offending input back: it may hold personal data.
    return error_response(422, "invalid_request", message, field)


# What FastAPI says when decoding the body raised something other than a JSON syntax error.
_UNPARSED = "There was an error parsing the body"


async def _unparsed_body(request: Request) -> str:
    """Why the body could not be read as JSON, named as the CLI names a bad line: not UTF-8 text,
    nested too deeply, a number of thousands of digits."""
    from assistant.requests_io import decode_line, json_line, not_utf8

    text = decode_line(await request.body(), 1)
    if isinstance(text, UnicodeDecodeError):
        return f"request body is {not_utf8(text)}"
    try:
        json_line(text)
    except ValueError as exc:
        return f"request body is not valid JSON ({exc})"
    return "request body could not be read as JSON"


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    if exc.status_code == 400 and message == _UNPARSED:
        return await _key_refused(request) or error_response(400, "invalid_json", await _unparsed_body(request))
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such path: {request.url.path}"
    elif exc.status_code == 405 and message == "Method Not Allowed":
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


async def _rate_limited(request: Request, exc: RateLimitExceeded) -> JSONResponse:
    response = error_response(429, "rate_limited",
                              f"too many requests: the limit is {exc.detail}; please wait a moment and try again")
    limiter = getattr(request.app.state, "limiter", None)
    view_limit = getattr(request.state, "view_rate_limit", None)
    if limiter is not None and view_limit is not None:
        response = limiter._inject_headers(response, view_limit)
    if "Retry-After" not in response.headers:
        response.headers["Retry-After"] = "60"
    return response


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = uuid.uuid4().hex[:12]
    log.error("incident %s: unexpected error in %s %s", incident, request.method, request.url.path,
              exc_info=(type(exc), exc, exc.__traceback__))
    return error_response(500, "internal_error",
                          f"the server hit an unexpected error; it is logged as incident {incident}")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(AssistantError, _assistant_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RateLimitExceeded, _rate_limited)
    app.add_exception_handler(Exception, _unexpected)
