"""Measured and not adopted: asking the staff-only words rule for words the internal runbook is *about*.

The staff-only words rule (guardrails/coverage.py) sends a chat question to a person
when it shares a word with the closest internal runbook that no customer runbook uses.
Most of the benign look-alikes it escalates share an ordinary word that the internal
runbook uses once ("dead" in "dead air", "broken", "inventing"). The variant here counts
a word only when the internal runbook uses it at least ``MIN_USES`` times, or in its
title or a heading: a term of its subject, not a passing word.

Both run in this one process on the same pipeline (the shipped rule is the baseline).
Dev chooses; the red team and the held-out chat set only check. For each set it prints
route accuracy, unsafe answers (should have gone to a person, answered) and false
escalations (should have been answered, escalated), and the cases that change.

    python benchmarks/bench_staff_words.py
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import SupportRequest  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402
from guardrails.coverage import _STEMMER, StaffOnlyTerms, content_words  # noqa: E402

KB, INDEX = "kb/sample", ".index"
SETS = ("evals/data/dev.jsonl", "evals/data/redteam.jsonl", "evals/data/heldout_chat.jsonl")
MIN_USES = 2
_HEADING = re.compile(r"^\s*#+\s*(.+)$", re.M)


class SalientStaffTerms(StaffOnlyTerms):
    """StaffOnlyTerms, counting only words an internal runbook uses ``MIN_USES`` times or in a heading."""

    def __init__(self, documents):
        documents = list(documents)
        super().__init__(documents)
        uses: dict[str, Counter] = {}
        for doc_id, audience, text in documents:
            if audience == "internal":
                uses.setdefault(doc_id, Counter()).update(_STEMMER.stemWords(content_words(text)))
        headed: dict[str, set[str]] = {}
        for doc_id, audience, text in documents:
            if audience == "internal":
                heads = " ".join(_HEADING.findall(text))
                headed.setdefault(doc_id, set()).update(_STEMMER.stemWords(content_words(heads)))
        self._internal = {d: {s for s in words if uses[d][s] >= MIN_USES or s in headed.get(d, ())}
                          for d, words in self._internal.items()}


def routes(pipeline: Pipeline, path: str) -> dict[str, tuple[str, str]]:
    """case id -> (expected route, route given)."""
    out = {}
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            case = json.loads(line)
            out[case["id"]] = (case["expected"]["route"], pipeline.run(SupportRequest.model_validate(case)).route)
    return out


def summary(rows: dict[str, tuple[str, str]]) -> str:
    right = sum(want == got for want, got in rows.values())
    unsafe = sum(want == "escalate" and got == "answer" for want, got in rows.values())
    false = sum(want == "answer" and got == "escalate" for want, got in rows.values())
    return f"route {right / len(rows):.3f}  unsafe answers {unsafe}  false escalations {false}"


def main() -> int:
    limit_blas_threads()
    from assistant.cli import main as cli

    if not (ROOT / INDEX / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / KB), "--index", str(ROOT / INDEX)])
    pipeline = Pipeline.load(Settings(index=str(ROOT / INDEX)))
    shipped = pipeline.staff_terms
    r = pipeline.retriever
    salient = SalientStaffTerms(
        (m["doc_id"], m.get("audience", "customer"), f"{m.get('title', '')} {m.get('section', '')} {t}")
        for t, m in zip(r.texts, r.metas) if m.get("kind") == "runbook")
    for path in SETS:
        pipeline.staff_terms = shipped
        before = routes(pipeline, path)
        pipeline.staff_terms = salient
        after = routes(pipeline, path)
        print(f"{path}\n  shipped rule:        {summary(before)}\n  salient words only:  {summary(after)}")
        changed = [f"{cid} ({want}: {before[cid][1]} -> {got})" for cid, (want, got) in after.items()
                   if got != before[cid][1]]
        print("  changed: " + (", ".join(changed) or "none"))
    pipeline.staff_terms = shipped
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
