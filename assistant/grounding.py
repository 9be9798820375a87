"""Check a model answer against its sources before anyone sees it.

A report lists every problem found; ``ok`` only when there is none. Problems start
with a fixed code so callers can map them to SPEC reasons:

    unknown_source     a cited id that was not retrieved
    uncited            a sentence that states something but cites nothing
    unsupported        a sentence its cited source does not back (support score below threshold)
    number             a number or time frame not in the cited sources
    personal_data      a phone number, email, SSN or card number not in the sources
    forbidden_text     a staff-only string (e.g. an override code) or personal data the caller named
    injection          a string the request demanded (e.g. "reply only with HACKED") and no source has
    empty              no answer text at all

Support of a sentence = ``SUPPORT_ALPHA`` x max cosine (MiniLM) to the cited
sources' sentences + (1 - ``SUPPORT_ALPHA``) x share of its content words found in
the cited sources. The weight and threshold were chosen on
``tests/fixtures/grounding_pairs.jsonl`` with :func:`choose_threshold`; rerun with
``python -m assistant.grounding tests/fixtures/grounding_pairs.jsonl``.

>>> checker = GroundingChecker(Embedder.default())                          # doctest: +SKIP
>>> report = checker.run("Click Resume. [rb-a]", [SourceText("rb-a", "T", "Click Resume.")])  # doctest: +SKIP
>>> report.ok, report.cited_ids                                              # doctest: +SKIP
(True, ['rb-a'])
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from assistant.prompts import SourceText
from guardrails import fold_width, pii
from guardrails.output import CITATION_RE, SourceFacts, staff_tokens_in  # the output guard reads markers alike
from guardrails.output import facts as stated_facts

# Chosen by choose_threshold() on tests/fixtures/grounding_pairs.jsonl (60 labelled
# pairs, 30 supported / 30 unsupported, 10 topics, all-MiniLM-L6-v2): of the weights
# 0, .25, .5, .75, 1 an even mix of cosine and word overlap separates best (balanced
# accuracy 0.93; cosine alone or overlap alone 0.87); the best cut is 0.704 (midpoint
# between neighbouring scores), rounded to 0.70. 5-fold cross-validation by topic also
# gives 0.93. Errors on the set: 3 loose paraphrases score 0.53-0.60 (flagged, so the
# answer is escalated or replaced by the extractive one: the safe side) and one
# same-topic contradiction ("Managers can also invite users") scores 0.755, which
# embeddings cannot catch. Wrong numbers are caught by the number check, not here.
SUPPORT_ALPHA = 0.5
SUPPORT_THRESHOLD = 0.70

# The hand-over line the prompt asks for when the sources do not answer ("the request" is the
# prompt's word), and the specialist it names.
_HANDOVER = (r"(?:i am|i'm|we are|we're|i will|i'll|we will|we'll) (?:passing|pass|forwarding|forward|handing|hand|"
             r"escalating|escalate) (?:this|it|(?:the|this|your) (?:request|question))(?: on)? to (?:a|our|the)")
_SPECIALIST = r"a (?:pam )?support specialist will"
# Sentences that state nothing and need no citation: greetings, thanks, sign-offs,
# and the hand-over line.
_SMALL_TALK = [
    r"(hi|hello|hey|dear|good (morning|afternoon|evening))\b.{0,40}",
    r"(thanks|thank you)\b.{0,60}",
    r"(i hope|hope) (this|that) helps.{0,30}",
    r"(please )?(let us know|feel free to|don'?t hesitate to|reach out).{0,80}",
    r"(best|kind|warm)? ?(regards|wishes)\b.{0,40}",
    r"(sincerely|cheers)\b.{0,40}",
    r"(the )?pam support( team)?",
    r"(happy to help|glad to help|sorry (for|about) (the|this) (trouble|inconvenience)).{0,40}",
    _HANDOVER + r" .{0,60}",
    _SPECIALIST + r" .{0,80}",
    r"((i'?m|i am|we'?re|we are) )?sorry (to hear|for|about)\b.{0,80}",
    r"i (understand|see)\b.{0,60}",
    # A short lead-in to a list ("Here is what to check:"), no digits.
    r"[a-z][a-z ,'’]{0,60}:",
]
_SMALL_TALK_RE = re.compile(r"^(?:" + "|".join(_SMALL_TALK) + r")[\s.!,]*$", re.IGNORECASE)
# The hand-over itself, anywhere in a reply: a reply that says a person will follow up promises
# one, whatever else it answers (``llm_stage`` then sends the request to a person).
HANDOVER_RE = re.compile(rf"\b(?:{_HANDOVER}|{_SPECIALIST})\b", re.IGNORECASE)

_LEADING_CITATIONS_RE = re.compile(r"^(?:\s*" + CITATION_RE.pattern + r")+[\s.]*")
_LIST_MARK_RE = re.compile(r"^\s*(?:[-*+•]|\d{1,2}[.)]|#{1,6})\s+")
# A sentence ends at . ! or ? before any word, lower case too ("... access. we will also waive
# your fee" was read as one sentence, its grounded half carrying the made-up one), except after
# an abbreviation ("e.g. the", "approx. 24"). Clauses joined by ";" share their citation.
_SENT_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[\[\"'(A-Za-z0-9*])")
_ABBREVIATION_END = re.compile(r"(?:^|[\s(])(?:e\.g|i\.e|etc|approx|vs|incl|min|mins|hr|hrs|sec|no|st|ave|dept|mr|mrs|ms|dr)\.$",
                               re.IGNORECASE)

_STOPWORDS = frozenset(
    """a an the and or but if then than so to of in on at by for with from into onto as is are was were be been
    being it its this that these those there here you your yours we our us they their them he she his her i me my
    do does did done can could will would should may might must shall not no nor only also just very too
    what which who whom when where why how all any each every both either some such more most other
    about after before again until while up down out over under above below off once same own
    has have had having get gets got go goes going make makes made""".split()
)

_WORD_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _stem(word: str) -> str:
    word = word.split("'")[0]
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_tokens(text: str) -> set[str]:
    """Lower-cased, crudely stemmed words minus stop words.

    Not guardrails.coverage.content_words: a claim's support counts numbers and short
    codes ("10", "5pm", "ai") as content, which the staff-only vocabulary drops.
    """
    return {_stem(w) for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS and len(w) > 1}


# Words of courtesy. A sentence that opens like small talk ("I understand", "A support
# specialist will") is exempt from citing only when every other word of it is in the
# request or the sources: otherwise its tail states something of its own.
_COURTESY = content_tokens(
    "hi hello hey dear good morning afternoon evening thanks thank you hope this that helps help helping please "
    "let us know feel free don't hesitate reach reaching out contact touch best kind warm regards wishes sincerely "
    "cheers pam support team happy glad sorry hear hearing trouble inconvenience frustration frustrating understand "
    "see passing pass forwarding forward handing hand escalating escalate request question questions specialist "
    "soon shortly back follow up right away details look looking into check checking am patience patient "
    "apologize apologise apologies apology welcome today anything else great day assist assistance")


def _claims(sentence: str, known_words: set[str]) -> list[str]:
    """Words that make an opening phrase a claim: neither courtesy nor in the request or the
    sources ("I understand, we have already *refunded* your setup *fee*")."""
    # Stop words go again after stemming: "I'm" and "we'll" are read as "i" and "we".
    return sorted(content_tokens(sentence) - _COURTESY - known_words - _STOPWORDS)


def strip_citations(text: str) -> str:
    """The answer without its ``[source_id]`` markers (and the spaces they leave)."""
    out = CITATION_RE.sub("", text)
    out = re.sub(r"(?<![ \t])[ \t]+([.,;:!?])", r"\1", out)  # from a run's first space: linear
    return re.sub(r"[ \t]{2,}", " ", out).strip()


def _clean_markdown(text: str) -> str:
    return re.sub(r"[*_`]+", "", text)


_RULE_RE = re.compile(r"^-{3,}\s*")


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer or source; list items count as sentences, and a
    citation standing after the full stop joins the sentence before it."""
    out: list[str] = []
    for line in text.splitlines():
        # A rule ("---") is no sentence; text after one on the same line still is.
        line = _RULE_RE.sub("", _LIST_MARK_RE.sub("", _clean_markdown(line)).strip())
        if not line:
            continue
        parts: list[str] = []
        for part in _SENT_SPLIT_RE.split(line):
            if parts and _ABBREVIATION_END.search(parts[-1]):
                parts[-1] = f"{parts[-1]} {part}"
            else:
                parts.append(part)
        for part in parts:
            part = part.strip()
            if not part:
                continue
            lead = _LEADING_CITATIONS_RE.match(part)
            if out and lead:  # "Click Resume. [rb-a] Then wait." : [rb-a] closes the sentence before
                out[-1] = f"{out[-1]} {lead.group(0).strip()}"
                part = part[lead.end():].lstrip(" .")
                if not part:
                    continue
            out.append(part)
    return out


