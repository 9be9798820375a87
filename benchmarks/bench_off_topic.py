"""Out of scope: weak support as a fixed bar alone vs also "closer to an off-topic request than to any runbook".

    python benchmarks/bench_off_topic.py [--covered BAR|none]

``--covered`` sets the bar at which exemplars the KB's runbooks cover are left out
(shipped: MIN_SUPPORT["email"], 0.45; ``none`` keeps all 295). On the sample KB, none ->
0.45: 3 exemplars left out, margin +0.10 cost 58 -> 59 (one more off-topic line missed),
eval sets and kb_alt unchanged (2026-12-06).

Out of scope needs the classifier to abstain (in-scope score under 0.70 or its
threshold) and weak retrieval support. Before: the best source this surface may quote
(on chat, customer runbooks only) is under 0.30. Now (guardrails/off_topic.py): the
best runbook of any audience is under 0.30, or the request is ``margin`` closer to one
of 295 generic off-topic requests than to any runbook.

Read on two sets written for this choice by helpers who read neither the code, the KB
nor any eval set: ``assistant/data/oos_heldout.jsonl`` (120 off-topic requests in the
domain's words, a regex for VINs, a post about the tire sale, Outlook at the
dealership; 120 PAM requests, many worded to look off-topic) and
``assistant/data/oos_heldout_short.jsonl`` (150 short everyday PAM requests, "pls add
Mike as a user"; 50 short off-topic ones). The off-topic exemplars were written by a
third helper told nothing of PAM.

The pipeline triages every line once with the new path switched off, keeping its
measures; each rule is then applied to those measures. Errors are counted with a PAM
request called out of scope twice (it tells a customer their request is none of ours and
sends it to the wrong queue; a missed off-topic request costs an engineer a look).
The exemplars are checked for near-copies of these lines (none may be left). Printed, in
this one process:

1. the margin sweep for both references of the 0.30 bar: off-topic lines missed / PAM
   requests called out of scope / cost;
2. a two-fold check of choosing the margin (by a hash of the text: on one fold, the
   margin of least cost, ties to the larger; read on the other fold, beside the rule
   before and beside the 0.30 bar on any runbook without the off-topic path);
3. a second, stricter in-scope bar for the off-topic path (measured, not adopted: from
   0.20 up it changes nothing anywhere, and below that it loses catches on kb_alt), on
   these sets, on the second KB's cases (tests/fixtures/kb_alt, ingested to a temporary
   folder) and on three probes;
4. a lower margin where the classifier sees little in scope (measured, not adopted): out of
   scope also when the in-scope score is under a second bar and the margin is under the
   shipped one (R-070, "unrelated to PAM, but ... a JavaScript regex for a VIN", has in-scope
   0.16 and off-topic 0.05 *below* the VIN runbook); the pair of least cost on both sets and
   chosen on one fold, read on the other;
5. the eval sets (check only: nothing is chosen there).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant import pipeline as pipeline_mod  # noqa: E402
from assistant.cli import main as cli  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import OUT_OF_SCOPE, SupportRequest  # noqa: E402
from assistant.pipeline import OOS_IN_SCOPE, OOS_SUPPORT, Pipeline  # noqa: E402

KB, INDEX = "kb/sample", ".index"
KB_ALT = ROOT / "tests/fixtures/kb_alt"
SETS = (ROOT / "assistant/data/oos_heldout.jsonl", ROOT / "assistant/data/oos_heldout_short.jsonl")
EVALS = ("evals/data/dev.jsonl", "evals/data/redteam.jsonl", "evals/data/heldout_chat.jsonl")
MARGINS = [round(-0.10 + 0.01 * i, 2) for i in range(26)]  # -0.10 .. 0.15
IN_SCOPE_BARS = (0.05, 0.10, 0.15, 0.20, 0.30, 0.50, OOS_IN_SCOPE)
# What the 0.30 bar and the off-topic similarity are compared with.
REFERENCES = {
    "source the surface may quote": lambda m: m["support"],  # before: on chat, customer runbooks only
    "any runbook": lambda m: m["best_runbook"],  # shipped
}
SHIPPED_REFERENCE = "any runbook"
NEAR_COPY = 0.85
# Written after a margin of 0 called the two billing questions out of scope on kb_alt.
ALT_PROBES = [("where do I download last month's invoice?", False),
              ("how do I get a copy of last month's invoice", False),
              ("can you write an excel formula that totals the invoice amounts per customer", True)]


def rule(m: dict, margin: float | None, reference=REFERENCES[SHIPPED_REFERENCE], bar: float | None = None) -> bool:
    """Out of scope with the 0.30 bar on ``reference`` alone (``margin`` None) or with the off-topic path."""
    if (m["abstain"] or m["in_scope"] < OOS_IN_SCOPE) and reference(m) < OOS_SUPPORT:
        return True
    bar = OOS_IN_SCOPE if bar is None else bar  # shipped: the classifier's own gate, no second bar
    return margin is not None and (m["abstain"] or m["in_scope"] < bar) and m["off_topic"] - reference(m) >= margin


LOW_BARS = (0.02, 0.05, 0.08, 0.10, 0.15, 0.20, 0.30)
LOW_MARGINS = [round(-0.10 + 0.01 * i, 2) for i in range(21)]  # -0.10 .. 0.10


def low_rule(m: dict, margin: float, pair: tuple[float, float]) -> bool:
    """The shipped rule, or: in-scope under the pair's bar and its margin closer to an off-topic request."""
    low_bar, low_margin = pair
    reference = REFERENCES[SHIPPED_REFERENCE]
    return rule(m, margin) or (m["in_scope"] < low_bar and m["off_topic"] - reference(m) >= low_margin)


