"""Learning from feedback: do OPS corrections, once retrained on, make triage better?

One process, one MiniLM load. The dev set is split in two halves, stratified by
expected category (alternate ids within each category). For each fold:

1. ``assistant ingest KB`` into a fresh temp index (the CLI's own code, in process);
2. every dev case runs through the real ``Pipeline`` with the SQLite decision log:
   the fold's *feedback* half with ``source="cli"`` (as ``assistant ask`` logs it),
   the *held-out* half with ``source="eval"`` (as ``assistant eval`` logs it, which
   ``DecisionLog.corrections()`` leaves out);
3. simulated OPS feedback: for each logged feedback-half request whose predicted
   category or priority differs from ``expected``, ``DecisionLog.feedback()`` gets
   the corrected field(s), exactly the line ``assistant feedback`` would pass on;
4. ``assistant retrain KB`` (corrections read from the decision log);
5. every dev case runs again through the retrained pipeline.

The folds swap roles, so every one of the 132 cases is scored once as held-out
(no feedback on it: does the learning generalise?) and once as a feedback case
(it was corrected, or was already right: does the model learn what it was told?).
BEFORE is the same ingest-only model in both folds. Out-of-scope cases follow the
eval conventions: out of category accuracy and macro-F1, in route, priority and
unsafe answers; an out-of-scope case predicted in scope is corrected to
``out_of_scope`` like any other category.

    python benchmarks/bench_feedback.py [--kb kb/sample] [--cases evals/data/dev.jsonl]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# The benchmark must not pick up a developer's database, Chroma server or LLM endpoint.
for _name in list(os.environ):
    if _name.startswith("ASSISTANT_") or _name in ("OPENAI_BASE_URL", "OPENAI_API_KEY"):
        del os.environ[_name]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant import limit_blas_threads  # noqa: E402
from assistant import cli  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.decision_log import DecisionLog  # noqa: E402
from assistant.manifest import MANIFEST  # noqa: E402
from assistant.models import OUT_OF_SCOPE  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402
from evals.runner import EvalRunner, compute_metrics, read_cases, score_case  # noqa: E402
from guardrails.pii import PiiDetector  # noqa: E402
from retrieval.embedder import Embedder  # noqa: E402

HEADLINE = ("category_accuracy", "category_macro_f1", "priority_accuracy", "route_accuracy", "unsafe_answers")
EXTRA = ("oos_recall", "oos_precision", "false_escalations", "escalation_recall", "ece")


def split(cases) -> list[set[str]]:
    """Two halves, stratified by expected category: alternate ids within each category."""
    by_cat: dict[str, list[str]] = defaultdict(list)
    for c in cases:
        by_cat[c.expected.get("category", "")].append(c.request.id)
    halves: list[set[str]] = [set(), set()]
    for cat in sorted(by_cat):
        for i, rid in enumerate(sorted(by_cat[cat])):
            halves[i % 2].add(rid)
    return halves


def run_cli(argv: list[str]) -> dict:
    """``assistant ...`` in this process (so the one MiniLM instance is shared); its JSON summary."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(argv)
    if code not in (0, 1):
        raise SystemExit(f"assistant {' '.join(argv)} exited {code}")
    return json.loads(out.getvalue().strip().splitlines()[-1])


def run_cases(pipeline, cases, sources: dict[str, str], pii, staff_only) -> dict[str, dict]:
    """Each case through ``pipeline.run`` (logged under its source), scored like ``assistant eval``."""
    records = {}
    for case in cases:
        result = pipeline.run(case.request, source=sources[case.request.id]).public()
        records[case.request.id] = score_case(case, result, pii, staff_only=staff_only)
    return records


def feedback_for(record: dict) -> dict | None:
    """The line an OPS agent would send ``assistant feedback`` for this logged result, or None."""
    exp, res = record["expected"], record["result"]
    fb: dict = {"id": record["id"]}
    if "category" in exp and res["category"] != exp["category"]:
        fb["category"] = exp["category"]
    if "priority" in exp and res["priority"] != exp["priority"]:
        fb["priority"] = exp["priority"]
    if len(fb) == 1:
        return None
    fb["outcome"] = "rejected" if "category" in fb else "accepted"
    return fb


def headline(records: list[dict]) -> dict:
    m = compute_metrics(records)
    return {k: m[k] for k in HEADLINE + EXTRA} | {"n": len(records)}