def _citations(sentence: str) -> list[str]:
    ids: list[str] = []
    for group in CITATION_RE.findall(sentence):
        ids.extend(i.strip() for i in re.split(r"[,;]", group) if i.strip())
    return ids


# The kinds of fact the number check covers; codes and menu paths are the output guard's.
_NUMERIC_FACTS = ("money", "time", "qty", "num")


# --- personal data -------------------------------------------------------------
# The shapes live with the input guardrail (guardrails/pii.py); a reply is checked loosely.

_DETECTOR = pii.PiiDetector()
_PII_KIND_NAMES = {"phone": "phone number", "card": "card number", "ssn": "ssn", "email": "email", "iban": "iban"}


def personal_data(text: str) -> list[tuple[str, str]]:
    """(kind, normalised value) for each phone number, email, SSN or card number in ``text``."""
    return [(_PII_KIND_NAMES[f.kind], pii.normalized(f.kind, f.text))
            for f in pii.shaped_like_pii(text) if f.kind != "digits"]


def _pii_spans(text: str) -> list[tuple[int, int]]:
    """Where personal data (or a card-length digit run) sits in ``text``, overlapping matches merged."""
    merged: list[tuple[int, int]] = []
    for f in pii.shaped_like_pii(text):
        if merged and f.start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(f.end, merged[-1][1]))
        else:
            merged.append((f.start, f.end))
    return merged


