"""The escalation hand-off: facts copied from the request, what is missing, and chat safety."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from assistant.handoff import (
    MISSING_QUESTIONS,
    Facts,
    HandoffBuilder,
    extract_facts,
    missing_facts,
    summarize,
)
from assistant.models import Handoff
from retrieval.retriever import ChunkHit, DocHit

ROOT = Path(__file__).resolve().parents[1]

XTIME_EMAIL = """Xtime appointments missing
Hi Maheen,

Since Nov 3 appointments PAM books never show up in Xtime. The integrations page shows
"ERR_SYNC_TIMEOUT" every time. Example: the call at 10:42 am this morning, req_8f3a21, and
another one yesterday at 3:15 PM (req_91ad03). Our CDK side looks fine.

We already had our admin re-accept the invite, didn't help.

Thanks,
Carrie Dunn
Service BDC, Northgate Ford
(614) 555-0140"""

INTERNAL_TITLE = "OPS: Xtime sync diagnostics"
INTERNAL_TEXT = "force a token refresh from xsync.ops.pam-internal.net with override code OVR-7731-XT"
TICKET_TITLE = "Northgate Ford appointments not in Xtime"


def _hits() -> list[DocHit]:
    internal = DocHit("rb-internal-xtime-sync-diagnostics", INTERNAL_TITLE, "runbook", "internal", "integration",
                      0.62, 0.03, [ChunkHit("c1", "Steps", INTERNAL_TEXT, 0.62)])
    public = DocHit("rb-xtime-invite-delay", "Xtime sync not working after the dealer accepted the invite",
                    "runbook", "customer", "integration", 0.43, 0.02,
                    [ChunkHit("c2", "Symptoms", "Dashboard > Integrations > Xtime shows Pending Provider.", 0.43)])
    ticket = DocHit("T-1009", TICKET_TITLE, "ticket", "internal", "integration", 0.58, 0.02,
                    [ChunkHit("c3", "", "Resolution: re-linked the dealer code for Northgate.", 0.58)])
    return [internal, public, ticket]


def _build(text: str, surface: str, **kw) -> Handoff:
    args = dict(text=text, category="integration", priority="P1", queue="integration-support",
                reasons=["not_covered"], hits=_hits(), support=0.43, surface=surface,
                min_support=0.50 if surface == "chat" else 0.45)
    args.update(kw)
    return HandoffBuilder().run(**args)


# --------------------------------------------------------------------------- facts


def test_extracts_request_ids_times_dates_systems_errors_and_store():
    facts = extract_facts(XTIME_EMAIL)
    assert facts.request_ids == ["req_8f3a21", "req_91ad03"]
    assert facts.call_times == ["10:42 am", "3:15 PM"]
    assert facts.dates == ["Nov 3"]
    assert facts.vendors == ["Xtime", "CDK"]
    assert facts.errors == ["ERR_SYNC_TIMEOUT"]
    assert facts.stores == ["Northgate Ford"]
    assert facts.phones_redacted is True


def test_business_hours_and_bookings_are_not_call_times():
    facts = extract_facts("PAM told a caller we're open until 9 PM. We close at 6:00 and the dashboard has said "
                          "6:00 since we went live. PAM booked her for 8pm instead of 8am. The call was at 9:03 AM.")
    assert facts.call_times == ["9:03 AM"]


def test_quoted_speech_is_not_an_error_but_screen_text_is():
    facts = extract_facts('The customer asked "is this a real person?" and PAM said "Yes, I\'m on the team." '
                          'The call log says "Transfer failed: 486 Busy Here". The banner reads "Pending Provider".')
    assert facts.errors == ["Transfer failed: 486 Busy Here", "Pending Provider"]


def test_picks_up_unlisted_system_names_said_of_a_dms_crm_or_phone_system():
    facts = extract_facts("We switched CRMs to Fonzo on the 1st and our phone system is Telzio now.")
    assert facts.vendors == ["Fonzo", "Telzio"]


def test_a_make_alone_is_not_a_store():
    facts = extract_facts("The Kia invoice shows 5,210 minutes. Our Honda store is fine.")
    assert facts.stores == []


def test_nothing_is_invented_from_an_empty_request():
    facts = extract_facts("pam keeps repeating itself on calls. pls fix")
    assert facts == Facts()


# --------------------------------------------------------------------------- missing


def test_missing_everything_for_a_vague_chat_about_behaviour():
    text = "pam keeps repeating itself on calls, customers are hanging up on it. pls fix"
    assert missing_facts(extract_facts(text), "llm_behavior", text) == [
        "request_id", "call_time", "store", "example_call"]


def test_integration_without_a_named_system_asks_which_one():
    text = "our scheduler stopped getting appointments from PAM yesterday"
    assert "integration" in missing_facts(extract_facts(text), "integration", text)
    named = "our Tekion scheduler stopped getting appointments from PAM yesterday"
    assert "integration" not in missing_facts(extract_facts(named), "integration", named)


def test_nothing_missing_when_the_email_has_it_all():
    assert missing_facts(extract_facts(XTIME_EMAIL), "integration", XTIME_EMAIL) == []


def test_a_how_to_question_needs_no_example_call():
    text = "Can PAM text customers a link to our online scheduler?"
    assert missing_facts(extract_facts(text), "pam_core", text) == ["store"]


def test_every_missing_kind_has_a_polite_question():
    assert set(MISSING_QUESTIONS) == {"request_id", "call_time", "store", "integration", "example_call"}
    assert "Call Log" in MISSING_QUESTIONS["request_id"]


# --------------------------------------------------------------------------- the note


def test_note_fields_come_from_the_request_and_the_sources():
    note = _build(XTIME_EMAIL, "email")
    assert "Hi Maheen" not in note.summary and "Carrie Dunn" not in note.summary
    assert "ERR_SYNC_TIMEOUT" in note.summary
    assert note.impact.startswith("P1 high") and "Northgate Ford" in note.impact
    assert "request ID req_8f3a21" in note.evidence and 'error: "ERR_SYNC_TIMEOUT"' in note.evidence
    assert any(line.startswith("rb-xtime-invite-delay (") and "0.43 below 0.45, does not cover it" in line
               for line in note.checked)
    assert "Xtime" in note.needed and "No runbook covers this" in note.needed
    assert note.missing == []


def test_phone_numbers_never_reach_the_note():
    dumped = _build(XTIME_EMAIL, "email").model_dump_json()
    assert "555-0140" not in dumped and "614" not in dumped


def test_chat_note_names_internal_sources_by_id_only():
    dumped = _build(XTIME_EMAIL, "chat").model_dump_json()
    assert "rb-internal-xtime-sync-diagnostics" in dumped and "T-1009" in dumped
    for secret in (INTERNAL_TITLE, INTERNAL_TEXT, "OVR-7731-XT", "xsync", TICKET_TITLE, "re-linked"):
        assert secret not in dumped
    # Customer runbooks may be named in full on chat.
    assert "Xtime sync not working after the dealer accepted the invite" in dumped


def test_email_note_may_name_internal_sources_for_staff_but_never_quotes_them():
    dumped = _build(XTIME_EMAIL, "email").model_dump_json()
    assert INTERNAL_TITLE in dumped and TICKET_TITLE in dumped
    assert "OVR-7731-XT" not in dumped


def test_empty_fields_stay_empty_and_vague_chat_gets_questions():
    note = _build("pam keeps repeating itself on calls, customers are hanging up on it. pls fix", "chat",
                  category="llm_behavior", priority="P2", hits=[], support=0.2)
    assert note.evidence == []
    assert note.missing == [MISSING_QUESTIONS[k] for k in ("request_id", "call_time", "store", "example_call")]
    assert note.checked == ["no runbook or past ticket matched (best similarity 0.20, needs 0.50)"]


def test_security_incident_note_says_respond_now():
    note = _build("Someone logged into our PAM dashboard from 185.220.101.4 at 3:14 AM. Delaney Auto Group",
                  "email", category="pam_core", priority="P0", reasons=["security_incident"], hits=[])
    assert note.needed.startswith("Respond immediately.") and "security incident" in note.needed
    assert "IP address 185.220.101.4" in note.evidence


def test_summary_skips_greeting_and_signature_and_keeps_order():
    text = "Hi team,\n\nHope you're well. PAM hangs up on callers after the greeting. It started on Monday.\n\nThanks,\nJo"
    assert summarize(text) == "PAM hangs up on callers after the greeting. It started on Monday."


# --------------------------------------------------------------------------- labelled set


def test_labelled_handoff_set_stays_accurate():
    sys.path.insert(0, str(ROOT))
    from benchmarks.bench_handoff import evaluate

    cases = [json.loads(line) for line in (ROOT / "evals/data/handoff.jsonl").read_text().splitlines() if line]
    report = evaluate(cases)
    # Development figures (the rules were written on this set): a regression guard, not an estimate.
    assert report["evidence_recall"] >= 0.95
    assert report["evidence_precision"] >= 0.95
    assert report["missing_exact_match"] >= 0.9


@pytest.mark.parametrize("kind", ["request_id", "call_time", "store"])
def test_missing_kind_disappears_once_given(kind):
    given = {"request_id": "req_12ab34", "call_time": "call at 4:15 PM", "store": "Lakeside Honda"}[kind]
    text = f"PAM gave a caller the wrong hours. {given}"
    assert kind not in missing_facts(extract_facts(text), "llm_behavior", text)


def test_the_callers_phone_finding_is_used_instead_of_detecting_again(monkeypatch):
    # The pipeline passes what its own personal-data check found; no second detector runs.
    from guardrails.pii import PiiDetector

    monkeypatch.setattr(PiiDetector, "run", lambda self, text: (_ for _ in ()).throw(AssertionError("ran again")))
    text = "Transfers fail since 11/12, call me back."
    assert extract_facts(text, phones_found=True).phones_redacted is True
    assert extract_facts(text, phones_found=False).phones_redacted is False
    with pytest.raises(AssertionError):
        extract_facts(text)  # without the caller's finding it checks the text itself


def test_a_reply_header_time_is_no_call_time_and_a_placeholder_is_no_error():
    text = ("A customer called at 2:30 PM and PAM booked the wrong slot.\n\nOn Mon, Nov 3, 2025 at 9:12 AM PAM Support wrote:\n"
            "> Hi Jim, could you send the request ID?\nSent: Monday 10:45 AM\nMy card [CARD] cvv [CARD_CODE] is on file.")
    facts = extract_facts(text, False)
    assert facts.call_times == ["2:30 PM"]  # not 9:12 AM or 10:45 AM, the times the emails were written
    assert "CARD_CODE" not in facts.errors and "CARD" not in facts.errors


@pytest.mark.slow
def test_a_chat_hand_off_for_a_staff_only_question_names_the_staff_runbook_by_id_only(sample_index):
    from assistant.config import Settings
    from assistant.models import SupportRequest
    from assistant.pipeline import Pipeline

    pipeline = Pipeline.load(Settings(index=sample_index))
    r = pipeline.run(SupportRequest(channel="chat", body="Can you force a full resync of our Xtime appointments?"))
    assert r.reasons == ["internal_only_source"]
    staff = [line for line in r.handoff.checked if "internal only, not for chat" in line]
    assert staff and staff[0].startswith("rb-internal-") and "(" not in staff[0].split(":")[0]  # id, no title


def test_a_how_to_question_under_a_subject_line_asks_for_no_example_call():
    text = "Texting links\nCan PAM text a link to our service specials page to callers?"
    assert "request_id" not in missing_facts(extract_facts(text, False), "pam_core", text)
    assert "request_id" in missing_facts(extract_facts("PAM hangs up on callers", False), "pam_core",
                                         "PAM hangs up on callers")


def test_the_summary_leaves_out_the_quoted_history_of_a_reply():
    text = ("PAM says the wrong store name in the greeting since Monday.\n\n"
            "On Mon, Nov 3, 2025 at 9:12 AM PAM Support wrote:\n"
            "> Hi Jim, could you send the request ID of an affected call?\n> Thanks, PAM Support")
    summary = summarize(text)
    assert summary.startswith("PAM says the wrong store name") and "wrote" not in summary and ">" not in summary
    assert "Xtime" in summarize("> Xtime stopped syncing on Friday, appointments are missing.")  # all quoted


# --------------------------------------------------------------------------- per reason


BILLING = "We were charged twice for November, $1,200 extra. We want a refund of the duplicate charge."


def test_an_account_matter_gets_no_call_debugging_steps_or_call_questions():
    # A billing dispute names no call: asking for a call's request ID, or telling the support
    # lead to reproduce it with a test call, sends them the wrong way.
    note = _build(BILLING, "email", category="pam_core", priority="P2", queue="support-lead",
                  reasons=["risky_topic", "not_covered"], hits=[])
    assert note.needed.startswith("Support lead to review and reply personally.")
    assert "test call" not in note.needed
    assert note.missing == [MISSING_QUESTIONS["store"]]
    cancel = _build("We want to cancel our contract at the end of the month. Who gets the notice?", "email",
                    category="integration", priority="P2", queue="support-lead", reasons=["risky_topic"], hits=[])
    assert "Integrations" not in cancel.needed and cancel.missing == [MISSING_QUESTIONS["store"]]


def test_an_account_matter_about_a_call_still_asks_for_the_call():
    note = _build("A customer says PAM told him on the phone that his warranty covered the repair. He is suing.",
                  "email", category="llm_behavior", priority="P2", queue="support-lead",
                  reasons=["risky_topic"], hits=[])
    assert "Pull the call" in note.needed
    assert MISSING_QUESTIONS["request_id"] in note.missing and MISSING_QUESTIONS["example_call"] in note.missing


def test_an_out_of_scope_request_or_an_attack_is_asked_nothing():
    for reasons, category in ((["out_of_scope"], "out_of_scope"), (["prompt_injection"], "pam_core")):
        note = _build("write me a post for our tire sale this weekend", "chat", category=category, priority="P3",
                      reasons=reasons, hits=[])
        assert note.missing == []
    assert missing_facts(Facts(), "out_of_scope", "write me a post") == []


def test_the_hand_off_asks_what_the_customer_was_asked(sample_index):
    # One list for both: the note's questions are the ones the holding message put to the customer.
    from assistant.config import Settings
    from assistant.models import SupportRequest
    from assistant.pipeline import Pipeline

    pipeline = Pipeline.load(Settings(index=sample_index))
    r = pipeline.run(SupportRequest(channel="chat", body="the call summaries stopped arriving in our email"))
    assert r.route == "escalate" and r.handoff.missing
    assert all(q in r.answer for q in r.handoff.missing)
    billing = pipeline.run(SupportRequest(channel="email", subject="Billing", body=(
        "Hi,\n\nOur PAM invoice for November has the monthly fee twice. Please refund the duplicate charge.\n\n"
        "Thanks,\nMaria")))
    assert billing.reasons[0] == "risky_topic" and billing.category != "out_of_scope"
    assert billing.handoff.missing == [MISSING_QUESTIONS["store"]]


@pytest.mark.parametrize("text", [
    "hi, how do i print a QR code poster for our showroom that links to pam?",
    "QR poster\nHi,\n\nHow do I print a QR code poster for our showroom that links to PAM?\n\nThanks,\nDana",
    "Hello team - can PAM text our customers a link to the service menu?",
    "hey how do I add a second advisor to the schedule?",
])
def test_a_greeting_before_a_how_to_question_asks_for_no_call(text):
    # Found by a review: "Hi," (or the subject and "Hi,") filled the two opening lines, so the
    # question was read as a report of a problem and the customer was asked for a call's request ID.
    missing = missing_facts(extract_facts(text), "pam_core", text)
    assert "request_id" not in missing and "call_time" not in missing


def test_a_greeting_before_a_problem_still_asks_for_the_call():
    text = "Hi,\n\nPAM hung up on two callers this morning.\n\nThanks"
    assert {"request_id", "call_time"} <= set(missing_facts(extract_facts(text), "pam_core", text))


def test_another_dealership_asked_about_is_not_the_writers_store():
    # Found by a review: "store: Valley Toyota, Lakeside Kia" handed the support lead a request
    # that looked as if it came from the dealership whose data must not be shared.
    text = ("Could you pull the monthly call volume and booking numbers for Valley Toyota? They are a "
            "competitor of ours and I want to compare.\n\nRick Hale\nGM, Lakeside Kia")
    facts = extract_facts(text, other_dealer=True)
    assert facts.stores == ["Lakeside Kia"] and facts.other_dealers == ["Valley Toyota"]
    note = _build(text, "email", category="pam_core", priority="P2", queue="support-lead",
                  reasons=["risky_topic"], hits=[], facts=facts)
    assert "store: Lakeside Kia" in note.impact and "asks about another dealership: Valley Toyota" in note.impact
    assert note.missing == []  # "call volume" is no call to ask about, and the store is known
    chat = "what greeting and transfer rules does Sunset Honda across town use on their PAM? they're not ours"
    facts = extract_facts(chat)  # named as a third party by guardrails.risk, flagged or not
    assert facts.stores == [] and facts.other_dealers == ["Sunset Honda"]
    assert "store" in missing_facts(facts, "pam_core", chat, ["risky_topic"])


def test_the_note_for_another_dealerships_account_says_to_change_nothing_unconfirmed():
    text = "reset the password for parts@hillcrestmazda.com, I don't work there but their manager is away"
    flagged = _build(text, "chat", category="pam_core", priority="P2", queue="support-lead",
                     reasons=["risky_topic"], hits=[], facts=extract_facts(text, other_dealer=True))
    assert "without that dealership's account owner confirming it" in flagged.needed
    other_topic = _build(text, "chat", category="pam_core", priority="P2", queue="support-lead",
                         reasons=["risky_topic"], hits=[], facts=extract_facts(text))  # a refund, say
    assert "account owner" not in other_topic.needed


def test_the_writers_own_store_named_in_the_body_stays_its_store():
    text = "Our Xtime sync broke at Northgate Ford this morning.\n\nCarrie\nNorthgate Ford"
    assert extract_facts(text, other_dealer=True).stores == ["Northgate Ford"]


def test_only_the_facts_a_kb_speaks_of_are_asked():
    from assistant.handoff import askable_kinds

    text = "the locker screen shows a weird purple stripe"
    facts = extract_facts(text)
    assert missing_facts(facts, "hardware", text) == ["request_id", "call_time", "store"]
    lockers = askable_kinds(["Scan the QR code on the locker door and enter the pickup code.",
                             "If the store is closed, lockers stay open 24/7.",
                             "Lockers inside a store follow its opening hours."])
    assert lockers == {"store"}
    assert missing_facts(facts, "hardware", text, askable=lockers) == ["store"]


def test_a_fact_a_kb_names_in_passing_is_not_asked():
    # Found by a review on a payroll KB: one runbook's "call their bank" and "we store trace
    # numbers" made every escalation ask for "the time of an affected call" and "which store".
    from assistant.handoff import askable_kinds

    payroll = ["Ask the employee to call their bank with the trace number. We store trace numbers for 90 days."]
    payroll += [f"Open Payroll > Runs and pick run {n}; check the employee's net pay." for n in range(9)]
    assert askable_kinds(payroll) == frozenset()
    assert askable_kinds(["Find the request ID of the call in the Call Log."]) == {"request_id", "call_time",
                                                                                  "example_call"}  # a KB of one


@pytest.mark.parametrize("text", [
    "Hi, this is Dana from Lakeside Kia. Can you export Valley Toyota's call recordings for us?\nDana",
    "Can you export Valley Toyota's call recordings? We are Lakeside Kia.\nThanks",
])
def test_the_writers_store_introduced_in_the_body_is_not_the_other_dealership(text):
    # Found by a review: a store named in the body as the writer's own was moved to other_dealers.
    facts = extract_facts(text, other_dealer=True)
    assert facts.stores == ["Lakeside Kia"] and facts.other_dealers == ["Valley Toyota"]
    assert "store" not in missing_facts(facts, "pam_core", text, ["risky_topic"])


def test_a_value_just_under_its_bar_is_shown_under_it():
    # Found by a review: "similarity 0.45 below 0.45" (0.4467 rounded) contradicted itself.
    from assistant.handoff import checked
    from assistant.messages import shown_below

    assert shown_below(0.4467, 0.45) == "0.447" and shown_below(0.4999, 0.5) == "0.4999"
    assert shown_below(0.31, 0.45) == "0.31"
    assert shown_below(0.44999998807907104, 0.45) == "0.449999"  # a float32 0.45: cut, not rounded up to it
    doc = DocHit("rb-x", "X", "runbook", "customer", "pam_core", 0.4467, 0.1, [])
    (line,) = checked([doc], 0.4467, "email", 0.45, ["not_covered"])
    assert "similarity 0.447 below 0.45" in line
