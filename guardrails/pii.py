"""Personal data in a request: find it, redact it, and tell whether the request hands it over to act on.

>>> det = PiiDetector()
>>> det.redact("Charge card 4111 1111 1111 1111, call me on (212) 555-0147")
'Charge card [CARD], call me on [PHONE]'
>>> [f.kind for f in det.run("ssn 123-45-6789, mail jo@dealer.com")]
['ssn', 'email']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from guardrails import LOOKALIKES, Breaks, Taken, join_spaced

# Checked in this order; a later kind never overlaps an earlier one, so a card
# number is not also reported as a phone number.
KINDS = ("card", "card_code", "ssn", "id_number", "iban", "bank_account", "license", "dob", "email", "phone")
# Kinds nobody should paste into support: any one of them makes the request ``pii_detected``.
SENSITIVE_KINDS = ("card", "card_code", "ssn", "id_number", "iban", "bank_account", "license", "dob")
# Letters and digits only are compared for these (a passport's "X12345678", an IBAN)
ALNUM_KINDS = ("id_number", "iban", "license")

# Letters of any script in the address ("josé@..."); the text is folded first (guardrails.fold_input).
# A mailbox name is at most 64 characters, as the standard has it (an unbounded one made a long
# run with no "@" in it quadratic), and may hold an apostrophe or "&" ("o'brien@", "dana&joe@")
# and start with "_". Not "$", "#", "%" or "/" first, nor a space either side of the "@":
# "oil change $49 @ sunsetford.com" and "call us @ sunsetford.com" are no addresses.
_MAILBOX = r"\w.%+&-"
_EMAIL = re.compile(rf"(?<![{_MAILBOX}])(?<!\w')\w['{_MAILBOX}]{{0,63}}@"
                    r"[^\W_](?:[\w-]*[^\W_])?(?:\.[\w-]+)*\.[^\W\d_]{2,}\b")
# An address spelled out so that scrapers miss it: "dana (at) gmail (dot) com", "dana dot smith
# at gmail dot com", "tbaker at sunsetford.com". A bracketed "at" is one; with a bare " at "
# the part before it must look like a mailbox (a dot, underscore or digit in it: "mike.r at
# ...") or follow an email cue ("email mike at ...", "reply to tbaker at ..."): "call us at
# sunsetford.com" and "visit us online at sunsetford dot com" are websites. At most six dotted parts
# before the "at" and six after it before the ending ("dot dot dot ..." would otherwise be read
# from every word, in quadratic time).
_AT = r"(?:\s*[(\[{<]\s*at\s*[)\]}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*[(\[{<]\s*dot\s*[)\]}>]\s*|\s+dot\s+|\.)"
_EMAIL_SPELLED = re.compile(
    rf"(?<![\w.+-])(?P<local>[^\W_][\w+-]*(?:{_DOT}[^\W_][\w+-]*){{0,5}})(?P<at>{_AT})[^\W_][\w-]*(?:{_DOT}[^\W_][\w-]*){{0,5}}?"
    rf"{_DOT}(?:com|net|org|edu|gov|io|co|us|biz|info|me|ca|uk)\b", re.IGNORECASE)
_MAILBOX_LIKE = re.compile(r"[._\d]|\sdot\s|[(\[{<]", re.IGNORECASE)
_EMAIL_CUE = re.compile(r"\b(?:e-?mail(?:ed|ing)?|mail|address|write\s+to|reply\s+(?:back\s+)?to|contact|"
                        r"reach\s+(?:me|him|her|them))\W+(?:\w+\W+){0,2}$",
                        re.IGNORECASE)
# A phone number said in words, as callers and transcripts give it ("six oh two, five five
# five, oh one eight seven", "six-oh-two 555 zero one eight seven"): a run of at least seven
# digit words or digit groups with only spaces, commas or dashes between them (a dot may be a
# decimal point). A stretch of it that reads as a valid number, with at least half of its digits
# said as words, is a phone number: ten digits are preferred to eleven ("Store 12, six oh two..."
# is 602..., not 1-260-...), and "one 2019, two 2020" (counts and years) is none.
DIGIT_WORDS = {"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                "six": "6", "seven": "7", "eight": "8", "nine": "9"}
DIGIT_WORD = "|".join(DIGIT_WORDS)  # one alternation of them, for patterns
UNITS = tuple(w for w in DIGIT_WORDS if w not in ("zero", "oh"))  # one to nine
UNIT_WORDS = "|".join(UNITS)
# The other number words, for numbers read in pairs here and for facts in words (guardrails/output.py)
TEENS = ("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
TENS = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SPOKEN_TOKEN = rf"(?:{DIGIT_WORD}|\d{{1,4}})"
_SPOKEN_RUN = re.compile(rf"\b{_SPOKEN_TOKEN}(?:[\s,-]{{1,3}}{_SPOKEN_TOKEN}){{6,}}\b(?!\.\d)", re.IGNORECASE)
# 13-19 digits: run together, or in the groups cards are printed in (4-4-4-4, 4-4-4-1..7,
# 4-6-5, 4-6-4), each gap one separator (a space, dash, dot or underscore, a space either side of
# a dash or dot allowed) or two spaces; people mix them ("4111 1111-1111 1111"). A line break
# counts as a space, the number being matched on the text with line breaks read as spaces.
# A dash or dot before or after is fine ("card-4111...", "...1111-09/28") unless digits
# continue the number through it. Luhn decides. A price list ("12.50 13.75 14.00") is no card.
_GAP = r"(?:\s?[._-]\s?|\s{1,2})"
_CARD = re.compile(
    r"(?<!\d)(?<!\d[-.])(?:\d{13,19}"
    rf"|\d{{4}}{_GAP}\d{{4}}{_GAP}\d{{4}}{_GAP}(?:\d{{4}}{_GAP}\d{{1,3}}|\d{{1,7}})"
    rf"|\d{{4}}{_GAP}\d{{6}}{_GAP}\d{{4,5}})(?!\d|[-.]\d{{4}}|\.\d)")
# A card's security code or expiry, recognised by its label ("cvv 312", "CVC: 0412", "exp 09/28").
# A code that goes on as a phone number does ("CID (415) 555-2671" is a caller ID; "cvv 312 09/28" is
# a code and its expiry). An expiry
# counts only near a card: "the trial expires on 12/31" is no card's.
_CARD_CODE = re.compile(
    r"\b(?:cvv2?|cvc2?|cid|csc|security\s+code|card\s+code)(?:\W{0,3}|\s+(?:is|was)\W{0,3})(\d{3,4})\b(?!\)?[ .-]?\d{3})"
    r"|\b(?:exp(?:iry|iration)?|expires|valid\s+thru)\.?(?:\W{0,3}|\s+(?:is|on)\W{0,3})"
    r"((?:0[1-9]|1[0-2])\s?[/.-]\s?(?:\d{2}|\d{4}))\b",
    re.IGNORECASE,
)
_CARD_WORDS = re.compile(r"\b(?:cards?|credit|debit|visa|master\s?card|amex|american\s+express|discover|cvv2?|cvc2?|csc|"
                         r"cardholder|payment)\b", re.IGNORECASE)
# 3-2-4 digits with dashes (078-05-1120); with spaces, dots or nothing between the groups only
# after a label ("SSN 078 05 1120"): unlabelled, "Ref 120 45 6789" is more likely a reference.
_SSN = re.compile(r"(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])")
# The label of an SSN, for digits (_SSN_LABELLED) and words (_SSN_SAID): "SSN", "SS#", "social
# security", "my/her/... social", "social:" ("social: 078 05 1120", a form's field).
_SSN_LABEL = (r"\b(?:ssn|ss\s*#|ss\s+no\b\.?|social[\s-]+security|(?:my|her|his|their|your|the)\s+social\b|"
              r"social(?=\s*[:#]))")
_SSN_LABELLED = re.compile(
    _SSN_LABEL + r"(?:\s+(?:number|no\b\.?|#))?\W{0,3}"
    r"(?:(?:is|was)\W{0,3})?(?<![\d-])(\d{3})(\s?[.-]?\s?)(\d{2})\s?[.-]?\s?(\d{4})(?![\d-])", re.IGNORECASE)
# Identity and tax numbers other than an SSN ("id_number"): an ITIN (an SSN's shape, area 9xx and
# a group of 50-65, 70-88, 90-92 or 94-99, which no SSN has); a Canadian SIN after its label
# (nine digits passing Luhn); a passport number after its label (up to two letters, then 6-9
# digits: "passport no. 533380006", "passport number is X12345678").
_ITIN = re.compile(r"(?<![\d-])9\d{2}-(?:5\d|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])-\d{4}(?![\d-])")
_ID_LABELLED = re.compile(
    r"\b(?:(?:itin|sin|social\s+insurance)(?:\s+(?:number|num|no\b\.?|#))?\W{0,3}(?:(?:is|was|:)\W{0,3})?"
    r"(?<![\d-])(?P<nine>\d{3}[\s.-]?\d{2,3}[\s.-]?\d{3,4})(?![\d-])|"
    r"passport(?:\s+(?:number|num|no\b\.?|#))?\W{0,3}(?:(?:is|was|:)\W{0,3})?(?P<passport>[A-Z]{0,2}\d{6,9})\b)",
    re.IGNORECASE)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
# Numbers that are personal only by their label, as identity checks and refunds ask for them:
# a bank routing number (nine digits passing the ABA checksum, after "routing number", "ABA"
# or "RTN": PAM's call routing is no bank's) or a bank, checking or savings account number; a
# driver's licence number (letters and digits, at least two digits; "DL" as a word of its own,
# not the start of "DLR-20931"); a date of birth in digits or with a month name. "Account
# number" alone is not enough: a dealer's Xtime, PAM or vehicle-deposit account number is
# support data, not a person's. A date is never an account or licence number.
_LABEL_TAIL = r"(?:\s+(?:number|num|no\b\.?|#))?\W{0,3}(?:(?:is|was|are|:)\W{0,3})?"
_BANK = re.compile(
    r"(?<!call\s)(?<!calls\s)\b(?:(?:bank\s+)?routing(?:\s+(?:number|num|no\b\.?|#))?|aba|rtn)\W{0,3}(?:(?:is|was|:)\W{0,3})?"
    r"(?P<routing>\d{3}-?\d{3}-?\d{3})(?![\d-])|"
    # "checking" and "savings" are verbs and nouns too ("we are checking 10000 calls"): an account
    # only with "account" or a number label after them
    r"\b(?:(?:bank|direct\s+deposit)(?:\s+(?:account|acct\.?))?|(?:checking|savings)(?:\s+(?:account|acct\.?)|"
    r"(?=\s*(?:number|num|no\b\.?|#))))" + _LABEL_TAIL +
    r"(?P<account>\d(?:[ -]?\d){4,16})(?![\d-])|"
    # "acct no 000123456789 at Chase checking", "Stripe asks for our bank details. SSN is ... and
    # account 000123456789": an account number with a bank word near it (_bank_word_near)
    r"\b(?:account|acct\.?)(?:\s+(?:number|num|no\b\.?|#))?\W{0,3}(?P<cued>\d{8,17})(?!\d)",
    re.IGNORECASE)
# "bank holiday" and "call routing number" name no bank account.
_BANK_WORD = re.compile(r"\b(?:bank(?!\s+holidays?\b)|checking|savings|ach|wire|direct\s+deposit|"
                        r"(?<!call\s)routing\s+(?:number|num|no\b|#))\b", re.IGNORECASE)
BANK_WORD_BEFORE, BANK_WORD_AFTER = 80, 40  # characters


def _bank_word_near(flat: str, start: int, end: int) -> bool:
    """Whether a bank word is at most BANK_WORD_BEFORE characters before the number at
    ``start:end`` (the sentence before may be the one that names the bank details) or
    BANK_WORD_AFTER after it, in that sentence: "Xtime account number 12345678" is support
    data; "payout bank account to routing number 021000021, account number 4401927736" is not."""
    before = flat[max(0, start - BANK_WORD_BEFORE):start]
    after = re.split(r"[.?!](?:\s|$)", flat[end:end + BANK_WORD_AFTER], maxsplit=1)[0]
    return bool(_BANK_WORD.search(before) or _BANK_WORD.search(after))
_LICENSE = re.compile(
    r"\b(?:driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|drivers?\s+lic\b\.?|DL\b|D\.L\.)" + _LABEL_TAIL +
    r"(?P<value>[A-Z0-9]+(?:[ -](?=[A-Z]*\d)[A-Z0-9]+){0,3})(?![\w-])", re.IGNORECASE)
_DATE_SHAPE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}-\d{1,2}-\d{2,4}")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# A date of birth's label may carry a format hint, whose it is and a run of dots or dashes
# before the value: "Date of birth (MM/DD/YYYY): 03/14/1985", "DOB of the owner is ...",
# "Birth date........03/14/1985", "DOB -- 03/14/1985". The value is any common spelling of a
# day: 03/14/1985, 1985/03/14, 1985-03-14, March 14, 1985, 14 March 1985, 14-Mar-1985, Mar-14-1985.
_DOB_TAIL = (r"(?:\s*\([^()\n]{0,24}\))?(?:\s+of\s+(?:the\s+|our\s+|my\s+|his\s+|her\s+)?[a-z]+(?:\s+[a-z]+){0,2})?"
             r"[^\w\n]{0,20}(?:(?:is|was)[^\w\n]{0,5})?")
_DOB = re.compile(
    r"\b(?:date\s+of\s+birth|d\.?o\.?b\b\.?|birth\s*date|birthday|born(?:\s+on)?)" + _DOB_TAIL +
    r"(?P<value>\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}[/.-]\d{1,2}[/.-]\d{1,2}|"
    + _MONTH + r"[\s-]+\d{1,2}(?:st|nd|rd|th)?,?[\s-]+(?:\d{4}|\d{2})|"
    r"\d{1,2}(?:st|nd|rd|th)?[\s-]+(?:of\s+)?" + _MONTH + r",?[\s-]+(?:\d{4}|\d{2}))(?!\d)", re.IGNORECASE)


def _aba_ok(digits: str) -> bool:
    d = [int(c) for c in digits]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + d[2] + d[5] + d[8]) % 10 == 0

# Words that make a phone number or email address something the customer wants
# *used*: set as a transfer target, charged, changed, added, removed.
_ACT_VERBS = re.compile(
    r"\b(?:change[sd]?|changing|update[sd]?|updating|set|setting|replace[sd]?|replacing|switch(?:ed|ing)?|"
    r"use|using|add(?:ed|ing)?|remove[sd]?|removing|delete[sd]?|deleting|forward(?:ed|ing)?|route[sd]?|routing|"
    # "can you email the W-2 for our employee to <address>", "Fax the form to <number>": something
    # sent to it, asked for ("the mail never gets to our inbox", "notices email fine to ..." ask nothing)
    r"transfer(?:red|ring)?\s+(?:calls?\s+)?to|send\s+(?:the\s+)?(?:[\w'-]+\s+){0,2}to|"
    r"(?:^\s*|(?:please|pls|kindly|(?:can|could|would|will)\s+you|(?:need|want)\s+you\s+to)\s+(?:also\s+)?)"
    r"(?:e-?mail|mail|fax|send)\s+(?:[\w'-]+\s+){0,5}?to|"
    r"point(?:ed|ing)?\s+(?:[\w'-]+\s+){0,2}to|"
    r"port(?:ed|ing)?|move[sd]?|charge[sd]?|charging|bill(?:ed|ing)?|refund(?:ed)?|register(?:ed)?|"
    r"make\s+(?:it|this|that)|new\s+(?:number|phone|email|address|contact)|instead\s+of|"
    r"should\s+(?:go|ring|be)|needs?\s+(?:adding|to\s+be\s+added|changing|updating)|"
    # someone else's number handed over to be used: "call her back at", "text the customer on"
    r"(?:call|text|email|e-mail|contact|ring|reach)\s+(?:her|him|them|the\s+(?:customer|caller|client|owner))\b)\b",
    re.IGNORECASE,
)
# Giving contact details ("call me back at", "reach me on") is like a signature: not an action.
_CONTACT_ONLY = re.compile(
    r"\b(?:call|text|reach|contact|email|ring)\s+(?:me|us)\b|\bbest\s+(?:number|way)\s+to\s+reach\b|\breach(?:ed)?\s+at\b",
    re.IGNORECASE,
)
_SIGNOFF = re.compile(
    r"^\s*(?:--+\s*|—\s*|thanks?(?: you)?(?: so much)?|many thanks|regards|kind regards|best(?: regards| wishes)?|cheers|"
    r"sincerely|respectfully|sent from my \w+)\W*$",
    re.IGNORECASE,
)
_GREETING = re.compile(r"^\s*(?:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening))\b[^\n]{0,40}$", re.IGNORECASE)
_LABEL_LINE = re.compile(
    r"^\s*(?:phone|tel|telephone|cell|mobile|direct|office|main|fax|ph|p|m|o|c|e|email|e-mail)\s*[:.]", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n")
_BLANK = re.compile(r"[ \t>]*")
# At most this many phone numbers and addresses of one sentence are read for a request to act on them.
MAX_CONTACTS_READ = 50


@dataclass
class PiiFinding:
    """One piece of personal data: its kind, where it is in the text, and the text itself."""

    kind: str  # one of KINDS: "card_code" is a card's security code or expiry
    start: int
    end: int
    text: str


# The international prefix most of the world dials ("0044 20 7946 0958", "0033 6 12 34 56 78");
# phonenumbers reads only "+" (and the region's own "011") as one.
_IDD_00 = re.compile(r"(?<![\w+])00(?=[1-9])")
_IDD_WINDOW = 40  # characters after it: an international number with its spaces and an extension
# What is stored or passed on in place of a text whose personal data could not be checked.
WITHHELD = "[withheld: the personal-data check failed]"
_WRAP = re.compile(r"\n[ \t]*(?:>[ \t]?)*")


def _flatten(text: str) -> tuple[str, list[int]]:
    """``text`` with each line break and the quote marks and indent that follow it as one space,
    and for each of its characters (and one past the end) the offset of that character in ``text``."""
    return _rewrap(text, lambda m: " ")


def _rewrap(text: str, replace) -> tuple[str, list[int]]:
    """``text`` with each line break (and the quote marks and indent after it, ``_WRAP``) replaced
    by ``replace(match)`` ("" or one space; None keeps it), and for each character of the result
    (and one past its end) the offset of that character in ``text``."""
    parts: list[str] = []
    at: list[int] = []
    pos = 0
    for m in _WRAP.finditer(text):
        instead = replace(m)
        if instead is None:
            continue
        parts += [text[pos:m.start()], instead]
        at += [*range(pos, m.start()), *([m.start()] if instead else [])]
        pos = m.end()
    parts.append(text[pos:])
    at += [*range(pos, len(text)), len(text)]
    return "".join(parts), at


def _wrapped_emails(text: str) -> list[tuple[int, int]]:
    """The spans of addresses that a line break cuts at the "@" ("dana.smith@\ngmail.com",
    "dana.smith\n@gmail.com") or at a dot of the host ("> dana@gmail.\n> com", "dana@gmail\n.com"):
    read with those line breaks (and the quote marks after them) left out. Elsewhere a line break
    stays one: "Thanks.\nDana", "... since Monday.\ndana@gmail.com" and "... is mike@ford.com.\nCan
    you ..." end a sentence (a dot after a whole address, or before the "@", joins nothing)."""
    if "@" not in text or "\n" not in text:
        return []

    def cut(m: re.Match) -> str | None:
        before, after = text[m.start() - 1:m.start()], text[m.end():m.end() + 1]
        at_sign = (before == "@" and after[:1].isalnum()) or (after == "@" and before[:1].isalnum())
        return "" if at_sign or _host_cut(text, m.start(), before, after) else None

    joined, at = _rewrap(text, cut)
    if len(joined) == len(text):  # no address cut by a line break
        return []
    return [(at[m.start()], at[m.end() - 1] + 1) for m in _EMAIL.finditer(joined)]


