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

from pathlib import Path
from typing import Sequence

import numpy as np

from guardrails import DATA_DIR, ExemplarIndex, read_lines

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
