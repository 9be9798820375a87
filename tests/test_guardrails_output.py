"""Output guard: unsupported facts and staff-only strings removed, echoed personal data redacted."""

from __future__ import annotations

import pytest

from guardrails.output import (OutputGuard, facts, identifier_strings, mask_staff_only, staff_identifiers,
                               staff_only_strings)
from guardrails.pii import PiiDetector

guard = OutputGuard()

HOURS_SOURCE = """## Steps
1. Go to **Dashboard > Settings > Business Hours** and check the weekly hours.
2. Open **Dashboard > Settings > Business Hours > Holidays** and click **Add Holiday**.
6. To add the common US holidays, click **Import US holidays**; it adds 10 federal holidays.
7. Click **Save**. Changes take effect within 15 minutes, but enter holidays at least 48 hours ahead.
Contact support if PAM still quotes the old hours more than 1 hour after you saved.
Xtime usually syncs 24 to 48 hours after the invite is accepted. CDK setup takes 2-3 weeks.
Overage is billed at $0.12 per minute; plans start at $2,500 a year. Support answers 9am-5pm.
"""

INTERNAL_RUNBOOK = """## Steps
1. Open the dealer's DID on **callhealth.ops.pam-internal.net** and read the SIP responses.
2. For a failing trunk, switch to the backup carrier with override code **OVR-4410-PZ**.
3. Post in **#pam-p0-war-room** and email oncall-voice@pam.ai; rejection code `BRAND_EIN_MISMATCH`.
4. Credits up to **$150** need no approval; above **$500** the support lead must approve.
Keep the dealer informed, write to support@pam.ai for copies. Brand colour #ff8800, see step #3.
"""


def run(answer, sources=(HOURS_SOURCE,), staff_only=(), findings=()):
    return guard.run(answer, request_findings=list(findings), sources=list(sources), staff_only=staff_only)


def test_supported_answer_passes_untouched():
    answer = (
        "Go to Dashboard > Settings > Business Hours > Holidays and click Add Holiday.\n"
        "1. Changes take effect within 15 minutes.\n"
        "2. Enter holidays 48 hours ahead; Import US holidays adds 10 federal holidays [1]."
    )
    check = run(answer)
    assert check.problems == []
    assert check.text == answer


def test_unsupported_number_drops_its_sentence_only():
    check = run("Open Dashboard > Settings > Business Hours. Your changes are live within 30 minutes. Then test it.")
    assert check.problems == ["unsupported_number:30 minutes"]
    assert check.text == "Open Dashboard > Settings > Business Hours. Then test it."


@pytest.mark.parametrize(
    "answer",
    [
        "Changes take effect within 15 min.",
        "Xtime syncs 24-48 hours after the invite.",
        "Xtime syncs between 24 and 48 hrs after the invite.",
        "Expect up to 48 h before Xtime syncs.",
        "CDK setup takes 2 to 3 weeks.",
        "CDK setup takes two to three weeks.",
        "Plans start at $2500 a year.",
        "Support answers between 9 AM and 5 PM.",
        "Check again if it still fails after 1 HOUR.",
    ],
)
def test_tolerated_spellings_of_supported_facts(answer):
    assert run(answer).problems == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("Xtime syncs within 24-72 hours.", "unsupported_number:24-72 hours"),
        ("CDK setup takes 4-6 weeks.", "unsupported_number:4-6 weeks"),
        ("Refunds arrive in 5 business days.", "unsupported_number:5 business days"),
        ("Overage is billed at $0.25 per minute.", "unsupported_number:$0.25"),
        ("You get a 20% discount.", "unsupported_number:20%"),
        ("Import US holidays adds 12 holidays.", "unsupported_number:12"),
        ("Open Dashboard > Settings > Holiday Rules and save.", "unsupported_path:Dashboard > Settings > Holiday Rules"),
        ("Use code ZX-9921 to skip the wait.", "unsupported_code:ZX-9921"),
    ],
)
def test_unsupported_facts_are_reported_and_removed(answer, problem):
    check = run(answer)
    assert problem in check.problems
    assert check.text == ""


def test_sub_path_and_path_with_verb_are_supported():
    assert run("Open Settings > Business Hours > Holidays, then add the date.").problems == []
    assert run("Go to Business Hours > Holidays.").problems == []


def test_staff_only_strings_are_removed_and_reported():
    staff = staff_only_strings(INTERNAL_RUNBOOK)
    answer = (
        "Your line is being checked. The team will switch carriers with OVR-4410-PZ.\n"
        "Updates are posted in #pam-p0-war-room. Credits up to $150 are issued at once.\n"
        "We will update you within 15 minutes."
    )
    check = run(answer, sources=[HOURS_SOURCE, INTERNAL_RUNBOOK], staff_only=staff)
    assert "staff_only:OVR-4410-PZ" in check.problems
    assert "staff_only:#pam-p0-war-room" in check.problems
    assert "staff_only:$150" in check.problems
    assert check.text == "Your line is being checked.\nWe will update you within 15 minutes."
    for token in ("OVR-4410-PZ", "#pam-p0-war-room", "$150"):
        assert token not in check.text


def test_staff_only_strings_extracts_generic_internal_tokens():
    staff = staff_only_strings(INTERNAL_RUNBOOK)
    for token in ("callhealth.ops.pam-internal.net", "OVR-4410-PZ", "#pam-p0-war-room", "oncall-voice@pam.ai",
                  "BRAND_EIN_MISMATCH", "$150", "$500"):
        assert token in staff
    # Public mailboxes, colours and numbered references are not staff-only.
    for token in ("support@pam.ai", "#ff8800", "#3"):
        assert token not in staff
    assert staff_only_strings("Deploy ABC-1234 to build.corp and db01.local; ask #sre") == [
        "ABC-1234", "build.corp", "db01.local", "#sre"]


def test_request_pii_echo_is_redacted_not_dropped():
    req = "Please call me back at (212) 555-0147 or mail jo@rivera-ford.com"
    findings = PiiDetector().run(req)
    answer = "We will call you at 212-555-0147 and email Jo@Rivera-Ford.com once the hours are saved."
    check = run(answer, findings=findings)
    assert check.problems == ["pii_echo:phone", "pii_echo:email"]
    assert check.text == "We will call you at [PHONE] and email [EMAIL] once the hours are saved."


def test_list_markers_and_citations_are_not_facts():
    kinds = [f.kind for f in facts("3. See [2] and [rb-voicemail-setup].")]
    check = run("3. See [2] and [rb-voicemail-setup].")
    assert check.problems == [] and "num" in kinds  # facts() sees them; the guard skips them


