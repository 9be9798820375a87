"""The staff-action detector (guardrails/action.py) against a keyword baseline, on chat lines of other products.

    python benchmarks/bench_staff_action.py [--show-errors]

Three labelled sets of help-chat messages ("act": asks the vendor's staff to do
something on their side; "ask": anything else), each written by a helper that saw
neither this project's evaluation sets nor the detector:

- staff_action_heldout.jsonl (200 lines, ten products): the detector's first
  measure, then its development set (rules were added after reading its misses);
- staff_action_test.jsonl (200 lines, ten other products): measured once as a
  test, then also read for misses, so now development data too;
- staff_action_final.jsonl (150 lines, ten more products): written after the
  last change to the rules and only scored: the honest figure.

The baseline is the rule one would write first: the message contains "can you",
"could you" or "please". Both run in this one process; no model is loaded.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from guardrails.action import StaffActionDetector  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "guardrails" / "data"
SETS = ("staff_action_heldout.jsonl", "staff_action_test.jsonl", "staff_action_final.jsonl")
BASELINE = re.compile(r"\b(?:can|could) (?:you|u)\b|\bplease\b|\bpl[sz]\b", re.I)


def read(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in ("act", "ask") or not str(row.get("text", "")).strip():
            raise SystemExit(f"{path}:{n}: need a non-empty 'text' and a 'label' of act or ask")
        rows.append(row)
    return rows


def scores(flags: list[bool], rows: list[dict]) -> dict:
    act = [r["label"] == "act" for r in rows]
    tp = sum(f and a for f, a in zip(flags, act))
    fp = sum(f and not a for f, a in zip(flags, act))
    fn = sum(a and not f for f, a in zip(flags, act))
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"n": len(rows), "act": sum(act), "precision": round(precision, 3), "recall": round(recall, 3),
            "f1": round(f1, 3), "false_alarms": fp, "misses": fn}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--show-errors", action="store_true", help="print the detector's misses and false alarms")
    args = ap.parse_args(argv)
    detector = StaffActionDetector()
    results = {}
    print(f"{'set':28s} {'system':18s} {'P':>6s} {'R':>6s} {'F1':>6s} {'false alarms':>13s}")
    for name in SETS:
        path = DATA / name
        if not path.exists():
            continue
        rows = read(path)
        ours = [detector.run(r["text"]).flagged for r in rows]
        base = [bool(BASELINE.search(r["text"])) for r in rows]
        results[name] = {"detector": scores(ours, rows), "baseline": scores(base, rows)}
        for system, s in (("baseline keywords", results[name]["baseline"]), ("staff-action rule", results[name]["detector"])):
            print(f"{name:28s} {system:18s} {s['precision']:6.3f} {s['recall']:6.3f} {s['f1']:6.3f} "
                  f"{s['false_alarms']:>6d} of {s['n'] - s['act']}")
        if args.show_errors:
            for r, f in zip(rows, ours):
                if f != (r["label"] == "act"):
                    print(f"    {'false alarm' if f else 'miss':11s} {r['text']}")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
