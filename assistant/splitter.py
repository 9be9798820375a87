"""Find the distinct requests in one support email.

The OPS notes say "one email = multiple requests": a dealer writes about a
looping call *and* a broken login in the same message. The splitter cuts the
body into candidate units and merges the ones about the same problem:

1. strip the envelope: greeting line, sign-off and signature block (a first line that goes on
   from its salutation to what happened, "Hi PAM is down", loses only the salutation);
2. candidate units: paragraphs, bullet or numbered items, and sentences that
   open a new topic ("also", "one more thing", "another issue", "second",
   "separately", "while I have you", ...);
3. merge: a unit with no problem statement or question (a preface such as
   "A few things from our end:", a pleasantry, background) joins its
   neighbour; a unit that refers back ("Can you look into it?") joins the
   one before; a new paragraph joins the previous segment when their MiniLM
   embeddings are closer than ``SPLIT_THRESHOLD``; a unit that opens with an
   explicit new-topic cue or is a list item stands alone unless it is close
   to a restatement (``CUE_MERGE``);
4. when the subject ("Tekion + rude", "A few things") or a preface in the body
   ("Three unrelated things:") announces several topics, new paragraphs are
   held to the cue rule too: the sender has said there is more than one. A
   subject joined by "and", "&" or "/" ("PAM and Xtime not syncing") only
   raises their bar to ``JOINED_THRESHOLD``: it names one topic as often as two.

Emails with fewer than two units that could stand alone are one request and
are not embedded at all.

>>> splitter = RequestSplitter(Embedder.default())                     # doctest: +SKIP
>>> [s.text for s in splitter.run("issues", "PAM hung up on 2 callers. also the "
...      "dashboard won't let me log in.\\n\\nJake")]                 # doctest: +SKIP
["PAM hung up on 2 callers.", "also the dashboard won't let me log in."]

Offsets (``start``, ``end``) index into ``body``; ``text`` is ``body[start:end]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from guardrails import encode_segments, reply_history

# Cosine similarity (all-MiniLM-L6-v2) at or above which a new paragraph is taken
# to continue the previous segment's problem. Chosen by benchmarks/bench_split.py
# on the first 20 cases of evals/data/multi_request.jsonl (M-001..M-020) and
# reported on the last 20 (M-021..M-040). On the tuning half every value from
# 0.10 to 0.30 splits all 20 emails right (0.35: 19/20, 0.40: 17/20); 0.20 is the
# middle of that plateau. The threshold decides few cases: most splits come from
# cues, list items and the subject line.
SPLIT_THRESHOLD = 0.20
# A unit that opens with an explicit cue ("also", a new bullet) is a new request
# unless it nearly restates the previous one. Set by judgement, not tuned: MiniLM
# gives a rephrasing of the same problem about 0.7 ("PAM hung up on 2 customers" /
# "PAM keeps hanging up on callers": 0.68), and the closest pair of different
# problems in multi_request.jsonl 0.62 (M-033's two calls).
CUE_MERGE = 0.70
# Units shorter than this (in words) cannot carry a request on their own.
MIN_WORDS = 4

_SALUTATION = r"(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening|day))"
# A first line of a salutation and up to four words: a greeting line when the words address
# someone (``_addresses``).
_GREETING_LINE = re.compile(
    r"^[ \t]*" + _SALUTATION + r"\b((?:[ \t]+[\w.'&]+){0,4})[ \t]*([,!:.\-\u2013\u2014]*)[ \t]*$",
    re.IGNORECASE,
)
# Who a greeting addresses besides names, and the words that join them ("Hi Amina and team",
# "Dear Sir or Madam", "Hello again Maheen").
_ADDRESSEE = re.compile(r"(?:there|team|all|everyone|everybody|folks|guys|y'?all|support|again|and|or|&)",
                        re.IGNORECASE)
_GREETING_INLINE = re.compile(
    r"^[ \t]*(?:hi|hello|hey)(?:[ \t]+(?:there|team|all|guys|folks|support))?[ \t]*[,!\-\u2013\u2014]+[ \t]*",
    re.IGNORECASE,
)
# A salutation that opens a line going on with what happened ("Hi PAM is down"): only the
# salutation is envelope.
_SALUTATION_WORD = re.compile(r"^[ \t]*(?:hi|hello|hey|good (?:morning|afternoon|evening|day))\b"
                              r"[ \t]*[,!\-\u2013\u2014]*[ \t]*(?=\w)", re.IGNORECASE)
_SIGNOFF_LINE = re.compile(
    r"^[ \t]*(?:thanks?(?: again)?(?: you)?(?: so much)?(?: in advance)?|thank you(?: so much)?|many thanks|thx|"
    r"cheers|sincerely|respectfully|regards|kind regards|warm regards|best(?: regards| wishes)?|"
    r"--+|\u2014|sent from my \w+)[ \t]*[,!.\-]*[ \t]*$",
    re.IGNORECASE,
)
# "... grab calls first? thanks -Rob, Silver Creek Subaru" : a sign-off at the very end of a line.
_SIGNOFF_INLINE = re.compile(
    r"(?<=[.!?])[ \t]+(?:thanks|thank you|thx|cheers|regards)\b[^.?!\n]{0,60}$", re.IGNORECASE
)
_QUOTED = re.compile(r"[ \t]*>")
_PHONE_LINE = re.compile(r"^[\s()+\d.\-x]{7,}$")
_BULLET = re.compile(r"^[ \t]*(?:[-*\u2022\u2013]|\(?\d{1,2}[.)]|\(?[a-h][.)])[ \t]+")
# A sentence that opens a new topic. Leading "but", "and", "oh", "now" are allowed.
_CUE = re.compile(
    r"^(?:(?:but|and|oh|ok|okay|now|so)[\s,]+){0,3}(?:"
    r"also\b|one more thing|one last thing|another (?:issue|thing|problem|question|request)|"
    r"a (?:different|separate|second|new|related) (?:issue|thing|problem|question|request)|new problem|"
    # "Second, ...", "Secondly", "Third issue: ...": an ordinal of the list, not an adjective of
    # what is told ("Second time this week this happened", "Third caller today ...").
    r"(?:second|third)(?:ly\b|[ \t]*[,:\-\u2013\u2014]|[ \t]+(?:issue|thing|question|problem|request|point)s?\b)|"
    r"separately|unrelated|"
    r"while (?:i have you|you'?re at it|i'?m at it|i'?m writing)|"
    r"on a (?:\w+ )?(?:smaller|different|separate|unrelated|side|other|related) note|"
    r"lastly\b|finally\b|p\.?s\.?\b|(?:can|could|would) you also\b|"
    r"the (?:second|third)\b|the other (?:one|thing|issue|call|problem|request)\b)",
    re.IGNORECASE,
)
# A request glued into one sentence: "..., and can you also set PAM to ...". Spaces are read
# from the first of a run (from each, a long run would take quadratic time).
_CLAUSE_CUE = re.compile(r"(?:,|(?<![ \t,]))[ \t]+(?=and (?:can|could|would) you also\b|and also\b)", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(]?[A-Za-z0-9])")
# "A few things:", "Two follow-ups:", "Three unrelated things, sorry ..." announce a list; a
# count in a sentence that reports a failure ("PAM hung up on 2 calls") does not (_counts_matters).
# A preface naming what follows as several matters ("the following issues:"). A colon
# preface that names none ("Here is what happens when a customer calls:", "Steps to
# reproduce:") introduces the steps or symptoms of one request: its list items stay together.
# A preface that counts what follows as more matters ("Two more from the service team:", "A couple
# more:", "another one:"); "calls after 5:" or "books more than one service:" count nothing.
_COUNTED = re.compile(r"\b(?:two|three|four|five|six|couple|few|several|\d+)\s+(?:more|other|others)\b|"
                      r"\bcouple\s+(?:of\s+)?more\b|\banother\s+(?:one|thing|issue|question|problem)\b", re.I)
_MATTERS = re.compile(r"\b(?:things|issues|items|questions|requests|problems|concerns|points|topics)\b", re.I)
_PREFACE = re.compile(
    r"\b(?:two|three|four|few|couple(?: of)?|several|some|2|3|4|quick)\b[\w\s-]{0,20}?"
    r"\b(?:things|issues|items|questions|requests|problems|ones|follow[- ]?ups|calls|updates)\b",
    re.IGNORECASE,
)
# Words that report something going wrong: a failure, a complaint, a billing matter.
_FAILURE = re.compile(
    r"\b(?:not|no|no longer|anymore|any more|even though|although|never|nothing|none|can'?t|cannot|won'?t|"
    r"doesn'?t|didn'?t|isn'?t|aren'?t|"
    r"wasn'?t|haven'?t|hasn'?t|don'?t|couldn'?t|wrong|error|errors|fail\w*|broken|broke|stopped|stop|still|"
    r"keeps?|kept|again|issue|problem|missing|late|twice|duplicat\w*|instead|complain\w*|complaint|rude|"
    r"snippy|casual|interrupt\w*|talks? over|loop\w*|repeat\w*|busy|voicemail|disconnected|"
    r"expired|pending|charged?|overage|invoice|404|"
    r"mistake|incorrect|off by|mis(?:pronounc|hear|heard|understand|understood|spell|spelt|rout|sing)\w*|"
    r"ring\w*|told|telling|quot\w*|promis\w*|pronounc\w*|"
    # A line or a call failing: "hanging up on callers", "cuts callers off", "PAM is down since
    # 8am", "calls dropped", "an outage". "down" only as a state after a verb ("is down", "went
    # down"; not "down the road"); "drop" only of calls and lines ("drops the call", "calls keep
    # dropping"; not "our missed call rate dropped", "drop off the car", a "drop-down" menu).
    r"hung up|hang(?:s|ing)? up|cut(?:s|ting)?(?: \w+){0,2} off|"
    r"(?:is|are|was|were|been|be|being|went|goes|gone|'s|'re) down|"
    r"drop(?:s|ped|ping)? (?:the |our |a |my |their |all |some |many )?(?:calls?|callers?|customers?|lines?)|"
    r"(?:calls?|lines?|connections?) (?:(?:is|are|was|were|keeps?|kept|got|gets?|just|then|been|have|has|had) ){0,2}"
    r"drop(?:s|ped|ping)?|outage\w*|offline|crash\w*|frozen|freez\w*)\b",
    re.IGNORECASE,
)
# Words that ask for something.
_REQUEST = re.compile(
    r"\?|\b(?:please|pls|can you|could you|would you|need|needs|"
    r"would like|'d like|change|add|remove|update|set|help|confirm\w*|check|review|look into|"
    r"asked|asking)\b",
    re.IGNORECASE,
)
# A unit that only refers back to what came before ("Can you look into it?"). "I'd like" and
# "I need" start a request of their own ("I need a new dashboard login for Mike"); they refer
# back only with a back-reference after them ("I'd like to know why this happened").
_ANAPHORIC = re.compile(
    r"^(?:it|this|that|these|those|they|he|she|his|her|we take|"
    r"(?:i'?d like|i would like|i need)(?=(?:[ \t]+[\w']+){0,6}?[ \t]+(?:it|this|that|these|those|them|"
    r"what happened|why)\b)|is this|is there|"
    r"is anyone|happy to|let me know|please (?:look|check|help|advise|fix|let)|any (?:idea|update|help)|"
    r"(?:can|could|would) (?:you|someone|somebody) (?:please )?(?:look|check|help|tell|let|explain|"
    r"advise|figure|take|switch|fix|update|confirm|see)|"
    r"the (?:customer|caller|call) (?:name|was|said|is|came))\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[A-Za-z0-9']+")
# The first line of a legal notice under a signature. Optional stars are "(?:\*+\s*)?", not
# "\**\s*" after "\s*": two adjacent optional runs of spaces made a line of tabs quadratic.
_DISCLAIMER = re.compile(
    r"\s*(?:(?:\*+\s*)?(?:confidentiality|privacy|legal)\s+(?:notice|disclaimer)\b|(?:\*+\s*)?(?:notice|disclaimer)\s*(?::|(?:\*+\s*)?$)|"
    r"this (?:e-?mail|message|communication|transmission)\b.{0,80}\b(?:confidential|privileged|intended (?:solely|only))|"
    r"the information (?:contained )?in this (?:e-?mail|message|communication)|"
    r"if you (?:are not the intended recipient|have received this (?:e-?mail|message) in error)|"
    # Mail-app and printing footers: "Sent from my iPhone", "Get Outlook for Android", "Please
    # consider the environment before printing this email" (a "please" that made a part).
    r"sent from my \w+(?: \w+){0,3}[ \t]*$|get outlook for \w+[ \t]*$|"
    r"(?:please )?(?:consider|think (?:of|about)) the environment before printing)",
    re.IGNORECASE,
)
# A postscript after the signature ("P.S. pls turn off recall texts"): short enough to pass for a
# signature line, it is a matter of its own.
_POSTSCRIPT = re.compile(r"^[ \t]*p\.?[ \t]?(?:p\.?[ \t]?)?s\b\.?[:,-]?[ \t]*(?=\S)", re.IGNORECASE | re.MULTILINE)
# What makes a thankful postscript ask or report something after all.
_ASKS = re.compile(r"\?|\b(?:please|pls|can you|could you|would you|need|not|no|can'?t|won'?t|doesn'?t|isn'?t|"
                   r"wrong|broken|fix|stopped|still)\b", re.IGNORECASE)
# Thanks and praise: a cue sentence made only of these is not a request ("Also, thanks for ...").
_PLEASANTRY = re.compile(r"\b(?:thanks?|thank you|appreciate\w*|great|love|happy|glad|awesome|helpful)\b",
                         re.IGNORECASE)
# A subject that counts topics ("A few things", "couple requests", "Two calls to review") or
# lists them with "+" ("Tekion + rude", "after hours + duplicates"): the sender's own summary
# says there is more than one.
_SUBJECT_SEVERAL = re.compile(
    r"\s\+\s|\b(?:two|three|couple|few|several|things|issues|requests|questions|problems)\b",
    re.IGNORECASE,
)
# A subject of two things joined by "and", "&" or "/" names two topics ("Bills and PAM talking
# over people") as often as one ("PAM and Xtime not syncing", "Parts & service hours"): it only
# raises the bar for a new paragraph to continue the request before it, to JOINED_THRESHOLD,
# midway between SPLIT_THRESHOLD and CUE_MERGE (on multi_request.jsonl and the review's
# single-problem emails every value from 0.25 to 0.49 splits the same).
_SUBJECT_JOINED = re.compile(r"\s(?:/|&|and)\s", re.IGNORECASE)
JOINED_THRESHOLD = 0.45


@dataclass
class Segment:
    """One request within an email: its text and its span in the body."""

    text: str
    start: int
    end: int


@dataclass
class _Unit:
    start: int
    end: int
    kind: str  # "first" | "para" | "cue" | "item" | "sentence"
    text: str = ""
    quoted: bool = False  # every line of it is ">"-quoted: what was written before, never a request of its own


def strip_envelope(body: str) -> tuple[int, int]:
    """The span of ``body`` left after the greeting line, the sign-off and the signature.

    >>> body = "Hi Amina,\\n\\nPAM keeps looping.\\n\\nThanks,\\nCarrie"
    >>> s, e = strip_envelope(body); body[s:e]
    'PAM keeps looping.'
    """
    return _envelope(body)[:2]


def _envelope(body: str) -> tuple[int, int, int]:
    """``strip_envelope``'s span, and where what closes the email begins (``_closing``)."""
    start, end = 0, len(body)
    lines = body.split("\n")
    offsets, pos = [], 0
    for line in lines:
        offsets.append(pos)
        pos += len(line) + 1

    # Greeting: the first non-empty line, or a "hi -" prefix on it.
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None:
        greeting = _GREETING_LINE.match(lines[first])
        if greeting and len(_WORD.findall(lines[first])) <= 6 and _addresses(*greeting.groups()):
            start = offsets[first] + len(lines[first])
        else:
            m = _GREETING_INLINE.match(lines[first]) or _SALUTATION_WORD.match(lines[first])
            if m and len(lines[first]) > m.end():
                start = offsets[first] + m.end()

    end = closing = _closing(body, start, lines, offsets)

    # Sign-off: a "Thanks," line with only a short signature after it (up to a P.S., which is
    # no signature). Read from the bottom, so the nearest P.S. below is known at each line.
    signed = False
    last = max((i for i in range(len(lines)) if offsets[i] < end), default=-1)  # the notice is gone
    below = last + 1  # the first P.S. line under the current one
    for i in range(last, -1, -1):
        if offsets[i] < start:
            break
        if _SIGNOFF_LINE.match(lines[i]) and lines[i].strip() and _is_signature(lines[k] for k in range(i + 1, below)):
            end, signed = offsets[i], True
            break
        if _POSTSCRIPT.match(lines[i]):
            below = i
    if not signed:
        # No sign-off line: a trailing paragraph of short name/title/phone lines.
        tail = body[start:end].rstrip()
        cut = tail.rfind("\n\n")
        if cut > 0 and _is_signature(tail[cut:].split("\n"), need_name=True):
            end = start + cut
    # "... first? thanks -Rob, Silver Creek Subaru" on the last content line.
    m = _SIGNOFF_INLINE.search(body, start, end) if end > start else None
    if m and not body[m.end():end].strip():
        end = m.start()
    end = _trimmed(body, start, end)
    while start < end and body[start].isspace():
        start += 1
    return start, end, closing


