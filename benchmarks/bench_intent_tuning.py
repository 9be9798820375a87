"""How to tune the classifier's top encoder layers: settings compared on CLINC150 val, beside the frozen encoder.

    . .venv/bin/activate && python benchmarks/bench_intent_tuning.py [--data DIR] [--quick]

One process, one MiniLM load. For the frozen encoder and each tuning setting, the
project's Classifier is trained on train.jsonl with val.jsonl scoring it only
(`val_folds=0`: the model that is scored never learnt from val), and the bench
reports in-scope accuracy on val and val out-of-scope recall at the 0.5- and
1-point accuracy budgets (thresholds from the val in-scope scores, as the
classifier chooses them; the out-of-scope lines do not move them). Test is never
read. This is where assistant/finetune.py's settings come from;
benchmarks/bench_intent.py scores the shipped classifier on test.
`--quick` runs only the frozen encoder and the shipped setting.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evals import intent_bench  # noqa: E402

DEFAULT_DATA = Path("/work/shared/bench/clinc150")
SETTINGS = [  # (name, Classifier keyword arguments)
    ("frozen encoder", {"tune_layers": 0}),
    ("top 2 layers, 3 epochs, lr 5e-4 (shipped)", {"tune_layers": 2, "tune_epochs": 3.0, "tune_lr": 5e-4}),
    ("top 2 layers, 4 epochs, lr 5e-4", {"tune_layers": 2, "tune_epochs": 4.0, "tune_lr": 5e-4}),
    ("top 2 layers, 1 epoch, lr 1e-4", {"tune_layers": 2, "tune_epochs": 1.0, "tune_lr": 1e-4}),
    ("top 2 layers, 3 epochs, lr 2e-4", {"tune_layers": 2, "tune_epochs": 3.0, "tune_lr": 2e-4}),
    ("top 4 layers, 3 epochs, lr 3e-4", {"tune_layers": 4, "tune_epochs": 3.0, "tune_lr": 3e-4}),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--quick", action="store_true", help="frozen encoder and the shipped setting only")
    args = ap.parse_args(argv)

    from assistant import limit_blas_threads

    limit_blas_threads()
    from assistant.classifier import Classifier
    from retrieval.embedder import Embedder

    embedder = Embedder.default()
    train = intent_bench.read_examples(args.data / "train.jsonl")
    val = intent_bench.read_examples(args.data / "val.jsonl")
    rows = []
    for name, kwargs in SETTINGS[:2] if args.quick else SETTINGS:
        clf = Classifier(embedder, val_folds=0, **kwargs).fit(
            train[0], train[1], val_texts=val[0], val_labels=val[1], oos_label="oos")
        predictions = clf.predict(val[0])
        row = {"setting": name, "tune_s": clf.calibration_report().get("tune_s", 0.0),
               "val_accuracy": round(intent_bench.score(predictions, val[1], "oos")["in_scope_accuracy_no_threshold"], 4)}
        for budget in (0.005, 0.01):
            t = clf.threshold_for(budget)
            moved = [replace(p, abstain=p.in_scope < t) for p in predictions]
            row[f"val_oos_recall@{budget:.1%}"] = round(intent_bench.score(moved, val[1], "oos")["oos_recall"], 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(f"{'setting':52s} {'val acc':>8s} {'OOS@0.5':>8s} {'OOS@1':>7s} {'tune s':>7s}")
    for r in rows:
        print(f"{r['setting']:52s} {r['val_accuracy']:8.2%} {r['val_oos_recall@0.5%']:8.0%} "
              f"{r['val_oos_recall@1.0%']:7.0%} {r['tune_s']:7.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