def low_counts(rows: list[dict], margin: float, pair: tuple[float, float]) -> tuple[int, int, int]:
    return counts(rows, margin, decide=low_rule, pair=pair)


def low_choose(rows: list[dict], margin: float) -> tuple[float, float]:
    """The (bar, margin) pair of least cost; ties to the larger margin, then the lower bar."""
    return min(((b, m) for b in LOW_BARS for m in LOW_MARGINS),
               key=lambda pair: (low_counts(rows, margin, pair)[2], -pair[1], pair[0]))


def triage(pipeline: Pipeline, request: SupportRequest) -> dict:
    result = pipeline._triage(request, now=datetime.now(timezone.utc))  # one request as one piece: the rule decides per piece
    return {**result._measures, "route": result.route, "category": result.category}


def counts(rows: list[dict], margin: float | None, *, decide=rule, **kw) -> tuple[int, int, int]:
    """(off-topic lines missed, PAM requests called out of scope, cost: missed + 2 x called)."""
    missed = sum(not decide(r, margin, **kw) for r in rows if r["oos"])
    called = sum(decide(r, margin, **kw) for r in rows if not r["oos"])
    return missed, called, missed + 2 * called


def choose(rows: list[dict], **kw) -> float:
    """The margin of least cost; ties go to the larger margin (fewer PAM requests called out of scope)."""
    return min(MARGINS, key=lambda m: (counts(rows, m, **kw)[2], -m))


def fold(text: str) -> int:
    return hashlib.sha1(text.encode()).digest()[0] % 2


