"""The out-of-scope score's kNN terms, compared on CLINC150 val (test is never read).

    . .venv/bin/activate && python benchmarks/bench_oos_score.py [--data DIR]

One process, one MiniLM load, one fit of the shipped classifier's features (top two
layers tuned on train) and of its cross-fitted validation logits: exactly the held-out
scores `Classifier.fit` sets its temperature and threshold from. Then, for each
setting of the score's kNN terms, the classifier's own `_calibrate` chooses the
thresholds and the bench prints val in-scope accuracy and out-of-scope recall at the
0.5- and 1-point accuracy budgets, and the AUROC of correct in-scope vs out-of-scope.

Settings: the log top probability alone; plus the in-scope 5-NN term (the baseline,
shipped before); plus the out-of-scope nearest-neighbour term
(`oos_knn_k`, `oos_knn_weight`) over the out-of-scope training sentences (in each
validation half: train's and the other half's; rows marked "train's" use train's
100, or a random 50, 25 or 10 of them, as the whole bank).

Val has 100 out-of-scope lines: the recall columns move 1 point per line, so look at
all three columns and the AUROC together.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals import intent_bench  # noqa: E402

DEFAULT_DATA = Path("/work/shared/bench/clinc150")
# Rows whose out-of-scope neighbours are train's sentences only (all 100, or a random few), not val's.
TRAIN_ONLY = "+ train's "
SETTINGS = [  # (name, knn_weight, oos_knn_k, oos_knn_weight)
    ("top probability only", 0.0, 1, 0.0),
    ("+ in-scope 5-NN (before)", 0.5, 1, 0.0),
    ("+ out-of-scope 1-NN, w 0.25 (shipped)", 0.5, 1, 0.25),
    (TRAIN_ONLY + "out-of-scope 1-NN, w 0.25", 0.5, 1, 0.25),
    (TRAIN_ONLY + "50 out-of-scope 1-NN, w 0.25", 0.5, 1, 0.25),
    (TRAIN_ONLY + "25 out-of-scope 1-NN, w 0.25", 0.5, 1, 0.25),
    (TRAIN_ONLY + "10 out-of-scope 1-NN, w 0.25", 0.5, 1, 0.25),
    ("+ out-of-scope 1-NN, w 0.5", 0.5, 1, 0.5),
    ("+ out-of-scope 1-NN, w 1", 0.5, 1, 1.0),
    ("+ out-of-scope 3-NN, w 0.25", 0.5, 3, 0.25),
    ("+ out-of-scope 3-NN, w 0.5", 0.5, 3, 0.5),
    ("+ out-of-scope 5-NN, w 0.25", 0.5, 5, 0.25),
    ("+ out-of-scope 5-NN, w 0.5", 0.5, 5, 0.5),
]
BUDGETS = (0.005, 0.0075, 0.01)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--oos-label", default="oos")
    args = ap.parse_args(argv)

    from assistant import limit_blas_threads

    limit_blas_threads()
    from assistant.classifier import Classifier
    from retrieval.embedder import Embedder

    train = intent_bench.read_examples(args.data / "train.jsonl")
    val = intent_bench.read_examples(args.data / "val.jsonl")
    clf = Classifier(Embedder.default())
    clf.labels = sorted({lab for lab in train[1] if lab != args.oos_label})
    clf._has_oos_class = True
    clf._use_oos_knn = True  # as fit decides it with CLINC150's 200 out-of-scope examples
    K = len(clf.labels)
    index = {lab: i for i, lab in enumerate(clf.labels)}
    y = np.array([index.get(lab, K) for lab in train[1]])
    y_val = np.array([index.get(lab, K) for lab in val[1]])

    # The validation branch of Classifier.fit, up to its held-out scores.
    X, _ = clf._train_features(train[0], y, None, tune=True)
    V = clf._knn_vectors(X)
    X_val = clf._features(val[0], None)
    V_val = clf._knn_vectors(X_val)
    folds = clf.hyperparameters["val_folds"]
    logits, knn = clf._cross_fit_validation(X, y, V, X_val, V_val, y_val, folds)

    ins = y_val < K
    print(f"CLINC150 val: {ins.sum()} in-scope, {(~ins).sum()} out-of-scope; held-out accuracy "
          f"{(logits[ins][:, :K].argmax(1) == y_val[ins]).mean():.2%}")
    print(f"{'setting':42s} " + " ".join(f"{'OOS@' + format(b, '.2%'):>10s}" for b in BUDGETS) + "    AUROC")
    for name, weight, k, oos_weight in SETTINGS:
        clf.hyperparameters.update(knn_weight=weight, oos_knn_k=k, oos_knn_weight=oos_weight)
        held = knn.copy()
        rs = clf.hyperparameters["random_state"]
        for rest, part in KFold(folds, shuffle=True, random_state=rs).split(X_val):  # as _cross_fit_validation
            bank, bank_y = np.vstack([V, V_val[rest]]), np.concatenate([y, y_val[rest]])
            if name.startswith(TRAIN_ONLY):  # train's out-of-scope sentences, or a random few of them
                size = int(name.split()[2]) if name.split()[2].isdigit() else None
                keep = np.flatnonzero(bank_y < K)
                oos = np.flatnonzero(y == K)
                if size:
                    oos = np.random.default_rng(rs).choice(oos, size, replace=False)
                bank, bank_y = bank[np.r_[keep, oos]], bank_y[np.r_[keep, oos]]
            held[part] = clf._bank_similarity(V_val[part], bank, bank_y)
        clf._calibrate(logits, y_val, "validation", folds, held)
        p = clf._p_values(clf._oos_score(logits, K, held))
        correct = logits[ins][:, :K].argmax(1) == y_val[ins]
        cells = [f"{(p[~ins] < clf.threshold_for(b)).mean():10.0%}" for b in BUDGETS]
        auc = roc_auc_score(np.r_[np.ones(correct.sum()), np.zeros((~ins).sum())], np.r_[p[ins][correct], p[~ins]])
        print(f"{name:42s} " + " ".join(cells) + f"   {auc:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
