"""intent-bench: train the triage classifier on ``{"text","label"}`` lines and score it.

Thresholds come from the validation file or from cross-validation on the training
file, never from the test file. Out-of-scope is predicted by abstention.

    assistant intent-bench TRAIN.jsonl TEST.jsonl [--val VAL.jsonl] [--oos-label oos]

>>> run("train.jsonl", "test.jsonl", val_path="val.jsonl")["in_scope_accuracy"]   # doctest: +SKIP
0.962
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from assistant.errors import InputError
from assistant.requests_io import json_line, not_utf8, utf8_lines

PRIMARY_METRIC = "in_scope_accuracy"
OPERATING_POINTS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05)  # held-out in-scope accuracy one may give up


def read_examples(path: str | Path) -> tuple[list[str], list[str]]:
    """Texts and labels of a JSON-lines file; InputError names the file and line of a bad one."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})", field="path") from exc
    texts, labels = [], []
    for n, line in utf8_lines(data):
        if isinstance(line, UnicodeDecodeError):
            raise InputError(f"{path}:{n}: {not_utf8(line)}", field="line")
        if not line.strip():
            continue
        try:
            row = json_line(line)  # bad JSON, nesting too deep, a number of thousands of digits
        except ValueError as exc:
            raise InputError(f"{path}:{n}: not valid JSON ({exc})", field="line") from exc
        if not isinstance(row, dict):
            raise InputError(f"{path}:{n}: expected a JSON object with text and label", field="line")
        for key in ("text", "label"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise InputError(f"{path}:{n}: '{key}' must be a non-empty string", field=key)
        texts.append(row["text"])
        labels.append(row["label"])
    if not texts:
        raise InputError(f"{path}: no examples", field="path")
    return texts, labels


def score(predictions, labels: list[str], oos_label: str | None) -> dict:
    """In-scope accuracy (abstaining counts as wrong), OOS recall and precision."""
    y = np.asarray(labels, dtype=object)
    pred = np.array([p.label for p in predictions], dtype=object)
    abstain = np.array([p.abstain for p in predictions], dtype=bool)
    oos = (y == oos_label) if oos_label is not None else np.zeros(len(y), bool)
    ins = ~oos
    out = {
        "in_scope_accuracy": float(((pred == y) & ~abstain)[ins].mean()) if ins.any() else float("nan"),
        "in_scope_accuracy_no_threshold": float((pred == y)[ins].mean()) if ins.any() else float("nan"),
        "oos_recall": float(abstain[oos].mean()) if oos.any() else float("nan"),
        "oos_precision": float(oos[abstain].mean()) if abstain.any() else float("nan"),
        "abstain_rate": float(abstain.mean()),
    }
    return out


def run(train_path, test_path, val_path=None, oos_label: str | None = "oos", embedder=None, **hyperparameters) -> dict:
    """Train on TRAIN (thresholds on VAL or by CV), score on TEST; a JSON-ready dict."""
    from assistant.classifier import Classifier

    train_texts, train_labels = read_examples(train_path)
    test_texts, test_labels = read_examples(test_path)
    val_texts, val_labels = read_examples(val_path) if val_path else (None, None)
    # An out-of-scope label that no file uses means there is nothing out of scope to score.
    if oos_label not in set(train_labels) | set(val_labels or ()) | set(test_labels):
        oos_label = None
    if embedder is None:
        from retrieval.embedder import Embedder

        embedder = Embedder.default()

    started, cpu = time.perf_counter(), time.process_time()
    clf = Classifier(embedder, **hyperparameters).fit(
        train_texts, train_labels, val_texts=val_texts, val_labels=val_labels,
        oos_label=oos_label,
    )
    train_s, train_cpu_s = time.perf_counter() - started, time.process_time() - cpu

    started = time.perf_counter()
    predictions = clf.predict(test_texts)
    predict_s = time.perf_counter() - started

    report = clf.calibration_report()
    result = score(predictions, test_labels, oos_label)
    # Other operating points: each threshold is chosen on the same held-out data as the
    # default one (val or CV), only the accuracy budget differs; the test set just scores it.
    points = []
    for drop in OPERATING_POINTS:
        t = clf.threshold_for(drop)
        moved = [replace(p, abstain=p.in_scope < t) for p in predictions]
        points.append({"max_accuracy_drop": drop, "threshold": t,
                       **score(moved, test_labels, oos_label)})
    result.update(
        {
            "n_train": len(train_texts),
            "n_val": len(val_texts) if val_texts else 0,
            "n_test": len(test_texts),
            "n_labels": len(clf.labels),
            "train_s": round(train_s, 2),
            # CPU seconds of this process: a fairer measure than wall time on a shared machine.
            "train_cpu_s": round(train_cpu_s, 2),
            "predict_s": round(predict_s, 2),
            "threshold": clf.threshold,
            "threshold_source": report.get("threshold_source"),
            "method": report.get("method"),
            "ece": report.get("ece"),
            "ece_uncalibrated": report.get("ece_uncalibrated"),
            "primary_metric": PRIMARY_METRIC,
            "operating_points": points,
        }
    )
    return result
