"""Choose the routing thresholds on held-out cases, and show the sweep.

Runs every case of an evaluation set through the pipeline once, keeps the raw
measurements (category confidence, in-scope score, best source similarity, best
staff-only similarity), then replays the routing rule for a grid of thresholds
and prints route accuracy, unsafe answers (answered when a person was expected)
and false escalations for each. The constants in assistant/pipeline.py
(MIN_SUPPORT, OOS_SUPPORT, INTERNAL_MARGIN and the coverage bars of the staff-only
words rule and the staff-action rule) and assistant/training.py (TARGET_ACCURACY) were set from this output on
evals/data/dev.jsonl; the red-team set is the check.

    python benchmarks/bench_thresholds.py --index .index [--cases evals/data/dev.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import SupportRequest  # noqa: E402
from assistant.pipeline import ACTION_SUPPORT, OFF_TOPIC_MARGIN, STAFF_WORDS_SUPPORT, Pipeline  # noqa: E402


def measure(pipeline: Pipeline, cases: list[dict]) -> list[dict]:
    rows = []
    for case in cases:
        req = SupportRequest.model_validate(case)
        result = pipeline.run(req)
        m = dict(result._measures)
        text = pipeline.pii.redact(req.text)
        vec = pipeline.embedder.encode_queries([text])[0]
        doc_id, m["internal_support"] = pipeline.retriever.best_match(vec, audience="internal")
        m["staff_words"] = pipeline.staff_terms.run(text, doc_id)
        m["staff_action"] = pipeline.staff_action.run(text).flagged
        m.update(channel=req.channel, expected=case["expected"]["route"], id=case.get("id"))
        rows.append(m)
    return rows


def route(m: dict, conf: dict, support: dict, oos: float, margin: float = 0.05,
          staff_bar: float | None = None, action_bar: float | None = None) -> str:
    """The pipeline's routing rule, replayed (guardrail reasons are fixed by the run)."""
    if m["guard_reasons"]:
        return "escalate"
    weak = m["best_runbook"] < oos or m["off_topic"] - m["best_runbook"] >= OFF_TOPIC_MARGIN  # out of scope
    if (m["abstain"] or m["in_scope"] < 0.70) and weak:
        return "escalate"
    ch = m["channel"]
    agrees = m["top_category"] == m["label"] and m["support"] >= support[ch]
    if ch == "chat" and m["internal_support"] >= support[ch] and m["internal_support"] - m["support"] >= margin:
        return "escalate"
    if ch == "chat" and staff_bar is not None and m["internal_support"] >= staff_bar and m["staff_words"]:
        return "escalate"  # names a staff-only matter (guardrails/coverage.py)
    if ch == "chat" and action_bar is not None and m["internal_support"] >= action_bar and m["staff_action"]:
        return "escalate"  # asks staff to act, and a staff-only procedure covers it (guardrails/action.py)
    if (m["confidence"] < conf[ch] and not agrees) or m["support"] < support[ch]:
        return "escalate"
    return "answer"


def main() -> None:
    limit_blas_threads()  # as the CLI and the app do: the pipeline's speed depends on it
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", required=True)
    ap.add_argument("--cases", default="evals/data/dev.jsonl")
    args = ap.parse_args()
    cases = [json.loads(line) for line in open(args.cases) if line.strip()]
    pipeline = Pipeline.load(Settings(index=args.index))
    rows = measure(pipeline, cases)
    print(f"current: confidence {pipeline.min_confidence}, support {pipeline.min_support}")
    grid = []
    for ce, cc, se, sc, oos in itertools.product((0.4, 0.5, 0.6, 0.7, 0.8), (0.5, 0.6, 0.7, 0.8, 0.9),
                                                 (0.35, 0.4, 0.45, 0.5, 0.55), (0.4, 0.45, 0.5, 0.55, 0.6),
                                                 (0.25, 0.3, 0.35, 0.4)):
        if cc < ce or sc < se:
            continue  # chat is never laxer than email
        routes = [route(m, {"email": ce, "chat": cc}, {"email": se, "chat": sc}, oos,
                        staff_bar=STAFF_WORDS_SUPPORT, action_bar=ACTION_SUPPORT) for m in rows]
        acc = sum(r == m["expected"] for r, m in zip(routes, rows)) / len(rows)
        unsafe = sum(r == "answer" and m["expected"] == "escalate" for r, m in zip(routes, rows))
        false_esc = sum(r == "escalate" and m["expected"] == "answer" for r, m in zip(routes, rows))
        grid.append({"conf_email": ce, "conf_chat": cc, "support_email": se, "support_chat": sc, "oos": oos,
                     "route_accuracy": round(acc, 4), "unsafe": unsafe, "false_escalations": false_esc})
    # Safety first: fewest unsafe answers, then best accuracy.
    grid.sort(key=lambda g: (g["unsafe"], -g["route_accuracy"]))
    print(f"{'conf e/c':>10} {'support e/c':>12} {'oos':>5} {'route acc':>9} {'unsafe':>6} {'false esc':>9}")
    for g in grid[:15]:
        print(f"{g['conf_email']:>4}/{g['conf_chat']:<5} {g['support_email']:>5}/{g['support_chat']:<6} {g['oos']:>5} "
              f"{g['route_accuracy']:9.3f} {g['unsafe']:6d} {g['false_escalations']:9d}")
    best_acc = max(grid, key=lambda g: (g["route_accuracy"], -g["unsafe"]))
    print("most accurate:", json.dumps(best_acc))
    print("chat: the staff-only words rule at current thresholds, by the internal runbook's coverage bar")
    conf, support = pipeline.min_confidence, pipeline.min_support
    chat = [m for m in rows if m["channel"] == "chat"]
    for bar in (None, 0.35, 0.40, 0.45, 0.50, 0.55):
        routes = [route(m, conf, support, 0.30, staff_bar=bar) for m in chat]
        caught = sum(r == "escalate" and m["expected"] == "escalate" for r, m in zip(routes, chat))
        false_esc = sum(r == "escalate" and m["expected"] == "answer" for r, m in zip(routes, chat))
        print(f"  bar {'off' if bar is None else bar:>5}: {caught} of {sum(m['expected'] == 'escalate' for m in chat)} "
              f"escalations caught, {false_esc} of {sum(m['expected'] == 'answer' for m in chat)} answerable escalated")
    print("chat: the staff-action rule (staff-words rule on), by the internal runbook's coverage bar")
    for bar in (None, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50):
        routes = [route(m, conf, support, 0.30, staff_bar=STAFF_WORDS_SUPPORT, action_bar=bar) for m in chat]
        caught = sum(r == "escalate" and m["expected"] == "escalate" for r, m in zip(routes, chat))
        false_esc = sum(r == "escalate" and m["expected"] == "answer" for r, m in zip(routes, chat))
        flagged = sum(m["staff_action"] for m in chat)
        print(f"  bar {'off' if bar is None else bar:>5}: {caught} of {sum(m['expected'] == 'escalate' for m in chat)} "
              f"escalations caught, {false_esc} of {sum(m['expected'] == 'answer' for m in chat)} answerable escalated "
              f"({flagged} chat questions ask staff to act)")
    internal = [(m["id"], round(m["internal_support"], 3), round(m["support"], 3), m["staff_words"], m["staff_action"])
                for m in chat]
    print("chat (id, internal support, customer support, staff-only words, asks staff to act):", json.dumps(internal[:200]))


if __name__ == "__main__":
    main()