def _addresses(words: str, punctuation: str) -> bool:
    """Whether the words after a salutation address someone ("Hi Amina,", "Hello PAM Support
    Team", "Hi all", "hi amina,") rather than say what happened ("Hi PAM is down", "Hi Xtime sync
    broken again"): names (capitalised, or any one word or words closed by a comma, "!", ":" or a
    dash, as "hi amina," is written) and the people addressed, with no failure reported."""
    names = [w for w in words.split() if not _ADDRESSEE.fullmatch(w)]
    if _FAILURE.search(" ".join(names)):
        return False
    return all(w[0].isupper() for w in names) or len(names) <= 1 or bool(punctuation.strip("."))


def _trimmed(body: str, start: int, end: int) -> int:
    """``end`` moved back over trailing white space, not before ``start``."""
    while end > start and body[end - 1].isspace():
        end -= 1
    return end


_PARAGRAPH = re.compile(r"\S(?:.|\n(?![ \t]*\n))*")


def _closing(body: str, start: int, lines: list[str], offsets: list[int]) -> int:
    """Where what closes the email begins: a legal or confidentiality notice ("please notify the
    sender" is no request), a mail-app or printing footer, or the quoted history of a reply ("On
    ... wrote:", "-----Original Message-----", a "From: / Sent: / Subject: RE:" block: what was,
    not what is asked now). Everything from there on is no part of any request."""
    end = len(body)
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    for i in range(first + 1 if first is not None else 0, len(lines)):
        if offsets[i] >= start and _DISCLAIMER.match(lines[i]):
            end = offsets[i]
            break
    history = reply_history(body)
    if history is not None and start < history < end:
        end = history
    return end