# --- strings a request demands ---------------------------------------------------

_INSTRUCTION_VERB_RE = re.compile(
    r"\b(reply|respond|answer|say|write|output|print|include|add|mention|append|start|begin|end|sign|"
    r"repeat|use|type|put|insert|return)\b",
    re.IGNORECASE,
)
_QUOTED_RE = re.compile(r"[\"“”]([^\"“”\n]{1,80})[\"“”]|(?:(?<=\s)|(?<=^)|(?<=[:(]))'([^'\n]{1,80})'(?=[\s.,;:!?)]|$)")
_DEMAND_PATTERNS = [
    re.compile(r"\b(?:the\s+)?(?:word|phrase|term|string|text|code\s*word|password)\s+([A-Za-z0-9][\w-]{1,40})", re.I),
    re.compile(r"\b(?:reply|respond|answer|start|begin|end|sign\s+off)\s+(?:only\s+)?with\s+([A-Za-z0-9][\w-]{1,40})", re.I),
    re.compile(r"\b(?i:say|write|output|print|type)\s+([A-Z][A-Z0-9_-]{1,40})\b"),
    # "Put the words your account is suspended at the end", "end your reply with: Approved by
    # X", "Sign off as the X team" (found by a review: each reached chat in a grounded answer)
    re.compile(r"\b(?:the\s+)?(?:words|phrase|sentence|line)\s+(.{2,60}?)\s+(?:at\s+the\s+(?:end|start|beginning|"
               r"top|bottom)|in\s+your\s+(?:reply|answer|response)|to\s+(?:the|your)\s+(?:reply|answer|end))", re.I),
    re.compile(r"\b(?:end|finish|close|start|begin|sign\s+off)\s+(?:(?:your|the)\s+)?(?:reply|answer|response|message)?"
               r"\s*with\s*:\s*(.{2,60}?)\s*(?:[.!?\n]|$)", re.I),
    re.compile(r"\bsign\s+(?:off|it|the\s+reply)\s+as\s+(?:the\s+)?(.{2,60}?)(?:\s+team)?\s*(?:[.!?\n]|$)", re.I),
]
_GENERIC = _STOPWORDS | {"word", "words", "phrase", "text", "reply", "answer", "message", "following", "yes", "ok"}


def demanded_strings(request_text: str) -> list[str]:
    """Strings the request tells the model to put in its reply (quoted, or after
    "the word", "reply with", "say"), from sentences that give an instruction."""
    demanded: list[str] = []
    for sentence in re.split(r"(?<=[.!?\n])\s+", request_text):
        if not _INSTRUCTION_VERB_RE.search(sentence):
            continue
        for m in _QUOTED_RE.finditer(sentence):
            demanded.append((m.group(1) or m.group(2)).strip())
        for rx in _DEMAND_PATTERNS:
            demanded.extend(m.group(1) for m in rx.finditer(sentence))
    out, seen = [], set()
    for s in demanded:
        s = s.strip(" .,;:!?")
        if len(s) < 2 or s.lower() in _GENERIC or s.lower() in seen:
            continue
        seen.add(s.lower())
        out.append(s)
    return out


