"""Train the triage models from a knowledge base and choose thresholds by cross-validation.

The classifier learns its label set from the KB's tickets and runbooks; the
priority model from the tickets' priorities. The confidence an answer needs on
each surface is chosen on out-of-fold predictions, so a KB the assistant has
never seen gets thresholds fitted to its own data, not to the bundled sample.

>>> report = Trainer(embedder).run(kb, index_dir)      # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from assistant.classifier import Classifier, expected_calibration_error
from assistant.evidence import RetrievalEvidence
from assistant.manifest import read_manifest, write_manifest
from assistant.models import OUT_OF_SCOPE
from assistant.priority import PriorityModel
from ingestion.chunker import Chunker
from ingestion.loader import KnowledgeBase

CLASSIFIER_FILE = "classifier.joblib"
PRIORITY_FILE = "priority.joblib"
# Accuracy an automatic decision must reach on held-out folds, per surface: the
# chat reply goes straight to dealership staff, the email reply is reviewed by OPS.
# Set from the dev set (benchmarks/bench_thresholds.py): 0.85/0.92 put the chat
# threshold at 0.93 and escalated a third of answerable chats whose category was right.
TARGET_ACCURACY = {"email": 0.80, "chat": 0.85}
# Examples labelled out_of_scope (OPS feedback saying "not a PAM request", or such
# tickets in a KB) teach the classifier's extra "none of these" class, never a
# category. The classifier's and the trainer's cross-validation need this many of
# them per fold split; fewer would cut both to one or two folds (no calibration,
# no abstention, a confidence threshold of 1.0), so until then they train the
# priority model only.
MIN_OOS_EXAMPLES = 5

log = logging.getLogger(__name__)


@dataclass
class TrainingReport:
    labels: list[str]
    n_examples: int
    cv_accuracy: float
    cv_ece: float
    thresholds: dict[str, float]
    train_s: float


def choose_threshold(confidence: np.ndarray, correct: np.ndarray, target: float) -> float:
    """Lowest confidence threshold whose accepted predictions reach ``target`` accuracy.

    Falls back to the threshold with the best accuracy when none reaches it.
    """
    order = np.argsort(-confidence)
    conf, ok = confidence[order], correct[order].astype(float)
    acc = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    meets = np.where(acc >= target)[0]
    if len(meets) == 0:
        return float(conf[int(np.argmax(acc))])
    return float(conf[meets[-1]])


def corrections_to_examples(rows: list[dict]) -> tuple[list[str], list[str], list[str | None]]:
    texts, labels, prios = [], [], []
    for r in rows:
        if r.get("text") and r.get("label"):
            texts.append(r["text"])
            labels.append(r["label"])
            prios.append(r.get("priority"))
    return texts, labels, prios


def _same_text(text: str) -> str:
    return " ".join(str(text).lower().split())


def _evidence(labels, top, is_request, rows, known: list[str]) -> RetrievalEvidence:
    """The closest-runbook table counted on the in-scope requests (tickets, corrections) among ``rows``."""
    rows = [i for i in rows if is_request[i] and labels[i] != OUT_OF_SCOPE]
    return RetrievalEvidence.fit([labels[i] for i in rows], [top[i] for i in rows], known)


def index_version(doc_hashes: dict[str, str], corrections: list[dict]) -> str:
    """Names what the models were trained on: the documents' hashes and the corrections."""
    payload = json.dumps([sorted(doc_hashes.items()), [[c.get("text"), c.get("label"), c.get("priority")]
                                                        for c in corrections]])
    return hashlib.sha256(payload.encode()).hexdigest()[:12]


def is_current(index_dir: Path, version: str) -> bool:
    """True when the models beside the index were trained on exactly this version."""
    manifest = read_manifest(index_dir)
    if manifest is None:  # none, or valid JSON but not a manifest: retrain
        return False
    return (manifest.get("index_version") == version and (index_dir / CLASSIFIER_FILE).exists()
            and (index_dir / PRIORITY_FILE).exists())


@dataclass
class Trained:
    """Models fitted by ``Trainer.fit``, not yet written."""

    classifier: Classifier
    priority: PriorityModel
    manifest: dict
    report: TrainingReport

    def save(self, index_dir: Path) -> TrainingReport:
        """Write the models, then the manifest that names them, beside the index."""
        index_dir.mkdir(parents=True, exist_ok=True)
        self.classifier.save(index_dir / CLASSIFIER_FILE)
        self.priority.save(index_dir / PRIORITY_FILE)
        write_manifest(index_dir, self.manifest)
        return self.report