def _is_signature(lines, need_name: bool = False) -> bool:
    """Short lines of names, titles, company and phone: no sentences, at most six lines (read
    lazily: a block of thousands of lines is judged on its first seven)."""
    kept = []
    for ln in lines:
        if ln.strip():
            kept.append(ln.strip())
            if len(kept) > 6:
                return False
    lines = kept
    if not lines:
        return True
    for ln in lines:
        if _PHONE_LINE.match(ln) or "@" in ln:
            continue
        words = _WORD.findall(ln)
        if len(words) > 8 or ln.endswith(("?", ".", "!")) and len(words) > 3:
            return False
        # A request written under the sign-off with no full stop ("Also please change the greeting
        # to Happy Holidays"): it opens with a topic cue or asks or reports something, written as
        # a sentence (half its words or more lower case; not a title or company such as "Help
        # Desk Lead" or "Broken Arrow Ford").
        if (len(words) > 3 and (_CUE.match(ln) or has_problem(ln)) and not _POSTSCRIPT.match(ln)
                and 2 * sum(w[0].islower() for w in words) >= len(words)):
            return False
    if need_name:  # without a sign-off, the block must start like a name ("Jake, Desert Sky Hyundai")
        head = re.split(r"[,\-\u2013\u2014]", lines[0])[0].strip()
        return bool(re.fullmatch(r"[A-Z][\w'.-]*(?: [A-Z][\w'.-]*){0,2}", head))
    return True