def measure(pipeline: Pipeline, requests: list[tuple[SupportRequest, bool]]) -> list[dict]:
    return [{**triage(pipeline, request), "oos": oos, "fold": fold(request.body)} for request, oos in requests]


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def main() -> int:
    limit_blas_threads()
    if not (ROOT / INDEX / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / KB), "--index", str(ROOT / INDEX)])
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--covered", default=None, help="bar for leaving out exemplars the KB covers, or 'none'")
    args = parser.parse_args()
    if args.covered is not None:  # guardrails/off_topic.py: OffTopic.without_covered
        pipeline_mod.OFF_TOPIC_COVERED = None if args.covered == "none" else float(args.covered)
    print(f"exemplars covered by the KB left out at: {pipeline_mod.OFF_TOPIC_COVERED}")
    shipped = pipeline_mod.OFF_TOPIC_MARGIN
    pipeline_mod.OFF_TOPIC_MARGIN = math.inf  # the rule as it was; the new path is applied below
    try:
        pipeline = Pipeline.load(Settings(index=str(ROOT / INDEX)))
        lines = [{**line, "set": path.name} for path in SETS for line in read(path)]
        rows = measure(pipeline, [(SupportRequest(id=f"OT-{i}", channel=x["channel"], body=x["text"]),
                                   x["label"] == "out_of_scope") for i, x in enumerate(lines)])
        evals = {path: measure(pipeline, [(SupportRequest.model_validate(c), c["expected"]["category"] == OUT_OF_SCOPE)
                                          for c in read(ROOT / path)])
                 for path in EVALS}
        with tempfile.TemporaryDirectory() as alt_index:
            cli(["ingest", str(KB_ALT), "--index", alt_index, "--quiet"])
            alt_pipeline = Pipeline.load(Settings(index=alt_index))
            alt = measure(alt_pipeline, [(SupportRequest.model_validate(c), not c["expected"].get("category"))
                                         for c in read(KB_ALT / "cases.jsonl")])
            probes = measure(alt_pipeline, [(SupportRequest(id=f"P-{i}", channel="email", body=text), oos)
                                            for i, (text, oos) in enumerate(ALT_PROBES)])
    finally:
        pipeline_mod.OFF_TOPIC_MARGIN = shipped

    n_oos, n_in = sum(r["oos"] for r in rows), sum(not r["oos"] for r in rows)
    print(f"{' + '.join(str(p.relative_to(ROOT)) for p in SETS)}: {n_oos} off-topic, {n_in} PAM requests.")
    # The exemplars must not hold copies of the lines the margin is chosen on.
    copies = pipeline.off_topic.index.similarities([x["text"] for x in lines]).max(axis=1)
    print(f"Lines with a near-copy among the off-topic exemplars (cosine >= {NEAR_COPY}): "
          f"{int((copies >= NEAR_COPY).sum())} (closest {copies.max():.3f})")
    print("Per cell: off-topic missed / PAM requests called out of scope / cost")
    print(f"{'rule':>16s}" + "".join(f"{name:>32s}" for name in REFERENCES))
    for margin in (None, *MARGINS):
        cells = ["{:>3d} / {:>3d} / {:>3d}".format(*counts(rows, margin, reference=ref)) for ref in REFERENCES.values()]
        name = "0.30 bar alone" if margin is None else f"margin {margin:+.2f}"
        print(f"{name:>16s}" + "".join(f"{cell:>32s}" for cell in cells))
    before = REFERENCES["source the surface may quote"]
    print("before: the 0.30 bar alone on the source the surface may quote")
    for name, margin, ref in (("before", None, before), ("shipped", shipped, REFERENCES[SHIPPED_REFERENCE])):
        answered = [r for r in rows if r["oos"] and r["route"] == "answer" and not rule(r, margin, reference=ref)]
        print(f"off-topic lines answered, {name}: {len(answered)}")
    for r, x in zip(rows, lines):
        if r["oos"] and r["route"] == "answer" and not rule(r, shipped):
            print(f"  answered: {' '.join(x['text'].split())[:90]}")
    for path in SETS:
        part = [r for r, x in zip(rows, lines) if x["set"] == path.name]
        print(f"{path.name}, before / shipped: " + " -> ".join(
            "missed {} of {}, PAM called {} of {}".format(c[0], sum(r["oos"] for r in part), c[1],
                                                          sum(not r["oos"] for r in part))
            for c in (counts(part, None, reference=before), counts(part, shipped))))

    ref = REFERENCES[SHIPPED_REFERENCE]
    print(f"\nChoosing the margin on one fold, read on the other (compared with {SHIPPED_REFERENCE}); "
          f"missed / called / cost before -> any runbook under 0.30 alone -> with the off-topic path:")
    for chosen_on in (0, 1):
        pick = choose([r for r in rows if r["fold"] == chosen_on], reference=ref)
        other = [r for r in rows if r["fold"] != chosen_on]
        cells = [counts(other, None, reference=before), counts(other, None, reference=ref),
                 counts(other, pick, reference=ref)]
        k_oos, k_in = sum(r["oos"] for r in other), sum(not r["oos"] for r in other)
        print(f"  chosen on fold {chosen_on}: margin {pick:+.2f}; fold {1 - chosen_on} ({k_oos} off-topic, {k_in} PAM): "
              + " -> ".join("{} / {} / {}".format(*c) for c in cells))
    print(f"  on both sets: margin {choose(rows, reference=ref):+.2f}; shipped {shipped:+.2f}")

    print(f"\nA second in-scope bar for the off-topic path, at margin {shipped:+.2f} (missed / called / cost)")
    print(f"{'bar':>6s} {'these sets':>18s} {'kb_alt cases':>14s} {'kb_alt probes':>14s}")
    for b in IN_SCOPE_BARS:
        cells = ["{} / {} / {}".format(*counts(x, shipped, bar=b)) for x in (rows, alt, probes)]
        print(f"{b:6.2f} {cells[0]:>18s} {cells[1]:>14s} {cells[2]:>14s}")
    for (text, _), r in zip(ALT_PROBES, probes):
        print(f"  probe in-scope {r['in_scope']:.2f}, off-topic {r['off_topic']:.2f} vs runbook "
              f"{r['best_runbook']:.2f}: {text}")

    print(f"\nA lower margin under a second in-scope bar (missed / called / cost; shipped alone "
          f"{'{} / {} / {}'.format(*counts(rows, shipped))}):")
    for bar in (0.10, 0.20):
        print(f"  in-scope < {bar:.2f}: " + ", ".join(
            "{:+.2f}: {} / {} / {}".format(m, *low_counts(rows, shipped, (bar, m))) for m in (-0.06, -0.04, -0.02, 0.0, 0.02)))
    pair = low_choose(rows, shipped)
    print(f"  least cost on both sets: bar {pair[0]:.2f}, margin {pair[1]:+.2f}: "
          "{} / {} / {}".format(*low_counts(rows, shipped, pair)))
    for chosen_on in (0, 1):
        pair = low_choose([r for r in rows if r["fold"] == chosen_on], shipped)
        other = [r for r in rows if r["fold"] != chosen_on]
        print(f"  chosen on fold {chosen_on}: bar {pair[0]:.2f}, margin {pair[1]:+.2f}; fold {1 - chosen_on}: "
              "{} / {} / {} -> ".format(*counts(other, shipped)) + "{} / {} / {}".format(*low_counts(other, shipped, pair)))

    print("\nEval sets (check only): before -> shipped (missed / called / cost)")
    for path, cases in evals.items():
        k_oos, k_in = sum(r["oos"] for r in cases), sum(not r["oos"] for r in cases)
        print(f"  {path} ({k_oos} off-topic, {k_in} other): {counts(cases, None, reference=before)} -> "
              f"{counts(cases, shipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
