"""Other businesses' exemplars for the risk model: measured, not adopted.

    python benchmarks/bench_risk_domains.py

The risk model's exemplars (guardrails/data/risk_exemplars.yaml) are all a dealership's
words. On another deployment's KB the model then reads nouns, not acts: on the clinic KB of
tests/fixtures/kb_clinic, "How far ahead can patients book?" scores 0.92 as professional
advice while "Can you tell me what dose of ibuprofen my patient should take?" scores 0.05.
This bench measures the obvious mend: the same acts told by other businesses' customers,
added to the exemplars.

- guardrails/data/risk_exemplars_domains.yaml: 166 sentences (16 per risky topic, 70
  ordinary, many sharing risky words) from restaurants, landlords, salons, HVAC firms, gyms
  and web shops, written by a helper who saw the shipped exemplars but no eval or held-out set.
- guardrails/data/risk_domains_heldout.jsonl: 259 lines (20 per risky topic, 19 data breaches,
  140 ordinary) from seven other businesses (hotels, movers, tutoring, coworking, pest control,
  ticketing, dog daycare), written for this choice by a second helper who saw nothing of the
  project; one line, a near copy of a new exemplar (cosine 0.92), was dropped.

Variants, side by side in one process, each at the pipeline's bars (RISK_THRESHOLD for the
topics, SECURITY_THRESHOLD for a data breach) with the sample KB's tickets as background:

- shipped: the exemplars as shipped;
- all topics: every group of the other businesses' file added;
- advice and others' data: only professional_advice, other_dealer_data and benign added
  (the two topics whose shipped exemplars are most a dealership's: car financing, dealerships).

Sets for choosing: the risk held-out lines (dealership), the other businesses' held-out lines,
and whole requests (dev, held-out risk emails). Checks only: the risk test lines and the red
team. The choice would also have to move RISK_THRESHOLD and SECURITY_THRESHOLD: rerun with
every topic added, benchmarks/bench_risk_dev.py's rule (highest recall with ordinary dev
requests flagged near 4%) picks 0.74 and benchmarks/bench_security.py's picks 0.65. So

    python benchmarks/bench_risk_domains.py --pipeline [--bars 0.74,0.65] [--index DIR --cases FILE ...]

runs whole pipelines instead, shipped (its own bars) beside every topic added (at ``--bars``),
in one process, on the sample KB's eval sets (or on ``--cases`` against ``--index``; set
ASSISTANT_SCOPE for another KB), and prints every case whose route, reasons, queue or priority
changes.

A deployment's own exemplars, the other mend: ``--exemplars FILE`` adds that file instead.
tests/fixtures/kb_clinic/risk_exemplars.yaml was written as the clinic KB's support team would
(from its runbooks and tickets, not its cases); at the shipped bars:

    ASSISTANT_SCOPE="Clinicly booking, reminders, payments and your clinic account" \
    python benchmarks/bench_risk_domains.py --pipeline --bars 0.72,0.68 \
        --exemplars tests/fixtures/kb_clinic/risk_exemplars.yaml \
        --index <the clinic KB's index> --cases tests/fixtures/kb_clinic/cases.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import yaml  # noqa: E402

from assistant.pipeline import RISK_THRESHOLD, SECURITY_THRESHOLD  # noqa: E402
from bench_guardrails_thresholds import check_disjoint  # noqa: E402
from bench_risk_dev import load as load_requests  # noqa: E402
from guardrails import DATA_DIR  # noqa: E402
from guardrails import risk as risk_mod  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402

DOMAIN_EXEMPLARS = DATA_DIR / "risk_exemplars_domains.yaml"
LINES = {"dealership lines": DATA_DIR / "risk_heldout.jsonl",
         "other businesses' lines": DATA_DIR / "risk_domains_heldout.jsonl",
         "risk test lines (check)": DATA_DIR / "risk_test.jsonl"}
REQUESTS = {"dev requests": ROOT / "evals/data/dev.jsonl",
            "held-out risk emails": DATA_DIR / "risk_emails_heldout.jsonl",
            "red team (check)": ROOT / "evals/data/redteam.jsonl"}
VARIANTS = {"shipped": (), "all topics": None,
            "advice and others' data": ("professional_advice", "other_dealer_data", risk_mod.BENIGN)}


def added(extra: dict[str, list[str]], topics) -> dict[str, list[str]]:
    """The groups of ``extra`` a variant adds (``topics`` None: every group)."""
    return {topic: texts for topic, texts in extra.items() if topics is None or topic in topics}


def pipeline_changes(index: Path, cases: list[Path], bars: tuple[float, float], exemplars: Path) -> None:
    """Whole pipelines: the shipped risk detector beside every group of ``exemplars`` added, at ``bars``."""
    from assistant import limit_blas_threads
    from assistant.config import Settings
    from assistant.models import SupportRequest
    from assistant.pipeline import Pipeline

    limit_blas_threads()
    pipeline = Pipeline.load(Settings(index=str(index)))
    shipped = pipeline.risk
    extra = yaml.safe_load(exemplars.read_text(encoding="utf-8"))
    with_extra = risk_mod.RiskDetector(pipeline.embedder, threshold=bars[0], security_threshold=bars[1],
                                       background=shipped.background, extra_exemplars=extra)
    fields = ("route", "reasons", "queue", "priority")
    for path in cases:
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        results = {}
        for name, detector in (("shipped", shipped), ("added", with_extra)):
            pipeline.risk = detector
            results[name] = [pipeline.run(SupportRequest.model_validate(row)) for row in rows]
        pipeline.risk = shipped
        right = {name: sum(r.route == row["expected"]["route"] for r, row in zip(got, rows))
                 for name, got in results.items()}
        print(f"{path}: route right {right['shipped']}/{len(rows)} shipped, {right['added']}/{len(rows)} "
              f"with {exemplars.name} added at {bars[0]}/{bars[1]}")
        for row, a, b in zip(rows, results["shipped"], results["added"]):
            changed = {f: (getattr(a, f), getattr(b, f)) for f in fields if getattr(a, f) != getattr(b, f)}
            if changed:
                print(f"  {row['id']} (expected {row['expected']['route']}): "
                      + "; ".join(f"{f} {x} -> {y}" for f, (x, y) in changed.items()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pipeline", action="store_true", help="whole pipelines on eval sets instead")
    parser.add_argument("--bars", default="0.74,0.65", help="topic and data-breach bars with the exemplars added")
    parser.add_argument("--exemplars", type=Path, default=DOMAIN_EXEMPLARS, help="the exemplars added (--pipeline)")
    parser.add_argument("--index", type=Path, default=ROOT / ".index")
    parser.add_argument("--cases", type=Path, nargs="*",
                        default=[ROOT / "evals/data" / f"{n}.jsonl" for n in ("dev", "redteam", "heldout_chat")])
    args = parser.parse_args(argv)
    pipeline_only = [f"--{name}" for name in ("bars", "exemplars", "index", "cases")
                     if getattr(args, name) != parser.get_default(name)]
    if pipeline_only and not args.pipeline:
        parser.error(f"{', '.join(pipeline_only)} only act with --pipeline")
    if args.pipeline:
        topic_bar, breach_bar = (float(x) for x in args.bars.split(","))
        pipeline_changes(args.index, args.cases, (topic_bar, breach_bar), args.exemplars)
        return 0
    embedder = Embedder.default()
    extra = yaml.safe_load(DOMAIN_EXEMPLARS.read_text(encoding="utf-8"))
    tickets = [json.loads(line).get("body", "") for line in open(ROOT / "kb/sample/tickets.jsonl") if line.strip()]
    sets = {}
    for name, path in LINES.items():
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        sets[name] = ([r["text"] for r in rows], [r["topic"] for r in rows])
    for name, path in REQUESTS.items():
        texts, risky = load_requests(path)
        sets[name] = (texts, ["risky" if r else None for r in risky])
    every = [t for texts in risk_mod.load_exemplars().values() for t in texts] + [t for v in extra.values() for t in v]
    check_disjoint(embedder, [t for name in LINES for t in sets[name][0]], every, "risk lines")
    print(f"caught / ordinary flagged (right topic among caught lines), at RISK_THRESHOLD {RISK_THRESHOLD} "
          f"and SECURITY_THRESHOLD {SECURITY_THRESHOLD}")
    print(f"{'set':28}" + "".join(f"{v:>30}" for v in VARIANTS))
    results = {}
    for variant, topics in VARIANTS.items():
        det = risk_mod.RiskDetector(embedder, threshold=RISK_THRESHOLD, security_threshold=SECURITY_THRESHOLD,
                                    background=tickets, extra_exemplars=added(extra, topics))
        results[variant] = {name: [det.run(t) for t in texts] for name, (texts, _) in sets.items()}
        results[variant]["sample tickets"] = [det.run(t) for t in tickets]
    for name, (_, labels) in sets.items():
        cells = []
        for variant in VARIANTS:
            got = results[variant][name]
            caught = [r for r, want in zip(got, labels) if want and r.kind]
            right = sum(r.topic == want for r, want in zip(got, labels) if want and r.kind)
            flagged = sum(1 for r, want in zip(got, labels) if not want and r.kind)
            pos = sum(1 for want in labels if want)
            topic = f" ({right})" if name in LINES else ""
            cells.append(f"{len(caught)}/{pos}{topic}  {flagged}/{len(labels) - pos}")
        print(f"{name:28}" + "".join(f"{c:>30}" for c in cells))
    print(f"{'sample tickets flagged':28}" + "".join(
        f"{sum(1 for r in results[v]['sample tickets'] if r.kind)}/{len(tickets)}".rjust(30) for v in VARIANTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
