"""The classify stage: intent label, calibrated confidence and an out-of-scope decision.

Logistic regression on frozen, normalised sentence embeddings. Probabilities are
temperature-scaled on cross-validated (held-out) logits; the abstention threshold
is chosen on a validation set or, without one, on the same cross-validated scores.
The test set is never seen during fit.

>>> clf = Classifier(Embedder.default()).fit(texts, labels)      # doctest: +SKIP
>>> clf.predict(["PAM keeps repeating itself"])[0].label          # doctest: +SKIP
'llm_behavior'
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from assistant.errors import IndexMissing, InputError

FORMAT_VERSION = 1


@dataclass
class Prediction:
    """One text's classification."""

    label: str  # top in-scope label (even when abstaining)
    confidence: float  # calibrated probability of `label`, in [0,1]
    probabilities: dict[str, float] = field(default_factory=dict)
    in_scope: float = 1.0  # in-domain score in [0,1]; higher = more like the training data
    abstain: bool = False  # True when the out-of-scope decision says so


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE with equal-width confidence bins (Guo et al. 2017)."""
    confidence = np.asarray(confidence, dtype=float)
    correct = np.asarray(correct, dtype=float)
    if confidence.size == 0:
        return float("nan")
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            ece += mask.mean() * abs(confidence[mask].mean() - correct[mask].mean())
    return float(ece)


def _fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """The temperature that minimises held-out negative log-likelihood."""

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean())

    res = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(res.x))


class Classifier:
    """Intent classifier with calibrated probabilities and abstention.

    >>> clf = Classifier(embedder).fit(texts, labels, oos_label="oos")   # doctest: +SKIP
    >>> p = clf.predict(["what's the weather on mars"])[0]                # doctest: +SKIP
    >>> p.abstain, p.label, round(p.confidence, 2)                        # doctest: +SKIP
    (True, 'pam_core', 0.41)
    """

    def __init__(
        self,
        embedder,
        *,
        C: float = 10.0,
        cv_folds: int = 5,
        min_in_scope_recall: float = 0.95,
        random_state: int = 0,
    ):
        if C <= 0:
            raise ValueError("C must be positive")
        if cv_folds < 2:
            raise ValueError("cv_folds must be at least 2")
        if not 0.0 < min_in_scope_recall <= 1.0:
            raise ValueError("min_in_scope_recall must be in (0, 1]")
        self.embedder = embedder
        self.hyperparameters = {
            "C": C,
            "cv_folds": cv_folds,
            "min_in_scope_recall": min_in_scope_recall,
            "random_state": random_state,
        }
        self.labels: list[str] = []
        self.threshold: float = 0.0
        self.temperature: float = 1.0
        self.oos_label: str | None = None
        self._model: LogisticRegression | None = None
        self._report: dict = {}

    # -- training ---------------------------------------------------------

    def _embed(self, texts: list[str], embeddings: np.ndarray | None) -> np.ndarray:
        if embeddings is None:
            return np.asarray(self.embedder.encode_queries(list(texts)), dtype=np.float32)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if len(embeddings) != len(texts):
            raise InputError(
                f"got {len(embeddings)} embeddings for {len(texts)} texts", field="embeddings", stage="classify"
            )
        return embeddings

    def _new_model(self) -> LogisticRegression:
        return LogisticRegression(C=self.hyperparameters["C"], max_iter=1000)

    def fit(
        self,
        texts: list[str],
        labels: list[str],
        embeddings: np.ndarray | None = None,
        val_texts: list[str] | None = None,
        val_labels: list[str] | None = None,
        oos_label: str | None = None,
    ) -> "Classifier":
        """Train on texts and labels; choose temperature and threshold without touching test data."""
        started = time.perf_counter()
        if len(texts) != len(labels):
            raise InputError(f"{len(texts)} texts but {len(labels)} labels", field="labels", stage="classify")
        X = self._embed(texts, embeddings)
        y_all = np.asarray(labels, dtype=object)
        self.oos_label = oos_label
        is_oos = (y_all == oos_label) if oos_label is not None else np.zeros(len(y_all), bool)
        self.labels = sorted(set(y_all[~is_oos].tolist()))
        if len(self.labels) < 2:
            raise InputError(
                f"need at least two in-scope labels to train, got {self.labels}", field="labels", stage="classify"
            )
        index = {lab: i for i, lab in enumerate(self.labels)}
        X_in = X[~is_oos]
        y_in = np.array([index[lab] for lab in y_all[~is_oos]])

        # Held-out logits by stratified CV: they set the temperature and, without a
        # validation set, the threshold. Folds shrink to the rarest label's count.
        held_logits, folds = self._cv_logits(X_in, y_in)
        if held_logits is not None:
            self.temperature = _fit_temperature(held_logits, y_in)
            probs = softmax(held_logits / self.temperature, axis=1)
            conf = probs.max(1)
            ece = expected_calibration_error(conf, probs.argmax(1) == y_in)
            ece_raw = expected_calibration_error(softmax(held_logits, 1).max(1), held_logits.argmax(1) == y_in)
            cv_acc = float((probs.argmax(1) == y_in).mean())
        else:
            self.temperature, ece, ece_raw, cv_acc, conf = 1.0, float("nan"), float("nan"), float("nan"), None

        self._model = self._new_model().fit(X_in, y_in)

        # Threshold on in_scope (= calibrated top probability here).
        source = "default"
        if val_texts is not None and val_labels is not None and len(val_texts):
            val_preds = self.predict(list(val_texts), _apply_threshold=False)
            scores = np.array([p.in_scope for p in val_preds])
            v_labels = np.asarray(val_labels, dtype=object)
            v_oos = (v_labels == oos_label) if oos_label is not None else np.zeros(len(v_labels), bool)
            v_correct = np.array([p.label == lab for p, lab in zip(val_preds, v_labels)])
            self.threshold = self._choose_threshold(scores, v_oos, v_correct)
            source = "validation"
        elif conf is not None:
            oos_scores = np.zeros(0)
            if is_oos.any():
                oos_scores = softmax(self._model.decision_function(X[is_oos]) / self.temperature, 1).max(1)
            scores = np.concatenate([conf, oos_scores])
            v_oos = np.concatenate([np.zeros(len(conf), bool), np.ones(len(oos_scores), bool)])
            v_correct = np.concatenate([probs.argmax(1) == y_in, np.zeros(len(oos_scores), bool)])
            self.threshold = self._choose_threshold(scores, v_oos, v_correct)
            source = "cross-validation"
        else:
            self.threshold = 0.0

        self._report = {
            "method": "logreg+temperature",
            "ece": ece,
            "ece_uncalibrated": ece_raw,
            "cv_accuracy": cv_acc,
            "cv_folds": folds,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "threshold_source": source,
            "n_train": int(len(texts)),
            "n_labels": len(self.labels),
            "fit_s": round(time.perf_counter() - started, 3),
        }
        return self

    def _cv_logits(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray | None, int]:
        counts = np.bincount(y, minlength=len(self.labels))
        folds = int(min(self.hyperparameters["cv_folds"], counts.min()))
        if folds < 2:
            return None, 0
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.hyperparameters["random_state"])
        logits = np.zeros((len(y), len(self.labels)))
        for tr, te in skf.split(X, y):
            logits[te] = self._new_model().fit(X[tr], y[tr]).decision_function(X[te])
        return logits, folds

    def _choose_threshold(self, scores: np.ndarray, is_oos: np.ndarray, correct: np.ndarray) -> float:
        """With out-of-scope examples: maximise (in-scope accuracy + OOS recall) / 2.
        Without: the highest threshold that keeps `min_in_scope_recall` of in-scope examples."""
        ins = scores[~is_oos]
        if not is_oos.any() or not ins.size:
            q = 1.0 - self.hyperparameters["min_in_scope_recall"]
            return float(np.quantile(ins, q)) if ins.size else 0.0
        candidates = np.unique(np.concatenate([[0.0], scores]))
        best_t, best = 0.0, -1.0
        for t in candidates:
            acc = float((correct[~is_oos] & (scores[~is_oos] >= t)).mean())
            rec = float((scores[is_oos] < t).mean())
            if (acc + rec) / 2 > best:
                best_t, best = float(t), (acc + rec) / 2
        return best_t

    # -- inference --------------------------------------------------------

    def predict(
        self, texts: list[str], embeddings: np.ndarray | None = None, *, _apply_threshold: bool = True
    ) -> list[Prediction]:
        """Classify texts; `abstain` marks those the out-of-scope decision rejects."""
        if self._model is None:
            raise IndexMissing("classifier is not trained: call fit() or load()", stage="classify")
        if not len(texts):
            return []
        X = self._embed(texts, embeddings)
        probs = softmax(self._model.decision_function(X) / self.temperature, axis=1)
        out = []
        for row in probs:
            top = int(row.argmax())
            conf = float(row[top])
            out.append(
                Prediction(
                    label=self.labels[top],
                    confidence=conf,
                    probabilities={lab: float(p) for lab, p in zip(self.labels, row)},
                    in_scope=conf,
                    abstain=bool(_apply_threshold and conf < self.threshold),
                )
            )
        return out

    def calibration_report(self) -> dict:
        """Held-out calibration and threshold figures measured during fit."""
        return dict(self._report)

    # -- persistence ------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the sklearn parts with joblib and the metadata as JSON beside it (`<path>.json`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT_VERSION,
            "embedder": getattr(self.embedder, "name", None),
            "labels": self.labels,
            "threshold": self.threshold,
            "temperature": self.temperature,
            "oos_label": self.oos_label,
            "hyperparameters": self.hyperparameters,
            "report": self._report,
        }
        joblib.dump({"meta": meta, "model": self._model}, path)
        Path(str(path) + ".json").write_text(json.dumps(meta, indent=2, default=float))

    @classmethod
    def load(cls, path: Path, embedder) -> "Classifier":
        """Read a saved classifier; IndexMissing names the path when it is absent or unreadable."""
        path = Path(path)
        if not path.is_file():
            raise IndexMissing(f"no classifier at {path}: run `assistant ingest` first", stage="classify")
        try:
            blob = joblib.load(path)
            meta = blob["meta"]
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"format {meta.get('format')!r}, expected {FORMAT_VERSION}")
        except Exception as exc:  # joblib/pickle raise many types on a corrupt file
            raise IndexMissing(f"classifier at {path} cannot be read ({exc}): run `assistant ingest` again",
                               stage="classify") from exc
        clf = cls(embedder, **meta["hyperparameters"])
        clf.labels = list(meta["labels"])
        clf.threshold = float(meta["threshold"])
        clf.temperature = float(meta["temperature"])
        clf.oos_label = meta["oos_label"]
        clf._report = dict(meta["report"])
        clf._model = blob["model"]
        return clf
