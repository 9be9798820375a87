"""Time on adversarial text: each text-reading function, now and at a baseline commit, in one process.

A request may be 20,000 characters and a model's reply 6,000. A pattern that is tried from
every position of a long run ("a.B.a.B...", a line of tabs, "dot dot dot ...") and rescans the
run each time takes quadratic time: seconds per request, enough for one client to stall a
worker. This bench feeds every function below texts made of one short unit repeated, at two
lengths, and prints for the baseline and for the working tree the slowest unit's time at the
long length and how much it grows when the text is four times longer (about 4 is linear,
about 16 quadratic).

The baseline is the same files at a git commit (default: da78a7a, before the patterns were
bounded), imported beside the working tree's under their own names. It then runs every text
in the committed data (eval sets, guardrail sets, sample KB, tests' fixtures) through both
and counts the texts on which they disagree: the bounds are meant to change time, not results.

    python benchmarks/bench_adversarial.py [--baseline da78a7a] [--long 16000]
"""

from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("assistant", "guardrails", "retrieval", "ingestion")
MODULES = ("assistant.handoff", "assistant.splitter", "assistant.grounding", "guardrails.output", "guardrails.pii",
           "guardrails.risk", "guardrails.injection")
# One short unit, repeated to the length asked for: runs of word characters with dots or
# dashes, of spaces and tabs, of spelled-out dots, of markup, of names and times.
UNITS = ("a.B", "A.", "a.", ".a", "1", "A", "E", "1-", "a-", "1.2.", "aB", "A_", "Ab Cd ", "1 ", " dot ", "aa dot ",
         "dot com ", "a (at) ", "\t", " ", "#", "<ab", "5%", "a%", "x@y.io, ", "a@b.co ", "9am ", "at 9am ", "9:00 ",
         "Ford ", "Sunset Ford, ", "Sunset Ford pays. x ", "CDK ", "Xtime DMS ", "A B ", "Mr. A ", "'A", "> ",
         "Settings > ", "http://", "www.a", "[a]", "*", "\n", "-- \n", "x. [rb-a]", ", and also")
# What each function is given: a request (to 20,000 characters) or a model's reply (to 6,000).
REPLY_LENGTH = 6000


def load(root: Path) -> dict:
    """The MODULES as found under ``root``, imported afresh (the other version's stay alive)."""
    for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
        del sys.modules[name]
    sys.path.insert(0, str(root))
    try:
        return {name: importlib.import_module(name) for name in MODULES}
    finally:
        sys.path.remove(str(root))


def export(commit: str, into: Path) -> Path:
    """The packages' files at ``commit``, written under ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", commit, *PACKAGES],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def functions(m: dict) -> dict:
    """name -> (callable on a text, reads a reply rather than a request)."""
    pii = m["guardrails.pii"].PiiDetector()
    injection = m["guardrails.injection"]
    return {
        "pii: find": (pii.run, False),
        "pii: asks to act on": (lambda t: pii.asks_to_act_on(t, pii.run(t)), False),
        "handoff: facts": (m["assistant.handoff"].extract_facts, False),
        "splitter: envelope": (m["assistant.splitter"].strip_envelope, False),
        "splitter: clause cues": (lambda t: list(m["assistant.splitter"]._CLAUSE_CUE.finditer(t)), False),
        "risk: another dealer": (m["guardrails.risk"].names_another_dealer, False),
        "injection: signals": (lambda t: [n for n, _, rx in injection._SIGNALS if rx.search(t)], False),
        "output: facts": (m["guardrails.output"].facts, True),
        "output: staff strings": (m["guardrails.output"].staff_only_strings, True),
        "grounding: strip citations": (m["assistant.grounding"].strip_citations, True),
    }


def text_of(unit: str, length: int) -> str:
    return (unit * (length // len(unit) + 1))[:length]


def seconds(fn, text: str) -> float:
    start = time.perf_counter()
    fn(text)
    return time.perf_counter() - start


def worst(fn, long: int, screen: int = 2000, top: int = 3) -> tuple[float, float, str]:
    """(time at ``long``, growth from long/4 to long, unit) for the slowest unit."""
    screened = sorted(UNITS, key=lambda u: seconds(fn, text_of(u, screen)), reverse=True)[:top]
    rows = []
    for unit in screened:
        short_t = seconds(fn, text_of(unit, long // 4))
        long_t = seconds(fn, text_of(unit, long))
        rows.append((long_t, long_t / max(short_t, 1e-6), unit))
    return max(rows)


def corpus() -> list[str]:
    """Every request, ticket and runbook text in the committed data, and each runbook's paragraphs."""
    texts: list[str] = []
    for path in [*ROOT.glob("evals/data/*.jsonl"), *ROOT.glob("guardrails/data/*.jsonl"), *ROOT.glob("kb/*/*.jsonl")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                texts += [row[k] for k in ("subject", "body", "text", "resolution") if isinstance(row.get(k), str)]
    for path in ROOT.glob("kb/**/*.md"):
        text = path.read_text(encoding="utf-8")
        texts += [text, *text.split("\n\n")]
    return texts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="da78a7a", help="git commit to compare with")
    parser.add_argument("--long", type=int, default=16000, help="length of a long request (a reply: 6,000 at most)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        versions = {"baseline": load(export(args.baseline, Path(tmp))), "now": load(ROOT)}
        fns = {name: functions(mods) for name, mods in versions.items()}

        print(f"{'function':28s} {'baseline ' + args.baseline:>30s} {'now':>30s}")
        for name in fns["now"]:
            cells = []
            for version in versions:
                fn, reply = fns[version][name]
                long_t, growth, unit = worst(fn, min(args.long, REPLY_LENGTH) if reply else args.long)
                cells.append(f"{long_t:7.3f} s x{growth:4.1f} {unit!r:>12s}")
            print(f"{name:28s} {cells[0]:>30s} {cells[1]:>30s}", flush=True)
        length = args.long
        print(f"\n(time at {length:,} characters, {REPLY_LENGTH:,} for a reply; growth from a quarter of that "
              "length; the slowest of the units)")

        texts = corpus()
        print(f"\nSame results on {len(texts):,} committed texts?")
        for name in fns["now"]:
            old, new = fns["baseline"][name][0], fns["now"][name][0]
            differ = sum(1 for t in texts if _plain(old(t)) != _plain(new(t)))
            print(f"  {name:28s} {differ} differ")
    return 0


def _plain(value):
    """A result as plain data, comparable across the two versions' classes."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "span") and callable(value.span):
        return value.span()
    if hasattr(value, "__dict__"):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


if __name__ == "__main__":
    sys.exit(main())