@pytest.mark.parametrize("answer, problems", [
    # Found by a review: every "[...]" up to 80 characters was taken out before the facts were read.
    ("Open Dashboard > Settings > Business Hours > Holidays [full guide: https://pam-holidays.evil.example/login].",
     ["unsupported_link:https://pam-holidays.evil.example/login"]),
    ("Open [Dashboard > Settings > Holiday Mode] and click Add Holiday.",
     ["unsupported_path:Dashboard > Settings > Holiday Mode"]),
    ("Click Add Holiday [free of charge, live by tomorrow].",
     ["unsupported_promise:free of charge", "unsupported_number:by tomorrow"]),
    ("Changes take effect [within 30 minutes].", ["unsupported_number:30 minutes"]),
    # of a citation's shape, but citing no source it was given
    ("See [evil-pam.com] for the steps.", ["unsupported_link:evil-pam.com"]),
])
def test_a_bracket_that_cites_no_source_is_checked_like_any_text(answer, problems):
    for source_ids in (None, ["rb-business-hours-holidays"]):
        check = guard.run(answer, request_findings=[], sources=[HOURS_SOURCE], source_ids=source_ids)
        assert check.problems == problems, source_ids
        assert check.text == ""


def test_only_markers_citing_the_given_sources_are_no_claims():
    ids = ["rb-business-hours-holidays", "T-1025"]
    cited = "Click Add Holiday [rb-business-hours-holidays]. Check the call [T-1025; rb-business-hours-holidays]."
    assert guard.run(cited, request_findings=[], sources=[HOURS_SOURCE], source_ids=ids).problems == []
    # "[T-4444]" has a citation's shape but cites nothing the answer was given: a code it states
    check = guard.run("Check the call [T-4444].", request_findings=[], sources=[HOURS_SOURCE], source_ids=ids)
    assert check.problems == ["unsupported_code:T-4444"]


def test_nothing_safe_left_gives_empty_text():
    check = run("It takes 3 days. Call 1-800-555-0199.")
    assert check.text == ""
    assert "unsupported_number:3 days" in check.problems


def test_the_one_pattern_pre_check_finds_exactly_what_the_token_by_token_check_finds():
    from guardrails.output import _contains_staff, staff_tokens_in

    tokens = ["OVR-1234-AB", "OVR-1234", "#billing-approvals", "xsync.ops.pam-internal.net", "$500", "$1,250",
              "billing-admin"]
    texts = ["Use OVR-1234-AB now.", "ovr-1234 then", "post in #billing-approvals", "NOT-OVR-1234-ABC",
             "credits over $500.00 need approval", "up to 1250 dollars", "see xsync.ops.pam-internal.net/x",
             "the billing-admin tool", "billing admin", "nothing here", "$499 is fine", "#billing-approvals-2"]
    for text in texts:
        assert staff_tokens_in(text, tokens) == [t for t in tokens if _contains_staff(text, t)], text
    assert staff_tokens_in("anything", []) == []


def test_a_step_number_in_the_source_does_not_back_a_bare_number():
    # "1." to "7." are step markers in HOURS_SOURCE; they state no number.
    assert "unsupported_number:7" in run("Click Save 7 times.").problems
    assert run("Import US holidays adds 10 federal holidays.").problems == []


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("Xtime syncs within fourteen days.", "unsupported_number:fourteen days"),
        ("Xtime syncs within a week.", "unsupported_number:within a week"),
        ("Xtime syncs within half an hour.", "unsupported_number:half an hour"),
        ("Xtime syncs within a fortnight.", "unsupported_number:within a fortnight"),
        ("CDK setup takes several months.", "unsupported_number:several months"),
        ("Xtime syncs within 24 business hours.", "unsupported_number:24 business hours"),
    ],
)
def test_time_frames_in_words_are_checked_like_digits(answer, problem):
    check = run(answer)
    assert problem in check.problems
    assert check.text == ""


@pytest.mark.parametrize("answer", ["Xtime syncs twenty-four to forty-eight hours after the invite.",
                                    "Changes take effect within fifteen minutes.",
                                    "Enter holidays forty-eight hours ahead."])
def test_number_words_that_the_source_states_in_digits_pass(answer):
    assert run(answer).problems == []


@pytest.mark.parametrize(
    "answer",
    [
        "Open Dashboard > Settings > Business Hours Reset to start over.",  # a made-up last step
        "Go to dashboard > settings > business hours > reset.",              # the same in lower case
    ],
)
def test_invented_menu_steps_are_unsupported_paths(answer):
    check = run(answer)
    assert any(p.startswith("unsupported_path:") for p in check.problems), check.problems
    assert check.text == ""


def test_a_path_may_name_what_its_last_step_is_and_lower_case_prose_is_no_path():
    assert run("Open Dashboard > Settings > Business Hours page and check the hours.").problems == []
    assert run("go to dashboard > settings > business hours and check them.").problems == []
    assert run("if the wait is > 8 then retry.").problems == ["unsupported_number:8"]  # a number, no path


@pytest.mark.parametrize(
    ("answer", "token"),
    [
        ("Updates are posted in #pam\u2011p0\u2011war\u2011room.", "#pam-p0-war-room"),   # non-breaking hyphens
        ("The switch uses OVR 4410 PZ.", "OVR-4410-PZ"),
        ("The switch uses ovr_4410_pz.", "OVR-4410-PZ"),
        ("The switch uses OVR-44\u200b10-PZ.", "OVR-4410-PZ"),                          # a zero-width space
        ("The rejection was BRAND EIN MISMATCH.", "BRAND_EIN_MISMATCH"),
        ("The rejection was brand-ein-mismatch.", "BRAND_EIN_MISMATCH"),
    ],
)
def test_staff_only_strings_are_found_in_other_spellings(answer, token):
    check = run(answer, sources=[HOURS_SOURCE, INTERNAL_RUNBOOK], staff_only=staff_only_strings(INTERNAL_RUNBOOK))
    assert f"staff_only:{token}" in check.problems
    assert check.text == ""


def test_ordinary_words_spelled_like_a_snake_case_code_are_not_staff_only():
    check = run("If the brand ein mismatch shows, check the form.", staff_only=["BRAND_EIN_MISMATCH"])
    assert check.problems == []


