"""Choose the security-incident bar of the risk detector, and measure one alternative not adopted.

    python benchmarks/bench_security.py

A data breach is a security incident: P0 and the security queue. The risk detector's
topics share one bar (assistant.pipeline.RISK_THRESHOLD, 0.72); this benchmark chooses a
bar of the data-breach topic alone (SECURITY_THRESHOLD). It is chosen on sets for choosing:

- guardrails/data/security_heldout.jsonl: 60 incidents, most told without incident words
  (staff typed their logins into a look-alike page, a user nobody created, recordings
  copied to a personal drive), and 60 ordinary requests in the same words (password
  resets, routine off-boarding, "is this invoice email real?" when nothing was entered),
  written for this choice by someone who had not read the exemplars or the eval sets;
- dev (evals/data/dev.jsonl): its ordinary requests must gain no flag.

The rule: the bar with the best F2 on the security set (recall counts double: a missed
incident is answered by a bot), among bars that flag no ordinary dev request the shipped
shared bar does not. The red team, the held-out risk emails and the sample KB's past
tickets are printed as checks only.

Measured and not adopted (printed after the table): the security set's own lines as extra
exemplars, cross-fitted over its two halves (each half scored by a detector that learnt
from the other). It catches more incidents of the unseen half, but refitting the linear
model on them moves every topic: with all 120 lines it flagged ordinary held-out emails
("Remove a retired advisor" as a data breach) and lost a risky dev request.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import SupportRequest  # noqa: E402
from assistant.pipeline import RISK_THRESHOLD, SECURITY_THRESHOLD, Pipeline  # noqa: E402
from guardrails import DATA_DIR  # noqa: E402
from guardrails import risk as risk_mod  # noqa: E402

INDEX = ".index"
BARS = (0.72, 0.70, 0.68, 0.65, 0.62, 0.60, 0.55, 0.50, 0.45, 0.40)
RISKY = {"risky_topic", "security_incident"}


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def eval_texts(name: str) -> list[tuple[str, set[str]]]:
    """(request text as the pipeline reads it, expected reasons) for an eval set."""
    return [(SupportRequest.model_validate(c).text, set(c["expected"].get("reasons", [])))
            for c in load(ROOT / "evals" / "data" / f"{name}.jsonl")]


def f2(tp: int, fp: int, fn: int) -> float:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    return 5 * p * r / (4 * p + r) if p + r else 0.0


def breach_and_rest(detector, text: str) -> tuple[float, float]:
    """The data-breach score and the best score of the other topics."""
    scores = detector.topic_scores(text)
    return scores.get(risk_mod.BREACH, 0.0), max((v for k, v in scores.items() if k != risk_mod.BREACH), default=0.0)


def refit_with(pipeline: Pipeline, extra: dict[str, list[str]]) -> risk_mod.RiskDetector:
    """The pipeline's risk detector, refit with ``extra`` sentences added to their topics' exemplars."""
    return risk_mod.RiskDetector(pipeline.embedder, threshold=pipeline.risk.threshold,
                                 security_threshold=pipeline.risk.security_threshold,
                                 background=pipeline.risk.background, extra_exemplars=extra)


def with_extra_exemplars(pipeline: Pipeline, rows: list[dict]) -> risk_mod.RiskDetector:
    """The pipeline's risk detector, refit with ``rows`` as data-breach or benign exemplars."""
    return refit_with(pipeline, {
        risk_mod.BREACH: [r["text"] for r in rows if r["label"] == "incident"],
        risk_mod.BENIGN: [r["text"] for r in rows if r["label"] != "incident"],
    })


