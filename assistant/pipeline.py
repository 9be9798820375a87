"""The triage pipeline: the one place that knows the order of the stages.

    SupportRequest
      -> input guardrails (personal data, prompt injection, risky topics)
      -> classify (category, calibrated confidence, out-of-scope abstention)
      -> priority (learnt, with P0 rules)
      -> retrieve (hybrid, filtered by surface)
      -> route (answer or escalate, queue, reasons)
      -> answer (LLM when configured, else extractive) or holding message
      -> output guardrails (no echoed personal data, no staff-only text, no unsupported facts)
      -> decision log

>>> pipeline = Pipeline.load(settings)                                  # doctest: +SKIP
>>> pipeline.run(SupportRequest(channel="chat", body="Xtime not syncing")).route  # doctest: +SKIP
'answer'
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from assistant import __version__
from assistant.answer import ExtractiveAnswerer
from assistant.classifier import Classifier, Prediction
from assistant.config import Settings
from assistant.errors import IndexMissing, LLMUnavailable
from assistant.llm import one_budget
from assistant.llm_stage import SourcesDoNotAnswer, UngroundedAnswer
from assistant.manifest import MANIFEST, collection_for
from assistant.markup import every_text, visible_text
from assistant.messages import REASON_ORDER, due_by, holding_message, passed_on, retimed, shown_below
from assistant.evidence import RetrievalEvidence
from assistant.handoff import (MISSING_QUESTIONS, HandoffBuilder, askable_kinds, extract_facts, missing_facts,
                               raise_priority)
from assistant.models import OUT_OF_SCOPE, Citation, Part, SupportRequest, TriageResult
from assistant.priority import PriorityModel
from assistant.requests_io import echo_id
from assistant.splitter import RequestSplitter, stands_alone, strip_envelope
from assistant.training import CLASSIFIER_FILE, PRIORITY_FILE
from guardrails import MAX_SEGMENTS, fold_input, remember_segment, reply_history, too_long
from guardrails.action import StaffActionDetector
from guardrails.coverage import StaffOnlyTerms
from guardrails.injection import InjectionDetector
from guardrails.off_topic import OffTopic
from guardrails.output import OutputGuard, mask_staff_only, staff_identifiers, staff_only_strings
from guardrails.pii import WITHHELD, PiiDetector
from guardrails.risk import RiskDetector, RiskResult
from ingestion.chunker import ticket_requests
from retrieval.embedder import Embedder
from retrieval.index import VectorIndex
from retrieval.retriever import DocHit, Retriever

log = logging.getLogger(__name__)

# Cosine similarity of the best chunk that counts as "the sources cover this",
# per surface, and below which (with classifier abstention) a request is out of
# scope. Chosen on the held-out dev set by benchmarks/bench_thresholds.py.
MIN_SUPPORT = {"email": 0.45, "chat": 0.50}
# Out of scope needs both signals: weak retrieval support AND a low in-scope score
# from the classifier (its abstention). ``in_scope`` is the share of held-out
# genuine requests that looked less in-scope than this one. Support is judged on every
# runbook, staff-only ones too (0.30 was chosen on dev on the surface's own sources), and
# it also counts as weak when the request is OFF_TOPIC_MARGIN closer to a generic off-topic
# request (guardrails/off_topic.py) than to any runbook. The margin is the one of least cost
# (a PAM request called out of scope counting twice) on the 440 lines of
# benchmarks/bench_off_topic.py, chosen and measured on the same lines: off-topic requests
# missed 43 -> 33 of 170, PAM requests called out of scope 23 -> 13 of 270. Dev out-of-scope
# recall / precision 0.90 / 0.82 (`assistant eval`).
OOS_SUPPORT = 0.30
OOS_IN_SCOPE = 0.70
OFF_TOPIC_MARGIN = 0.10
# A generic off-topic exemplar that the KB's own runbooks cover at the email coverage bar is
# left out for this deployment ("xero bank feed stopped syncing" is a payroll product's
# question). The bar is MIN_SUPPORT's, not a new one. benchmarks/bench_off_topic.py --covered:
# on the sample KB it leaves out 3 of 295 and costs one more off-topic line missed (cost 58 ->
# 59 of 440 held-out lines), eval sets and kb_alt unchanged; on tests/fixtures/kb_payroll (not
# used for choosing) a Xero sync question stops being out of scope.
OFF_TOPIC_COVERED: float | None = MIN_SUPPORT["email"]
# Reasons a guardrail gives: a part of an email flagged with one decides, even out of scope.
_GUARD_REASONS = {"risky_topic", "security_incident", "pii_detected", "prompt_injection"}
# The risk detector's own threshold (0.852) is chosen for F0.5 on its held-out
# lines, one at a time. A whole request is scored by its best sentence or run of up to
# three consecutive sentences, and on whole requests the highest recall with ordinary false
# alarms near 4% is at 0.72: dev 10/10 risky caught, 6/122 ordinary flagged; 44/60 and
# 7/60 on held-out emails whose risk spans sentences, the set that chose the runs
# (benchmarks/bench_risk_dev.py; the red team, 14/18 and 4/87, is the check).
RISK_THRESHOLD = 0.72
# A data breach (security incident: P0, the security queue) flags at a bar of its own, chosen
# by benchmarks/bench_security.py on guardrails/data/security_heldout.jsonl (60 incidents,
# most told without incident words, and 60 ordinary login and account requests, written for
# this choice) and dev: the bar with the best F2 on that set (a missed incident costs more than
# a false alarm) that flags no ordinary dev request the shipped bar did not. At 0.72: 36/60
# incidents caught, 5/60 ordinary flagged; at 0.68: 39/60 and 6/60. The red team, the
# held-out emails and the sample KB's tickets only check it.
SECURITY_THRESHOLD = 0.68
# On chat, a question goes to a person when a staff-only runbook matches it better
# than the best customer article by this margin. On the dev set's chat cases, -0.02
# caught 9 of 15 internal-only questions but also escalated answerable ones on topics
# that have both a customer and an internal runbook (Xtime); 0.05 caught 3 of 15 and
# none of the answerable ones (benchmarks/bench_thresholds.py prints the pairs).
# Misses are answered from a customer article, so they never leak staff-only text.
INTERNAL_MARGIN = 0.05
STAFF_WORDS_SUPPORT = 0.45
# The margin misses questions that name something only staff documents talk about
# ("can you force a full resync?", "what's your policy on service credits?"): those
# go to a person when the closest internal runbook covers the question (similarity at
# least STAFF_WORDS_SUPPORT) and shares with it a word that no customer runbook uses
# (guardrails/coverage.py). Measured with benchmarks/bench_thresholds.py on dev chat:
# 6 more of 37 escalations caught (unsafe answers 13 -> 7) and none of the 31
# answerable questions escalated, at any bar from 0.35 to 0.55; 0.45 is the default
# email coverage bar, the level that already means "a source covers this".
# A chat question that asks staff to do something on their side (guardrails/action.py:
# precision 1.00, recall 0.35 on 150 unseen chat lines of ten other products) goes to a person when the
# closest staff-only runbook is at least this close: the procedure is staff-only, and
# a customer article on the same topic cannot perform it. On dev chat (37 escalations,
# 31 answerable questions, none of which asks staff to act) the rule takes the
# escalations caught from 30 to 33 at any bar from 0.25 to 0.35 and to 32 at 0.40-0.50,
# and escalates no answerable question at any bar (benchmarks/bench_thresholds.py);
# 0.35 is the highest bar that catches all three.
ACTION_SUPPORT = 0.35
SNIPPET_CHARS = 240
# An error result's request is kept to this many characters a field (a line that is no request
# at all, _KEPT_LINE), read _READ_PAST characters further for personal data the cut goes through.
_KEPT_FIELD, _KEPT_LINE, _READ_PAST = 20_000, 2_000, 200
# Opens the line of a reply that asks for the facts a cited runbook needs.
ASK_FOR_FACTS = "\n\nTo help us check this for you, could you also send: "
# Opens an email suggestion drawn from a staff-only runbook (see ``Pipeline._answer``).
STAFF_GUIDE_NOTE = ("[For OPS: this suggestion quotes a staff-only runbook. Use it to do the work and reply in "
                    "your own words; do not send its steps to the customer as they are.]\n\n")
# The place a question's menu path is written: asked at the end of an answer only where the cited
# source shows that path too (the output guard has already run; nothing after it may add a path).
_PATH_IN_QUESTION = re.compile(r"\s*\(in ([^()]*>[^()]*?)(?:,[^()]*)?\)")
# When a cited runbook asks for one of these facts, and the request lacks it, the reply asks for it.
_NEEDS = {
    "request_id": re.compile(r"request id", re.I),
    "call_time": re.compile(r"call time|time of the call|time and date|date and time", re.I),
    "store": re.compile(r"which (store|rooftop|location)|store name|rooftop", re.I),
    "example_call": re.compile(r"example call|request id|call time", re.I),
}


def _asked(question: str, source_text: str) -> str:
    """``question`` as an answer may ask it: without its menu path when the source lacks that path."""
    m = _PATH_IN_QUESTION.search(question)
    if m is None or " ".join(m.group(1).split()) in " ".join(source_text.replace("*", "").split()):
        return question
    return question[:m.start()] + question[m.end():]


@dataclass
class Signals:
    """Everything the router decides from; also the ``rationale``."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, reason: str, note: str) -> None:
        if reason not in self.reasons:
            self.reasons.append(reason)
        self.notes.append(note)