def _host_cut(text: str, end: int, before: str, after: str) -> bool:
    """Whether a line break at ``end`` cuts an address's host at a dot: the word before it has an
    "@" and is no whole address yet ("dana@gmail." or "dana@gmail", then "com" or ".com")."""
    if not ((before == "." and after[:1].isalnum()) or (after == "." and before[:1].isalnum())):
        return False
    word = text[max(0, end - 320):end].split()[-1:] or [""]
    head = word[0].rstrip(".")
    return "@" in head and not _EMAIL.fullmatch(head)


def _ascii_digits(value: str) -> str:
    """The decimal digits of ``value``, of any script, as ASCII ("٤١" is "41")."""
    return "".join(str(int(ch)) for ch in re.findall(r"\d", value))


def luhn_ok(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum that every payment card carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card_number(value: str) -> str | None:
    """The card number a match starts with: the match itself, or it without its last group
    when that group was the text after the card ("4111 1111 1111 1111 - 09/28" reads "- 09" as
    a fifth group). A card passes Luhn and starts with 2-6: 0, 1, 7, 8 and 9 begin no payment
    card ("0700-0730 0900-1330" are hours)."""
    while True:
        digits = _ascii_digits(value)
        if 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits):
            return value
        shorter = re.fullmatch(rf"(.*\d){_GAP}\d{{1,7}}", value)
        if shorter is None:
            return None
        value = shorter.group(1)


