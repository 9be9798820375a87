"""Measured and not adopted: a lexical answerability check for chat questions.

The unsafe answers left on dev are chat questions that match a runbook well but are
not answered by it ("does pam connect to vinsolutions or dealersocket", "can pam give
trade-in value estimates"). One cheap signal is how much of the question the cited
runbook covers in words: the IDF-weighted share of the question's content words
(stemmed, stop words dropped, as guardrails/coverage.py does) that occur in the top
cited runbook, IDF over the KB's runbooks. This bench runs the pipeline as shipped
(the baseline: no such rule) and, for each bar, counts what escalating answered chat
questions below the bar would do: unsafe answers caught (the case expected a person)
and new false escalations (the case expected an answer). Dev chooses; the red team,
the held-out chat set (written after this rule was rejected) and tests/fixtures/kb_alt check.

    python benchmarks/bench_lexical_coverage.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import SupportRequest  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402
from guardrails.coverage import _STEMMER, content_words  # noqa: E402

BARS = (0.15, 0.20, 0.25, 0.30, 0.35)
SETS = [  # (cases, KB folder, index folder: built by `assistant ingest` if missing)
    ("evals/data/dev.jsonl", "kb/sample", ".index"),
    ("evals/data/redteam.jsonl", "kb/sample", ".index"),
    ("evals/data/heldout_chat.jsonl", "kb/sample", ".index"),
    ("tests/fixtures/kb_alt/cases.jsonl", "tests/fixtures/kb_alt", ".index-kb-alt"),
]


def stems(text: str) -> set[str]:
    return set(_STEMMER.stemWords(content_words(text)))


def main() -> int:
    limit_blas_threads()
    from assistant.cli import main as cli

    for cases_path, kb, index in SETS:
        if not (ROOT / index / "classifier.joblib").is_file():
            cli(["ingest", str(ROOT / kb), "--index", str(ROOT / index)])
        pipeline = Pipeline.load(Settings(index=str(ROOT / index)))
        runbooks: dict[str, set[str]] = {}
        for text, meta in zip(pipeline.retriever.texts, pipeline.retriever.metas):
            if meta.get("kind") == "runbook":
                runbooks.setdefault(meta["doc_id"], set()).update(stems(f"{meta.get('title', '')} {text}"))
        df: dict[str, int] = {}
        for words in runbooks.values():
            for w in words:
                df[w] = df.get(w, 0) + 1
        n = len(runbooks)
        rows = []
        for line in (ROOT / cases_path).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            case = json.loads(line)
            request = SupportRequest.model_validate(case)
            result = pipeline.run(request)
            if request.channel != "chat" or result.route != "answer" or not result.citations:
                continue
            words = stems(request.text)
            idf = {w: math.log((n + 1) / (df.get(w, 0) + 1)) + 1 for w in words}
            cited = runbooks.get(result.citations[0].source_id, set())
            coverage = sum(v for w, v in idf.items() if w in cited) / sum(idf.values()) if idf else 1.0
            rows.append((coverage, case["expected"]["route"], case.get("id")))
        unsafe = sum(want == "escalate" for _, want, _ in rows)
        print(f"{cases_path}: {len(rows)} chat questions answered, {unsafe} of them should have gone to a person")
        for bar in BARS:
            caught = [cid for c, want, cid in rows if c < bar and want == "escalate"]
            false = [cid for c, want, cid in rows if c < bar and want == "answer"]
            print(f"  coverage < {bar:.2f}: unsafe caught {len(caught)}/{unsafe}  new false escalations "
                  f"{len(false)}/{len(rows) - unsafe}  {false[:4]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
