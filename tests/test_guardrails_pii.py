"""PII detection, redaction, "hands it over to act on", and echo checks (no model needed)."""

from __future__ import annotations

import pytest

from assistant.models import SupportRequest
from guardrails.pii import PiiDetector, echoes, luhn_ok

det = PiiDetector()


@pytest.mark.parametrize(
    ("text", "kind", "value", "placeholder"),
    [
        ("write to maria.lopez@lakeside-ford.com today", "email", "maria.lopez@lakeside-ford.com", "[EMAIL]"),
        ("my cell is (212) 555-0147 after 5", "phone", "(212) 555-0147", "[PHONE]"),
        ("or +1 415.555.2671", "phone", "+1 415.555.2671", "[PHONE]"),
        ("card 4111 1111 1111 1111 on file", "card", "4111 1111 1111 1111", "[CARD]"),
        ("amex 3782-822463-10005 please", "card", "3782-822463-10005", "[CARD]"),
        ("ssn 123-45-6789 for the credit check", "ssn", "123-45-6789", "[SSN]"),
        ("wire to DE89 3704 0044 0532 0130 00 thanks", "iban", "DE89 3704 0044 0532 0130 00", "[IBAN]"),
    ],
)
def test_each_kind_is_found_and_redacted(text, kind, value, placeholder):
    findings = det.run(text)
    assert [(f.kind, f.text) for f in findings] == [(kind, value)]
    assert text[findings[0].start : findings[0].end] == value
    redacted = det.redact(text)
    assert placeholder in redacted and value not in redacted


def test_luhn_invalid_card_is_not_flagged():
    assert not luhn_ok("4111111111111112")
    assert det.run("card 4111 1111 1111 1112") == []
    assert det.run("order 1234567890123") == []


