"""The decision log (SPEC section 7): every result, its redacted request, versions and feedback.

SQLite in the index folder by default, PostgreSQL when ``ASSISTANT_DATABASE_URL``
says so; the schema is managed by Alembic (``assistant/migrations``) and brought
to head when the log opens.

    log = DecisionLog.from_settings(settings, settings.index_dir)
    decision_id = log.record(redacted_request, result.public(), source="api",
                             versions={"model": "...", "index": "...", "config": "..."})
    log.feedback({"id": "H-001", "outcome": "accepted", "resolved_tier": 1})
    log.metrics(since="2026-03-01", period="week")

``record()`` never raises and never loses a decision: when the database is down
or locked the row goes to ``<spool_dir>/decision-spool.jsonl`` and is written by
the next ``record()`` or ``flush_spool()`` that reaches the database, idempotently
by its decision uuid. Every other method raises ``StoreUnavailable`` when the
database cannot be reached and ``InputError`` (with ``field``) for bad input.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from assistant import metrics as metrics_mod
from assistant.config import default_queue
from assistant.deadline import Overdue, call_within
from assistant.errors import ConfigError, InputError, StoreUnavailable
from assistant.metrics import iso, parse_time
from assistant.models import PRIORITIES, id_as_text

try:  # POSIX; elsewhere the spool is only guarded within one process
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

logger = logging.getLogger(__name__)

SPOOL_NAME = "decision-spool.jsonl"
REJECTED_SPOOL_NAME = "decision-spool.rejected.jsonl"
SQLITE_NAME = "decisions.sqlite3"
OUTCOMES = ("accepted", "edited", "rejected", "escalated")
SOURCE_HISTORY = "history"
SOURCE_EVAL = "eval"
VERSION_TABLE = "assistant_alembic_version"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# A locked SQLite file makes a writer wait this long before the row is spooled
# instead: long enough to ride out another process's commit (milliseconds in WAL
# mode), short enough not to hold an answer back.
SQLITE_BUSY_TIMEOUT_S = 0.5
PG_CONNECT_TIMEOUT_S = 3
# The same for PostgreSQL: a table locked by a migration or an ALTER made each statement wait
# for the lock, and every request thread behind it (the pool's ten connections held, the rest
# waiting 30 s for one). Every statement gives up on a lock after PG_LOCK_TIMEOUT_MS (a
# connection option), and a write a request waits on (a decision, a spool flush, feedback)
# also on running longer than PG_WRITE_STATEMENT_TIMEOUT_MS: the row is spooled, a read answers 503.
PG_LOCK_TIMEOUT_MS = 500
PG_WRITE_STATEMENT_TIMEOUT_MS = 2000
# A server that stops answering (frozen, a network path that drops packets) is neither down nor
# slow to the client: the connect timeout covers new connections only, and the statement timeouts
# run on the server. On PostgreSQL every call a request waits on therefore runs in a helper thread
# the caller waits for this long at most: a write (the row is spooled) and ping (not ready) after
# PG_WAIT_S, a read (503) after PG_READ_WAIT_S, which leaves a slow but answering server time for
# a large metrics query. The helper finishes (or fails) on its own; a decision it writes late is
# also in the spool, and the flush skips it by its uuid. At most PG_WAITING_CALLS helpers wait
# on the database at once (the pool's connections); one more call fails at once.
PG_WAIT_S = PG_CONNECT_TIMEOUT_S + PG_WRITE_STATEMENT_TIMEOUT_MS / 1000
PG_READ_WAIT_S = 30.0
PG_POOL_SIZE, PG_POOL_OVERFLOW = 5, 5
PG_WAITING_CALLS = PG_POOL_SIZE + PG_POOL_OVERFLOW
# A flush writes the lines spooled while it wrote, this many rounds at most, before it
# leaves the rest for the next flush (a spool that never stops growing cannot hold it).
FLUSH_ROUNDS = 3
# After a failed write, record() spools straight away for this long rather than
# making every answer wait for the database to fail again.
RETRY_AFTER_S = 2.0
# Any 64-bit constant; serialises concurrent migrations on one PostgreSQL database.
PG_MIGRATION_LOCK = 0x5041_4D5F_4C4F_47
HISTORY_NAMESPACE = uuid.UUID("6f1c2f5e-8a4b-4c55-9b1e-2f3d7a6c9e01")
_TIME_COLUMNS = ("created_at", "due_by", "resolved_at", "responded_at")


# --------------------------------------------------------------------------- schema


class UTCDateTime(sa.TypeDecorator):
    """Naive UTC in the database (SQLite keeps no zone), aware UTC in Python."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
metadata = sa.MetaData()

# Kept in step with migrations/versions by hand; tests compare the two.
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False),
    sa.Column("request_id", sa.String, nullable=True),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("channel", sa.String, nullable=True),
    sa.Column("category", sa.String, nullable=True),
    sa.Column("priority", sa.String, nullable=True),
    sa.Column("route", sa.String, nullable=True),
    sa.Column("queue", sa.String, nullable=True),
    sa.Column("due_by", UTCDateTime, nullable=True),
    # Known for imported history; feedback carries them for live decisions.
    sa.Column("resolved_tier", sa.Integer, nullable=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("responded_at", UTCDateTime, nullable=True),
    sa.Column("request", JSONType, nullable=False),
    sa.Column("result", JSONType, nullable=False),
    sa.Column("versions", JSONType, nullable=False),
    sa.UniqueConstraint("uuid", name="uq_decisions_uuid"),
    sa.Index("ix_decisions_request_id", "request_id"),
    sa.Index("ix_decisions_created_at", "created_at"),
    sa.Index("ix_decisions_source", "source"),
)