class Trainer:
    """Fits classifier and priority model on a KB and writes them beside the index."""

    def __init__(self, embedder, folds: int = 5):
        self.embedder = embedder
        self.folds = folds

    def run(self, kb: KnowledgeBase, index_dir: Path, *, corrections: list[dict] | None = None,
            doc_hashes: dict[str, str] | None = None) -> TrainingReport:
        """Train and write the models and the manifest beside the index."""
        return self.fit(kb, corrections=corrections, doc_hashes=doc_hashes).save(index_dir)

    def fit(self, kb: KnowledgeBase, *, corrections: list[dict] | None = None,
            doc_hashes: dict[str, str] | None = None) -> "Trained":
        """Train the models in memory; nothing is written until ``Trained.save``. Ingest trains
        before it touches the index, so a KB the models cannot learn leaves index and models as
        they were, still a pair."""
        started = time.perf_counter()
        docs = kb.documents
        texts = [d.classifier_text for d in docs]
        labels = [d.category for d in docs]
        groups = [d.id for d in docs]
        prios: list[str | None] = [d.priority if d.kind == "ticket" else None for d in docs]
        is_request = [d.kind == "ticket" for d in docs]
        # Each runbook section is an example of its category too: on the dev set this
        # raised accuracy from 0.83 to 0.90 and halved the calibration error.
        chunker = Chunker()
        n_docs = len(texts)
        for d in kb.runbooks:
            for c in chunker.run(d, ""):
                texts.append(c.embed_text)
                labels.append(d.category)
                groups.append(d.id)
                prios.append(None)
                is_request.append(False)
        n_chunks = len(texts) - n_docs  # rows n_docs.. are runbook sections, as the index holds them
        # Feedback corrections (decision log) become extra training examples.
        ct, cl, cp = corrections_to_examples(corrections or [])
        texts, labels, prios = texts + ct, labels + cl, prios + cp
        # A correction is grouped with its text: the same request corrected twice, or a corrected
        # request later added to tickets.jsonl, must not sit in a training fold and a test fold.
        by_text = {_same_text(d.classifier_text): d.id for d in docs}
        groups += [by_text.get(_same_text(t), f"correction:{_same_text(t)}") for t in ct]
        is_request += [True] * len(ct)
        X = self.embedder.encode_documents(texts)
        prio = PriorityModel(self.embedder).fit(texts, prios, embeddings=X)
        # The category of each example's closest runbook section, as the pipeline finds it.
        sections = X[n_docs:n_docs + n_chunks]
        section_labels = labels[n_docs:n_docs + n_chunks]
        top = ([section_labels[int(j)] for j in (X @ sections.T).argmax(1)] if n_chunks
               else [None] * len(texts))

        # out_of_scope is not a category: with enough examples it is the classifier's
        # out-of-scope class, with fewer it is left out of the classifier.
        oos = np.array([lab == OUT_OF_SCOPE for lab in labels], dtype=bool)
        oos_label = OUT_OF_SCOPE if oos.sum() >= MIN_OOS_EXAMPLES else None
        # The KB defines the categories (SPEC 3). A correction to a category no ticket or
        # runbook has (a typo, a label from elsewhere) would be a class of one example
        # and collapse the cross-validation: it trains the priority model only.
        known = {d.category for d in docs}
        unknown = np.array([lab != OUT_OF_SCOPE and lab not in known for lab in labels], dtype=bool)
        if unknown.any():
            log.warning("%d correction(s) name a category the KB does not have (%s): used for priority only",
                        int(unknown.sum()), ", ".join(sorted({labels[i] for i in np.flatnonzero(unknown)})))
        drop = unknown | (oos & (oos_label is None))
        if drop.any():
            keep = np.flatnonzero(~drop)
            texts, labels, groups, X = ([texts[i] for i in keep], [labels[i] for i in keep],
                                        [groups[i] for i in keep], X[keep])
            is_request = [is_request[i] for i in keep]
            top = [top[i] for i in keep]
        clf = Classifier(self.embedder).fit(texts, labels, embeddings=X, oos_label=oos_label, groups=groups)
        # How often a request of each category has its closest runbook in each category:
        # counted on the KB's own requests (tickets and corrections).
        evidence = _evidence(labels, top, is_request, range(len(labels)), clf.labels)
        conf, correct, conf_alone, correct_alone = self._out_of_fold(
            texts, labels, X, groups, np.array(is_request), oos_label, top=top)
        # Used only where it helps on this KB's own held-out requests (sample KB: 0.782 ->
        # 0.801; on tests/fixtures/kb_alt it would lower 0.90 to 0.85, so it is left off there).
        use_evidence = bool(correct.mean() >= correct_alone.mean())
        if not use_evidence:
            conf, correct = conf_alone, correct_alone
        thresholds = {s: round(choose_threshold(conf, correct, t), 4) for s, t in TARGET_ACCURACY.items()}

        report = TrainingReport(
            labels=clf.labels, n_examples=len(texts), cv_accuracy=round(float(correct.mean()), 4),
            cv_ece=round(expected_calibration_error(conf, correct), 4), thresholds=thresholds,
            train_s=round(time.perf_counter() - started, 2))
        version = index_version(doc_hashes or {d.id: d.content_hash for d in docs}, corrections or [])
        manifest = {
            "format": 1,
            "index_version": version,
            "model": self.embedder.name,
            "labels": clf.labels,
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "kb": str(kb.root),
            "thresholds": {"confidence": thresholds},
            "retrieval_evidence": evidence.to_json() if use_evidence else None,
            "training": {"n_examples": report.n_examples, "n_corrections": len(ct),
                         "cv_accuracy": report.cv_accuracy, "cv_ece": report.cv_ece,
                         "retrieval_evidence_used": use_evidence,
                         "cv_accuracy_classifier_alone": round(float(correct_alone.mean()), 4),
                         "cv_ece_classifier_alone": round(expected_calibration_error(conf_alone, correct_alone), 4)},
        }
        return Trained(clf, prio, manifest, report)

    def _out_of_fold(self, texts, labels, X, groups, is_request, oos_label: str | None = None, *,
                     top: list[str | None] | None = None):
        """Held-out confidence and correctness on in-scope request-like examples (tickets, corrections):
        with the closest runbook's category as evidence (its table counted on the training fold
        only: counted on every request, it had seen the labels it was scored on), then of the
        classifier alone.

        Folds are grouped by document so no runbook section is scored by a model
        that saw another section of the same runbook. Out-of-scope examples train
        the folds' out-of-scope class; the category confidence is not scored on them.
        """
        y = np.asarray(labels)
        in_scope = y != oos_label if oos_label is not None else np.ones(len(y), dtype=bool)
        scored = is_request & in_scope
        if not scored.any():
            scored = in_scope
        # A label of one document (one runbook and its sections, no ticket) is trained on in every
        # fold and scored in none: held out, it left a fold with one label, and training failed.
        docs_of = {name: len({groups[i] for i in np.flatnonzero(y == name)}) for name in set(y.tolist())}
        one_doc = np.array([docs_of[lab] < 2 and lab != oos_label for lab in y.tolist()], dtype=bool)
        scored = scored & ~one_doc
        # A label with a single example has no honest held-out estimate: it is trained on but
        # not scored, so one new label does not take the whole KB's calibration with it.
        names, counts = np.unique(y[scored], return_counts=True)
        single = set(names[counts < 2].tolist())
        scored = scored & ~np.isin(y, list(single))
        k = int(min(self.folds, counts[counts >= 2].min(), len(set(groups)))) if (counts >= 2).any() else 0
        if k < 2:  # no label with two examples: nothing to estimate, demand certainty
            return np.array([1.0]), np.array([False]), np.array([1.0]), np.array([False])
        conf, conf_alone = np.zeros(len(y)), np.zeros(len(y))
        correct, correct_alone = np.zeros(len(y), dtype=bool), np.zeros(len(y), dtype=bool)
        with warnings.catch_warnings():  # "the least populated class has only 1 member": see above
            warnings.simplefilter("ignore", UserWarning)
            folds = list(StratifiedGroupKFold(k, shuffle=True, random_state=0).split(X, y, groups))
        for tr, te in folds:
            tr, te = np.union1d(tr, te[one_doc[te]]), te[~one_doc[te]]
            clf = Classifier(self.embedder).fit([texts[i] for i in tr], y[tr].tolist(), embeddings=X[tr],
                                                oos_label=oos_label, groups=[groups[i] for i in tr])
            evidence = _evidence(labels, top, is_request, tr, clf.labels) if top else None
            for i, p in zip(te, clf.predict([texts[i] for i in te], embeddings=X[te])):
                conf_alone[i], correct_alone[i] = p.confidence, p.label == y[i]
                q = evidence.apply(p, top[i]) if evidence and top else p
                conf[i], correct[i] = q.confidence, q.label == y[i]
        return conf[scored], correct[scored], conf_alone[scored], correct_alone[scored]