def fold(k: int, kb: Path, root: Path, cases, feedback_ids: set[str], embedder, pii) -> dict:
    index = root / f"fold{k}"
    ingest = run_cli(["ingest", str(kb), "--index", str(index), "--quiet"])
    settings = Settings(index=index)
    dlog = DecisionLog.from_settings(settings, index)
    try:
        pipeline = Pipeline.load(settings, embedder=embedder, decision_log=dlog)
        version_before = pipeline.manifest["index_version"]
        staff = EvalRunner(pipeline).staff_only
        sources = {c.request.id: ("cli" if c.request.id in feedback_ids else "eval") for c in cases}
        before = run_cases(pipeline, cases, sources, pii, staff)
        sent = []
        for rid in sorted(feedback_ids):
            fb = feedback_for(before[rid])
            if fb is not None:
                dlog.feedback(fb)  # what `assistant feedback` does with each stdin line
                sent.append(fb)
        corrections = dlog.corrections()
    finally:
        dlog.close()
    t = time.perf_counter()
    retrain = run_cli(["retrain", str(kb), "--index", str(index), "--quiet"])
    retrain_s = time.perf_counter() - t
    pipeline = Pipeline.load(settings, embedder=embedder)  # what `assistant ask`/`eval` load next
    manifest = json.loads((index / MANIFEST).read_text())
    after = run_cases(pipeline, cases, {c.request.id: "eval" for c in cases}, pii, staff)
    return {
        "before": before, "after": after, "sent": sent, "n_corrections": len(corrections),
        "oos_labelled": sum(c["label"] == OUT_OF_SCOPE for c in corrections), "labels_after": manifest["labels"],
        "ingest": ingest, "retrain": retrain, "retrain_s": round(retrain_s, 1),
        "version_before": version_before, "version_after": manifest["index_version"],
        "manifest_corrections": manifest["training"]["n_corrections"],
    }


def flips(before: list[dict], after: list[dict], key: str) -> dict:
    pairs = [(b.get(key), a.get(key)) for b, a in zip(before, after) if key in b]
    return {"fixed": sum(not b and a for b, a in pairs), "broken": sum(b and not a for b, a in pairs)}