# An SSN said in words, after its label: "SSN", "social security", "my social", "her social is".
_SSN_SAID = re.compile(
    rf"{_SSN_LABEL}(?:\s+(?:number|no\b\.?|#))?"
    rf"\W{{0,3}}(?:(?:is|was|:)\W{{0,3}})?(?P<run>{_SPOKEN_TOKEN}(?:[\s,-]{{1,3}}{_SPOKEN_TOKEN}){{2,}})", re.IGNORECASE)


def _spoken_ssn(said: re.Match) -> tuple[int, int] | None:
    """Where the digits said after an SSN label make the nine of a valid SSN, some of them said
    in words ("her social is zero seven eight, zero five, one one two zero", "078 05 one one two
    zero"; plain digits are _SSN_LABELLED's): the tokens up to the ninth digit, whatever follows."""
    tokens = list(re.finditer(_SPOKEN_TOKEN, said.group("run"), re.IGNORECASE))
    number = ""
    for k, token in enumerate(tokens):
        number += DIGIT_WORDS.get(token.group().lower(), token.group())
        if len(number) == 9:
            if all(t.group().isdigit() for t in tokens[:k + 1]) or not _ssn_ok(number[:3], number[3:5], number[5:]):
                return None
            return said.start("run"), said.start("run") + token.end()
        if len(number) > 9:
            return None
    return None


