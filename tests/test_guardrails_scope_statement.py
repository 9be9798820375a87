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
    ("Not a PAM question at all, sorry. Excel formula for the last 8 characters of a VIN?", "not a pam question at all"),
    ("This is a non-PAM question: our Facebook page was taken over.", "non-pam question"),
    ("Quick one outside of PAM support: Outlook keeps asking for my password.", "one outside of pam support"),
    ("I know this falls outside PAM, but how do I move a Google Voice number?", "falls outside pam"),
    ("this has zero to do with your software but my monitors swap sides", "zero to do with your software"),
    ("not work related at all: a good name for a puppy?", "not work related at all"),
    ("My question has no connection to my PAM account. How do I price a used Accord?", "no connection to my pam account"),
    # Forms a review found missed by the first reader.
    ("this isnt about pam, whats the capital of australia", "isnt about pam"),
    ("Hi, this isn't PAM-related at all. Could you write a retirement speech?", "isn't pam-related at all"),
    ("this really has nothing to do with PAM, but which phone case lasts?", "nothing to do with pam"),
    ("unrelated to PAM and I think you'll know this: quarts of oil in a 2018 Silverado?", "unrelated to pam"),
    ("not PAM related\u2014maybe you know: how do I center a div?", "not pam related"),
    ("nothing to do w PAM: best snow tires?", "nothing to do w pam"),
    ("this has zero to do with your AI, but which phone case holds up best?", "zero to do with your ai"),
    ("nothing to do with you guys, but a good hotel near the NADA show?", "nothing to do with you guys"),
    # A greeting that names the product is no request about it.
    ("Hi PAM folks,\n\nNot a PAM thing at all, but what REGEXEXTRACT pulls a phone number?", "not a pam thing at all"),
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
    # Found by a review of the first reader (56 of its 76 PAM lines went out of scope through the
    # pipeline): something else as the subject,
    "Verizon told us the dropped calls are unrelated to PAM. Can you check the call log?",
    "our second phone line is not connected to PAM yet - how do we add it?",
    "warranty questions are not for PAM to answer - can you make it transfer those?",
    "The after-hours transfer number is not for Pam Reyes anymore, she left the dealership.",
    # a question,
    "Is the static on calls unrelated to PAM or is it PAM? started today around noon",
    # a part of the product,
    "Hi team,\n\nThis isn't about PAM itself, it's about the invoice: we were billed twice.",
    "nothing to do with PAM the voice, it's the texting - confirmations go out twice",
    "not related to pam calls, related to pam texts: the opt-out link 404s",
    # a turn to another of the vendor's matters,
    "not about pam, about the dashboard login - my new BDC manager never got her invite",
    "Not about PAM \u2014 about our contract. When does our annual term renew?",
    "not a pam question, more for whoever does your integrations: does the myKaarma connector sync?",
    "Nothing to do with PAM, it's our CDK sync: new advisors are still missing.",
    # the product named again outside the statement.
    "Hi team, This is unrelated to PAM: after the Tekion upgrade, PAM books every appointment unassigned.",
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
    # A name ending in a sign, and names written as the text may be (curly apostrophe, full width).
    assert ScopeStatement(["C++"])("Unrelated to C++, but how do I print?") == "unrelated to c++"
    assert ScopeStatement(["Joe\u2019s Garage"])("Unrelated to Joe's Garage, but hi") == "unrelated to joe's garage"
    assert ScopeStatement(["\uff30\uff21\uff2d"])("Unrelated to PAM, but hi") == "unrelated to pam"


@pytest.mark.parametrize("text", [
    "not about " + " " * 80_000 + "pam",
    "not " * 20_000 + "about",
    "unrelated to " * 8_000,
    "nothing to do with " * 5_000 + "pam's",
    "x, " * 30_000 + "not pam related",
    # Each statement behind a greeting that names the product, the product named once more at the end:
    # looking for it again per statement took 5.4 s on 90,000 characters.
    "hi pam, this is unrelated to your product. x\n" * 2_000 + "pam",
    "unrelated to your product. " + "pam " * 25_000,
])
def test_long_inputs_are_read_in_linear_time(text):
    start = time.perf_counter()
    says(text)
    assert time.perf_counter() - start < 0.5
