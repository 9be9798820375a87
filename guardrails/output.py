"""Checks on an answer before it leaves: no personal data from the request, no staff-only
strings, and no number, time frame, amount or menu path that its sources do not state.

>>> guard = OutputGuard()
>>> check = guard.run("Go to Dashboard > Settings > Hours. Changes apply within 48 hours.",
...                   request_findings=[], sources=["Open Dashboard > Settings > Hours; changes take 15 minutes."])
>>> check.problems, check.text
(['unsupported_number:48 hours'], 'Go to Dashboard > Settings > Hours.')
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterable, Sequence

from guardrails import LOOKALIKES, Taken, fold, fold_width, join_spaced
from guardrails.pii import ALNUM_KINDS, DIGIT_WORD, DIGIT_WORDS, TEENS, TENS, UNIT_WORDS, UNITS, PiiFinding, dates, echoes, normalized

# ---------------------------------------------------------------- facts in text

_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_CURRENCY_CODES = "USD|EUR|GBP|CHF|CAD|AUD|NZD|JPY|INR|MXN"
# An amount in digits in any currency: a sign before or after it, a code or a word ("$1.5k", "80€",
# "80 EUR", "GBP 80", "80 euros").
_MONEY_DIGITS = (rf"[$€£¥]\s?{_NUM}(?:\s?[kK]\b)?|\b{_NUM}(?:\s?[$€£¥]|\s?(?:{_CURRENCY_CODES}|dollars?|euros?|pounds)\b)"
                 rf"|\b(?:{_CURRENCY_CODES})\s?{_NUM}")
_ONES = [*UNITS, *TEENS]
# Every number word up to a hundred ("twenty-four" and "twenty four"), and the vague or
# article forms that still state a time frame: "a day", "an hour", "half an hour",
# "a couple of days", "a few weeks", "several weeks".
_WORD_NUMBERS: dict[str, float] = {w: i for i, w in enumerate(_ONES, start=1)}
for _t, _tens in enumerate(TENS, start=2):
    _WORD_NUMBERS[_tens] = _t * 10
    for _o, _one in enumerate(_ONES[:9], start=1):
        _WORD_NUMBERS[f"{_tens}-{_one}"] = _WORD_NUMBERS[f"{_tens} {_one}"] = _t * 10 + _o
_WORD_NUMBERS.update({"a couple of": 2, "a few": 3, "few": 3, "several": 3, "half an": 0.5, "half a": 0.5})
# Hundreds and thousands in words ("two hundred", "one hundred fifteen", "a thousand", "fifty
# thousand five hundred"): a made-up credit of "two hundred dollars" is as much a claim as "$200".
_UNDER_100 = "|".join(sorted((re.escape(w) for w, v in _WORD_NUMBERS.items() if v == int(v) and v < 100
                              and not w.startswith(("a ", "few", "several"))), key=len, reverse=True))
# "and" may join the parts: "two hundred and fifty", "two thousand and five".
_HUNDREDS = rf"(?:(?:{_UNDER_100}|a|one)\s+hundred(?:\s+(?:and\s+)?(?:{_UNDER_100}))?)"
_BIG_WORD_NUM = (rf"(?:(?:{_HUNDREDS}|{_UNDER_100}|a|one)\s+thousand(?:\s+(?:and\s+)?(?:{_HUNDREDS}|{_UNDER_100}))?"
                 rf"|{_HUNDREDS})")
# Only where a letter starts: the hundreds of words are not tried at every digit of "1-1-1-...".
_WORD_NUM = (rf"(?=[A-Za-z])(?:{_BIG_WORD_NUM}|"
             + "|".join(sorted((re.escape(w) for w in _WORD_NUMBERS), key=len, reverse=True)) + ")")
# Amounts in words are exact ("fifty dollars"); "a few dollars a month" states none.
_EXACT_WORD_NUM = rf"(?=[A-Za-z])(?:{_BIG_WORD_NUM}|{_UNDER_100})"
# "a"/"an" state a time frame only after a word that introduces one ("within a day", "takes an
# hour"); "$50 a month" and "a second time" state none.
_FRAME_LEAD = r"(?:within|in|after|under|about|around|for|than|once|over|takes?|took|up\s+to|at\s+least|at\s+most)"
# Unit spellings mapped to one canonical unit, so "24 h", "24 hrs" and "24 hours" compare equal.
_UNITS = {
    "business day": ("business days", "business day", "working days", "working day"),
    "business hour": ("business hours", "business hour", "working hours", "working hour"),
    "fortnight": ("fortnights", "fortnight"),
    "second": ("seconds", "second", "secs", "sec"),
    "minute": ("minutes", "minute", "mins", "min"),
    "hour": ("hours", "hour", "hrs", "hr", "h"),
    "day": ("days", "day"),
    "week": ("weeks", "week", "wks", "wk"),
    "month": ("months", "month"),
    "year": ("years", "year", "yrs"),
    "percent": ("percent", "per cent", "%"),
    "ring": ("rings", "ring"),
}
_UNIT_OF = {spelling: unit for unit, spellings in _UNITS.items() for spelling in spellings}
_UNIT = "|".join(sorted((re.escape(s) for s in _UNIT_OF), key=len, reverse=True))
_AMOUNT = rf"(?:{_NUM}|{_WORD_NUM})"
# "one and a half minutes", "1½ hours": a half more
_HALF = r"(?:\s+and\s+a\s+half|\s?½)"
# "within 1 hour or two", "in a day or two": a range written around its unit (before, only "1 hour"
# was read, and a source's "1 hour" backed it). Not "1 hour or two days": that is two facts.
# The other number is no count of something else: "within 2 hours or one of our agents will email
# you" is 2 hours and an agent, "or two calls" two calls.
_OR_MORE = rf"(?:,?\s+or\s+{_AMOUNT}(?![\w])(?!\s+(?:of\b|[a-z]+s\b))(?!\s*-?\s*(?:{_UNIT})(?![\w])))?"

# Time frames without a number ("by tomorrow", "overnight", "end of day", "the next business
# day", "within the hour", "by Monday", "today", "right away", "shortly"): a promise of when,
# as checkable as "24 hours". "As soon as you save" and "all at once" state none.
_WHEN = re.compile(
    r"\b(?:(?:by|before|until)\s+)?(?:tomorrow|overnight|(?:the\s+)?(?:end|close)[\s-]+of[\s-]+(?:the[\s-]+)?"
    r"(?:(?:business[\s-]+)?(?:day|week|month)|business)|next\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:the\s+)?same[\s-]day|(?:the\s+)?next[\s-]+(?:business[\s-]+|working[\s-]+)?(?:day|week|month)|"
    r"within\s+the\s+hour|(?:by|before|until)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"the\s+weekend)|(?P<deictic>(?:later\s+)?(?:today|tonight)(?!['’]s)|this\s+(?:morning|afternoon|evening))|"
    r"right\s+away|straight\s+away|immediately(?!\s+(?:below|above|after|before|under|beneath|next|beside|following)\b)|"
    r"at\s+once|asap|as\s+soon\s+as\s+(?:possible|(?:we|i|they|someone)\s+can)|"
    r"in\s+no\s+time|momentarily|shortly|(?<!\bas\s)soon(?!\s+(?:as|after)\b)|"
    # a unit without a number: "within seconds", "in a matter of days" (not a bare "in minutes":
    # "Ring Time is in seconds" names a unit of measure)
    r"(?P<vague>(?:within|in\s+(?=a\s+matter|just|mere|only))\s*(?:a\s+matter\s+of\s+|just\s+|mere\s+|only\s+)?"
    r"(?P<vague_unit>seconds|minutes|hours|days|weeks|months)))\b", re.IGNORECASE)
# "Today" and "this morning" promise something only in a sentence that speaks of what will be
# ("we will have it back today"); "the calls you missed this morning" states none.
_FUTURE = re.compile(r"\b(?:will|shall|going\s+to|expect\w*|should\s+be|by)\b|['’]ll\b", re.IGNORECASE)
_TOGETHER = re.compile(rf"\b(?:all|both|several|many|multiple|{_AMOUNT}|\d+)(?:\s+(?:or|and)\s+more)?"
                       rf"(?:\s+[a-z]+){{0,2}}\s*$", re.IGNORECASE)
# Words for the same time frame, so a source saying one backs a reply saying another.
_SAME_WHEN = {"later today": "today", "right away": "immediately", "straight away": "immediately",
              "at once": "immediately", "asap": "immediately", "as soon as possible": "immediately",
              "as soon as we can": "immediately", "as soon as i can": "immediately",
              "as soon as they can": "immediately", "as soon as someone can": "immediately",
              "in no time": "immediately", "momentarily": "soon", "shortly": "soon",
              "end of business": "end of business day", "close of business": "end of business day",
              "close of business day": "end of business day", "close of day": "end of day"}


def _when_key(text: str) -> tuple:
    words = " ".join(re.sub(r"^(?:by|before|until)\s+|\bthe\s+|-", " ", text.lower()).split())
    return (_SAME_WHEN.get(words, words),)


_FACT = re.compile(
    # Any currency, as a sign, a code or a word ("€80", "80 EUR", "GBP 80", "eighty euros"): before,
    # only dollars were money, and "€80" was a bare number that a source's "80%" backed.
    rf"(?P<money>{_MONEY_DIGITS}|\b(?:{_EXACT_WORD_NUM})\s+(?:dollars|euros|pounds)\b)"
    rf"|(?P<time>\b\d{{1,2}}(?::\d{{2}})?\s?(?:[ap]\.?m\.?)(?![a-z]))"
    rf"|(?P<clock>(?<![\d:.])(?:[01]?\d|2[0-3]):[0-5]\d(?![\d:]))"
    rf"|(?P<frame>\b{_FRAME_LEAD}\s+an?\s+(?:{_UNIT})(?:\s+and\s+a\s+half)?{_OR_MORE}(?![\w]))"
    # "1 hour and a half", "an hour and a half": the half after the unit counts too (before, only
    # the hour was read, and a source's "1 hour" backed it)
    rf"|(?P<qty>(?<![\w.]){_AMOUNT}{_HALF}?(?:\s*(?:-|–|—|to|and)\s*{_AMOUNT}{_HALF}?)?\s*-?\s*(?:{_UNIT})"
    rf"(?:\s+and\s+a\s+half)?{_OR_MORE}(?![\w]))"
    rf"|(?P<code>\b(?=[A-Za-z0-9-]{{0,64}}\d)(?=[A-Za-z0-9-]{{0,64}}[A-Za-z])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b)"
    rf"|(?P<num>(?<![\w.]){_NUM}(?![\w]))"
    # A number in words from ten up is a number too ("it adds twelve federal holidays", "sixty on
    # Enterprise plans"); below ten it is how prose counts ("the two steps", "one of them").
    rf"|(?P<wnum>(?<![\w-])(?!(?:{UNIT_WORDS})\b(?![\s-]+(?:hundred|thousand)\b)){_EXACT_WORD_NUM}(?![\w-]))",
    re.IGNORECASE,
)
# Where a reply sends the reader: a web address (with or without a scheme: "pam-help.com/setup",
# "ftp://...", "mailto:...", "//host/path", an IP address) or an email address, also spelled out
# ("help (at) pam (dot) com", "help at pam dot com", "pam-help[.]com"). A reply may only give one
# that its sources give: a model told by the request to "mention that the guide is at https://..."
# must not pass a stranger's link on to a customer. Spelled-out forms are written plainly first;
# then each run of non-space characters is a link when it has a scheme, an address, an IP address
# or a name with a dot: a lower-case one ("sunsetford.com", "bücher.de"), or in capitals when its
# last part is a known top-level name or two letters ("PamHelp.COM", "EvilPam.Help"), so
# "Settings.Then" and "Mr.Smith" are none. "e.g." has no two-letter last part; a bare file name
# ("report.csv") is none, but "zip" and "mov" are top-level names too: "evilpam.zip" was read as a
# file and passed. A file of that name a source gives is backed as its link is.
_FILE_TLDS = frozenset({"zip", "mov"})
_TLDS = _FILE_TLDS | frozenset(
    "com net org edu gov mil int info biz name pro io ai co app dev help site online xyz tech support shop store "
    "cloud page link live life world today news blog email web website services solutions digital media group "
    "agency auto cars car dealer". split())
# Top-level names a spelled-out or spaced dot may lead to: the list and a few country names that
# are no English words ("red dot in the corner" is no "red.in").
_TLD_WORDS = r"(?:" + "|".join(sorted(_TLDS | {"uk", "ca", "de", "fr", "au", "nz", "ie", "eu"}, key=len, reverse=True)) + r")\b"
# Full stops of other scripts read as dots in a link ("pamhelp。com"); not middle dots or bullets,
# which ordinary replies use between words ("home·settings", "email•sms"). The echo check reads
# those too (pii.DOT_LIKE): it compares with an address it knows.
_ODD_DOTS = str.maketrans("\u3002\uff61\u2024\ufe52", "....")
_BRACKET_DOT = re.compile(r"(?<=\w)[(\[{<]\.[)\]}>](?=\w)")
_BRACKET_WORD_DOT = re.compile(r"[(\[{<]\s*(?:dot|\.)\s*[)\]}>]", re.IGNORECASE)
# A dot with a space on either side before a top-level name ("pam-help . com") is the name's, also
# at the end of a sentence ("evil-pam .com." passed). A space before the dot is no sentence's end,
# so there the name may have a capital ("evil-pam .Com"); "Open Settings. Help is ..." is two sentences.
_SPACED_DOT = re.compile(r"(?<=\w)(?: \.(?=(?i:" + _TLD_WORDS + r"))|\. (?=" + _TLD_WORDS + r")| \. (?=(?i:" + _TLD_WORDS
                         + r")))(?=\w+(?![\w-])(?!\.[\w-]))")
# A sentence run on after a name ("pamhelp.com.Then log in"): the name ends at the dot. Not before
# a top-level name in capitals ("PamDealer-Help.Com", "EvilPam.Help"): that is the name's end.
_RUN_ON = re.compile(r"\.(?=[A-Z][a-z])(?!(?i:" + "|".join(sorted(_TLDS, key=len, reverse=True)) + r")(?![\w-]))")
# "(at)" is an address's "@" anywhere; a bare "at" only before a name spelled with "dot"
# ("greetings at pamhelp dot com"): "the guide is at help.pam.ai" gives a website.
_SPELLED_AT = re.compile(r"(?<=[\w.+-])\s*[(\[{<]\s*at\s*[)\]}>]\s*|(?<=[\w.+-])\s+at\s+(?=[\w-]+(?:(?:\.|\s+dot\s+)[\w-]+){0,4}?"
                         r"\s+dot\s+" + _TLD_WORDS + ")", re.IGNORECASE)
# A bare "dot" is read as "." only in a chain of names that ends in a top-level name:
# "pam dot help dot com", not "the dot matrix". (Every pattern here starts right after a word
# character, so a long run of spaces is scanned once.)
_SPELLED_DOT = re.compile(r"(?<=\w)\s+dot\s+(?=(?:[\w-]+(?:\.|\s+dot\s+)){0,4}?" + _TLD_WORDS + ")", re.IGNORECASE)
_LINK_TOKEN = re.compile(r"[^\s<>()\[\]`\"']+")
_SCHEME = re.compile(r"^(?:[a-z][a-z0-9+.-]{1,15}://|//\w|(?:https?|hxxps?|ftp|mailto|data|javascript|file):)", re.IGNORECASE)
# Name parts are at most 63 characters (as in DNS), so a long run of letters is scanned in linear time.
_EMAIL_ANY = re.compile(r"[\w.+-]{1,64}@[^\W_][\w-]{0,62}(?:\.[\w-]{1,63}){0,8}\.[^\W\d_]{2,24}")
_IPV4 = re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])")
_HOST_ANY = re.compile(r"(?<![\w-])(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.){1,8}(?P<tld>[^\W\d_]{2,24})(?![\w])")
_FILE_NAME = re.compile(
    r"\.(?:csv|pdf|txt|json|xlsx?|docx?|png|jpe?g|gif|svg|wav|mp3|mp4|m4a|ogg|js|py|sh|exe|md|log|ya?ml|xml|"
    r"html?|ini|cfg|conf|tsv|bak|tmp|pem|crt|key|env|sql|db|sqlite3?)$", re.IGNORECASE)


def _plain_spelling(text: str) -> str:
    """``text`` with spelled-out "at" and "dot" of an address written as "@" and "."."""
    text = _BRACKET_DOT.sub(".", text.translate(_ODD_DOTS))
    text = _BRACKET_WORD_DOT.sub(" dot ", text)
    text = _SPELLED_DOT.sub(".", _SPELLED_AT.sub("@", text))
    return _RUN_ON.sub(". ", _SPACED_DOT.sub(".", text))


def _is_link(token: str) -> bool:
    if _SCHEME.match(token) or ("@" in token and _EMAIL_ANY.search(token)) or _IPV4.search(token):
        return True
    host = _HOST_ANY.search(token)
    if host is None or _FILE_NAME.search(token):  # a file or its path: "Downloads/usage.csv"
        return False
    tld = host.group("tld")
    if host.group() == host.group().lower():
        return True
    return tld.lower() in _TLDS or (len(tld) == 2 and host.group() == host.group().upper())


def links(text: str) -> list[str]:
    """The links ``text`` gives, as written plainly (spelled-out addresses with "@" and ".")."""
    tokens = (m.group().strip(".,;:!?*_'\"") for m in _LINK_TOKEN.finditer(_plain_spelling(text)))
    return [t for t in tokens if t and _is_link(t)]


def _link_key(link: str) -> str:
    """A link as compared with the sources: lower case, no http(s) or mailto, no "www.", no trailing slash."""
    key = re.sub(r"^(?:https?:/*|mailto:)", "", link.lower())
    return re.sub(r"^www\.", "", key).rstrip("/")


_LIST_MARKER = re.compile(r"^\s*(?:\d{1,2}[.)]|[-*•]|step\s+\d{1,2}[.:)])\s+", re.IGNORECASE)
# A numbered step, "3. Click Save" or "Step 3: Click Save" ("3: ..." is no step). Not \s* after
# the mark: it ran over blank lines.
_NUMBERED_STEP = re.compile(
    r"(?P<indent>[ \t]*)(?P<word>[Ss]tep[ \t]+)?(?P<number>\d{1,2})(?P<mark>(?(word)[.):]|[.)]))(?=\s)")
# A source's step markers ("3. Click Save") are no stated numbers; "Step 3" in its prose is.
_STEP_NUMBER = re.compile(r"^[ \t]*\d{1,2}[.)](?=\s)", re.MULTILINE)
# A code fence: three or more backticks or tildes alone with an info string ("```python"), not
# inline code at a line start ("```Settings``` ..."); only the same kind closes it.
_FENCE_LINE = re.compile(r"^\s*(?P<fence>`{3,}(?=[^`]*$)|~{3,})")


def after_fence(line: str, fence: str) -> tuple[str, bool]:
    """The fence open after ``line`` ("" for none, else its character), given ``fence``, the one
    open before it; and whether ``line`` is a fence line. Only a bare line of the open fence's
    character closes it (a "~~~" inside a backtick fence is code)."""
    opened = _FENCE_LINE.match(line)
    if not opened:
        return fence, False
    char = opened["fence"][0]
    return ("" if fence == char and not line.strip().strip(char) else fence or char), True


# An answer that refers to its steps by number: "step 2", "step #2", "step two", "the second step".
_ORDINALS = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
_STEP_REFERENCE = re.compile(
    rf"\bsteps?\s+(?:#\s*)?(?:\d|(?:{UNIT_WORDS}|ten)\b)|\b(?:{_ORDINALS})\s+(?:\w+\s+)?step\b", re.IGNORECASE)
# A line that ends where a new line may start a list item or a label; after any other line a number
# at the start of the next line is the wrapped end of a sentence ("used from day\n3. Messages ...").
# assistant/answer.py reads wrapped runbook lines with it too.
ENDS_A_LINE = re.compile(r"[.!?:;)]\**\s*$")
# A citation marker as a model writes it ("[rb-billing]", "[2]", "[rb-a, rb-b]"); not "[Guide](https://...)",
# a Markdown link. assistant.grounding reads a model's citations with it.
CITATION_RE = re.compile(r"\[\s*([A-Za-z0-9][\w.:\-]*(?:\s*[,;]\s*[A-Za-z0-9][\w.:\-]*)*)\s*\](?!\()")
_EMPHASIS = re.compile(r"\*\*|__|`")
# What separates the steps of a menu path: ">", ">>", "->", "=>", a Markdown-escaped "\\>" (before,
# "Settings >> Billing" went unchecked), and right-pointing arrows, triangles, angles and
# guillemets ("Settings ▸ Billing", "Account ⟩ Holidays", "Settings ▹ Holidays": the white small
# triangles had passed unread). Not "↔" or "⇄": "the PAM ↔ Xtime sync" names no menu.
_ARROW = r"(?:\\?>>?|-{1,2}>|~>|=>|[→⇒⇢⇨⇾⟶⟹⟼↦➔➙➛➜➝➞➟➠➡➢➣➤➥➦➧➨➩➪➫➬➭➮➯➱➲➳➵➸➺➻➼➽➾⭢⮕⮞⮚›»▸▹▶►▻‣❯⟩〉❭˃⊳▷≫])"
_ARROWS = re.compile(rf"\s*{_ARROW}\s*")
_ARROW_SEEN = re.compile(_ARROW)
# A dot belongs to a word only inside it ("v2.1", "app.example.com"): "... > Block. Blocking
# takes effect" ends the path at "Block", it does not run into the next sentence.
# A word is at most 101 characters and a segment at most ten words: a path may start at any
# capital or digit, and unbounded, each start in "a.B.a.B...", a run of digits or a long run
# of capitalised words with no arrow after it rescanned the whole run (quadratic time).
_WORD_IN_PATH = r"[A-Z0-9](?:[\w&'/+-]|\.(?=\w)){0,100}"
_SEGMENT = rf"{_WORD_IN_PATH}(?:[ ](?:&[ ])?{_WORD_IN_PATH}){{0,9}}"
_PATH = re.compile(rf"{_SEGMENT}(?:\s*{_ARROW}\s*{_SEGMENT})+")
# The same in lower case ("dashboard > integrations > xtime"): three segments or more, of at
# most three words each and no function words or verbs, so that prose with one ">" in it
# is not read as a path, nor the words around a path as part of it.
_LOWER_WORD = (r"(?!(?:and|or|then|to|the|a|an|for|on|in|at|with|it|them|this|that|you|your|go|open|click|select|"
               r"tap|save|check)\b)[a-z0-9][\w&'/+-]{0,100}")  # bounded: "1-1-1-..." is tried from every digit
_LOWER_SEGMENT = rf"{_LOWER_WORD}(?:[ ]{_LOWER_WORD}){{0,2}}"
_LOWER_PATH = re.compile(rf"(?<!\w){_LOWER_SEGMENT}(?:\s*{_ARROW}\s*{_LOWER_SEGMENT}){{2,}}")
# Steps parted by a spaced slash or bar, three or more ("Dashboard / Integrations / Xtime",
# "Dashboard | Integrations | Xtime"): a menu path in another spelling when it starts where a
# source's path starts (SourceFacts.supports); otherwise a list ("Xtime / CDK / Reynolds",
# "Mon / Wed / Fri"). Two steps name a choice ("Email / SMS").
_SPACED_SEP = re.compile(r"(?<![ ])[ ]+[/|][ ]+")  # from a run's first space only: a long run of spaces is linear
# Words that send the reader somewhere, just before such steps: they are a path then, whatever
# step they start with ("Go to Settings / Call Forwarding / Reset Carrier"). "Open" only as a verb:
# "we're open Mon / Wed / Fri" names days.
_SENT_THERE = re.compile(r"(?:\b(?:go|navigate|head(?:\s+over)?)\s+to|\bunder|(?<!\bre\s)(?<!\bare\s)(?<!\bis\s)"
                         r"(?<!\bbe\s)(?<!\bstay\s)\bopen)\s+(?:the\s+)?$", re.IGNORECASE)
_SPACED_PATH = re.compile(rf"{_SEGMENT}(?:[ ]+[/|][ ]+{_SEGMENT}){{2,}}")
# Steps parted by another sign, the same all along, three or more: a slash between capitalised steps
# ("Dashboard/Settings/Holiday Mode"), a spaced dash ("Dashboard - Settings - Holiday Mode") or a
# colon ("Dashboard: Account: Billing: Usage"). As a spaced slash: a path where a source's path
# starts, otherwise a list ("Sales - Service - Parts", "Mon/Wed/Fri"). A step's words have no "/".
_OTHER_SEP = re.compile(r"(?<=\w)/(?=[A-Z0-9])|(?<![ ])[ ]+[-–—][ ]+|:[ ]+")  # a pre-check: most texts have none
_STEP_WORD = r"[A-Z0-9](?:[\w&'+-]|\.(?=\w)){0,100}"
_STEP = rf"{_STEP_WORD}(?:[ ](?:&[ ])?{_STEP_WORD}){{0,9}}"
_OTHER_PATH = re.compile(rf"{_STEP}(?P<sep>/|[ ]+[-–—][ ]+|:[ ]+){_STEP}(?:(?P=sep){_STEP})+")
# A control a reply tells the reader to use, named in bold or quotes with a capital, as controls
# are ("Click **Force Resync**", 'press "Resync now"'): a control no source names is invented, as
# an unsupported path is. "select **one** of the two" emphasises a word and names no control.
_CONTROL = re.compile(
    r"\b(?:click|tap|press|select|choose|hit|toggle|enable|disable|(?:switch|turn)\s+(?:on|off))\s+(?:on\s+)?"
    r"(?:the\s+)?(?:\*\*|__|\"|“)(?P<name>(?-i:[A-Z0-9])[^*_\"“”\n]{1,39}?)(?:\*\*|__|\"|”)",
    re.IGNORECASE)
# A promise of money back or off ("PAM support refunds your setup fee", "we will credit your
# account", "the fee will be waived", "at no extra cost"): a commitment only a source may make,
# keyed by its root word. A promise is the word said as one: after "will", "'ll", "can", "be"
# and the like in the six words before it, or as a verb on "your"/"the" ("refunds your fee");
# not denied in the two words before it ("cannot issue refunds", "will not refund"). So "questions
# about refunds are handled by the account team" and a source's "never promise a credit" promise
# nothing, and back nothing. Not credit in its finance sense ("credit card", "credit score").
_PROMISE = re.compile(
    r"\b(?:(?P<refund>refund\w*)|(?P<credit>credit(?:s|ed|ing)?\b(?!\s+(?:cards?|scores?|checks?|applications?|"
    r"apps?|reports?|unions?|history|limits?|lines?|ratings?|approvals?|bureaus?|pulls?|inquir\w*|worth\w*|terms?)\b))|"
    r"(?P<waive>waiv(?:e|es|ed|ing)\b)|(?P<reimburse>reimburs\w*)|(?P<compensate>compensat\w*)|(?P<discount>discount\w*)|"
    r"(?P<free>free\s+of\s+(?:charge|cost)|at\s+no\s+(?:extra\s+|additional\s+)?(?:cost|charge)|"
    # "the first month is on us" (not "count on us"), "your money back", "it costs you nothing"
    r"(?:is|are|'s|’s|be)\s+on\s+us\b|money[\s-]+back\b|costs?\s+(?:you\s+)?nothing\b))", re.IGNORECASE)
_COMMITS = {"will", "shall", "can", "could", "would", "be", "been", "get", "gets", "receive", "issue", "issues", "give",
            "offer", "apply", "process", "send", "owe", "going"}
_DENIES = {"not", "never", "no", "cannot", "unable", "without"}
# After the word: a verb on something ("refunds your fee") or a statement that it is given
# ("credits of $250 apply", "refunds are issued within 5 days").
_ON_SOMETHING = re.compile(r"\s+(?:(?:your|the|you|this|that|it|all|any|our|their)\b|(?:of\s+\S+\s+)?(?:apply|applies|"
                           r"(?:are|is|will\s+be|get|gets)\s+(?:applied|issued|given|paid|granted|available)))\b",
                           re.IGNORECASE)


def _promised(clean: str, m: re.Match) -> bool:
    """Whether the promise word at ``m`` is said as a promise (see _PROMISE)."""
    before = [w.lower() for w in re.findall(r"[\w'’]+", clean[max(0, m.start() - 80):m.start()])[-6:]]
    if any(w in _DENIES or w.endswith(("n't", "n’t")) for w in before[-2:]):
        return False
    if m.lastgroup == "free":
        return True
    return (any(w in _COMMITS or w.endswith(("'ll", "’ll")) for w in before)
            or _ON_SOMETHING.match(clean, m.end()) is not None)
# Words a path's last segment may add ("the Usage page"): what it is, not where it leads.
_UI_NOUNS = {"page", "tab", "screen", "menu", "section", "panel", "view", "button", "link", "option", "toggle",
             "field", "card", "list", "window", "dialog", "settings"}
# "Open Dashboard > ..." at the start of a sentence: the verb is not part of the path.
_LEADING_VERB = re.compile(r"^(?:open|click|select|choose|tap|visit|under|in|from|use|see|check|navigate)\s+(?=\S)", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[*]?[A-Z0-9])")
# An amount in any currency (staff-only approval amounts compare by currency and value).
# "$500", "500 USD", "USD 500", "500 dollars", "500 euros" are amounts alike.
_ANY_MONEY = re.compile(rf"(?:{_MONEY_DIGITS})")


def _number(text: str) -> float | None:
    text = " ".join(text.lower().split())
    if text in _WORD_NUMBERS:
        return float(_WORD_NUMBERS[text])
    if re.fullmatch(_BIG_WORD_NUM, text):
        return float(_big_word_number(text))
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


def _big_word_number(text: str) -> int:
    """The value of a number in words with "hundred" or "thousand" in it (``_BIG_WORD_NUM``)."""
    total = current = 0
    for word in text.replace("-", " ").split():
        if word == "and":
            continue
        if word == "thousand":
            total, current = total + max(current, 1) * 1000, 0
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word not in ("a", "one") or current:  # "a"/"one" before hundred or thousand is 1
            current += _WORD_NUMBERS[word]
        else:
            current = 1
    return total + current


def _money_value(text: str) -> float | None:
    m = re.search(_NUM, text)
    if not m:  # "fifty dollars"
        words = re.sub(r"\s*(?:dollars?|euros?|pounds)\b.*$", "", text.strip().lower(), flags=re.IGNORECASE)
        return _number(words)
    value = _number(m.group())
    if value is not None and re.search(r"\d\s?[kK]\b", text):
        value *= 1000
    return value


@dataclass(frozen=True)
class Fact:
    """One checkable fact: its kind, canonical key, and the text as written."""

    kind: str  # "money" | "time" | "qty" | "code" | "num" | "path" | "when" (a time frame without a number)
    #            | "spaced_path" ("A / B / C") | "control" (a button named in bold or quotes)
    #            | "promise" (money back or off) | "link"
    key: tuple
    text: str


def _half_more(amount: str) -> str:
    value = _number(amount)
    return amount if value is None else f"{value + 0.5:g}"


def _qty_key(text: str) -> tuple | None:
    more = re.search(rf",?\s+or\s+({_AMOUNT})\s*$", text, flags=re.IGNORECASE)
    if more:  # "1 hour or two": 1 to 2 hours
        key, other = _qty_key(text[: more.start()]), _number(more.group(1))
        return None if key is None or other is None else (min(key[0], other), max(key[1], other), key[2])
    text, half = re.subn(r"\s+and\s+a\s+half\s*$", "", text.strip(), flags=re.IGNORECASE)
    key = _unit_key(text)
    if key is None or not half:
        return key
    # "1 hour and a half" is 1.5 hours; "2-3 weeks and a half" reads as 2 to 3.5 weeks
    return (key[0] + 0.5 if key[0] == key[1] else key[0], key[1] + 0.5, key[2])


def _unit_key(text: str) -> tuple | None:
    unit_match = re.search(rf"(?:{_UNIT})$", text.strip(), re.IGNORECASE)
    if not unit_match:
        return None
    unit = _UNIT_OF.get(unit_match.group().lower())
    if unit is None:  # a look-alike letter fold_width does not know: no unit we can compare
        return None
    head = text[: unit_match.start()].strip().rstrip("-").strip()
    # "one and a half", "1½": the number and a half, written as digits before "and" splits a range
    head = re.sub(rf"({_AMOUNT}){_HALF}", lambda m: _half_more(m.group(1)), head, flags=re.IGNORECASE)
    if re.fullmatch(rf"(?:{_FRAME_LEAD}\s+)?an?", head.strip(), re.IGNORECASE):
        return (1.0, 1.0, unit)  # "within a day"
    # One number ("twenty-four", "one hundred and twenty"), or a range: "24-48", "one-two",
    # "one to two", "2 and 3".
    whole = _number(head)
    if whole is not None:
        return (whole, whole, unit)
    parts = [p for p in re.split(r"\s*(?:–|—|\bto\b|\band\b)\s*", head) if p]
    parts = [q for p in parts for q in ([p] if _number(p) is not None else re.split(r"\s*-\s*", p)) if q]
    values = [_number(p) for p in parts]
    if not values or any(v is None for v in values):
        return None
    return (min(values), max(values), unit)


def _time_key(text: str) -> tuple:
    m = re.match(r"(\d{1,2})(?::(\d{2}))?\s?([ap])", text.strip(), re.IGNORECASE)
    hour, minute, half = int(m.group(1)) % 12, int(m.group(2) or 0), m.group(3).lower()
    return (hour + (12 if half == "p" else 0), minute)


def facts(text: str) -> list[Fact]:
    """The numbers, amounts, time frames, codes, menu paths and links stated in ``text``."""
    clean = _EMPHASIS.sub("", text)
    out: list[Fact] = []
    arrowed = _ARROW_SEEN.search(clean) is not None  # no arrow, no path: two long scans saved
    spans = [m.span() for m in _PATH.finditer(clean)] if arrowed else []
    on_a_path = Taken(len(clean))
    for span in spans:
        on_a_path.take(*span)
    spans += [m.span() for m in _LOWER_PATH.finditer(clean) if on_a_path.free(*m.span())] if arrowed else []
    for start, end in spans:
        parts = [p.strip().rstrip(".") for p in _ARROWS.split(clean[start:end]) if p.strip()]
        parts[0] = _LEADING_VERB.sub("", parts[0]) or parts[0]
        if not all(re.search(r"[^\W\d_]", p) for p in parts):  # a menu step has a name: "4.1 => 4.2" is none
            continue
        out.append(Fact("path", tuple(p.lower() for p in parts), " > ".join(parts)))
    for m in (_SPACED_PATH.finditer(clean) if _SPACED_SEP.search(clean) else ()):  # most texts have no " / "
        if not on_a_path.free(*m.span()):
            continue
        parts = [p.strip().rstrip(".") for p in _SPACED_SEP.split(m.group()) if p.strip()]
        parts[0] = _LEADING_VERB.sub("", parts[0]) or parts[0]
        if all(re.search(r"[^\W\d_]", p) for p in parts):
            # after "go to", "navigate to", "under", "open" (not "we're open"): a path however it starts
            kind = "path" if _SENT_THERE.search(clean[max(0, m.start() - 40):m.start()]) else "spaced_path"
            out.append(Fact(kind, tuple(p.lower() for p in parts), " > ".join(parts)))
    for m in (_OTHER_PATH.finditer(clean) if _OTHER_SEP.search(clean) else ()):
        if not on_a_path.free(*m.span()):
            continue
        parts = [p.strip().rstrip(".") for p in m.group().split(m.group("sep")) if p.strip()]
        parts[0] = _LEADING_VERB.sub("", parts[0]) or parts[0]
        if all(re.search(r"[^\W\d_]", p) for p in parts):
            out.append(Fact("spaced_path", tuple(p.lower() for p in parts), " > ".join(parts)))
    for m in _CONTROL.finditer(text):
        name = " ".join(m.group("name").split())
        out.append(Fact("control", (name.lower(),), name))
    for m in _PROMISE.finditer(clean):
        if _promised(clean, m):
            out.append(Fact("promise", (m.lastgroup,), m.group()))
    future = None  # whether the text speaks of what will be: read once, at the first "today"
    for m in _WHEN.finditer(clean):
        if m.group().lower().startswith("at") and _TOGETHER.search(clean[max(0, m.start() - 40):m.start()]):
            continue  # "answers two calls at once": together, not a time frame
        if m.group("deictic") and future is None:
            future = _FUTURE.search(clean) is not None
        if m.group("deictic") and not future:
            continue  # "the calls you missed this morning": when something was, no promise
        if m.group("vague"):
            unit = _UNIT_OF[m.group("vague_unit").lower()]
            out.append(Fact("when", ("within", unit), m.group().strip()))
            continue
        out.append(Fact("when", _when_key(m.group()), m.group().strip()))
    for link in links(clean):
        out.append(Fact("link", (_link_key(link),), link))
    for m in _FACT.finditer(clean):
        kind = m.lastgroup
        raw = m.group()
        if kind == "money":
            key = _money_key(raw)
        elif kind == "time":
            key = _time_key(raw)
        elif kind == "clock":  # 17:30, kept with the am/pm times: 5:30 PM backs it
            hour, minute = raw.split(":")
            kind, key = "time", (int(hour), int(minute))
        elif kind in ("qty", "frame"):
            kind = "qty"
            key = _qty_key(raw)
            if key is None:
                continue
        elif kind == "code":
            key = (raw.lower(),)
        else:  # "num", "wnum": a number, in digits or in words
            kind, key = "num", (_number(raw),)
        out.append(Fact(kind, key, raw.strip()))
    return out


class SourceFacts:
    """Everything the sources state, indexed for the support checks."""

    def __init__(self, sources: Iterable[str]):
        self.money: set = set()
        self.times: set = set()
        self.qty: set = set()
        self.codes: set = set()
        self.numbers: set = set()
        self.paths: list[tuple] = []
        self.whens: set = set()
        self.promises: set = set()
        self.text = ""
        # A numbered step's marker ("3. Click Save") is not a stated number: without this any
        # bare number up to the length of a list would count as backed.
        texts = [_STEP_NUMBER.sub("", _EMPHASIS.sub("", s)) for s in sources]
        self.text = " ".join(" ".join(texts).lower().split())
        self.links = {_link_key(link) for t in texts for link in links(t)}
        self.text_words = " ".join(re.findall(r"[a-z0-9]+", self.text))
        for t in texts:
            for f in facts(t):
                if f.kind == "money":
                    self.money.add(f.key)  # (currency, value): "$80" backs no "€80"
                    self.numbers.add(f.key[1])
                elif f.kind == "time":
                    self.times.add(f.key)
                elif f.kind == "qty":
                    self.qty.add(f.key)
                    self.numbers.update(f.key[:2])
                elif f.kind == "code":
                    self.codes.add(f.key[0])
                elif f.kind in ("path", "spaced_path"):  # a source's slashes name its path
                    self.paths.append(f.key)
                elif f.kind == "when":
                    self.whens.add(f.key)
                elif f.kind == "promise":
                    self.promises.add(f.key)
                elif f.kind == "num":
                    self.numbers.add(f.key[0])
            # Every number written anywhere, also inside codes and dates, can back a bare number.
            self.numbers.update(_number(n) for n in re.findall(_NUM, t))

    def supports(self, fact: Fact) -> bool:
        if fact.kind == "money":
            return fact.key in self.money
        if fact.kind == "time":
            return fact.key in self.times
        if fact.kind == "qty":
            lo, hi, unit = fact.key
            if fact.key in self.qty:
                return True
            # "48 hours" is backed by "24-48 hours"; a range needs the range.
            return lo == hi and any(u == unit and lo in (a, b) for a, b, u in self.qty)
        if fact.kind == "code":
            return fact.key[0] in self.codes or fact.key[0] in self.text
        if fact.kind == "num":
            return fact.key[0] in self.numbers
        if fact.kind == "path":
            return any(_sub_path(fact.key, src) for src in self.paths)
        if fact.kind == "spaced_path":  # a path only where it starts as a source's path does
            heads = {src[0] for src in self.paths} | {src[0].split()[-1] for src in self.paths}
            return fact.key[0] not in heads or any(_sub_path(fact.key, src) for src in self.paths)
        if fact.kind == "control":  # named anywhere in a source, in bold or not ("Click Save")
            return f" {' '.join(re.findall(r'[a-z0-9]+', fact.key[0]))} " in f" {self.text_words} "
        if fact.kind == "promise":
            return fact.key in self.promises
        if fact.kind == "link":  # the same link, or its site when a source gives a page of it
            key = fact.key[0]
            if key in self.links or any(link.startswith(key + "/") for link in self.links):
                return True
            # a file a source names in its folder ("Downloads/recordings.zip" backs "recordings.zip")
            return ("/" not in key and key.rpartition(".")[2] in _FILE_TLDS
                    and any(link.endswith("/" + key) for link in self.links))
        if fact.kind == "when" and fact.key[0] == "within":  # "within minutes": only "in (a matter of) minutes"
            return fact.key in self.whens
        if fact.kind == "when":
            # Said in other words is still said: "next-day activation" backs "the next day", "on
            # Monday" backs "by Monday".
            return fact.key in self.whens or f" {fact.key[0]} " in f" {self.text_words} "
        return True


def _sub_path(answer: tuple, source: tuple) -> bool:
    """True when the answer's path is a contiguous run of the source path's segments.

    The first segment may carry a leading verb ("Open Settings") and the last a
    trailing word naming what it is ("Usage page", not "Xtime Force Resync"), so they
    match by suffix and prefix.
    """
    n = len(answer)
    for i in range(len(source) - n + 1):
        window = source[i : i + n]
        if all(
            a == s
            or (k == 0 and (a.endswith(" " + s) or s.endswith(" " + a)))
            or (k == n - 1 and ((a.startswith(s + " ") and a[len(s) + 1:] in _UI_NOUNS) or s.startswith(a + " ")))
            for k, (a, s) in enumerate(zip(answer, window))
        ):
            return True
    return False


# ---------------------------------------------------------------- staff-only strings

_CODE = re.compile(r"\b[A-Z]{2,6}-\d{2,6}(?:-[A-Z0-9]{1,6})*\b")
_SNAKE_CODE = re.compile(r"\b[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)+\b")
# A mailbox name is at most 64 characters and a host label 63, as the standards have it, and a
# host name at most 30 labels (real ones have a handful): unbounded, a long run with no "@" or no host end was
# rescanned from each word of it ("a.a.a...": quadratic time). A host may start after a dot or
# a dash ("Wait...tools.ops.pam.ai", "try -tools.ops.pam.ai").
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_HOST = re.compile(r"\b(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.){1,30}[a-z][a-z0-9-]{0,61}[a-z0-9]\b", re.IGNORECASE)
_CHANNEL = re.compile(r"(?<![\w&#/])#[a-z0-9][a-z0-9._-]*[a-z0-9](?![\w-])")
_INTERNAL_LABELS = {"internal", "intranet", "corp", "local", "lan", "ops", "admin", "staging", "stage", "dev", "vpn",
                    "priv", "private", "int", "console"}
_PUBLIC_MAILBOXES = {"support", "help", "info", "hello", "contact", "sales", "noreply", "no-reply", "team"}
_APPROVAL = re.compile(r"approv|sign[\s-]?off|authori[sz]|without\s+(?:asking|approval)|must\s+approve", re.IGNORECASE)
_FILE_SUFFIXES = {"md", "txt", "pdf", "csv", "json", "yaml", "yml", "png", "jpg", "html", "py", "e.g", "i.e"}


def _internal_host(host: str) -> bool:
    labels = host.lower().split(".")
    if labels[-1] in _FILE_SUFFIXES or len(labels) < 2 or labels[-1].isdigit():
        return False
    return any(
        label in _INTERNAL_LABELS or label.endswith(("-internal", "-admin", "-ops", "-corp", "-intranet"))
        or label.startswith(("internal-", "admin-", "ops-"))
        for label in labels
    )


def staff_only_strings(text: str) -> list[str]:
    """Tokens in an internal runbook that must never reach a customer.

    Override and reference codes (``OVR-7731-XT``, ``ABC-1234``, ``BRAND_EIN_MISMATCH``),
    internal hostnames (``*.internal``, ``*.corp``, ``*.local``, ``*-internal.*``,
    ``*.ops.*``), Slack channels (``#billing-approvals``), staff email addresses and the
    dollar amounts of approval rules ("credits above $500 need approval").

    >>> staff_only_strings("Use OVR-4410-PZ on callhealth.ops.pam-internal.net, post in #p0-war-room.")
    ['OVR-4410-PZ', 'callhealth.ops.pam-internal.net', '#p0-war-room']
    """
    found: dict[str, None] = {}  # in order found, each once

    def add(token: str) -> None:
        found.setdefault(token)

    emails = list(_EMAIL.finditer(text))
    in_email = Taken(len(text))
    for m in emails:
        in_email.take(*m.span())
    for m in _CODE.finditer(text):
        add(m.group())
    for m in _SNAKE_CODE.finditer(text):
        add(m.group())
    for m in _HOST.finditer(text):
        if in_email.at(m.start()):
            continue
        if _internal_host(m.group()):
            add(m.group())
    for m in _CHANNEL.finditer(text):
        name = m.group()[1:]
        if re.search(r"[a-z]", name, re.IGNORECASE) and not re.fullmatch(r"[0-9a-f]{3}|[0-9a-f]{6}", name, re.IGNORECASE):
            add(m.group())
    for m in emails:
        local, _, domain = m.group().partition("@")
        if _internal_host(domain) or local.lower() not in _PUBLIC_MAILBOXES:
            add(m.group())
    for line in text.splitlines():
        if _APPROVAL.search(line):
            for m in _ANY_MONEY.finditer(line):
                if m.group().startswith("$"):  # other currencies only where no customer runbook has them
                    add(m.group().replace(" ", ""))
    return list(found)


# Broader identifier shapes, for internal runbooks written another way than the sample's.
# They are staff-only only where no customer runbook uses them too (``staff_identifiers``).
_CAPS_CODE = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b")            # ZEBRA-OWNER-77 (needs a digit)
_DIGIT_CODE = re.compile(r"(?<![\w-])\d{3,}-\d{3,}(?:-\d+)*(?![\w-])")  # PIN 480-2219
_URL = re.compile(r"\bhttps?://[^\s<>()\[\]`*\"']+", re.IGNORECASE)
_CODE_SPAN = re.compile(r"`([^`\n]{2,120})`")
_FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]+")  # a command-line flag written without code marks
# Code marks around a command, a flag, a path, snake_case, CamelCase or a code with a digit;
# not around plain words ("`Save changes`", "`Reset`"), which are only UI labels.
_IDENTIFIER_SPAN = re.compile(r"\d|_|=|--|(?:^|\s)-\w|/|<|\w\.\w|[a-z][A-Z]")


def identifier_strings(text: str) -> list[str]:
    """Identifier-shaped strings of a runbook that ``staff_only_strings`` may miss: dashed codes
    with a digit (``ZEBRA-OWNER-77``), dashed digit groups (``480-2219``), URLs and their hosts,
    command-line flags (``--fleet``), inline code that is a command, flag or identifier (`` `fwctl rollback --to 4.2.7` ``,
    `` `UnlockConnector` ``; not a plain word such as `` `Reset` ``), and amounts in any
    currency on approval lines (``€150``). Not staff-only by shape alone: the pipeline keeps
    those no customer runbook uses (``staff_identifiers``).

    >>> identifier_strings("PIN 480-2219 at https://gw.example.net/c; send `Reset` or `fwctl --hard`")
    ['480-2219', 'https://gw.example.net/c', 'gw.example.net', '--hard', 'fwctl --hard']
    """
    found: list[str] = []

    def add(token: str) -> None:
        token = token.strip().rstrip(".,;:")
        if len(token) >= 3 and token not in found:
            found.append(token)

    for m in _CAPS_CODE.finditer(text):
        if re.search(r"\d", m.group()):
            add(m.group())
    for m in _DIGIT_CODE.finditer(text):
        add(m.group())
    for m in _URL.finditer(text):
        url = m.group().rstrip(".,;:")
        add(url)
        add(re.sub(r"^https?://", "", url, flags=re.IGNORECASE).split("/")[0].split(":")[0])
    for m in _FLAG.finditer(text):
        add(m.group())
    for m in _CODE_SPAN.finditer(text):
        span = m.group(1).strip()
        if _IDENTIFIER_SPAN.search(span) and re.search(r"[A-Za-z]", span):
            add(span)
            head = span.split()[0]  # "rotate-master --tower <serial>": the command is staff-only alone too
            if head != span and re.search(r"[A-Za-z]", head) and re.search(r"\w[-_.]\w|\d", head):
                add(head)
    for line in text.splitlines():
        if _APPROVAL.search(line):
            for m in _ANY_MONEY.finditer(line):
                add(m.group())
    return found


_CURRENCY_OF = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "dollar": "USD", "dollars": "USD", "euro": "EUR",
                "euros": "EUR", "pounds": "GBP"}


def _money_key(text: str) -> tuple[str, float | None]:
    """(currency, value) of an amount: "$150" and "150 USD" are one amount, "150 EUR" another."""
    code = re.search(rf"[$€£¥]|\b(?:{_CURRENCY_CODES}|dollars?|euros?|pounds)\b", text, re.IGNORECASE)
    currency = _CURRENCY_OF.get(code.group().lower(), code.group().upper()) if code else "USD"
    return currency, _money_value(text)


def _is_amount(token: str) -> bool:
    """Whether a staff-only token is an amount (compared by value: "$150" is "$ 150.00")."""
    return _ANY_MONEY.fullmatch(token) is not None


def staff_identifiers(internal_texts: Iterable[str], customer_texts: Iterable[str]) -> list[str]:
    """``identifier_strings`` of the internal runbooks that no customer runbook contains
    (compared folded and in lower case): what only staff material names."""
    customer = fold(" ".join(customer_texts)).lower()
    found: dict[str, None] = {}
    for text in internal_texts:
        for token in identifier_strings(text):
            if fold(token).lower() not in customer:
                found.setdefault(token, None)
    return list(found)


# What may stand between a staff-only token's parts, whatever its own separators were: any run of
# signs ("OVR•7731•XT", "OVR:7731:XT", "OVR--7731--XT", "TOKEN.EXPIRED"; before, only "_./-" and
# spaces), with spaces too where spaces cannot make it English. At most seven, so a long run of
# signs is scanned in linear time.
_SIGNS = r"(?:[^\w\s]|_){1,7}"
_SIGNS_OR_SPACES = r"[\W_]{1,7}"
_TOKEN_PIECES = re.compile(r"[\W_]+")


def _token_regex(token: str, channel: bool = False) -> str:
    """A staff-only token in any separator spelling: OVR-7731-XT as OVR 7731 XT, ovr_7731_xt or
    OVR•7731•XT; TOKEN_EXPIRED as token.expired, or as TOKEN EXPIRED in its own case (in lower
    case, "the token expired" is ordinary English); a channel's name with spaces about its signs
    ("# integ - escalations"). Signs before or after the token stay as written ("/var/log").

    >>> bool(re.fullmatch(_token_regex("OVR-7731-XT"), "OVR+7731+XT"))
    True
    """
    if token.startswith("#") and re.search(r"\w[_-]\w", token):  # "# integ-escalations"; "# billing" is prose
        return r"\#\s{0,2}" + _token_regex(token[1:], channel=True)
    if re.search(r"\s|--", token):  # a command with its flags: as written, any run of spaces
        return r"\s+".join(re.escape(word) for word in token.split())
    lead, body, trail = re.fullmatch(r"([\W_]*)(.*?)([\W_]*)", token, re.DOTALL).groups()
    parts, seps = _TOKEN_PIECES.split(body), _TOKEN_PIECES.findall(body)
    if len(parts) < 2:
        return re.escape(token)

    def joined(gap: str, dash_optional: bool = False) -> str:
        out = re.escape(lead) + re.escape(parts[0])
        for sep, part in zip(seps, parts[1:]):
            out += f"(?:{gap})" + ("?" if dash_optional and re.fullmatch(r"[_-]+", sep) else "") + re.escape(part)
        return out + re.escape(trail)

    if any(ch.isdigit() for ch in token):  # OVR-7731-XT as OVR 7731 XT, OVR/7731/XT, OVR - 7731 - XT, OVR7731XT
        return joined(_SIGNS_OR_SPACES, dash_optional=True)
    if channel:
        return joined(rf"\s{{0,3}}{_SIGNS}\s{{0,3}}")
    if token.lower() == token:  # check_availability, modem-reset: spaced, that is ordinary English
        return joined(_SIGNS)
    return rf"(?:{joined(_SIGNS)}|(?-i:{joined(_SIGNS_OR_SPACES)}))"


def _contains_staff(text: str, token: str) -> bool:
    """Whether ``text`` (folded) holds the staff-only ``token``: case-insensitive, whole token, any
    separator between its parts, any spelling of an amount."""
    if _is_amount(token):
        key = _money_key(token)
        return any(_money_key(m.group()) == key for m in _ANY_MONEY.finditer(text))
    return re.search(rf"(?<![\w#-]){_token_regex(token)}(?![\w-])", text, re.IGNORECASE) is not None


@lru_cache(maxsize=16)
def _staff_pattern(tokens: tuple[str, ...]) -> re.Pattern | None:
    """One pattern for every non-amount token: a sentence that matches none is clean (a fast pre-check)."""
    words = sorted((_token_regex(t) for t in tokens if t and not _is_amount(t)), key=len, reverse=True)
    if not words:
        return None
    return re.compile(rf"(?<![\w#-])(?:{'|'.join(words)})(?![\w-])", re.IGNORECASE)


_MARKUP = re.compile(r"\\(?=[^\w\s]|_)|\*\*|__|`|(?<=\w)\*(?=\w)")
_DEFANGED_DOT = re.compile(r"[\[({]\s*(?:\.|dot)\s*[\])}]", re.IGNORECASE)
# "dot" between two names ("xsync dot ops dot pam-internal dot net"): as a reader of a host takes it.
_SAID_DOT = re.compile(r"(?<=\w)\s+dot\s+(?=\w)", re.IGNORECASE)


# A run of single characters spaced out ("O V R - 7 7 3 1"); two or more spaces part its words.
# It may stand in brackets or quotes, or end a sentence ("T O K E N _ E X P I R E D." was not joined).
_SPACED_OUT = re.compile(r"(?<![^\s(\[\"'])[\w./-](?: {1,3}[\w./-]){5,}(?=[.,;:!?)\]\"']*(?!\S))")


def _as_plain(text: str) -> str:
    """``text`` folded, with Markdown escapes and emphasis gone and defanged dots restored
    ("ops[.]pam-internal(dot)net", and full stops of other scripts: "xsync。ops")."""
    return _DEFANGED_DOT.sub(".", _MARKUP.sub("", fold(text)).translate(_ODD_DOTS))


# Digits said as words, two or more in a row: "OVR seven seven three one XT" is OVR 7731 XT.
_DIGIT_WORD_RUN = re.compile(rf"\b(?:{DIGIT_WORD})(?:[ -](?:{DIGIT_WORD})){{1,11}}\b", re.IGNORECASE)


def _as_read(text: str) -> str:
    """``text`` as a reader sees it: folded, Markdown escapes and emphasis gone ("TOKEN\\_EXPIRED",
    "**OVR**-**7731**"), defanged dots restored ("ops[.]pam-internal[.]net"), look-alike Cyrillic
    and Greek letters read as Latin ("ОVR" with Cyrillic О), spaced-out characters joined
    ("O V R - 7 7 3 1"), a said "dot" as "." ("xsync dot ops") and digits said as words written
    as digits ("seven seven three one")."""
    text = _SAID_DOT.sub(".", join_spaced(_SPACED_OUT, _as_plain(text).translate(LOOKALIKES)))
    return _DIGIT_WORD_RUN.sub(lambda m: "".join(DIGIT_WORDS[w.lower()] for w in re.split(r"[ -]", m.group())), text)


def staff_tokens_in(text: str, staff_only: Sequence[str]) -> list[str]:
    """The staff-only tokens ``text`` holds, in their given order (see _contains_staff)."""
    text = _as_read(text)
    tokens = tuple(staff_only)
    pattern = _staff_pattern(tokens)
    words = pattern is not None and pattern.search(text) is not None
    amounts = _ANY_MONEY.search(text) is not None
    if not (words or amounts):
        return []
    return [t for t in tokens if t and (amounts if _is_amount(t) else words) and _contains_staff(text, t)]


def mask_staff_only(text: str, staff_only: Sequence[str], mask: str = "[staff-only]") -> str:
    """``text`` with every staff-only token in it replaced by ``mask`` (for notes and rationales).

    >>> mask_staff_only("output guard: staff_only:OVR-1234-AB; over $500", ["OVR-1234-AB", "$500"])
    'output guard: staff_only:[staff-only]; over [staff-only]'
    """
    found = staff_tokens_in(text, staff_only)
    if not found:
        return text
    # Masked on the text with escapes and defanged dots undone; only when a token hides in look-alike
    # letters or spaced out is the whole text rewritten as read (other words would change too).
    for read in (_as_plain, _as_read):
        masked = read(text)
        for token in sorted(found, key=len, reverse=True):  # a whole command before its flags
            if _is_amount(token):
                key = _money_key(token)
                masked = _ANY_MONEY.sub(lambda m, key=key: mask if _money_key(m.group()) == key else m.group(), masked)
            else:
                masked = re.sub(rf"(?<![\w#-]){_token_regex(token)}(?![\w-])", mask, masked, flags=re.IGNORECASE)
        if not staff_tokens_in(masked, found):
            return masked
    return masked


# ---------------------------------------------------------------- the guard


def without_citations(text: str, source_ids: Iterable[str] | None = None) -> str:
    """``text`` with its citation markers blanked: markers ``CITATION_RE`` reads whose every id is
    one of ``source_ids``, the sources the answer was given. Any other bracket is text: before,
    every "[...]" up to 80 characters was taken out unread, and "[full guide: https://...]",
    "[Dashboard > Settings > Holiday Mode]" or "[free of charge, live by tomorrow]" went to a
    customer unchecked. Without ``source_ids`` a marker is one when its ids state nothing but a
    bare number or code ("[2]", "[rb-billing]", "[T-1025]"): "[evil-pam.com]", "[48h]" and
    "[tomorrow]" are a link, a time frame and a promise of when.

    >>> without_citations("Click Save [rb-hours]. Live [by tomorrow] [rb-x].", ["rb-hours"])
    'Click Save  . Live [by tomorrow] [rb-x].'
    >>> without_citations("See [2] and [evil-pam.com].")
    'See   and [evil-pam.com].'
    """
    known = None if source_ids is None else frozenset(source_ids)
    bare: dict[str, bool] = {}  # each id read once: a reply of "[a] [a] ..." is thousands of markers

    def cites(i: str) -> bool:
        if known is not None:
            return i in known
        if i not in bare:
            bare[i] = all(f.kind in ("num", "code") for f in facts(i))
        return bare[i]

    def blank(m: re.Match) -> str:
        ids = [i.strip() for i in re.split(r"[,;]", m.group(1)) if i.strip()]
        return " " if all(cites(i) for i in ids) else m.group()

    return CITATION_RE.sub(blank, text)


@dataclass
class OutputCheck:
    """What was wrong with an answer, and the answer with those pieces removed."""

    problems: list[str] = field(default_factory=list)  # "pii_echo:phone", "staff_only:OVR-7731-XT", "unsupported_number:48 hours"
    text: str = ""


def _redact_echo(text: str, finding: PiiFinding) -> str:
    value = normalized(finding.kind, finding.text)
    label = f"[{finding.kind.upper()}]"
    if finding.kind == "dob":  # every spelling of the same day
        born = {d for _, _, d in dates(finding.text)}
        for start, end, day in reversed(dates(text)):
            if day in born:
                text = text[:start] + label + text[end:]
        return text
    if finding.kind == "email":
        return re.sub(re.escape(value), label, text, flags=re.IGNORECASE)
    if finding.kind in ALNUM_KINDS:
        return re.sub(r"[\s-]?".join(map(re.escape, value)), label, text, flags=re.IGNORECASE)
    if finding.kind == "card_code":  # a short code: only where it stands as a number of its own
        return re.sub(r"(?<!\d)(?<!\d[./-])" + r"[\s./-]?".join(value) + r"(?![./-]?\d)", label, text)
    prefix = r"\(?(?:\+?1[\s.-]*\(?)?" if finding.kind == "phone" else ""
    return re.sub(prefix + r"[\s()./_-]*".join(value), label, text)


def _drop_sub_items(lines: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """``lines`` (``(text, kept)``) with what belongs to a list item the guard left out left out
    too: the lines under it indented deeper ("2. Use code OVR-...:\n   - Phone first"), to the
    next line that is not. Alone they would answer a step nobody reads, and the final strip
    would pull the first of them out to the left margin."""
    out: list[tuple[str, bool]] = []
    parent: int | None = None  # the indent of the list item left out, while its sub-items follow
    for text, kept in lines:
        indent = len(text) - len(text.lstrip())
        if parent is not None and text.strip() and indent <= parent:
            parent = None
        if parent is not None:
            out.append((text, not text.strip()))
            continue
        if not kept and (marker := _LIST_MARKER.match(text)) and text[marker.end():].strip():
            parent = indent
        out.append((text, kept))
    return out


def _renumber(lines: list[tuple[str, bool]]) -> list[str]:
    """The kept lines (``(text, kept)`` in order), numbered lists that lost a step renumbered:
    "1. Open admin.internal ...\n2. Click Save" becomes "1. Click Save", not a list that
    starts at 2. A list is the numbered lines of one indent that count up by one from where
    it starts (any number; a 1 starts another list), "1." or "Step 1:" alike. A numbered line is no step when its number
    does not follow, or when the line before it does not end a sentence ("The new sender is used
    from day\n3. Messages ..." is one sentence): renumbering it would write a number no source
    states. Fenced code is never touched. An answer that refers to its steps by number ("repeat
    step 2", "the second step") keeps the numbers as written, as does every list the guard took
    nothing from. Where it is unsure it leaves a number as written."""
    kept_lines = [text for text, kept in lines if kept]
    # A line's own "Step 3:" is its marker, no reference to a step.
    if len(kept_lines) == len(lines) or any(
            _STEP_REFERENCE.search(text[m.end():] if (m := _NUMBERED_STEP.match(text)) else text) for text in kept_lines):
        return kept_lines
    out: list[str] = []
    runs: dict[tuple, list[int]] = {}  # (indent, "Step N") -> [last number written, steps the list has lost]
    fence, before = "", ""  # the open fence's character; the last line that was not blank
    for text, kept in lines:
        step = None if fence else _NUMBERED_STEP.match(text)
        if step and before and not ENDS_A_LINE.search(before):
            step = None
        fence, opened = after_fence(text, fence)
        if step:
            kind, written = (step["indent"], bool(step["word"])), int(step["number"])
            run = runs.get(kind)
            if run is not None and written == run[0] + 1:
                run[0] = written
            elif run is None or written == 1:
                run = runs[kind] = [written, 0]
            else:
                step = None
        if step and not kept:
            run[1] += 1
        elif step and run[1]:
            text = f"{step['indent']}{step['word'] or ''}{int(step['number']) - run[1]}{step['mark']}{text[step.end():]}"
        if kept:
            out.append(text)
        # The line before a number: a fence, heading or table row ends it; a list item the guard left
        # out (a step, or a sub-item that went with it) is not there to run on into the number.
        if text.strip() and (kept or not _LIST_MARKER.match(text)):
            before = "" if opened or text.lstrip().startswith(("#", "|")) else text
    return out


class OutputGuard:
    """Removes what an answer must not say; reports each removal as a problem.

    Sentences holding a staff-only string or a fact the sources do not state are
    dropped whole (a half sentence reads worse than none); echoed personal data is
    replaced by its kind. An empty ``text`` means nothing safe was left, and the
    caller should escalate. Pass the request text among ``sources`` when the answer
    may repeat its numbers (a request ID, a call time), and the sources' ids as
    ``source_ids``: only markers citing them are no claims (see ``without_citations``).

    >>> OutputGuard().run("Use code OVR-1234-AB. Open Settings.", request_findings=[],
    ...                   sources=["Open Settings."], staff_only=["OVR-1234-AB"]).problems
    ['staff_only:OVR-1234-AB']
    """

    def run(
        self,
        answer: str,
        *,
        request_findings: list[PiiFinding],
        sources: list[str],
        staff_only: Sequence[str] = (),
        source_ids: Iterable[str] | None = None,
    ) -> OutputCheck:
        problems: list[str] = []
        cited = None if source_ids is None else frozenset(source_ids)

        def report(problem: str) -> None:
            if problem not in problems:
                problems.append(problem)

        # The reply as a reader sees it: full-width "＠", zero-width characters and the like folded,
        # so an echoed address or a staff-only code cannot hide in them.
        answer = fold_width(answer)
        text = answer
        for finding in echoes(answer, request_findings):
            report(f"pii_echo:{finding.kind}")
            text = _redact_echo(text, finding)
            if echoes(text, [finding]):  # spelled out or spaced, so not replaceable: nothing is sent
                text = ""

        known = SourceFacts(sources)
        lines: list[tuple[str, bool]] = []  # each line as kept, or as written when it was left out
        for line in text.split("\n"):
            marker = _LIST_MARKER.match(line)
            head, body = (line[: marker.end()], line[marker.end() :]) if marker else ("", line)
            kept = []
            for sentence in _SENTENCE.split(body):
                if self._sentence_ok(sentence, known, staff_only, cited, report):
                    kept.append(sentence)
            if kept:
                lines.append((head + " ".join(kept), True))
            else:
                lines.append((line, not body.strip()))
        cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(_renumber(_drop_sub_items(lines)))).strip()
        return OutputCheck(problems=problems, text=cleaned)

    @staticmethod
    def _sentence_ok(sentence: str, known: SourceFacts, staff_only: Sequence[str], source_ids, report) -> bool:
        ok = True
        found = staff_tokens_in(sentence, staff_only)
        for token in found:
            report(f"staff_only:{token}")
            ok = False
        # Citation markers ("[rb-billing]") are no claims; any other bracket is read as text.
        # A spelled-out address first ("pam [dot] com", "help [at] pam"): its brackets are no citation.
        for fact in facts(without_citations(_plain_spelling(sentence), source_ids)):
            if known.supports(fact):
                continue
            if found and staff_tokens_in(fact.text, found):
                continue  # already reported as staff-only (only this sentence's tokens can be in it)
            kind = {"path": "unsupported_path", "spaced_path": "unsupported_path", "control": "unsupported_path",
                    "code": "unsupported_code", "link": "unsupported_link",
                    "promise": "unsupported_promise"}.get(fact.kind, "unsupported_number")
            report(f"{kind}:{fact.text}")
            ok = False
        return ok