def _postscript(body: str, start: int, end: int, limit: int) -> tuple[list[Segment], int]:
    """The postscript (after the greeting, in the body or under the signature) as a segment
    when it can stand alone, and where the body before it ends (``end`` without one). Only one
    that closes the email counts: nothing but a signature after it, and before any legal notice,
    footer or quoted history (``limit``, where ``_closing`` found them)."""
    m = _POSTSCRIPT.search(body, start, limit)
    if m is None or m.start() <= start:
        return [], end
    para = _PARAGRAPH.match(body, m.end(), limit)
    s, e = m.end(), (para.end() if para else m.end())
    if not _is_signature(body[e:limit].split("\n")):
        return [], end  # more follows it: part of the body, read as any other unit
    text = body[s:e]
    thanks = _PLEASANTRY.search(text) and not _ASKS.search(text)  # "P.S. thanks again for the help!"
    kept = [Segment(text, s, e)] if e > s and not thanks and _standalone(_Unit(s, e, "cue", text)) else []
    return kept, (min(end, m.start()) if kept else end)


def _units(body: str, start: int, end: int) -> list[_Unit]:
    """Paragraphs, list items and cue sentences of ``body[start:end]``, in order."""
    units: list[_Unit] = []
    for para in _PARAGRAPH.finditer(body[start:end]):
        # Lines of one paragraph: a bullet line starts a new block, other lines continue the current one.
        blocks: list[list] = []
        pos = start + para.start()
        for line in para.group().split("\n"):
            bullet, quoted = bool(_BULLET.match(line)), bool(_QUOTED.match(line))
            if bullet or not blocks:
                blocks.append([pos, pos + len(line), bullet, quoted])
            else:
                blocks[-1][1] = pos + len(line)
                blocks[-1][3] = blocks[-1][3] and quoted
            pos += len(line) + 1
        for b_start, b_end, bullet, quoted in blocks:
            for j, (s_start, s_end, cue) in enumerate(_sentences(body, b_start, b_end)):
                if j == 0:
                    kind = "item" if bullet else ("cue" if cue else "para")
                elif cue:
                    kind = "cue"
                else:
                    units[-1].end = s_end  # a plain sentence continues its unit
                    continue
                units.append(_Unit(s_start, s_end, kind, quoted=quoted))
    if units:
        units[0].kind = "first"
    for u in units:
        u.text = body[u.start:u.end].strip()
    return units