def test_mask_staff_only_hides_every_spelling_in_a_note():
    from guardrails.output import mask_staff_only
    note = "output guard: staff_only:OVR-4410-PZ (written OVR 4410 PZ), credits above $500.00"
    masked = mask_staff_only(note, staff_only_strings(INTERNAL_RUNBOOK))
    assert masked == "output guard: staff_only:[staff-only] (written [staff-only]), credits above [staff-only]"


def test_facts_read_ranges_units_and_number_words():
    found = {f.key for f in facts("takes 5-7 business days, within an hour, $150, 80%, two weeks")}
    assert found == {(5.0, 7.0, "business day"), (1.0, 1.0, "hour"), ("USD", 150.0), (80.0, 80.0, "percent"),
                     (2.0, 2.0, "week")}
    assert facts("one of your advisors") == []  # a number word without a unit states nothing


@pytest.mark.parametrize("answer", ["Overage is billed at $0.12 per minute, a bit more a month.",
                                    "Click Save a second time to confirm."])
def test_an_article_without_a_time_word_before_it_states_no_time_frame(answer):
    assert run(answer).problems == []  # "a month" after a price, "a second time": no claim of how long


def test_word_ranges_and_24_hour_clock_times_are_checked():
    assert run("CDK setup takes two-three weeks.").problems == []          # the source says 2-3 weeks
    assert run("CDK setup takes four-six weeks.").problems == ["unsupported_number:four-six weeks"]
    assert run("Support answers until 17:00.").problems == []               # 5pm in the source
    assert run("Support answers until 18:00.").problems == ["unsupported_number:18:00"]


def test_a_path_that_ends_a_sentence_does_not_run_into_the_next_one():
    # Source "**Fleet Portal > Cards > Block**. Blocking takes effect..." was read as the path
    # (Fleet Portal, Cards, "Block. Blocking"), so the answer's own right path was cut out.
    source = "If a card is lost, block it in **Fleet Portal > Cards > Block**. Blocking takes effect at once."
    check = OutputGuard().run("Block it immediately in Fleet Portal > Cards > Block.", request_findings=[],
                              sources=[source])
    assert check.problems == [] and "Fleet Portal > Cards > Block" in check.text
    assert run("Open Dashboard v2.1 > Settings > Hours.", sources=["Open Dashboard v2.1 > Settings > Hours."]).problems == []


def test_identifiers_only_internal_runbooks_use_are_staff_only_whatever_their_shape():
    internal = ("Log in at https://ocpp-gw.voltway.net/console, use PIN 480-2219, quote ZEBRA-OWNER-77 and run "
                "`fwctl rollback --to 4.2.7`; then send `UnlockConnector` or `Reset`. Goodwill over €150 needs approval.")
    customer = "Open the app and tap `Reset`. Our status page is https://status.voltway.net."
    staff = staff_identifiers([internal], [customer])
    for token in ("https://ocpp-gw.voltway.net/console", "ocpp-gw.voltway.net", "480-2219", "ZEBRA-OWNER-77",
                  "fwctl rollback --to 4.2.7", "UnlockConnector", "€150"):
        assert token in staff, token
    assert "Reset" not in staff  # a plain word in code marks is no identifier
    assert not [t for t in staff if "status.voltway.net" in t]
    # what a customer runbook also says is not staff-only
    assert "480-2219" not in staff_identifiers([internal], [customer + " Call 480-2219 for help."])
    assert identifier_strings("Use `Reset` then `Hard`.") == []


def test_staff_identifiers_are_masked_in_the_spellings_a_reply_would_use():
    internal = ("Rotate it with `rotate-master --tower <serial>` and `fwctl rollback --to 4.2.7`. "
                "Goodwill over €150 or 150 EUR needs approval. Click `Save changes`.")
    staff = staff_identifiers([internal], ["Open the app."])
    assert "Save changes" not in staff  # plain words in code marks are a UI label, not an identifier
    masked = mask_staff_only("Run rotate-master --tower 12, then fwctl  rollback --to 4.2.7; we credit € 150.00 "
                             "or 150 EUR at once.", staff)
    # before: "rotate-master [staff-only] 12", the command left whole, "[staff-only].00", "150 EUR" kept
    for leaked in ("rotate-master", "rollback", "150"):
        assert leaked not in masked, (leaked, masked)


@pytest.mark.parametrize("reply", [
    "Force a refresh with override code **OVR\\-7731\\-XT**.", "Use OVR/7731/XT.", "Use OVR.7731.XT.",
    "It says TOKEN\\_EXPIRED, so refresh it.", "Check xsync[.]ops[.]pam-internal[.]net first.",
])
def test_staff_only_strings_hidden_in_markdown_escapes_slashes_or_defanged_dots_are_caught(reply):
    staff = ["OVR-7731-XT", "TOKEN_EXPIRED", "xsync.ops.pam-internal.net"]
    check = guard.run(reply, request_findings=[], sources=[reply], staff_only=staff)
    assert any(p.startswith("staff_only:") for p in check.problems), reply  # before: went out as is


@pytest.mark.parametrize("reply", [
    "Use code \u041eVR-7731-\u0425\u0422 to force it.",  # Cyrillic O, X and T
    "Use code O V R - 7 7 3 1 - X T to force it.",  # spaced out
    "Check x s y n c . o p s . p a m - i n t e r n a l . n e t first.",
])
def test_staff_only_strings_in_look_alike_letters_or_spaced_out_are_caught(reply):
    staff = ["OVR-7731-XT", "xsync.ops.pam-internal.net"]
    check = guard.run(reply, request_findings=[], sources=[reply], staff_only=staff)
    assert any(p.startswith("staff_only:") for p in check.problems), reply  # before: went out as is


F6_STAFF = ["OVR-7731-XT", "TOKEN_EXPIRED", "xsync.ops.pam-internal.net", "#integ-escalations"]


@pytest.mark.parametrize("reply", [
    # Found by a review: other signs between a token's parts, full stops of another script, a said
    # "dot", spaced-out letters ending a sentence, a channel's name with spaces about its dash.
    "Use override code OVR\u20227731\u2022XT.", "Use override code OVR:7731:XT.", "Use override code OVR+7731+XT.",
    "Use override code OVR--7731--XT.", "Look the dealer up on xsync\u3002ops\u3002pam-internal\u3002net.",
    "Look the dealer up on xsync dot ops dot pam-internal dot net.", "The error is T O K E N _ E X P I R E D.",
    "If it fails, post in # integ - escalations.", "The error reads TOKEN.EXPIRED.",
])
def test_staff_only_strings_with_other_signs_between_their_parts_are_caught(reply):
    check = guard.run(reply, request_findings=[], sources=[reply], staff_only=F6_STAFF)
    assert [p for p in check.problems if p.startswith("staff_only:")], reply  # before: went out as is
    assert check.text == ""