def _ssn_ok(area: str, group: str, serial: str) -> bool:
    # SSA never issues area 000, 666 or 900-999, group 00 or serial 0000.
    return area not in ("000", "666") and not area.startswith("9") and group != "00" and serial != "0000"


def _iban_ok(raw: str) -> bool:
    s = raw.replace(" ", "").upper()
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    try:
        return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1
    except ValueError:
        return False


def normalized(kind: str, value: str) -> str:
    """The comparable form of a value: digits only for numbers, lower case for emails."""
    if kind == "email":  # "dana @ gmail.com" and "dana@gmail.\n> com" are dana@gmail.com
        return re.sub(r"\s*@\s*", "@", _WRAP.sub("", value.strip()).lower())
    if kind in ALNUM_KINDS:  # letters and digits only: quote marks of a wrapped line go too
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if kind == "phone":  # said in words: "six oh two ..." is 602...
        value = re.sub(r"[a-z]+", lambda m: DIGIT_WORDS.get(m.group().lower(), m.group()), value, flags=re.IGNORECASE)
    digits = _ascii_digits(value.split("x")[0] if kind == "phone" else value)
    if kind == "phone" and len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]  # +1 country code: "+1 212..." and "212..." are the same number
    return digits


class PiiDetector:
    """Finds emails, phone numbers, payment cards, SSNs, IBANs, bank account and routing numbers,
    driver's licence numbers and dates of birth in free text.

    Phones come from ``phonenumbers`` (region US, leniency VALID), so invented
    numbers like 555-123-4567 are not flagged; cards must pass Luhn.

    >>> PiiDetector().run("card 4111 1111 1111 1112")   # fails Luhn
    []
    """

    def __init__(self, region: str = "US"):
        self.region = region

    def run(self, text: str) -> list[PiiFinding]:
        found: list[PiiFinding] = []
        taken = Taken(len(text))

        def add(kind: str, start: int, end: int) -> None:
            if start >= end or not taken.free(start, end):
                return  # overlaps an earlier (higher-precedence) finding
            taken.take(start, end)
            found.append(PiiFinding(kind, start, end, text[start:end]))

        # Numbers are matched with each line break, and the quote marks and indent after it, read
        # as one space: "(212)\n555-0147", or a card number wrapped across two lines of a quoted
        # reply ("4111 1111\n> 1111 1111"), is still one number. ``at`` maps back to the text.
        flat, at = _flatten(text)

        def add_flat(kind: str, start: int, end: int) -> None:
            add(kind, at[start], at[end - 1] + 1)

        for m in _CARD.finditer(flat):
            value = _card_number(m.group())
            if value:
                add_flat("card", m.start(), m.start() + len(value))
        for m in _CARD_CODE.finditer(text):
            group = 1 if m.group(1) else 2
            if group == 2 and not (any(f.kind == "card" for f in found)
                                   or _CARD_WORDS.search(text[max(0, m.start() - 80):m.end() + 40])):
                continue
            add("card_code", m.start(group), m.end(group))
        for m in _SSN_LABELLED.finditer(flat):
            area, _, group, serial = m.groups()
            if _ssn_ok(area, group, serial):
                add_flat("ssn", m.start(1), m.end(4))
        for m in _SSN.finditer(flat):
            if _ssn_ok(*m.groups()):
                add_flat("ssn", m.start(), m.end())
        for m in _ITIN.finditer(flat):
            add_flat("id_number", m.start(), m.end())
        for m in _ID_LABELLED.finditer(flat):
            group = "nine" if m.group("nine") else "passport"
            value = _ascii_digits(m.group(group))
            if group == "passport" or (len(value) == 9 and (luhn_ok(value) or _ITIN.fullmatch(m.group(group)))):
                add_flat("id_number", m.start(group), m.end(group))
        for m in _IBAN.finditer(flat):
            if _iban_ok(m.group()):
                add_flat("iban", m.start(), m.end())
        for m in _BANK.finditer(flat):
            group = next(g for g in ("account", "cued", "routing") if m.group(g))
            if _DATE_SHAPE.fullmatch(m.group(group)) or (group == "routing" and not _aba_ok(_ascii_digits(m.group(group)))):
                continue
            if group == "cued" and not _bank_word_near(flat, m.start(group), m.end(group)):
                continue
            add_flat("bank_account", m.start(group), m.end(group))
        for m in _LICENSE.finditer(flat):
            value = m.group("value")
            # groups apart by spaces each hold a digit: "the 2023 Q4" after "DL" is no licence
            spaced_ok = all(re.search(r"\d", g) for g in value.split(" ")) if " " in value else True
            if 5 <= len(value) <= 20 and len(re.findall(r"\d", value)) >= 2 and spaced_ok \
                    and not _DATE_SHAPE.fullmatch(value):
                add_flat("license", m.start("value"), m.end("value"))
        for m in _DOB.finditer(flat):
            add_flat("dob", m.start("value"), m.end("value"))
        for m in _EMAIL.finditer(text):
            add("email", m.start(), m.end())
        for start, end in _wrapped_emails(text):
            add("email", start, end)
        for m in _EMAIL_SPELLED.finditer(text):
            bracketed = m.group("at").strip() != "at"
            # A real dot in the host ("tbaker at sunsetford.com") is no less an address than a
            # spelled one; the local part or a cue before it still tells it from a website.
            if bracketed or _MAILBOX_LIKE.search(m.group("local")) or _EMAIL_CUE.search(text[max(0, m.start() - 40):m.start()]):
                add("email", m.start(), m.end())
        for m in phonenumbers.PhoneNumberMatcher(flat, self.region, leniency=phonenumbers.Leniency.VALID):
            add_flat("phone", m.start, m.end)
        for idd in _IDD_00.finditer(flat):  # "0044 20 7946 0958": what follows the "00" read as "+44 ..."
            # only the stretch after it, not the whole text again ("555-0012" has a "00" too)
            window = "+" + flat[idd.end():idd.end() + _IDD_WINDOW]
            for m in phonenumbers.PhoneNumberMatcher(window, self.region, leniency=phonenumbers.Leniency.VALID):
                if m.start == 0:  # the number the prefix opens; window[k] is flat[idd.end() + k - 1]
                    add_flat("phone", idd.start(), idd.end() + m.end - 1)
        for m in _SPOKEN_RUN.finditer(flat):
            span = self._spoken_phone(m)
            if span:
                add_flat("phone", *span)
        for m in _SSN_SAID.finditer(flat):
            if span := _spoken_ssn(m):
                add_flat("ssn", *span)
        return sorted(found, key=lambda f: f.start)

    def _spoken_phone(self, run: re.Match) -> tuple[int, int] | None:
        """Where a run of digit words and groups holds a valid phone number, if it does."""
        tokens = list(re.finditer(_SPOKEN_TOKEN, run.group(), re.IGNORECASE))
        if all(t.group().isdigit() for t in tokens):
            return None  # plain digits are phonenumbers' to find
        digits = [DIGIT_WORDS.get(t.group().lower(), t.group()) for t in tokens]
        said = [not t.group().isdigit() for t in tokens]
        for length in (10, 11):
            for i in range(len(tokens)):
                for j in range(i + 1, len(tokens) + 1):
                    number = "".join(digits[i:j])
                    if len(number) > length:
                        break
                    if len(number) < length or 2 * sum(len(d) for d, w in zip(digits[i:j], said[i:j]) if w) < length:
                        continue
                    try:
                        parsed = phonenumbers.parse(number, self.region)
                    except phonenumbers.NumberParseException:
                        continue
                    if phonenumbers.is_valid_number(parsed):
                        return run.start() + tokens[i].start(), run.start() + tokens[j - 1].end()
        return None

    def redact(self, text: str, findings: list[PiiFinding] | None = None) -> str:
        """The text with each finding replaced by its kind in brackets, e.g. ``[EMAIL]``."""
        findings = self.run(text) if findings is None else findings
        pieces, done = [], 0  # built in one pass: a text of thousands of findings in linear time
        for f in sorted(findings, key=lambda f: f.start):
            if f.start < done:  # overlaps the one before (run() gives none): redacted with it
                done = max(done, f.end)
                continue
            pieces += [text[done:f.start], f"[{f.kind.upper()}]"]
            done = f.end
        return "".join(pieces) + text[done:]

    def asks_to_act_on(self, text: str, findings: list[PiiFinding], *, subject_lines: int = 0) -> bool:
        """True when the request hands over sensitive data for someone to act on.

        A card number, SSN, IBAN, bank account, driver's licence or date of birth
        anywhere counts: nobody should paste one into support. A phone number or email counts only when its sentence asks to
        use it (change the transfer number, charge, add, route to); a signature
        or "call me back at" is contact information, not an instruction. ``subject_lines``: how
        many first lines of ``text`` are the email's subject (see _signature_start).
        """
        if any(f.kind in SENSITIVE_KINDS for f in findings):
            return True
        sig_start = _signature_start(text, subject_lines)
        contacts = [f for f in findings if f.kind in ("phone", "email") and f.start < sig_start]
        if not contacts:
            return False
        # Line and sentence breaks are found once, and each (sentence, value) read once; at most
        # MAX_CONTACTS_READ values are read per sentence (a sentence of thousands of addresses
        # would otherwise take quadratic time; a list of one per line is read in full).
        lines, sentences = Breaks(text), Breaks(text, _SENTENCE_END)
        seen: set[tuple[str, str]] = set()
        per_sentence: dict[int, int] = {}
        label_line: dict[int, bool] = {}  # each line's label and leading blanks read once
        blank_to: dict[int, int] = {}
        for f in contacts:
            line_start = lines.around(f.start)[0]
            if line_start not in label_line:
                label_line[line_start] = bool(_LABEL_LINE.match(text, line_start))
                blank_to[line_start] = _BLANK.match(text, line_start).end()
            if label_line[line_start]:
                continue
            left, right = sentences.around(f.start, f.end)
            per_sentence[left] = per_sentence.get(left, 0) + 1
            if per_sentence[left] > MAX_CONTACTS_READ:
                continue
            sentence = text[left:right]
            # "Please update our transfer number to:\n(212) 555-0147" puts the verb on the line above.
            # Blank or quoted-blank lines between ("to:\n\n> (212) 555-0147") do not part them.
            if blank_to[line_start] >= f.start and line_start > 1:  # only spaces or ">" before it
                prev_start = line_start
                for _ in range(3):
                    prev_start = lines.around(prev_start - 1)[0]
                    prev_line = text[prev_start : text.find("\n", prev_start)]
                    if prev_line.strip(" \t>") or prev_start <= 1:
                        break
                if prev_line.rstrip().endswith(":"):
                    sentence = prev_line + " " + sentence
            if (sentence, f.text) in seen:
                continue
            seen.add((sentence, f.text))
            without_values = sentence.replace(f.text, " ")
            if _ACT_VERBS.search(_CONTACT_ONLY.sub(" ", without_values)):
                return True
        return False


