"""Hand-off field accuracy on the labelled escalations of evals/data/handoff.jsonl.

For each case the request text (subject and body, personal data redacted the way
the pipeline does) goes through ``extract_facts`` and ``missing_facts`` with the
labelled category, so the figures measure the hand-off fields, not the classifier.

- evidence recall: expected evidence items found in the note's evidence lines
  (case-insensitive substring of a line), over all expected items;
- evidence precision: evidence lines that contain at least one expected item,
  over all lines produced;
- missing exact match: cases whose set of missing kinds equals the label;
- per-kind precision, recall and F1 of the missing kinds.

    python benchmarks/bench_handoff.py [--cases evals/data/handoff.jsonl] [--verbose]

The extraction rules were written while reading this set, so these are
development figures, not a held-out estimate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.handoff import MISSING_KINDS, evidence_lines, extract_facts, missing_facts  # noqa: E402
from assistant.models import SupportRequest  # noqa: E402
from guardrails.pii import PiiDetector  # noqa: E402


def evaluate(cases: list[dict], verbose: bool = False) -> dict:
    pii = PiiDetector()
    found = expected_n = lines_ok = lines_n = exact = 0
    kinds = {k: {"tp": 0, "fp": 0, "fn": 0} for k in MISSING_KINDS}
    for case in cases:
        text = pii.redact(SupportRequest.model_validate(case).text)
        want = case["expected"]
        facts = extract_facts(text)
        lines = evidence_lines(facts)
        low = [line.lower() for line in lines]
        hit = [e for e in want["evidence"] if any(e.lower() in line for line in low)]
        good = [line for line in low if any(e.lower() in line for e in want["evidence"])]
        found += len(hit)
        expected_n += len(want["evidence"])
        lines_ok += len(good)
        lines_n += len(lines)
        got_missing = set(missing_facts(facts, want["category"], text))
        want_missing = set(want["missing"])
        exact += got_missing == want_missing
        for k in MISSING_KINDS:
            kinds[k]["tp"] += k in got_missing and k in want_missing
            kinds[k]["fp"] += k in got_missing and k not in want_missing
            kinds[k]["fn"] += k not in got_missing and k in want_missing
        if verbose and (len(hit) < len(want["evidence"]) or len(good) < len(lines) or got_missing != want_missing):
            print(f"--- {case['id']}")
            print("   evidence missed:", [e for e in want["evidence"] if e not in hit])
            print("   evidence extra: ", [line for line in lines if line.lower() not in good])
            if got_missing != want_missing:
                print("   missing got", sorted(got_missing), "want", sorted(want_missing))
    per_kind = {}
    for k, c in kinds.items():
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
        r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
        per_kind[k] = {"precision": round(p, 3), "recall": round(r, 3),
                       "f1": round(2 * p * r / (p + r), 3) if p + r else 0.0, "support": c["tp"] + c["fn"]}
    return {
        "n": len(cases),
        "evidence_recall": round(found / expected_n, 4) if expected_n else 1.0,
        "evidence_precision": round(lines_ok / lines_n, 4) if lines_n else 1.0,
        "evidence_counts": {"expected": expected_n, "found": found, "lines": lines_n, "lines_matching": lines_ok},
        "missing_exact_match": round(exact / len(cases), 4),
        "missing_per_kind": per_kind,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", default="evals/data/handoff.jsonl")
    ap.add_argument("--verbose", action="store_true", help="print the cases with any difference")
    args = ap.parse_args(argv)
    cases = [json.loads(line) for line in Path(args.cases).read_text().splitlines() if line.strip()]
    print(json.dumps(evaluate(cases, verbose=args.verbose), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