def test_prose_near_the_spellings_of_staff_only_strings_is_not_staff_only():
    for reply in ("If the token expired, sign in again.", "The token: expired, so sign in again.",
                  "# Integration escalations", "Tap the red dot on the ops page.", "Steps 1 2 3 4 5 6.",
                  "Call OVR 7731 extension XT."):
        check = guard.run(reply, request_findings=[], sources=[reply], staff_only=F6_STAFF)
        assert check.problems == [], reply


@pytest.mark.parametrize("reply", [
    "We will write to dana.smith at gmail dot com today.", "We will write to dana.smith (at) gmail (dot) com.",
    "We will write to d a n a . s m i t h @ g m a i l . c o m.", "We will write to d\u0430na.smith@gmail.com.",
    "We will write to dana.smith at gmail.com.", "We will write to dana.smith @ gmail.com.",
    "We will write to dana . smith @ gmail . com.", "We will write to dana dot smith at gmail dot com.",
    "We will write to dana.smith\nat gmail  dot  com.", "We will write to d a n a . s m i t h at gmail dot com.",
    "We will contact you at dana.smith at gmail dot com.", "Write to dana.smith [@] gmail. com.",
    "Write to dana.smith -at- gmail period com.",
    "Write to DANA.S\u041cITH@G\u041cAIL.COM.",  # Cyrillic capital M, whose lower case the table lacks
])
def test_an_echoed_address_spelled_out_spaced_or_in_look_alike_letters_is_caught(reply):
    findings = PiiDetector().run("reach me at dana.smith@gmail.com")
    check = guard.run(reply, request_findings=findings, sources=["We will write to you."])
    assert "pii_echo:email" in check.problems, reply
    assert "smith" not in check.text and "s m i t h" not in check.text  # not replaceable: nothing is sent


def test_ordinary_spaced_numbers_and_words_are_no_echo_or_staff_string():
    findings = PiiDetector().run("reach me at dana.smith@gmail.com")
    reply = "Steps 1 2 3 4 5 6 are below; we will look at gmail dot com issues."
    check = guard.run(reply, request_findings=findings, sources=[reply], staff_only=["OVR-7731-XT"])
    assert check.problems == []


def test_an_echoed_address_in_full_width_form_is_caught():
    findings = PiiDetector().run("tom, tom.reyes@coastalmazda.com")
    check = guard.run("Calls are answered again (tom.reyes\uff20coastalmazda\uff0ecom).", request_findings=findings,
                      sources=["Calls are answered again."])
    assert "pii_echo:email" in check.problems and "coastalmazda" not in check.text


@pytest.mark.parametrize("claim", ["fully restored by the next business day", "fixed overnight", "back by tomorrow",
                                   "done by end of day", "sorted within the hour", "fixed by Monday",
                                   "a credit of fifty dollars is applied"])
def test_time_frames_and_amounts_in_words_need_a_source(claim):
    check = run(f"Calls are answered again, {claim}.", sources=["Calls are answered again."])
    assert check.problems, claim  # before: none of these was read as a claim
    assert run(f"Calls are answered again, {claim}.", sources=[f"Calls are answered again, {claim}."]).problems == []


@pytest.mark.parametrize("claim", ["it will be back up today", "we'll fix it later today", "it should be live tonight",
                                   "expect it done this afternoon", "we will reply as soon as we can",
                                   "restored right away", "on again at once", "fixed asap", "back shortly",
                                   "fixed soon", "sorted as soon as possible", "restored immediately"])
def test_time_frames_without_numbers_need_a_source(claim):
    # A reply promising "we'll have it back today" with nothing behind it (found by a review:
    # courtesy words carried such promises to chat).
    check = run(f"Calls are answered again, {claim}.", sources=["Calls are answered again."])
    assert check.problems and check.text == "", claim
    assert run(f"Calls are answered again, {claim}.", sources=[f"Calls are answered again, {claim}."]).problems == []


@pytest.mark.parametrize("reply, source", [
    ("It takes effect right away.", "It takes effect immediately."),
    ("It will be back shortly.", "It will be back soon."),
    ("Click Save as soon as you finish.", "Click Save."),
    ("PAM answers two calls at once.", "PAM answers calls."),
    ("Both lines ring at once.", "Both lines ring."),
    # found by a review of the change: when something was, and where, is no promise
    ("Open Call Log to see the calls you missed this morning.", "Open Call Log."),
    ("You can check today's calls in the Call Log.", "Check the Call Log."),
    ("The Publish button is immediately below the greeting text.", "Publish is below the greeting."),
    ("Soon after you click Publish, callers hear the new greeting.", "Click Publish."),
    ("PAM can answer two or more calls at once.", "PAM answers calls."),
])
def test_time_frames_said_in_other_words_and_look_alikes_pass(reply, source):
    assert run(reply, sources=[source]).problems == []


@pytest.mark.parametrize("reply, source", [
    ("PAM will check availability in your scheduler.", "PAM checks availability in your scheduler."),
    ("You used 408 minutes this month.", "You used 408 minutes this month."),
    ("Call us on (503) 555-0142.", "Call us on (503) 555-0142."),
    ("Ask for a modem reset.", "Ask for a modem reset."),
    ("Activation happens the next day.", "Activation is next-day."),
    ("It is fixed by the end of the day.", "Fixes ship end-of-day."),
    ("Expect it by Monday.", "We complete it on Monday."),
    ("Transfers ring for ½ hour.", "Transfers ring for half an hour."),
    ("It costs a few dollars a month.", "It costs a few dollars a month."),
])
def test_ordinary_words_numbers_and_paraphrased_time_frames_pass(reply, source):
    staff = ["check_availability", "404 Not Found", "503 Service Unavailable", "modem-reset", "rotate-master"]
    staff += identifier_strings("`503 Service Unavailable` or `408 Request Timeout`")  # no bare 503 or 408
    check = guard.run(reply, request_findings=[], sources=[source], staff_only=staff)
    assert check.problems == [], check.problems


def test_a_staff_only_amount_is_one_currency():
    check = guard.run("The credit is 150 EUR.", request_findings=[], sources=["The credit is 150 EUR."],
                      staff_only=["$150"])
    assert check.problems == []
    assert guard.run("The credit is $150.", request_findings=[], sources=["x"], staff_only=["$150"]).problems


