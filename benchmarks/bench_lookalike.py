"""The risk and injection detectors on a set written blind to them, and whether that kind of
data helps as exemplars (measured, not adopted).

    python benchmarks/bench_lookalike.py

``guardrails/data/lookalike_test.jsonl`` holds 280 lines written by a helper that read
neither the exemplars, the held-out sets nor the eval sets: 180 ordinary PAM requests
that use the words of a risky topic or of an attack in their everyday sense ("add our
in-house counsel to the transfer list", "I'm the admin", "override the hours for one
day"), and 100 real risks and attacks in the same everyday style. Nothing was chosen on
it: it checks the detectors as shipped, which run first (risk with the sample KB's
tickets as background and the pipeline's whole-request threshold, injection at its own).

Then the question it was written to answer: do such lines help as exemplars (hard
negatives for ``benign``, new positives for their topic)? Two-fold cross-fitting by a
hash of the text: the lines of one fold are added to the exemplars, the other fold is
scored, and the shipped detectors are scored on the same fold beside them. Last, every
line is added and the detectors' own held-out and test sets are scored, at the stored
thresholds, against the shipped detectors.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.pipeline import RISK_THRESHOLD, Pipeline  # noqa: E402
from guardrails import DATA_DIR, ExemplarIndex, segments  # noqa: E402
from guardrails import injection as injection_mod  # noqa: E402
from guardrails import risk as risk_mod  # noqa: E402

KB, INDEX = "kb/sample", ".index"
SET = DATA_DIR / "lookalike_test.jsonl"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def fold(row: dict) -> int:
    return int(hashlib.sha1(row["text"].encode()).hexdigest(), 16) % 2


def risk_with(pipeline: Pipeline, extra: list[dict]) -> risk_mod.RiskDetector:
    """The pipeline's risk detector with ``extra`` lines as exemplars: an ordinary line's
    sentences go to ``benign``, a risky line whole to its topic."""
    groups: dict[str, list[str]] = {}
    for row in extra:
        if row["label"] == "benign":
            groups.setdefault(risk_mod.BENIGN, []).extend(
                s for s in segments(row["text"]) if len(s.split()) >= risk_mod.MIN_WORDS)
        else:
            groups.setdefault(row["label"], []).append(" ".join(segments(row["text"])))
    return risk_mod.RiskDetector(pipeline.embedder, threshold=RISK_THRESHOLD, background=pipeline.risk.background,
                                 security_threshold=pipeline.risk.security_threshold, extra_exemplars=groups)


def injection_with(pipeline: Pipeline, extra: list[dict]) -> injection_mod.InjectionDetector:
    """The injection detector with ``extra`` attacks as exemplars and ordinary lines as look-alikes."""
    detector = injection_mod.InjectionDetector(pipeline.embedder)
    attacks = [" ".join(segments(r["text"])) for r in extra if r["label"] != "benign"]
    ordinary = [s for r in extra if r["label"] == "benign" for s in segments(r["text"])]
    detector.exemplars = ExemplarIndex(pipeline.embedder, detector.exemplars.texts + attacks)
    detector.benign = ExemplarIndex(pipeline.embedder, detector.benign.texts + ordinary)
    return detector


def flags(detector, text: str) -> bool:
    result = detector.run(text)
    return result.flagged if isinstance(result, injection_mod.InjectionResult) else result.kind is not None


def count(detector, rows: list[dict], ordinary: str) -> tuple[int, int, int, int]:
    """(false alarms, ordinary lines, caught, risky lines)."""
    benign = [r for r in rows if r["label"] == ordinary]
    risky = [r for r in rows if r["label"] != ordinary]
    return (sum(flags(detector, r["text"]) for r in benign), len(benign),
            sum(flags(detector, r["text"]) for r in risky), len(risky))


def show(name: str, c: tuple[int, int, int, int]) -> str:
    return f"{name}: false alarms {c[0]}/{c[1]}, caught {c[2]}/{c[3]}"


def main() -> int:
    limit_blas_threads()
    from assistant.cli import main as cli

    if not (ROOT / INDEX / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / KB), "--index", str(ROOT / INDEX)])
    pipeline = Pipeline.load(Settings(index=str(ROOT / INDEX)))
    rows = load(SET)
    by = {d: [r for r in rows if r["detector"] == d] for d in ("risk", "injection")}
    shipped = {"risk": pipeline.risk, "injection": pipeline.injection}
    builders = {"risk": risk_with, "injection": injection_with}

    print(f"== as shipped, on {SET.name} (never used to choose)")
    for d, detector in shipped.items():
        print("   " + show(d, count(detector, by[d], "benign")))
        for r in by[d]:
            if flags(detector, r["text"]) != (r["label"] != "benign"):
                kind = "false alarm" if r["label"] == "benign" else f"missed {r['label']}"
                print(f"     {kind}: {' '.join(r['text'].split())[:110]}")

    print("\n== not adopted: half of the set as exemplars, scored on the other half (two folds, summed)")
    for d in by:
        base, added = [0, 0, 0, 0], [0, 0, 0, 0]
        for k in (0, 1):
            train = [r for r in by[d] if fold(r) != k]
            test = [r for r in by[d] if fold(r) == k]
            base = [a + b for a, b in zip(base, count(shipped[d], test, "benign"))]
            added = [a + b for a, b in zip(added, count(builders[d](pipeline, train), test, "benign"))]
        print(f"   {d}: " + show("shipped", tuple(base)) + "; " + show("with the other half", tuple(added)))

    print("\n== not adopted: the whole set as exemplars, on the detectors' own held-out and test sets")
    full = {d: builders[d](pipeline, by[d]) for d in by}
    sets = [("risk", "risk_heldout.jsonl", None), ("risk", "risk_test.jsonl", None),
            ("risk", "risk_emails_heldout.jsonl", "benign"), ("injection", "injection_heldout.jsonl", "benign"),
            ("injection", "injection_test.jsonl", "benign")]
    for d, name, ordinary in sets:
        data = load(DATA_DIR / name)
        for r in data:
            r.setdefault("text", f"{r.get('subject', '')}\n{r.get('body', '')}".strip())
            r["label"] = r.get("label", r.get("topic"))
        print(f"   {name}: " + show("shipped", count(shipped[d], data, ordinary)) + "; "
              + show("with the set", count(full[d], data, ordinary)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