def _contains(haystack: str, needle: str) -> bool:
    pattern = r"(?<!\w)" + re.escape(needle.lower()) + r"(?!\w)"
    return re.search(pattern, haystack.lower()) is not None


# --- the checker -----------------------------------------------------------------


@dataclass
class SentenceCheck:
    """One answer sentence: its citations and support score (None when not scored)."""

    text: str
    cited: list[str]
    support: float | None = None
    small_talk: bool = False


@dataclass
class GroundingReport:
    """The verdict on one answer. ``answer`` keeps the ``[source_id]`` markers.

    ``cited_ids`` lists the retrieved ids the answer cites, in order of first use;
    cited ids that were not retrieved appear only in ``problems``.
    """

    ok: bool
    problems: list[str]
    cited_ids: list[str]
    answer: str
    sentences: list[SentenceCheck] = field(default_factory=list)

    @property
    def codes(self) -> set[str]:
        """The problem codes present (the text before the first colon)."""
        return {p.split(":", 1)[0] for p in self.problems}


class GroundingChecker:
    """Checks citations, sentence support, numbers, personal data and obeyed injections.

    >>> checker = GroundingChecker(embedder)                                   # doctest: +SKIP
    >>> checker.run("Calls are rounded up to the next minute. [rb-billing]", sources).ok  # doctest: +SKIP
    True

    Source sentence embeddings are cached by text hash (the same runbooks come back
    again and again), so a check costs about one MiniLM call for the answer.
    """

    def __init__(self, embedder, threshold: float | None = None, *, alpha: float = SUPPORT_ALPHA, cache_size: int = 512):
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError("threshold must be between 0 and 1")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError("alpha must be between 0 and 1")
        self.embedder = embedder
        self.threshold = SUPPORT_THRESHOLD if threshold is None else threshold
        self.alpha = alpha
        self._cache: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._cache_size = cache_size
        # Request threads share the cache: between "is it there?" and "move it to the end",
        # another thread's insert could evict it (a KeyError, and a good answer escalated).
        self._lock = threading.Lock()

    def support(self, sentence: str, source_texts: Sequence[str]) -> float:
        """Support score of one sentence against the given source texts (0..1)."""
        plain = strip_citations(sentence)
        vec = self.embedder.encode_queries([plain])[0]
        return self._combine(*self._components(plain, vec, source_texts))

    def _source_sentences(self, text: str) -> tuple[list[str], np.ndarray]:
        key = hashlib.sha1(text.encode()).hexdigest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        sents = split_sentences(text) or [text]
        vecs = self.embedder.encode_documents(sents)  # outside the lock: threads embed at once
        with self._lock:
            self._cache[key] = (sents, vecs)
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return sents, vecs

    def _components(self, sentence: str, vec: np.ndarray, source_texts: Sequence[str]) -> tuple[float, float]:
        """(max cosine to any source sentence, share of the sentence's content words in the sources)."""
        best_cos = 0.0
        for text in source_texts:
            _, vecs = self._source_sentences(text)
            if len(vecs):
                best_cos = max(best_cos, float(np.max(vecs @ vec)))
        tokens = content_tokens(sentence)
        source_tokens = set().union(*(content_tokens(t) for t in source_texts)) if source_texts else set()
        overlap = len(tokens & source_tokens) / len(tokens) if tokens else 0.0
        return best_cos, overlap

    def _combine(self, cos: float, overlap: float) -> float:
        return self.alpha * max(cos, 0.0) + (1 - self.alpha) * overlap

    def run(
        self,
        answer: str,
        sources: list[SourceText],
        request_text: str = "",
        forbidden: Iterable[str] = (),
    ) -> GroundingReport:
        """Check ``answer`` against the retrieved ``sources``; ``request_text`` is the
        user's request (for obeyed injections), ``forbidden`` staff-only strings."""
        answer = fold_width(answer or "").strip()  # as a reader sees it: "＠" is "@"
        # The forbidden strings this answer holds, found once: excerpts of a sentence holding one
        # are withheld, and when it holds none no sentence is scanned for them.
        held = staff_tokens_in(answer, [t for t in forbidden if t])
        problems: list[str] = []
        by_id = {s.id: s for s in sources}
        if not answer:
            return GroundingReport(False, ["empty: no answer text"], [], answer)

        checks = [SentenceCheck(text=s, cited=_citations(s)) for s in split_sentences(answer)]
        # A bracketed word copied from a source ("Are you open on [date]?") is its text, not a citation.
        source_text = "\n".join(s.text for s in sources)
        for check in checks:
            check.cited = [c for c in check.cited if c in by_id or f"[{c}]" not in source_text]
        cited_ids: list[str] = []
        for check in checks:
            for cid in check.cited:
                if cid not in by_id:
                    msg = f"unknown_source: cites [{cid}], which was not retrieved"
                    if msg not in problems:
                        problems.append(msg)
                elif cid not in cited_ids:
                    cited_ids.append(cid)

        # Support: one embedding call for all answer sentences that need scoring.
        to_score = []
        known_words: set[str] | None = None  # the request's and the sources' words, read once if needed
        for check in checks:
            plain = strip_citations(check.text)
            opening = not check.cited and _SMALL_TALK_RE.match(plain)
            if opening and known_words is None:
                known_words = content_tokens(request_text + " " + " ".join(f"{s.title} {s.text}" for s in sources))
            if opening and not _claims(plain, known_words):
                check.small_talk = True
            elif not check.cited:
                problems.append(f"uncited: {_short(plain, held)}")
            elif any(c in by_id for c in check.cited):
                to_score.append(check)
        if to_score:
            vecs = self.embedder.encode_queries([strip_citations(c.text) for c in to_score])
            for check, vec in zip(to_score, vecs):
                texts = [f"{by_id[c].title}. {by_id[c].text}" for c in check.cited if c in by_id]
                check.support = self._combine(*self._components(strip_citations(check.text), vec, texts))
                if check.support < self.threshold:
                    problems.append(f"unsupported: {_short(strip_citations(check.text), held)} "
                                    f"(support {check.support:.2f})")

        problems += self._number_problems(checks, by_id, sources, held)
        problems += self._pii_problems(answer, sources, request_text)
        # Any spelling a reader would take for it (dashes, Markdown escapes, "OVR/7731/XT"), as the
        # output guard reads staff-only strings.
        # The string is not repeated: problems reach the rationale and the decision log, and
        # ``forbidden`` holds the request's personal data as well as staff-only strings.
        for _text in held:
            problems.append("forbidden_text: answer contains a staff-only string or the request's personal data "
                            "(not repeated here)")
        all_source_text = " ".join(f"{s.title} {s.text}" for s in sources)
        for demanded in demanded_strings(request_text):
            if _contains(answer, demanded) and not _contains(all_source_text, demanded):
                problems.append(f"injection: answer contains {demanded!r}, demanded by the request and in no source")

        return GroundingReport(not problems, problems, cited_ids, answer, checks)

    @staticmethod
    def _number_problems(checks, by_id, sources, forbidden=()) -> list[str]:
        """Numbers, amounts and time frames a sentence states that its cited sources do not
        (read as the output guard reads them: guardrails/output.py). A number of a sentence
        holding a ``forbidden`` string is not quoted: it may be a piece of it ("8842" of a code)."""
        problems = []
        indexed: dict[tuple, SourceFacts] = {}  # one index per set of cited sources, not per sentence
        for check in checks:
            plain = strip_citations(check.text)
            for start, end in _pii_spans(plain):  # reported as personal data instead
                plain = plain[:start] + " " * (end - start) + plain[end:]
            cited = tuple(c for c in check.cited if c in by_id)
            if cited not in indexed:
                indexed[cited] = SourceFacts(f"{s.title}. {s.text}" for s in ([by_id[c] for c in cited] or sources))
            known = indexed[cited]
            withheld = None  # whether the sentence holds a forbidden string: read once, at its first problem
            for fact in stated_facts(plain):
                if fact.kind in _NUMERIC_FACTS and not known.supports(fact):
                    if withheld is None:
                        withheld = bool(forbidden) and bool(staff_tokens_in(plain, forbidden))
                    problems.append(f"number: {_WITHHELD if withheld else repr(fact.text)} is not in the cited sources")
        return list(dict.fromkeys(problems))

    @staticmethod
    def _pii_problems(answer: str, sources, request_text: str = "") -> list[str]:
        in_sources = {v for s in sources for _, v in personal_data(s.text)}
        kinds = [kind for kind, value in personal_data(strip_citations(answer)) if value not in in_sources]
        if request_text:
            # The input guardrail's detector also knows IBANs and odd phone formats.
            source_text = " ".join(s.text for s in sources)
            for finding in pii.echoes(answer, _DETECTOR.run(request_text)):
                if not pii.echoes(source_text, [finding]):
                    kinds.append(_PII_KIND_NAMES.get(finding.kind, finding.kind))
        # The value itself is never put in the message: problems end up in logs.
        return [f"personal_data: answer contains a {kind}" for kind in dict.fromkeys(kinds)]


