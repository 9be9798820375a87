"""The label kNN term: the linear head alone vs head + per-class kNN similarity, on CLINC150 val.

    . .venv/bin/activate && python benchmarks/bench_label_knn.py [--data DIR]

One process, one classifier fit. The project's Classifier is trained on
train.jsonl with val.jsonl only scoring it (`val_folds=0`: the model that is
scored never learnt from val; its top layers are tuned as shipped). For every val
in-scope sentence the bench takes the head's in-scope logits and, for each class,
the mean cosine of the sentence's tuned last-layer vector to that class's k nearest
training sentences, then counts the sentences whose label is right when the label
is argmax(logits + w x similarity), over a grid of k and w. w = 0 is the head
alone (the baseline). This is where `label_knn_weight` and its k (the classifier's
`knn_k`) come from; test.jsonl is never read (benchmarks/bench_intent.py scores
the shipped classifier with and without the term on test). The out-of-scope score
does not use the term, so out-of-scope recall is not part of this comparison.

Then the small-data case, the triage classifier that `assistant ingest` trains on a
KB's tickets and runbook sections: for the bundled sample KB and the differently
written tests/fixtures/kb_alt, the ingest training is run as shipped (the frozen
encoder, so the term is off) and with the term forced on at w = 5, and the bench prints its grouped 5-fold cross-validated
accuracy on the tickets (classifier alone and with the retrieval evidence) and ECE.
`--skip-clinc` runs only this part (under a minute).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals import intent_bench  # noqa: E402

DEFAULT_DATA = Path("/work/shared/bench/clinc150")
KS = (1, 2, 3, 5, 10)
WEIGHTS = (0.0, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--skip-clinc", action="store_true", help="only the small-data (KB ticket) comparison")
    args = ap.parse_args(argv)

    from assistant import limit_blas_threads

    limit_blas_threads()
    from assistant.classifier import Classifier
    from retrieval.embedder import Embedder

    embedder = Embedder.default()
    if not args.skip_clinc:
        clinc(embedder, args.data, Classifier)
    small_data(embedder)
    return 0


def clinc(embedder, data: Path, Classifier) -> None:
    """The k x w grid on CLINC150 val."""
    train = intent_bench.read_examples(data / "train.jsonl")
    val = intent_bench.read_examples(data / "val.jsonl")
    started = time.perf_counter()
    clf = Classifier(embedder, val_folds=0).fit(train[0], train[1], val_texts=val[0], val_labels=val[1],
                                                oos_label="oos")
    fit_s = time.perf_counter() - started
    K = len(clf.labels)
    index = {lab: i for i, lab in enumerate(clf.labels)}
    in_scope = [i for i, lab in enumerate(val[1]) if lab in index]
    texts = [val[0][i] for i in in_scope]
    y = np.array([index[val[1][i]] for i in in_scope])
    X = clf._features(texts, None)
    logits = clf._logits(clf._pca, clf._head, X, clf._n_classes())[:, :K]
    V = clf._knn_vectors(X)

    rows = []
    for k in KS:
        clf.hyperparameters["knn_k"] = k
        clf._label_knn = 1.0  # per-class similarities at this k (the weight is applied below)
        sims = clf._neighbour_similarity(V, clf._bank, clf._bank_y, clf._oos_bank)[:, 2:2 + K]
        for w in WEIGHTS:
            right = int(((logits + w * sims).argmax(1) == y).sum())
            rows.append({"k": k, "w": w, "right": right, "n": len(y), "accuracy": round(right / len(y), 4)})
    base = next(r["right"] for r in rows if r["w"] == 0.0)
    print(f"CLINC150 val in-scope sentences labelled right ({len(y)}; head alone {base}), "
          f"model trained on train in {fit_s:.0f} s:")
    print("   k " + "".join(f"{'w=' + format(w, 'g'):>8s}" for w in WEIGHTS))
    for k in KS:
        print(f"{k:4d} " + "".join(f"{r['right']:8d}" for r in rows if r["k"] == k))
    print(json.dumps({"fit_s": round(fit_s, 1), "rows": rows}))


def small_data(embedder) -> None:
    """Ingest's cross-validated ticket accuracy and ECE with the term off and on, per KB."""
    import tempfile

    import assistant.training as training
    from assistant.classifier import Classifier
    from assistant.manifest import MANIFEST
    from ingestion.loader import KnowledgeBaseLoader

    root = Path(__file__).resolve().parents[1]
    class AlwaysOn(Classifier):
        """The term at its weight even on the frozen encoder (fit would turn it off)."""

        @property
        def _label_knn(self) -> float:
            return self.hyperparameters["label_knn_weight"]

        @_label_knn.setter
        def _label_knn(self, value: float) -> None:
            pass

    print(f"{'KB':24s} {'w':>4s} {'CV acc alone':>13s} {'ECE alone':>10s} {'CV acc w/ evidence':>19s}")
    try:
        for kb_dir in (root / "kb" / "sample", root / "tests" / "fixtures" / "kb_alt"):
            kb = KnowledgeBaseLoader().run(kb_dir)
            for w, cls in ((0.0, Classifier), (5.0, AlwaysOn)):
                training.Classifier = cls
                with tempfile.TemporaryDirectory() as out:
                    training.Trainer(embedder).run(kb, Path(out))
                    t = json.loads((Path(out) / MANIFEST).read_text())["training"]
                print(f"{kb_dir.name:24s} {w:4g} {t['cv_accuracy_classifier_alone']:13.4f} "
                      f"{t['cv_ece_classifier_alone']:10.4f} {t['cv_accuracy']:19.4f}", flush=True)
    finally:
        training.Classifier = Classifier


if __name__ == "__main__":
    raise SystemExit(main())