feedback_table = sa.Table(
    "feedback",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("decision_uuid", sa.String(36), sa.ForeignKey("decisions.uuid", name="fk_feedback_decision"),
              nullable=False),
    sa.Column("request_id", sa.String, nullable=True),
    sa.Column("outcome", sa.String, nullable=False),
    sa.Column("resolved_tier", sa.Integer, nullable=True),
    sa.Column("category", sa.String, nullable=True),
    sa.Column("priority", sa.String, nullable=True),
    sa.Column("final_text", sa.Text, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("resolved_at", UTCDateTime, nullable=True),
    sa.Column("responded_at", UTCDateTime, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_feedback_decision_uuid", "decision_uuid"),
)

_FEEDBACK_FIELDS = ("outcome", "resolved_tier", "category", "priority", "final_text", "note",
                    "resolved_at", "responded_at")


# --------------------------------------------------------------------------- small helpers


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value) -> str | None:
    if value is None:
        return None
    value = str(value).replace("\x00", "").strip()
    return value or None


def _spool_line(row: dict) -> str:
    """A decision row as one spool line (times as ISO text)."""
    return json.dumps({k: iso(v) if isinstance(v, datetime) else v for k, v in row.items()}, ensure_ascii=False,
                      default=str)


def _refused_row(exc: BaseException) -> bool:
    """Whether a failed write was the database refusing the data (not being unreachable)."""
    return isinstance(exc.__cause__, (sa.exc.DataError, sa.exc.IntegrityError))


def _no_nul(value):
    """``value`` without NUL characters, which PostgreSQL text and jsonb refuse (the row would
    stay in the spool, and every flush after it would fail on it)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, list):
        return [_no_nul(v) for v in value]
    if isinstance(value, dict):
        return {_no_nul(k): _no_nul(v) for k, v in value.items()}
    return value


def _jsonable(value):
    """A deep copy that JSON can hold: odd objects become text rather than failing the write, a
    lone surrogate (which no database or UTF-8 spool can store) becomes "?" and NUL is dropped."""
    text = json.dumps(value, default=str, ensure_ascii=False)
    return _no_nul(json.loads(text.encode("utf-8", "replace").decode("utf-8")))


def _lenient_time(value) -> datetime | None:
    try:
        return parse_time(value, "time")
    except InputError:
        return None


def _default_queue(category: str | None) -> str | None:
    if not category:
        return None
    return default_queue(category)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and one writer work at once; the busy timeout makes a second
    # writer (another process) wait for the lock instead of failing at once.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _file_identity(path: str | None) -> tuple | None:
    """(device, inode) of a file, or None when there is no such file (or no path)."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def make_engine(url: str) -> Engine:
    """An engine for the log's URL; ConfigError when the URL or its driver is unusable."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"database_url is not a database URL: {exc}", field="database_url") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 is what we ship
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        connect_args = {}
        if parsed.get_backend_name() == "postgresql":
            # Every statement gives up on a lock after PG_LOCK_TIMEOUT_MS; migrations and the
            # history import lift it, they may wait for another process.
            connect_args = {"connect_timeout": PG_CONNECT_TIMEOUT_S,
                            "options": f"-c lock_timeout={PG_LOCK_TIMEOUT_MS}"}
        # pre_ping: connections pooled before a database restart are replaced, not used.
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW,
                                connect_args=connect_args)
    except (NoSuchModuleError, ImportError, ArgumentError) as exc:
        raise ConfigError(f"database_url {parsed.render_as_string()!r}: {exc}", field="database_url") from exc


# --------------------------------------------------------------------------- validation


_PII = None  # the detector, made at the first feedback text


def _redacted(text: str) -> str:
    """``text`` with its personal data redacted: the reply OPS really sent (``final_text``) and
    their notes hold the customer's phone, address or card as often as the request did, and
    the log keeps none of them. A check that fails keeps nothing of the text."""
    global _PII
    from guardrails.pii import WITHHELD, PiiDetector  # here: `report` and the like never load phonenumbers

    try:
        if _PII is None:
            _PII = PiiDetector()
        return _PII.redact(text)
    except Exception:  # noqa: BLE001 - any failure of the check: the text is not stored as is
        logger.exception("feedback: the personal-data check failed; the text is withheld")
        return WITHHELD


def _validate_feedback(fb) -> dict:
    if not isinstance(fb, Mapping):
        raise InputError("feedback must be a JSON object", field="id")
    try:
        request_id = _text(id_as_text(fb.get("id")))
    except ValueError as exc:  # true would become "True", an id no request has
        raise InputError(str(exc), field="id") from None
    if not request_id:
        raise InputError("feedback needs the id of the request it is about", field="id")
    out: dict = {"id": request_id}

    outcome = fb.get("outcome")
    if outcome not in OUTCOMES:
        raise InputError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}", field="outcome")
    out["outcome"] = outcome

    tier = fb.get("resolved_tier")
    if tier is not None:
        if isinstance(tier, bool) or str(tier).strip() not in ("1", "2", "3"):
            raise InputError(f"resolved_tier must be 1, 2 or 3, got {tier!r}", field="resolved_tier")
        tier = int(str(tier).strip())
    out["resolved_tier"] = tier

    for name in ("category", "final_text", "note"):
        value = fb.get(name)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{name} must be text", field=name)
        out[name] = value.strip() if name == "category" and value else _redacted(value) if value else value
    if fb.get("category") is not None and not out["category"]:
        raise InputError("category must not be empty", field="category")

    priority = fb.get("priority")
    if priority is not None:
        if not isinstance(priority, str) or priority.strip().upper() not in PRIORITIES:
            raise InputError(f"priority must be one of {', '.join(PRIORITIES)}, got {priority!r}", field="priority")
        priority = priority.strip().upper()
    out["priority"] = priority

    if outcome == "edited" and not (out["final_text"] or "").strip():
        raise InputError("an edited outcome needs final_text, the text that was sent", field="final_text")

    for name in ("resolved_at", "responded_at"):
        out[name] = parse_time(fb.get(name), name)
    return out


def _history_row(ticket, index: int) -> dict | None:
    """A decision row for one past ticket, or None when it has no date to place it in time."""
    def fail(message: str, field: str):
        raise InputError(f"history ticket {index}: {message}", field=field)

    if not isinstance(ticket, Mapping):
        fail("must be a JSON object", "id")
    ticket_id = _text(ticket.get("id"))
    if not ticket_id:
        fail("id is required", "id")
    category = _text(ticket.get("category"))
    if not category:
        fail(f"{ticket_id}: category is required", "category")
    if not (_text(ticket.get("subject")) or _text(ticket.get("body"))):
        fail(f"{ticket_id}: subject or body is required", "body")
    priority = _text(ticket.get("priority"))
    if priority is not None and priority.upper() not in PRIORITIES:
        fail(f"{ticket_id}: priority must be one of {', '.join(PRIORITIES)}", "priority")
    tier = ticket.get("resolved_tier")
    if tier is not None:
        if isinstance(tier, bool) or str(tier).strip() not in ("1", "2", "3"):
            fail(f"{ticket_id}: resolved_tier must be 1, 2 or 3, got {tier!r}", "resolved_tier")
        tier = int(str(tier).strip())
    times = {}
    for name in ("created_at", "resolved_at", "responded_at", "due_by"):
        try:
            times[name] = parse_time(ticket.get(name), name)
        except InputError as exc:
            fail(f"{ticket_id}: {exc.message}", name)
    if times["created_at"] is None:
        return None

    channel = _text(ticket.get("channel")) or "email"  # support requests arrive by email (OPS notes)
    queue = _text(ticket.get("queue"))  # None: import_history fills in the configured queue
    request = {"id": ticket_id, "channel": channel, "subject": ticket.get("subject") or "",
               "body": ticket.get("body") or ""}
    result = {"id": ticket_id, "category": category, "priority": priority and priority.upper(), "queue": queue}
    for name in ("resolution", "resolved_tier"):
        if ticket.get(name) is not None:
            result[name] = ticket[name]
    return {
        "uuid": str(uuid.uuid5(HISTORY_NAMESPACE, f"history:{ticket_id}")),
        "request_id": ticket_id,
        "source": SOURCE_HISTORY,
        "created_at": times["created_at"],
        "channel": channel,
        "category": category,
        "priority": priority and priority.upper(),
        "route": None,
        "queue": queue,
        "due_by": times["due_by"],
        "resolved_tier": tier,
        "resolved_at": times["resolved_at"],
        "responded_at": times["responded_at"],
        "request": _jsonable(request),
        "result": _jsonable(result),
        "versions": {},
    }


def _newest_decision(*columns):
    """A query for the newest decision (more conditions are added with ``.where``). An error
    result (a retry with a bad field) is no decision: feedback on it would count nowhere, since
    the metrics count error rows only as errors."""
    return (sa.select(*columns).where(decisions.c.category.isnot(None))
            .order_by(decisions.c.created_at.desc(), decisions.c.seq.desc()).limit(1))


def _spool_lines(text: str) -> list[str]:
    """The spool's lines. Only "\n" ends one: a request may hold U+2028 or U+0085, which
    json.dumps(ensure_ascii=False) leaves as they are and str.splitlines() would split on."""
    return [line for line in text.split("\n") if line.strip()]


def _whole_requests(window: list, everything: list) -> list:
    """The conditions ``window`` widened to every decision of each request it selects (the same
    request id), ``everything`` being the same conditions without the time window."""
    if len(window) <= len(everything):  # no window
        return window
    touched = sa.select(decisions.c.request_id).where(*window, decisions.c.request_id.is_not(None))
    return everything + [sa.or_(sa.and_(*window), decisions.c.request_id.in_(touched))]


def _merge_feedback(rows, key=lambda fb: fb["decision_uuid"]) -> dict:
    """Per ``key`` (a decision), the feedback fields with the latest given value of each (rows oldest first)."""
    merged: dict = {}
    for fb in rows:
        entry = merged.setdefault(key(fb), {"count": 0})
        entry["count"] += 1
        entry["created_at"] = fb["created_at"]
        for name in _FEEDBACK_FIELDS:
            if fb[name] is not None:
                entry[name] = fb[name]
    return merged


def _feedback_per_request(rows, feedback, digests: dict[str, str]) -> dict[str, dict]:
    """Per decision, all the feedback its request got, merged in the order it was given.

    Feedback goes to a request's newest decision at the time it is given (or to the decision
    its uuid names), so a client's retry logged between two pieces of feedback splits them over
    two decisions ("escalated to Tier 2", then "accepted"); the metrics keep one row per request
    (``metrics.one_per_request``: the same id and text), and the tier given first was lost. The
    request's feedback rows (``feedback``, oldest first) are replayed together, each field keeping
    its latest given value, and every decision of the request that got feedback carries the
    result (one without stays without: a re-triage after the feedback must not become the
    decision the metrics keep). ``digests`` holds each decision's ``request_digest``.
    """
    request_of = {r["uuid"]: metrics_mod.request_key(r["request_id"], r["source"], digests[r["uuid"]])
                  if r["request_id"] else r["uuid"] for r in rows}
    merged = _merge_feedback(feedback, key=lambda fb: request_of.get(fb["decision_uuid"], fb["decision_uuid"]))
    given = {fb["decision_uuid"] for fb in feedback}
    return {uuid: merged[request] for uuid, request in request_of.items() if uuid in given and request in merged}


# --------------------------------------------------------------------------- the log


class DecisionLog:
    """Every result the assistant returned, with feedback on what really happened.

    >>> log = DecisionLog("sqlite:///" + str(tmp / "decisions.sqlite3"), spool_dir=tmp)  # doctest: +SKIP
    >>> log.record({"id": "H-1", "channel": "email", "body": "..."}, result, source="cli",
    ...            versions={"model": "m", "index": "i", "config": "c"})  # doctest: +SKIP
    '3f0c…'
    """

    def __init__(self, url: str, *, spool_dir: Path, wait: bool = True):
        self.url = url
        self.spool_dir = Path(spool_dir)
        self.spool_path = self.spool_dir / SPOOL_NAME
        self.engine = make_engine(url)
        self.queue_for = _default_queue  # from_settings swaps in the configured queues
        self._schema_ready = False
        self._file_id: tuple | None = None  # SQLite: the file opened (device, inode)
        self._down_until = 0.0  # while not 0, the database is known to be down (see record())
        self._lock = threading.RLock()  # the spool file and the in-memory rows
        self._flushing = threading.Lock()  # held through a flush's database write; never under _lock
        self._probing = threading.Lock()  # held by the one background probe, if any
        self._probe_thread: threading.Thread | None = None
        self._waiting = threading.BoundedSemaphore(PG_WAITING_CALLS)  # helpers of _within waiting on PostgreSQL
        self._memory: list[dict] = []  # last resort when neither database nor spool file can be written
        try:
            self._ensure_schema(wait=wait)  # opening the log waits behind another migration, unless told not to
        except StoreUnavailable as exc:
            if not self._spool_writable():
                self.engine.dispose()
                raise StoreUnavailable(
                    f"{exc.message}; and the spool folder {self.spool_dir} is not writable"
                ) from exc
            logger.warning("decision log: %s; spooling to %s until it is back", exc.message, self.spool_path)
            self._down_until = time.monotonic() + RETRY_AFTER_S
            return
        self._try_flush()

    @classmethod
    def from_settings(cls, settings, index_dir: Path, *, wait: bool = True) -> "DecisionLog":
        """The log for these settings: ``settings.database_url``, else SQLite in the index folder.

        ``wait=False`` (a log opened by a request thread) never waits on another process's
        migration: the log opens spooling and migrates on a later use."""
        index_dir = Path(index_dir)
        url = getattr(settings, "database_url", None) or f"sqlite:///{index_dir / SQLITE_NAME}"
        spool_dir = getattr(settings, "spool_dir", None) or index_dir
        log = cls(url, spool_dir=Path(spool_dir), wait=wait)
        if hasattr(settings, "queue_for"):
            log.queue_for = settings.queue_for
        return log

    # ----------------------------------------------------------------- plumbing

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def _db(self, what: str) -> Iterator[None]:
        """Translate database failures into StoreUnavailable, naming what was attempted."""
        try:
            yield
        except (SQLAlchemyError, OSError) as exc:  # OSError: a SQLite file or folder we cannot create
            raise StoreUnavailable(f"decision log: cannot {what}: {exc.__class__.__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''}", stage="decision_log") from exc

    def _within(self, seconds: float, what: str, call):
        """``call()``'s result; on PostgreSQL the caller waits ``seconds`` for it at most (see
        PG_WAIT_S), then gets StoreUnavailable while the call goes on in its helper thread."""
        if self.dialect != "postgresql":
            return call()
        deadline = time.monotonic() + seconds
        # Every pooled connection busy: under load one comes free within milliseconds, so the caller
        # waits its turn within its own time (before, it failed at once and marked a healthy database
        # down: 16 clients at once got 503s). A database known to be down frees none: no wait then.
        if not self._waiting.acquire(blocking=False) and (self._down_until or not self._waiting.acquire(timeout=seconds)):
            self._down_until = self._down_until or time.monotonic() + RETRY_AFTER_S
            raise StoreUnavailable(f"decision log: cannot {what}: {PG_WAITING_CALLS} calls are already "
                                   f"waiting for the database to answer", stage="decision_log")
        started = threading.Event()

        def permitted():
            started.set()
            try:
                return call()
            finally:
                self._waiting.release()

        try:
            return call_within(permitted, max(deadline - time.monotonic(), 0.0), name="decision-log-call")
        except Overdue:
            self._down_until = time.monotonic() + RETRY_AFTER_S
            raise StoreUnavailable(f"decision log: cannot {what}: the database did not answer within "
                                   f"{seconds:g} s", stage="decision_log") from None
        except BaseException:
            if not started.is_set():  # no thread (interpreter shutting down): its permit back
                self._waiting.release()
            raise

    @contextmanager
    def _write(self, what: str) -> Iterator[Connection]:
        """A transaction for a write a request waits on; on PostgreSQL a statement gives up after
        PG_WRITE_STATEMENT_TIMEOUT_MS (and on a lock after PG_LOCK_TIMEOUT_MS, as every statement)."""
        with self._db(what), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text(f"SET LOCAL statement_timeout = {PG_WRITE_STATEMENT_TIMEOUT_MS}"))
            yield conn

    def _ensure_schema(self, *, wait: bool = False) -> None:
        """Create or upgrade the tables once per process.

        Only opening the log and the history import (``wait=True``) wait their turn
        behind another process's migration. A request, a read or ``ping`` on a log
        opened while the database was down gives up after SQLITE_BUSY_TIMEOUT_S (SQLite)
        or PG_LOCK_TIMEOUT_MS (PostgreSQL) and raises StoreUnavailable: the row is
        spooled, the read answers 503, readiness is false, and the next call tries again.
        """
        self._follow_file()
        if self._schema_ready:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self._db("open the database and migrate its schema"), self._migration_lock(wait=wait):
            if path := self._sqlite_file():
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            with self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    if wait:  # else the connection's lock_timeout bounds the wait for the lock below
                        conn.execute(sa.text("SET LOCAL lock_timeout = 0"))
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        self._file_id = _file_identity(self._sqlite_file())
        self._schema_ready = True

    def _follow_file(self) -> None:
        """SQLite: when the log's file is no longer the one opened (the index folder deleted, or
        deleted and built again), let go of it, so that the next use opens (or creates) the file
        now at the path. Before, every later decision went to the unlinked file and was lost."""
        if self._file_id is None or _file_identity(self._sqlite_file()) == self._file_id:
            return
        logger.warning("decision log: %s was deleted or replaced; opening the file now at that path",
                       self._sqlite_file())
        self._file_id, self._schema_ready = None, False
        self.engine.dispose()

    def _sqlite_file(self) -> str | None:
        """The SQLite file's path, if the log is one ("file:/x.db" in a URI-style URL is /x.db)."""
        url = self.engine.url
        if self.dialect != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        if url.query.get("uri") == "true" and url.database.startswith("file:"):
            return url.database[len("file:"):]
        return url.database

    @contextmanager
    def _migration_lock(self, *, wait: bool) -> Iterator[None]:
        """Two processes opening a new SQLite file must not both create its tables.

        Without ``wait``, gives up after SQLITE_BUSY_TIMEOUT_S (StoreUnavailable)."""
        database = self._sqlite_file()
        if fcntl is None or database is None:
            yield
            return
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
            handle = open(f"{database}.migrate-lock", "a")
        except OSError as exc:
            raise StoreUnavailable(f"decision log: cannot open {database}: {exc}", stage="decision_log") from exc
        with handle:
            if wait:
                fcntl.flock(handle, fcntl.LOCK_EX)
            else:
                deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() >= deadline:
                            raise StoreUnavailable(f"decision log: {database} is being migrated by another "
                                                   "process", stage="decision_log") from None
                        time.sleep(0.02)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _insert_decision(self, conn: Connection, row: dict) -> int:
        """Insert one decision unless its uuid is already there; 1 when written."""
        if self.dialect in ("sqlite", "postgresql"):
            if self.dialect == "sqlite":
                from sqlalchemy.dialects.sqlite import insert
            else:
                from sqlalchemy.dialects.postgresql import insert
            stmt = (insert(decisions).values(**row).on_conflict_do_nothing(index_elements=["uuid"])
                    .returning(decisions.c.seq))
            # RETURNING, not rowcount: psycopg reports no rowcount for this statement.
            return len(conn.execute(stmt).all())
        exists = conn.execute(sa.select(decisions.c.seq).where(decisions.c.uuid == row["uuid"])).first()
        if exists:
            return 0
        conn.execute(decisions.insert().values(**row))
        return 1

    # ----------------------------------------------------------------- spool

    @contextmanager
    def _spool_file(self) -> Iterator:
        """The spool file opened for read and append, locked against other threads and processes."""
        with self._lock:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            # A byte that is no UTF-8 (a line cut inside "é" by a full disk or a kill) reads as U+FFFD:
            # that line is set aside as unreadable, and the rest of the spool is still read.
            with open(self.spool_path, "a+", encoding="utf-8", errors="replace") as handle:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield handle
                finally:
                    if fcntl is not None:
                        fcntl.flock(handle, fcntl.LOCK_UN)

    def _spool_ends_a_line(self) -> bool:
        """Whether the spool's last byte ends a line; call with the spool's lock held."""
        with open(self.spool_path, "rb") as raw:
            raw.seek(-1, os.SEEK_END)
            return raw.read(1) == b"\n"

    def _spool_writable(self) -> bool:
        try:
            with self._spool_file():
                return True
        except OSError:
            return False

    def _spool_pending(self) -> bool:
        if self._memory:
            return True
        try:
            return self.spool_path.stat().st_size > 0
        except OSError:
            return False

    def _spooled(self, request_id: str) -> bool:
        """Whether a decision for this request id (or decision uuid) waits in the spool."""
        if any(request_id in (r.get("request_id"), r.get("uuid")) for r in self._memory):
            return True
        quoted = json.dumps(request_id, ensure_ascii=False)  # as it is written in a spool line
        try:
            with open(self.spool_path, encoding="utf-8", errors="replace", newline="") as handle:
                for line in handle:  # line by line: a spool after a long outage may be large
                    if quoted not in line:
                        continue
                    try:
                        row = json.loads(line)
                    except ValueError:
                        return True  # a damaged line that names it: it may be there
                    if isinstance(row, dict) and request_id in (row.get("request_id"), row.get("uuid")):
                        return True
        except OSError:
            return self._spool_pending()  # cannot tell: it may be there
        return False

    def _spool(self, row: dict) -> None:
        line = _spool_line(row)
        try:
            with self._spool_file() as handle:
                if handle.seek(0, os.SEEK_END) and not self._spool_ends_a_line():
                    handle.write("\n")  # a cut last line: this row starts a line of its own, not its tail
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            logger.exception("decision log: cannot spool decision %s to %s; holding it in memory",
                             row["uuid"], self.spool_path)
            with self._lock:
                self._memory.append(row)

    @staticmethod
    def _row_from_spool(line: str) -> dict:
        data = json.loads(line)
        row = {col.name: data.get(col.name) for col in decisions.columns if col.name != "seq"}
        if not row["uuid"] or not row["source"]:
            raise ValueError("spooled row without uuid or source")
        for name in _TIME_COLUMNS:
            row[name] = parse_time(row[name], name)
        if row["created_at"] is None:
            raise ValueError("spooled row without created_at")
        for name in ("request", "result", "versions"):
            row[name] = row[name] if row[name] is not None else {}
        return row

    def flush_spool(self, *, wait: bool = True) -> int | None:
        """Write spooled decisions to the database; returns how many were new there.

        Raises StoreUnavailable (and keeps the spool) when the database is still down.
        With ``wait=False`` it returns None at once when another thread is flushing.

        No lock is held while the database is written, so a database that stalls
        mid-flush holds up no request that spools meanwhile. The spool is read under its
        lock and written; it is emptied only when, under the lock again, it holds exactly
        what was written (so nothing is ever cut that is not in the database). Lines
        spooled meanwhile are written in turn, a few rounds at most; what is left then
        stays for the next flush. Rows are written once by uuid, so writing a line twice
        (two flushes, two processes) does no harm.
        """
        if not self._flushing.acquire(blocking=wait):
            return None
        try:
            with self._lock:
                memory = list(self._memory)
                head = self._read_spool()
            if head is None and not memory:
                return 0
            written = self._write_spooled(_spool_lines(head or ""), memory)
            with self._lock:
                taken = {id(row) for row in memory}
                self._memory = [row for row in self._memory if id(row) not in taken]
                self._down_until = 0.0
            for _ in range(FLUSH_ROUNDS):
                if not head:
                    break
                with self._lock:
                    now = self._empty_spool_if(head)
                if now is None or now == "" or not now.startswith(head):
                    break  # emptied; or unusable, or another process flushed first: the rest goes next time
                written += self._write_spooled(_spool_lines(now[len(head):]), [])
                head = now
            return written
        finally:
            self._flushing.release()

    def _read_spool(self) -> str | None:
        """The spool's text (None when the file cannot be used); call with ``_lock`` held."""
        try:
            with self._spool_file() as handle:
                handle.seek(0)
                return handle.read()
        except OSError:
            return None

    def _empty_spool_if(self, written: str) -> str | None:
        """Truncate the spool if it holds exactly ``written`` (all in the database), checked and
        done under one file lock, so a line another process spools meanwhile is never cut.
        Returns "" when emptied, else what the spool holds now (None when it cannot be used).
        Call with ``_lock`` held."""
        try:
            with self._spool_file() as handle:
                handle.seek(0)
                now = handle.read()
                if now != written:
                    return now
                handle.truncate(0)
                handle.flush()
                os.fsync(handle.fileno())
                return ""
        except OSError:  # left in place: written again next time, once by uuid
            logger.exception("decision log: could not empty the flushed spool %s", self.spool_path)
            return None

    def _write_spooled(self, lines: list[str], memory: list[dict]) -> int:
        rows, rejected = [], []
        for line in lines:
            try:
                rows.append(self._row_from_spool(line))
            except (ValueError, TypeError, InputError):
                rejected.append(line)
        rows += memory
        if not rows and not rejected:
            return 0
        self._ensure_schema()
        try:
            with self._write("write spooled decisions") as conn:
                written = sum(self._insert_decision(conn, row) for row in rows)
        except StoreUnavailable as exc:
            if not _refused_row(exc):
                self._down_until = time.monotonic() + RETRY_AFTER_S
                raise
            # The database refuses a row (not an outage): one at a time, so that row alone is set
            # aside and the others are written, rather than all of them waiting behind it forever.
            written, refused = 0, []
            for row in rows:
                try:
                    with self._write("write a spooled decision") as conn:
                        written += self._insert_decision(conn, row)
                except StoreUnavailable as one:
                    if not _refused_row(one):
                        self._down_until = time.monotonic() + RETRY_AFTER_S
                        raise
                    refused.append(_spool_line(row))
            if not written:  # no new row taken (rows it already holds are skipped): the database's state
                self._down_until = time.monotonic() + RETRY_AFTER_S  # is at fault (a migration, a sequence),
                raise exc                                            # not the rows: keep them
            rejected += refused
        if rejected:  # unreadable lines are kept for a person, not replayed forever
            logger.error("decision log: %d unreadable or refused spool lines moved to %s", len(rejected),
                         REJECTED_SPOOL_NAME)
            try:
                with open(self.spool_dir / REJECTED_SPOOL_NAME, "a", encoding="utf-8") as bad:
                    bad.write("\n".join(rejected) + "\n")
            except OSError as exc:  # kept in the spool rather than lost: written or set aside next time
                self._down_until = time.monotonic() + RETRY_AFTER_S
                raise StoreUnavailable(f"decision log: cannot set aside refused spool lines in "
                                       f"{REJECTED_SPOOL_NAME}: {exc}", stage="decision_log") from exc
        if written:
            logger.info("decision log: wrote %d spooled decisions", written)
        return written

    def _try_flush(self) -> None:
        if not self._spool_pending():
            return
        if time.monotonic() < self._down_until:  # a write just failed: a read does not wait on it again
            return
        try:
            self.flush_spool(wait=False)  # a read never waits for another thread's flush
        except Exception as exc:  # the caller goes on either way; the spool stays
            logger.warning("decision log: spool not flushed yet: %s", exc)

    # ----------------------------------------------------------------- writing

    def record(self, request: dict, result: dict, *, source: str, versions: dict,
               created_at: datetime | None = None) -> str:
        """Log one result; returns its decision uuid. Never raises: on failure the row is spooled."""
        try:
            row = self._decision_row(request, result, source, versions, created_at)
        except Exception:  # unrepresentable input still gets logged, as text
            logger.exception("decision log: odd record() input, storing it as text")
            row = self._decision_row({"repr": repr(request)[:20_000]}, {"repr": repr(result)[:20_000]},
                                     source, {"repr": repr(versions)[:2000]}, None)
        try:
            if self._down_until:  # known to be down: a request never waits on it again
                self._spool(row)
                self._probe_in_background()
                return row["uuid"]
            if not self._within(PG_WAIT_S, "record a decision", lambda: self._write_decision(row)):
                self._spool(row)  # another thread is flushing (older rows first): join the spool
        except Exception as exc:
            logger.warning("decision log: database unavailable (%s); spooling decision %s", exc, row["uuid"])
            self._down_until = time.monotonic() + RETRY_AFTER_S
            try:
                self._spool(row)
            except Exception:  # _spool already falls back to memory; this is belt and braces
                logger.exception("decision log: decision %s could not be kept", row["uuid"])
        return row["uuid"]

    def _write_decision(self, row: dict) -> bool:
        """Writes the spool, then ``row``; False (nothing written) while another thread flushes."""
        if self._spool_pending() and self.flush_spool(wait=False) is None:
            return False
        self._ensure_schema()
        with self._write("record a decision") as conn:
            self._insert_decision(conn, row)
        return True

    def _probe_in_background(self) -> None:
        """Once the retry wait is over, let one thread (at most) check whether the database is
        back and, if it is, write the spool to it. A database that hangs instead of refusing
        connections then costs that thread its connect timeout, and no request anything."""
        if time.monotonic() < self._down_until or not self._probing.acquire(blocking=False):
            return

        def probe() -> None:
            try:
                with self.engine.connect() as conn:  # no lock held while a dead database times out
                    conn.execute(sa.text("SELECT 1"))
                self.flush_spool()  # back: the spool goes first; this clears _down_until
            except Exception as exc:
                logger.info("decision log: database still unavailable (%s)", exc)
                self._down_until = time.monotonic() + RETRY_AFTER_S
            finally:
                self._probing.release()

        try:
            self._probe_thread = threading.Thread(target=probe, name="decision-log-probe", daemon=True)
            self._probe_thread.start()
        except Exception:  # no thread (interpreter shutting down): the next record() tries again
            self._probing.release()
            logger.warning("decision log: could not start the database probe", exc_info=True)

    def _decision_row(self, request, result, source, versions, created_at) -> dict:
        request = _jsonable(request if request is not None else {})
        result = _jsonable(result if result is not None else {})
        versions = _jsonable(versions if versions is not None else {})
        if not isinstance(request, dict):
            request = {"value": request}
        if not isinstance(result, dict):
            result = {"value": result}
        if not isinstance(versions, dict):
            versions = {"value": versions}
        moment = _lenient_time(created_at) or _now()
        return {
            "uuid": str(uuid.uuid4()),
            "request_id": _text(result.get("id")) or _text(request.get("id")),
            "source": _text(source) or "unknown",
            "created_at": moment,
            "channel": _text(request.get("channel")) or _text(result.get("channel")),
            "category": _text(result.get("category")),
            "priority": _text(result.get("priority")),
            "route": _text(result.get("route")),
            "queue": _text(result.get("queue")),
            "due_by": _lenient_time(result.get("due_by")),
            "resolved_tier": None,
            "resolved_at": None,
            "responded_at": None,
            "request": request,
            "result": result,
            "versions": versions,
        }

    def feedback(self, fb: dict) -> dict:
        """Attach what really happened to the newest decision for ``fb["id"]``.

        ``id`` is the request id; a decision uuid (what ``record()`` returned) works
        too, for requests that came without one. Unknown ids raise InputError(field="id").
        A live decision is preferred to an eval run's decision under the same id (eval rows
        stay out of the metrics, and the feedback with them).
        """
        data = _validate_feedback(fb)
        # A decision still in the spool must be findable. The flush has a read's time: after a
        # long outage it may write many rows, and that must not cost the feedback its own 5 s.
        # A flush that does not finish leaves the spool; a decision still in it makes a 503 below.
        try:
            self._within(PG_READ_WAIT_S, "write the spool", self._schema_then_flush)
        except StoreUnavailable:
            if not self._schema_ready:  # the database cannot be used at all: no second wait on it
                raise
        return self._within(PG_WAIT_S, "record feedback", lambda: self._feedback(data))

    def _schema_then_flush(self) -> None:
        self._ensure_schema()  # first: a schema that cannot be checked is not waited on twice
        self._try_flush()

    def _feedback(self, data: dict) -> dict:
        self._ensure_schema()
        now = _now()
        # Looked for in the database, then in the spool. A flush (another thread or process) may
        # write the decision and empty the spool between the two looks: it is in neither then, so
        # the database is looked at once more, in a new transaction (SQLite's WAL keeps the first
        # one's snapshot). The flush writes before it empties, so the second look finds it.
        for last_look in (False, True):
            with self._write("record feedback") as conn:
                newest = _newest_decision(decisions.c.uuid, decisions.c.request_id)
                # By request id, only a live decision: the metrics and the corrections leave eval
                # runs out, so feedback attached to one would be accepted and then count nowhere.
                target = conn.execute(newest.where(decisions.c.request_id == data["id"],
                                                   decisions.c.source != SOURCE_EVAL)).first()
                if target is None:  # by uuid, an eval run's too is refused: it would count nowhere
                    target = conn.execute(newest.where(decisions.c.uuid == data["id"],
                                                       decisions.c.source != SOURCE_EVAL)).first()
                if target is None and self._spooled(data["id"]):
                    # The flush above failed and the decision is one of those waiting in the spool.
                    raise StoreUnavailable(
                        f"decision log: no decision for request id {data['id']!r} in the database, and "
                        f"recent decisions are still spooled until it can be written; try again later",
                        stage="decision_log")
                if target is None and not last_look:
                    continue
                if target is None:
                    raise InputError(f"no decision for request id {data['id']!r}", field="id")
                values = {name: data[name] for name in _FEEDBACK_FIELDS}
                conn.execute(feedback_table.insert().values(
                    decision_uuid=target.uuid, request_id=target.request_id, created_at=now, **values))
                break
        out = {"id": data["id"], "decision_id": target.uuid}
        out.update({k: (iso(v) if isinstance(v, datetime) else v) for k, v in values.items() if v is not None})
        out["created_at"] = iso(now)
        return out

    def import_history(self, tickets: list[dict]) -> int:
        """Load past tickets (SPEC section 1 lines) as ``history`` decisions; returns how many were new.

        Idempotent by ticket id: a ticket seen before is updated in place, not
        added again. Tickets without ``created_at`` cannot be placed in time and
        are skipped, and so are tickets whose id already has a live decision (a request
        triaged here, then added to tickets.jsonl, is one request, not two): the ticket's
        resolution goes onto that decision where it has none (``_resolve_live``). Like
        ``record()``, the caller redacts personal data first.
        """
        rows = []
        for index, ticket in enumerate(tickets):
            row = _history_row(ticket, index)
            if row is not None:
                rows.append(row)
        skipped = len(tickets) - len(rows)
        if skipped:
            logger.info("decision log: %d history tickets without created_at skipped", skipped)
        for row in rows:
            if row["queue"] is None:
                row["queue"] = row["result"]["queue"] = self.queue_for(row["category"])
        by_uuid = {row["uuid"]: row for row in rows}  # a ticket listed twice counts once, last wins
        self._ensure_schema(wait=True)
        added = 0
        with self._db("import history"), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SET LOCAL lock_timeout = 0"))  # a bulk import may wait
            uuids = list(by_uuid)
            existing: set[str] = set()
            for start in range(0, len(uuids), 500):
                chunk = uuids[start:start + 500]
                existing.update(conn.execute(sa.select(decisions.c.uuid).where(decisions.c.uuid.in_(chunk))).scalars())
            ids = [row["request_id"] for row in by_uuid.values() if row["request_id"]]
            live: set[str] = set()
            for start in range(0, len(ids), 500):
                live.update(conn.execute(sa.select(decisions.c.request_id).where(
                    decisions.c.request_id.in_(ids[start:start + 500]),
                    decisions.c.source.not_in([SOURCE_HISTORY, SOURCE_EVAL]))).scalars())
            for key, row in by_uuid.items():
                if row["request_id"] in live:  # counted as the live decision it was
                    self._resolve_live(conn, row)
                    continue
                if key in existing:
                    conn.execute(decisions.update().where(decisions.c.uuid == key)
                                 .values(**{k: v for k, v in row.items() if k != "uuid"}))
                else:
                    added += self._insert_decision(conn, row)
        return added

    @staticmethod
    def _resolve_live(conn: Connection, row: dict) -> None:
        """A ticket's resolution (tier, times) written onto the newest live decision for its id,
        where that decision has none of its own: the request was triaged here, then exported
        with what happened to it. Feedback, when given, still wins (``metric_rows``)."""
        target = conn.execute(
            _newest_decision(decisions.c.uuid, decisions.c.resolved_tier, decisions.c.resolved_at,
                             decisions.c.responded_at)
            .where(decisions.c.request_id == row["request_id"],
                   decisions.c.source.not_in([SOURCE_HISTORY, SOURCE_EVAL]))).mappings().first()
        if target is None:
            return
        values = {name: row[name] for name in ("resolved_tier", "resolved_at", "responded_at")
                  if target[name] is None and row[name] is not None}
        if values:
            conn.execute(decisions.update().where(decisions.c.uuid == target["uuid"]).values(**values))

    # ----------------------------------------------------------------- reading

    def _conditions(self, *, since=None, until=None, category=None, route=None, queue=None,
                    include_eval: bool = True) -> list:
        conditions = []
        lo = parse_time(since, "since")
        hi = parse_time(until, "until", end_of_day=True)
        if lo is not None:
            conditions.append(decisions.c.created_at >= lo)
        if hi is not None:
            conditions.append(decisions.c.created_at < hi)
        for column, value in ((decisions.c.category, category), (decisions.c.route, route),
                              (decisions.c.queue, queue)):
            if value is not None and value != "":
                conditions.append(column == str(value))
        if not include_eval:
            conditions.append(decisions.c.source != SOURCE_EVAL)
        return conditions

    def _feedback_rows(self, conn: Connection, conditions: list) -> list:
        """The feedback given to the decisions ``conditions`` select, oldest first."""
        inner = sa.select(decisions.c.uuid).where(*conditions)
        query = (sa.select(feedback_table).where(feedback_table.c.decision_uuid.in_(inner))
                 .order_by(feedback_table.c.created_at, feedback_table.c.seq))
        return conn.execute(query).mappings().all()

    def _feedback_for(self, conn: Connection, conditions: list) -> dict[str, dict]:
        return _merge_feedback(self._feedback_rows(conn, conditions))

    def decisions(self, *, since=None, until=None, category=None, route=None, queue=None,
                  limit=100, whole_requests: bool = False) -> list[dict]:
        """Logged decisions, newest first, each with its merged feedback (or None).

        ``whole_requests``: with a window, every decision of each request logged in it too (the
        same request id), so a caller can place a request at its first arrival (``gaps``)."""
        if limit is not None:
            if isinstance(limit, bool) or not str(limit).strip().isdigit() or int(limit) < 1:
                raise InputError(f"limit must be a positive whole number, got {limit!r}", field="limit")
            limit = int(limit)
        conditions = self._conditions(since=since, until=until, category=category, route=route, queue=queue)
        if whole_requests:
            conditions = _whole_requests(conditions, self._conditions(category=category, route=route, queue=queue))
        rows, fbs = self._within(PG_READ_WAIT_S, "read decisions", lambda: self._read_decisions(conditions, limit))
        out = []
        for r in rows:
            fb = fbs.get(r["uuid"])
            out.append({
                "decision_id": r["uuid"],
                "id": r["request_id"],
                "source": r["source"],
                "created_at": iso(r["created_at"]),
                "channel": r["channel"],
                "category": r["category"],
                "priority": r["priority"],
                "route": r["route"],
                "queue": r["queue"],
                "due_by": iso(r["due_by"]),
                "resolved_tier": (fb or {}).get("resolved_tier", r["resolved_tier"]),
                "resolved_at": iso((fb or {}).get("resolved_at", r["resolved_at"])),
                "responded_at": iso((fb or {}).get("responded_at", r["responded_at"])),
                "request": r["request"],
                "result": r["result"],
                "versions": r["versions"],
                "feedback": None if fb is None else {k: iso(v) if isinstance(v, datetime) else v
                                                     for k, v in fb.items()},
            })
        return out

    def _read_decisions(self, conditions: list, limit: int | None) -> tuple[list, dict]:
        self._ensure_schema()
        self._try_flush()
        with self._db("read decisions"), self.engine.connect() as conn:
            query = (sa.select(decisions).where(*conditions)
                     .order_by(decisions.c.created_at.desc(), decisions.c.seq.desc()))
            if limit is not None:
                query = query.limit(limit)
            rows = conn.execute(query).mappings().all()
            uuids = [r["uuid"] for r in rows]
            return rows, (self._feedback_for(conn, [decisions.c.uuid.in_(uuids)]) if uuids else {})

    def metric_rows(self, *, since=None, until=None, include_eval: bool = False) -> list[dict]:
        """Flat rows for ``assistant.metrics.compute``: each decision with its feedback applied.

        With a window, every decision of each request logged in it (the same request id) is read,
        outside the window too: ``compute`` counts a request at its first arrival and with the
        feedback any of its decisions got (a retry the week after must not count it again there,
        nor lose its tier)."""
        conditions = _whole_requests(self._conditions(since=since, until=until, include_eval=include_eval),
                                     self._conditions(include_eval=include_eval))
        rows, feedback = self._within(PG_READ_WAIT_S, "read metrics", lambda: self._read_metric_rows(conditions))
        digests = {r["uuid"]: metrics_mod.request_digest(r["request"]) for r in rows}
        fbs = _feedback_per_request(rows, feedback, digests)
        out = []
        for r in rows:
            fb = fbs.get(r["uuid"], {})
            result = r["result"] if isinstance(r["result"], dict) else {}
            out.append({
                "id": r["request_id"],
                "seq": r["seq"],
                "request_digest": digests[r["uuid"]],
                "source": r["source"],
                "created_at": r["created_at"],
                "channel": r["channel"],
                "category": fb.get("category") or r["category"],
                "priority": fb.get("priority") or r["priority"],
                "predicted_category": r["category"] if r["source"] != SOURCE_HISTORY else None,
                "predicted_priority": r["priority"] if r["source"] != SOURCE_HISTORY else None,
                "route": r["route"],
                "queue": r["queue"],
                "reasons": result.get("reasons") or [],
                "due_by": r["due_by"],
                "resolved_tier": fb.get("resolved_tier") or r["resolved_tier"],
                "resolved_at": fb.get("resolved_at") or r["resolved_at"],
                "responded_at": fb.get("responded_at") or r["responded_at"],
                "outcome": fb.get("outcome"),
                "error": "error" in result,
            })
        return out

    def _read_metric_rows(self, conditions: list) -> tuple[list, dict]:
        self._ensure_schema()
        self._try_flush()
        columns = [c for c in decisions.c if c.name != "versions"]
        with self._db("read metrics"), self.engine.connect() as conn:
            return (conn.execute(sa.select(*columns).where(*conditions)).mappings().all(),
                    self._feedback_rows(conn, conditions))

    def metrics(self, *, since=None, until=None, period: str = "week", include_eval: bool = False,
                response_targets=None) -> dict:
        """The metrics of ``GET /v1/metrics`` (see ``assistant.metrics.compute``); ``response_targets``
        is ``Settings.response_clock`` or minutes per priority."""
        metrics_mod.check_period(period)
        rows = self.metric_rows(since=since, until=until, include_eval=include_eval)
        return metrics_mod.compute(rows, period=period, since=since, until=until, include_eval=include_eval,
                                   response_targets=response_targets)

    def corrections(self) -> list[dict]:
        """Training examples from feedback that corrected a category or a priority, oldest first.

        ``text`` is the redacted subject and body, ``label`` the corrected category
        (the logged one when only the priority was corrected), ``priority`` likewise.
        Eval runs are left out.
        """
        rows, fbs = self._within(PG_READ_WAIT_S, "read corrections", self._read_corrections)
        out = []
        for r in sorted(rows, key=lambda r: (r["created_at"], r["seq"])):
            fb = fbs[r["uuid"]]
            request = r["request"] if isinstance(r["request"], dict) else {}
            text = f"{request.get('subject') or ''}\n{request.get('body') or ''}".strip()
            label = fb.get("category") or r["category"]
            if not text or not label:
                continue
            corrected = [name for name in ("category", "priority") if fb.get(name) and fb[name] != r[name]]
            out.append({
                "text": text,
                "label": label,
                "priority": fb.get("priority") or r["priority"],
                "id": r["request_id"],
                "decision_id": r["uuid"],
                "corrected": corrected,
            })
        return out

    def _read_corrections(self) -> tuple[list, dict]:
        self._ensure_schema()
        self._try_flush()
        conditions = [decisions.c.source != SOURCE_EVAL]
        with self._db("read corrections"), self.engine.connect() as conn:
            fbs = self._feedback_for(conn, conditions)
            wanted = [u for u, fb in fbs.items() if fb.get("category") or fb.get("priority")]
            rows = []
            for start in range(0, len(wanted), 500):
                rows += conn.execute(
                    sa.select(decisions.c.uuid, decisions.c.request_id, decisions.c.request, decisions.c.category,
                              decisions.c.priority, decisions.c.created_at, decisions.c.seq)
                    .where(decisions.c.uuid.in_(wanted[start:start + 500]))
                ).mappings().all()
        return rows, fbs

    # ----------------------------------------------------------------- health

    def ping(self) -> bool:
        """True when the database answers and takes writes (``/readyz``); never raises.

        A write that touches no row, rolled back, finds a read-only or locked database (a
        locked SQLite file costs the busy timeout). When it succeeds after a failed write,
        the background probe writes the spool.
        """
        try:
            writable = self._within(PG_WAIT_S, "check the database", self._writable)
        except Exception:
            return False
        if not writable:
            return False
        if self._down_until:  # writable again: let the probe write the spool
            self._probe_in_background()
        return True

    def _writable(self) -> bool:
        self._ensure_schema()
        with self.engine.connect() as conn, conn.begin() as transaction:
            if self.dialect == "postgresql":  # rights and read-only state, no table lock taken
                writable = conn.execute(sa.text(
                    "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off' "
                    "AND has_table_privilege(:table, 'INSERT')"), {"table": decisions.name}).scalar()
            else:
                conn.execute(decisions.delete().where(sa.false()))
                writable = True
            transaction.rollback()
        return bool(writable)

    def close(self) -> None:
        """Flush what can be flushed and release the connections."""
        if self._probe_thread is not None:
            self._probe_thread.join(timeout=PG_CONNECT_TIMEOUT_S + 5)
        try:
            self._within(PG_WAIT_S, "flush the spool", self._try_flush)
        except StoreUnavailable as exc:  # the rows stay in the spool for the next start
            logger.warning("%s", exc.message)
        if self._memory:
            logger.error("decision log: %d decisions only in memory at close; spooling them", len(self._memory))
            with self._lock:
                pending, self._memory[:] = list(self._memory), []
            for row in pending:
                self._spool(row)
        self.engine.dispose()

    def __enter__(self) -> "DecisionLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
