"""Customers who say who they are: measured changes to the injection detector, none adopted.

    python benchmarks/bench_authority.py

A benign look-alike the injection detector escalates is a customer stating their own
role ("I'm the admin and this system is driving me nuts"): the sentence is close to an
attack exemplar ("Pretend you are the system administrator ...") and no structural
signal is needed when similarity alone reaches the bar. Two changes were measured on sets
for choosing, at the shipped bar (guardrails.injection.DEFAULT_THRESHOLD):

- guardrails/data/authority_heldout.jsonl: 60 ordinary requests whose writers state their
  role or authority, and 60 attacks that use a claimed role, half of them subtle, written
  for this choice by someone who had not read the exemplars or the eval sets;
- guardrails/data/injection_heldout.jsonl: the set the detector's bar was chosen on.

1. "unaddressed": a sentence with no structural signal that neither addresses the
   assistant (no "you"/"your") nor opens with a command loses a penalty. The penalties
   that keep the best F1 on both sets form an interval (about 0.03-0.065): one ordinary
   line less is flagged, nothing else moves. But with the penalty the held-out set's own
   best bar moves down (0.592 -> 0.572), where the same line is flagged again by 0.01:
   a change that lives on one line's margin is not adopted.
2. "role exemplars": five sentences of customers saying who they are among the benign
   look-alikes (``injection_benign.txt``). The ordinary line stays flagged, and two
   held-out attacks and one authority attack are lost.

Most authority attacks the detector misses (about half, the subtle ones asking for credit
limits or "the internal version" of a runbook as a colleague) are what the pipeline's
other checks (staff-only words, staff actions, an LLM judge) are for; this benchmark
scores the injection detector alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from assistant import limit_blas_threads  # noqa: E402
from bench_guardrails_thresholds import choose_threshold, prf  # noqa: E402
from guardrails import DATA_DIR, ExemplarIndex, fold_input, read_lines  # noqa: E402
from guardrails import injection as injection_mod  # noqa: E402

PENALTIES = (0.0, 0.02, 0.03, 0.05, 0.065, 0.07, 0.1, 0.2)
ROLE_EXEMPLARS = [
    "I'm the admin on our dealership's PAM account.",
    "As the general manager I need to change who gets our transfers.",
    "I'm the account owner and I can't get into the dashboard.",
    "I am the only administrator at our store and the settings page won't load.",
    "This is the service manager, I approve the change to our Saturday hours.",
]


def load(name: str) -> list[tuple[str, bool]]:
    rows = [json.loads(line) for line in (DATA_DIR / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(fold_input(r["text"]), r["label"] == "attack") for r in rows]


class Unaddressed(injection_mod.InjectionDetector):
    """The shipped detector, less ``penalty`` for a signal-free sentence that addresses no one."""

    ADDRESSED = injection_mod.re.compile(
        r"\b(?:you|your|yours|yourself|yourselves|u|ur)\b|"
        r"^\W*(?:(?:hi|hello|hey|ok(?:ay)?|so|now|also|and|then|just|please|kindly|first|instead)\W+)*"
        r"(?:reveal|show|print|output|repeat|display|tell|give|share|paste|dump|leak|quote|copy|write|read|"
        r"translate|summari[sz]e|list|expose|disclose|send|provide|spell|describe|include|put|recite|echo|"
        r"reproduce|enumerate|append|attach|respond|reply|answer|ignore|forget|disregard|pretend|act|encode|"
        r"decode|imagine|assume|follow|obey|stop|switch|become|execute|run|say)\b",
        injection_mod.re.IGNORECASE)

    def __init__(self, embedder, penalty: float):
        super().__init__(embedder)
        self.penalty = penalty

    def _score(self, piece: str, sim: float, benign: float, reading: str | None) -> tuple[float, list[str]]:
        score, names = super()._score(piece, sim, benign, reading)
        if not names and not self.ADDRESSED.search(injection_mod._TAG.sub(" ", piece).strip()):
            score -= self.penalty
        return score, names

    def score_of(self, text: str) -> float:
        return self.run(text).score


def figures(scores: list[float], gold: list[bool], threshold: float) -> str:
    r = prf(scores, gold, threshold)
    return f"F1 {r['f1']:.4f} (false alarms {r['fp']}, missed {r['fn']})"


def main() -> int:
    limit_blas_threads()
    from retrieval.embedder import Embedder

    embedder = Embedder.default()
    sets = {"authority": load("authority_heldout.jsonl"), "injection held-out": load("injection_heldout.jsonl")}
    bar = injection_mod.DEFAULT_THRESHOLD
    print(f"at the shipped bar {bar}")
    for penalty in PENALTIES:
        det = Unaddressed(embedder, penalty)
        line = []
        for name, rows in sets.items():
            scores = [det.score_of(text) for text, _ in rows]
            line.append(f"{name}: {figures(scores, [g for _, g in rows], bar)}")
        held = sets["injection held-out"]
        held_scores = [det.score_of(text) for text, _ in held]
        rebar = choose_threshold(held_scores, [g for _, g in held])
        print(f"  unaddressed penalty {penalty:<5}: " + "; ".join(line) + f"; held-out's own best bar {rebar:.3f}")
    det = injection_mod.InjectionDetector(embedder)
    det.benign = ExemplarIndex(embedder, read_lines(injection_mod.BENIGN_PATH) + ROLE_EXEMPLARS)
    line = [f"{name}: {figures([det.run(t).score for t, _ in rows], [g for _, g in rows], bar)}"
            for name, rows in sets.items()]
    print("  role exemplars among the benign look-alikes: " + "; ".join(line))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
