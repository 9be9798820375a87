"""Staff-only vocabulary (guardrails/coverage.py) and the chat rule built on it.

A chat question that names something only internal runbooks talk about goes to a
person (internal_only_source) even when a customer article on the same topic matches
it by embedding; a plain question on that topic is still answered.
"""

from __future__ import annotations

import io
import json
import sys

import pytest

from assistant.cli import main
from guardrails.coverage import StaffOnlyTerms, content_words

DOCS = [
    ("rb-cdk", "customer", "CDK set-up: go to Dashboard > Integrations > CDK and click Start Setup. "
                           "Approval takes 2-3 weeks."),
    ("rb-credits-faq", "customer", "Your invoice lists the minutes used."),
    ("rb-internal-resync", "internal", "Forcing a full DMS resync: open the bridge console and resync the store. "
                                       "Service credits need approval."),
    ("rb-internal-other", "internal", "Porting a number takes 10 business days."),
]


@pytest.fixture()
def terms():
    return StaffOnlyTerms(DOCS)


def test_words_of_the_internal_runbook_that_no_customer_runbook_uses(terms):
    assert terms.run("can you force a full resync of our CDK?", "rb-internal-resync") == ["force", "resync"]
    # stemming: "credits" meets "credit", "resyncing" meets "resync"
    assert terms.run("any credit for the outage? still resyncing", "rb-internal-resync") == ["credit", "resyncing"]


def test_words_a_customer_runbook_also_uses_do_not_count(terms):
    # "cdk", "setup", "approval", "weeks" are in the customer article
    assert terms.run("how many weeks does CDK approval take?", "rb-internal-resync") == []


def test_only_the_named_internal_runbook_counts(terms):
    assert terms.run("can you force a resync?", "rb-internal-other") == []
    assert terms.run("can you force a resync?", None) == []
    assert terms.run("can you force a resync?", "rb-unknown") == []


def test_stop_words_numbers_and_short_tokens_are_not_content():
    assert content_words("Can you do it for 10 of our stores, ok?") == ["stores"]


def ask(index, cases, monkeypatch, capsys) -> list[dict]:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(json.dumps(c) + "\n" for c in cases)))
    assert main(["ask", "--index", str(index)]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.mark.slow
def test_chat_questions_naming_a_staff_only_matter_go_to_a_person(sample_index, monkeypatch, capsys):
    staff_only = ["whats your policy on service credits after an outage?",
                  "can u force a full resync from CDK? new advisors still missing in pam since yesterday"]
    plain = ["we accepted the Xtime invite this morning, how long until appointments sync?"]
    cases = ([{"id": f"s{i}", "channel": "chat", "body": b} for i, b in enumerate(staff_only)]
             + [{"id": f"p{i}", "channel": "chat", "body": b} for i, b in enumerate(plain)]
             + [{"id": f"e{i}", "channel": "email", "body": b} for i, b in enumerate(staff_only)])
    results = {r["id"]: r for r in ask(sample_index, cases, monkeypatch, capsys)}
    for i in range(len(staff_only)):
        r = results[f"s{i}"]
        assert r["route"] == "escalate" and "internal_only_source" in r["reasons"], r
        assert all(c["source_id"].startswith("rb-") and "internal" not in c["source_id"] for c in r["citations"])
        # the same question on email (reviewed by OPS, sees staff runbooks) is not an internal-only case
        assert "internal_only_source" not in results[f"e{i}"]["reasons"]
    assert results["p0"]["route"] == "answer", results["p0"]
