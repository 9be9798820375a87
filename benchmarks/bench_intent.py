"""Intent benchmark (issue 6): the frozen-MiniLM baseline and the project's classifier, side by side.

    . .venv/bin/activate && python benchmarks/bench_intent.py \\
        [--data /work/shared/bench/clinc150] [--json out.json] [--threads N]

One process, one MiniLM load. The baseline trains on train.jsonl; its 0.3
probability threshold is the issue's fixed anchor. The project classifier chooses
its threshold (and everything else) on val.jsonl, and as shipped also learns from
val's sentences after cross-fitting them (both variants are printed); test.jsonl
is only scored. Training time includes encoding the training text (and, for the
classifier, the validation text it calibrates on). Prints a table, then JSON.

Baseline, as measured for the issue: all-MiniLM-L6-v2 sentence embeddings,
LogisticRegression(C=10) with "oos" as one more class; out-of-scope is
predicted when the top class is "oos" or, with the threshold, when the top
probability is below 0.3.

Project classifier (assistant/classifier.py): all seven MiniLM layers pooled,
PCA 512, LogisticRegression(C=10) with "oos" as a class, temperature scaling;
out-of-scope score = log top in-scope probability + 0.5 x the scaled mean cosine
to the 5 nearest in-scope training sentences, thresholded as a conformal p-value
at a 1-point in-scope accuracy budget on val; the label is the argmax of the head's
logits plus 5 x the mean cosine to each class's 5 nearest training sentences. Shown twice: with val only scoring a
model trained on train (val_folds=0), and as shipped: val cross-fitted in two parts
(each scored by a model trained on train + the other part), then learnt as well.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals import intent_bench  # noqa: E402

DEFAULT_DATA = Path("/work/shared/bench/clinc150")
TARGET = {"in_scope_accuracy": 0.962, "oos_recall": 0.80, "train_s": 180.0}
TARGET_BUDGET = 0.005  # the operating point the target is checked at (see main)


def baseline(embedder, train, test, oos_label: str) -> list[dict]:
    """Frozen MiniLM + logistic regression, without and with the 0.3 threshold."""
    from sklearn.linear_model import LogisticRegression

    started, cpu = time.perf_counter(), time.process_time()
    X = embedder.encode_queries(train[0])
    model = LogisticRegression(C=10.0, max_iter=1000).fit(X, train[1])
    train_s, train_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    started = time.perf_counter()
    probs = model.predict_proba(embedder.encode_queries(test[0]))
    predict_s = time.perf_counter() - started

    y = np.asarray(test[1], dtype=object)
    pred = model.classes_[probs.argmax(1)]
    oos = y == oos_label
    rows = []
    for threshold in (None, 0.3):
        abstain = (pred == oos_label) | (probs.max(1) < (threshold or 0.0))
        rows.append({
            "system": "baseline: MiniLM + LogReg" + (f" (p<{threshold})" if threshold else " (no threshold)"),
            "in_scope_accuracy": float(((pred == y) & ~abstain)[~oos].mean()),
            "oos_recall": float(abstain[oos].mean()),
            "oos_precision": float(oos[abstain].mean()) if abstain.any() else float("nan"),
            "train_s": round(train_s, 1),
            "train_cpu_s": round(train_cpu_s, 1),
            "predict_s": round(predict_s, 1),
            "threshold": threshold,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with train/val/test.jsonl")
    parser.add_argument("--oos-label", default="oos")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = parser.parse_args(argv)

    import torch

    from retrieval.embedder import Embedder

    if args.threads:
        torch.set_num_threads(args.threads)
    paths = {s: args.data / f"{s}.jsonl" for s in ("train", "val", "test")}
    embedder = Embedder.default()
    embedder.encode_queries(["warm up"])  # model load and first-call costs stay out of both timings

    train = intent_bench.read_examples(paths["train"])
    test = intent_bench.read_examples(paths["test"])
    rows = baseline(embedder, train, test, args.oos_label)

    keys = ("in_scope_accuracy", "oos_recall", "oos_precision", "train_s", "train_cpu_s", "predict_s", "threshold")
    scoring_only = intent_bench.run(paths["train"], paths["test"], val_path=paths["val"],
                                    oos_label=args.oos_label, embedder=embedder, val_folds=0, tune_layers=0)
    rows.append({"system": "project Classifier, frozen, val scores", **{k: scoring_only[k] for k in keys}})
    frozen = intent_bench.run(paths["train"], paths["test"], val_path=paths["val"],
                              oos_label=args.oos_label, embedder=embedder, tune_layers=0)
    rows.append({"system": "project Classifier, frozen encoder", **{k: frozen[k] for k in keys}})
    no_oos_knn = intent_bench.run(paths["train"], paths["test"], val_path=paths["val"],
                                  oos_label=args.oos_label, embedder=embedder, oos_knn_weight=0.0)
    rows.append({"system": "as shipped, no out-of-scope kNN term", **{k: no_oos_knn[k] for k in keys}})
    no_label_knn = intent_bench.run(paths["train"], paths["test"], val_path=paths["val"],
                                    oos_label=args.oos_label, embedder=embedder, label_knn_weight=0.0)
    rows.append({"system": "as shipped, no label kNN term", **{k: no_label_knn[k] for k in keys}})
    ours = intent_bench.run(paths["train"], paths["test"], val_path=paths["val"],
                            oos_label=args.oos_label, embedder=embedder)
    rows.append({"system": "project Classifier as shipped", **{k: ours[k] for k in keys}})

    print(f"CLINC150 ({args.data}): {ours['n_train']} train, {ours['n_val']} val, {ours['n_test']} test; "
          f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    print(f"{'system':40s} {'in-scope acc':>12s} {'OOS recall':>10s} {'OOS prec':>9s} {'train s':>8s} {'(cpu s)':>8s} {'pred s':>7s}")
    for r in rows:
        print(f"{r['system']:40s} {r['in_scope_accuracy']:12.1%} {r['oos_recall']:10.1%} "
              f"{r['oos_precision']:9.1%} {r['train_s']:8.1f} {r['train_cpu_s']:8.1f} {r['predict_s']:7.1f}")
    for name, res in (("frozen encoder", frozen), ("no out-of-scope kNN term", no_oos_knn),
                      ("no label kNN term", no_label_knn), ("as shipped", ours)):
        print(f"project Classifier, {name}, at other operating points (threshold chosen on val for each budget):")
        for point in res["operating_points"]:
            print(f"  budget {point['max_accuracy_drop']:5.1%}  threshold {point['threshold']:.4f}  "
                  f"in-scope acc {point['in_scope_accuracy']:6.1%}  OOS recall {point['oos_recall']:6.1%}  "
                  f"OOS prec {point['oos_precision']:6.1%}")
    # The target is checked at one operating point fixed in advance: the 0.5-point budget, the
    # point this README has tracked since it fell one query short (its threshold is chosen on
    # val like every budget's). Picking whichever budget passes on test would be choosing on test.
    point = next(p for p in ours["operating_points"] if p["max_accuracy_drop"] == TARGET_BUDGET)
    met = (point["in_scope_accuracy"] >= TARGET["in_scope_accuracy"] and point["oos_recall"] >= TARGET["oos_recall"]
           and ours["train_s"] <= TARGET["train_s"])
    print(f"target (issue 6): >= {TARGET['in_scope_accuracy']:.1%} in-scope and >= {TARGET['oos_recall']:.0%} OOS "
          f"recall at the {TARGET_BUDGET:.1%} budget, training < {TARGET['train_s']:.0f} s: "
          f"{'met' if met else 'NOT met'} ({point['in_scope_accuracy']:.2%} / {point['oos_recall']:.1%}, "
          f"train {ours['train_s']:.0f} s; at the shipped default 1-point budget: "
          f"{ours['in_scope_accuracy']:.2%} / {ours['oos_recall']:.1%})")
    result = {"baseline": rows[:2], "classifier": ours, "classifier_frozen": frozen,
              "classifier_no_oos_knn": no_oos_knn, "classifier_no_label_knn": no_label_knn,
              "classifier_frozen_val_scores_only": scoring_only, "target": TARGET, "target_budget": TARGET_BUDGET, "target_met": met,
              "load_average": os.getloadavg()[0], "torch_threads": torch.get_num_threads()}
    print(json.dumps(result, indent=2, default=float))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
