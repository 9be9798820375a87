"""Off-topic requests: closer to a generic off-topic request than to any runbook of the KB?

Out of scope takes two signals (SPEC, issue 4): the classifier abstains, and retrieval
support is weak. "Weak" used to mean one fixed bar on the best source's similarity
(below 0.30). But a request that shares words with the KB ("a regex for a 17-character
VIN", "write a post about our tire sale") often matches a runbook at 0.30-0.50 without
being about it, and the same similarity is a fair match for a real question worded
oddly. A bar cannot tell the two apart; a comparison can: support is weak *relative* to
how closely the request matches what people send a support desk that is no support
request at all.

``data/off_topic_exemplars.txt`` holds 295 such requests (coding help, writing tasks,
trivia, everyday advice, other software, errands, chit-chat, homework, news), written
for any software support desk, so they know nothing of the deployment's KB. The score
is the request's best cosine to them; the pipeline reads support as weak when that is
OFF_TOPIC_MARGIN (0.10, chosen by benchmarks/bench_off_topic.py) above the best runbook's.

>>> from retrieval.embedder import HashEmbedder
>>> ot = OffTopic(HashEmbedder(), ["write a haiku about autumn"])
>>> vec = HashEmbedder().encode_queries(["write a haiku about autumn"])[0]
>>> round(ot.similarity(vec), 2)
1.0
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

import numpy as np

from guardrails import DATA_DIR, ExemplarIndex, fold, read_lines

EXEMPLARS_PATH = DATA_DIR / "off_topic_exemplars.txt"


class OffTopic:
    """Best cosine similarity of a request vector to generic off-topic requests."""

    def __init__(self, embedder, exemplars: Sequence[str] | None = None, *, path: Path = EXEMPLARS_PATH):
        self.index = ExemplarIndex(embedder, list(exemplars) if exemplars is not None else read_lines(path))
        self.matrix = self.index.matrix
        self.dropped: list[str] = []

    def without_covered(self, documents: np.ndarray, bar: float | None) -> "OffTopic":
        """Leave out the exemplars a KB's own documents cover (best cosine to ``documents``, its
        chunk vectors, at least ``bar``): "xero bank feed stopped syncing" is off-topic for a
        phone agent and a question for a payroll product. None keeps them all."""
        if bar is None or not len(documents):
            return self
        best = (self.index.matrix @ np.asarray(documents, dtype=np.float32).T).max(axis=1)
        keep = best < bar
        if not keep.any():  # a KB that covers every exemplar: keep the closest-to-nothing one
            keep[int(np.argmin(best))] = True
        self.matrix = self.index.matrix[keep]
        self.dropped = [t for t, k in zip(self.index.texts, keep) if not k]
        return self

    def similarity(self, vector: np.ndarray) -> float:
        """The best cosine of ``vector`` (a unit-length request embedding) to an exemplar."""
        return float((self.matrix @ np.asarray(vector, dtype=np.float32)).max())


# -- the writer's own word that the request is not about the product -------------------------
#
# "Unrelated to PAM, but do you know a JavaScript regex that validates a VIN?" matches the VIN
# runbook better than any off-topic exemplar: its words are the KB's. The writer has said what
# the similarity cannot, and the pipeline reads that statement as the second signal beside the
# classifier's abstention (never alone: "this is unrelated to PAM's greeting, it's the hours"
# is a PAM request the classifier sees as one). Chosen on assistant/data/scope_statement.jsonl
# (and the two oos_heldout sets), checked on scope_statement_check.jsonl
# (benchmarks/bench_scope_statement.py).
#
# What counts: the request is said to be unrelated to, not about, nothing to do with, or outside
# the product ("not a PAM question", "not PAM related", "a non-PAM question", "nothing to do with
# your product", "falls outside PAM"), or not work at all ("not work related"). Not: the product's
# part ("not about PAM's answers, about the texts"), blame ("not PAM's fault", "probably not a PAM
# problem"), another matter ("unrelated to my last ticket", "nothing to do with Xtime"), a bare
# "off-topic" (as often "off-topic from my earlier chat: can PAM ...") or a hedge ("not a PAM
# question exactly, more of a Reynolds one", "not really a PAM thing").
_NOT = r"(?:is\s*n't|is\s+not|are\s*n't|was\s*n't|not)"
_PRODUCT_NOUNS = r"(?:product|software|platform|app|system|company|service(?!\s+(?:department|dept|advisors?|drive|lane|desk|manager|team)))"
_WORK = r"(?:work|my\s+job|the\s+(?:store|dealership))"
_HEDGE = re.compile(r"\b(?:exactly|really|strictly|per\s+se|probably|maybe|might|i\s+think|not\s+sure|entirely\s+sure|"
                    r"kind\s+of|kinda|sort\s+of|technically|directly)\b")
_CLAUSE_END = re.compile(r"[.!?;:\n]|\s[-]\s|\bbut\b|,")
SCOPE_STATEMENT_WINDOW = 60  # characters around the statement read for a hedge, within its clause


def _statement_pattern(names: Sequence[str]) -> re.Pattern:
    name = "|".join(re.escape(n.strip().lower()) for n in sorted(names, key=len, reverse=True) if n.strip()) or r"(?!)"
    # The product, whole: "PAM", "our PAM account", "your product"; not "PAM's greeting".
    product = (rf"(?:anything\s+)?(?:(?:my|our)\s+)?(?:(?:{name})(?!'s?\b|-)(?:\s+(?:account|stuff|support|itself))?\b"
               rf"|your\s+{_PRODUCT_NOUNS}\b)")
    object_ = rf"(?:{product}|{_WORK}\b)"
    forms = [
        rf"\b(?:unrelated|not\s+(?:related|connected)|no\s+connection)\s+(?:at\s+all\s+|whatsoever\s+)?to\s+{object_}",
        rf"\b(?:nothing|zero|{_NOT}\s+anything)\s+(?:at\s+all\s+)?to\s+do\s+(?:with|w/)\s+{object_}",
        rf"\b{_NOT}\s+(?:a\s+(?:question|request)\s+)?(?:about|for|regarding)\s+{product}",
        rf"\bnot\s+(?:an?\s+)?(?:{name})[- ](?:question|thing|topic|matter|request|related)\b",
        rf"\bnon[- ]?(?:{name})\s+(?:question|thing|topic|matter|request)\b",
        rf"\bnot\s+(?:a\s+)?{_WORK}[- ]related\b",
        rf"\b(?:falls|is|one|question)\s+outside\s+(?:of\s+)?{product}",
    ]
    return re.compile("|".join(f"(?:{f})" for f in forms))


class ScopeStatement:
    """The writer's own statement that a request is not about the product, or None.

    ``names`` are the product's names as customers write them (``ASSISTANT_PRODUCT_NAMES``).

    >>> says = ScopeStatement(["PAM"])
    >>> says("Unrelated to PAM, but do you know a regex for a VIN?")
    'unrelated to pam'
    >>> says("not about pam's answers, about the texts: customers replying STOP get reminders") is None
    True
    >>> says("not a pam question exactly, more of a reynolds question: does pam write to ERA?") is None
    True
    """

    def __init__(self, names: Sequence[str]):
        self.pattern = _statement_pattern(names)

    def __call__(self, text: str) -> str | None:
        folded = fold(text).lower()
        for match in self.pattern.finditer(folded):
            if not self._hedged(folded, match.start(), match.end()):
                return folded[match.start():match.end()]
        return None

    @staticmethod
    def _hedged(text: str, start: int, end: int) -> bool:
        """A hedge in the statement's own clause, before or after it ("not really a PAM thing",
        "not a PAM question exactly")."""
        before = text[max(0, start - SCOPE_STATEMENT_WINDOW):start]
        ends = list(_CLAUSE_END.finditer(before))
        before = before[ends[-1].end():] if ends else before
        after = text[end:end + SCOPE_STATEMENT_WINDOW]
        stop = _CLAUSE_END.search(after)
        after = after[:stop.start()] if stop else after
        return bool(_HEDGE.search(f"{before} {text[start:end]} {after}"))
