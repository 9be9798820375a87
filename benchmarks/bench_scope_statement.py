"""Measured and not adopted: the writer's own word that a request is not about the product.

    python benchmarks/bench_scope_statement.py

Out of scope takes the classifier's abstention and weak retrieval support. A request in the
KB's words ("Unrelated to PAM, but do you know a JavaScript regex that validates a
17-character VIN?", red team R-070) matches a runbook too well for "weak", however little
the classifier sees in scope. Its writer said what the similarity cannot; the reader here
(``ScopeStatement``) finds such a label where it opens a sentence or has the request as its
subject ("Unrelated to PAM, but ...", "not a PAM question at all: ...", "This has nothing to
do with PAM", "I know this falls outside PAM"), the product named whole, no turn to another
of the vendor's matters right after it ("not about PAM, about the dashboard login"), no
hedge after it, the product not named again outside a greeting.

Each line is triaged once (one piece, as benchmarks/bench_off_topic.py does) and three rules
are applied to its measures:

- shipped: the classifier abstains (in-scope under 0.70) and support is weak (any runbook
  under 0.30, or 0.10 closer to an off-topic exemplar than to any runbook);
- statement: ... or a statement stands in for weak support;
- statement and margin: ... or a statement and a lower off-topic margin, swept; the margin of
  least cost (a PAM request called out of scope counting twice) on the choosing sets.

Sets (every line labelled "pam" or "out_of_scope"):

- choosing: ``assistant/data/scope_statement.jsonl`` (120 lines written for this by a helper
  who read neither the code nor any eval set: 40 off-topic requests whose writer says so, 60
  PAM requests with the same words in other senses, 20 plain off-topic ones); two reviews'
  lines written to break the reader, ``scope_statement_review.jsonl`` (76 PAM, 55 off-topic,
  against its first form) and ``scope_statement_review2.jsonl`` (80 PAM, 50 off-topic, against
  the form here);
- checking, counted only: ``scope_statement_check.jsonl``, written blind by another helper to
  the first brief;
- the eval sets (dev, red team, held-out chat), nothing chosen there.

Not adopted (2026-12-07): dealers call their invoice, contract, texts, users or dashboard "not
PAM" ("Not a PAM question - more of a contract one", "this isnt a pam question, it's a
texting one", "non-PAM question: can we add a second user to the dashboard?"), and the
in-scope score is a percentile under 0.70 for most genuine requests, so the abstention guards
little: the statement alone decides. With the off-topic margin lowered instead, the statement
changes little, and not R-070 (0.05 closer to the VIN runbook than to any off-topic exemplar).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant.cli import main as cli  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import OUT_OF_SCOPE, SupportRequest  # noqa: E402
from assistant.pipeline import OFF_TOPIC_MARGIN, OOS_IN_SCOPE, OOS_SUPPORT, Pipeline  # noqa: E402
from guardrails import fold  # noqa: E402

KB, INDEX = "kb/sample", ".index"
DATA = ROOT / "assistant/data"
CHOOSE = (DATA / "scope_statement.jsonl", DATA / "scope_statement_review.jsonl", DATA / "scope_statement_review2.jsonl")
CHECK = DATA / "scope_statement_check.jsonl"
EVALS = ("evals/data/dev.jsonl", "evals/data/redteam.jsonl", "evals/data/heldout_chat.jsonl")
MARGINS = [round(-0.30 + 0.02 * i, 2) for i in range(21)]  # -0.30 .. 0.10
PRODUCT = ["PAM"]


# -- the reader -------------------------------------------------------------------------------
_NOT = r"(?:is\s*n'?t|is\s+not|are\s*n'?t|was\s*n'?t|does\s*n'?t\s+have|not)"
_PRODUCT_NOUNS = (r"(?:product|software|platform|app|system|company|ai|tool|(?:phone\s+|voice\s+|ai\s+)?(?:agent|bot|assistant)|"
                  r"service(?!\s+(?:department|dept|advisors?|drive|lane|desk|manager|team)))")
_WORK = r"(?:work|my\s+job|the\s+(?:store|dealership))"
_AT_ALL = r"(?:\s+(?:at\s+all|whatsoever|in\s+any\s+way))?"
# After the product: a pause, the end, or words that close the statement; "PAM itself", "PAM calls",
# "PAM the voice" and "PAM support hours" name a part of it.
_WHOLE = r"(?=\s*$|\s*[,.:;!?()\"-]|\s+(?:but|at\s+all|whatsoever|in\s+any\s+way|though|sorry|so|just|lol|haha|and)\b)"
# What may stand between a sentence's start and the statement: a greeting, an opener, the
# request as subject ("this", "my question", "this one") with its verb and an adverb.
_OPENING = re.compile(
    r"\s*(?:(?:hi|hey|hello|good\s+(?:morning|afternoon|evening)|dear)\b[^,!\n]{0,40}[,!]\s*)?"
    r"(?:(?:ok(?:ay)?|so|sorry|also|fyi|btw|quick(?:\s+(?:one|question|q))?|random\s+(?:one|question|q)|question|apologies|"
    r"one\s+more(?:\s+thing)?|i\s+know|i\s+reali[sz]e|i\s+understand|heads\s+up)[\s,:-]+)*"
    r"(?:(?:this|it|that|my|the)(?:\s+(?:one|question|request|ask|message|email|chat|following))?"
    r"(?:\s+(?:really|honestly|actually|truly))?(?:'s|\s+(?:is|was|has|had|does|falls|comes|one's))?"
    r"(?:\s+(?:completely|totally|entirely|absolutely|really|honestly|actually|truly))*\s+(?:an?\s+)?)?"
    r"(?:(?:completely|totally|entirely|absolutely|really|honestly)\s+)?")
# A turn to another matter right after the statement: "..., about the dashboard login", "- it's the texting".
_REDIRECT = re.compile(
    r"\s*[,:;()-]?\s*(?:(?:it'?s|it\s+is|that'?s)\s+(?:the|your|our|my)\b|"
    r"(?:(?:it'?s|it\s+is|this\s+is|that'?s|but|more|rather|just|only|instead|mostly)\s+){0,2}"
    r"(?:(?:about|for|re|regarding|related\s+to|concerning|with)\s+(?:the|your|our|my|a|an|whoever|someone|pam)\b|"
    r"(?:the|your|our)\s+\w+\s+(?:side|part|team|people|folks)\b))")
_HEDGE_AFTER = re.compile(r"\s*,?\s*(?:exactly|per\s+se|probably|maybe|i\s+think|i\s+guess|technically|strictly)\b")
_SENTENCE_START = re.compile(r"[.!?\n]")
# A greeting that opens a line, "Hi PAM team," or "Hello PAM support!": naming the product there is no
# request about it.
_GREETING_LINE = re.compile(r"[ \t]*(?:hi|hey|hello|dear|good\s+(?:morning|afternoon|evening))\b[^,!\n]{0,40}[,!]")
SCOPE_STATEMENT_WINDOW = 80  # characters before the statement read for its sentence's start


def _name(names: Sequence[str]) -> str:
    name = "|".join(re.escape(fold(n).strip().lower()) for n in sorted(names, key=len, reverse=True)
                    if n.strip()) or r"(?!)"
    return rf"(?<!\w)(?:{name})(?!\w)"  # not \b: a name may end in a sign ("C++")


def _named_pattern(names: Sequence[str]) -> re.Pattern:
    return re.compile(_name(names))


def _statement_pattern(names: Sequence[str]) -> re.Pattern:
    name = _name(names)
    product = (rf"(?:(?:anything\s+{name}(?:\s+(?:does|do|handles|offers))?|(?:(?:my|our)\s+)?{name}"
               rf"(?:\s+(?:account|stuff|support))?|your\s+{_PRODUCT_NOUNS}\b|you\s+(?:guys|folks|all)\b){_AT_ALL}{_WHOLE})")
    object_ = rf"(?:{product}|{_WORK}\b{_AT_ALL}{_WHOLE})"
    forms = [
        rf"\b(?:unrelated|not(?:\s+at\s+all|\s+in\s+any\s+way)?\s+related|no\s+connection)\s+(?:at\s+all\s+|whatsoever\s+)?to\s+{object_}",
        rf"\b(?:nothing|zero|{_NOT}\s+anything)\s+(?:at\s+all\s+|whatsoever\s+)?to\s+do\s+(?:with|w/?)\s+{object_}",
        rf"\b{_NOT}\s+(?:a\s+(?:question|request)\s+)?(?:about|regarding)\s+{product}",
        rf"\b{_NOT}\s+(?:an?\s+)?{name}[- ](?:question|thing|topic|matter|request|related){_AT_ALL}{_WHOLE}",
        rf"\bnon[- ]?{name}\s+(?:question|thing|topic|matter|request)s?{_AT_ALL}{_WHOLE}",
        rf"\b{_NOT}\s+(?:a\s+)?{_WORK}[- ]related{_AT_ALL}{_WHOLE}",
        rf"\b(?:falls|is|one|question)\s+outside\s+(?:of\s+)?{product}",
    ]
    return re.compile("|".join(f"(?:{f})" for f in forms))


class ScopeStatement:
    """The writer's own statement that a request is not about the product, or None.

    ``names`` are the product's names as customers write them.

    >>> says = ScopeStatement(["PAM"])
    >>> says("Unrelated to PAM, but do you know a regex for a VIN?")
    'unrelated to pam'
    >>> says("not about pam's answers, about the texts: customers replying STOP get reminders") is None
    True
    >>> says("Verizon told us the dropped calls are unrelated to PAM.") is None
    True
    """

    def __init__(self, names: Sequence[str]):
        self.pattern = _statement_pattern(names)
        self.named = _named_pattern(names)

    def __call__(self, text: str) -> str | None:
        folded = fold(text).lower().translate(_APOSTROPHES)
        named = None  # where the product is named outside a greeting, found once per text
        for match in self.pattern.finditer(folded):
            if not self._opens(folded, match.start()) or self._turns(folded, match.end()):
                continue
            named = self._named(folded) if named is None else named
            # Named again outside the statement: "This is unrelated to PAM: after the Tekion upgrade,
            # PAM books every appointment unassigned" is about PAM.
            if not any(at < match.start() or at >= match.end() for at in (named[:1] + named[-1:])):
                return folded[match.start():match.end()]
        return None

    def _named(self, text: str) -> list[int]:
        """Where ``text`` names the product, in order, leaving out greetings ("Hi PAM team,")."""
        places = []
        for name in self.named.finditer(text):
            greeting = _GREETING_LINE.match(text, text.rfind("\n", 0, name.start()) + 1)
            if greeting is None or name.start() >= greeting.end():
                places.append(name.start())
        return places

    @staticmethod
    def _opens(text: str, start: int) -> bool:
        """Whether the statement opens its sentence, after a greeting, an opener or the request as
        its subject ("This has nothing to do with PAM", not "the calls are unrelated to PAM")."""
        before = text[max(0, start - SCOPE_STATEMENT_WINDOW):start]
        ends = list(_SENTENCE_START.finditer(before))
        if not ends and start > SCOPE_STATEMENT_WINDOW:
            return False  # a sentence longer than the window: the statement does not open it
        return _OPENING.fullmatch(before[ends[-1].end():] if ends else before) is not None

    @staticmethod
    def _turns(text: str, end: int) -> bool:
        """Whether a turn to another of the vendor's matters or a hedge follows the statement."""
        after = text[end:end + SCOPE_STATEMENT_WINDOW]
        return bool(_REDIRECT.match(after) or _HEDGE_AFTER.match(after))