@pytest.mark.parametrize("reply", [
    "Online booking of service at sunsetford.com goes through the PAM scheduler widget.",
    "Customers can also book service at sunsetford.com.", "Our service at sunsetford.com is open late.",
])
def test_a_website_in_a_reply_is_no_echo_of_a_mailbox_at_that_domain(reply):
    findings = PiiDetector().run("thanks, service@sunsetford.com")
    check = guard.run(reply, request_findings=findings, sources=[reply])
    assert check.problems == [] and check.text  # before: read as service@sunsetford.com, blanked


def test_masking_rewrites_only_what_hides_a_token():
    assert mask_staff_only("\u041f\u0440\u043e\u0432\u0435\u0440\u044c\u0442\u0435, A B C D E F, code OVR-7731-XT",
                           ["OVR-7731-XT"]) == ("\u041f\u0440\u043e\u0432\u0435\u0440\u044c\u0442\u0435, A B C D E F, "
                                                "code [staff-only]")


# -- found by a review, 2026-12-06 ------------------------------------------------------------------
@pytest.mark.parametrize("claim", ["a credit of two hundred dollars is applied", "it costs a thousand dollars a month",
                                   "fixed within one hundred fifteen minutes", "a fee of fifty thousand dollars applies",
                                   "it takes two hundred minutes"])
def test_amounts_and_time_frames_in_hundreds_and_thousands_need_a_source(claim):
    check = run(f"Calls are answered again, {claim}.", sources=["Calls are answered again within 15 minutes."])
    assert check.problems, claim  # before: "one hundred fifteen minutes" read as 15, the rest as nothing


@pytest.mark.parametrize("reply, source", [("A credit of two hundred dollars is applied.", "Credits of $200 apply."),
                                           ("It takes one hundred twenty minutes.", "It takes 120 minutes."),
                                           ("Plans start at two thousand five hundred dollars.", "Plans start at $2,500.")])
def test_hundreds_and_thousands_in_words_match_the_same_number_in_digits(reply, source):
    assert run(reply, sources=[source]).problems == []


@pytest.mark.parametrize("reply", ["It takes 15 hour\u017f.", "It takes 15 m\u0130ns.", "It takes 15 m\u0131ns."])
def test_letters_that_pass_for_ascii_ones_are_read_as_them_not_a_crash(reply):
    check = run(reply, sources=["Changes take 15 minutes."])  # before: KeyError on "hour\u017f"
    if "hour" in reply:
        assert check.problems == ["unsupported_number:15 hours"]
    else:
        assert check.problems == []


@pytest.mark.parametrize("arrow", [">>", "=>", "\u25b8", "\u21d2", "\u279c", "\\>", "\u25ba",
                                   # found by a review: angles and arrows of other blocks
                                   "\u27e9", "\u3009", "\u25b7", "\u226b", "\u21fe", "\u22b3", "\u02c3", "\u276d", "\u2b62"])
def test_menu_paths_with_other_separators_are_checked(arrow):
    check = run(f"Go to Settings {arrow} Billing {arrow} Plans.", sources=["Open Dashboard > Hours."])
    assert check.problems == ["unsupported_path:Settings > Billing > Plans"]  # before: no path read at all
    assert run(f"Open Dashboard {arrow} Hours.", sources=["Open Dashboard > Hours."]).problems == []


@pytest.mark.parametrize("reply", ["Credits above 500 dollars need approval.", "Credits above USD 500 need approval.",
                                   "Use OVR - 7731 - XT for the override."])
def test_staff_only_amounts_and_codes_in_other_spellings_are_caught(reply):
    staff = ["OVR-7731-XT", "$500"]
    assert guard.run(reply, request_findings=[], sources=[reply], staff_only=staff).problems  # the source has it
    assert "[staff-only]" in mask_staff_only(reply, staff)


@pytest.mark.parametrize("reply, source, problems", [
    # found by a review of the number words: "and" between the parts hid or split the amount
    ("We will credit you two hundred and fifty dollars.", "Credits of $50 apply.",
     ["unsupported_number:two hundred and fifty dollars"]),
    ("We will credit you two hundred and fifty dollars.", "Credits of $250 apply.", []),
    ("It takes one hundred and twenty minutes.", "It takes 120 minutes.", []),
    ("It costs two thousand and five dollars.", "It costs $2,005.", []),
    ("It takes 2 and 3 minutes.", "It takes 2-3 minutes.", []),  # still a range
])
def test_number_words_joined_by_and_are_one_number(reply, source, problems):
    assert run(reply, sources=[source]).problems == problems


@pytest.mark.parametrize("reply", ["Upgrading PAM 4.1 => 4.2 fixes the greeting.", "As 12 >> 3, it is enough."])
def test_numbers_with_an_arrow_between_are_no_menu_path(reply):
    check = run(reply, sources=["Upgrade from 4.1 to 4.2 fixes the greeting. 12 is more than 3, it is enough."])
    assert not [p for p in check.problems if p.startswith("unsupported_path")] and check.text


def test_an_echoed_number_is_replaced_whole_in_the_spellings_answers_use():
    from guardrails.pii import PiiDetector

    for request_text, answer, left in [
        ("my cell (415) 555-2671", "We will text (415) 555-2671 today.", "We will text [PHONE] today."),
        ("my cell 415-555-2671", "We will text 415/555/2671.", "We will text [PHONE]."),
        ("cvv 737", "CVV 737 received. Call 1-800-737-1234.", "CVV [CARD_CODE] received. Call 1-800-737-1234."),
    ]:
        checked = OutputGuard().run(answer, request_findings=PiiDetector().run(request_text), sources=[answer],
                                    staff_only=[])
        assert checked.text == left and checked.problems[0].startswith("pii_echo:")


def test_an_echo_that_cannot_be_replaced_in_place_sends_nothing():
    from guardrails.pii import PiiDetector

    checked = OutputGuard().run("Call four one five, five five five, two six seven one today.",
                                request_findings=PiiDetector().run("415-555-2671"), sources=[], staff_only=[])
    assert checked.text == "" and "pii_echo:phone" in checked.problems


# Found by a review of the model path (a fake model's replies on chat): facts said in words, time
# frames without a number, menu steps parted by slashes or other arrows, and staff-only codes said
# digit by digit went out unchecked.
RING_SOURCE = ("Open Dashboard > Settings > Call Routing > Transfers. Set Ring Time; the default is 20 seconds "
               "and it can be set from 10 to 45 seconds. Click Import US holidays; it adds 10 federal holidays.")