def _signature_start(text: str, subject_lines: int = 0) -> int:
    """Offset where a sign-off ("Thanks,", "Best regards", "--") starts the signature; len(text) if
    none. The first ``subject_lines`` lines (the subject) say nothing: a body that opens with
    "Thanks!" opens with thanks whatever the subject."""
    offset, said = 0, False
    lines = text.split("\n")
    for i, line in enumerate(lines):
        # A sign-off counts only near the end, after something was said ("Thanks!\nPlease change
        # our transfer number to ..." opens with thanks and goes on), and when no question
        # follows it ("thanks\nCan you route after-hours calls to ...?"). What else follows is
        # a signature, even with a verb in it: "Please use my cell 415-... for anything urgent".
        if _SIGNOFF.match(line) and len(lines) - i <= 8 and said and "?" not in "\n".join(lines[i + 1:]):
            return offset
        said = said or i >= subject_lines and bool(line.strip()) and not _GREETING.match(line)
        offset += len(line) + 1
    return len(text)


# How a reply may write an address it repeats: "@" or "at" (bare, bracketed, "-at-"), "." or
# "dot" / "period" (bare, bracketed), with spaces anywhere; spaced single characters are joined
# first ("d a n a . s m i t h").
# A dot may be any dot-like character: "dana·smith@gmail·com", "gmail。com" (ideographic full stop).
DOT_LIKE = "\u00b7\u2022\u2024\u2027\u2219\u22c5\u3002\uff0e\uff61\u30fb\ufe52"
_AS_DOTS = str.maketrans(dict.fromkeys(DOT_LIKE, "."))
_DOT_CHARS = f"[.{DOT_LIKE}]"
_AT_FORMS = r"(?:\s*@\s*|\s*[(\[{<]\s*(?:at|@)\s*[)\]}>]\s*|\s*-at-\s*|\s+at\s+)"
_DOT_FORMS = rf"(?:\s*{_DOT_CHARS}\s*|\s*[(\[{{<]\s*(?:dot|\.)\s*[)\]}}>]\s*|\s+(?:dot|period)\s+|\s*-dot-\s*)"
_SINGLE_CHARS = re.compile(r"(?<!\S)[\w@.+-](?: [\w@.+-]){5,}(?=[\s.,;:!?)]|$)")
# A shared mailbox named with a bare "at" is how a reply names a website: "book service at
# sunsetford.com" repeats no one's address even when the request came from service@sunsetford.com.
_ROLE_MAILBOXES = frozenset("service info sales parts support contact hello office admin bdc team billing help "
                            "noreply no-reply reception frontdesk".split())


