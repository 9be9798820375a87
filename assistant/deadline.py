"""A call the caller waits for a limited time: run on a daemon thread, abandoned when late.

Used where a blocking library call has no timeout of its own for the whole call: an HTTP
response trickling in a byte at a time (assistant/llm.py), a PostgreSQL server that stops
answering on an open connection (assistant/decision_log.py). The late call goes on in its
thread until it ends; a daemon thread never holds up the process's exit.

>>> call_within(lambda: 41 + 1, 1.0)
42
"""

from __future__ import annotations

import threading
from typing import Any, Callable


class Overdue(Exception):
    """The call did not finish within the time it was given."""


def call_within(call: Callable[[], Any], seconds: float, *, name: str = "bounded-call") -> Any:
    """``call()``'s result or exception, if it ends within ``seconds``; Overdue if not."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        raise Overdue()
    if "error" in box:
        raise box["error"]
    return box["value"]
