"""Extractive answers: what the reply quotes, and the OPS agent's staff-only block on email."""

from __future__ import annotations

import pytest

from assistant.answer import ExtractiveAnswerer
from assistant.config import Settings
from assistant.models import SupportRequest
from assistant.pipeline import Pipeline
from retrieval.retriever import ChunkHit, DocHit

CUSTOMER = DocHit("rb-pause", "PAM interrupts callers", "runbook", "customer", "llm_behavior", 0.66, 0.03, [
    ChunkHit("rb-pause#1", "Steps", "1. Open Voice > Pause tolerance and set it to 1500 ms.", 0.66, 1)])
STAFF = DocHit("rb-internal-voice", "OPS: voice tuning flags", "runbook", "internal", "llm_behavior", 0.59, 0.02, [
    ChunkHit("rb-internal-voice#1", "Steps", "1. Set the flag endpoint_max_ms to 2500 on the store.", 0.59, 1)])


class NoChunks:
    def doc_chunks(self, doc_id):
        return []


@pytest.fixture
def answerer():
    return ExtractiveAnswerer(NoChunks())


def test_email_draft_adds_a_covering_staff_runbook_for_the_agent_only(answerer):
    draft = answerer.run([CUSTOMER, STAFF], surface="email", staff_bar=0.45)
    reply, _, notes = draft.text.partition("\n---\n")
    assert "Pause tolerance" in reply and "endpoint_max_ms" not in reply
    assert notes.startswith("For the PAM agent only") and "remove before sending" in notes
    assert "endpoint_max_ms to 2500" in notes
    assert [d.doc_id for d in draft.used] == ["rb-pause", "rb-internal-voice"]
    assert any("endpoint_max_ms" in q for q in draft.quoted)  # the output guard sees what is quoted


@pytest.mark.parametrize("surface, bar", [("chat", 0.45), ("email", 0.60), ("email", None)])
def test_no_staff_block_on_chat_below_the_bar_or_without_one(answerer, surface, bar):
    draft = answerer.run([CUSTOMER, STAFF], surface=surface, staff_bar=bar)
    assert "---" not in draft.text and "endpoint_max_ms" not in draft.text
    assert [d.doc_id for d in draft.used] == ["rb-pause"]


def test_staff_runbook_on_top_is_the_reply_itself_with_no_second_block(answerer):
    draft = answerer.run([STAFF, CUSTOMER], surface="email", staff_bar=0.45)
    assert draft.text.count("endpoint_max_ms") == 1 and "For the PAM agent only" not in draft.text


def test_no_runbook_no_answer(answerer):
    ticket = DocHit("T-1", "old ticket", "ticket", "internal", "llm_behavior", 0.9, 0.05, [])
    assert answerer.run([ticket], surface="email", staff_bar=0.45).text == ""


@pytest.mark.slow
def test_follow_up_email_gets_the_staff_runbooks_next_steps_and_chat_never_does(sample_index, embedder):
    pipeline = Pipeline.load(Settings(index=sample_index), embedder=embedder)
    body = ("Hi,\nWe followed your article and set end-of-speech wait to the maximum and interruption "
            "sensitivity to Low. The service drive is loud and PAM still cuts callers off mid-sentence. "
            "What else can be done?\n\nDana")
    email = pipeline.run(SupportRequest(channel="email", subject="Still cutting callers off", body=body))
    assert email.route == "answer", email.rationale
    assert "For the PAM agent only" in email.answer
    assert any(c.audience == "internal" for c in email.citations)
    chat = pipeline.run(SupportRequest(channel="chat", body=body))
    assert "For the PAM agent only" not in chat.answer
    assert all(c.audience == "customer" for c in chat.citations)