def _as_written(answer: str) -> str:
    """An answer as compared with addresses: lower case, look-alike letters as Latin, one space
    between words, and runs of spaced single characters joined."""
    # Look-alikes before lower case: Cyrillic М maps to M, its lower case м to nothing.
    text = " ".join(answer.translate(LOOKALIKES).lower().split())
    return join_spaced(_SINGLE_CHARS, text)


def _email_in(value: str, text: str) -> bool:
    """Whether ``text`` (see _as_written) repeats the address ``value`` in any of its spellings."""
    local, _, domain = value.partition("@")
    parts = [_DOT_FORMS.join(re.escape(p) for p in side.split(".")) for side in (local, domain)]
    for m in re.finditer(rf"(?<![\w.+-]){parts[0]}({_AT_FORMS}){parts[1]}(?![\w-])", text):
        if local in _ROLE_MAILBOXES and m.group(1).strip() == "at":
            continue  # "service at sunsetford.com": a website
        return True
    return False


_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DATE_ANY = re.compile(
    r"(?<![\d/-])(?<!\d\.)(?P<a>\d{1,4})(?P<sep>[/-]|\.(?=\d{1,2}\.\d{4}))(?P<b>\d{1,2})(?P=sep)(?P<c>\d{2,4})(?![\d/-])(?!\.\d)"
    r"|\b(?P<mon>" + _MONTH + r")[\s-]+(?P<d1>\d{1,2})(?:st|nd|rd|th)?,?[\s-]+(?P<y1>\d{4}|\d{2})\b"
    r"|\b(?P<d2>\d{1,2})(?:st|nd|rd|th)?[\s-]+(?:of\s+)?(?P<mon2>" + _MONTH + r"),?[\s-]+(?P<y2>\d{4}|\d{2})\b",
    re.IGNORECASE)