def _sentences(body: str, start: int, end: int):
    """(start, end, opens_with_cue) for each sentence or glued clause of a block."""
    text = body[start:end]
    cuts = [0]
    for m in _SENTENCE.finditer(text):
        line_start = text.rfind("\n", 0, m.start()) + 1
        if _BULLET.fullmatch(text[line_start:m.end()]):
            continue  # the "2." of a numbered item is its marker, not a sentence
        cuts.append(m.end())
    for m in _CLAUSE_CUE.finditer(text):
        cuts.append(m.end())
    cuts = sorted(set(cuts))
    out = []
    for a, b in zip(cuts, cuts[1:] + [len(text)]):
        chunk = _BULLET.sub("", text[a:b], count=1).lstrip()
        out.append((start + a, start + b, bool(_CUE.match(chunk))))
    return out


def has_problem(text: str) -> bool:
    """True when a unit states a problem or asks for something."""
    return bool(_FAILURE.search(text) or _REQUEST.search(text))


def _standalone(u: _Unit) -> bool:
    """Can this unit carry a request of its own? It states a problem or asks, is long enough and
    is no quote (a ">"-quoted unit is what was written before: it joins a request as its context)."""
    if u.quoted:
        return False
    words = len(_WORD.findall(u.text))
    states = has_problem(u.text) or (u.kind in ("cue", "item") and words >= 6 and not _PLEASANTRY.search(u.text))
    return states and words >= MIN_WORDS and not _is_preface(u.text)


