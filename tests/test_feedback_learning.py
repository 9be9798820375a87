"""Learning from feedback, end to end with the real MiniLM: requests are logged in the decision
log, ``assistant feedback`` (and ``DecisionLog.feedback``) correct their category, and
``assistant retrain`` learns from the corrections.

The decision log's side (which feedback becomes a correction) is in test_decision_log.py;
here the corrections must change what the retrained classifier predicts.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.classifier import Classifier
from assistant.config import Settings
from assistant.decision_log import DecisionLog
from assistant.manifest import MANIFEST
from assistant.models import OUT_OF_SCOPE
from assistant.training import CLASSIFIER_FILE, Trainer
from ingestion.loader import KnowledgeBaseLoader
from tests.kb_factory import make_kb

# Dashboard password trouble: the tiny KB has no such ticket and its model files these
# under integration or llm_behavior; OPS says they are pam_core (the dashboard and accounts).
CORRECTED = [
    "I can't log in to the dashboard, the password reset email never arrives",
    "Password reset email for the dashboard login does not come",
    "Our service manager is locked out of the dashboard after too many password attempts",
    "Dashboard says my password is wrong but I just reset it",
]
PARAPHRASES = [  # never corrected: does the lesson carry over to new wording?
    "The password reset link for the dashboard never shows up in my inbox",
    "The dashboard password reset email is not arriving",
    "I never receive the email to reset my dashboard password",
]
CONTROLS = {  # what the model knew before must stand
    "PAM is not answering any calls at all today": "pam_core",
    "Our Xtime appointments are missing since we accepted the invite": "integration",
    "The AI keeps repeating the same question to callers": "llm_behavior",
}
TARGET = "pam_core"


def _cli(capsys, monkeypatch, argv: list[str], stdin: str = "") -> list[dict]:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _predict(index: Path, embedder, texts: list[str]) -> list[str]:
    """What the classifier saved beside the index predicts (what the pipeline loads)."""
    return [p.label for p in Classifier.load(index / CLASSIFIER_FILE, embedder).predict(texts)]


def test_corrected_categories_are_learnt_on_retrain(tmp_path, embedder, capsys, monkeypatch):
    kb = make_kb(tmp_path / "kb")
    index = tmp_path / "index"
    _cli(capsys, monkeypatch, ["ingest", str(kb), "--index", str(index), "--quiet", "--no-history"])
    manifest_before = json.loads((index / MANIFEST).read_text())

    before = _predict(index, embedder, CORRECTED + PARAPHRASES + list(CONTROLS))
    n = len(CORRECTED) + len(PARAPHRASES)
    assert all(label != TARGET for label in before[:n]), f"the KB already knows: {before}"
    assert before[n:] == list(CONTROLS.values())

    # The requests are answered and logged as the pipeline logs them (source "cli", not "eval").
    log = DecisionLog.from_settings(Settings(index=index), index)
    try:
        for i, (text, label) in enumerate(zip(CORRECTED, before)):
            log.record({"id": f"C-{i}", "channel": "email", "subject": "", "body": text},
                       {"id": f"C-{i}", "category": label, "priority": "P2", "route": "answer"},
                       source="cli", versions={"index": manifest_before["index_version"]})
        # OPS corrects them: half through `assistant feedback`, half through the API's DecisionLog.feedback.
        lines = "".join(json.dumps({"id": f"C-{i}", "outcome": "rejected", "category": TARGET}) + "\n"
                        for i in range(2))
        acks = _cli(capsys, monkeypatch, ["feedback", "--index", str(index)], lines)
        assert [a["category"] for a in acks] == [TARGET, TARGET]
        for i in range(2, len(CORRECTED)):
            log.feedback({"id": f"C-{i}", "outcome": "rejected", "category": TARGET})
        assert [(c["id"], c["label"]) for c in log.corrections()] == [(f"C-{i}", TARGET) for i in range(len(CORRECTED))]
    finally:
        log.close()

    summary = _cli(capsys, monkeypatch, ["retrain", str(kb), "--index", str(index), "--quiet"])[-1]
    assert summary["training"] == "done" and summary["corrections_used"] == len(CORRECTED)
    manifest = json.loads((index / MANIFEST).read_text())
    assert manifest["index_version"] != manifest_before["index_version"]
    assert manifest["training"]["n_corrections"] == len(CORRECTED)
    assert manifest["labels"] == manifest_before["labels"] == ["integration", "llm_behavior", "pam_core"]

    after = _predict(index, embedder, CORRECTED + PARAPHRASES + list(CONTROLS))
    assert after[:len(CORRECTED)] == [TARGET] * len(CORRECTED), after  # learnt what it was told
    assert after[len(CORRECTED):n] == [TARGET] * len(PARAPHRASES), after  # and it carries over
    assert after[n:] == list(CONTROLS.values()), after  # and forgot nothing

    # Nothing new since: a plain re-ingest keeps the retrained models rather than dropping the corrections.
    again = _cli(capsys, monkeypatch, ["ingest", str(kb), "--index", str(index), "--quiet", "--no-history"])[-1]
    assert again["training"] == "unchanged" and again["corrections_used"] == len(CORRECTED)


def _oos_correction(i: int) -> dict:
    return {"text": f"Can you recommend a good lunch place near the dealership? ({i})", "label": OUT_OF_SCOPE,
            "priority": "P3"}


@pytest.mark.parametrize("n_oos", [1, 5])
def test_out_of_scope_corrections_never_become_a_category(tmp_path, embedder, n_oos):
    """``out_of_scope`` feedback (or a priority-only correction on an out-of-scope decision, whose
    label is the logged ``out_of_scope``) must not become a fourth category the classifier predicts,
    nor cut the cross-validation to one fold (confidence thresholds of 1.0 escalate everything)."""
    kb = KnowledgeBaseLoader().run(make_kb(tmp_path / "kb"))
    corrections = [{"text": "Dashboard password reset email never arrives", "label": "pam_core", "priority": "P2"}]
    corrections += [_oos_correction(i) for i in range(n_oos)]
    report = Trainer(embedder).run(kb, tmp_path / "index", corrections=corrections)
    assert report.labels == ["integration", "llm_behavior", "pam_core"]
    assert all(t < 1.0 for t in report.thresholds.values()), report.thresholds
    clf = Classifier.load(tmp_path / "index" / CLASSIFIER_FILE, embedder)
    # Enough of them teach the classifier's out-of-scope class; a few are left out of it.
    assert clf.oos_label == (OUT_OF_SCOPE if n_oos >= 5 else None)
    [p] = clf.predict(["Can you recommend a good lunch place near the dealership?"])
    assert p.label != OUT_OF_SCOPE and p.in_scope < 0.5


def test_a_correction_to_a_category_the_kb_lacks_trains_priority_only(tmp_path, embedder, caplog):
    """A typo in feedback ("pam-core") must not become a class of one example: that would
    collapse the cross-validation and escalate everything."""
    kb = KnowledgeBaseLoader().run(make_kb(tmp_path / "kb"))
    corrections = [{"text": "Dashboard password reset email never arrives", "label": "pam-core", "priority": "P1"}]
    with caplog.at_level("WARNING", logger="assistant.training"):
        report = Trainer(embedder).run(kb, tmp_path / "index", corrections=corrections)
    assert report.labels == ["integration", "llm_behavior", "pam_core"]
    assert all(t < 1.0 for t in report.thresholds.values()), report.thresholds
    assert report.cv_accuracy > 0.5
    assert "pam-core" in caplog.text


def test_a_kb_label_with_one_ticket_does_not_take_the_calibration_with_it(tmp_path, embedder):
    """A new label with a single ticket (and its runbook) is learnt but not scored: before, the
    cross-validation gave up and set every confidence threshold to 1.0, escalating everything."""
    root = make_kb(tmp_path / "kb")
    with (root / "tickets.jsonl").open("a") as fh:
        fh.write(json.dumps({"id": "T-roam", "subject": "Roaming", "body": "Charging abroad fails with a roaming error",
                             "category": "roaming", "priority": "P2"}) + "\n")
    (root / "runbooks" / "rb-roam.md").write_text(
        "---\nid: rb-roam\ntitle: Roaming\ncategory: roaming\naudience: customer\n---\nEnable roaming in settings.\n")
    kb = KnowledgeBaseLoader().run(root)
    report = Trainer(embedder).run(kb, tmp_path / "index")
    assert "roaming" in report.labels
    assert all(t < 1.0 for t in report.thresholds.values()), report.thresholds
    assert report.cv_accuracy > 0.5


def test_held_out_scores_never_come_from_an_evidence_table_that_counted_them(tmp_path, embedder, monkeypatch):
    # Found by a review: the closest-runbook table was counted on every request, then applied to
    # each held-out fold, so the confidence thresholds were chosen with the test labels in hand.
    # A correction with a ticket's text is also kept in that ticket's fold.
    from assistant import training

    kb = KnowledgeBaseLoader().run(make_kb(tmp_path / "kb"))
    ticket = kb.tickets[0]
    corrections = [{"text": ticket.classifier_text, "label": ticket.category, "priority": None}]
    tables, scored, fits = [], [], []
    real_evidence, real_predict, real_fit = training._evidence, Classifier.predict, Classifier.fit

    def evidence(labels, top, is_request, rows, known):
        tables.append(set(rows))
        return real_evidence(labels, top, is_request, rows, known)

    def predict(self, texts, **kw):
        scored.append((len(tables), list(texts)))
        return real_predict(self, texts, **kw)

    def fit(self, texts, labels, *args, **kw):
        fits.append((list(texts), list(kw.get("groups") or [])))
        return real_fit(self, texts, labels, *args, **kw)

    monkeypatch.setattr(training, "_evidence", evidence)
    monkeypatch.setattr(Classifier, "predict", predict)
    monkeypatch.setattr(Classifier, "fit", fit)
    Trainer(embedder).run(kb, tmp_path / "index", corrections=corrections)
    texts, groups = fits[0]  # the model that ships: fitted on every example
    assert [g for t, g in zip(texts, groups) if t == ticket.classifier_text] == [ticket.id, ticket.id]
    index_of = {t: i for i, t in enumerate(texts)}
    assert len(tables) > 1
    for n_tables, fold_texts in scored:  # each fold is scored after its own table is counted
        rows = {index_of[t] for t in fold_texts}
        assert not rows & tables[n_tables - 1]