# Apostrophe look-alikes fold() leaves: a backtick, an acute accent ("PAM`s", "PAM´s").
_APOSTROPHES = str.maketrans({"`": "'", "\u00b4": "'"})


# -- the bench --------------------------------------------------------------------------------
def weak(m: dict) -> bool:
    return m["best_runbook"] < OOS_SUPPORT or m["off_topic"] - m["best_runbook"] >= OFF_TOPIC_MARGIN


def out_of_scope(m: dict, rule: str, margin: float | None = None) -> bool:
    abstains = m["abstain"] or m["in_scope"] < OOS_IN_SCOPE
    if rule == "shipped" or not m["statement"]:
        return abstains and weak(m)
    if rule == "statement":
        return abstains
    return abstains and (weak(m) or m["off_topic"] - m["best_runbook"] >= margin)


def counts(rows: list[dict], rule: str, margin: float | None = None) -> tuple[int, int, int, int]:
    """(off-topic called out of scope, off-topic answered and not called, PAM called, cost)."""
    called = sum(out_of_scope(r, rule, margin) for r in rows if r["oos"])
    answered = sum(r["route"] == "answer" and not out_of_scope(r, rule, margin) for r in rows if r["oos"])
    wrong = sum(out_of_scope(r, rule, margin) for r in rows if not r["oos"])
    missed = sum(r["oos"] for r in rows) - called
    return called, answered, wrong, missed + 2 * wrong


