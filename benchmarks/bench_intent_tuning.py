"""How to tune the classifier's top encoder layers: settings compared on CLINC150 val, beside the frozen encoder.

    . .venv/bin/activate && python benchmarks/bench_intent_tuning.py [--data DIR] [--quick]

One process, one encoder pass over train and val (which also keeps the token
states entering the first tuned layer), then for the frozen encoder and each
tuning setting: PCA 512 + logistic regression on train (as the classifier does),
in-scope accuracy on val, and val out-of-scope recall at the 0.5- and 1-point
accuracy budgets (threshold on the val in-scope scores; the out-of-scope lines do
not move it). Test is never read. This is where assistant/finetune.py's settings
come from; benchmarks/bench_intent.py scores the shipped classifier on test.
`--quick` runs only the frozen encoder and the shipped setting.
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
SETTINGS = [  # (name, tune_top_layers keyword arguments)
    ("2 layers, 3 epochs, lr 5e-4, cosine head (shipped)", {"n_layers": 2, "epochs": 3.0, "lr": 5e-4}),
    ("2 layers, 4 epochs, lr 5e-4", {"n_layers": 2, "epochs": 4.0, "lr": 5e-4}),
    ("2 layers, 1 epoch, lr 1e-4", {"n_layers": 2, "epochs": 1.0, "lr": 1e-4}),
    ("2 layers, 3 epochs, lr 2e-4", {"n_layers": 2, "epochs": 3.0, "lr": 2e-4}),
    ("4 layers, 3 epochs, lr 3e-4", {"n_layers": 4, "epochs": 3.0, "lr": 3e-4}),
]


def score(F_train, y_train, F_val, y_val, K: int) -> dict:
    """The classifier's head and out-of-scope score, fitted on train and read on val."""
    from scipy.special import softmax
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    pca = PCA(512, random_state=0).fit(F_train)
    head = LogisticRegression(C=10.0, max_iter=2000).fit(pca.transform(F_train), y_train)
    P = softmax(head.decision_function(pca.transform(F_val)), axis=1)
    bank = F_train[:, -384:][y_train < K]
    S = F_val[:, -384:] @ bank.T
    knn = np.partition(S, S.shape[1] - 5, axis=1)[:, -5:].mean(1)
    ins, correct = y_val < K, P[:, :K].argmax(1) == y_val
    oos_score = np.log(np.maximum(P[:, :K].max(1), 1e-300)) + 0.5 * knn / knn[ins].std()
    out = {"val_accuracy": round(float(correct[ins].mean()), 4)}
    for budget in (0.005, 0.01):
        order = np.argsort(oos_score[ins])
        lost = np.cumsum(correct[ins][order])
        allowed = int(np.searchsorted(lost, budget * ins.sum() + 1e-9, side="right"))
        keep = oos_score >= oos_score[ins][order[allowed]]
        out[f"val_oos_recall@{budget:.1%}"] = round(float((~keep)[~ins].mean()), 3)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--quick", action="store_true", help="frozen encoder and the shipped setting only")
    args = ap.parse_args(argv)

    from assistant import limit_blas_threads

    limit_blas_threads()
    from assistant.classifier import LayerFeatures
    from assistant.finetune import pooled_blocks, tune_top_layers
    from retrieval.embedder import Embedder

    train = intent_bench.read_examples(args.data / "train.jsonl")
    val = intent_bench.read_examples(args.data / "val.jsonl")
    labels = sorted(set(train[1]) - {"oos"})
    index = {lab: i for i, lab in enumerate(labels)}
    K = len(labels)
    y_train = np.array([index.get(lab, K) for lab in train[1]])
    y_val = np.array([index.get(lab, K) for lab in val[1]])

    layers = LayerFeatures(Embedder.default())
    started = time.perf_counter()
    states = {}
    F_train, F_val = {}, {}
    for split in (2, 4) if not args.quick else (4,):
        F_train[split], states[("train", split)] = layers.encode_with_states(train[0], split)
        F_val[split], states[("val", split)] = layers.encode_with_states(val[0], split)
    print(f"encoded train and val in {time.perf_counter() - started:.0f} s", flush=True)

    rows = [{"setting": "frozen encoder", "tune_s": 0.0, **score(F_train[4], y_train, F_val[4], y_val, K)}]
    print(json.dumps(rows[-1]), flush=True)
    for name, kwargs in SETTINGS[:1] if args.quick else SETTINGS:
        split = layers.n_layers - kwargs["n_layers"]
        top, report = tune_top_layers(layers.transformer, states[("train", split)], y_train, K + 1, **kwargs)
        tuned = {}
        for part, F in (("train", F_train[split]), ("val", F_val[split])):
            F = F.copy()
            for ids, s, mask in states[(part, split)]:
                F[ids, (split + 1) * layers.dim:] = pooled_blocks(top, s, mask)
            tuned[part] = F
        rows.append({"setting": name, "tune_s": report["tune_s"],
                     **score(tuned["train"], y_train, tuned["val"], y_val, K)})
        print(json.dumps(rows[-1]), flush=True)
    print(f"{'setting':52s} {'val acc':>8s} {'OOS@0.5':>8s} {'OOS@1':>7s} {'tune s':>7s}")
    for r in rows:
        print(f"{r['setting']:52s} {r['val_accuracy']:8.2%} {r['val_oos_recall@0.5%']:8.0%} "
              f"{r['val_oos_recall@1.0%']:7.0%} {r['tune_s']:7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