_WITHHELD = "(a sentence holding a staff-only string or the request's personal data: not repeated)"


def _short(text: str, forbidden: Sequence[str] = (), limit: int = 80) -> str:
    """A sentence excerpt for a problem message (problems reach the rationale and the log):
    personal data masked, none of a sentence holding a ``forbidden`` string, and cut between
    words, so that no piece of a code is left for a mask to miss ("OVR-7731-…")."""
    if forbidden and staff_tokens_in(text, forbidden):
        return _WITHHELD
    for start, end in sorted(_pii_spans(text), reverse=True):
        text = text[:start] + "[redacted]" + text[end:]
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit - 1].rstrip() + " …"


# --- choosing the threshold on labelled data ------------------------------------


def load_pairs(path: str | Path) -> list[dict]:
    """Labelled pairs: ``{"source", "sentence", "label": "supported"|"unsupported"}`` per line."""
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _best_cut(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy): midpoint cut between sorted scores that maximises it."""
    order = np.sort(np.unique(scores))
    cuts = np.concatenate([[order[0] - 1e-6], (order[:-1] + order[1:]) / 2, [order[-1] + 1e-6]])
    best = (0.5, -1.0)
    for cut in cuts:
        pred = scores >= cut
        tpr = pred[labels].mean() if labels.any() else 0.0
        tnr = (~pred[~labels]).mean() if (~labels).any() else 0.0
        bacc = (tpr + tnr) / 2
        if bacc > best[1] + 1e-12:
            best = (float(cut), float(bacc))
    return best


def choose_threshold(pairs: list[dict], embedder, alphas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0), folds: int = 5) -> dict:
    """Pick the cosine/overlap weight and the support threshold that best separate the pairs.

    Returns the chosen ``alpha`` and ``threshold``, their balanced accuracy on all
    pairs, and the accuracy of the same procedure under ``folds``-fold
    cross-validation by topic (an honest estimate: the cut is never chosen on the
    pairs it is scored on).
    """
    labels = np.array([p["label"] == "supported" for p in pairs])
    checker = GroundingChecker(embedder)
    sentences = [strip_citations(p["sentence"]) for p in pairs]
    vecs = embedder.encode_queries(sentences)  # one batch: much faster than pair by pair
    parts = np.array([checker._components(s, v, [p["source"]]) for s, v, p in zip(sentences, vecs, pairs)])
    per_alpha = {a: a * np.clip(parts[:, 0], 0, None) + (1 - a) * parts[:, 1] for a in alphas}

    def fit(idx: np.ndarray) -> tuple[float, float, float]:
        # Best balanced accuracy; on a tie the weight closest to an even mix.
        return max(((a, *_best_cut(s[idx], labels[idx])) for a, s in per_alpha.items()), key=lambda r: (round(r[2], 9), -abs(r[0] - 0.5)))

    alpha, threshold, bacc = fit(np.arange(len(pairs)))

    topics = sorted({p.get("topic", str(i)) for i, p in enumerate(pairs)})
    topic_of = np.array([p.get("topic", str(i)) for i, p in enumerate(pairs)])
    correct = np.zeros(len(pairs), dtype=bool)
    for k in range(folds):
        held = np.isin(topic_of, topics[k::folds])
        a, cut, _ = fit(np.flatnonzero(~held))
        correct[held] = (per_alpha[a][held] >= cut) == labels[held]
    scores = per_alpha[alpha]
    return {
        "alpha": alpha,
        "threshold": round(threshold, 3),
        "balanced_accuracy": round(bacc, 3),
        "cv_accuracy": round(float(correct.mean()), 3),
        "n": len(pairs),
        "supported_min": round(float(scores[labels].min()), 3),
        "unsupported_max": round(float(scores[~labels].max()), 3),
        "per_alpha_balanced_accuracy": {a: round(_best_cut(s, labels)[1], 3) for a, s in per_alpha.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m assistant.grounding PAIRS.jsonl``: print the chosen weight and threshold as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else "tests/fixtures/grounding_pairs.jsonl"
    from retrieval.embedder import Embedder

    print(json.dumps(choose_threshold(load_pairs(path), Embedder.default()), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
