"""Does a chat message ask the vendor's staff to *do* something on their side?

The help chat can only quote self-service articles; it cannot push a resync, move
phone numbers between accounts or change a limit past what the dashboard allows.
When a customer asks for such an operation ("can you push a full refresh from your
side", "can you ping myKaarma for us", "can their numbers be moved to our
account"), a customer article on the same topic is not an answer, however close it
is by embedding. The pipeline pairs this detector with the closest staff-only
runbook: an action request that a staff-only procedure covers goes to a person.

The check is grammatical, not topical, so it knows nothing of any knowledge base's
wording. A sentence asks the vendor to act when it has:

* a modal request to the addressee with an action verb: "can/could/would/will
  you (guys | your team | someone ...) <verb>", where the verb is not one of asking
  for information or guidance ("can you tell me / explain / help me / show me"),
  and the message says it is for the customer ("for us", "our account", "can you
  switch us"), names the vendor's side ("on your end", "your team") or presses for
  time ("asap", "today"); "please" is courtesy, no cue: "can you transfer calls to our
  advisors(, please)?" asks what the product can do, "can you move the numbers to our
  account?" asks for an operation;
* "I/we need (want, 'd like) you to ...", "any chance someone can ...";
* a request to act "on your end" / "from your side";
* a polite imperative: "please / pls / kindly <verb> ...", not "please help / advise
  / let me know", or a clause that opens with a verb and ends with "please";
* a passive request about the customer's things: "can our numbers be moved",
  "could the account be merged", "we need the lockers moved" (the vendor is the
  implied agent);
* an elliptical request after what the customer could not do: "..., can you?".

Questions that open with how / where / what ... are never requests, and "on your end"
or "we need X done" in a question about state or about how to do it ("is my data kept
on your end?", "we need advisors added, where do I do that?") are not either. How
well it separates the two on chat messages of 30 other products, written without
sight of this project's evaluation sets, is measured by
``benchmarks/bench_staff_action.py`` (``guardrails/data/staff_action_*.jsonl``).

>>> StaffActionDetector().run("tekion sync looks stuck, can you push a full refresh from your side").flagged
True
>>> StaffActionDetector().run("can you tell me how to change the greeting?").flagged
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from guardrails import segments

# Verbs that ask for information, guidance or patience rather than an operation.
NON_ACTION_VERBS = frozenset("""
    tell explain show help let clarify describe recommend suggest advise point walk guide teach
    say answer understand read see hear imagine confirm know think believe mean remind
    repeat speak spell talk stop hold wait hang bear try please be note find happen use
""".split())
# Words that can follow "can someone" without being its verb ("can someone on my team see ...").
_NOT_VERB = frozenset("on in at of from with to for by the a an this that it its there here about into out up".split())
# Words that may sit between the addressee and the verb ("can you please just push ...").
_FILLER = r"(?:(?:please|pls|plz|just|also|maybe|possibly|kindly|quickly|actually|go\s+ahead\s+and)\s+)*"
_ADDRESSEE = (r"(?:you(?:\s+guys|\s+all|\s+folks|\s+people)?|y'?all|ya|your\s+(?:team|support(?:\s+team)?|staff|engineers?)"
              r"|(?:someone|somebody|anyone|any\s?one|one\s+of\s+you)"
              r"(?:\s+(?:from|on|at|in)\s+(?:your|the)\s+(?:support\s+)?(?:team|end|side|staff|office))?)")
_VERB = r"([a-z]+(?:-[a-z]+)?)"  # "push", "re-send"
_ASKED = rf"\b(?:can|could|would|will|can't|cannot|cant|won't|wont|couldn't|couldnt)\s+{_ADDRESSEE}\s+{_FILLER}"
_MODAL_REQUEST = re.compile(rf"{_ASKED}{_VERB}\b")
_NEED_YOU = re.compile(rf"\b(?:need|want|like|require|needs|chance|way|possible|able)\s+(?:for\s+)?{_ADDRESSEE}\s+"
                       rf"(?:to|can|could|would|will)\s+{_FILLER}([a-z]+)\b")
_VENDOR_SIDE = r"\b(?:on|from|at|in)\s+(?:your|you\s+guys'?|y'?all'?s?)\s+(?:end|side)\b"
_YOUR_SIDE = re.compile(_VENDOR_SIDE)
_IMPERATIVE = re.compile(rf"(?:^|[,;:]\s*|\b(?:so|and|then|now|also)\s+)(?:please|pls|plz|kindly)\s+{_FILLER}{_VERB}\b")
# "fix it please", "get that updated pls": a clause that opens with a verb and closes with please.
_TRAILING_PLEASE = re.compile(r"(?:^|[,;:.!?]\s*)([a-z]+)\b[^,;:.!?]*\bplease\W*$")
# Words a clause may open with that are not a command's verb.
_NOT_IMPERATIVE = frozenset("""
    i we you he she it they me us my our your his her its their this that these those there here the a an any
    some no all what when where why how who which whose is are was were am do does did have has had can could
    would will should may might must just also thanks thank hi hello hey ok okay yes so and but or if then
