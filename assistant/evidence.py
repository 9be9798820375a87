"""The category of the closest runbook as a second, independent piece of evidence.

The classifier reads the request; retrieval finds the runbook closest to it, and
that runbook has a category. On the sample KB's dev set the closest runbook's
category was right more often (0.87) than the classifier (0.79), and the two err
on different requests. They are combined as in naive Bayes:

    P(category | request, closest runbook) ∝ P_classifier(category) · P(closest runbook's category | category)

The likelihood table is counted at ingest on the KB's own past tickets (how often a
ticket of category c has its closest runbook in category r), with one pseudo-count
per cell, so it holds for whatever KB is indexed. No weight is fitted.

>>> ev = RetrievalEvidence.fit(["a", "a", "b"], ["a", "b", "b"], labels=["a", "b"])
>>> [round(v, 2) for v in ev.likelihood[0]]
[0.5, 0.5]
>>> {k: round(v, 2) for k, v in ev.combine({"a": 0.5, "b": 0.5}, "b").items()}
{'a': 0.43, 'b': 0.57}
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

from assistant.classifier import Prediction


@dataclass
class RetrievalEvidence:
    labels: list[str]
    likelihood: list[list[float]]  # row: true category, column: closest runbook's category

    @classmethod
    def fit(cls, true_labels: Sequence[str], top_labels: Sequence[str | None], labels: Sequence[str]
            ) -> "RetrievalEvidence":
        """Count (true, closest-runbook) category pairs, plus one per cell, and normalise each row."""
        labels = list(labels)
        index = {lab: i for i, lab in enumerate(labels)}
        counts = [[1.0] * len(labels) for _ in labels]
        for true, top in zip(true_labels, top_labels):
            if true in index and top in index:
                counts[index[true]][index[top]] += 1
        return cls(labels, [[c / sum(row) for c in row] for row in counts])

    def combine(self, probabilities: dict[str, float], top_label: str | None) -> dict[str, float]:
        """The classifier's probabilities updated by the closest runbook's category.

        Unchanged when the closest runbook's category is not one of the labels (or
        there is none), or when the labels differ from the classifier's.
        """
        if top_label not in self.labels or set(probabilities) != set(self.labels):
            return dict(probabilities)
        column = self.labels.index(top_label)
        joint = {lab: probabilities[lab] * self.likelihood[i][column] for i, lab in enumerate(self.labels)}
        total = sum(joint.values())
        if total <= 0:
            return dict(probabilities)
        return {lab: joint[lab] / total for lab in probabilities}

    def apply(self, pred: Prediction, top_label: str | None) -> Prediction:
        """``pred`` with its probabilities combined with the closest runbook's category, and its
        label and confidence following them (what the pipeline and ingest's held-out scoring use)."""
        probs = self.combine(pred.probabilities, top_label)
        label = max(probs, key=probs.get)
        return dataclasses.replace(pred, label=label, confidence=probs[label], probabilities=probs)

    def to_json(self) -> dict:
        return {"labels": self.labels, "likelihood": [[round(v, 6) for v in row] for row in self.likelihood]}

    @classmethod
    def from_json(cls, data: dict | None) -> "RetrievalEvidence | None":
        if not data:
            return None
        return cls(list(data["labels"]), [list(map(float, row)) for row in data["likelihood"]])
