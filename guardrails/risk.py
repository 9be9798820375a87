"""Risky topics a bot should not settle alone: legal threats, billing disputes, cancellations,
security incidents, requests for professional advice, and other dealerships' data.

Each sentence is compared with exemplars grouped by topic (``data/risk_exemplars.yaml``).
Its score for a topic is a margin: the best similarity to that topic's exemplars,
minus the best similarity to the ``benign`` look-alikes (ordinary support requests
that share the words: "cancel the appointment", "billing minutes", "forgot my
password"), plus a fixed bonus when one of a few high-precision patterns
("chargeback", "attorney general", "someone logged into our account") matches.
The margin matters because MiniLM puts every PAM support sentence fairly close to
every other; measured on the held-out set it beat raw similarity (F1 0.85 vs 0.78).
The message takes its best sentence and topic.

>>> RiskDetector(Embedder.default()).run("We will sue if this is not fixed").kind  # doctest: +SKIP
'risky_topic'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import yaml

from guardrails import DATA_DIR, ExemplarIndex, segments

# Chosen on data/risk_heldout.jsonl by benchmarks/bench_guardrails_thresholds.py
# (maximum F1 over the held-out scores, midpoint of the best interval); rerun it
# after changing exemplars, patterns or weights.
DEFAULT_THRESHOLD = 0.028

EXEMPLARS_PATH = DATA_DIR / "risk_exemplars.yaml"
BENIGN = "benign"
TOPICS = ("legal_threat", "billing_dispute", "cancellation", "data_breach", "professional_advice", "other_dealer_data")

# Added to the topic's similarity when its pattern matches the sentence; set by
# hand: large enough that a clear "chargeback" passes on its own, not so large
# that a pattern hit on a benign sentence (it still needs some similarity) passes.
_PATTERN_BONUS = 0.25
_PATTERNS: dict[str, re.Pattern] = {
    "legal_threat": re.compile(
        r"\b(?:sue|suing|sued|lawsuit|litigation|legal\s+action|take\s+(?:you|this|them|it)\s+to\s+court|small\s+claims|"
        r"attorney\s+general|class[\s-]action|cease\s+and\s+desist|(?:file|filing)\s+a\s+(?:formal\s+)?complaint\s+with|"
        r"report(?:ing)?\s+(?:you|your\s+company|this)\s+to\s+the\s+(?:bbb|ftc|fcc|better\s+business\s+bureau)|"
        r"pursu(?:e|ing)\s+damages|breach\s+of\s+contract)\b|"
        r"\b(?:contact(?:ing)?|call(?:ing)?|hear(?:ing)?\s+from|involv(?:e|ing)|get(?:ting)?|bring(?:ing)?\s+in|consult(?:ing)?|"
        r"(?:talk(?:ed|ing)?|spoken?|speak(?:ing)?)\s+(?:to|with)|forward(?:ing)?\s+this\s+to)\s+"
        r"(?:my|our|a)\s+(?:lawyers?|attorneys?|legal\s+(?:team|counsel|department))\b|"
        r"\b(?:lawyers?|attorneys?|legal)\s+involved\b|"
        r"\b(?:my|our)\s+(?:lawyers?|attorneys?|legal\s+(?:team|counsel|department))\s+(?:will|is|are|has|have|says?|said)\b",
        re.IGNORECASE,
    ),
    "billing_dispute": re.compile(
        r"\b(?:refund(?:ed)?|chargebacks?|charge-backs?|dispute\s+(?:the|this|a|these|our)?\s*(?:charges?|invoices?|bill)|"
        r"disputing|overcharg(?:ed|ing)|double[\s-]charged|charged\s+(?:us\s+)?twice|billing\s+(?:error|mistake)|"
        r"money\s+back|reverse\s+(?:the|this|that)\s+charge|unauthori[sz]ed\s+charges?|(?:won't|will\s+not|refuse\s+to)\s+pay)\b",
        re.IGNORECASE,
    ),
    "cancellation": re.compile(
        r"\b(?:cancel(?:l?ing|l?ed|lation)?|terminat(?:e|ing|ion)|end(?:ing)?|exit(?:ing)?|get\s+out\s+of|break(?:ing)?)\s+"
        r"(?:of\s+)?(?:our|my|the|this)?\s*(?:pam\s+)?(?:contract|subscription|agreement|account\s+with|service\s+with\s+you)\b|"
        r"\b(?:not|won't|will\s+not)\s+(?:be\s+)?renew(?:ing)?\b|\bearly\s+termination\b|\bcancel(?:l?ing)?\s+pam\b",
        re.IGNORECASE,
    ),
    "data_breach": re.compile(
        r"\b(?:data\s+breach|breached|hacked|hacker|compromised|phishing|ransomware|malware|"
        r"(?:data|information|numbers|records|credentials|passwords?|keys?)\s+(?:was|were|got|has\s+been|have\s+been)\s+"
        r"(?:leaked|exposed|stolen|posted)|leaked|"
        r"unauthori[sz]ed\s+(?:access|login|logins|user)|suspicious\s+(?:login|logins|activity)|"
        r"someone\s+(?:else\s+)?(?:logged|got|broke)\s+in(?:to)?|(?:logged|logging)\s+in\s+from\s+(?:an?\s+)?(?:unknown|strange|foreign))\b",
        re.IGNORECASE,
    ),
    "professional_advice": re.compile(
        r"\b(?:legal|medical|tax|financial|investment|accounting)\s+advice\b|"
        r"\bis\s+(?:it|this|that)\s+(?:legal|lawful|illegal)\b|\b(?:are|am)\s+(?:we|i)\s+(?:legally\s+)?liable\b|"
        r"\b(?:tcpa|hipaa|gdpr|ccpa)\b",
        re.IGNORECASE,
    ),
    "other_dealer_data": re.compile(
        r"\b(?:another|other|competitor'?s?|competing|different)\s+(?:dealer(?:ship)?s?|stores?|rooftops?|customers?)'?s?\b"
        r"(?:\W+\w+){0,6}?\W+(?:data|calls?|call\s+logs?|recordings?|transcripts?|customers?|leads?|dashboards?|"
        r"accounts?|information|info|numbers|stats|settings|invoices?|prices?|pricing|greetings?)\b|"
        r"\b(?:data|calls?|recordings?|customers?|leads?|dashboards?|accounts?|numbers|settings|pricing)\s+(?:of|from|for)\s+"
        r"(?:another|other|a\s+competing|the\s+competing|my\s+competitor'?s?)\s+(?:dealer(?:ship)?s?|stores?)\b",
        re.IGNORECASE,
    ),
}


def kind_of(topic: str | None) -> str | None:
    """The result kind of a topic: a data breach is a security incident, the rest are risky topics."""
    if topic is None:
        return None
    return "security_incident" if topic == "data_breach" else "risky_topic"


@dataclass
class RiskResult:
    """The risky topic a request touches, if any; ``score`` is the best sentence's score."""

    kind: str | None  # None | "security_incident" | "risky_topic"
    topic: str | None
    score: float


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, tuple[str, ...]]:
    data = yaml.safe_load(open(path, encoding="utf-8")) or {}
    return {topic: tuple(str(t) for t in texts) for topic, texts in data.items() if texts}


