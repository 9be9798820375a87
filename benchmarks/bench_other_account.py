"""Requests to act on an account the writer says is not theirs: the risk detector with and
without its structural reading (guardrails.risk.acts_on_another_account), side by side.

    python benchmarks/bench_other_account.py [--index .index] [--pipeline]

Both detectors are the pipeline's (the sample KB's tickets as background, its thresholds); the
baseline is the same object with ``account_rule`` off, which also drops the writer's disclaimers
("not the same owner") from ``about_own_stores``. Counted per set: risky lines flagged (any
risky topic or incident), ordinary lines flagged.

- ``guardrails/data/other_account_probe.jsonl``: 40 such requests and 120 ordinary ones in the
  same words (the writer's own logins, staff and stores, vendors' portals, questions), written
  by a helper told the idea and nothing of the patterns. Its misses were read and the
  patterns widened on them: a set for choosing.
- ``guardrails/data/other_account_review.jsonl``: a reviewer's 50 such requests and 76 ordinary
  lines written to break the first form (which flagged 68 of those 76); the rule was narrowed on
  them: a set for choosing.
- ``guardrails/data/other_account_check.jsonl``: 30 and 90 of the same kinds by another helper,
  written after the first form and before the narrowing, blind to both: counted, never read.
- ``injection_blind_a.jsonl`` (choosing: its answered attacks prompted the rule) and
  ``injection_blind_b.jsonl`` (checking: counted, never read), attacks and ordinary lines.
- ``ownership_heldout.jsonl`` (60 requests about an unaffiliated dealer, 60 about the
  writer's own group), ``lookalike_test.jsonl``'s risk lines, the risk held-out lines and
  emails, and the eval sets' ordinary requests (bench_injection_blind's, less those expected to
  go to a person for a risky topic or an incident).

With ``--pipeline`` the whole pipeline also runs the probe set and both blind sets twice, the
rule on and off: attacks answered, ordinary lines sent to a person for a risky topic.

A middle column reads the rule's sentences as before 2026-12-07, every ".", "!" or "?" a break
even before a lower-case "and" ("to Spring2024! and email it to me?").
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from benchmarks.bench_injection_blind import ORDINARY  # noqa: E402
from guardrails import DATA_DIR, fold_input  # noqa: E402
from guardrails.risk import TOPICS  # noqa: E402

# The rule's sentence reading before a lower-case conjunction after "!", "?" or "." went on the sentence.
EVERY_BREAK = re.compile(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*[-*\u2022]\s)")
RISKY_LABELS = {"attack", "other"}  # the probe's and blind sets' attacks, the ownership set's third parties
# (an unlabelled line of the risk held-out set, or "benign", "own", "ordinary", is ordinary)


def rows_of(path: Path, *, injection_only: bool = False) -> list[tuple[str, int, str]]:
    """(text, 1 for a risky line, channel) of a labelled set."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        d = json.loads(line)
        if injection_only and d.get("detector", "injection") != "injection":
            continue
        label = d.get("label") or d.get("topic")
        text = d.get("text") or f"{d.get('subject') or ''}\n{d.get('body') or ''}"
        rows.append((text, int(label in RISKY_LABELS or label in TOPICS), d.get("channel") or d.get("where") or "chat"))
    return rows


def ordinary() -> list[tuple[str, int, str]]:
    """The eval sets' and out-of-scope sets' PAM requests that no case expects to go to a person
    for a risky topic, an incident or an attack (subject and body, as the pipeline reads them)."""
    rows = []
    for name in ORDINARY:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            if "label" in d:
                if d["label"] != "out_of_scope":
                    rows.append((d["text"], 0, d.get("channel", "chat")))
            elif not {"risky_topic", "security_incident", "prompt_injection"} & set(d["expected"].get("reasons") or []):
                rows.append((f"{d.get('subject') or ''}\n{d['body']}", 0, d.get("channel", "email")))
    return rows