@pytest.mark.parametrize("claim, problem", [
    ("It adds twelve federal holidays.", "unsupported_number:twelve"),
    ("It can go up to sixty on Enterprise plans.", "unsupported_number:sixty"),
    ("Raise it to one and a half minutes.", "unsupported_number:one and a half minutes"),
    ("Raise it to 1½ minutes.", "unsupported_number:1½ minutes"),
    ("Changes usually take effect within seconds.", "unsupported_number:within seconds"),
    ("It is fixed in a matter of days.", "unsupported_number:in a matter of days"),
    ("Open Dashboard ➤ Settings ➤ Advanced.", "unsupported_path:Dashboard > Settings > Advanced"),
    ("Open Dashboard --> Settings --> Advanced.", "unsupported_path:Dashboard > Settings > Advanced"),
])
def test_facts_said_in_words_or_with_other_separators_need_a_source(claim, problem):
    check = run(claim, sources=[RING_SOURCE])
    assert problem in check.problems and check.text == "", check.problems


@pytest.mark.parametrize("reply", [
    "It adds ten federal holidays.",
    "It can be set from ten to forty-five seconds.",
    "Set Ring Time; it takes effect within seconds of saving and the default is 20 seconds.",
    "The one you want is Ring Time.",
    # found by a review: small counts are how prose counts, a bare "in" names a unit of measure,
    # and a list with slashes names no menu
    "There are two ways to do this, and either of the two steps works.",
    "Ring Time is in seconds; enter it in seconds.",
    "We integrate with Xtime / CDK / Reynolds.",
])
def test_facts_in_words_that_the_source_backs_pass(reply):
    source = RING_SOURCE + " Changes take effect within seconds."
    assert run(reply, sources=[source]).problems == []


@pytest.mark.parametrize("reply", ["Tap home·settings to turn on alerts.", "You can pick email•sms•voice alerts."])
def test_middle_dots_and_bullets_between_words_make_no_link(reply):
    assert run(reply, sources=[reply.replace("·", " ").replace("•", " ")]).problems == []


def test_a_number_sign_before_an_ordinary_word_is_no_channel():
    assert run("Reply with the ticket # billing gave you.", staff_only=["#billing"]).problems == []


@pytest.mark.parametrize("reply", ["Quote code OVR seven seven three one XT.", "They post in # integ-escalations.",
                                   "Use OVR eight-eight-four-two RS."])
def test_staff_only_codes_said_digit_by_digit_or_spaced_are_caught(reply):
    staff = ["OVR-7731-XT", "OVR-8842-RS", "#integ-escalations"]
    check = run(reply, staff_only=staff)
    assert any(p.startswith("staff_only:") for p in check.problems) and check.text == "", check.problems
    assert "[staff-only]" in mask_staff_only(reply, staff)


SOURCE_STEPS = ["Open Settings. Click Save. Test with a call.", "- Phone first. - Last 8 of VIN."]
STAFF = ["OVR-1234-AB", "admin.pam-internal.net"]


@pytest.mark.parametrize("answer, cleaned", [
    # the first step goes: the list starts at 1, not 2
    ("1. Open admin.pam-internal.net and log in.\n2. Open Settings.\n3. Click Save.",
     "1. Open Settings.\n2. Click Save."),
    # a middle step goes: bullets and a blank line between steps stay inside the list
    ("1. Open Settings.\n2. Use code OVR-1234-AB now.\n- Phone first.\n- Last 8 of VIN.\n3. Click Save.\n\n"
     "4. Test with a call.",
     "1. Open Settings.\n- Phone first.\n- Last 8 of VIN.\n2. Click Save.\n\n3. Test with a call."),
    # a list that continues after a paragraph is still one list; "1)" keeps its mark
    ("1) Use code OVR-1234-AB now.\n2) Open Settings.\n\nThen:\n\n3) Click Save.",
     "1) Open Settings.\n\nThen:\n\n2) Click Save."),
    # a second list (its number does not go up) keeps its own numbers
    ("1. Use code OVR-1234-AB now.\n2. Open Settings.\n\nAfter that:\n\n1. Click Save.\n2. Test with a call.",
     "1. Open Settings.\n\nAfter that:\n\n1. Click Save.\n2. Test with a call."),
    # the sub-items of a step that goes go with it (the first of them was pulled to the margin)
    ("1. Use code OVR-1234-AB now.\n   - Phone first.\n\n   - Last 8 of VIN.\n2. Click Save.", "1. Click Save."),
    ("1. Open Settings.\n2. Use code OVR-1234-AB now.\n   - Phone first.\n3. Click Save.",
     "1. Open Settings.\n2. Click Save."),
    # a sub-item that goes takes nothing else; bullets at the step's own indent stay (the second case)
    ("1. Open Settings.\n   - Use code OVR-1234-AB now.\n   - Phone first.\n2. Click Save.",
     "1. Open Settings.\n   - Phone first.\n2. Click Save."),
])
def test_a_list_the_guard_took_a_step_from_is_renumbered(answer, cleaned):
    check = guard.run(answer, request_findings=[], sources=SOURCE_STEPS, staff_only=STAFF)
    assert check.problems and check.text == cleaned


def test_steps_written_step_n_are_renumbered_too():
    answer = "Step 1: Open admin.pam-internal.net and log in.\nStep 2: Open Settings.\nStep 3: Click Save."
    check = guard.run(answer, request_findings=[], sources=SOURCE_STEPS, staff_only=STAFF)
    assert check.problems and check.text == "Step 1: Open Settings.\nStep 2: Click Save."
    # a reference to a step in a step's text still keeps them as written
    answer = "Step 1: Use code OVR-1234-AB now.\nStep 2: Open Settings.\nStep 3: Click Save, as in step 2."
    check = guard.run(answer, request_findings=[], sources=SOURCE_STEPS + ["Click Save, as in step 2."], staff_only=STAFF)
    assert check.text == "Step 2: Open Settings.\nStep 3: Click Save, as in step 2."


def test_lists_the_guard_took_nothing_from_keep_their_numbers():
    answer = "Intro.\n\n1. Open Settings.\n1. Click Save.\n\n3. Test with a call."
    check = guard.run(answer, request_findings=[], sources=SOURCE_STEPS, staff_only=STAFF)
    assert check.problems == [] and check.text == answer