def main() -> None:
    limit_blas_threads()  # as the CLI and the app do: the pipeline's speed depends on it
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kb", default="kb/sample")
    ap.add_argument("--cases", default="evals/data/dev.jsonl")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    started = time.perf_counter()
    embedder = Embedder.default()  # the one MiniLM load; the CLI calls below reuse it
    pii = PiiDetector()
    cases, bad = read_cases(args.cases)
    if bad:
        raise SystemExit(f"bad case lines: {[b.message for b in bad]}")
    halves = split(cases)
    ids = [c.request.id for c in cases]

    with tempfile.TemporaryDirectory(prefix="bench-feedback-") as tmp:
        runs = [fold(k, Path(args.kb), Path(tmp), cases, halves[k], embedder, pii) for k in (0, 1)]

    # Pool: each case once as held-out (from the fold where the other half got feedback)
    # and once as a feedback case (from its own fold).
    pools: dict[str, dict[str, list[dict]]] = {"held_out": {"before": [], "after": []},
                                               "feedback": {"before": [], "after": []}}
    corrected_before, corrected_after = [], []
    for k, run in enumerate(runs):
        fb_ids = halves[k]
        sent_ids = {fb["id"] for fb in run["sent"]}
        for rid in ids:
            pool = pools["feedback" if rid in fb_ids else "held_out"]
            pool["before"].append(run["before"][rid])
            pool["after"].append(run["after"][rid])
            if rid in sent_ids:
                corrected_before.append(run["before"][rid])
                corrected_after.append(run["after"][rid])
    baseline_diff = sum(runs[0]["before"][rid]["result"]["category"] != runs[1]["before"][rid]["result"]["category"]
                        or runs[0]["before"][rid]["result"]["route"] != runs[1]["before"][rid]["result"]["route"]
                        for rid in ids)

    table = {name: {when: headline(recs) for when, recs in pool.items()} for name, pool in pools.items()}
    told = {"n_corrected_cases": len(corrected_before),
            "category_corrections": sum("category" in fb for r in runs for fb in r["sent"]),
            "priority_corrections": sum("priority" in fb for r in runs for fb in r["sent"]),
            "corrections_to_out_of_scope": sum(fb.get("category") == OUT_OF_SCOPE for r in runs for fb in r["sent"]),
            # a priority-only correction keeps the logged category, out_of_scope included
            "corrections_labelled_out_of_scope": sum(r["oos_labelled"] for r in runs),
            "category_flips": flips(corrected_before, corrected_after, "category_correct"),
            "priority_flips": flips(corrected_before, corrected_after, "priority_correct"),
            "route_flips": flips(corrected_before, corrected_after, "route_correct")}
    held_flips = {key: flips(pools["held_out"]["before"], pools["held_out"]["after"], key)
                  for key in ("category_correct", "priority_correct", "route_correct")}

    def fmt(v):
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    print(f"Learning from feedback: {args.cases} ({len(cases)} cases), KB {args.kb}, 2 swapped folds of "
          f"{len(halves[0])}/{len(halves[1])}")
    for k, run in enumerate(runs):
        print(f"  fold {k}: {len(run['sent'])} feedback lines sent on {len(halves[k])} logged requests -> "
              f"{run['n_corrections']} corrections ({run['oos_labelled']} labelled out_of_scope); retrain used {run['retrain'].get('corrections_used')} "
              f"in {run['retrain_s']} s; index_version {run['version_before']} -> {run['version_after']}; "
              f"cv_accuracy {run['ingest'].get('cv_accuracy')} -> {run['retrain'].get('cv_accuracy')}; "
              f"thresholds {run['ingest'].get('confidence_thresholds')} -> {run['retrain'].get('confidence_thresholds')}; "
              f"labels after {run['labels_after']}")
    print(f"  baseline models of the two folds disagree on {baseline_diff} case(s) (category or route)")
    print()
    cols = HEADLINE + ("oos_recall", "false_escalations")
    short = {"category_accuracy": "cat_acc", "category_macro_f1": "cat_macroF1", "priority_accuracy": "prio_acc",
             "route_accuracy": "route_acc", "unsafe_answers": "unsafe", "oos_recall": "oos_recall",
             "false_escalations": "false_esc"}
    head = f"{'subset':<24}{'':<8}{'n':>4}" + "".join(f"{short[c]:>12}" for c in cols)
    print(head)
    print("-" * len(head))
    for name, label in (("held_out", "held-out (no feedback)"), ("feedback", "feedback cases")):
        b, a = table[name]["before"], table[name]["after"]
        for when, row in (("BEFORE", b), ("AFTER", a)):
            print(f"{label if when == 'BEFORE' else '':<24}{when:<8}{row['n']:>4}" + "".join(f"{fmt(row[c]):>12}" for c in cols))
        delta = []
        for c in cols:
            if a[c] is None or b[c] is None:
                delta.append("-")
            else:
                d = a[c] - b[c]
                delta.append(f"{d:+.3f}" if isinstance(d, float) else f"{d:+d}")
        print(f"{'':<24}{'change':<8}{'':>4}" + "".join(f"{d:>12}" for d in delta))
    print()
    print(f"held-out cases, per case (wrong->right / right->wrong): "
          + "; ".join(f"{k.replace('_correct', '')} +{v['fixed']}/-{v['broken']}" for k, v in held_flips.items()))
    print(f"the {told['n_corrected_cases']} corrected cases themselves ({told['category_corrections']} category, "
          f"{told['priority_corrections']} priority corrections; {told['corrections_to_out_of_scope']} category corrections "
          f"to out_of_scope, {told['corrections_labelled_out_of_scope']} examples labelled out_of_scope): "
          + "; ".join(f"{k.replace('_flips', '')} +{v['fixed']}/-{v['broken']}"
                      for k, v in told.items() if k.endswith("_flips")))
    out = {
        "cases": args.cases, "kb": args.kb, "n_cases": len(cases), "folds": 2,
        "held_out": table["held_out"], "feedback": table["feedback"],
        "held_out_flips": held_flips, "corrected_cases": told,
        "folds_detail": [{"n_feedback_cases": len(halves[k]), "feedback_sent": len(r["sent"]),
                          "corrections": r["n_corrections"], "corrections_used": r["retrain"].get("corrections_used"),
                          "index_version_before": r["version_before"], "index_version_after": r["version_after"],
                          "cv_accuracy_before": r["ingest"].get("cv_accuracy"),
                          "cv_accuracy_after": r["retrain"].get("cv_accuracy"),
                          "thresholds_before": r["ingest"].get("confidence_thresholds"),
                          "thresholds_after": r["retrain"].get("confidence_thresholds"),
                          "labels_after": r["labels_after"], "oos_labelled_corrections": r["oos_labelled"],
                          "retrain_s": r["retrain_s"]} for k, r in enumerate(runs)],
        "baseline_disagreements": baseline_diff,
        "run_s": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