def sets() -> dict[str, list[tuple[str, int, str]]]:
    lookalike = [json.loads(line) for line in (DATA_DIR / "lookalike_test.jsonl").read_text().splitlines()]
    return {
        "probe (choosing)": rows_of(DATA_DIR / "other_account_probe.jsonl"),
        "review (choosing)": rows_of(DATA_DIR / "other_account_review.jsonl"),
        "check (checking)": rows_of(DATA_DIR / "other_account_check.jsonl"),
        "blind A (choosing)": rows_of(DATA_DIR / "injection_blind_a.jsonl", injection_only=True),
        "blind B (checking)": rows_of(DATA_DIR / "injection_blind_b.jsonl", injection_only=True),
        "ownership held-out": rows_of(DATA_DIR / "ownership_heldout.jsonl"),
        "look-alike test (risk lines)": [(d["text"], int(d["label"] != "benign"), d.get("channel", "chat"))
                                         for d in lookalike if d.get("detector") == "risk"],
        "risk held-out lines": rows_of(DATA_DIR / "risk_heldout.jsonl"),
        "risk held-out emails": rows_of(DATA_DIR / "risk_emails_heldout.jsonl"),
        "ordinary eval requests": ordinary(),
    }


def count(detector, rows) -> str:
    """Flagged (any risky topic or incident) among the set's risky lines (its attacks, for the
    blind injection sets: most of them are no risky topic) and among its ordinary lines."""
    risky = caught = flagged = 0
    for text, label, _ in rows:
        hit = detector.run(fold_input(text)).kind is not None  # read as the pipeline reads it
        risky += label
        caught += hit and label
        flagged += hit and not label
    return f"risky/attacks flagged {caught:3d}/{risky:3d}   ordinary flagged {flagged:3d}/{len(rows) - risky:3d}"


def pipeline_counts(pipeline, rows) -> str:
    from assistant.models import SupportRequest

    answered = risky_reason = benign_risky = 0
    for text, label, channel in rows:
        result = pipeline.run(SupportRequest(channel=channel, body=text), source="eval")
        if label:
            answered += result.route == "answer"
            risky_reason += "risky_topic" in result.reasons
        else:
            benign_risky += "risky_topic" in result.reasons
    attacks = sum(label for _, label, _ in rows)
    return (f"attacks answered {answered:2d}/{attacks:2d} (risky_topic on {risky_reason:2d})   "
            f"ordinary sent for a risky topic {benign_risky:2d}/{len(rows) - attacks:3d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default=".index", help="an index of the sample KB (default .index)")
    parser.add_argument("--pipeline", action="store_true", help="also run the whole pipeline, rule on and off")
    args = parser.parse_args()
    limit_blas_threads()
    from assistant.config import Settings
    from assistant.pipeline import Pipeline

    pipeline = Pipeline.load(Settings(index=args.index))
    with_rule = pipeline.risk
    without = copy.copy(with_rule)  # the same model, the rule off
    without.account_rule = False
    data = sets()
    print("risk detector as the pipeline runs it: with the rule | the rule, every '!'/'?'/'.' a break | without")
    for name, rows in data.items():
        with every_break():
            before = count(with_rule, rows)
        print(f"  {name:30s} {count(with_rule, rows)}   |   {before}   |   {count(without, rows)}")
    if args.pipeline:
        print("whole pipeline: with the rule | the rule, every '!'/'?'/'.' a break | without")
        for name in ("probe (choosing)", "review (choosing)", "check (checking)", "blind A (choosing)",
                     "blind B (checking)"):
            pipeline.risk = with_rule
            on = pipeline_counts(pipeline, data[name])
            with every_break():
                before = pipeline_counts(pipeline, data[name])
            pipeline.risk = without
            off = pipeline_counts(pipeline, data[name])
            print(f"  {name:20s} {on}   |   {before}   |   {off}")


@contextmanager
def every_break():
    """The rule's sentences as they were read before 2026-12-07: a lower-case "and" after "!" began one."""
    from guardrails import risk

    shipped, risk._PARAGRAPH_SENTENCE = risk._PARAGRAPH_SENTENCE, EVERY_BREAK
    try:
        yield
    finally:
        risk._PARAGRAPH_SENTENCE = shipped


if __name__ == "__main__":
    main()
