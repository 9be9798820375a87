"""The staff-action detector (guardrails/action.py) and the chat rule built on it.

A chat question that asks staff to do something on their side goes to a person
(internal_only_source) when a staff-only runbook covers it, even though a customer
article on the same topic matches; the same topic asked as a self-service question
is still answered.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.models import SupportRequest
from assistant.pipeline import Pipeline
from benchmarks.bench_staff_action import BASELINE, read, scores
from guardrails.action import StaffActionDetector

DATA = Path(__file__).resolve().parents[1] / "guardrails" / "data"


@pytest.fixture(scope="module")
def detector():
    return StaffActionDetector()


@pytest.mark.parametrize("text", [
    "could you re-run last night's import on your end?",
    "can u reset the door controller for us",
    "we need you to cancel the duplicate order",
    "is there any chance someone can look at our account today",
    "can our two locations be merged into one account for us?",
    "we need the old admin login deleted asap",
    "the upload fails every time. i can't fix it myself, can you?",
    "Please reactivate the card reader at the front desk.",
    "the invoice shows the wrong rate. correct it please",
    "the export keeps failing, something is wrong from your side",
])
def test_requests_for_an_operation_on_the_vendors_side_are_flagged(detector, text):
    result = detector.run(text)
    assert result.flagged, text
    assert result.evidence and all(e for e in result.evidence)


@pytest.mark.parametrize("text", [
    "can you tell me how to change the greeting?",
    "could you explain what error 403 means",
    "can you help me set up holiday hours",
    "how do I add a user to the dashboard?",
    "can the app export appointments to csv?",
    "can we get an email when a call is missed?",
    "the invite link you sent my manager has expired",
    "you guys moved the settings menu and now I can't find it",
    "is there a setting to turn off the promo message?",
    "please help, nobody can log in",
    "it keeps saying 'sorry, can you repeat that' to every caller",
    "do I need to be logged in as an admin to change this?",
    "thanks, that worked!",
    # capability and how-to questions phrased with "you", "someone", passives or "on your end"
    "Can you transfer calls to a specific advisor?",
    "Can you connect PAM to Tekion?",
    "Can you set how long PAM waits before answering?",
    "Can someone on my team see the call logs?",
    "Will my appointments be synced to Xtime automatically?",
    "Can the end of speech wait be adjusted from the dashboard?",
    "We need our advisors added to PAM, where do I do that in the dashboard?",
    "How can you change the greeting?",
    "I'd like my calls forwarded to my cell after hours, how do I set that up?",
    "Is my data stored on your end?",
    "please note our hours changed next week",
    # "our" and "my" are in nearly every customer's question: alone they do not make a request
    "Can you integrate with our CDK DMS?",
    "Can our calls be recorded and stored for 90 days?",
    "Can you guys handle after-hours calls for our body shop too?",
    "Can my service manager be notified when a customer is angry?",
    "Our advisors would like the call summaries emailed to them, can that be set up in the dashboard?",
])
def test_questions_complaints_and_requests_for_information_are_not(detector, text):
    assert not detector.run(text).flagged, detector.run(text).evidence


# "please" is courtesy, not a cue: a capability or how-to question asked politely is the same
# question (before: "please" anywhere in the message made "can you <verb>" a request; review finding)
@pytest.mark.parametrize("text", [
    "Can you transfer calls to a specific advisor, please?",
    "Can you connect PAM to Tekion, please?",
    "Could you send a text to callers after a missed call? please",
    "Can you guys handle after-hours calls for the body shop too, please?",
    "Please, can you book appointments straight into Xtime?",
    "Hi, can you transfer calls to the parts desk? Thanks, please let me know.",
])
def test_a_polite_capability_question_is_not_a_request(detector, text):
    assert not detector.run(text).flagged, detector.run(text).evidence


@pytest.mark.parametrize("text", [
    "Please move our numbers to the new store.",
    "please re-send the invite to our manager",
    "kindly reset the door controller",
    "reset the sync please",
    "Can you push a full refresh for us, please?",
    "Could you merge the two accounts today, please?",
])
def test_a_polite_request_for_an_operation_is_still_flagged(detector, text):
    assert detector.run(text).flagged, text


def test_chat_short_forms_are_read_as_words(detector):
    assert detector.run("pls unlock our account").flagged
    assert detector.run("cn u push the update again").flagged


def test_every_sentence_of_a_message_is_checked(detector):
    result = detector.run("Our sync has been stuck since Monday. Can you restart it from your side? "
                          "Nothing shows up. Also please re-send the invite to our manager.")
    assert result.flagged
    assert len(result.evidence) == 2
    assert result.evidence[0].endswith("restart") and result.evidence[1].endswith("please re-send")


def test_a_capability_question_becomes_a_request_when_it_names_the_customers_side(detector):
    assert not detector.run("can you move phone numbers between accounts?").flagged
    assert not detector.run("can you send texts to customers from our store number?").flagged
    assert detector.run("can you move the phone numbers to our account?").flagged
    assert detector.run("we bought the store next door. can you move the numbers over asap?").flagged


@pytest.mark.parametrize("name, min_precision, min_recall", [
    # development sets (the rules were changed after reading their misses)
    ("staff_action_heldout.jsonl", 0.99, 0.55),
    ("staff_action_test.jsonl", 0.98, 0.50),
    # written after the rules, never read for misses: today's figures, a little below
    ("staff_action_final.jsonl", 0.95, 0.30),
])
def test_precision_and_recall_on_chat_lines_of_other_products(detector, name, min_precision, min_recall):
    rows = read(DATA / name)
    result = scores([detector.run(r["text"]).flagged for r in rows], rows)
    assert result["precision"] >= min_precision, result
    assert result["recall"] >= min_recall, result
    # and the first rule one would write is far less precise and worse overall on the same lines
    base = scores([bool(BASELINE.search(r["text"])) for r in rows], rows)
    assert base["precision"] < result["precision"] - 0.25
    assert base["f1"] < result["f1"] - 0.1


@pytest.mark.slow
def test_chat_request_for_staff_action_goes_to_a_person_and_the_self_service_question_does_not(sample_index, embedder):
    pipeline = Pipeline.load(Settings(index=sample_index), embedder=embedder)
    act = "the store we just bought has its own pam account, could you merge its phone numbers into our account?"
    result = pipeline.run(SupportRequest(id="A-1", channel="chat", body=act))
    assert result.route == "escalate" and "internal_only_source" in result.reasons
    assert "asks staff to act" in result.rationale
    assert all(c.audience == "customer" and c.kind == "runbook" for c in result.citations)

    # On email OPS reads staff runbooks anyway: not an internal-only case there.
    email = pipeline.run(SupportRequest(id="A-2", channel="email", body=act))
    assert "internal_only_source" not in email.reasons

    plain = "our cdk appointments stopped showing up this morning, what should we check?"
    asked = pipeline.run(SupportRequest(id="A-3", channel="chat", body=plain))
    assert asked.route == "answer", asked.rationale
    acted = pipeline.run(SupportRequest(id="A-4", channel="chat",
                                        body="our cdk appointments stopped showing up this morning, "
                                             "can someone on your team kick the connection for us"))
    assert acted.route == "escalate" and "internal_only_source" in acted.reasons
