"""Choose the injection and risk thresholds on their held-out sets and print precision/recall.

    python benchmarks/bench_guardrails_thresholds.py            # both detectors, real MiniLM
    python benchmarks/bench_guardrails_thresholds.py --json     # one JSON object instead of tables

For each detector it scores every held-out line with the threshold switched off,
picks the threshold with the best F1 (the midpoint of the best-scoring interval,
so it does not sit on one example's score), and prints precision, recall and F1
at the chosen threshold and at the one stored in the module. Because the
threshold is fit on the same lines it is then measured on, it also prints a
5-fold cross-validated estimate: choose on four folds, measure on the fifth.

The held-out sets are checked against the exemplar files first: a held-out line
that is also an exemplar would make the numbers meaningless.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from guardrails import DATA_DIR, read_lines  # noqa: E402
from guardrails import injection as injection_mod  # noqa: E402
from guardrails import risk as risk_mod  # noqa: E402


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def prf(scores: list[float], gold: list[bool], threshold: float) -> dict:
    tp = sum(s >= threshold and g for s, g in zip(scores, gold))
    fp = sum(s >= threshold and not g for s, g in zip(scores, gold))
    fn = sum(s < threshold and g for s, g in zip(scores, gold))
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"threshold": round(threshold, 4), "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4),
            "tp": tp, "fp": fp, "fn": fn}


def choose_threshold(scores: list[float], gold: list[bool]) -> float:
    """Midpoint of the interval between adjacent distinct scores that maximises F1 (ties: higher precision)."""
    cuts = sorted(set(scores))
    candidates = [(a + b) / 2 for a, b in zip(cuts, cuts[1:])] or cuts
    return max(candidates, key=lambda t: (prf(scores, gold, t)["f1"], prf(scores, gold, t)["precision"]))


def cross_validated(scores: list[float], gold: list[bool], folds: int = 5, seed: int = 13) -> dict:
    """Pooled precision/recall when each fold is scored with a threshold chosen on the other folds."""
    order = list(range(len(scores)))
    random.Random(seed).shuffle(order)
    predicted: dict[int, bool] = {}
    for k in range(folds):
        test = set(order[k::folds])
        train = [i for i in order if i not in test]
        t = choose_threshold([scores[i] for i in train], [gold[i] for i in train])
        for i in test:
            predicted[i] = scores[i] >= t
    tp = sum(predicted[i] and gold[i] for i in predicted)
    fp = sum(predicted[i] and not gold[i] for i in predicted)
    fn = sum(not predicted[i] and gold[i] for i in predicted)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def check_disjoint(heldout: list[str], exemplars: list[str], name: str) -> None:
    norm = lambda s: " ".join(s.lower().split())  # noqa: E731
    overlap = {norm(t) for t in heldout} & {norm(t) for t in exemplars}
    if overlap:
        raise SystemExit(f"{name}: held-out lines reused as exemplars: {sorted(overlap)[:3]}")


def bench_injection(embedder) -> dict:
    rows = load_jsonl(DATA_DIR / "injection_heldout.jsonl")
    check_disjoint([r["text"] for r in rows], read_lines(injection_mod.EXEMPLARS_PATH), "injection")
    det = injection_mod.InjectionDetector(embedder)
    t0 = time.perf_counter()
    results = [det.run(r["text"]) for r in rows]
    elapsed = time.perf_counter() - t0
    scores = [res.score for res in results]
    gold = [r["label"] == "attack" for r in rows]
    chosen = choose_threshold(scores, gold)
    stored = injection_mod.DEFAULT_THRESHOLD
    misses = [
        {"score": s, "label": r["label"], "text": r["text"][:90]}
        for s, r, g in zip(scores, rows, gold)
        if (s >= stored) != g
    ]
    return {
        "n": len(rows), "positives": sum(gold),
        "chosen": prf(scores, gold, chosen), "stored": prf(scores, gold, stored),
        "cv5": cross_validated(scores, gold), "ms_per_text": round(1000 * elapsed / len(rows), 1),
        "errors_at_stored": misses,
    }


def bench_risk(embedder) -> dict:
    rows = load_jsonl(DATA_DIR / "risk_heldout.jsonl")
    exemplars = [t for texts in risk_mod.load_exemplars().values() for t in texts]
    check_disjoint([r["text"] for r in rows], exemplars, "risk")
    det = risk_mod.RiskDetector(embedder)
    t0 = time.perf_counter()
    results = [det.run(r["text"]) for r in rows]
    elapsed = time.perf_counter() - t0
    scores = [res.score for res in results]
    gold = [r["topic"] is not None for r in rows]
    chosen = choose_threshold(scores, gold)
    stored = risk_mod.DEFAULT_THRESHOLD
    # Of the risky lines detected at the stored threshold, how many got the right topic and kind.
    hits = [(res, r) for res, r in zip(results, rows) if r["topic"] and res.score >= stored]
    topic_ok = sum(res.topic == r["topic"] for res, r in hits)
    kind_ok = sum(res.kind == risk_mod.kind_of(r["topic"]) for res, r in hits)
    misses = [
        {"score": s, "topic": r["topic"], "got": res.topic, "text": r["text"][:90]}
        for s, r, res, g in zip(scores, rows, results, gold)
        if (s >= stored) != g or (g and s >= stored and res.topic != r["topic"])
    ]
    return {
        "n": len(rows), "positives": sum(gold),
        "chosen": prf(scores, gold, chosen), "stored": prf(scores, gold, stored),
        "cv5": cross_validated(scores, gold),
        "topic_accuracy_of_detected": round(topic_ok / len(hits), 4) if hits else None,
        "kind_accuracy_of_detected": round(kind_ok / len(hits), 4) if hits else None,
        "ms_per_text": round(1000 * elapsed / len(rows), 1),
        "errors_at_stored": misses,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--only", choices=["injection", "risk"], help="run one detector")
    args = parser.parse_args(argv)

    from retrieval.embedder import Embedder

    embedder = Embedder.default()
    report = {}
    if args.only in (None, "injection"):
        report["injection"] = bench_injection(embedder)
    if args.only in (None, "risk"):
        report["risk"] = bench_risk(embedder)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, r in report.items():
        c, s, cv = r["chosen"], r["stored"], r["cv5"]
        print(f"== {name}: {r['n']} held-out lines, {r['positives']} positive, {r['ms_per_text']} ms/text")
        print(f"   best-F1 threshold {c['threshold']:.3f}: precision {c['precision']:.3f} recall {c['recall']:.3f} f1 {c['f1']:.3f}")
        print(f"   stored  threshold {s['threshold']:.3f}: precision {s['precision']:.3f} recall {s['recall']:.3f} "
              f"f1 {s['f1']:.3f} (tp {s['tp']} fp {s['fp']} fn {s['fn']})")
        print(f"   5-fold CV (threshold chosen on 4/5): precision {cv['precision']:.3f} recall {cv['recall']:.3f} f1 {cv['f1']:.3f}")
        if "topic_accuracy_of_detected" in r:
            print(f"   topic accuracy of detected: {r['topic_accuracy_of_detected']}, kind accuracy: {r['kind_accuracy_of_detected']}")
        if abs(c["threshold"] - s["threshold"]) > 1e-3:
            print(f"   NOTE: stored threshold differs from the best-F1 one; update DEFAULT_THRESHOLD in guardrails/{name}.py")
        for m in r["errors_at_stored"]:
            print(f"   miss {m}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
