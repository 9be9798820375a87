"""The closest runbook's category as evidence beside the classifier (assistant/evidence.py)."""

from __future__ import annotations

import json

import pytest

from assistant.classifier import Prediction
from assistant.evidence import RetrievalEvidence

LABELS = ["integration", "llm_behavior", "pam_core"]


def test_the_table_counts_pairs_with_one_pseudo_count_per_cell():
    ev = RetrievalEvidence.fit(["integration"] * 8 + ["pam_core"] * 2,
                               ["integration"] * 6 + ["pam_core"] * 2 + ["pam_core", None], LABELS)
    assert ev.likelihood[0] == pytest.approx([7 / 11, 1 / 11, 3 / 11])
    assert ev.likelihood[1] == pytest.approx([1 / 3] * 3)  # no llm_behavior requests: uniform
    assert ev.likelihood[2] == pytest.approx([1 / 4, 1 / 4, 2 / 4])  # the None top is not counted
    assert all(sum(row) == pytest.approx(1.0) for row in ev.likelihood)


def test_combining_moves_probability_toward_the_closest_runbooks_category():
    ev = RetrievalEvidence.fit(["integration"] * 9 + ["pam_core"] * 9, ["integration"] * 9 + ["pam_core"] * 9,
                               LABELS)
    probs = {"integration": 0.5, "llm_behavior": 0.1, "pam_core": 0.4}
    after = ev.combine(probs, "pam_core")
    assert max(after, key=after.get) == "pam_core"
    assert sum(after.values()) == pytest.approx(1.0)
    assert ev.combine(probs, "integration")["integration"] > 0.5
    # nothing to say: no closest runbook, a category the table lacks, or other labels
    assert ev.combine(probs, None) == probs
    assert ev.combine(probs, "billing") == probs
    assert ev.combine({"a": 0.7, "b": 0.3}, "pam_core") == {"a": 0.7, "b": 0.3}


def test_json_round_trip_and_absent_table():
    ev = RetrievalEvidence.fit(["integration", "pam_core"], ["pam_core", "pam_core"], LABELS)
    back = RetrievalEvidence.from_json(json.loads(json.dumps(ev.to_json())))
    assert back.labels == ev.labels
    for got, want in zip(back.likelihood, ev.likelihood):
        assert got == pytest.approx(want, abs=1e-6)
    assert RetrievalEvidence.from_json(None) is None


@pytest.mark.slow
def test_ingest_keeps_the_evidence_only_where_it_helps_on_held_out_tickets(sample_index):
    manifest = json.loads((sample_index / "manifest.json").read_text())
    training, table = manifest["training"], manifest["retrieval_evidence"]
    if training["retrieval_evidence_used"]:
        assert table["labels"] == manifest["labels"]
        assert all(sum(row) == pytest.approx(1.0, abs=1e-5) for row in table["likelihood"])
        assert training["cv_accuracy"] >= training["cv_accuracy_classifier_alone"]
    else:
        assert table is None and training["cv_accuracy"] == training["cv_accuracy_classifier_alone"]
    # on the sample KB the closest runbook helps (0.776 -> 0.801 on held-out tickets)
    assert training["retrieval_evidence_used"] is True


@pytest.mark.slow
def test_the_pipeline_weighs_the_closest_runbook(sample_index, embedder):
    from assistant.config import Settings
    from assistant.pipeline import Pipeline

    pipeline = Pipeline.load(Settings(index=sample_index), embedder=embedder)
    assert pipeline.evidence is not None
    text = "PAM switched to Spanish with an English-speaking caller this morning"
    features, vectors = pipeline.classifier.encode([text])
    alone = pipeline.classifier.predict([text], features=features)[0]
    doc_id, _ = pipeline.retriever.best_match(vectors[0], audience=None)
    closest = pipeline.retriever.category_of(doc_id)
    # A table that trusts the closest runbook completely decides the category...
    certain = RetrievalEvidence(LABELS, [[0.98 if i == j else 0.01 for j in range(3)] for i in range(3)])
    pipeline.evidence = certain
    unsure = Prediction(label=alone.label, confidence=0.4, probabilities={lab: 1 / 3 for lab in LABELS})
    assert pipeline._with_evidence(unsure, vectors[0]).label == closest
    # ...a uniform one changes nothing, and without a table the classifier decides alone.
    pipeline.evidence = RetrievalEvidence(LABELS, [[1 / 3] * 3] * 3)
    assert pipeline._with_evidence(alone, vectors[0]).probabilities == pytest.approx(alone.probabilities)
    pipeline.evidence = None
    assert pipeline._with_evidence(alone, vectors[0]) is alone