def _year(y: str) -> int:
    n = int(y)
    return n if len(y) == 4 else (1900 + n if n > 30 else 2000 + n)


def dates(text: str) -> list[tuple[int, int, tuple[int, int, int]]]:
    """Each date written in ``text``: its span and (year, month, day). Numeric dates are read the
    US way (month first) unless that cannot be (14/03/1985), or year first (1985-03-14).

    >>> [d for _, _, d in dates("born 03/14/1985, seen March 14, 1985 and 1985-03-14")]
    [(1985, 3, 14), (1985, 3, 14), (1985, 3, 14)]
    """
    out = []
    for m in _DATE_ANY.finditer(text):
        if m.group("a"):
            a, b, c = m.group("a"), m.group("b"), m.group("c")
            if len(a) == 4:
                y, mo, d = int(a), int(b), int(c)
            elif len(a) <= 2:
                mo, d, y = int(a), int(b), _year(c)
                if mo > 12:
                    mo, d = d, mo
            else:
                continue
        else:
            mon = (m.group("mon") or m.group("mon2"))[:3].lower()
            if mon not in _MONTHS:  # a look-alike letter the folding does not know ("\u017fep")
                continue
            mo, d, y = _MONTHS[mon], int(m.group("d1") or m.group("d2")), _year(m.group("y1") or m.group("y2"))
        if 1 <= mo <= 12 and 1 <= d <= 31:
            out.append((m.start(), m.end(), (y, mo, d)))
    return out


# A number as an answer may write it: any of these between its digits ("415/555/2671", "4111_1111...").
_NUMBERISH = re.compile(r"\+?\d[\d\s()./_-]{1,}\d")