def measure(pipeline: Pipeline, says: ScopeStatement, requests: list[tuple[SupportRequest, bool]]) -> list[dict]:
    rows = []
    for request, oos in requests:
        result = pipeline._triage(request, now=datetime.now(timezone.utc))  # one piece: the rule decides per piece
        rows.append({**result._measures, "route": result.route, "oos": oos, "statement": says(request.body),
                     "id": request.id})
    return rows


def read(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def lines(path: Path) -> list[tuple[SupportRequest, bool]]:
    return [(SupportRequest(id=f"{path.stem}-{i}", channel=x["channel"], body=x["text"]), x["label"] == OUT_OF_SCOPE)
            for i, x in enumerate(read(path))]


def cases(path: Path) -> list[tuple[SupportRequest, bool]]:
    return [(SupportRequest.model_validate(c), c["expected"].get("category") == OUT_OF_SCOPE) for c in read(path)]


def show(name: str, rows: list[dict], margin: float) -> None:
    n_oos, n_in = sum(r["oos"] for r in rows), sum(not r["oos"] for r in rows)
    print(f"\n{name} ({n_oos} off-topic, {n_in} PAM): off-topic called / answered, PAM called out of scope")
    for label, rule, m in (("shipped", "shipped", None), ("statement alone", "statement", None),
                           (f"statement, margin {margin:+.2f}", "margin", margin)):
        c = counts(rows, rule, m)
        print(f"  {label:>24s}: {c[0]:>3d}/{n_oos} / {c[1]:>2d}, {c[2]:>3d}/{n_in}")


def main() -> int:
    limit_blas_threads()
    if not (ROOT / INDEX / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / KB), "--index", str(ROOT / INDEX)])
    pipeline = Pipeline.load(Settings(index=str(ROOT / INDEX)))
    says = ScopeStatement(PRODUCT)
    choose = {path: measure(pipeline, says, lines(path)) for path in CHOOSE}
    everything = [r for rows in choose.values() for r in rows]
    print("Choosing sets together, per margin of the statement path: "
          "off-topic called / answered, PAM called, cost (missed + 2 x PAM called)")
    c = counts(everything, "shipped")
    print(f"  {'shipped':>10s}: {c[0]:>3d} / {c[1]:>2d}, {c[2]:>3d}, {c[3]:>3d}")
    c = counts(everything, "statement")
    print(f"  {'alone':>10s}: {c[0]:>3d} / {c[1]:>2d}, {c[2]:>3d}, {c[3]:>3d}")
    for m in MARGINS:
        c = counts(everything, "margin", m)
        print(f"  {m:>+10.2f}: {c[0]:>3d} / {c[1]:>2d}, {c[2]:>3d}, {c[3]:>3d}")
    best = min(MARGINS, key=lambda m: (counts(everything, "margin", m)[3], -m))
    print(f"margin of least cost (ties to the larger): {best:+.2f}")
    for path, rows in choose.items():
        show(f"{path.relative_to(ROOT)} (choosing)", rows, best)
    show(f"{CHECK.relative_to(ROOT)} (checking: counts only)", measure(pipeline, says, lines(CHECK)), best)
    for path in EVALS:
        rows = measure(pipeline, says, cases(ROOT / path))
        show(f"{path} (check)", rows, best)
        for r in rows:
            if r["statement"]:
                print(f"    {r['id']}: \"{r['statement']}\", in-scope {r['in_scope']:.2f}, off-topic "
                      f"{r['off_topic']:.2f} vs runbook {r['best_runbook']:.2f}, {'off-topic' if r['oos'] else 'PAM'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