@pytest.mark.parametrize("answer, cleaned", [
    # a wrapped sentence's number is no step: "day 14" stays 14 (before the fix it became "day 2")
    ("1. Open admin.pam-internal.net and log in.\n2. Click Save.\n\nThe new sender is used from day\n"
     "14. Test with a call.",
     "1. Click Save.\n\nThe new sender is used from day\n14. Test with a call."),
    # fenced code is left as it is; the step after it is renumbered
    ("1. Use code OVR-1234-AB now.\n2. Open Settings.\n```\n3. Press 3 for parts\n```\n3. Click Save.",
     "1. Open Settings.\n```\n3. Press 3 for parts\n```\n2. Click Save."),
    # numbers out of order are no steps of the list: 1, 2, 3 stay, the stray "2" goes
    ("1. Open Settings.\n2. Click Save.\n3. Test with a call.\n2. Use code OVR-1234-AB now.\n"
     "4. Click Save.",
     "1. Open Settings.\n2. Click Save.\n3. Test with a call.\n4. Click Save."),
    # an answer that refers to its steps by number keeps them as written
    ("1. Use code OVR-1234-AB now.\n2. Open Settings.\n3. Click Save.\n4. If that fails, repeat step 2.",
     "2. Open Settings.\n3. Click Save.\n4. If that fails, repeat step 2."),
])
def test_renumbering_touches_only_the_steps_of_a_list(answer, cleaned):
    sources = SOURCE_STEPS + ["The new sender is used from day 14.", "3. Press 3 for parts", "If that fails, repeat step 2."]
    check = guard.run(answer, request_findings=[], sources=sources, staff_only=STAFF)
    assert check.problems and check.text == cleaned


@pytest.mark.parametrize("answer, cleaned", [
    # the wrapped number happens to follow the list: it ends a sentence and is kept as written
    ("1. Open admin.pam-internal.net now.\n2. The new sender is used from day\n3. Click Save.",
     "1. The new sender is used from day\n3. Click Save."),
    # steps referred to in words keep their numbers
    ("1. Use code OVR-1234-AB now.\n2. Open Settings.\n3. Click Save.\n4. If that fails, go back to step two.",
     "2. Open Settings.\n3. Click Save.\n4. If that fails, go back to step two."),
    ("1. Use code OVR-1234-AB now.\n2. Open Settings.\n3. Click Save.\n4. Else repeat the second step.",
     "2. Open Settings.\n3. Click Save.\n4. Else repeat the second step."),
    # inline code at a line start is no fence; a backtick line inside a tilde fence closes nothing
    ("```Settings``` is the menu.\n1. Use code OVR-1234-AB now.\n2. Open Settings.\n3. Click Save.",
     "```Settings``` is the menu.\n1. Open Settings.\n2. Click Save."),
    ("1. Use code OVR-1234-AB now.\n2. Open Settings.\n~~~\n```\n~~~\n3. Click Save.",
     "1. Open Settings.\n~~~\n```\n~~~\n2. Click Save."),
])
def test_renumbering_leaves_a_number_as_written_where_it_is_unsure(answer, cleaned):
    sources = SOURCE_STEPS + ["The new sender is used from day 3.", "If that fails, go back to step two.",
                              "Else repeat the second step.", "Settings is the menu."]
    check = guard.run(answer, request_findings=[], sources=sources, staff_only=STAFF)
    assert check.problems and check.text == cleaned


@pytest.mark.parametrize("reply, backing", [
    ("Minutes above that cost €80 per month.", "The plan costs 80 EUR per month."),
    ("Minutes above that cost 80 euros a month.", "The plan costs €80 per month."),
    ("Minutes above that cost 80€ a month.", "The plan costs €80 per month."),
    ("Minutes above that cost GBP 80 a month.", "The plan costs £80 per month."),
    ("Minutes above that cost eighty pounds.", "The plan costs 80 GBP per month."),
    ("Minutes above that cost 80 CAD a month.", "The plan costs CAD 80 per month."),
])
def test_an_amount_in_any_currency_is_money_a_percentage_or_another_currency_does_not_back(reply, backing):
    # Found by a review: only dollars were money, so "€80" was a bare number the source's "80%" backed;
    # and (a review of the fix) an amount is its currency and value: "$80" backs no "€80".
    for source in ("Alerts fire at 80% of your plan minutes.", "The plan costs $80 per month."):
        check = run(reply, sources=[source])
        assert check.problems and check.text == "", source
    assert run(reply, sources=[backing]).problems == []


@pytest.mark.parametrize("reply", ["It is used on calls within an hour and a half.", "It is used within 1 hour and a half.",
                                   "It is used by end of business.", "It is used from next Monday."])
def test_time_frames_with_a_half_after_the_unit_or_named_by_day_need_a_source(reply):
    # Found by a review: "an hour and a half" was read as "an hour" (a source's "1 hour" backed it),
    # and "by end of business" and "next Monday" were no time frames at all.
    source = "Changes take effect within 5 minutes. Allow 1 hour for the sync."
    assert run(reply, sources=[source]).problems
    assert run("It is used within an hour and a half.", sources=["It takes 1.5 hours."]).problems == []
    assert run("Closed until next Monday.", sources=["We are closed until next Monday."]).problems == []


def test_what_the_review_of_the_fixes_found_stays_right():
    # a range with a half after it is still checked (the fix had made it no fact at all)
    assert run("Setup takes 2-3 weeks and a half.", sources=["Setup takes 1 week."]).problems
    # "by end of business" is the source's "end of the business day"
    assert run("We will reply by end of business.", sources=["We reply by the end of the business day."]).problems == []
    # a two-way arrow names no menu
    assert run("The PAM ↔ Xtime sync runs every 15 minutes.",
               sources=["The PAM and Xtime sync runs every 15 minutes."]).problems == []
    # the step after a left-out step's sub-items (no full stop) is renumbered
    check = guard.run("1. Use code OVR-1234-AB:\n   - Phone first\n   - Last 8 of VIN\n2. Click Save.",
                      request_findings=[], sources=SOURCE_STEPS, staff_only=STAFF)
    assert check.text == "1. Click Save."


@pytest.mark.parametrize("reply, backing", [
    ("We reply within 1 hour or two.", "We reply within 1-2 hours."),
    ("We reply within an hour or two.", "Expect a reply in one to two hours."),
    ("The sync finishes in a day or two.", "The sync finishes within an hour or two days, allow 1 to 2 days."),
])
def test_a_range_written_around_its_unit_is_the_whole_range(reply, backing):
    # "within 1 hour or two" was read as "1 hour", so a source's "1 hour" backed a promise of two
    assert run(reply, sources=["We reply within 1 hour. The sync finishes in a day."]).problems
    assert run(reply, sources=[backing]).problems == []
    # two time frames, each with its unit, stay two facts
    assert run("It takes 1 hour or two days.", sources=["Allow 1 hour, or 2 days at most."]).problems == []