def stands_alone(text: str) -> bool:
    """Whether ``text`` can carry a request of its own (states a problem or asks, is long enough
    and does not refer back): "Can you change the greeting?" can; "Still broken.", "Any update
    on this?" and "It started again this morning" cannot."""
    return _standalone(_Unit(0, len(text), "para", text)) and not _ANAPHORIC.match(text.strip())


def _is_steps_preface(text: str) -> bool:
    """A colon preface that names no matters and counts none ("Here is what happens:", "Steps to
    reproduce:"; not "the following issues:", "Two more from the service team:", "Also:")."""
    stripped = text.strip()
    return (stripped.endswith(":") and _is_preface(stripped) and not _MATTERS.search(stripped)
            and not _PREFACE.search(stripped) and not _COUNTED.search(stripped) and not _CUE.match(stripped))


def _counts_matters(text: str) -> bool:
    """Counts the matters that follow and reports nothing about them: "A few things from our end",
    "Two quick questions", also asking about them ("Could someone review two calls for me?"). A
    sentence that counts calls while saying what went wrong with them ("PAM hung up on 2 calls
    this morning", "We missed some calls because PAM did not pick up") is a problem statement."""
    m = _PREFACE.search(text)
    return bool(m) and not _FAILURE.search(text[:m.start()] + " " + text[m.end():])


def _is_preface(text: str) -> bool:
    """A short line that introduces what follows: it ends with a colon, or it counts matters
    and reports nothing (``_counts_matters``)."""
    stripped = text.strip()
    return (stripped.endswith(":") and len(_WORD.findall(stripped)) <= 12) or (
        _counts_matters(stripped) and len(_WORD.findall(stripped)) <= 14)


