"""Risk threshold on the dev set (held out from the guardrail's own exemplars), checked on the red-team set.

Prints, for each threshold, risky/security requests caught and ordinary ones
flagged on both sets. guardrails/risk.py's pipeline threshold comes from here.

    python benchmarks/bench_risk_dev.py
"""
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from assistant.models import SupportRequest  # noqa: E402
from guardrails.risk import RiskDetector  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402

# As in the pipeline: the sample KB's past tickets are the model's ordinary background.
tickets = [json.loads(line).get("body", "") for line in open("kb/sample/tickets.jsonl") if line.strip()]
det = RiskDetector(Embedder.default(), threshold=0.0, background=tickets)
for name in ("evals/data/dev.jsonl", "evals/data/redteam.jsonl"):
    scores, want = [], []
    for line in open(name):
        case = json.loads(line)
        ex = case["expected"]
        reasons = set(ex.get("reasons") or []) | set(ex.get("reasons_any") or [])
        scores.append(det.run(SupportRequest.model_validate(case).text).score)
        want.append(bool(reasons & {"risky_topic", "security_incident"}))
    s, w = np.array(scores), np.array(want)
    print(name, f"risky={w.sum()} ordinary={(~w).sum()}")
    for th in (0.62, 0.66, 0.70, 0.72, 0.74, 0.76, 0.78, 0.80, 0.82, 0.84, 0.86, 0.88, 0.90):
        print(f"  threshold {th:.2f}: caught {(s[w] >= th).sum():2d}/{w.sum()}  ordinary flagged {(s[~w] >= th).sum():2d}/{(~w).sum()}")
