"""Risk threshold and sentence window on held-out whole requests, checked on the red-team set.

Prints, for each sentence window and threshold, risky/security requests caught and
ordinary ones flagged on three sets:

* evals/data/dev.jsonl: the pipeline threshold (RISK_THRESHOLD in
  assistant/pipeline.py) is chosen here;
* guardrails/data/risk_emails_heldout.jsonl: 120 emails (60 risky, 60 ordinary)
  written for this choice by a helper that saw neither the eval sets nor the
  exemplars, with the risk told across sentences; the window is chosen here;
* evals/data/redteam.jsonl: the check, never used to choose.

A window of 1 scores each sentence alone (the message takes its best sentence);
2 also scores each pair of consecutive sentences, 3 each run of three, a run
scoring its probability minus the margin. The baseline (window 1) is printed
beside each variant, in the same process.

    python benchmarks/bench_risk_dev.py
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from assistant.models import SupportRequest  # noqa: E402
from assistant.pipeline import RISK_THRESHOLD  # noqa: E402
from guardrails.pii import PiiDetector  # noqa: E402
from guardrails.risk import RiskDetector  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402

VARIANTS = [(1, 0.0), (2, 0.0), (2, 0.04), (2, 0.12), (3, 0.0), (3, 0.04), (3, 0.12)]  # (window, margin)
THRESHOLDS = (0.62, 0.66, 0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86, 0.88, 0.90)
RISKY = {"risky_topic", "security_incident"}


def load(path: Path) -> tuple[list[str], np.ndarray]:
    """Texts and whether each is risky, from an eval set (SPEC section 5) or a topic-labelled set."""
    texts, risky = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        if "expected" in case:
            ex = case["expected"]
            want = bool((set(ex.get("reasons") or []) | set(ex.get("reasons_any") or [])) & RISKY)
            texts.append(SupportRequest.model_validate(case).text)
        else:
            want = case["topic"] != "benign"
            texts.append(SupportRequest.model_validate({"channel": "email", **case}).text)
        risky.append(want)
    return texts, np.array(risky)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    # As in the pipeline: the sample KB's past tickets are the model's ordinary background.
    tickets = [json.loads(line).get("body", "") for line in open(ROOT / "kb/sample/tickets.jsonl") if line.strip()]
    embedder = Embedder.default()
    sets = {name: load(ROOT / name) for name in ("evals/data/dev.jsonl", "guardrails/data/risk_emails_heldout.jsonl",
                                                  "evals/data/redteam.jsonl")}
    scores = {}
    # The window and margin are compared with every run scored (run_gate=0); the gate is
    # checked after: the shipped setting with its gate must flag exactly what it flags without.
    for variant in VARIANTS:
        det = RiskDetector(embedder, threshold=0.0, background=tickets, window=variant[0], window_margin=variant[1],
                           run_gate=0.0)
        for name, (texts, _) in sets.items():
            # The best topic's score, whichever topic: run().score would be the breach score
            # whenever it passes the (here zero) security bar.
            scores[variant, name] = np.array([max(det.topic_scores(t).values(), default=0.0) for t in texts])
    for name, (_, w) in sets.items():
        print(f"{name}: risky={w.sum()} ordinary={(~w).sum()}   caught / ordinary flagged, per window and margin")
        print("  threshold " + "".join(f"  window {win} margin {m:<4.2f}" for win, m in VARIANTS))
        for th in THRESHOLDS:
            cells = []
            for variant in VARIANTS:
                s = scores[variant, name]
                cells.append(f"  {(s[w] >= th).sum():3d}/{w.sum():<3d} {(s[~w] >= th).sum():3d}/{(~w).sum():<5d}")
            print(f"  {th:9.2f} " + "".join(cells))

    # The run gate: which requests needed a run to be flagged (or to get their kind) at the
    # pipeline's threshold, and how far their best single sentence already leaned to a topic.
    # Scored on the text as the pipeline scores it: personal data redacted. (The pipeline
    # also scores each part of a split email on its own; that is not replayed here.)
    alone = RiskDetector(embedder, threshold=RISK_THRESHOLD, background=tickets, window=1)
    ungated = RiskDetector(embedder, threshold=RISK_THRESHOLD, background=tickets, run_gate=0.0)
    gated = RiskDetector(embedder, threshold=RISK_THRESHOLD, background=tickets)
    print(f"run gate {gated.run_gate} at threshold {RISK_THRESHOLD} (window {gated.window}, margin {gated.window_margin}):")
    pii = PiiDetector()
    for name, (texts, _) in sets.items():
        needed, below, same, differ = [], 0, 0, []
        for i, text in enumerate(texts):
            text = pii.redact(text)
            if not alone.sentences(text):
                same += 1
                continue
            lean = alone.lean(text)
            below += lean < gated.run_gate
            if alone.run(text).kind != ungated.run(text).kind:
                needed.append(round(lean, 3))
            if gated.run(text).kind == ungated.run(text).kind:
                same += 1
            else:
                differ.append(f"line {i + 1}")
        print(f"  {name}: flags that needed a run: {len(needed)}, their best sentence's topic probability "
              f"{sorted(needed)}; requests below the gate (runs not scored): {below}/{len(texts)}; "
              f"gated == ungated: {same}/{len(texts)} {differ}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