class RequestSplitter:
    """Cuts one email into the distinct requests it holds (see the module docstring).

    >>> RequestSplitter(embedder).run("Login", "I can't log in to the dashboard.")   # doctest: +SKIP
    [Segment(text="I can't log in to the dashboard.", start=0, end=32)]
    """

    def __init__(self, embedder, threshold: float | None = None):
        if threshold is not None and not -1.0 <= threshold <= 1.0:
            raise ValueError("threshold is a cosine similarity, between -1 and 1")
        self.embedder = embedder
        self.threshold = SPLIT_THRESHOLD if threshold is None else threshold

    def run(self, subject: str, body: str) -> list[Segment]:
        """The requests in the email, in order; one segment when it holds one request."""
        start, end, closing = _envelope(body)
        if end <= start:
            # Nothing but envelope (or an empty body): the subject is the whole request.
            text = body.strip()
            s = body.find(text) if text else 0
            return [Segment(text, s, s + len(text))]
        # A postscript under the signature that asks or reports something is a request of its
        # own, whatever the body holds ("P.S. pls turn off recall texts" was cut with the signature).
        postscript, main_end = _postscript(body, start, end, closing)
        units = _units(body, start, main_end)
        alone = sum(_standalone(u) for u in units)
        if alone + len(postscript) < 2:
            # Fewer than two units that could stand alone: one request, no need to embed.
            return [Segment(body[start:end], start, end)]
        if alone < 2:
            e = _trimmed(body, start, main_end)
            return [Segment(body[start:e], start, e), *postscript]
        vectors = encode_segments(self.embedder, [u.text for u in units])  # shared with the guardrails
        # When the subject or a preface ("A few issues this week:") announces several
        # topics, a new paragraph is held to the cue rule; a subject joined by "and" raises its bar.
        several = _SUBJECT_SEVERAL.search(subject or "") or any(
            _is_preface(u.text) and _counts_matters(u.text) for u in units)
        if several:
            para_threshold = CUE_MERGE
        elif _SUBJECT_JOINED.search(subject or ""):
            para_threshold = max(self.threshold, JOINED_THRESHOLD)
        else:
            para_threshold = self.threshold
        groups = self._group(units, np.asarray(vectors, dtype=np.float32), para_threshold, bool(several))
        out = []
        for g in groups:
            s = units[g[0]].start
            e = _trimmed(body, s, units[g[-1]].end)
            out.append(Segment(body[s:e], s, e))
        return out + postscript

    def _group(self, units: list[_Unit], vecs: np.ndarray, para_threshold: float,
               several: bool = False) -> list[list[int]]:
        groups: list[list[int]] = []
        pending: list[int] = []  # prefaces and background waiting for their request
        steps = False  # inside a list that a colon preface introduced as one request's steps
        for i, u in enumerate(units):
            steps = steps and u.kind == "item"
            if _is_steps_preface(u.text) and not several:
                steps = True
            if not _standalone(u):
                # Once a preface is held, what follows it is what it introduces: it waits with the
                # preface. Joined to the group before, it would sit inside the span that group
                # and the next one (which starts at the preface) both cover.
                if groups and not pending and not (
                        _is_preface(u.text) or u.kind in ("cue", "item") and has_problem(u.text)):
                    groups[-1].append(i)  # background or a short remark: part of what came before
                else:
                    pending.append(i)
                continue
            if not groups:
                groups.append(pending + [i])
                pending = []
                continue
            sim = float(vecs[i] @ self._centroid(vecs, groups[-1]))
            if steps:  # "1. The caller asks... 2. PAM offers 9am...": one request's steps, unless far apart
                new = sim < self.threshold
            elif u.kind in ("cue", "item"):
                new = sim < CUE_MERGE
            elif u.kind == "para":
                new = sim < para_threshold and not _ANAPHORIC.match(u.text)
            else:
                new = False
            if new or pending:
                groups.append(pending + [i])
            else:
                groups[-1].append(i)
            pending = []
        if pending:
            if groups:
                groups[-1].extend(pending)
            else:
                groups.append(pending)
        return [sorted(g) for g in groups]

    @staticmethod
    def _centroid(vecs: np.ndarray, idx: list[int]) -> np.ndarray:
        c = vecs[idx].mean(axis=0)
        n = np.linalg.norm(c)
        return c / n if n else c