_XTIME_SOURCE = ("1. Go to Dashboard > Integrations > Xtime and check the status. 2. Click Save. "
                 "Allow 24 hours for the first sync. Billing credits are approved by your account manager.")


@pytest.mark.parametrize("reply", [
    # found by a review with a stand-in model: each went out on chat with route "answer"
    "Open Dashboard / Integrations / Xtime / Force Resync.",
    "Then go to Dashboard | Integrations | Xtime | Force Resync.",
    "Click **Force Resync** on the Xtime page.",
    'Press "Resync now" and wait.',
    "It takes up to 24 hours, and PAM support refunds your setup fee.",
    "We will waive the setup fee for the wait.",
    "PAM reimburses the carrier charges at no extra cost.",
    # promises in other words (review finding F5): each had gone out
    "The first month of minutes is on us.",
    "If it does not sync, you get your money back.",
    "The resync will cost you nothing.",
    "Setup is free of cost.",
])
def test_a_path_a_button_or_a_promise_of_money_no_source_states_is_left_out(reply):
    check = run(reply, sources=[_XTIME_SOURCE])
    assert check.problems and check.text == "", check


@pytest.mark.parametrize("reply", [
    "Open Dashboard / Integrations / Xtime.",  # the source's path in another spelling
    "Open Dashboard | Integrations | Xtime and click **Save**.",
    'Click "Save".',
    "Choose Email / SMS for alerts.",  # two steps name a choice, not a path
    "Open it in Xtime / CDK / Reynolds / Tekion as you like.",  # "it in": a list, after no path cue
    "Pay with a credit card.",
    "You can count on us for the first sync.",  # "on us" that promises nothing
    "Your account manager approves billing credits.",  # the source's promise
])
def test_what_a_source_states_in_other_spelling_stays(reply):
    assert run(reply, sources=[_XTIME_SOURCE]).problems == []


@pytest.mark.parametrize("reply, path", [
    # Found by a review: steps parted by another sign were read as no path at all
    ("Open Dashboard/Integrations/Xtime/Force Resync now.", "Dashboard > Integrations > Xtime > Force Resync"),
    ("Open Dashboard - Integrations - Xtime - Force Resync.", "Dashboard > Integrations > Xtime > Force Resync"),
    ("Go to Dashboard: Integrations: Force Resync to restart it.", "Dashboard > Integrations > Force Resync"),
    ("Open Dashboard \u25b9 Integrations \u25b9 Force Resync.", "Dashboard > Integrations > Force Resync"),
])
def test_a_path_in_other_signs_that_starts_where_a_source_path_starts_must_be_that_path(reply, path):
    check = run(reply, sources=[_XTIME_SOURCE])
    assert check.problems == [f"unsupported_path:{path}"] and check.text == ""


def test_a_source_path_in_other_signs_stays_and_steps_starting_elsewhere_are_a_list():
    for reply in ("Open Dashboard/Integrations/Xtime and check the status.",
                  "Open Dashboard - Integrations - Xtime and check the status.",
                  "Go to Dashboard: Integrations: Xtime page.",
                  "PAM works with Xtime - CDK - Reynolds.", "We book for Sales/Service/Parts.",
                  "Departments: Sales: Service: Parts.", "Open it Mon - Wed - Fri."):
        assert run(reply, sources=[_XTIME_SOURCE]).problems == [], reply


@pytest.mark.parametrize("reply, source", [
    # found by a review of the fixes above: each was dropped, and kept before them
    ("Open Dashboard / Integrations / Xtime and click Force Resync.", "In Dashboard / Integrations / Xtime, click Force Resync."),
    ("PAM can take credit applications over the phone.", _XTIME_SOURCE),
    ("Ask the caller about their credit score.", _XTIME_SOURCE),
    ("Please select **one** of the two numbers.", _XTIME_SOURCE),
    ("You can choose **either** option.", _XTIME_SOURCE),
    ("Support calls back within 2 hours or one of our agents will email you.", "Support calls back within 2 hours."),
    ("We're open Mon / Wed / Fri.", _XTIME_SOURCE),
    ("Select Email / SMS / Both as the notification type.", _XTIME_SOURCE),
    ("PAM support cannot issue refunds.", _XTIME_SOURCE),
])
def test_ordinary_sentences_the_new_checks_first_dropped_stay(reply, source):
    assert run(reply, sources=[source]).problems == []


@pytest.mark.parametrize("reply, source", [
    # a source that denies or limits the promise does not back it
    ("We will credit your account for the outage.", "Never promise a credit amount to the customer."),
    ("PAM support will refund the overage charges.",
     "Refunds for overage are handled by the PAM account team, not by self-service."),
    ("We reply within 1 hour, or two.", "We reply within 1 hour."),  # the range with a comma
])
def test_what_the_review_of_the_new_checks_found_missing_is_caught(reply, source):
    check = run(reply, sources=[source])
    assert check.problems and check.text == ""


@pytest.mark.parametrize("reply", [
    # found by the review of the mends: an unrelated "no"/"n't" turned the promise check off, an
    # invented path after "go to" passed when no cited path started where it did, and a range
    # followed by more words was no range
    "Don't worry, we will refund the overage charges.",
    "No problem, we'll waive the setup fee.",
    "If the fix doesn't hold, we will refund you.",
    "Go to Settings / Call Forwarding / Reset Carrier and save.",
    "We reply within 1 hour or two for most dealers.",
    "We reply within 1 hour or two (sometimes less).",
])
def test_what_the_review_of_the_mends_found_missing_is_caught(reply):
    check = run(reply, sources=[_XTIME_SOURCE + " We reply within 1 hour."])
    assert check.problems and check.text == "", check


def test_a_statement_about_refunds_is_no_promise_and_a_title_backs_none():
    source = "Billing questions, refunds or changing your plan are handled by the PAM account team, not by self-service."
    assert run("Questions about refunds are handled by the PAM account team.", sources=[source]).problems == []
    title = "Staff: paying agency penalties on a customer's behalf and penalty credits"
    assert run("We will credit your account for the late-filing penalty.",
               sources=[title, "Pay the penalty from the reserve account."]).problems == ["unsupported_promise:credit"]