""".split())
# Past participles: regular ones by suffix, plus the irregular ones support requests use.
_PARTICIPLE = r"(?:[a-z]+(?:ed|en)|set|reset|cut|put|shut|sent|resent|built|rebuilt|done|redone|undone|run|rerun)"
_DETERMINER = r"(?:our|their|his|her|my|these|those|both|all|they|them|we|i|the|it|this|that)"
_PASSIVE = re.compile(
    rf"\b(?:can|could|would)\s+{_DETERMINER}\b[\w\s'-]{{0,60}}?\bbe\s+({_PARTICIPLE})\b")
# "we need the lockers moved", "need it reinstated today": the vendor is the implied agent.
_NEED_DONE = re.compile(
    rf"\b(?:need|needs|want|wants|like)\s+{_DETERMINER}\b[\w\s'-]{{0,50}}?\b({_PARTICIPLE})\b"
    r"(?!\s+(?:by\s+(?:me|us)|myself|ourselves)\b)")
# An elliptical request after saying what the customer could not do: "... i can't reopen them, can you?"
_ELLIPTICAL = re.compile(rf"\b(?:can|could|would|will)\s+{_ADDRESSEE}\s*\?")
# "How can you change ...", "where would someone add ...": questions about how to, not requests.
_WH_START = re.compile(r"^\W*(?:how|where|what|when|why|which|who|whom)\b")
# "Is my data kept on your end?", "we need our advisors added, where do I do that?"
_STATE_QUESTION = re.compile(r"^\W*(?:is|are|was|were|does|do|did|has|have)\b")
_ASKS_HOW = re.compile(r"\b(?:how|where)\s+(?:do|can|should|would|could)\s+(?:i|we)\b|"
                       r"\bis\s+there\s+(?:a|an|any)\s+(?:setting|option|way|button|place)\b|"
                       r"\b(?:in|on|from|through|via)\s+(?:the\s+|my\s+|our\s+)?(?:dashboard|settings|app|portal|"
                       r"admin\s+(?:panel|page|console)|website)\b")
# "Can you transfer calls to our advisors?" and "can our calls be recorded?" ask what the
# product can do; "can you push a refresh for us" asks for an operation: the message
# says it is for the customer ("for us", "our account", "can you switch us"), names the
# vendor's side ("on your end", "your team"), or presses for time. "Our" and "my" alone
# are in nearly every customer's question, so they are no cue; nor is courtesy: "can you
# transfer calls to a specific advisor, please?" is the same capability question.
_CUE = re.compile(r"\bfor\s+(?:us|me)\b|\b(?:our|my)\s+(?:account|accounts|login|subscription|plan|billing)\b|"
                  rf"{_VENDOR_SIDE}|"
                  r"\byour\s+(?:team|staff|engineers?|support\s+team)\b|"
                  r"\b(?:asap|right\s+away|immediately|urgently|tonight|today|now|again)\b")
# "can you switch us to the backup line", "can you call me back": the customer is the object.
_FOR_THE_CUSTOMER = re.compile(rf"{_ASKED}[a-z]+(?:-[a-z]+)?\s+(?:us|me)\b")
# Short forms people type in a chat, normalised before matching.
_SHORT = [(re.compile(r"\bu\b"), "you"), (re.compile(r"\bur\b"), "your"), (re.compile(r"\bpl[sz]\b"), "please"),
          (re.compile(r"\bcn\b"), "can"),
          (re.compile(r"[’`]"), "'")]


@dataclass
class ActionRequest:
    """Whether the message asks the vendor to act, and the phrase that said so."""

    flagged: bool
    evidence: list[str] = field(default_factory=list)


class StaffActionDetector:
    """Finds requests for an operation on the vendor's side, sentence by sentence.

    >>> StaffActionDetector().run("we bought the store next door, can their numbers be moved to our account").evidence
    ['can their numbers be moved']
    """

    def run(self, text: str) -> ActionRequest:
        sentences = [self._normalise(s) for s in segments(text)]
        cue = any(_CUE.search(s) for s in sentences)
        evidence = [found for s in sentences if (found := self._sentence(s, cue))]
        return ActionRequest(flagged=bool(evidence), evidence=evidence)

    @staticmethod
    def _normalise(sentence: str) -> str:
        s = sentence.lower()
        for pattern, repl in _SHORT:
            s = pattern.sub(repl, s)
        return s

    @staticmethod
    def _sentence(s: str, cue: bool) -> str | None:
        """The phrase of one normalised sentence that asks for an operation, if any;
        ``cue``: the message names the customer's side or the vendor's, or presses for time."""
        if _WH_START.search(s):
            return None
        cue = cue or bool(_FOR_THE_CUSTOMER.search(s))
        for pattern in (_MODAL_REQUEST, _NEED_YOU, _IMPERATIVE):
            for m in pattern.finditer(s):
                verb = m.group(1)
                if verb in NON_ACTION_VERBS or verb in _NOT_VERB or (pattern is _MODAL_REQUEST and not cue):
                    continue
                return m.group(0).strip(" ,;:")
        m = _TRAILING_PLEASE.search(s)
        if m and m.group(1) not in NON_ACTION_VERBS and m.group(1) not in _NOT_IMPERATIVE:
            return m.group(0).strip(" ,;:.!?")
        asks_how = bool(_ASKS_HOW.search(s))
        checks = [(_PASSIVE, cue and not asks_how), (_ELLIPTICAL, True), (_NEED_DONE, not asks_how),
                  (_YOUR_SIDE, not asks_how and not _STATE_QUESTION.search(s))]
        for pattern, applies in checks:
            m = pattern.search(s) if applies else None
            if m:
                return m.group(0).strip()
        return None