def _phone_forms(value: str, digits: str) -> list[str]:
    """The digits a phone number may be written with: as given, and its national number
    ("+44 20 7946 0958" is also "020 7946 0958" and "+44 (0)20 ...")."""
    try:
        parsed = phonenumbers.parse(_IDD_00.sub(" +", value).strip(), "US")  # "0044 ..." is "+44 ..."
    except phonenumbers.NumberParseException:
        return [digits]
    return [digits, str(parsed.national_number)]


# A reply may say a number in pairs, as people read phone numbers aloud: "four-fifteen,
# five-five-five, twenty-six seventy-one" is 415 555 2671.
_PAIR_TOKEN = rf"(?:(?:{'|'.join(TENS)})(?:[\s-]?(?:{UNIT_WORDS}))?|{'|'.join(TEENS)}|{DIGIT_WORD}|\d{{1,4}})"
_PAIR_RUN = re.compile(rf"\b{_PAIR_TOKEN}(?:[\s,-]{{1,3}}{_PAIR_TOKEN}){{2,}}\b(?!\.\d)", re.IGNORECASE)
_PAIR_VALUES = {**DIGIT_WORDS, **{w: str(10 + i) for i, w in enumerate(TEENS)}}


def _pair_digits(token: str) -> str:
    """The digits of one token of _PAIR_RUN: "twenty-six" 26, "fifteen" 15, "twenty" 20, "oh" 0."""
    token = token.lower()
    if token.isdigit() or token in _PAIR_VALUES:
        return _PAIR_VALUES.get(token, token)
    tens = next(t for t in TENS if token.startswith(t))  # "twenty-six", "twenty six", "twentysix"
    unit = token[len(tens):].strip(" \t\n-")
    return str(TENS.index(tens) + 2) + (DIGIT_WORDS[unit] if unit else "0")


def _said_in_pairs(text: str) -> str:
    return _PAIR_RUN.sub(lambda m: "".join(_pair_digits(t) for t in re.findall(_PAIR_TOKEN, m.group(), re.IGNORECASE)),
                         text)


def echoes(answer: str, findings: list[PiiFinding]) -> list[PiiFinding]:
    """The findings whose value appears in ``answer`` (digits-only or lower-case comparison).

    >>> f = PiiDetector().run("my cell is 415.555.2671")
    >>> [e.kind for e in echoes("We will call 415-555-2671 today.", f)]
    ['phone']
    """
    lowered = answer.lower()
    written = None  # the answer as compared with addresses, made when an email needs it
    plain = re.sub(r"[^0-9a-z]", "", lowered)  # letters and digits only, for IBANs and licences
    # Numbers said in words are read as digits too: "four one five, five five five, ...", "four-fifteen ..."
    said = _said_in_pairs(answer)
    runs = [re.sub(r"\D", "", m.group()) for text in {answer, said} for m in _NUMBERISH.finditer(text)]
    out = []
    for f in findings:
        value = normalized(f.kind, f.text)
        if not value:
            continue
        if f.kind == "email":  # also spelled out or spaced: "dana at gmail dot com", "d a n a @ ..."
            if value not in lowered and written is None:
                written = _as_written(answer)
            hit = value in lowered or _email_in(value, written)
        elif f.kind in ALNUM_KINDS:
            hit = value.lower() in plain
        elif f.kind == "dob":  # the same day in any spelling: 03/14/1985, 3-14-85, March 14, 1985, 1985-03-14
            born = {d for _, _, d in dates(f.text)}
            hit = any(d in born for _, _, d in dates(answer))
        elif f.kind == "card_code":  # a short code: the same number, not a part of a longer one
            hit = value in runs or value in re.findall(r"(?<!\d)(?<!\d[./-])\d+(?![./-]?\d)", said)
        elif f.kind == "phone":
            hit = any(form in run for form in _phone_forms(f.text, value) for run in runs)
        else:
            hit = any(value in run for run in runs)
        if hit:
            out.append(f)
    return out


# --- personal-data shapes in a reply -------------------------------------------------
# A request is read precisely (phonenumbers, checksums) so that ordinary numbers are not
# redacted. A reply is checked loosely: anything shaped like an email, SSN, card or
# (North American) phone number counts, valid or not, because a reader cannot tell an
# invalid number from a real one. A card-length digit run that fails Luhn is no card, but
# it is still reported (kind "digits") so that callers can keep it out of their messages.
_LOOSE_SHAPES = (
    # From the start of a run only, and at most 64 characters before the "@": tried from every
    # character of "a.a.a..." and unbounded, this took quadratic time.
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]+(?:\.[\w-]+)+\b")),
    ("ssn", re.compile(r"\b\d{3}([- .])\d{2}\1\d{4}\b")),
    ("card", re.compile(r"\b(?:\d[ ._-]{0,2}){13,19}\b")),
    ("phone", re.compile(r"(?<![\w-])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?![\w-])")),
)


def shaped_like_pii(text: str) -> list[PiiFinding]:
    """Every span of ``text`` shaped like personal data (overlaps allowed), in order.

    >>> [(f.kind, f.text) for f in shaped_like_pii("call 555-010-0000 or mail a@b.co")]
    [('phone', '555-010-0000'), ('email', 'a@b.co')]
    >>> [f.kind for f in shaped_like_pii("ref 4111 1111 1111 1112")]   # fails Luhn
    ['digits']
    """
    text = text.translate(_AS_DOTS)  # one character for one: "gmail。com" is shaped like an address
    found = []
    for kind, shape in _LOOSE_SHAPES:
        for m in shape.finditer(text):
            if kind == "card":
                digits = re.sub(r"\D", "", m.group())
                kind_here = "card" if 13 <= len(digits) <= 19 and luhn_ok(digits) else "digits"
            else:
                kind_here = kind
            found.append(PiiFinding(kind_here, m.start(), m.end(), m.group()))
    return sorted(found, key=lambda f: (f.start, f.end))