@pytest.mark.parametrize("ssn", ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"])
def test_ssns_the_ssa_never_issues_are_not_flagged(ssn):
    assert det.run(f"ssn {ssn}") == []


def test_invented_phone_numbers_are_not_flagged():
    # 555-123-4567 has no valid US area code; phonenumbers' VALID leniency drops it.
    assert det.run("call 555-123-4567") == []


def test_card_number_is_not_also_a_phone_number():
    assert [f.kind for f in det.run("4111-1111-1111-1111")] == ["card"]


def test_redact_keeps_surrounding_text_and_handles_several_findings():
    text = "Email jo@dealer.com or call (212) 555-0147; card 4111 1111 1111 1111."
    assert det.redact(text) == "Email [EMAIL] or call [PHONE]; card [CARD]."


SIGNATURE_EMAIL = """Hi team,

PAM sends every service call to voicemail since this morning. Can you look?

Thanks,
Mike Rivera
Service Manager, Rivera Ford
(212) 555-0147
mike@riverford.com
"""


def test_phone_in_signature_is_not_something_to_act_on():
    findings = det.run(SIGNATURE_EMAIL)
    assert "phone" in {f.kind for f in findings}
    assert det.asks_to_act_on(SIGNATURE_EMAIL, findings) is False


@pytest.mark.parametrize(
    "text",
    [
        "Phone: (212) 555-0147",
        "Please call me back at (212) 555-0147 when you can.",
        "Please email me at dana.w@lakeside-ford.com when it is fixed.",
        "I emailed jo@lakeside-ford.com last week and never heard back.",
        "PAM keeps hanging up. Reach me on (415) 555-2671 if you need more details.",
    ],
)
def test_contact_details_are_not_something_to_act_on(text):
    assert det.asks_to_act_on(text, det.run(text)) is False


@pytest.mark.parametrize("text", [
    # found by a review: "mail" and "email" that ask nothing
    "Calls to (415) 555-2671 roll to voice mail, and the mail never gets to our inbox.",
    "Missed-call notices email fine to dana.smith@gmail.com but texts do not arrive.",
])
def test_mail_and_email_that_ask_nothing_are_not_something_to_act_on(text):
    assert det.asks_to_act_on(text, det.run(text)) is False


@pytest.mark.parametrize(
    "text",
    [
        "charge this card 4111 1111 1111 1111",
        "here is my SSN for the credit application: 123-45-6789",
        "Please change our transfer number to (212) 555-0147",
        "Please update the service line to:\n(212) 555-0147",
        "our lawyer's office number (415) 555-2671 needs adding to the transfer list",
        "send the invoices to ap@lakeside-ford.com instead of me",
        # Found on the payroll KB's probes: the same as "send ... to", said with another verb
        "can you email the W-2 for our employee to her personal address jane.doe88@gmail.com?",
        "please mail last month's statement to ap@lakeside-ford.com",
        "Fax the signed form to 415-555-2671.",
        "We need you to email the report to dana.r@gmail.com.",
        "PAM booked Mrs. Ortiz on the wrong day, please call her back at (602) 555-0187 to fix it",
    ],
)
def test_requests_that_hand_over_data_to_act_on(text):
    assert det.asks_to_act_on(text, det.run(text)) is True


def test_echoes_compares_digits_and_lowercase():
    findings = det.run("My cell is +1 (212) 555-0147, email Jo.Smith@Dealer.com, card 4111 1111 1111 1111")
    answer = "We will call 212.555.0147 and write to jo.smith@dealer.com."
    assert sorted(f.kind for f in echoes(answer, findings)) == ["email", "phone"]
    assert [f.kind for f in echoes("Card ending 1111 is on file.", findings)] == []
    assert [f.kind for f in echoes("Charged 4111-1111-1111-1111.", findings)] == ["card"]


def test_card_security_code_and_expiry_are_redacted_only_when_labelled():
    text = "New card 4111 1111 1111 1111 exp 09/28, cvv 312. We have 312 cars and open at 9/28 Main St."
    kinds = [(f.kind, f.text) for f in det.run(text)]
    assert ("card_code", "312") in kinds and ("card_code", "09/28") in kinds
    redacted = det.redact(text)
    assert "cvv [CARD_CODE]" in redacted and "exp [CARD_CODE]" in redacted
    assert "We have 312 cars" in redacted  # an unlabelled number is not personal data
    assert det.asks_to_act_on("my CVC: 0412, put it on file", det.run("my CVC: 0412, put it on file"))


@pytest.mark.parametrize("text", [
    "Our prices: 12.50 13.75 14.00 15.25 16.50",  # a price list is no card, though 16 digits pass Luhn
    "Ref 120 45 6789 from the DMS",  # 3-2-4 digits with spaces and no SSN label: a reference
    "Quote 2026.03.02 10.15 11.30 12.45 for the shuttle",
])
def test_number_lists_are_not_cards_or_ssns(text):
    assert PiiDetector().run(text) == []


@pytest.mark.parametrize("text, value", [
    ("ssn 078 05 1120", "078 05 1120"), ("SSN: 078.05.1120", "078.05.1120"), ("my ssn is 078051120", "078051120"),
    ("social security number 078 05 1120", "078 05 1120"), ("card 4111.1111.1111.1111", "4111.1111.1111.1111"),
    ("card 4111  1111  1111  1111", "4111  1111  1111  1111"), ("amex 3782 822463 10005", "3782 822463 10005"),
])
def test_labelled_ssns_and_grouped_cards_in_other_spellings(text, value):
    assert [f.text for f in PiiDetector().run(text)] == [value]


@pytest.mark.parametrize("text", [
    "Card no.4111111111111111", "Card no.4111 1111 1111 1111", "6011 0009 9013 9421 237", "4111-1111-\n1111-1111",
    "SSN number 078 05 1120", "SSN #: 078 05 1120", "SSN no. 078 05 1120", "SS No. 078 05 1120",
    "Social-Security number 078 05 1120", "my social is 078.05.1120",
])
def test_cards_and_labelled_ssns_in_the_forms_people_write_them(text):
    assert len(PiiDetector().run(text)) == 1, text


@pytest.mark.parametrize("text, value", [
    # separators mixed within one number
    ("our card 4111 1111-1111 1111 exp soon", "4111 1111-1111 1111"),
    ("new card 5555.5555 5555.4444 please", "5555.5555 5555.4444"),
    ("autopay is 5555 5555 5555-4444 now", "5555 5555 5555-4444"),
    # a dash against the number that does not continue it
    ("please bill our new card-4111111111111111 for it", "4111111111111111"),
    ("visa 4111111111111111-09/28 for the overage", "4111111111111111"),
    ("visa 4111 1111 1111 1111-09/28 for it", "4111 1111 1111 1111"),
    ("visa 4111 1111 1111 1111 - 09/28 for it", "4111 1111 1111 1111"),
    # an SSN after "is:" or with spaced dashes
    ("customer's SSN is: 078 05 1120, delete it", "078 05 1120"),
    ("her social security number 078 - 05 - 1120", "078 - 05 - 1120"),
    # email addresses spelled out
    ("write to mike.r at sunsetford dot com please", "mike.r at sunsetford dot com"),
    ("dana.whitfield (at) gmail (dot) com", "dana.whitfield (at) gmail (dot) com"),
    ("dana [at] gmail.com", "dana [at] gmail.com"),
    ("dana dot smith at gmail dot com", "dana dot smith at gmail dot com"),
    ("please email mike at sunsetford dot com", "mike at sunsetford dot com"),
    # a real dot in the host: an address all the same (it had reached the model, and the reply's echo)
    ("Please reply to tbaker at sunsetford.com", "tbaker at sunsetford.com"),
    ("email me at tom.baker at gmail.com", "tom.baker at gmail.com"),
    ("contact dana at lakesidekia.com about it", "dana at lakesidekia.com"),
])
def test_personal_data_in_mixed_or_spelled_out_forms(text, value):
    assert [f.text for f in PiiDetector().run(text)] == [value]


@pytest.mark.parametrize("text", [
    "call us at sunsetford.com today",  # a website, not an address
    "find our hours online at sunsetford.com",
    "we are at the shop dot com",
    "order 4111-1111-1111-1111-2222 ref",  # a longer number that only starts like a card
    "id 12-4111111111111111",
    "Service hours are 0700-0730 0900-1330 on Saturdays",  # Luhn passes, but no card starts with 0
    "Please update our greeting to say: visit us online at sunsetford dot com",  # a website
])
def test_spelled_emails_and_loose_cards_need_their_shape(text):
    assert PiiDetector().run(text) == []


@pytest.mark.parametrize("text, value", [
    ("Can someone call him at six-oh-two 555 zero one eight seven to apologize?",
     "six-oh-two 555 zero one eight seven"),
    ("call her back at six oh two, five five five, oh one eight seven please",
     "six oh two, five five five, oh one eight seven"),
    ("Store 12, six oh two, five five five, oh one eight seven", "six oh two, five five five, oh one eight seven"),
])
def test_phone_numbers_said_in_words_are_found(text, value):
    assert [(f.kind, f.text) for f in PiiDetector().run(text)] == [("phone", value)]


@pytest.mark.parametrize("text", [
    "we have one, two, three, four, five, six, seven bays",
    "oh one more thing, two of our five advisors",
    "Our hours are 7 to 6, Monday to Friday, and 8 to 1 on Saturday, one two three",
    "Please add these loaners to the list: one 2019, two 2020, one 2021, three 2022.",
    "ratings: three 4.5, two 3.8, one 2.9, four 4.1",
])
def test_counting_in_words_is_no_phone_number(text):
    assert PiiDetector().run(text) == []


def test_a_phone_number_said_in_words_is_compared_by_its_digits():
    findings = PiiDetector().run("call him at six-oh-two 555 zero one eight seven")
    assert [f.kind for f in echoes("We will call 602-555-0187.", findings)] == ["phone"]
    assert echoes("Dial 555-0100 for sales.", findings) == []  # not its "555" alone


def test_a_licence_labelled_with_a_typographic_apostrophe_is_redacted():
    text = SupportRequest(id="x", channel="chat", body="my driver\u2019s license D1234567, can you update it").body
    findings = PiiDetector().run(text)
    assert [f.kind for f in findings] == ["license"]
    assert "D1234567" not in PiiDetector().redact(text, findings)


# -- found by a review, 2026-12-06 ------------------------------------------------------------------
@pytest.mark.parametrize("text", ["Date of birth (MM/DD/YYYY): 03/14/1985", "Date of Birth: 14-Mar-1985",
                                  "DOB: 1985/03/14", "DOB -- 03/14/1985", "Birth date........03/14/1985",
                                  "DOB of the owner is 03/14/1985", "DOB: Mar-14-1985", "dob 14-mar-85",
                                  # caught before the pattern was widened, and kept (a review of the widening)
                                  "my date of birth, 03/14/1985", "**DOB:** 03/14/1985", "Owner DOB; 03/14/1985",
                                  'Date of birth: "03/14/1985"', "DOB (03/14/1985)", "| DOB | 03/14/1985 |",
                                  "date of birth / 03/14/1985", "Date of birth of the account holder: 03/14/1985"])
def test_dates_of_birth_in_common_labelled_forms_are_redacted(text):
    detector = PiiDetector()
    findings = detector.run(text)
    assert [f.kind for f in findings] == ["dob"]  # before: none of these was found
    assert "03/14" not in detector.redact(text, findings) and "Mar-14" not in detector.redact(text, findings)
    assert echoes("Your date of birth is March 14, 1985.", findings)


@pytest.mark.parametrize("text", ["my birthday is in march", "DOB: 2024 plan", "I was born in 1985",
                                  "birthday party on 12/24 at 5pm"])
def test_birthday_words_without_a_full_date_are_no_date_of_birth(text):
    assert all(f.kind != "dob" for f in PiiDetector().run(text))


@pytest.mark.parametrize("text", ["Thanks!\nPlease change our transfer number to 415-555-2671.",
                                  "Hi,\nthanks\nCan you route after-hours calls to 415-555-2671 from now on?\nDana",
                                  "Please update our transfer number to:\n\n415-555-2671",
                                  "Please update our transfer number to:\n> 415-555-2671"])
def test_a_number_to_use_after_a_thanks_or_a_blank_line_is_something_to_act_on(text):
    detector = PiiDetector()
    assert detector.asks_to_act_on(text, detector.run(text))  # before: read as a signature, or parted


@pytest.mark.parametrize("text", [
    "Hi,\nPAM keeps hanging up on callers.\nThanks,\nDana Smith\nService Manager\n415-555-2671",
    "Hi,\nPAM keeps hanging up on callers.\nThanks,\nDana Smith\nPlease use my cell 415-555-2671 for anything urgent",
    "Hi,\nPAM keeps hanging up on callers.\nRegards,\nDana Smith\nSunset Ford - new number 415-555-2671"])
def test_a_signature_after_thanks_is_still_contact_information(text):
    detector = PiiDetector()
    assert not detector.asks_to_act_on(text, detector.run(text))


# --- found in a review (session 15): telephony words, verbs and address forms ---------


def test_a_caller_id_is_a_phone_number_not_a_card_code():
    d = PiiDetector()
    text = "Our CID (415) 555-2671 shows as Spam Likely when PAM calls customers back. How do we register it?"
    findings = d.run(text)
    assert [f.kind for f in findings] == ["phone"]
    assert d.redact(text, findings).startswith("Our CID [PHONE] shows")
    assert not d.asks_to_act_on(text, findings)
    assert [f.kind for f in d.run("card 4111 1111 1111 1111, cid 1234")] == ["card", "card_code"]


@pytest.mark.parametrize("text", ["Our PAM trial expires on 12/31, how do we renew?",
                                  "The SSL certificate expires 03/27 according to the portal."])
def test_an_expiry_date_far_from_any_card_is_no_card_code(text):
    assert PiiDetector().run(text) == []


@pytest.mark.parametrize("text", ["card 4111 1111 1111 1111 exp 09/28", "my visa expires 09/28, charge it"])
def test_an_expiry_near_a_card_is_still_a_card_code(text):
    assert "[CARD_CODE]" in PiiDetector().redact(text)


@pytest.mark.parametrize("text", ["We are checking 10000 calls from last week in the dashboard.",
                                  "I'm checking 2 3 4 5 6 of the logs now"])
def test_checking_as_a_verb_is_no_bank_account(text):
    assert PiiDetector().run(text) == []


@pytest.mark.parametrize("text", ["checking account 123456789", "checking # 12345678", "savings no. 99887766"])
def test_a_labelled_checking_or_savings_account_is_found(text):
    assert [f.kind for f in PiiDetector().run(text)] == ["bank_account"]


@pytest.mark.parametrize("text, value", [
    # Found on a fourth KB (a clinic-booking product): the bank word came before the number, and
    # the account number stayed in the hand-off and the log
    ("Please change our payout bank account to routing number 021000021, account number 4401927736.", "4401927736"),
    ("Stripe is asking for our owner's SSN and bank details to release payouts. "
     "SSN is 287-65-4321 and account 000123456789. Can you enter them for us?", "000123456789"),
    # found by a review of the first mend, which had narrowed the bank words too far
    ("Routing number 021000021, account 000123456789.", "000123456789"),
    ("Please wire the refund to our account 000123456789.", "000123456789"),
    ("Please update the Bank Details: account 000123456789", "000123456789"),
])
def test_an_account_number_after_a_bank_word_is_a_bank_account(text, value):
    found = [(f.kind, f.text) for f in PiiDetector().run(text)]
    assert ("bank_account", value) in found, found
    assert value not in PiiDetector().redact(text)


@pytest.mark.parametrize("text", [
    "our Xtime account number 12345678 shows the wrong store",
    "Account 12345678 has the wrong greeting. Separately, which bank holidays does PAM know?",
    # found by a review: bank words that name no bank account, before the number
    "No calls were answered over the bank holiday weekend. Our account 40012345 shows zero calls.",
    "Our call routing number changed; account 40012345 needs the new one.",
])
def test_an_account_number_far_from_any_bank_word_is_support_data(text):
    assert PiiDetector().run(text) == []


def test_sending_after_hours_calls_to_a_number_is_acting_on_it():
    d = PiiDetector()
    text = "Hi,\nPlease send after-hours calls to 415-555-2671 from now on. That is the on-call advisor's cell.\nThanks,\nDana"
    assert d.asks_to_act_on(text, d.run(text))


@pytest.mark.parametrize("text,address", [
    ("cc _dana@dealer.com on it", "_dana@dealer.com"),
    ("send it to dana&joe@dealer.com", "dana&joe@dealer.com"),
    ("send it to o'brien@dealer.com", "o'brien@dealer.com"),
])
def test_addresses_in_the_standards_other_forms_are_redacted_whole(text, address):
    findings = PiiDetector().run(text)
    assert [(f.kind, f.text) for f in findings] == [("email", address)]


def test_a_quoted_address_keeps_its_quote_marks():
    assert PiiDetector().redact("email 'dana@x.com' now") == "email '[EMAIL]' now"
    assert PiiDetector().redact("https://sunsetford.com/a=b@c.com") == "https://sunsetford.com/a=[EMAIL]"


@pytest.mark.parametrize("text", ["Oil change $49 @ sunsetford.com", "call us @ sunsetford.com",
                                  "follow us @SunsetFord.com", "order #4411 @ parts.com", "100% @ sunsetford.com",
                                  "ask for Jim @ sunsetford.com", "don't @ me.com"])
def test_an_at_sign_in_ordinary_text_is_no_address(text):
    # Found by a review of the widening above: a space either side of "@", or "$", "#", "%" first,
    # made prices and handles addresses, and a promo a pii_detected request.
    assert PiiDetector().run(text) == []


@pytest.mark.parametrize("text", ["card 4111 1111 1111 1111 cvv 312 09/28", "cvv 312 12/27 please charge it",
                                  "my cvv is 312 1 more thing", "cvc 0412 5 rooftops"])
def test_a_security_code_followed_by_its_expiry_or_a_small_number_is_still_found(text):
    # Found by a review: the caller-ID rule refused any code followed by a digit.
    assert "card_code" in [f.kind for f in PiiDetector().run(text)]


@pytest.mark.parametrize("request_text,answer", [
    ("my cell 415-555-2671", "We will text 415/555/2671."),
    ("my cell 415-555-2671", "We will text 415_555_2671."),
    ("card 4111 1111 1111 1111", "Card 4111/1111/1111/1111 is on file."),
    ("ssn 078-05-1120", "SSN 078/05/1120 noted."),
    ("cvv 737", "CVV 737 received."),
    ("+44 20 7946 0958", "We will call 020 7946 0958."),
    ("+44 20 7946 0958", "We will call +44 (0)20 7946 0958."),
    ("415-555-2671", "We will call four one five, five five five, two six seven one."),
])
def test_an_answer_repeating_personal_data_in_another_spelling_is_an_echo(request_text, answer):
    findings = PiiDetector().run(request_text)
    assert findings and echoes(answer, findings) == findings


def test_a_card_code_is_an_echo_only_as_a_number_of_its_own():
    findings = PiiDetector().run("cvv 737")
    assert echoes("Call 1-800-737-1234 or see page 7370.", findings) == []


@pytest.mark.parametrize("answer", [
    # Found by a review of the model path: a number read out in pairs, an address with other dots
    "We will call you on four-fifteen, five-five-five, twenty-six seventy-one.",
    "We will call you on four one five, five five five, two six seven one.",
    "We will write to dana·smith@gmail·com.",
    "Then email dana.smith@gmail\u3002com.",
])
def test_an_answer_repeating_contact_details_in_other_spellings_is_an_echo(answer):
    from guardrails.pii import echoes

    findings = PiiDetector().run("thanks, Dana (415) 555-2671 dana.smith@gmail.com")
    assert echoes(answer, findings), answer


def test_numbers_said_in_pairs_that_are_no_one_s_number_are_no_echo():
    from guardrails.pii import echoes

    findings = PiiDetector().run("call me at (415) 555-2671")
    assert echoes("It takes fifteen minutes, twenty-six at most, for forty-one calls.", findings) == []
    # found by a review: a tens word run together with its unit raised ValueError in the echo check
    assert echoes("It took twentysix, thirty, forty minutes.", findings) == []
    assert echoes("Call four fifteen, five fifty-five, twentysix seventyone.", findings)


@pytest.mark.parametrize("text, found", [
    ("How do I invite a new user? Her social is zero seven eight, zero five, one one two zero.", True),
    ("My SSN: zero seven eight zero five one one two zero", True),
    ("the code is zero seven eight zero five one one two zero", False),  # no label: no SSN
    ("My SSN is nine seven eight zero five one one two zero", False),  # area 9xx is never issued
    # found by a review of the fix: partly in words, and a number said after it
    ("my social is 078 05 one one two zero", True),
    ("her social is zero seven eight zero five one one two zero, 2 stores", True),
])
def test_an_ssn_said_in_words_after_its_label_is_found(text, found):
    # Found by a review: only phone numbers were read in words, so a spelled-out SSN reached the
    # model and could be repeated in an answer.
    from guardrails.pii import PiiDetector

    findings = PiiDetector().run(text)
    assert any(f.kind == "ssn" for f in findings) is found


@pytest.mark.parametrize("text, kind, value", [
    # found by a review: left as typed in the log, the prompt and the gaps report
    ("Call 0044 20 7946 0958 after five", "phone", "0044 20 7946 0958"),  # the "00" prefix most of the world dials
    ("call 0033 6 12 34 56 78 please", "phone", "0033 6 12 34 56 78"),
])
def test_numbers_dialled_with_the_international_prefix_00_are_found(text, kind, value):
    assert [(f.kind, f.text) for f in det.run(text)] == [(kind, value)]
    assert value not in det.redact(text)


@pytest.mark.parametrize("text", ["sin 123 456 789 was the old code", "we sold 912-12-3456 units",
                                  "the social media post 123 45 6789", "passport photos cost $15"])
def test_look_alikes_of_identity_numbers_are_none(text):
    assert det.run(text) == []  # a SIN passes Luhn; an ITIN's middle group is 50-65, 70-88, 90-92 or 94-99


@pytest.mark.parametrize("text", ["mail dana.smith@\ngmail.com today", "mail dana.smith\n@gmail.com today",
                                  "> mail dana.smith@gmail.\n> com today", "mail dana.smith@gmail\n.com today"])
def test_an_address_cut_by_a_line_break_is_found_whole(text):
    found = det.run(text)
    assert [f.kind for f in found] == ["email"] and det.redact(text).endswith("mail [EMAIL] today")
    assert [e.kind for e in echoes("We wrote to dana.smith@gmail.com.", found)] == ["email"]
    assert det.run("Thanks.\nDana") == [] and len(det.run("a@b.com\nc@d.com")) == 2


def test_a_number_dialled_with_00_is_compared_as_with_plus():
    found = det.run("call 0044 20 7946 0958")
    assert [e.kind for e in echoes("We will call +44 20 7946 0958.", found)] == ["phone"]


@pytest.mark.parametrize("text, redacted", [
    # found by a review of the line-break reading: a sentence's end next to an address was joined to it
    ("Our new billing contact is mike.r@sunsetford.com.\nCan you update it?",
     "Our new billing contact is [EMAIL].\nCan you update it?"),
    ("Sync is broken since Monday.\ndana@gmail.com", "Sync is broken since Monday.\n[EMAIL]"),
    ("Change the transfer number to 602-555-0187.\ndana@gmail.com", "Change the transfer number to [PHONE].\n[EMAIL]"),
])
def test_a_line_break_after_a_sentence_joins_no_address(text, redacted):
    assert det.redact(text) == redacted


@pytest.mark.parametrize("subject", ["transfer number", "Transfer number change"])
def test_a_body_opening_with_thanks_opens_with_it_whatever_the_subject(subject):
    # Found by a review of the README: the subject counted as something said, so "Thanks!" that
    # opened the body was read as a sign-off and the number under it as a signature.
    from assistant.models import SupportRequest
    from assistant.pipeline import _subject_lines

    request = SupportRequest(channel="email", subject=subject,
                             body="Thanks!\nPlease change our transfer number to 415-555-2671.")
    detector = PiiDetector()
    assert detector.asks_to_act_on(request.text, detector.run(request.text), subject_lines=_subject_lines(request))
    signed = SupportRequest(channel="email", subject=subject,
                            body="PAM hangs up.\nThanks,\nDana Smith\nPlease use my cell 415-555-2671 for anything urgent")
    assert not detector.asks_to_act_on(signed.text, detector.run(signed.text), subject_lines=_subject_lines(signed))