def arrival_time() -> datetime:
    """When a request arrives: now, in UTC (tests replace it to place a request in the week)."""
    return datetime.now(timezone.utc)


def _subject_lines(request: SupportRequest) -> int:
    """How many first lines of ``request.text`` are its subject."""
    subject = request.subject.strip()
    return subject.count("\n") + 1 if subject and request.body.strip() else 0


def _manifest_problem(manifest) -> str | None:
    """What is wrong with a manifest's shape, in the parts the pipeline reads, or None. Valid JSON
    of the wrong shape ("thresholds": null, thresholds as text) failed at load with a traceback,
    or on the first request, losing every line of an `assistant ask` run."""
    if not isinstance(manifest, dict):
        return "not a JSON object"
    thresholds = manifest.get("thresholds", {})
    confidence = thresholds.get("confidence", {}) if isinstance(thresholds, dict) else None
    if not isinstance(confidence, dict):
        return "thresholds.confidence is not an object"
    for surface, value in confidence.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            return f"thresholds.confidence.{surface} is not a number from 0 to 1"
    collection = manifest.get("collection")
    if collection is not None and not (isinstance(collection, str) and 3 <= len(collection) <= 63):
        return "collection is not a Chroma collection name"
    try:
        RetrievalEvidence.from_json(manifest.get("retrieval_evidence"))
    except (AttributeError, KeyError, TypeError, ValueError):
        return "retrieval_evidence is not a table of labels and likelihoods"
    return None