def load_exemplars(path=EXEMPLARS_PATH) -> dict[str, tuple[str, ...]]:
    """Exemplar sentences per topic (including the ``benign`` contrast group)."""
    return _load(str(path))


class RiskDetector:
    """Flags requests a person must handle: security incidents and risky topics.

    ``threshold`` overrides ``DEFAULT_THRESHOLD`` (chosen on the held-out set).

    >>> det = RiskDetector(Embedder.default())                     # doctest: +SKIP
    >>> det.run("cancel the appointment PAM booked for Tuesday").kind  # doctest: +SKIP
    """

    def __init__(self, embedder, threshold: float | None = None):
        if threshold is not None and not 0.0 <= threshold <= 2.0:
            raise ValueError(f"threshold must be between 0 and 2, got {threshold}")
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        groups = load_exemplars()
        texts, labels = [], []
        for topic, items in groups.items():
            texts += items
            labels += [topic] * len(items)
        self.index = ExemplarIndex(embedder, texts, labels)
        self.topics = [t for t in groups if t != BENIGN]
        labels_arr = np.array(labels)
        self._columns = {t: np.flatnonzero(labels_arr == t) for t in groups}

    def run(self, text: str) -> RiskResult:
        pieces = segments(text)
        if not pieces:
            return RiskResult(None, None, 0.0)
        sims = self.index.similarities(pieces)
        benign = sims[:, self._columns[BENIGN]].max(axis=1) if BENIGN in self._columns else np.zeros(len(pieces))
        best_score, best_topic = -1.0, None
        for i, piece in enumerate(pieces):
            for topic in self.topics:
                sim = float(sims[i, self._columns[topic]].max())
                pattern = _PATTERNS.get(topic)
                score = sim + (_PATTERN_BONUS if pattern and pattern.search(piece) else 0.0) - float(benign[i])
                if score > best_score:
                    best_score, best_topic = score, topic
        if best_score < self.threshold:
            return RiskResult(None, None, round(best_score, 4))
        return RiskResult(kind_of(best_topic), best_topic, round(best_score, 4))
