"""Splitter rules mended after a review: each test states the class of input a rule handles,
with several phrasings, and fails on the code before the mend."""

from __future__ import annotations

import pytest

from assistant.splitter import RequestSplitter, has_problem, stands_alone, strip_envelope


@pytest.fixture(scope="module")
def splitter(embedder):
    return RequestSplitter(embedder)


def _texts(splitter, subject, body):
    segments = splitter.run(subject, body)
    for s in segments:
        assert body[s.start:s.end] == s.text
    return [s.text for s in segments]


# D. Common failure phrasings are problem statements: hanging up, being down, cutting callers
# off, dropping calls. General vocabulary of a phone line failing, not one sample's wording.
@pytest.mark.parametrize("text", [
    "PAM is hanging up on callers when they ask for parts.",
    "PAM is down since 8am.",
    "Our phones went down at noon and PAM with them.",
    "The system was down for the whole morning.",
    "PAM is cutting callers off when they ask about recalls.",
    "PAM cut the customer off before she finished her sentence.",
    "Calls dropped right after the greeting on Saturday.",
    "PAM drops the call when a customer asks for the body shop.",
    "Calls keep dropping after the first ring.",
])
def test_failure_phrasings_state_a_problem(text):
    assert has_problem(text)
    assert stands_alone(text)


@pytest.mark.parametrize("text", [
    "Customers drop off their car at the service lane at 7am.",
    "Pick the store from the drop-down menu on the dashboard.",
    "We are located down the road from the mall on Route 9.",
    "Our missed call rate dropped a lot since we went live.",
])
def test_the_same_words_in_ordinary_senses_state_no_problem(text):
    assert not has_problem(text)


def test_a_hanging_up_paragraph_is_a_request_of_its_own(splitter):
    body = ("Hi,\n\nPAM is hanging up on callers when they ask for parts.\n\n"
            "Also our invoice for November charged us twice.\n\n"
            "Also can you change the greeting to mention the holiday tire sale?\n\nThanks,\nDana")
    assert _texts(splitter, "help", body) == [
        "PAM is hanging up on callers when they ask for parts.",
        "Also our invoice for November charged us twice.",
        "Also can you change the greeting to mention the holiday tire sale?"]
