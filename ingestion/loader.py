"""Load and validate a knowledge-base folder (SPEC section 1).

Every problem is reported with file, line and field; the bad document is skipped
and every good one is kept, so one typo never blocks an ingest.

>>> kb = KnowledgeBaseLoader().run(Path("kb/sample"))    # doctest: +SKIP
>>> len(kb.documents), [p.message for p in kb.problems]   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant.errors import IngestError, InputError
from assistant.metrics import parse_time
from assistant.models import OUT_OF_SCOPE, PRIORITIES
from assistant.requests_io import not_utf8, shown_value, utf8_lines

AUDIENCES = ("customer", "internal")


class _TextLoader(yaml.SafeLoader):
    """YAML as written: a plain value is its text, except an empty one or ``null``/``~``. YAML 1.1
    reads "id: 0042" as the number 34 (octal), "id: 12:30" as 750, "title: 3.10" as 3.1 and
    "tags: [on, off]" as booleans; a runbook's id and title are what its author typed."""


class _FieldTwice(yaml.YAMLError):
    """A field given twice; ``line`` and ``first`` count from the front matter's first line (0)."""

    def __init__(self, name: str, line: int, first: int):
        super().__init__(name)
        self.name, self.line, self.first = name, line, first


def _once_each(loader: _TextLoader, node, deep: bool = False):
    """A mapping whose fields are each given once: YAML keeps the last of two, so a runbook
    saying "audience: internal" and, further down, "audience: customer" was quoted on chat."""
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            line = key_node.start_mark.line
            if key_node.value in seen:
                raise _FieldTwice(key_node.value, line, seen[key_node.value])
            seen[key_node.value] = line
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_TextLoader.construct_mapping = _once_each
_TextLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:null"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
def _bad_label_message(label: str) -> str:
    return f"bad category {label!r} (a label is printable text of up to 64 characters; {OUT_OF_SCOPE!r} is reserved)"


def _good_label(label: str) -> bool:
    """A KB brings its own labels (SPEC section 3): any printable text of up to 64 characters
    with no surrounding spaces ("pam_core", "mobile-app", "Fleet Portal"; no zero-width or
    line-separator characters); ``out_of_scope`` is reserved."""
    return 0 < len(label) <= 64 and label.isprintable() and label == label.strip() and label != OUT_OF_SCOPE


