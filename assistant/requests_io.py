"""Reading requests as JSON lines: every bad line becomes an error result, never a crash."""

from __future__ import annotations

import json
import re
from typing import Iterable, Iterator

from pydantic import ValidationError

from assistant.errors import InputError
from assistant.models import SupportRequest, id_as_text


def parse_request(obj, *, max_chars: int, where: str = "request") -> SupportRequest:
    """A validated request, or InputError naming the field and the problem."""
    if not isinstance(obj, dict):
        raise not_an_object(obj, where)
    size = len(str(obj.get("subject") or "")) + len(str(obj.get("body") or ""))
    if size > max_chars:
        raise InputError(f"{where}: request is {size} characters, over the limit of {max_chars}", field="body")
    try:
        return SupportRequest.model_validate(obj)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "body"
        msg = err["msg"]
        if loc == "channel":
            msg = f"unknown channel {shown_value(obj.get('channel'))} (expected 'email' or 'chat')"
        raise InputError(f"{where}: {loc}: {msg}", field=loc) from exc


def shown_value(value) -> str:
    """A bad field value as an error message may show it: a short word as it is ("'sms'"), and
    anything else by its type and length only, since it may hold personal data ("sms from
    dana@..., card 4111 ...") and the message goes to the log and back to the caller."""
    if isinstance(value, str) and re.fullmatch(r"[A-Za-z_-]{1,20}", value):
        return repr(value)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    kind = json_type(value)
    return (f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"
            f"{f' of {len(value)} characters' if isinstance(value, str) else ''}")


def not_an_object(value, where: str = "request") -> InputError:
    """The error for a request that is no JSON object ("request: expected a JSON object, got array")."""
    return InputError(f"{where}: expected a JSON object, got {json_type(value)}")


def json_type(value) -> str:
    """The JSON name of a parsed value's type: "array", not Python's "list"."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def json_line(raw: str):
    """The JSON value of one input line; ValueError naming the problem when it is not valid JSON."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(exc.msg) from None
    except RecursionError:  # "[[[[..." deeper than the parser can go
        raise ValueError("nested too deeply") from None
    except ValueError as exc:  # a number of thousands of digits: "Exceeds the limit (4300 digits) ..."
        raise ValueError(str(exc).split(";")[0]) from None


def decode_line(raw: bytes, lineno: int) -> str | UnicodeDecodeError:
    """One line's bytes as text (without its b"\n"; the first line without a byte-order mark), or
    the UnicodeDecodeError that names its bad byte."""
    raw = raw.removesuffix(b"\n")
    if lineno == 1:
        raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc


def utf8_lines(data: bytes) -> Iterator[tuple[int, str | UnicodeDecodeError]]:
    """(line number, text) for each line of a file's bytes, each decoded on its own, so one bad
    byte costs its own line only (the text is then the UnicodeDecodeError). Only b"\n" ends a
    line (a value may hold U+2028, which str.splitlines() splits on)."""
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        yield lineno, decode_line(raw, lineno)


def not_utf8(exc: UnicodeDecodeError) -> str:
    return f"not UTF-8 text ({exc.reason} at column {exc.start + 1})"


def not_utf8_error(where: str, exc: UnicodeDecodeError, lineno: int) -> dict:
    """The ``error`` of a stdin line that is not UTF-8 text (``ask``, ``classify``, ``feedback``)."""
    return {"code": "invalid_json", "message": f"{where}: {not_utf8(exc)}", "line": lineno}


def echo_id(rid) -> str | None:
    """A request's id as it may be echoed in an error result: text, and encodable (an id that
    failed validation may hold a lone surrogate, which no UTF-8 output can carry). A number is
    its JSON text; a boolean, object or array is no id, so none is echoed."""
    try:
        rid = id_as_text(rid)
    except ValueError:
        return None
    return None if rid is None else rid.encode("utf-8", "replace").decode("utf-8")


def read_lines(lines: Iterable[str | bytes], *, max_chars: int,
               source: str = "stdin") -> Iterator[tuple[int, object, object]]:
    """(line number, SupportRequest or error dict, what the line held) for each non-empty line,
    in order; the last is the parsed JSON value, or the line's text when it is not JSON.
    A line may come as bytes (``sys.stdin.buffer``, read as it arrives): each is decoded on its
    own, so a line that is not UTF-8 gets its error result and the others are read."""
    for lineno, raw in enumerate(lines, start=1):
        where = f"{source} line {lineno}"
        if isinstance(raw, bytes):
            raw = decode_line(raw, lineno)
        if isinstance(raw, UnicodeDecodeError):
            yield lineno, {"id": None, "error": not_utf8_error(where, raw, lineno)}, raw.object.decode("utf-8", "replace")
            continue
        if not raw.strip():
            continue
        try:
            obj = json_line(raw)
        except ValueError as exc:
            yield lineno, {"id": None, "error": {"code": "invalid_json", "message": f"{where}: not valid JSON ({exc})", "line": lineno}}, raw
            continue
        rid = obj.get("id") if isinstance(obj, dict) else None
        try:
            yield lineno, parse_request(obj, max_chars=max_chars, where=where), obj
        except InputError as exc:
            yield lineno, {"id": echo_id(rid), "error": {**exc.to_dict(), "line": lineno}}, obj
