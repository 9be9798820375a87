"""The writer's own word that a request is not about the product (guardrails/off_topic.py ScopeStatement)."""

from __future__ import annotations

import time

import pytest

from guardrails.off_topic import ScopeStatement

says = ScopeStatement(["PAM"])


@pytest.mark.parametrize("text, statement", [
    ("Hi,\n\nNothing to do with PAM, but could you write me a Python script that reads a CSV?", "nothing to do with pam"),
    ("not pam related - how do i do a left join in sql", "not pam related"),
    ("Totally unrelated to your product: should I lease or buy my next truck?", "unrelated to your product"),
    ("This isn\u2019t about PAM \u2014 what does the 10th digit of a VIN mean?", "isn't about pam"),
    ("Not a PAM question at all, sorry. Excel formula for the last 8 characters of a VIN?", "not a pam question"),
    ("This is a non-PAM question: our Facebook page was taken over.", "non-pam question"),
    ("Quick one outside of PAM support: Outlook keeps asking for my password.", "one outside of pam support"),
    ("I know this falls outside PAM, but how do I move a Google Voice number?", "falls outside pam"),
    ("this has zero to do with your software but my monitors swap sides", "zero to do with your software"),
    ("not work related at all: a good name for a puppy?", "not work related"),
    ("My question has no connection to my PAM account. How do I price a used Accord?", "no connection to my pam account"),
])
def test_a_statement_that_the_request_is_not_about_the_product_is_read(text, statement):
    assert says(text) == statement


@pytest.mark.parametrize("text", [
    # The product's part, not the product: a PAM request.
    "not about pam's answers, about the texts: customers replying STOP still get reminders",
    "This isn't about PAM's voice, it's about what it says about Sunday hours.",
    # Blame, not the topic.
    "Not PAM's fault, but since the Xtime migration PAM's bookings don't show up in Xtime.",
    "Probably not a PAM problem, but our Tekion appointments all show advisor UNASSIGNED.",
    "This isn't a PAM issue I think, callers hear a beep before PAM picks up.",
    # Another matter.
    "this is unrelated to my last ticket: PAM transfers parts calls to the service desk",
    "Nothing to do with Xtime this time, it's CDK: PAM can't find the customer's vehicles.",
    "unrelated to the billing stuff my GM emailed about: can PAM answer in spanish?",
    "Hi, Three unrelated things, sorry for lumping them together. The greeting has a typo.",
    # A hedge in the statement's clause.
    "not a pam question exactly, more of a reynolds question: does pam write to ERA?",
    "Maybe not about PAM, but since we switched carriers PAM isn't answering our main line.",
    "off-topic from my earlier chat: is there a way to see which calls PAM couldn't answer?",
    # Another service, not the vendor's.
    "This has nothing to do with your service department, PAM books oil changes at 7am.",
])
def test_the_same_words_in_another_sense_are_no_statement(text):
    assert says(text) is None


def test_the_product_names_are_the_deployments():
    parcelly = ScopeStatement(["Parcelly", "the locker app"])
    assert parcelly("Unrelated to Parcelly, but can you fix my printer?") == "unrelated to parcelly"
    assert parcelly("Not about the locker app: which phone should I buy?") == "not about the locker app"
    assert parcelly("Unrelated to PAM, but can you fix my printer?") is None
    assert ScopeStatement([])("Unrelated to PAM, but can you fix my printer?") is None  # no name: "your product" only
    assert ScopeStatement([" "])("nothing to do with your product: a haiku please") == "nothing to do with your product"


@pytest.mark.parametrize("text", [
    "not about " + " " * 80_000 + "pam",
    "not " * 20_000 + "about",
    "unrelated to " * 8_000,
    "nothing to do with " * 5_000 + "pam's",
    "x, " * 30_000 + "not pam related",
])
def test_long_inputs_are_read_in_linear_time(text):
    start = time.perf_counter()
    says(text)
    assert time.perf_counter() - start < 1.0
