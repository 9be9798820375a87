"""The pipeline on a knowledge base it was never tuned on, with other labels (tests/fixtures/kb_alt)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.kb_factory import ask_cli, ingest_kb

KB_ALT = Path(__file__).parent / "fixtures" / "kb_alt"


@pytest.fixture(scope="module")
def alt_index(tmp_path_factory):
    return ingest_kb(KB_ALT, tmp_path_factory.mktemp("alt-index"))


ask = ask_cli


@pytest.mark.slow
def test_labels_come_from_the_other_kb_and_chat_never_carries_its_staff_only_text(alt_index, monkeypatch, capsys):
    cases = [json.loads(line) for line in (KB_ALT / "cases.jsonl").read_text().splitlines() if line.strip()]
    results = ask(alt_index, cases, monkeypatch, capsys)
    internal = {p.stem for p in (KB_ALT / "runbooks").glob("*.md") if "audience: internal" in p.read_text()}
    internal_ids = set()
    for p in (KB_ALT / "runbooks").glob("*.md"):
        if "audience: internal" in p.read_text():
            internal_ids.add(next(line.split(":", 1)[1].strip() for line in p.read_text().splitlines()
                                  if line.startswith("id:")))
    labels = {json.loads(line)["category"] for line in (KB_ALT / "tickets.jsonl").read_text().splitlines() if line}
    assert labels == {"hardware", "app", "billing_account"}
    for case, r in zip(cases, results):
        assert r["category"] in labels | {"out_of_scope"}
        assert r["queue"]
        blob = json.dumps(r)
        for s in case["expected"].get("must_not_include", []):
            assert s.lower() not in blob.lower(), (case["id"], s)
        if case["channel"] == "chat":
            assert "handoff" not in r or all(s not in json.dumps(r["handoff"]) for s in ("MSTR-",))
            assert not {c["source_id"] for c in r["citations"]} & (internal | internal_ids)
    # the staff-only rules (margin and staff-only words) never take an answerable question away
    assert not [c["id"] for c, r in zip(cases, results)
                if c["expected"]["route"] == "answer" and "internal_only_source" in r["reasons"]]
    answered = [r for c, r in zip(cases, results) if c["expected"]["route"] == "answer" and r["route"] == "answer"]
    expected_answers = [c for c in cases if c["expected"]["route"] == "answer"]
    # generality: most answerable questions of a KB we never tuned on are answered, with its own facts
    assert len(answered) >= len(expected_answers) // 2
    escalated_ok = sum(r["route"] == "escalate" for c, r in zip(cases, results) if c["expected"]["route"] == "escalate")
    assert escalated_ok >= sum(c["expected"]["route"] == "escalate" for c in cases) * 0.6


@pytest.mark.slow
def test_the_closest_runbook_is_weighed_only_if_it_helps_on_this_kbs_tickets(alt_index):
    manifest = json.loads((alt_index / "manifest.json").read_text())
    training = manifest["training"]
    if training["retrieval_evidence_used"]:
        assert training["cv_accuracy"] >= training["cv_accuracy_classifier_alone"]
        assert manifest["retrieval_evidence"]["labels"] == manifest["labels"]
    else:  # on this KB it would lower the held-out accuracy of its tickets
        assert manifest["retrieval_evidence"] is None
        assert training["cv_accuracy"] == training["cv_accuracy_classifier_alone"]


@pytest.mark.slow
def test_a_chat_request_for_staff_to_act_goes_to_a_person_on_the_other_kb_too(alt_index, monkeypatch, capsys):
    # guardrails/action.py knows no KB's wording: on the parcel-locker KB, asking staff to open a
    # door is what only its staff-only master-unlock runbook covers; asking what to do is self-service
    stuck = "a resident's parcel is stuck behind door 12 and the screen won't take her code"
    cases = [{"id": "act", "channel": "chat", "body": f"{stuck}, could your team open it for us?"},
             {"id": "ask", "channel": "chat", "body": f"{stuck}, what should she do?"}]
    act, ask_ = ask(alt_index, cases, monkeypatch, capsys)
    assert act["route"] == "escalate" and "internal_only_source" in act["reasons"], act
    assert not any("internal" in c["source_id"] for c in act["citations"])
    assert ask_["route"] == "answer", ask_


@pytest.mark.slow
def test_an_email_suggestion_leaves_out_staff_only_codes_shaped_unlike_the_samples(alt_index, monkeypatch, capsys):
    # The master codes (MSTR-7Q4K-2291) and commands (`rotate-master --tower <serial>`) of this KB's
    # internal runbook have no shape the sample's rules knew, and were quoted in the email draft.
    case = {"id": "A-1", "channel": "email", "subject": "master unlock",
            "body": "What is the procedure to unlock a door through the fleet controller, and how is the master "
                    "code rotated afterwards?"}
    [r] = ask(alt_index, [case], monkeypatch, capsys)
    assert r["route"] == "answer" and "pk-internal-master-unlock" in {c["source_id"] for c in r["citations"]}
    for secret in ("MSTR-", "rotate-master", "--tower", "ssh fieldops", "fleet-ctl.internal"):
        assert secret not in r["answer"], secret


@pytest.mark.slow
def test_an_off_topic_request_in_this_kbs_words_is_out_of_scope_on_the_other_kb_too(alt_index, monkeypatch, capsys):
    # "invoice" meets the billing runbook at 0.33, over the fixed 0.30 bar: before, it was a
    # billing request nobody could answer. The off-topic exemplars know nothing of either KB.
    cases = [{"id": "xl", "channel": "chat",
              "body": "can you write an excel formula that totals the invoice amounts per customer"},
             {"id": "bill", "channel": "chat", "body": "where do I download last month's invoice?"}]
    xl, bill = ask(alt_index, cases, monkeypatch, capsys)
    assert xl["category"] == "out_of_scope" and xl["reasons"] == ["out_of_scope"], xl
    assert "closer to an off-topic request" in xl["rationale"]
    assert bill["category"] != "out_of_scope", bill


@pytest.mark.slow
def test_the_other_kb_is_asked_only_for_facts_it_speaks_of_and_named_in_its_own_words(alt_index, monkeypatch,
                                                                                       capsys):
    # Found by a review: a parcel-locker KB's customers were asked for "the request ID of an
    # affected call (in Dashboard > Calls > Call Log ...)" and "which store (rooftop)", and told
    # the assistant helps with "PAM, your phone agent ...".
    monkeypatch.setenv("ASSISTANT_SCOPE", "your parcel lockers, the courier app and pickup codes")
    [strange, haiku] = ask(alt_index, [
        {"id": "a1", "channel": "chat", "body": "the locker screen shows a weird purple stripe across the top"},
        {"id": "a2", "channel": "chat", "body": "can you write me a haiku about autumn leaves?"},
    ], monkeypatch, capsys)
    assert strange["route"] == "escalate"
    assert "request ID" not in strange["answer"] and "rooftop" not in strange["answer"]
    assert haiku["reasons"] == ["out_of_scope"]
    assert "questions about your parcel lockers, the courier app and pickup codes" in haiku["answer"]
    assert "PAM" not in haiku["answer"]


def test_ingest_warns_when_the_scope_would_name_pam_for_a_kb_that_never_does(monkeypatch):
    # Found by a review on a payroll KB: every out-of-scope and injection reply told its
    # customers the assistant helps with "PAM, your phone agent ..." and nothing said so.
    from assistant.cli import scope_warning
    from assistant.config import Settings
    from ingestion.loader import KnowledgeBaseLoader

    monkeypatch.delenv("ASSISTANT_SCOPE", raising=False)
    alt = KnowledgeBaseLoader().run(KB_ALT).documents
    sample = KnowledgeBaseLoader().run(Path(__file__).parents[1] / "kb" / "sample").documents
    assert "ASSISTANT_SCOPE" in scope_warning(Settings(), alt)
    assert scope_warning(Settings(), sample) is None
    assert scope_warning(Settings(scope="your parcel lockers"), alt) is None