class Pipeline:
    """Loaded once per process; ``run`` is safe to call from several threads."""

    def __init__(self, settings: Settings, embedder, index: VectorIndex, classifier: Classifier,
                 priority: PriorityModel, manifest: dict, decision_log=None, llm=None):
        self.settings, self.embedder, self.manifest = settings, embedder, manifest
        self.index = index
        self.retriever = Retriever(index, embedder, top_k=settings.top_k)
        self.classifier, self.priority = classifier, priority
        self.extractive = ExtractiveAnswerer(self.retriever)
        self.pii = PiiDetector()
        self.injection = InjectionDetector(embedder)
        self.off_topic = OffTopic(embedder).without_covered(self.retriever.runbook_vectors(), OFF_TOPIC_COVERED)
        self.risk = RiskDetector(embedder, threshold=RISK_THRESHOLD, security_threshold=SECURITY_THRESHOLD,
                                 background=ticket_requests(zip(self.retriever.texts, self.retriever.metas)))
        self.staff_action = StaffActionDetector()
        self.output_guard = OutputGuard()
        self.handoff = HandoffBuilder()
        self.splitter = RequestSplitter(embedder)
        self.decision_log = decision_log
        self.llm = llm
        conf = manifest.get("thresholds", {}).get("confidence", {})
        self.min_confidence = {
            "email": settings.min_confidence_email if settings.min_confidence_email is not None else conf.get("email", 0.6),
            "chat": settings.min_confidence_chat if settings.min_confidence_chat is not None else conf.get("chat", 0.7),
        }
        self.min_support = {
            "email": settings.min_support_email if settings.min_support_email is not None else MIN_SUPPORT["email"],
            "chat": settings.min_support_chat if settings.min_support_chat is not None else MIN_SUPPORT["chat"],
        }
        self._staff_only = self._collect_staff_only()
        # The closest runbook's category, weighed against the classifier (assistant/evidence.py);
        # absent in indexes built before it existed.
        self.evidence = RetrievalEvidence.from_json(manifest.get("retrieval_evidence"))
        # The facts this KB's customer runbooks speak of: only those are asked of a customer.
        runbooks: dict[str, list[str]] = {}
        for t, m in zip(self.retriever.texts, self.retriever.metas):
            if m.get("kind") == "runbook" and m.get("audience", "customer") == "customer":
                runbooks.setdefault(m["doc_id"], []).append(t)
        self.askable = askable_kinds("\n".join(chunks) for chunks in runbooks.values())
        self.staff_terms = StaffOnlyTerms(
            (m["doc_id"], m.get("audience", "customer"), f"{m.get('title', '')} {m.get('section', '')} {t}")
            for t, m in zip(self.retriever.texts, self.retriever.metas) if m.get("kind") == "runbook")

    # -- loading -------------------------------------------------------------------
    @classmethod
    def load(cls, settings: Settings, embedder=None, decision_log=None, llm=None) -> "Pipeline":
        index_dir = settings.index_dir
        manifest_path = index_dir / MANIFEST
        if not manifest_path.exists():
            raise IndexMissing(f"no index in {index_dir}: run `assistant ingest KB --index {index_dir}` first")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, ValueError) as exc:
            raise IndexMissing(f"the index manifest {manifest_path} is corrupt: run `assistant ingest` again") from exc
        problem = _manifest_problem(manifest)
        if problem:
            raise IndexMissing(f"the index manifest {manifest_path} is corrupt ({problem}): run `assistant ingest` again")
        embedder = embedder or Embedder.default()
        index = VectorIndex.open(index_dir, chroma_url=settings.chroma_url, namespace=collection_for(
            index_dir, manifest, settings.chroma_url, settings.chroma_collection))
        classifier = Classifier.load(index_dir / CLASSIFIER_FILE, embedder)
        priority = PriorityModel.load(index_dir / PRIORITY_FILE, embedder)
        if settings.p0_threshold is not None:
            priority.p0_threshold = settings.p0_threshold
        return cls(settings, embedder, index, classifier, priority, manifest, decision_log, llm)

    @property
    def versions(self) -> dict:
        return {"assistant": __version__, "model": self.manifest.get("model"),
                "index": self.manifest.get("index_version"), "contents": self.manifest.get("contents"),
                "built_at": self.manifest.get("built_at"),
                "llm": self.settings.llm_model if self.settings.llm_enabled else None}

    def _collect_staff_only(self) -> list[str]:
        """Staff-only strings of the internal runbooks: they must never leave on chat, nor in the
        text of an email suggestion. Codes, internal hosts, channels and approval amounts by
        their shape; other identifiers (URLs, dashed codes, PINs, commands in code spans) when
        no customer runbook uses them too, so a KB written another way is covered as well."""
        found: set[str] = set()
        internal, customer = [], []
        for text, meta in zip(self.retriever.texts, self.retriever.metas):
            if meta.get("kind") != "runbook":
                continue
            if meta.get("audience") == "internal":
                internal.append(text)
                found.update(staff_only_strings(text))
            else:
                customer.append(text)
        found.update(staff_identifiers(internal, customer))
        return sorted(found)

    # -- the run ---------------------------------------------------------------------
    def run(self, request: SupportRequest, *, source: str = "cli") -> TriageResult:
        """Triage one request (split into parts when one email holds several), then log it.
        Its model calls, one per part, share one time budget (``llm_budget_s``)."""
        with one_budget(self.settings.llm_budget_s):
            return self._run(request, source=source)

    def _run(self, request: SupportRequest, *, source: str) -> TriageResult:
        started = time.perf_counter()
        # One arrival time for every part, deadline and holding message of this request.
        now = arrival_time()
        logged = request
        # An HTML body is read as a mail client shows it (assistant/markup.py) by everything that
        # reads what it asks; the prompt-injection check reads the markup too, where a comment or a
        # display:none span hides text from a reader, and the decision log keeps it (``_redacted``).
        shown = self._check("markup", None, visible_text, request.body)
        markup = self._redact(request.text) if shown else ""  # redacted once, read by both checks below
        request = request.model_copy(update={"body": shown}) if shown else request
        # An email too long for the guardrails to read in full is triaged whole (where that
        # escalates it): splitting it first would only embed its hundreds of units for nothing.
        split = request.channel == "email" and not too_long(request.text)
        segments = self.splitter.run(request.subject, request.body) if split else []
        # A reply whose new text asks something of its own is triaged on that text, as one part:
        # the quoted history under it is what was asked before ("Can you change the greeting?"
        # above a quoted outage report is no outage). A reply that cannot stand alone ("Still
        # broken.") is triaged whole, its history the context it needs.
        replied = (len(segments) == 1 and reply_history(request.body) is not None
                   and stands_alone(segments[0].text))
        # The whole email's personal data, found once and redacted once for the whole-email checks below.
        findings, whole = None, ""
        if len(segments) > 1 or replied:
            findings = self._check("personal data", None, self.pii.run, request.text)
            whole = WITHHELD if findings is None else self._check(
                "personal data", None, self.pii.redact, request.text, findings, default=WITHHELD)
        if (len(segments) > 1 or replied) and self._tainted(whole, markup):
            # An instruction to the assistant anywhere (a P.S., a forwarded part, a quote) taints
            # the whole email: it is escalated as one, and no part of it gets an answer.
            segments, replied = [], False
        result = None
        if len(segments) > 1 or replied:
            # A reply's one part is the whole request less its history: the subject is its own.
            parts = [SupportRequest(id=request.id, channel=request.channel,
                                    subject=request.subject if replied else "", body=seg.text) for seg in segments]
            # The subject and the signature stay with every part as context for the hand-off's
            # facts ("req_8f3a21", "Dana, Lakeside Kia": the store is not asked for again): they
            # are not part of what each part asks, so they are not classified with it.
            signature = request.body[strip_envelope(request.body)[1]:].strip()
            context = self._redact("\n".join(x for x in (request.subject, signature) if x))
            results = [self._triage(p, now=now, context=context) for p in parts]
            result = self._merge_parts(parts, results, now)
            if self._risk_outside_parts(whole, result) or self._pii_outside_parts(request, findings, result):
                result = None  # a legal threat in a P.S., an SSN in the subject: the email is triaged whole
            # The P0 rule reads what is written now: a quoted outage notice under a reply's new
            # points ("PAM was not answering any calls ... The issue is resolved") is history,
            # whether the reply is one part or several.
            elif self._p0_outside_parts(self._written_now(whole), result):
                # "URGENT: PAM is not answering any calls" in the subject: the part it belongs to
                # (the one that reads most like P0 with it) is triaged again with the subject, so
                # its priority, holding message and hand-off all say P0; the others keep theirs.
                i = max(range(len(parts)), key=lambda k: self.priority.p0_signal(f"{context}\n{parts[k].body}")[1])
                parts[i] = parts[i].model_copy(update={"subject": request.subject})
                results[i] = self._triage(parts[i], now=now)
                result = self._merge_parts(parts, results, now)
                if result.priority != "P0":
                    result = None  # no part carries it even so: the email is triaged whole
            if result is not None and replied:
                result.parts = None  # one request: its new text
        if result is None:
            result = self._triage(request, now=now, markup=markup)
        result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
        self._log(logged, result, source, now)
        return result

    def _merge_parts(self, parts: list[SupportRequest], results: list[TriageResult], now: datetime) -> TriageResult:
        """One result for an email of several requests; every part keeps its own triage in ``parts``.

        The top level follows what people still have to do: when any in-scope part goes to a
        person, the email escalates with the most urgent such part (its queue, reasons, hand-off
        and response target), and the reply carries its holding message, the answers to the
        other parts and who else has the rest. When every part is answered, the reply numbers
        the answers. An out-of-scope aside (a P.S. about a typo, "unrelated, but...") decides
        nothing while another part is in scope, unless a guardrail flagged it (a legal threat,
        an incident, personal data): then it decides like an in-scope part, and the email keeps
        the category of its in-scope parts (and the queue and holding message that go with it).
        Only an email that is all out of scope is an out-of-scope result. The email's priority
        (and response target) is its most urgent deciding part's, answered or not.
        """
        in_scope = [i for i, r in enumerate(results) if r.category != OUT_OF_SCOPE]
        # An out-of-scope part still decides when a guardrail flagged it: a legal threat or a
        # security incident the classifier cannot place is never a mere aside.
        deciding = [i for i, r in enumerate(results) if i in in_scope or _GUARD_REASONS & set(r.reasons)]
        in_scope = in_scope or list(range(len(results)))
        escalated = [i for i in (deciding or in_scope) if results[i].route == "escalate"]
        pool = escalated or in_scope

        def gravity(i: int) -> int:  # at equal priority, the part with the graver reason leads (a breach over a gap)
            return min((REASON_ORDER.index(r) for r in results[i].reasons if r in REASON_ORDER), default=len(REASON_ORDER))

        first = min(pool, key=lambda i: (results[i].priority, gravity(i), i))
        top = results[first].model_copy(deep=True)
        top._measures = results[first]._measures
        recategorised = top.category == OUT_OF_SCOPE and first not in in_scope
        if recategorised:  # the email itself is about PAM
            lead = min(in_scope, key=lambda i: (results[i].priority, i))
            top.category, top.category_confidence = results[lead].category, results[lead].category_confidence
        top.parts = [Part(text=" ".join(self._redact(p.body).split())[:300], category=r.category,
                          category_confidence=r.category_confidence, priority=r.priority, route=r.route,
                          queue=r.queue, reasons=r.reasons) for p, r in zip(parts, results)]
        answered = [results[i] for i in in_scope if results[i].route == "answer"]
        # Two parts the same guide answers alike get that answer once (the one that asks for more facts).
        alike: dict[str, TriageResult] = {}
        for r in answered:
            key = r.answer.split(ASK_FOR_FACTS)[0]
            if key not in alike or len(r.answer) > len(alike[key].answer):
                alike[key] = r
        answered = list(alike.values())
        others = [r for i, r in enumerate(results) if r.route == "escalate" and i != first]  # asides too
        # The email is as urgent as its most urgent part, answered or not: a P0 outage with a
        # suggested reply still needs OPS now, whichever part goes to a person; that person acts
        # (and the holding message tells the customer) at the email's priority.
        urgent = min((deciding or in_scope), key=lambda i: (results[i].priority, i))
        raised = results[urgent].priority if results[urgent].priority < top.priority else None
        if top.route == "answer":
            if len(answered) > 1:
                top.answer = "\n\n".join(f"{n}. {r.answer}" for n, r in enumerate(answered, start=1))
        else:
            top.reasons = [r for r in REASON_ORDER if any(r in results[i].reasons for i in escalated)
                           if r != OUT_OF_SCOPE or top.category == OUT_OF_SCOPE]
            if recategorised:  # the queue and the holding message follow the email's own category
                top.queue = self._queue(top.category, top.reasons)
                top.answer = holding_message(top.reasons, top.priority, top.queue, self.settings.response_clock,
                                             scope=self.settings.scope, now=now)
                if top.handoff is not None:
                    top.handoff.category, top.handoff.queue = top.category, top.queue
            chunks = [retimed(top.answer, top.priority, raised, self.settings.response_clock, now) if raised else top.answer]
            if answered:
                chunks.append("Meanwhile, on the other point(s) in your email:")
                chunks += [f"{n}. {r.answer}" for n, r in enumerate(answered, start=1)]
            top.answer = "\n\n".join(chunks)
        if others:
            top.answer += "\n\n" + passed_on([(r.queue, r.priority) for r in others], self.settings.response_clock, now)
        seen: set[str] = set()
        top.citations = [c for r in [top, *answered] for c in r.citations
                         if not (c.source_id in seen or seen.add(c.source_id))]
        if raised:
            top.priority, top.due_by = raised, due_by(raised, self.settings.response_clock, now)
            why = f"{raised}: part {urgent + 1} of the email is {raised}"
            top.rationale = f"{top.rationale}; {why}" if top.rationale else why
            if top.handoff is not None:  # its person must see the urgent part too, not only their own point
                raise_priority(top.handoff, raised, self._redact(parts[urgent].body))
        return top

    @staticmethod
    def _written_now(redacted: str) -> str:
        """A reply (redacted) without its quoted history: the P0 rule reads what is the case now,
        as it reads a quote in ">" lines (a quoted outage that is over is no outage)."""
        cut = reply_history(redacted) if redacted != WITHHELD else None
        return redacted[:cut] if cut is not None else redacted

    def _p0_outside_parts(self, redacted: str, merged: TriageResult) -> bool:
        """Whether the whole email (subject included) reads as P0 while no part does: parts are
        triaged without the subject, so "URGENT: PAM is not answering any calls" in the subject
        would leave the email at its parts' priority, promising a P2 reply for an outage."""
        if merged.priority == "P0" or redacted == WITHHELD:
            return False
        return self.priority.p0_signal(redacted)[0] is not None

    def _triage(self, request: SupportRequest, *, now: datetime, context: str = "", markup: str = "") -> TriageResult:
        """One request triaged; ``markup`` is its text as it came (redacted) when its body was HTML."""
        surface = request.channel
        signals = Signals()

        # Input guardrails. Everything after this point sees redacted text only. A check that
        # fails cannot decide: the request goes to a person (low_confidence), never crashes.
        findings = self._check("personal data", signals, self.pii.run, request.text)
        # Unchecked text is redacted anyway (or withheld): it must not reach the log or a model as is.
        if findings or findings is None:  # the findings are passed on: detection runs once
            text = self._check("personal data", signals, self.pii.redact, request.text, findings, default=WITHHELD)
        else:
            text = request.text
        # Whether a phone number was there, for the hand-off; a detector that failed may have missed one.
        phones_found = findings is None or any(f.kind == "phone" for f in findings)
        findings = findings or []
        if findings and self._check("personal data", signals, self.pii.asks_to_act_on, request.text, findings,
                                    subject_lines=_subject_lines(request)):
            signals.add("pii_detected", f"personal data to act on: {sorted({f.kind for f in findings})}")
        # One encoder pass gives the classifier's features and the retrieval vector; the
        # vector also serves the guardrails when the request is a single sentence.
        features, vectors = self.classifier.encode([text])
        vector = vectors[0]
        remember_segment(self.embedder, text, vector)
        # An HTML request is checked as it reads and as it came, where what the markup hides from
        # a reader (a comment, a display:none span) is read too; the higher score speaks for both.
        checked = [self._check("prompt injection", signals, self.injection.run, t)
                   for t in ([text, markup] if markup else [text])]
        inj = max((c for c in checked if c is not None), key=lambda c: c.score, default=None)
        if inj is not None and inj.flagged:
            signals.add("prompt_injection", f"prompt injection (score {inj.score:.2f}: {', '.join(inj.signals[:3])})")
        # The detectors read the first MAX_SEGMENTS pieces only, of the text and of its markup.
        long_markup = bool(markup) and too_long(markup) and not too_long(text)
        if long_markup or too_long(text):
            signals.add("low_confidence", f"too long for the guardrails to read in full "
                                          f"(over {MAX_SEGMENTS} sentences or lines{' of its markup' if long_markup else ''})")
        if any(c is not None and c.unread for c in checked):  # obfuscated pieces past MAX_READINGS
            signals.add("low_confidence", "too many disguised pieces (look-alike or spaced-out letters, ROT13, leetspeak) "
                                          "for the guardrails to read in full")
        risk = self._check("risky topic", signals, self.risk.run, text, default=RiskResult(None, None, 0.0))
        if risk.kind:
            why = f"; {risk.why}" if risk.why else ""  # flagged by a rule, not the score
            signals.add(risk.kind, f"{risk.kind}: {risk.topic} (score {risk.score:.2f}{why})")

        guard_reasons = list(signals.reasons)
        closest = self.retriever.best_match(vector, audience=None)  # (doc id, cosine), any audience
        pred = self._with_evidence(self.classifier.predict([text], features=features)[0], vector, closest)
        prio = self.priority.run(text, vector)
        priority, prio_note = prio.priority, prio.rationale
        if risk.kind == "security_incident":
            priority = "P0"
            if prio.priority != "P0":  # the rationale says what made it P0, not only what was learnt
                prio_note += "; P0: a possible security incident"

        hits = self.retriever.run(text, surface=surface, vector=vector)
        support = hits.support  # coverage is judged on runbooks; past tickets only add context
        if surface == "email":  # OPS reviews email suggestions: similar past tickets help them
            hits.hits += self.retriever.run(text, surface=surface, vector=vector, kind="ticket", top_k=2).hits
        category = pred.label
        # The top runbook's category agreeing with the classifier is independent evidence
        # for the category: on the dev set every low-confidence prediction that agreed
        # was right, and 10 of 13 that disagreed were wrong.
        agrees = bool(hits.hits) and hits.hits[0].category == pred.label and support >= self.min_support[surface]
        # Scope is judged on every runbook, whatever this surface may quote: a chat question
        # that only a staff-only runbook covers is still a PAM request.
        runbook = max(support, closest[1])
        off_topic = self.off_topic.similarity(vector)
        weak = (f"no runbook is similar (best {shown_below(runbook, OOS_SUPPORT)} < {OOS_SUPPORT:.2f})" if runbook < OOS_SUPPORT else
                f"closer to an off-topic request ({off_topic:.2f}) than to any runbook ({runbook:.2f})"
                if off_topic - runbook >= OFF_TOPIC_MARGIN else None)
        if (pred.abstain or pred.in_scope < OOS_IN_SCOPE) and weak:
            category = OUT_OF_SCOPE
            signals.add("out_of_scope", f"classifier abstains (in-scope {pred.in_scope:.2f}) and {weak}")
        else:
            if pred.confidence < self.min_confidence[surface] and not agrees:
                signals.add("low_confidence", f"category confidence {shown_below(pred.confidence, self.min_confidence[surface])} < "
                                              f"{self.min_confidence[surface]:.2f} for {surface}")
            staff_only = (self._check("staff-only source", signals, self._internal_covers, text, vector, support)
                          if surface == "chat" else None)
            if staff_only:
                signals.add("internal_only_source", staff_only)
            elif support < self.min_support[surface]:
                signals.add("not_covered", f"best source similarity {shown_below(support, self.min_support[surface])} < "
                                           f"{self.min_support[surface]:.2f} for {surface}")

        queue = self._queue(category, signals.reasons)
        answer, used = "", []
        if not signals.reasons:
            answer, used = self._answer(text, hits.hits, surface, findings, signals)
        reasons = sorted(signals.reasons, key=REASON_ORDER.index)
        said = f"{context}\n{text}" if context else text  # what the customer told us, subject included
        facts = extract_facts(said, phones_found, other_dealer=risk.topic == "other_dealer_data")
        # Whether it asks how to do something is read from the request (a split email's part), the
        # facts from everything the customer told us (subject and signature included).
        missing = missing_facts(facts, category, text, reasons, askable=self.askable)
        handoff = None
        if reasons:
            used = hits.hits if surface != "chat" else [h for h in hits.hits if h.audience == "customer"]
            if "prompt_injection" in reasons:
                used = []  # an attack gets nothing to read, not even on the staff surface
            # As in an answer, a question names a menu path only where a cited source shows it.
            source_text = " ".join(c.text for h in used for c in h.chunks) if missing else ""
            questions = [_asked(MISSING_QUESTIONS[k], source_text) for k in missing]
            answer = holding_message(reasons, priority, queue, self.settings.response_clock, missing=questions,
                                     scope=self.settings.scope, now=now)
            seen_hits = hits.hits
            if surface == "chat" and "internal_only_source" in reasons:
                # The staff-only runbook that answers it, for the person who takes over (by id only).
                staff = [h for h in self.retriever.run(text, surface="email", vector=vector).hits
                         if h.kind == "runbook" and h.audience != "customer"][:1]
                seen_hits = staff + hits.hits
            handoff = self.handoff.run(text=text, category=category, priority=priority, queue=queue, reasons=reasons,
                                       hits=seen_hits, support=support, surface=surface,
                                       min_support=self.min_support[surface], facts=facts, missing=missing)
        elif missing and used:
            # Ask for exactly the facts the cited runbook needs and the request lacks.
            needs = [k for k in missing if _NEEDS.get(k) and _NEEDS[k].search(" ".join(c.text for c in used[0].chunks))]
            if needs:
                source_text = " ".join(c.text for h in used for c in h.chunks)
                answer += (ASK_FOR_FACTS
                           + "; ".join(_asked(MISSING_QUESTIONS[k], source_text) for k in needs) + "?")

        result = TriageResult(
            id=request.id, category=category, category_confidence=round(pred.confidence, 4),
            priority=priority, route="escalate" if reasons else "answer", queue=queue, reasons=reasons,
            answer=answer, citations=self._citations(used, surface),
            rationale=self._rationale(pred, prio_note, support, signals.notes,
                                      staff_only=self._staff_only if surface == "chat" else ()),
            due_by=due_by(priority, self.settings.response_clock, now), handoff=handoff,
        )
        result._measures = {"confidence": pred.confidence, "in_scope": pred.in_scope, "abstain": pred.abstain,
                            "support": support, "off_topic": off_topic, "best_runbook": runbook, "label": pred.label,
                            "guard_reasons": guard_reasons,
                            "top_category": hits.hits[0].category if hits.hits else None}
        return result

    def _risk_outside_parts(self, redacted: str, merged: TriageResult) -> bool:
        """Whether the whole email touches a risky topic or an incident that no part carries:
        the splitter leaves greetings, signatures, a P.S. under them and legal notices out of
        every part, so "P.S. someone hacked our admin login" would otherwise go unread. An
        incident counts even when a part is already a risky topic (it is P0 and goes to the
        security queue). A check that fails counts as flagged (the whole email is then
        triaged, where the same failure sends it to a person)."""
        if "security_incident" in merged.reasons:
            return False
        if redacted == WITHHELD:
            return True
        found = self._check("risky topic", None, self.risk.run, redacted)
        if found is None or found.kind == "security_incident":
            return True  # a part's refund dispute must not hide "P.S. someone hacked our admin login"
        return found.kind is not None and "risky_topic" not in merged.reasons

    def _pii_outside_parts(self, request: SupportRequest, findings, merged: TriageResult) -> bool:
        """Whether the whole email (subject included) hands over personal data to act on that no
        part was flagged for: parts are triaged without the subject and the signature, so "my SSN
        078-05-1120" in either would otherwise go unread. ``findings`` are the email's (None: the
        check failed, which counts as found)."""
        if "pii_detected" in merged.reasons:
            return False
        if findings is None:
            return True
        return bool(findings) and self._check("personal data", None, self.pii.asks_to_act_on, request.text, findings,
                                              default=True, subject_lines=_subject_lines(request))

    def _redact(self, text: str, default: str = WITHHELD) -> str:
        """Personal data redacted; when the detector fails, ``default`` (the text is withheld, never kept as is)."""
        return self._check("personal data", None, self.pii.redact, text, default=default) if text else text

    def _tainted(self, redacted: str, markup: str = "") -> bool:
        """Whether an email (redacted) holds an injection anywhere, its ``markup`` (its text as it
        came, redacted, when its body was HTML) included; a check that fails counts as tainted (the
        email is then triaged whole, where the same failure sends it to a person). An email too
        long to check in full is never split (``run``), nor one whose markup is too long or whose
        disguised pieces were not all read (``InjectionResult.unread``): triaged whole, it escalates."""
        texts = [redacted, markup] if markup else [redacted]
        if WITHHELD in texts or (markup and too_long(markup)):
            return True  # nothing (or not all) left to check: the email stays whole, where that escalates it
        found = [self._check("prompt injection", None, self.injection.run, text) for text in texts]
        return any(f is None or f.flagged or f.unread for f in found)

    @staticmethod
    def _check(name: str, signals: Signals | None, guard, *args, default=None, **kwargs):
        """Run one guardrail. One that fails cannot decide, so the request goes to a person
        (low_confidence in ``signals``, the failure named in the rationale) instead of crashing;
        the caller gets ``default``."""
        try:
            return guard(*args, **kwargs)
        except Exception as exc:  # any failure of a check means "unchecked": a person looks
            log.exception("%s check failed", name)
            if signals is not None:
                signals.add("low_confidence", f"the {name} check could not decide ({type(exc).__name__}); "
                                              "a person handles this request")
            return default

    def _with_evidence(self, pred: Prediction, vector, closest: tuple[str | None, float] | None = None) -> Prediction:
        """The classifier's prediction updated by the category of the closest runbook (any audience:
        only its category is used); ``closest`` is that runbook's ``best_match``, when already known."""
        if self.evidence is None:
            return pred
        doc_id, _ = closest if closest is not None else self.retriever.best_match(vector, audience=None)
        return self.evidence.apply(pred, self.retriever.category_of(doc_id))

    def _internal_covers(self, text: str, vector, support: float) -> str | None:
        """Why only a staff-only runbook answers this chat question, or None when a customer one may.

        Three signals: the closest internal runbook matches clearly better than any customer
        one (INTERNAL_MARGIN); or it covers the question (STAFF_WORDS_SUPPORT) and shares
        with it a word no customer runbook uses (the question names a staff-only matter);
        or it covers the question and the question asks staff to do something on their
        side (guardrails/action.py: "can you push a refresh", "can their numbers be
        moved"), which no customer article can do for them.

        Measured and not adopted: "the staff-only runbook ranks first among all runbooks"
        (hybrid ranking). On the dev set's chat cases it caught 8 of 15 internal-only
        questions, but it also escalated the plainest customer question there is ("we
        accepted the Xtime invite, how long does it take?"), on a topic that has both a
        customer and an internal runbook.
        """
        doc_id, internal = self.retriever.best_match(vector, audience="internal")
        if internal >= self.min_support["chat"] and internal - support >= INTERNAL_MARGIN:
            return f"a staff-only runbook covers this better than any customer one ({internal:.2f} vs {support:.2f})"
        if internal >= STAFF_WORDS_SUPPORT:
            words = self.staff_terms.run(text, doc_id)
            if words:
                return f"asks about {', '.join(words[:3])}, which only staff-only runbooks cover"
        if internal >= ACTION_SUPPORT:
            action = self.staff_action.run(text)
            if action.flagged:
                return (f"asks staff to act (\"{action.evidence[0]}\"); staff-only runbook {doc_id} "
                        f"covers it ({internal:.2f})")
        return None

    def _queue(self, category: str, reasons: list[str]) -> str:
        if "security_incident" in reasons:
            return self.settings.reason_queue("security")
        if "risky_topic" in reasons:
            return self.settings.reason_queue("risky")
        return self.settings.queue_for(category)

    def _answer(self, text: str, hits: list[DocHit], surface: str, findings, signals: Signals):
        """The reply and the documents it rests on; a failure to answer adds its reason to ``signals``."""
        draft = self.extractive.run(hits, surface=surface)
        if not draft.text:
            signals.add("not_covered", "no source the surface may see")
            return "", []
        answer, used, model_wrote = draft.text, draft.used, False
        if self.llm is not None:
            try:
                answer, used = self.llm.run(text, hits, surface, staff_only=self._staff_only,
                                            forbidden=[f.text for f in findings])
                model_wrote = True
                signals.notes.append("answer written by the model and grounded in its sources")
            except LLMUnavailable as exc:
                if getattr(self.settings, f"llm_fallback_{surface}") == "escalate":
                    signals.add("llm_unavailable", f"model unavailable: {exc.message}")
                    return "", []
                signals.notes.append(f"model unavailable ({exc.message}); extractive answer")
            except SourcesDoNotAnswer as exc:
                # The model is the better judge of whether a source answers the question: both
                # surfaces hand over (on email the extractive draft would quote the same sources).
                signals.add("not_covered", exc.message)
                return "", []
            except UngroundedAnswer as exc:
                if surface == "chat":  # nobody reviews a chat reply: a doubtful answer goes to a person
                    signals.add("low_confidence", exc.message)
                    return "", []
                signals.notes.append(f"{exc.message}; extractive answer instead")
            except Exception as exc:  # the grounding check itself failed: the reply is unchecked
                log.exception("model answer could not be checked")
                signals.add("low_confidence", f"the grounding check could not decide ({type(exc).__name__}); "
                                              "a person handles this request")
                return "", []
        # A model's reply rests on the sources it cites alone: the extractive draft's passages
        # (its top runbook may be one the model did not cite) back no path or number of it.
        text_out, outcome = self._guard_reply(answer, used, [] if model_wrote else draft.quoted, surface, findings,
                                              signals)
        if outcome == "empty" and model_wrote and surface == "email":
            # As for an ungrounded model reply: OPS gets the extractive suggestion instead.
            signals.notes.append("nothing of the model's reply was left after the output guard; extractive answer")
            answer, used = draft.text, draft.used
            text_out, outcome = self._guard_reply(answer, used, draft.quoted, surface, findings, signals)
        if outcome == "ok" and answer == draft.text and draft.only_frame(text_out):
            # Every quoted sentence was removed (a staff-only address in each): "Here is what our
            # guide says:" with nothing after it answers nothing.
            outcome = "empty"
        if outcome == "empty":
            signals.add("low_confidence", "the output guard removed every sentence of the reply")
        if outcome == "ok" and surface == "email" and any(h.audience != "customer" for h in used):
            # The output guard takes out staff-only strings by their shape; a staff-only procedure
            # told in plain words ("page the on-call engineer", "Reynolds needs Shaheer's approval")
            # stays, so OPS is told the suggestion is their guide, not a reply to send as it is.
            signals.notes.append("the suggestion quotes a staff-only runbook")
            text_out = STAFF_GUIDE_NOTE + text_out
        return (text_out, used) if outcome == "ok" else ("", [])

    def _guard_reply(self, answer: str, used: list[DocHit], quoted: list[str], surface: str, findings,
                     signals: Signals) -> tuple[str, str]:
        """The reply as the output guard leaves it, and "ok", "empty" (nothing safe was left) or
        "stop" (the reply must not leave; the reason is in ``signals``).

        Staff-only strings never stay in a reply. On chat one means the question was answered
        from staff-only material, so it goes to a person. On email the reply is a suggestion
        for OPS, who also see the cited staff-only runbook: the sentences are left out of the
        text they would send to the dealership, and the rest stands.
        """
        # The cited runbooks' titles are their text too: "Here is what our guide "... penalty credits"
        # says" quotes a title, and its "credits" is no promise of the reply's own.
        sources = [h.title for h in used if h.title] + [c.text for h in used for c in h.chunks] + quoted
        # Only markers citing these runbooks are no claims: "[https://...]" or "[free of charge]" is text.
        check = self._check("output", signals, self.output_guard.run, answer, request_findings=findings,
                            sources=sources, staff_only=self._staff_only, source_ids=[h.doc_id for h in used])
        if check is None:  # the reply could not be checked: it does not leave
            return "", "stop"
        if not check.problems:
            return answer, "ok"
        if surface == "chat" and any(p.startswith("staff_only") for p in check.problems):
            signals.add("internal_only_source", f"output guard: {', '.join(check.problems)}")
            return "", "stop"
        signals.notes.append(f"output guard removed: {', '.join(check.problems)}")
        return (check.text, "ok") if check.text.strip() else ("", "empty")

    def _citations(self, hits: list[DocHit], surface: str) -> list[Citation]:
        out = []
        for h in hits:
            if surface == "chat" and (h.kind != "runbook" or h.audience != "customer"):
                continue  # checked again on the way out: chat never carries internal text
            best = max(h.chunks, key=lambda c: c.dense) if h.chunks else None
            snippet = " ".join(best.text.split())[:SNIPPET_CHARS] if best else ""
            if self.pii and snippet:
                snippet = self._redact(snippet)
            out.append(Citation(source_id=h.doc_id, title=h.title, score=round(h.score, 4), snippet=snippet,
                                kind=h.kind, audience=h.audience))
        return out

    def _rationale(self, pred, prio_note: str, support: float, notes: list[str], staff_only=()) -> str:
        """Why: the signals and every note. On chat, a note that quotes a staff-only string (a
        problem the output guard or the grounding check found) has it masked."""
        parts = [f"category {pred.label} at {pred.confidence:.2f} (in-scope {pred.in_scope:.2f})",
                 f"priority {prio_note}", f"best source similarity {support:.2f}"]
        rationale = mask_staff_only("; ".join(parts + notes), staff_only)
        # A note may quote the model's reply, which may hold personal data in a form the output guard
        # wrote back plainly ("dana.smith@gmail。com" as an unsupported link): redacted. A detector
        # that fails leaves it as it is (the request, and so the model, saw only withheld text then).
        return self._redact(rationale, default=rationale)

    def log_error(self, raw, result: dict, *, source: str) -> None:
        """Log an error result: a request that could not be read, or could not be triaged.

        SPEC section 7 logs every result; these count as ``errors`` in the metrics and
        nowhere else. ``raw`` is what came in (a dict, a line of text, or None), stored
        with its personal data redacted like any request."""
        if self.decision_log is None:
            return
        # Folded as a request's text is (zero-width and no-break spaces, en dashes), so that
        # personal data written that way is found here too; cut to a size the log keeps, but read
        # past the cut first: a card number the cut goes through is no valid card on its own, and
        # its first digits would be stored.
        if isinstance(raw, dict):
            channel = raw.get("channel") if raw.get("channel") in ("email", "chat") else None
            subject, body = (fold_input(str(raw.get(name) or "")[:_KEPT_FIELD + _READ_PAST]) for name in ("subject", "body"))
            request = self._redacted(echo_id(raw.get("id")), channel, subject, body, keep=_KEPT_FIELD)
        else:
            line = fold_input(str(raw or "")[:_KEPT_LINE + _READ_PAST])
            findings = self._check("personal data", None, self.pii.run, line)
            request = {"raw": self._redact_within(line, findings, 0, _KEPT_LINE)}
        self.decision_log.record(request, result, source=source, versions=self.versions)

    def _log(self, request: SupportRequest, result: TriageResult, source: str, arrived: datetime) -> None:
        if self.decision_log is None:
            return
        redacted = self._redacted(request.id, request.channel, request.subject, request.body)
        # Logged at its arrival, the moment due_by counts from: the report counts a corrected
        # priority's deadline again from created_at, and triage can take seconds (a model call).
        self.decision_log.record(redacted, result.public(), source=source, versions=self.versions, created_at=arrived)

    def _redacted(self, rid, channel, subject: str, body: str, keep: int | None = None) -> dict:
        """A request as the decision log stores it: personal data redacted, each field cut to
        ``keep`` characters when given (a finding the cut goes through is redacted whole).

        Subject and body are read as one text, as the request is triaged, so that a label in
        the subject ("My SSN", "Driver's license") marks the number that opens the body; each
        is then redacted with the findings that fall in it.

        An HTML body is stored as it reads (``body``, which the gaps, the corrections and the
        console read) and as it came (``body_html``), each redacted on its own.
        """
        shown = self._check("markup", None, visible_text, body)
        findings = self._check("personal data", None, self.pii.run, f"{subject}\n{shown or body}")
        request = {"id": rid, "channel": channel, "subject": self._redact_within(subject, findings, 0, keep),
                   "body": self._redact_within(shown or body, findings, len(subject) + 1, keep)}
        if shown:
            request["body_html"] = self._redacted_markup(subject, body, keep)
        return request

    def _redacted_markup(self, subject: str, markup: str, keep: int | None) -> str:
        """An HTML body redacted as ``_redacted`` does, or withheld when what it holds, shown or
        hidden (attributes, comments, the head), still holds personal data: the markup spelled it
        in a way the pass over the markup cannot read ("4111&nbsp;1111 ...", "&#64;" for "@", a
        phone number cut by tags)."""
        findings = self._check("personal data", None, self.pii.run, f"{subject}\n{markup}")
        kept = self._redact_within(markup, findings, len(subject) + 1, keep)
        if kept == WITHHELD:
            return kept
        for reading in (self._check("markup", None, visible_text, kept), self._check("markup", None, every_text, kept)):
            left = self._check("personal data", None, self.pii.run, f"{subject}\n{reading}") if reading else []
            if left is None or any(f.start > len(subject) for f in left):
                return WITHHELD
        return kept

    def _redact_within(self, text: str, findings: list | None, offset: int, keep: int | None) -> str:
        """``text`` (found at ``offset`` of the text ``findings`` were read in) cut to ``keep``
        characters and redacted with the findings that fall in what is kept, clipped to it;
        withheld when the detector failed (``findings`` None)."""
        if not text:
            return text
        if findings is None:
            return WITHHELD
        text = text if keep is None else text[:keep]
        inside = [replace(f, start=max(f.start - offset, 0), end=min(f.end - offset, len(text)))
                  for f in findings if f.end > offset and f.start < offset + len(text)]
        return self._check("personal data", None, self.pii.redact, text, inside, default=WITHHELD)
