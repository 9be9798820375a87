"""Out of scope: the writer's own word that a request is not about the product, on and off.

    python benchmarks/bench_scope_statement.py

Out of scope takes the classifier's abstention and weak retrieval support. A request in
the KB's words ("Unrelated to PAM, but do you know a JavaScript regex that validates a
VIN?") matches a runbook too well for "weak", however little the classifier sees in scope.
Its writer said what the similarity cannot; guardrails/off_topic.py ScopeStatement reads
that statement, and the pipeline lets it stand in for weak support (never for the
abstention).

The whole pipeline runs every line twice in this one process, the statement path off
(the baseline, ``pipeline.SCOPE_STATEMENTS = False``) and on, and prints per set: off-topic
lines called out of scope and answered, PAM requests called out of scope, and every line
whose result changes.

- choosing: ``assistant/data/scope_statement.jsonl`` (120 lines written for this choice by
  a helper who read neither the code nor any eval set: 40 off-topic requests whose writer
  says so in 40 wordings, 60 PAM requests with the same words in other senses, "three
  unrelated things", "not PAM's fault", "not about PAM's voice, about what it says", 20
  off-topic lines without a statement), a review's 131 lines written to break the first
  form of the reader (``scope_statement_review.jsonl``: 76 PAM requests it matched, 55
  off-topic requests with a statement it missed), and the two ``oos_heldout`` sets;
- checking, counted only (its lines were not read): ``scope_statement_check.jsonl``,
  written blind by another helper to the same brief (30 / 50 / 20);
- the eval sets and the second KB's cases (tests/fixtures/kb_alt), nothing chosen there;
- a census: every text of the repository's JSON Lines data (these sets left out) that the
  statement reader matches, with its label where the file gives one.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant import pipeline as pipeline_mod  # noqa: E402
from assistant.cli import main as cli  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import OUT_OF_SCOPE, SupportRequest  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402
from guardrails.off_topic import ScopeStatement  # noqa: E402

KB, INDEX = "kb/sample", ".index"
KB_ALT = ROOT / "tests/fixtures/kb_alt"
DATA = ROOT / "assistant/data"
CHOOSE = (DATA / "scope_statement.jsonl", DATA / "scope_statement_review.jsonl", DATA / "oos_heldout.jsonl",
          DATA / "oos_heldout_short.jsonl")
CHECK = DATA / "scope_statement_check.jsonl"
EVALS = ("evals/data/dev.jsonl", "evals/data/redteam.jsonl", "evals/data/heldout_chat.jsonl")


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def lines(path: Path) -> list[tuple[SupportRequest, bool]]:
    """(request, off-topic?) for a set of {"text", "channel", "label"} lines."""
    return [(SupportRequest(id=f"{path.stem}-{i}", channel=x["channel"], body=x["text"]), x["label"] == OUT_OF_SCOPE)
            for i, x in enumerate(read(path))]


def cases(path: Path) -> list[tuple[SupportRequest, bool]]:
    """(request, off-topic?) for SPEC eval cases; kb_alt's off-topic cases expect no category."""
    return [(SupportRequest.model_validate(c), c["expected"].get("category", OUT_OF_SCOPE) == OUT_OF_SCOPE)
            for c in read(path)]


def run_both(pipeline: Pipeline, requests: list[tuple[SupportRequest, bool]]) -> list[tuple]:
    """Each request triaged with the statement path off, then on: (request, off-topic?, before, after)."""
    rows = []
    for request, oos in requests:
        results = []
        for on in (False, True):
            pipeline_mod.SCOPE_STATEMENTS = on
            results.append(pipeline.run(request, source="eval"))
        rows.append((request, oos, *results))
    pipeline_mod.SCOPE_STATEMENTS = True
    return rows


def report(name: str, rows: list[tuple], *, show: bool = True) -> None:
    n_oos, n_in = sum(r[1] for r in rows), sum(not r[1] for r in rows)

    def tally(i: int) -> str:
        called = sum(r[i].category == OUT_OF_SCOPE for r in rows if r[1])
        answered = sum(r[i].route == "answer" for r in rows if r[1])
        wrong = sum(r[i].category == OUT_OF_SCOPE for r in rows if not r[1])
        return f"off-topic called out of scope {called}/{n_oos}, answered {answered}/{n_oos}; PAM called out of scope {wrong}/{n_in}"

    print(f"\n{name} ({n_oos} off-topic, {n_in} other)\n  off: {tally(2)}\n  on:  {tally(3)}")
    changed = [r for r in rows if (r[2].category, r[2].route, r[2].reasons) != (r[3].category, r[3].route, r[3].reasons)]
    print(f"  results that change: {len(changed)}")
    for request, oos, before, after in changed if show else ():
        print(f"    [{'off-topic' if oos else 'PAM'}] {before.route}/{before.category} {before.reasons} -> "
              f"{after.route}/{after.category} {after.reasons}: {' '.join(request.body.split())[:90]}")


def census(names: list[str]) -> None:
    """Every request text of the repository's JSON Lines data the reader matches (these sets left out)."""
    says = ScopeStatement(names)
    own = {p.name for p in (*CHOOSE[:2], CHECK)}
    files = sorted(p for folder in ("assistant/data", "guardrails/data", "evals/data", "kb", "tests/fixtures")
                   for p in (ROOT / folder).rglob("*.jsonl") if p.name not in own)
    read_n, hits = 0, []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            for key in ("body", "text"):
                if isinstance(row, dict) and isinstance(row.get(key), str):
                    read_n += 1
                    found = says(row[key])
                    if found:
                        label = row.get("label") or (row.get("expected") or {}).get("category")
                        hits.append(f"    {path.relative_to(ROOT)} {row.get('id', '')} [{label}] \"{found}\"")
    print(f"\ncensus: {read_n} texts in {len(files)} files, {len(hits)} matched")
    print("\n".join(hits))


def main() -> int:
    limit_blas_threads()
    if not (ROOT / INDEX / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / KB), "--index", str(ROOT / INDEX)])
    pipeline = Pipeline.load(Settings(index=str(ROOT / INDEX)))
    print(f"product names: {pipeline.settings.product_names}")
    census(pipeline.settings.product_names)
    for path in CHOOSE:
        report(f"{path.relative_to(ROOT)} (choosing)", run_both(pipeline, lines(path)))
    report(f"{CHECK.relative_to(ROOT)} (checking: counts only)", run_both(pipeline, lines(CHECK)), show=False)
    for path in EVALS:
        report(f"{path} (check)", run_both(pipeline, cases(ROOT / path)))
    with tempfile.TemporaryDirectory() as alt_index:
        cli(["ingest", str(KB_ALT), "--index", alt_index, "--quiet"])
        alt = Pipeline.load(Settings(index=alt_index, product_names=["Parcelly"]))  # its product
        report("tests/fixtures/kb_alt/cases.jsonl (check)", run_both(alt, cases(KB_ALT / "cases.jsonl")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