def main() -> int:
    limit_blas_threads()
    from assistant.cli import main as cli

    if not (ROOT / INDEX / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / "kb" / "sample"), "--index", str(ROOT / INDEX)])
    pipeline = Pipeline.load(Settings(index=str(ROOT / INDEX)))
    det = pipeline.risk
    security = load(DATA_DIR / "security_heldout.jsonl")
    sec = [(row["label"] == "incident", *breach_and_rest(det, row["text"])) for row in security]
    dev = [(reasons, *breach_and_rest(det, text)) for text, reasons in eval_texts("dev")]
    red = [(reasons, *breach_and_rest(det, text)) for text, reasons in eval_texts("redteam")]
    emails = [(row["topic"], *breach_and_rest(det, f"{row['subject']}\n{row['body']}"))
              for row in load(DATA_DIR / "risk_emails_heldout.jsonl")]
    tickets = [breach_and_rest(det, f"{t.get('subject', '')}\n{t.get('body', '')}")
               for t in load(ROOT / "kb" / "sample" / "tickets.jsonl")]

    def flagged(breach: float, rest: float, bar: float) -> bool:  # any risk flag, security at ``bar``
        return breach >= bar or rest >= RISK_THRESHOLD

    shipped_dev = {i for i, (reasons, b, r) in enumerate(dev) if not reasons & RISKY and flagged(b, r, RISK_THRESHOLD)}
    print(f"security bar (others stay at {RISK_THRESHOLD}); choose: security set F2 with no new ordinary dev flag")
    print(" bar  | security set: caught  flagged   F2   | dev ordinary flagged | checks: red team security caught,"
          " held-out ordinary emails flagged, sample tickets read as security")
    rows = []
    for bar in BARS:
        tp = sum(inc and b >= bar for inc, b, _ in sec)
        fp = sum(not inc and b >= bar for inc, b, _ in sec)
        fn = sum(inc and b < bar for inc, b, _ in sec)
        dev_flags = {i for i, (reasons, b, r) in enumerate(dev) if not reasons & RISKY and flagged(b, r, bar)}
        allowed = dev_flags <= shipped_dev
        rows.append((bar, f2(tp, fp, fn), allowed))
        red_sec = [b >= bar for reasons, b, _ in red if "security_incident" in reasons]
        mails = sum(flagged(b, r, bar) for topic, b, r in emails if topic == "benign")
        n_mails = sum(topic == "benign" for topic, _, _ in emails)
        print(f" {bar:.2f} | {tp:>2}/{tp + fn}  {fp:>2}/{len(sec) - tp - fn}  {f2(tp, fp, fn):.3f} | "
              f"{len(dev_flags):>2}{'' if allowed else ' (new)':6} | {sum(red_sec)}/{len(red_sec)}, "
              f"{mails}/{n_mails}, {sum(b >= bar for b, _ in tickets)}/{len(tickets)}")
    best = max((r for r in rows if r[2]), key=lambda r: (round(r[1], 6), r[0]))
    print(f"chosen: {best[0]:.2f} (F2 {best[1]:.3f}); shipped SECURITY_THRESHOLD = {SECURITY_THRESHOLD}")

    print("\nnot adopted: the security set's lines as exemplars, cross-fitted over its halves")
    totals = {"shipped": [0, 0], "with lines": [0, 0]}
    for half in (0, 1):
        train = [r for i, r in enumerate(security) if i % 2 != half]
        test = [r for i, r in enumerate(security) if i % 2 == half]
        variant = with_extra_exemplars(pipeline, train)
        for name, d in (("shipped", det), ("with lines", variant)):
            kinds = [d.run(r["text"]).kind == "security_incident" for r in test]
            totals[name][0] += sum(k for k, r in zip(kinds, test) if r["label"] == "incident")
            totals[name][1] += sum(k for k, r in zip(kinds, test) if r["label"] != "incident")
    for name, (caught, false) in totals.items():
        print(f"  {name:10}: incidents caught {caught}/60, ordinary read as security {false}/60")
    full = with_extra_exemplars(pipeline, security)
    for name, d in (("shipped", det), ("with lines", full)):
        mails = sum(d.run(f"{r['subject']}\n{r['body']}").kind is not None
                    for r in load(DATA_DIR / "risk_emails_heldout.jsonl") if r["topic"] == "benign")
        risky_dev = [d.run(text).kind is not None for text, reasons in eval_texts("dev") if reasons & RISKY]
        print(f"  {name:10} (all 120 lines): held-out ordinary emails flagged {mails}/60, "
              f"risky dev requests caught {sum(risky_dev)}/{len(risky_dev)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
