"""Choose the injection and risk thresholds on their held-out sets and print precision/recall.

    python benchmarks/bench_guardrails_thresholds.py            # both detectors, real MiniLM
    python benchmarks/bench_guardrails_thresholds.py --json     # one JSON object instead of tables

For each detector it scores every line of its held-out set
(``guardrails/data/*_heldout.jsonl``), picks the threshold with the best F-beta
(the midpoint of the best-scoring interval, so it does not sit on one example's
score) and prints precision, recall and F1 at the chosen threshold and at the one
stored in the module. Injection uses F1: a missed attack is as bad as a false
alarm. Risk uses F0.5: most traffic is ordinary and a false alarm sends it to a
person, so precision counts double. Because that threshold is fit on the lines it is then
measured on, two less optimistic figures follow: a 5-fold cross-validated
estimate (choose on four folds, measure on the fifth) and the stored threshold
on ``*_test.jsonl``, a second set written after the detectors were frozen and
never used to choose anything. For risk it also prints the nearest-exemplar
margin baseline, the model without the sample KB's tickets as background, and how
many of those ordinary past tickets each approach flags (a flag rate, not an error
rate: a few are risky; the model's background is cross-fitted for this count).

Every evaluated line is checked against the exemplar files first: one that is
also an exemplar (or a near copy, cosine >= 0.9) would make the numbers meaningless.
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


def f_beta(scores: list[float], gold: list[bool], threshold: float, beta: float) -> float:
    r = prf(scores, gold, threshold)
    p, rc = r["precision"], r["recall"]
    return (1 + beta**2) * p * rc / (beta**2 * p + rc) if p + rc else 0.0


def choose_threshold(scores: list[float], gold: list[bool], beta: float = 1.0) -> float:
    """Midpoint of the interval between adjacent distinct scores that maximises F-beta (ties: higher precision)."""
    cuts = sorted(set(scores))
    candidates = [(a + b) / 2 for a, b in zip(cuts, cuts[1:])] or cuts
    return max(candidates, key=lambda t: (f_beta(scores, gold, t, beta), prf(scores, gold, t)["precision"]))


def cross_validated(scores: list[float], gold: list[bool], beta: float = 1.0, folds: int = 5, seed: int = 13) -> dict:
    """Pooled precision/recall when each fold is scored with a threshold chosen on the other folds."""
    order = list(range(len(scores)))
    random.Random(seed).shuffle(order)
    predicted: dict[int, bool] = {}
    for k in range(folds):
        test = set(order[k::folds])
        train = [i for i in order if i not in test]
        t = choose_threshold([scores[i] for i in train], [gold[i] for i in train], beta)
        for i in test:
            predicted[i] = scores[i] >= t
    tp = sum(predicted[i] and gold[i] for i in predicted)
    fp = sum(predicted[i] and not gold[i] for i in predicted)
    fn = sum(not predicted[i] and gold[i] for i in predicted)
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0}


def check_disjoint(embedder, evaluated: list[str], exemplars: list[str], name: str) -> None:
    """Stop when an evaluated line is an exemplar or a near copy of one."""
    norm = lambda s: " ".join(s.lower().split())  # noqa: E731
    overlap = {norm(t) for t in evaluated} & {norm(t) for t in exemplars}
    if overlap:
        raise SystemExit(f"{name}: evaluated lines reused as exemplars: {sorted(overlap)[:3]}")
    sims = embedder.encode_queries(evaluated) @ embedder.encode_documents(exemplars).T
    rows, cols = (sims >= 0.9).nonzero()
    if len(rows):
        pairs = [(evaluated[r][:60], exemplars[c][:60]) for r, c in zip(rows, cols)]
        raise SystemExit(f"{name}: evaluated lines nearly copy exemplars: {pairs[:3]}")


def load_split(prefix: str) -> tuple[list[dict], list[dict]]:
    """The held-out rows (choose the threshold) and the test rows (report only; may be absent)."""
    test_path = DATA_DIR / f"{prefix}_test.jsonl"
    return load_jsonl(DATA_DIR / f"{prefix}_heldout.jsonl"), load_jsonl(test_path) if test_path.exists() else []


def bench_injection(embedder) -> dict:
    rows, test = load_split("injection")
    exemplars = read_lines(injection_mod.EXEMPLARS_PATH) + read_lines(injection_mod.BENIGN_PATH)
    check_disjoint(embedder, [r["text"] for r in rows + test], exemplars, "injection")
    det = injection_mod.InjectionDetector(embedder)
    t0 = time.perf_counter()
    results = [det.run(r["text"]) for r in rows]
    elapsed = time.perf_counter() - t0
    scores = [res.score for res in results]
    gold = [r["label"] == "attack" for r in rows]
    stored = injection_mod.DEFAULT_THRESHOLD
    report = {
        "n": len(rows), "positives": sum(gold),
        "chosen": prf(scores, gold, choose_threshold(scores, gold)), "stored": prf(scores, gold, stored),
        "cv5": cross_validated(scores, gold), "ms_per_text": round(1000 * elapsed / len(rows), 1),
        "errors_at_stored": [
            {"set": "heldout", "score": s, "label": r["label"], "text": r["text"][:90]}
            for s, r, g in zip(scores, rows, gold) if (s >= stored) != g
        ],
    }
    # Measured and not adopted: the sample KB's past tickets (the customer's sentences) as
    # further benign look-alikes, as the risk detector uses them. It frees a plain "I cannot
    # log in to the dashboard" (0.60 -> 0.49) but loses attacks on both sets.
    from guardrails import ExemplarIndex
    from guardrails.risk import background_sentences

    tickets_path = ROOT / "kb" / "sample" / "tickets.jsonl"
    if tickets_path.exists():
        background = background_sentences([f"{t.get('subject', '')}\n{t.get('body', '')}"
                                           for t in load_jsonl(tickets_path)])
        variant = injection_mod.InjectionDetector(embedder)
        variant.benign = ExemplarIndex(embedder, read_lines(injection_mod.BENIGN_PATH) + background)
        v_scores = [variant.run(r["text"]).score for r in rows]
        report["tickets_as_benign"] = prf(v_scores, gold, stored)
        if test:
            report["tickets_as_benign_test"] = prf([variant.run(r["text"]).score for r in test],
                                                   [r["label"] == "attack" for r in test], stored)
    if test:
        t_scores = [det.run(r["text"]).score for r in test]
        t_gold = [r["label"] == "attack" for r in test]
        report["test"] = {"n": len(test), "positives": sum(t_gold), **prf(t_scores, t_gold, stored)}
        report["errors_at_stored"] += [
            {"set": "test", "score": s, "label": r["label"], "text": r["text"][:90]}
            for s, r, g in zip(t_scores, test, t_gold) if (s >= stored) != g
        ]
    return report


RISK_BETA = 0.5


def bench_risk(embedder) -> dict:
    rows, test = load_split("risk")
    exemplars = [t for texts in risk_mod.load_exemplars().values() for t in texts]
    check_disjoint(embedder, [r["text"] for r in rows + test], exemplars, "risk")
    # The pipeline gives the risk model its KB's past tickets as ordinary background
    # (guardrails/risk.py); here that is the sample KB's, when it is there.
    tickets_path = ROOT / "kb" / "sample" / "tickets.jsonl"
    tickets = ([t.get("body", "") for t in load_jsonl(tickets_path)] if tickets_path.exists() else [])
    det = risk_mod.RiskDetector(embedder, background=tickets)
    stored = risk_mod.DEFAULT_THRESHOLD

    def evaluate(items: list[dict], name: str) -> tuple[list[float], list[bool], dict, list[dict]]:
        results = [det.run(r["text"]) for r in items]
        scores = [res.score for res in results]
        gold = [r["topic"] is not None for r in items]
        # Of the risky lines detected at the stored threshold, how many got the right topic and kind.
        hits = [(res, r) for res, r in zip(results, items) if r["topic"] and res.score >= stored]
        extra = {
            "topic_accuracy_of_detected": round(sum(res.topic == r["topic"] for res, r in hits) / len(hits), 4) if hits else None,
            "kind_accuracy_of_detected": round(
                sum(res.kind == risk_mod.kind_of(r["topic"]) for res, r in hits) / len(hits), 4) if hits else None,
        }
        errors = [
            {"set": name, "score": s, "topic": r["topic"], "got": res.topic, "text": r["text"][:90]}
            for s, r, res, g in zip(scores, items, results, gold)
            if (s >= stored) != g or (g and s >= stored and res.topic != r["topic"])
        ]
        return scores, gold, extra, errors

    t0 = time.perf_counter()
    scores, gold, extra, errors = evaluate(rows, "heldout")
    elapsed = time.perf_counter() - t0
    base_scores = [det.nearest_margin(r["text"]) for r in rows]
    base_t = choose_threshold(base_scores, gold, RISK_BETA)
    report = {
        "n": len(rows), "positives": sum(gold),
        "chosen": prf(scores, gold, choose_threshold(scores, gold, RISK_BETA)), "stored": prf(scores, gold, stored),
        "cv5": cross_validated(scores, gold, RISK_BETA), **extra,
        "baseline_nearest_margin": {**prf(base_scores, gold, base_t), "cv5": cross_validated(base_scores, gold, RISK_BETA)},
        "ms_per_text": round(1000 * elapsed / len(rows), 1), "errors_at_stored": errors,
    }
    without = risk_mod.RiskDetector(embedder)  # exemplars only, for comparison
    w_scores = [without.run(r["text"]).score for r in rows]
    report["exemplars_only"] = {**prf(w_scores, gold, choose_threshold(w_scores, gold, RISK_BETA)),
                                "cv5": cross_validated(w_scores, gold, RISK_BETA)}
    if tickets:
        # Flag rate on the tickets themselves: each half is scored by a model whose
        # background is the other half, so no ticket is scored by a model that saw it.
        texts = [f"{t.get('subject', '')}\n{t.get('body', '')}".strip() for t in load_jsonl(tickets_path)]
        halves = [list(range(0, len(texts), 2)), list(range(1, len(texts), 2))]
        flagged = 0
        for mine, other in (halves, halves[::-1]):
            half_det = risk_mod.RiskDetector(embedder, background=[tickets[i] for i in other])
            flagged += sum(half_det.run(texts[i]).kind is not None for i in mine)
        report["sample_tickets_flagged"] = {
            "n": len(texts),
            "model": flagged,
            "exemplars_only": sum(without.run(t).kind is not None for t in texts),
            "baseline": sum(det.nearest_margin(t) >= base_t for t in texts),
        }
    if test:
        t_scores, t_gold, t_extra, t_errors = evaluate(test, "test")
        report["test"] = {"n": len(test), "positives": sum(t_gold), **prf(t_scores, t_gold, stored), **t_extra}
        report["errors_at_stored"] += t_errors
    return report


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
        print(f"   best-F{'0.5' if name == 'risk' else '1'} threshold {c['threshold']:.3f}: precision {c['precision']:.3f} recall {c['recall']:.3f} f1 {c['f1']:.3f}")
        print(f"   stored  threshold {s['threshold']:.3f}: precision {s['precision']:.3f} recall {s['recall']:.3f} "
              f"f1 {s['f1']:.3f} (tp {s['tp']} fp {s['fp']} fn {s['fn']})")
        print(f"   5-fold CV (threshold chosen on 4/5): precision {cv['precision']:.3f} recall {cv['recall']:.3f} f1 {cv['f1']:.3f}")
        if "topic_accuracy_of_detected" in r:
            print(f"   topic accuracy of detected: {r['topic_accuracy_of_detected']}, kind accuracy: {r['kind_accuracy_of_detected']}")
        if "baseline_nearest_margin" in r:
            b = r["baseline_nearest_margin"]
            print(f"   baseline (nearest-exemplar margin, own threshold {b['threshold']:.3f}): precision {b['precision']:.3f} "
                  f"recall {b['recall']:.3f} f1 {b['f1']:.3f}; 5-fold CV precision {b['cv5']['precision']:.3f} "
                  f"recall {b['cv5']['recall']:.3f}")
        if "exemplars_only" in r:
            e = r["exemplars_only"]
            print(f"   exemplars only, no ticket background (own threshold {e['threshold']:.3f}): precision "
                  f"{e['precision']:.3f} recall {e['recall']:.3f} f1 {e['f1']:.3f}; 5-fold CV precision "
                  f"{e['cv5']['precision']:.3f} recall {e['cv5']['recall']:.3f}")
        if "tickets_as_benign" in r:
            v, vt = r["tickets_as_benign"], r.get("tickets_as_benign_test")
            print(f"   not adopted, sample KB tickets as benign look-alikes (stored threshold): precision "
                  f"{v['precision']:.3f} recall {v['recall']:.3f} f1 {v['f1']:.3f}"
                  + (f"; test precision {vt['precision']:.3f} recall {vt['recall']:.3f} f1 {vt['f1']:.3f}" if vt else ""))
        if "sample_tickets_flagged" in r:
            k = r["sample_tickets_flagged"]
            print(f"   sample KB past tickets flagged at the stored threshold: model {k['model']}/{k['n']} (background "
                  f"cross-fitted over two halves), exemplars only {k['exemplars_only']}/{k['n']}, "
                  f"baseline {k['baseline']}/{k['n']}")
        if "test" in r:
            t = r["test"]
            print(f"   test set ({t['n']} lines, {t['positives']} positive) at the stored threshold: precision {t['precision']:.3f} "
                  f"recall {t['recall']:.3f} f1 {t['f1']:.3f} (tp {t['tp']} fp {t['fp']} fn {t['fn']})"
                  + (f", topic accuracy {t['topic_accuracy_of_detected']}" if "topic_accuracy_of_detected" in t else ""))
        if abs(c["threshold"] - s["threshold"]) > 1e-3:
            print(f"   NOTE: stored threshold differs from the chosen one; update DEFAULT_THRESHOLD in guardrails/{name}.py")
        for m in r["errors_at_stored"]:
            print(f"   miss {m}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
