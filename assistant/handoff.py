"""The escalation hand-off (SPEC section 8): the note a Tier 2 engineer would otherwise write.

It follows the escalation template of the support process guide (priority,
issue, impact, attempted, needed) and adds what the engineer needs first when
PAM misbehaves on a call: the request ID and call time (Tier 2 looks calls up
by request ID), the DMS or phone system involved, and the exact error text.
Everything in ``evidence`` is copied from the request, never invented.

>>> facts = extract_facts("Xtime sync failing since Nov 3. The integrations page "
...                       'shows "ERR_SYNC_TIMEOUT". Call at 10:42, req_8f3a21.')
>>> facts.request_ids, facts.call_times, facts.dates, facts.vendors, facts.errors
(['req_8f3a21'], ['10:42'], ['Nov 3'], ['Xtime'], ['ERR_SYNC_TIMEOUT'])
>>> missing_facts(facts, "integration", "")
['store']
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from assistant.messages import shown_below
from assistant.models import Handoff
from assistant.splitter import strip_envelope
from guardrails import Breaks, Taken, unquoted
from guardrails.risk import SIGNATURE_LINE_WORDS, named_as_own, names_another_dealer

# --------------------------------------------------------------------------- domain knowledge

# Systems a dealership's PAM connects to, spelled the way their makers spell them:
# DMS, CRM, scheduler and rental systems (SPEC section 3 and the OPS notes), phone
# systems and call tracking, and the US business-texting registration PAM's SMS
# confirmations depend on. This is the one list to extend.
DEALER_SYSTEMS: tuple[str, ...] = (
    "Reynolds and Reynolds", "CDK Global", "TSD Dealer", "Cox Automotive", "Dealer-FX", "Auto/Mate",
    "Xtime", "myKaarma", "CDK", "Fortellis", "Tekion", "Reynolds", "Dealertrack", "Opentrack", "DealerSocket",
    "VinSolutions", "DriveCentric", "eLead", "eLeads", "PBS", "Autosoft", "DealerBuilt", "Quorum", "DealerFX",
    "Updatepromise", "TimeHighway", "TSD", "Dominion", "ProMax", "Frazer", "Momentum",
)
PHONE_SYSTEMS: tuple[str, ...] = (
    "Zoom Phone", "Microsoft Teams", "Teams Phone", "GoTo Connect", "RingCentral", "Mitel", "Vonage",
    "Nextiva", "Avaya", "8x8", "Dialpad", "Cisco", "Twilio", "Ooma", "Grasshopper", "Genesys", "3CX", "Jive",
    "Aircall", "ShoreTel", "CallRevu", "Car Wars", "CallRail",
)
TEXTING_SYSTEMS: tuple[str, ...] = ("10DLC", "Campaign Registry")
# Longer names first, so "TSD Dealer" wins over "TSD".
KNOWN_SYSTEMS: tuple[str, ...] = tuple(sorted(DEALER_SYSTEMS + PHONE_SYSTEMS + TEXTING_SYSTEMS,
                                              key=len, reverse=True))
# Names that are also ordinary words or common acronyms: matched only as written.
_CASE_SENSITIVE = {"Quorum", "Momentum", "Jive", "PBS", "TSD", "CDK", "Frazer", "Dominion", "Cisco", "Ooma"}

CAR_MAKES: tuple[str, ...] = (
    "Alfa Romeo", "Land Rover", "Mercedes-Benz", "Aston Martin", "Acura", "Audi", "BMW", "Buick", "Cadillac",
    "Chevrolet", "Chevy", "Chrysler", "Dodge", "Fiat", "Ford", "Genesis", "GMC", "Honda", "Hyundai", "Infiniti",
    "Jaguar", "Jeep", "Kia", "Lexus", "Lincoln", "Mazda", "Mercedes", "MINI", "Mini", "Mitsubishi", "Nissan",
    "Porsche", "Ram", "Subaru", "Tesla", "Toyota", "Volkswagen", "VW", "Volvo", "Polestar", "Maserati",
)
_DEALER_WORDS = r"(?:Motors?|Auto|Automotive|Autoplex|Auto Mall|Motor Company|Cars)(?:\s+(?:Group|Partners|Mall))?"
# Capitalised words that start sentences or name departments, not dealerships.
_NOT_A_NAME = {
    "The", "Our", "A", "An", "This", "That", "These", "Those", "My", "Your", "Their", "We", "I", "It", "PAM", "Hi",
    "Hello", "Hey", "Dear", "Thanks", "Thank", "Since", "When", "If", "And", "But", "Also", "At", "In", "On", "For",
    "From", "To", "With", "Service", "Sales", "Parts", "BDC", "New", "Used", "Every", "All", "Any", "Some", "Each",
    "Manager", "Director", "Owner", "Dealer", "Dealership", "Dashboard", "Store", "Our", "Is", "Are", "Was", "Please",
    "Can", "Could", "Re", "RE", "Fwd", "FW",
}

_REQUEST_ID = re.compile(r"\breq[_-][A-Za-z0-9]{4,}\b")
_REQUEST_ID_LABELLED = re.compile(r"\brequest[ -]?id\s*[:#]?\s*([A-Za-z0-9_-]*\d[A-Za-z0-9_-]*)", re.IGNORECASE)
_CLOCK = re.compile(r"\b(?:[01]?\d|2[0-3]):[0-5]\d(?:\s?[ap]\.?m\.?\b)?", re.IGNORECASE)
_HOUR_AMPM = re.compile(r"\b(?:1[0-2]|0?[1-9])\s?[ap]\.?m\.?(?![a-z])", re.IGNORECASE)
# Times that are business hours, bookings or settings rather than when a call happened.
_NOT_A_CALL_TIME = re.compile(
    r"\b(?:open|opens|opening|close|closes|closing|closed|until|till|hours|said|says|say|saying|telling|tells|told|"
    r"instead|booked|book|booking|appointment|slot|shows?|showing|changed?)\b[^.!?\n]{0,12}$",
    re.IGNORECASE,
)
_CALL_CONTEXT = re.compile(r"\b(?:call|calls|called|caller|rang)\b", re.IGNORECASE)
_MONTHS = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?"
_DATE_WORDS = re.compile(rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:,?\s+\d{{4}})?")
_DATE_NUMERIC = re.compile(r"(?<![\d/.:])(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?(?![\d/])")
_DATE_ISO = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_IP = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_QUOTED = re.compile(r"\"([^\"\n]{2,160})\"|\u201c([^\u201d\n]{2,160})\u201d")
_ERROR_WORDS = re.compile(
    r"(?i:\b(?:error|errors|err|fail\w*|denied|not found|unavailable|rejected|time ?out|timed out|invalid|expired|"
    r"disconnected|unauthori[sz]ed|forbidden|exception|busy|cannot|can't|unable|too many|missing|declined|"
    r"refused|unreachable|offline|code \d+)\b)|(?<![$\d.,])\b[45]\d\d\b(?![\d,.])|\b[A-Z]{2,}[_-][A-Z0-9_-]+\b"
)
# "The integrations page shows", "the call log says": a quote after this is screen text.
_SCREEN_BEFORE = re.compile(
    r"\b(?:log|page|screen|banner|status|portal|console|integrations?|popup|pop-up|alert|warning)\b"
    r"[^\"\n.]{0,30}\b(?:shows?|showing|says|said|reads|displays?|displaying|gives?|returns?)\s*$",
    re.IGNORECASE,
)
_CODE = re.compile(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b")
_ERROR_INLINE = re.compile(r"\berror\s*:\s*([^\n.;\"]{3,80})", re.IGNORECASE)
_ERROR_NUMBER = re.compile(r"\berror\s+(?:code\s+)?#?([A-Z0-9-]*\d[A-Z0-9-]*)\b", re.IGNORECASE)
_SYSTEM_WORDS = (r"(?:DMS|CRMs?|scheduler|scheduling (?:system|tool|software)|phone system|phones|phone provider|"
                 r"phone vendor|VoIP(?: provider)?|telephony(?: provider)?|dialer)")
_NAME = r"([A-Z][\w.&-]*[A-Za-z0-9](?:\s[A-Z][\w-]+)?)"
_SYSTEM_AFTER = re.compile(
    rf"\b{_SYSTEM_WORDS}\s+(?:(?:is|was|are|called|named|to|from|on|over to|now)\s+)*(?:is\s+)?{_NAME}")
_SYSTEM_BEFORE = re.compile(rf"\b([A-Z][\w.-]{{0,40}}[A-Za-z0-9])\s+{_SYSTEM_WORDS}\b")
_SYSTEM_USE = re.compile(rf"\b(?:use|using|on|with|to)\s+{_NAME}\s+(?:for|as)\s+(?:our\s+|the\s+)?{_SYSTEM_WORDS}\b")
_PHONE_PLACEHOLDER = "[PHONE]"


def _system_pattern(name: str) -> re.Pattern:
    flags = 0 if name in _CASE_SENSITIVE else re.IGNORECASE
    return re.compile(r"(?<![\w-])" + re.escape(name).replace(r"\ ", r"\s+") + r"(?![\w-])", flags)


_SYSTEM_PATTERNS = [(name, _system_pattern(name)) for name in KNOWN_SYSTEMS]
_MAKES = "|".join(re.escape(m) for m in sorted(CAR_MAKES, key=len, reverse=True))
_CAP = r"[A-Z][\w'&.-]{0,40}"  # bounded: "A.A.A..." is tried from every capital
# One line only: a signature's title line must not run into the store line below it.
_STORE = re.compile(
    rf"(?<![\w-])((?:{_CAP}[ \t]+){{1,4}}?(?:{_MAKES})(?:[ \t]+(?:{_MAKES}))*(?:[ \t]+of[ \t]+{_CAP}(?:[ \t]+{_CAP})?)?"
    rf"|(?:{_CAP}[ \t]+){{1,3}}{_DEALER_WORDS})(?![\w-])"
)

MISSING_KINDS = ("request_id", "call_time", "store", "integration", "example_call")
MISSING_QUESTIONS: dict[str, str] = {
    "request_id": "the request ID of an affected call (in Dashboard > Calls > Call Log, at the top of the "
                  "call details)",
    "call_time": "the date and approximate time of an affected call",
    "store": "which store (rooftop) this is about",
    "integration": "which scheduler, DMS or CRM PAM is connected to at that store (for example Xtime, CDK or "
                   "myKaarma)",
    "example_call": "an example call where this happened, with its request ID or the time of the call",
}

# The words that show a KB deals in each fact: a customer is asked for one only when the
# deployment's own customer runbooks speak of it (a KB about parcel lockers has no call
# request IDs to ask for). The PAM sample KB speaks of all five.
KB_CUES: dict[str, re.Pattern] = {
    "request_id": re.compile(r"\brequest\s+id\b", re.IGNORECASE),
    "call_time": re.compile(r"\bcalls?\b", re.IGNORECASE),
    "store": re.compile(r"\b(?:stores?|rooftops?|dealerships?)\b", re.IGNORECASE),
    "integration": re.compile(r"\b(?:DMS|CRM|scheduler)\b"),
    "example_call": re.compile(r"\bcalls?\b", re.IGNORECASE),
}


# A KB speaks of a fact when its cue is in at least this share of its customer runbooks, and
# in two of them at least: a payroll KB's one "call their bank" is no call to ask about. The
# PAM sample KB's rarest cue ("request ID") is in 7 of its 23.
ASKABLE_SHARE = 0.2


def askable_kinds(texts) -> frozenset[str]:
    """The ``MISSING_KINDS`` whose cue (``KB_CUES``) enough of ``texts`` (a KB's customer
    runbooks, one text each) use: ``ASKABLE_SHARE`` of them, two at least (one in a KB of one)."""
    texts = list(texts)
    need = max(min(2, len(texts)), math.ceil(ASKABLE_SHARE * len(texts)))  # a KB of one runbook: that one
    return frozenset(kind for kind, cue in KB_CUES.items() if sum(bool(cue.search(t)) for t in texts) >= need)


_PRIORITY_WORDS = {"P0": "P0 critical", "P1": "P1 high", "P2": "P2 medium", "P3": "P3 low"}
_SCOPE_ALL = re.compile(
    r"\b(?:not (?:answering|picking up) (?:any|all)\w*|"
    r"(?:isn'?t|not|aren'?t) (?:answering|picking up)(?: anything| at all)?"
    r"|any of (?:our|the) (?:calls|customers)|all (?:of )?(?:our |the )?(?:calls|callers|customers|appointments|"
    r"bookings|leads|transfers)|every (?:\w+ )?(?:call|caller|booking|appointment|transfer|voicemail|customer)s?\b|"
    r"none of (?:our|the|pam'?s) (?:calls|appointments|bookings|customers|leads|voicemails|texts|messages)|"
    r"no calls|busy signal|straight to voicemail|for everyone|completely|"
    r"doesn'?t load at all|nothing (?:arrives|reaches|shows up)|never show up)\b",
    re.IGNORECASE,
)
_SCOPE_MANY = re.compile(
    r"\b(?:several|multiple|a few|a dozen|dozens|most (?:afternoons|mornings|days|calls)|"
    r"\d+\+? (?:customers|callers|calls|cars|appointments|bookings|times)|"
    r"(?:two|three|four|five|six|ten|twenty) (?:customers|callers|calls|times|examples)|"
    r"(?:customers|callers|advisors) (?:haven'?t|aren'?t|are|have|keep|say|tell|complain)\w*|"
    r"(?:transfers|calls|appointments|bookings|leads|texts|lookups) (?:are|keep) \w+|"
    r"keeps? (?:\w+ing)|every (?:morning|day|afternoon)|(?:third|fourth|second) \w+ (?:this|in a) (?:week|month))\b",
    re.IGNORECASE,
)
_SCOPE_ONE = re.compile(r"\b(?:a customer|a caller|one customer|one caller|the customer|the caller|a call|"
                        r"one call|the call|a long-time customer|a lady|a gentleman)\b", re.IGNORECASE)
_HOWTO = re.compile(r"^\s*(?:how (?:do|can|should) (?:i|we)|can (?:pam|you|we|i)|is (?:it|there) (?:possible|a way)|"
                    r"does pam|what (?:is|are)|where (?:do|can) (?:i|we)|when does)\b", re.IGNORECASE)
# A greeting opening a line: "Hi,", "Hello team -", "hi Maheen,", "good morning!", "hey ".
_GREETING = re.compile(r"^(?:hi|hello|hey|dear|greetings|good\s+(?:morning|afternoon|evening))\b"
                       r"(?:[^,!.:\n]{0,30}[,!.:-]+|\s+(?=how\b|can\b|is\b|does\b|what\b|where\b|when\b)|\s*$)\s*",
                       re.IGNORECASE)
_TROUBLE = re.compile(r"\b(?:not|\w+n't|wrong|error|fail\w*|broken|stopped|keeps?|missing|never|no longer|instead|"
                      r"loop\w*|repeat\w*|hung up|hanging up|rude|dropp\w*|busy|late|twice|duplicat\w*|"
                      r"rejected|denied|expired|disconnected|stuck|lying|interrupt\w*|cut (?:in|off))\b",
                      re.IGNORECASE)
_CHATTER = re.compile(
    r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hope|thanks|thank you|many thanks|regards|best|"
    r"sincerely|cheers|my name is|i am the|i'?m the|please look into it|happy to)\b", re.IGNORECASE)

# --------------------------------------------------------------------------- facts


@dataclass
class Facts:
    """What the request itself says: identifiers, times, systems, error texts, stores."""

    request_ids: list[str] = field(default_factory=list)
    call_times: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    vendors: list[str] = field(default_factory=list)  # DMS/CRM/scheduler and phone-system names
    errors: list[str] = field(default_factory=list)  # quoted error texts, ERR_ codes, "error: ..."
    stores: list[str] = field(default_factory=list)
    phones_redacted: bool = False  # a phone number was in the request; it is never copied here
    ip_addresses: list[str] = field(default_factory=list)  # added: a login from an unknown IP is evidence
    # Another dealership the request asks about as a third party ("pull Valley Toyota's call
    # volume"): never the writer's store, so it is not in ``stores`` (guardrails.risk).
    other_dealers: list[str] = field(default_factory=list)
    # The request was flagged as another dealership's data (named or not: "reset the password for
    # parts@..., I don't work there"): nothing on that account is changed or shared unconfirmed.
    other_dealer: bool = False


class _Values(list):
    """Values in the order first found, each once whatever its case or spacing."""

    def __init__(self):
        super().__init__()
        self._seen: set[str] = set()  # a set: a text of thousands of values is read in linear time

    def add(self, value: str) -> None:
        value = " ".join(value.split()).strip(" ,;:")
        if value and value.lower() not in self._seen:
            self._seen.add(value.lower())
            self.append(value)


def _keep_longest(names: list[str]) -> list[str]:
    """Drop a name contained in a longer one ("Heritage Chevrolet" inside "Heritage Chevrolet of Dunmore").

    The names are different in lower case (``_Values``), so a name is inside another exactly
    when it occurs twice in all of them joined: one search per name, not one per pair.
    """
    joined = "\0".join(n.lower() for n in names)
    return [n for n in names if joined.count(n.lower()) < 2]


# A reply or forward header ("On Mon, Nov 3 at 9:12 AM Jo wrote:", "Sent: ..."): its time is
# when an email was written, not when a call was made.
_MAIL_HEADER = re.compile(r"^[\s>]*(?:on\b.{0,160}\bwrote:?|(?:sent|date|from|to|cc|subject)\s*:)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.?] |\n")


def _call_times(text: str) -> list[str]:
    out = _Values()
    lines, sentences = Breaks(text), Breaks(text, _SENTENCE_END)
    header_lines: dict[tuple[int, int], bool] = {}  # each line is read once
    clocks = Taken(len(text))  # where clock times stand
    for m in _CLOCK.finditer(text):
        clocks.take(*m.span())
        before = text[max(0, m.start() - 40):m.start()]
        line = lines.around(m.start())
        if line not in header_lines:
            header_lines[line] = bool(_MAIL_HEADER.match(text[line[0]:line[1]]))
        if _NOT_A_CALL_TIME.search(before) or header_lines[line]:
            continue
        out.add(m.group())
    said_of_a_call: dict[tuple[int, int], bool] = {}  # each sentence is read once
    for m in _HOUR_AMPM.finditer(text):
        # "8am"-style times count only when said of a call ("I called ... around 5 pm").
        if clocks.at(m.start()):
            continue  # part of a clock time ("9:30 am")
        sentence = sentences.around(m.start())
        if sentence not in said_of_a_call:
            said_of_a_call[sentence] = bool(_CALL_CONTEXT.search(text[sentence[0]:sentence[1]]))
        before = text[max(0, m.start() - 40):m.start()]
        if (said_of_a_call[sentence] and re.search(r"\b(?:at|around|about)\s*$", before, re.I)
                and not _NOT_A_CALL_TIME.search(before)):
            out.add(m.group())
    return list(out)


def _dates(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for m in _DATE_WORDS.finditer(text):
        found.append((m.start(), m.group()))
    for m in _DATE_NUMERIC.finditer(text):
        month, day = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            found.append((m.start(), m.group()))
    for m in _DATE_ISO.finditer(text):
        found.append((m.start(), m.group()))
    out = _Values()
    for _pos, value in sorted(found):
        out.add(value)
    return list(out)


def _vendors(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    taken = Taken(len(text))  # where a name already found stands
    for name, pattern in _SYSTEM_PATTERNS:  # longest names first
        for m in pattern.finditer(text):
            if not taken.free(m.start(), m.end()):
                continue
            taken.take(m.start(), m.end())
            found.append((m.start(), name))
    # Names not in the list, said of a system: "switched CRMs to DriveCentric", "our Fonality phone system".
    makes = {m.lower() for m in CAR_MAKES}
    for pattern in (_SYSTEM_AFTER, _SYSTEM_BEFORE, _SYSTEM_USE):
        for m in pattern.finditer(text):
            name = m.group(1).strip()
            first = name.split()[0]
            if first in _NOT_A_NAME or first.lower() in makes or not taken.free(m.start(1), m.end(1)):
                continue
            if len(name.split()) > 1 and name.split()[1] in _NOT_A_NAME:
                name = first
            taken.take(m.start(1), m.end(1))
            found.append((m.start(1), name))
    out = _Values()
    for _pos, name in sorted(found):
        out.add(name)
    return _keep_longest(out)


def _errors(text: str) -> list[str]:
    out = _Values()
    taken = Taken(len(text))  # under an error already read
    for m in _QUOTED.finditer(text):
        quote = (m.group(1) or m.group(2)).strip()
        before = text[max(0, m.start() - 60):m.start()]
        if _ERROR_WORDS.search(quote) or (_SCREEN_BEFORE.search(before) and len(quote.split()) <= 10):
            out.add(quote)
            taken.take(m.start(), m.end())
    for pattern, group in ((_ERROR_INLINE, 1), (_CODE, 0), (_ERROR_NUMBER, 0)):
        for m in pattern.finditer(text):
            if not taken.free(m.start(), m.end()):
                continue
            if text[m.start() - 1:m.start()] == "[" and text[m.end():m.end() + 1] == "]":
                continue  # a redaction placeholder ("[CARD_CODE]"), not an error the customer saw
            out.add(m.group(group))
            taken.take(m.start(), m.end())
    return list(out)


def _stores(text: str) -> list[str]:
    out = _Values()
    for m in _STORE.finditer(text):
        words = m.group(1).split()
        while words and (words[0] in _NOT_A_NAME or words[0].rstrip(".,") in _NOT_A_NAME):
            words = words[1:]
        # A make alone ("the Kia invoice") is not a store; a name before it is.
        if len(words) >= 2 and not all(w in CAR_MAKES for w in words):
            out.add(" ".join(words))
    return _keep_longest(out)


def extract_facts(text: str, phones_found: bool | None = None, *, other_dealer: bool = False) -> Facts:
    """The facts a Tier 2 engineer looks for first, copied from the request text.

    ``phones_found`` says whether the original request held a phone number; the pipeline
    knows it from its own personal-data findings (its text is already redacted). When
    it is None, the text is checked here. A dealership the request asks about as a third
    party is in ``other_dealers``, not ``stores``: one ``guardrails.risk.names_another_dealer``
    finds, and with ``other_dealer`` (the request was flagged for another dealership's data)
    every store named other than on a signature line.

    >>> f = extract_facts("Transfers fail on RingCentral since 11/12, e.g. 2:14 PM today.\\n\\nChris, Palmetto Nissan")
    >>> f.vendors, f.dates, f.call_times, f.stores
    (['RingCentral'], ['11/12'], ['2:14 PM'], ['Palmetto Nissan'])
    """
    text = text or ""
    facts = Facts()
    ids = [(m.start(), m.group()) for m in _REQUEST_ID.finditer(text)]
    ids += [(m.start(1), m.group(1)) for m in _REQUEST_ID_LABELLED.finditer(text)]
    request_ids, ip_addresses = _Values(), _Values()
    for _pos, rid in sorted(ids):
        request_ids.add(rid)
    facts.request_ids = list(request_ids)
    facts.call_times = _call_times(text)
    facts.dates = _dates(text)
    facts.vendors = _vendors(text)
    facts.errors = _errors(text)
    facts.stores = _stores(text)
    others = _Values()
    if named := names_another_dealer(text):
        others.add(named.removesuffix("'s"))
    if other_dealer:  # the writer's own store: on its signature (a short line), or introduced as its own
        signed = {s for line in text.splitlines() if len(line.split()) <= SIGNATURE_LINE_WORDS for s in _stores(line)}
        for store in facts.stores:
            own = store in signed or any(named_as_own(text, m.start())
                                         for m in re.finditer(re.escape(store), text))
            if not own:
                others.add(store)
    facts.other_dealers = list(others)
    facts.other_dealer = other_dealer
    facts.stores = [s for s in facts.stores
                    if not any(o.lower() in s.lower() or s.lower() in o.lower() for o in others)]
    for m in _IP.finditer(text):
        if all(0 <= int(p) <= 255 for p in m.group().split(".")):
            ip_addresses.add(m.group())
    facts.ip_addresses = list(ip_addresses)
    if phones_found is None:
        from guardrails.pii import PiiDetector

        phones_found = any(f.kind == "phone" for f in PiiDetector().run(text))
    facts.phones_redacted = _PHONE_PLACEHOLDER in text or phones_found
    return facts


# Reasons whose hand-off asks nothing of the customer: an attack, or a request that is not ours.
_ASK_NOTHING = {"out_of_scope", "prompt_injection"}
# Reasons that are about the account rather than a call (a billing dispute, a cancellation,
# a breach report, a card number): the call-debugging facts and steps apply to them only when
# the request is about a call ("PAM told a caller his warranty covered it; he is suing").
_ACCOUNT_REASONS = {"risky_topic", "security_incident", "pii_detected"}
_ABOUT_A_CALL = re.compile(r"\b(?:(?:call|calls)(?!\s+(?:volumes?|stats|statistics|counts?|totals?|numbers|minutes|"
                           r"center|centre))|called|caller|callers|rang|on the phone|transcripts?|recordings?)\b",
                           re.IGNORECASE)


def account_matter(reasons, text: str) -> bool:
    """Whether the request goes to a person for an account matter that is not about any call."""
    return bool(_ACCOUNT_REASONS & set(reasons)) and not _ABOUT_A_CALL.search(text or "")


def missing_facts(facts: Facts, category: str, text: str, reasons=(), askable=frozenset(MISSING_KINDS)) -> list[str]:
    """What the customer has not said and should be asked, in ``MISSING_KINDS`` order.

    A pure how-to question ("Can PAM text a link?") needs no example call; any
    report of something going wrong does. An out-of-scope request or an attack is asked
    nothing; an account matter (``account_matter``) is asked only which store it is. Only
    ``askable`` kinds are asked (``askable_kinds``: what the KB speaks of).
    """
    if _ASK_NOTHING & set(reasons) or category == "out_of_scope":
        return []
    # The question may follow a subject line and a greeting ("Texting links\nHi,\nCan PAM text a
    # link?", "hi, how do i ..."): the greeting is read past.
    opening = [line for ln in (text or "").splitlines() if (line := _GREETING.sub("", ln.strip()))][:2]
    howto = any(_HOWTO.match(ln) for ln in opening) and not _TROUBLE.search(text or "")
    account = account_matter(reasons, text)
    calls = not howto and not account
    missing = []
    if not facts.request_ids and calls:
        missing.append("request_id")
    if not facts.call_times and calls:
        missing.append("call_time")
    if not facts.stores:
        missing.append("store")
    if category == "integration" and not facts.vendors and not account:
        missing.append("integration")
    if category == "llm_behavior" and not facts.request_ids and not facts.call_times and calls:
        missing.append("example_call")
    return [kind for kind in missing if kind in askable]


def evidence_lines(facts: Facts) -> list[str]:
    """Facts as short labelled strings, in the order an engineer uses them."""
    out = [f"request ID {r}" for r in facts.request_ids]
    out += [f"call time {t}" for t in facts.call_times]
    out += [f"date {d}" for d in facts.dates]
    out += [f"system: {v}" for v in facts.vendors]
    out += [f'error: "{e}"' for e in facts.errors]
    out += [f"IP address {ip}" for ip in facts.ip_addresses]
    if facts.phones_redacted:
        out.append("a phone number was given (redacted; see the original email)")
    return out


# --------------------------------------------------------------------------- the note

_REASON_WHY = {
    "low_confidence": "the category is uncertain",
    "not_covered": "no source covers it well enough",
    "out_of_scope": "the request looks outside what this support desk handles",
    "risky_topic": "the topic needs a person to answer",
    "security_incident": "a possible security incident needs a person",
    "pii_detected": "the request hands over personal data to act on",
    "prompt_injection": "the request tries to instruct the assistant",
    "internal_only_source": "only staff-only sources cover it",
    "llm_unavailable": "the model was unavailable",
}
_CATEGORY_NEEDED = {
    "integration": "Check the {system} connection for the store (Dashboard > Integrations) and its latest sync "
                   "error{vendor_hint}",
    "llm_behavior": "Pull {calls} and review the transcript turn by turn to find where PAM went wrong "
                    "(prompt, dealership facts or configuration)",
    "pam_core": "Check the store's dashboard settings involved and reproduce it with a test call{calls_hint}",
}
# What the OPS notes say about each provider's own setup delays: during onboarding
# they stop an engineer chasing a normal wait; on a live store they do not apply.
_ONBOARDING_HINTS = {
    "xtime": "; confirm when the invite was accepted (Xtime activates up to 24 hours later)",
    "mykaarma": "; myKaarma provisioning takes 24-48 hours after the dealer accepts",
    "cdk": "; check the Fortellis approval (CDK setup takes 2-3 weeks)",
    "fortellis": "; check the Fortellis approval (CDK setup takes 2-3 weeks)",
}
_ALWAYS_HINTS = {
    "dealertrack": "; check the Opentrack credentials",
    "opentrack": "; check the Opentrack credentials",
}
_ONBOARDING = re.compile(r"\b(?:invite|accept\w*|signed|onboard\w*|go[- ]?live|not (?:yet )?(?:connected|live)|"
                         r"pending|approv\w*|setup|set up|hookup|authori[sz]ation form)\b", re.IGNORECASE)


# Sentence ends for the summary: after . ! ? (and a closing quote), before a capital.
_SUMMARY_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'(]?[A-Z0-9])|(?<=[.!?][\"')\]])\s+(?=[\"'(]?[A-Z0-9])")
_ASK = re.compile(r"\b(?:please|can you|could you|need|would like|'d like|help|fix|look into|check)\b", re.I)


def _sentences(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for line in text.split("\n"):
        line = line.strip(" \t-*\u2022")
        if not line:
            continue
        pos = 0
        for m in list(_SUMMARY_SPLIT.finditer(line)) + [None]:
            end = m.start() if m else len(line)
            piece = line[pos:end].strip()
            if piece:
                out.append((len(out), piece))
            pos = m.end() if m else len(line)
    return out


INJECTION_SUMMARY = ("The message contains instructions addressed to the assistant (prompt injection or an "
                     "attempt to extract internal material); it was not answered. Read the original request "
                     "in the decision log before replying.")


def summarize(text: str, max_sentences: int = 3, max_chars: int = 420) -> str:
    """The most informative 1-3 sentences of the request, in their original order.

    Greetings, sign-offs and signatures are stripped first; each sentence then
    scores by its density of problem words, systems, errors and identifiers,
    with a mild preference for early sentences (emails state the problem first).
    """
    start, end = strip_envelope(text or "")
    body = (text or "")[start:end] or (text or "")
    # What the customer wrote now: not the quoted history of a reply, nor its "On ... wrote:" line
    # (an email that is all quoted is summarised as it is).
    body = "\n".join(ln for ln in unquoted(body).splitlines() if not _MAIL_HEADER.match(ln)).strip() or body
    cands = []
    for idx, sent in _sentences(body):
        words = re.findall(r"[\w']+", sent)
        if len(words) < 3 or _CHATTER.match(sent):
            continue
        signal = 2 * len(_TROUBLE.findall(sent)) + len(_ASK.findall(sent))
        signal += len(_REQUEST_ID.findall(sent)) + 2 * len(_CODE.findall(sent))
        signal += sum(1 for _n, p in _SYSTEM_PATTERNS if p.search(sent))
        signal += 1.5 * len(_QUOTED.findall(sent)) + (1 if re.search(r"\bPAM\b", sent, re.I) else 0)
        score = signal / math.sqrt(len(words)) + 1.0 / (1 + 0.5 * idx)
        cands.append((score, idx, sent))
    if not cands:
        return " ".join(body.split())[:max_chars]
    chosen, total = [], 0
    for score, idx, sent in sorted(cands, key=lambda c: (-c[0], c[1])):
        if len(chosen) >= max_sentences or (chosen and total + len(sent) > max_chars):
            continue
        chosen.append((idx, sent))
        total += len(sent) + 1
    return " ".join(s if s[-1] in ".!?\"" else s + "." for _i, s in sorted(chosen))[:max_chars]


def impact(text: str, priority: str, facts: Facts, reasons: list[str]) -> str:
    """Severity from the priority, scope from what the request says (all calls, many callers, one caller)."""
    parts = [_PRIORITY_WORDS.get(priority, priority)]
    for pattern, label in ((_SCOPE_ALL, "all calls or bookings at the store"),
                           (_SCOPE_MANY, "several callers or calls"), (_SCOPE_ONE, "one caller or call")):
        m = pattern.search(text or "")
        if m:
            parts.append(f'scope: {label} ("{m.group()}")')
            break
    if "security_incident" in reasons:
        parts.append("possible security incident")
    if facts.stores:
        parts.append("store: " + ", ".join(facts.stores))
    if facts.other_dealers:
        parts.append("asks about another dealership: " + ", ".join(facts.other_dealers))
    return "; ".join(parts) + "."


def needed(category: str, reasons: list[str], facts: Facts, priority: str, text: str = "") -> str:
    """What the person picking this up must do, from the reasons and the category."""
    steps: list[str] = []
    if "security_incident" in reasons:
        steps.append("Treat as a security incident: lock the affected account, review the activity log and tell "
                     "the customer what was accessed")
    if "risky_topic" in reasons:
        steps.append("Support lead to review and reply personally")
        if facts.other_dealer:
            steps.append("Change or share nothing on another dealership's account (logins, 2FA, call logs, "
                         "recordings, numbers) without that dealership's account owner confirming it")
    if "pii_detected" in reasons:
        steps.append("Contact the customer through a secure channel; do not copy the personal data into the ticket")
    if "prompt_injection" in reasons:
        steps.append("Read the request as plain text and answer by hand only if it is a real support question")
    if "out_of_scope" in reasons:
        steps.append("Decide whether this is a question for this support desk; if not, reply and close")
    calls = _calls(facts)
    # Debugging steps only for a problem with PAM: not for an incident, an attack, a request that
    # is not ours, or an account matter that names no call and no system.
    debug = (not {"security_incident", "prompt_injection", "out_of_scope"} & set(reasons)
             and (facts.vendors or not account_matter(reasons, text)))
    if category in _CATEGORY_NEEDED and debug:
        dealer = [v for v in facts.vendors if v not in PHONE_SYSTEMS and v not in TEXTING_SYSTEMS]
        phones = [v for v in facts.vendors if v in PHONE_SYSTEMS]
        hints = {**_ALWAYS_HINTS, **(_ONBOARDING_HINTS if _ONBOARDING.search(text or "") else {})}
        hint = next((hints[v.lower()] for v in dealer if v.lower() in hints), "")
        steps.append(_CATEGORY_NEEDED[category].format(
            system=dealer[0] if dealer else "scheduler/DMS", vendor_hint=hint, calls=calls,
            calls_hint=(", looking at " + calls) if (facts.request_ids or facts.call_times) else ""))
        if phones and category != "llm_behavior":
            steps.append(f"Check how the store's {phones[0]} setup forwards and transfers calls to and from PAM "
                         "(Dashboard > Settings > Call Routing)")
    if "internal_only_source" in reasons:
        steps.append("Answer from the internal runbook without quoting it to the customer")
    if "llm_unavailable" in reasons:
        steps.append("Write the reply by hand (the model was unavailable)")
    if "not_covered" in reasons:
        steps.append("No runbook covers this yet: note the fix so one can be written if it comes up again")
    if not steps:
        steps.append("Find the cause and reply to the customer")
    text = ". ".join(steps) + "."
    return ("Respond immediately. " + text) if priority == "P0" else text


def raise_priority(handoff: Handoff, priority: str, part: str) -> None:
    """The note of an email whose other part is more urgent (``part``, its text): the person who
    picks the ticket up sees that part and its urgency, not only the point the note was about."""
    old = _PRIORITY_WORDS.get(handoff.priority, handoff.priority)
    handoff.impact = handoff.impact.replace(old, _PRIORITY_WORDS.get(priority, priority), 1)
    handoff.priority = priority
    if priority == "P0" and not handoff.needed.startswith("Respond immediately."):
        handoff.needed = "Respond immediately. " + handoff.needed
    also = f"Also in this email, at {priority}: {summarize(part)}"
    handoff.summary = f"{handoff.summary} {also}" if handoff.summary else also


def _calls(facts: Facts) -> str:
    """'the call req_x', 'the calls req_x, req_y' or 'the call on 10/28 at 4:15 PM'."""
    if facts.request_ids:
        return ("the call " if len(facts.request_ids) == 1 else "the calls ") + ", ".join(facts.request_ids)
    text = "the call"
    if facts.dates and facts.call_times:
        text += " on " + facts.dates[0]
    if facts.call_times:
        text += " at " + ", ".join(facts.call_times)
    return text


def checked(hits, support: float, surface: str, min_support: float, reasons: list[str], top: int = 3) -> list[str]:
    """Each source the assistant looked at and why it did not settle the request.

    On ``chat`` internal runbooks and past tickets are named by id only: no title, no text.
    """
    if not hits:
        return [f"no runbook or past ticket matched (best similarity {support:.2f}, needs {min_support:.2f})"]
    other = next((_REASON_WHY[r] for r in reasons if r not in ("not_covered",) and r in _REASON_WHY), None)
    out = []
    runbooks = [h for h in hits if h.kind == "runbook"][:top]
    tickets = [h for h in hits if h.kind != "runbook"][:2]
    for h in runbooks + tickets:
        staff_only = h.audience != "customer" or h.kind != "runbook"
        name = h.doc_id if (surface == "chat" and staff_only) else f"{h.doc_id} ({h.title})"
        if h.kind != "runbook":
            why = (f"past ticket, similarity {h.score:.2f}" +
                   (", not for chat" if surface == "chat" else ", context for OPS only, never quoted to the customer"))
        elif surface == "chat" and h.audience != "customer":
            why = f"similarity {h.score:.2f}, internal only, not for chat"
        elif h.score < min_support:
            why = f"similarity {shown_below(h.score, min_support)} below {min_support:.2f}, does not cover it"
        else:
            why = f"similarity {h.score:.2f}, on topic" + (f", but {other}" if other else "")
            if h.audience != "customer":
                why += "; internal only, use it without quoting it"
        out.append(f"{name}: {why}")
    return out


class HandoffBuilder:
    """Builds the escalation note for the human queue from the request and what the pipeline found.

    >>> HandoffBuilder().run(text="PAM keeps repeating itself", category="llm_behavior",   # doctest: +SKIP
    ...     priority="P2", queue="llm-behavior-engineering", reasons=["not_covered"], hits=[],
    ...     support=0.31, surface="chat", min_support=0.5).missing[0]
    'the request ID of an affected call (in Dashboard > Calls > Call Log, at the top of the call details)'
    """

    def run(self, *, text: str, category: str, priority: str, queue: str, reasons: list[str], hits: list,
            support: float, surface: str, min_support: float, facts: Facts | None = None,
            missing: list[str] | None = None) -> Handoff:
        """``facts`` and ``missing`` (``MISSING_KINDS``): what the caller already found (else read from ``text``)."""
        facts = facts if facts is not None else extract_facts(text)
        missing = missing if missing is not None else missing_facts(facts, category, text, reasons)
        # An attack is not repeated, not even to staff: its text stays in the decision log.
        summary = (INJECTION_SUMMARY if "prompt_injection" in reasons else summarize(text))
        return Handoff(
            priority=priority, category=category, queue=queue,
            summary=summary,
            impact=impact(text, priority, facts, reasons),
            evidence=evidence_lines(facts),
            checked=checked(hits, support, surface, min_support, reasons),
            needed=needed(category, reasons, facts, priority, text),
            missing=[MISSING_QUESTIONS[k] for k in missing],
        )