@dataclass
class KBDocument:
    """One runbook or past ticket, validated."""

    id: str
    kind: str  # "runbook" | "ticket"
    title: str
    category: str
    audience: str  # tickets are always "internal": they hold other dealerships' details
    body: str
    path: str
    line: int = 1
    category_line: int | None = None  # a runbook's "category:" line, for the unknown-category problem
    tags: list[str] = field(default_factory=list)
    priority: str | None = None
    resolution: str | None = None
    resolved_tier: int | None = None
    created_at: str | None = None
    # What the decision log's history reads besides (a ticket's first response, resolution and
    # deadline, and the channel it came in by): passed on, not embedded or shown.
    resolved_at: str | None = None
    responded_at: str | None = None
    due_by: str | None = None
    channel: str | None = None

    @property
    def content_hash(self) -> str:
        """Changes whenever anything that is embedded or shown changes."""
        payload = json.dumps(
            [self.kind, self.title, self.category, self.audience, self.body, self.tags,
             self.priority, self.resolution],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def classifier_text(self) -> str:
        return f"{self.title}\n{self.body}"

    def as_ticket(self) -> dict:
        return {
            "id": self.id, "subject": self.title, "body": self.body, "category": self.category,
            "priority": self.priority, "resolution": self.resolution,
            "resolved_tier": self.resolved_tier, "created_at": self.created_at,
            "resolved_at": self.resolved_at, "responded_at": self.responded_at, "due_by": self.due_by,
            "channel": self.channel,
        }


@dataclass
class KnowledgeBase:
    """What a KB folder held: the good documents and the problems found."""

    root: Path
    documents: list[KBDocument]
    problems: list[IngestError]
    # Ids used by more than one document: the first one is in ``documents``, but which one was
    # meant is unclear, so an index that already holds the id keeps it (see Indexer).
    # An id two files claim -> the files after the first (whose document is in ``documents``).
    duplicated: dict[str, list[str]] = field(default_factory=dict)
    # Files that look like runbooks but are not read (SPEC: runbooks/*.md): "runbooks/sub/x.md",
    # "runbooks/X.MD". Not problems, so nothing is kept for them; ingest names them.
    ignored: list[str] = field(default_factory=list)

    @property
    def runbooks(self) -> list[KBDocument]:
        return [d for d in self.documents if d.kind == "runbook"]

    @property
    def tickets(self) -> list[KBDocument]:
        return [d for d in self.documents if d.kind == "ticket"]

    @property
    def labels(self) -> list[str]:
        return sorted({d.category for d in self.documents})


def _field_line(front_lines: list[str], name: str, offset: int) -> int:
    """Line number (1-based, in the file) of a front-matter key, or of the opening '---'."""
    for i, line in enumerate(front_lines):
        if re.match(rf"^{re.escape(name)}\s*:", line):
            return offset + i
    return 1


class KnowledgeBaseLoader:
    """Reads ``runbooks/*.md`` and ``tickets.jsonl`` and validates them against the SPEC.

    A past ticket is what a customer wrote: its subject, body and resolution are read with their
    personal data redacted ("call me 317-555-0158" is "call me [PHONE]"), so no phone number,
    address or card of another dealership's customer reaches the index, the classifier, a
    model's prompt, a citation or the decision log. Runbooks are written by the support team
    and kept as they are (a help line in one is for quoting).
    """

    def __init__(self) -> None:
        from guardrails.pii import PiiDetector

        self.pii = PiiDetector()

    def run(self, root: Path) -> KnowledgeBase:
        root = Path(root)
        if not root.is_dir():
            raise IngestError("not a folder (expected runbooks/ and tickets.jsonl inside)", path=str(root))
        problems: list[IngestError] = []
        tickets = self._load_tickets(root / "tickets.jsonl", problems)
        runbooks = self._load_runbooks(root / "runbooks", problems)
        if not runbooks and not tickets and not problems:
            found = [name for name, there in (("runbooks/", (root / "runbooks").is_dir()),
                                              ("tickets.jsonl", (root / "tickets.jsonl").is_file())) if there]
            raise IngestError("no runbooks/*.md and no tickets.jsonl found" if not found else
                              f"nothing to index: {' and '.join(found)} {'are' if len(found) > 1 else 'is'} "
                              f"empty (no runbooks/*.md, no ticket lines)", path=str(root))

        # The label set is learnt from the tickets (SPEC 3); a runbook must use one of them.
        ticket_labels = {t.category for t in tickets}
        documents: list[KBDocument] = []
        seen: dict[str, KBDocument] = {}
        duplicated: dict[str, list[str]] = {}
        for doc in tickets + runbooks:
            if doc.kind == "runbook" and ticket_labels and doc.category not in ticket_labels:
                problems.append(IngestError(
                    f"unknown category {doc.category!r} (the tickets use: {', '.join(sorted(ticket_labels))})",
                    path=doc.path, line=doc.category_line or doc.line, field="category"))
                continue
            if doc.id in seen:
                first = seen[doc.id]
                problems.append(IngestError(
                    f"duplicate id {doc.id!r} (first used in {first.path}:{first.line})",
                    path=doc.path, line=doc.line, field="id", doc_id=doc.id if doc.kind == "ticket" else None))
                duplicated.setdefault(doc.id, []).append(str(doc.path))
                continue
            seen[doc.id] = doc
            documents.append(doc)
        folder = root / "runbooks"
        ignored = sorted(str(p) for p in (folder.rglob("*") if folder.is_dir() else ())
                         if p.is_file() and p.suffix.lower() == ".md" and (p.parent != folder or p.suffix != ".md"))
        return KnowledgeBase(root=root, documents=documents, problems=problems, duplicated=duplicated,
                             ignored=ignored)

    # -- tickets ---------------------------------------------------------------------
    def _load_tickets(self, path: Path, problems: list[IngestError]) -> list[KBDocument]:
        if not path.exists():
            return []
        out = []
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(IngestError(f"cannot read the file ({exc.strerror or exc})", path=str(path)))
            return []
        for lineno, raw in utf8_lines(data):  # one bad byte costs its own line only
            if isinstance(raw, UnicodeDecodeError):
                problems.append(IngestError(not_utf8(raw), path=str(path), line=lineno))
                continue
            if not raw.strip():
                continue
            try:
                out.append(self._ticket(json.loads(raw), str(path), lineno))
            except json.JSONDecodeError as exc:
                problems.append(IngestError(f"bad JSON: {exc.msg} (column {exc.colno})", path=str(path), line=lineno))
            except RecursionError:
                problems.append(IngestError("bad JSON: nested too deeply", path=str(path), line=lineno))
            except IngestError as exc:
                problems.append(exc)
            except ValueError as exc:  # a number of thousands of digits
                problems.append(IngestError(f"bad JSON: {str(exc).split(';')[0]}", path=str(path), line=lineno))
        return out

    def _ticket(self, obj, path: str, line: int) -> KBDocument:
        named = obj.get("id") if isinstance(obj, dict) and isinstance(obj.get("id"), (str, int)) else None
        named = None if isinstance(named, bool) else named  # "id": true names no ticket

        def bad(msg, field):  # names the line's ticket when it can: only that one is kept in the index
            return IngestError(msg, path=path, line=line, field=field,
                               doc_id=str(named).strip() if named is not None and str(named).strip() else None)

        if not isinstance(obj, dict):
            raise bad("expected a JSON object", None)
        for name in ("id", "subject", "body", "resolution"):
            if isinstance(obj.get(name), (dict, list, bool)):  # "{'a': 1}" would be no text anyone wrote
                raise bad(f"field {name!r} must be text, got {type(obj[name]).__name__}", name)
        tid = obj.get("id")
        if tid is None or str(tid).strip() == "":
            raise bad("missing required field 'id'", "id")
        subject = str(obj.get("subject") or "").strip()
        body = str(obj.get("body") or "").strip()
        if not subject and not body:
            raise bad("ticket needs 'subject' or 'body'", "body")
        category = obj.get("category")
        if not isinstance(category, str) or not category.strip():
            raise bad("missing required field 'category'", "category")
        if not _good_label(category):
            raise bad(_bad_label_message(category), "category")
        priority = obj.get("priority")
        if priority is not None and priority not in PRIORITIES:
            raise bad(f"unknown priority {priority!r} (expected one of {', '.join(PRIORITIES)})", "priority")
        tier = obj.get("resolved_tier")
        if tier is not None and (isinstance(tier, bool) or not isinstance(tier, int) or tier not in (1, 2, 3)):
            raise bad(f"resolved_tier must be 1, 2 or 3, got {tier!r}", "resolved_tier")
        for name in ("created_at", "resolved_at", "responded_at", "due_by"):  # as the decision log reads them
            try:
                parse_time(obj.get(name), name)
            except InputError as exc:
                raise bad(exc.message, name) from None
        channel = obj.get("channel")
        if channel is not None and channel not in ("email", "chat"):
            raise bad(f"channel must be 'email' or 'chat', got {shown_value(channel)}", "channel")
        resolution = str(obj["resolution"]).strip() if obj.get("resolution") else None
        try:
            subject, body, resolution = (self.pii.redact(t) if t else t for t in (subject, body, resolution))
        except Exception as exc:  # never kept unchecked: the ticket is left out, with its line named
            raise bad(f"could not check the ticket for personal data ({type(exc).__name__})", None) from None
        return KBDocument(
            id=str(tid).strip(), kind="ticket", title=subject, category=category, audience="internal",
            body=body, path=path, line=line, priority=priority, resolution=resolution,
            resolved_tier=tier, created_at=obj.get("created_at"), resolved_at=obj.get("resolved_at"),
            responded_at=obj.get("responded_at"), due_by=obj.get("due_by"), channel=channel,
        )

    # -- runbooks --------------------------------------------------------------------
    def _load_runbooks(self, folder: Path, problems: list[IngestError]) -> list[KBDocument]:
        if not folder.is_dir():
            return []
        out = []
        for path in sorted(folder.glob("*.md")):
            try:
                out.append(self._runbook(path))
            except IngestError as exc:
                problems.append(exc)
            except OSError as exc:  # a folder named *.md, a file without read permission
                problems.append(IngestError(f"cannot read the file ({exc.strerror or exc})", path=str(path)))
        return out

    def _runbook(self, path: Path) -> KBDocument:
        p = str(path)
        try:
            text = path.read_text(encoding="utf-8-sig")  # a byte-order mark is no text
        except UnicodeDecodeError as exc:
            line = exc.object[:exc.start].count(b"\n") + 1  # the line of the first bad byte
            raise IngestError(f"not UTF-8 text ({exc.reason})", path=p, line=line) from exc
        lines = text.splitlines()
        if not lines or lines[0].strip() != "---":
            raise IngestError("missing YAML front matter (the file must start with a '---' line)", path=p, line=1)
        try:
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        except StopIteration:
            raise IngestError("front matter is not closed by a '---' line", path=p, line=1) from None
        front_lines = lines[1:end]
        try:
            meta = yaml.load("\n".join(front_lines), Loader=_TextLoader) or {}
        except _FieldTwice as exc:  # the front matter starts on the file's second line
            raise IngestError(f"field {exc.name!r} is given twice (first on line {exc.first + 2}): which one is "
                              "meant cannot be told", path=p, line=exc.line + 2, field=exc.name) from None
        except RecursionError:  # "tags: [[[[..." deeper than the parser can go
            raise IngestError("front matter is not valid YAML: nested too deeply", path=p, line=2) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 2 if mark is not None else 1
            raise IngestError(f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}", path=p, line=line) from exc
        if not isinstance(meta, dict):
            raise IngestError("front matter must be a mapping of fields", path=p, line=2)

        def bad(msg, name):
            return IngestError(msg, path=p, line=_field_line(front_lines, name, 2), field=name)

        for name in ("id", "title", "category", "audience"):
            if meta.get(name) is None or str(meta[name]).strip() == "":  # "id: '   '" is no id either
                raise bad(f"missing required field {name!r}", name)
            if isinstance(meta[name], (list, dict, bool)):  # "id: [a, b]" is no id
                raise bad(f"field {name!r} must be one text value, got {type(meta[name]).__name__}", name)
        category = str(meta["category"])
        if not _good_label(category):
            raise bad(_bad_label_message(category), "category")
        audience = str(meta["audience"])
        if audience not in AUDIENCES:
            raise bad(f"unknown audience {audience!r} (expected customer or internal)", "audience")
        tags = meta.get("tags") or []
        if not isinstance(tags, list):
            raise bad("tags must be a list", "tags")
        body = "\n".join(lines[end + 1:]).strip()
        if not body.strip("-").strip():  # "---" alone is no body either
            raise IngestError("empty body", path=p, line=end + 2, field="body")
        if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines[end + 1:]):
            raise IngestError("the body has headings and no text under them", path=p, line=end + 2, field="body")
        return KBDocument(
            id=str(meta["id"]).strip(), kind="runbook", title=str(meta["title"]).strip(),
            category=category, audience=audience, body=body, path=p,
            line=_field_line(front_lines, "id", 2), category_line=_field_line(front_lines, "category", 2),
            tags=[str(t) for t in tags],
        )
