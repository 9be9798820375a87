"""The P0 rule of the priority model with the real MiniLM: what it reads and what it leaves out."""

from __future__ import annotations

import pytest

from assistant.priority import PriorityModel

OUTAGE = "PAM is not answering any calls at all since 7am today."


@pytest.fixture(scope="module")
def model(embedder):
    return PriorityModel(embedder)


def test_an_outage_is_p0(model):
    assert model.p0_signal(OUTAGE)[0] is not None


def test_an_outage_after_a_long_report_is_still_read(model):
    # Before, only the first 40 sentences were scored.
    report = " ".join(f"Report item {i} is about the greeting wording on line {i}." for i in range(45))
    assert model.p0_signal(f"{report} {OUTAGE}")[0] is not None


def test_an_outage_only_in_the_quoted_history_is_not_p0(model):
    reply = ("Can you change the greeting to say Good morning instead of Hello?\n\n"
             "On Mon, Nov 3 PAM Support wrote:\n> Thanks, we are on it.\n>> " + OUTAGE)
    assert model.p0_signal(reply)[0] is None
    assert model.p0_signal("> " + OUTAGE)[0] is not None  # all quoted: nothing else to go by
