"""Evaluation metrics as pure functions over plain lists: no pipeline, no files.

Each function takes what a person would write down by hand (true and predicted
labels, confidences and correctness flags, ranked source ids) and returns a
number or a small dict, so every one can be checked on a tiny example.

>>> accuracy(["a", "b", "b"], ["a", "b", "a"])
0.6667
>>> recall_at_k(["rb-x"], ["rb-y", "rb-x"], 1), recall_at_k(["rb-x"], ["rb-y", "rb-x"], 3)
(0.0, 1.0)
>>> reciprocal_rank(["rb-x"], ["rb-y", "rb-x"])
0.5

Rates are rounded to 4 places; a rate over zero cases is ``None`` (not 0 or 1),
so a report can tell "nothing to measure" from "all wrong".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

PRIORITY_ORDER = ("P0", "P1", "P2", "P3")
ROUND = 4


def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), ROUND)


def rate(hits: int, total: int) -> float | None:
    """hits / total, rounded; None when total is 0."""
    return _r(hits / total) if total else None


def accuracy(y_true: Sequence, y_pred: Sequence) -> float | None:
    """Share of positions where prediction equals truth."""
    _same_length(y_true, y_pred)
    return rate(sum(t == p for t, p in zip(y_true, y_pred)), len(y_true))


def per_class(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> dict[str, dict]:
    """Precision, recall, F1 and support for each label (labels default to those in y_true).

    A label never predicted has precision 0 when it has support (sklearn's
    ``zero_division=0``), so it pulls macro-F1 down instead of vanishing.
    """
    _same_length(y_true, y_pred)
    labels = sorted(set(y_true)) if labels is None else list(labels)
    out = {}
    for lab in labels:
        tp = sum(t == lab and p == lab for t, p in zip(y_true, y_pred))
        fp = sum(t != lab and p == lab for t, p in zip(y_true, y_pred))
        fn = sum(t == lab and p != lab for t, p in zip(y_true, y_pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        out[str(lab)] = {"precision": _r(prec), "recall": _r(rec), "f1": _r(f1), "support": tp + fn}
    return out


def macro_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> float | None:
    """Unweighted mean of per-label F1 over ``labels`` (default: the labels in y_true)."""
    if not y_true:
        return None
    scores = per_class(y_true, y_pred, labels)
    return _r(sum(s["f1"] for s in scores.values()) / len(scores)) if scores else None


def confusion_matrix(y_true: Sequence, y_pred: Sequence, labels: Sequence) -> list[list[int]]:
    """Counts with rows = true label, columns = predicted label, in ``labels`` order.

    Pairs whose true or predicted label is not in ``labels`` are left out.
    """
    _same_length(y_true, y_pred)
    pos = {lab: i for i, lab in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(y_true, y_pred):
        if t in pos and p in pos:
            matrix[pos[t]][pos[p]] += 1
    return matrix


def binary_precision_recall(truth: Sequence[bool], predicted: Sequence[bool]) -> tuple[float | None, float | None]:
    """(precision, recall) of the positive class; None where the denominator is 0."""
    _same_length(truth, predicted)
    tp = sum(t and p for t, p in zip(truth, predicted))
    return rate(tp, sum(map(bool, predicted))), rate(tp, sum(map(bool, truth)))


# -- calibration ---------------------------------------------------------------------------------
def _bin(confidence: float, bins: int) -> int:
    # [0, 1/bins), [1/bins, 2/bins), ... with 1.0 in the last bin.
    return min(max(int(float(confidence) * bins), 0), bins - 1)


def reliability_bins(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> list[dict]:
    """Equal-width confidence bins: each with its range, count, mean confidence and accuracy.

    A confidence of exactly 1.0 falls in the last bin; empty bins have ``count`` 0
    and None for the means.
    """
    _same_length(confidence, correct)
    if bins < 1:
        raise ValueError("bins must be at least 1")
    counts, conf_sums, hit_sums = [0] * bins, [0.0] * bins, [0] * bins
    for c, ok in zip(confidence, correct):
        b = _bin(c, bins)
        counts[b] += 1
        conf_sums[b] += float(c)
        hit_sums[b] += bool(ok)
    rows = []
    for b in range(bins):
        n = counts[b]
        rows.append({"lo": _r(b / bins), "hi": _r((b + 1) / bins), "count": n,
                     "confidence": _r(conf_sums[b] / n) if n else None,
                     "accuracy": _r(hit_sums[b] / n) if n else None})
    return rows


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float | None:
    """ECE (Guo et al. 2017): the count-weighted mean gap between confidence and accuracy per bin.

    Ten bins rather than the classifier's fifteen: eval sets hold about a hundred
    cases, and fifteen bins leave most of them with one or two.
    """
    _same_length(confidence, correct)
    n = len(confidence)
    if not n:
        return None
    groups: dict[int, list[tuple[float, bool]]] = {}
    for c, ok in zip(confidence, correct):
        groups.setdefault(_bin(c, bins), []).append((float(c), bool(ok)))
    total = sum(len(g) / n * abs(sum(c for c, _ in g) / len(g) - sum(ok for _, ok in g) / len(g))
                for g in groups.values())
    return _r(total)


def coverage_curve(confidence: Sequence[float], correct: Sequence[bool],
                   thresholds: Sequence[float] | None = None) -> list[dict]:
    """For each threshold t: the share of cases with confidence >= t (coverage) and their accuracy.

    This is the trade-off the routing threshold makes: raise it and fewer
    requests are handled automatically, but more of those are right.
    """
    _same_length(confidence, correct)
    thresholds = [i / 20 for i in range(21)] if thresholds is None else thresholds
    n = len(confidence)
    out = []
    for t in thresholds:
        kept = [ok for c, ok in zip(confidence, correct) if c >= t]
        out.append({"threshold": _r(t), "coverage": rate(len(kept), n), "accuracy": rate(sum(map(bool, kept)), len(kept)),
                    "count": len(kept)})
    return out


# -- priority ------------------------------------------------------------------------------------
def priority_distance(expected: str, predicted: str) -> int:
    """How many steps apart two priorities are (P0 vs P2 is 2)."""
    return abs(PRIORITY_ORDER.index(expected) - PRIORITY_ORDER.index(predicted))


def within_one(expected: Sequence[str], predicted: Sequence[str]) -> float | None:
    """Share of cases whose predicted priority is at most one step from the expected one."""
    _same_length(expected, predicted)
    return rate(sum(priority_distance(e, p) <= 1 for e, p in zip(expected, predicted)), len(expected))


# -- retrieval -----------------------------------------------------------------------------------
def _dedup(ranked: Sequence[str]) -> list[str]:
    seen, out = set(), []
    for s in ranked:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def recall_at_k(relevant: Sequence[str], ranked: Sequence[str], k: int) -> float:
    """Share of the relevant ids found in the first k distinct ranked ids."""
    if k < 1:
        raise ValueError("k must be at least 1")
    if not relevant:
        raise ValueError("recall needs at least one relevant id")
    top = set(_dedup(ranked)[:k])
    rel = set(relevant)
    return len(rel & top) / len(rel)


def reciprocal_rank(relevant: Sequence[str], ranked: Sequence[str]) -> float:
    """1 / rank of the first relevant id among the distinct ranked ids; 0 if none is there."""
    rel = set(relevant)
    for i, s in enumerate(_dedup(ranked), start=1):
        if s in rel:
            return 1.0 / i
    return 0.0


def mean(values: Sequence[float]) -> float | None:
    return _r(sum(values) / len(values)) if values else None


# -- latency -------------------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be in [0, 100]")
    data = sorted(float(v) for v in values)
    pos = (len(data) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return _r(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def _same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} vs {len(b)}")
