"""Legal words in their everyday sense: how often the risk detector reads them as a threat.

    python benchmarks/bench_legal.py

guardrails/data/legal_heldout.jsonl holds 60 ordinary requests that use legal words in
their everyday sense (in-house counsel on the transfer list, a law firm as a fleet
customer, an advisor's deposition, a subpoena the dealership must answer) and 60 legal
threats against the vendor, half told without "sue", "lawsuit", "lawyer" or "attorney";
written for choosing by someone who had not read the exemplars or the eval sets.

It prints the pipeline's risk detector on the set, then two changes, chosen on this set
and dev, neither adopted:

1. a bar of its own for the legal-threat topic (as security incidents have one): no bar
   separates the two sides much better than the shared one (F0.5 moves by about 0.02
   while threats caught fall);
2. the set's ordinary lines as extra benign exemplars, cross-fitted over its two halves:
   ordinary lines flagged fall by two of 60 and a threat is lost; with all 60 lines the
   model loses a risky dev request and a blind-set catch.

So about one ordinary request in five that mentions a lawyer or a court is escalated as a
legal threat: the embedding cannot tell who the legal words are aimed at. An LLM judge
(OPENAI_BASE_URL) is what reads that; offline, these go to a person.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402
from bench_security import RISKY, eval_texts, load, refit_with  # noqa: E402
from guardrails import DATA_DIR, fold_input  # noqa: E402
from guardrails import risk as risk_mod  # noqa: E402

LEGAL = "legal_threat"
BARS = (0.72, 0.75, 0.80, 0.85, 0.90, 0.95)


def counts(flags: list[bool], rows: list[dict]) -> tuple[int, int]:
    """(ordinary lines flagged, threats caught)."""
    return (sum(f for f, r in zip(flags, rows) if r["label"] == "ordinary"),
            sum(f for f, r in zip(flags, rows) if r["label"] == "threat"))


def main() -> int:
    limit_blas_threads()
    from assistant.cli import main as cli

    if not (ROOT / ".index" / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / "kb" / "sample"), "--index", str(ROOT / ".index")])
    pipeline = Pipeline.load(Settings(index=str(ROOT / ".index")))
    det = pipeline.risk
    rows = load(DATA_DIR / "legal_heldout.jsonl")
    texts = [fold_input(r["text"]) for r in rows]
    ordinary, caught = counts([det.run(t).kind is not None for t in texts], rows)
    print(f"as shipped: ordinary lines flagged {ordinary}/60, threats caught {caught}/60")

    print(f"\n1. a bar of its own for {LEGAL} (other topics and security as shipped)")
    dev = eval_texts("dev")

    def flagged(scores: dict[str, float], bar: float) -> bool:
        if scores.get(risk_mod.BREACH, 0.0) >= det.security_threshold:
            return True
        return any(v >= (bar if t == LEGAL else det.threshold) for t, v in scores.items() if t != risk_mod.BREACH)

    legal_scores = [det.topic_scores(t) for t in texts]
    dev_scores = [(det.topic_scores(t), bool(reasons & RISKY)) for t, reasons in dev]
    for bar in BARS:
        fp, tp = counts([flagged(s, bar) for s in legal_scores], rows)
        p, r = (tp / (tp + fp) if tp + fp else 1.0), tp / 60
        f05 = 1.25 * p * r / (0.25 * p + r) if p + r else 0.0
        risky = sum(flagged(s, bar) for s, y in dev_scores if y)
        plain = sum(flagged(s, bar) for s, y in dev_scores if not y)
        print(f"  bar {bar:.2f}: threats {tp}/60, ordinary {fp}/60, F0.5 {f05:.3f} | dev risky {risky}/"
              f"{sum(y for _, y in dev_scores)}, dev ordinary {plain}/{sum(not y for _, y in dev_scores)}")

    print("\n2. the set's ordinary lines as benign exemplars, cross-fitted over its halves")
    totals = {"shipped": [0, 0], "with lines": [0, 0]}
    for half in (0, 1):
        train = [r for i, r in enumerate(rows) if i % 2 != half]
        test = [(t, r) for i, (t, r) in enumerate(zip(texts, rows)) if i % 2 == half]
        variant = refit_with(pipeline, {risk_mod.BENIGN: [r["text"] for r in train if r["label"] == "ordinary"]})
        for name, d in (("shipped", det), ("with lines", variant)):
            o, c = counts([d.run(t).kind is not None for t, _ in test], [r for _, r in test])
            totals[name][0] += o
            totals[name][1] += c
    for name, (o, c) in totals.items():
        print(f"  {name:10}: ordinary flagged {o}/60, threats caught {c}/60")
    full = refit_with(pipeline, {risk_mod.BENIGN: [r["text"] for r in rows if r["label"] == "ordinary"]})
    blind = [r for r in load(DATA_DIR / "lookalike_test.jsonl") if r["detector"] == "risk"]
    for name, d in (("shipped", det), ("with lines", full)):
        risky_dev = [d.run(t).kind is not None for t, reasons in dev if reasons & RISKY]
        blind_caught = sum(d.run(r["text"]).kind is not None for r in blind if r["label"] != "benign")
        print(f"  {name:10} (all 60 lines): risky dev requests caught {sum(risky_dev)}/{len(risky_dev)}, "
              f"blind-set risks caught {blind_caught}/60")
    print(json.dumps({"ordinary_flagged": ordinary, "threats_caught": caught}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
