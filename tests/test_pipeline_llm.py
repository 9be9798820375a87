"""The LLM path through the whole pipeline, against the local OpenAI-compatible server.

One defined outcome per fault and surface: a grounded model answer is used; a
model failure gives the extractive answer on email and an `llm_unavailable`
escalation on chat; an ungrounded answer falls back on email and escalates on chat.
"""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.llm_stage import LLMStage
from assistant.models import SupportRequest
from assistant.pipeline import Pipeline
from tests.fake_llm import fake_llm  # noqa: F401
from tests.fake_llm import escaped, stall, status

XTIME = ("We accepted the Xtime invite yesterday afternoon and appointments still are not showing up. "
         "How long does it take?")


def pipeline_for(index, url, **extra) -> Pipeline:
    settings = Settings(index=index, openai_base_url=url, openai_api_key="test", llm_read_timeout_s=1.0,
                        llm_connect_timeout_s=0.5, llm_budget_s=2.0, llm_max_attempts=2, **extra)
    return Pipeline.load(settings, llm=LLMStage(settings))


def grounded_reply(pipeline: Pipeline, text: str, surface: str) -> str:
    """A reply that quotes the top runbook's own sentences, citing it: passes the grounding check."""
    hits = pipeline.retriever.run(text, surface=surface).hits
    top = hits[0]
    sentences = [s.strip() for c in top.chunks for s in c.text.replace("\n", " ").split(". ") if "24 hours" in s]
    body = sentences[0] if sentences else top.chunks[0].text.split(". ")[0]
    return f"{body.rstrip('.')}. [{top.doc_id}]"


@pytest.mark.slow
def test_grounded_model_answer_is_used_and_request_is_sent_as_quoted_data(sample_index, fake_llm):
    p = pipeline_for(sample_index, fake_llm.url)
    fake_llm.script([grounded_reply(p, XTIME, "chat")])
    r = p.run(SupportRequest(channel="chat", body=XTIME))
    assert r.route == "answer", r.rationale
    assert "written by the model" in r.rationale
    assert "24 hours" in r.answer and "[rb-" not in r.answer
    sent = fake_llm.requests[-1]["messages"]
    assert any(XTIME[:40] in m["content"] for m in sent if m["role"] == "user")
    assert all("audience: internal" not in m["content"] for m in sent)


@pytest.mark.slow
def test_model_failure_gives_extractive_on_email_and_llm_unavailable_on_chat(sample_index, fake_llm):
    p = pipeline_for(sample_index, fake_llm.url, llm_breaker_failures=100)
    fake_llm.script([status(500)] * 10, then=status(500))
    email = p.run(SupportRequest(channel="email", body=XTIME))
    assert email.route == "answer" and "model unavailable" in email.rationale
    assert "24 hours" in email.answer  # the extractive answer stands
    chat = p.run(SupportRequest(channel="chat", body=XTIME))
    assert chat.route == "escalate" and chat.reasons == ["llm_unavailable"]


@pytest.mark.slow
def test_ungrounded_answer_falls_back_on_email_and_escalates_on_chat(sample_index, fake_llm):
    p = pipeline_for(sample_index, fake_llm.url)
    invented = "Xtime always syncs within 90 minutes after a restart of the router. [rb-xtime-invite-delay]"
    fake_llm.script([invented, invented])
    email = p.run(SupportRequest(channel="email", body=XTIME))
    assert email.route == "answer" and "90 minutes" not in email.answer
    assert "grounding" in email.rationale
    chat = p.run(SupportRequest(channel="chat", body=XTIME))
    assert chat.route == "escalate" and "low_confidence" in chat.reasons
    assert "90 minutes" not in chat.answer


@pytest.mark.slow
def test_open_breaker_skips_the_model_without_calling_it(sample_index, fake_llm):
    p = pipeline_for(sample_index, fake_llm.url, llm_breaker_failures=1, llm_breaker_cooldown_s=300)
    fake_llm.script([status(500)], then=status(500))
    p.run(SupportRequest(channel="email", body=XTIME))
    calls = len(fake_llm.requests)
    r = p.run(SupportRequest(channel="email", body=XTIME))
    assert len(fake_llm.requests) == calls, "the open breaker must not call the model"
    assert r.route == "answer" and "breaker" in r.rationale


@pytest.mark.slow
def test_model_that_finds_no_answer_in_the_sources_hands_over_on_both_surfaces(sample_index, fake_llm):
    # The prompt's hand-over line: grounded (small talk only) but citing nothing. It is the
    # model's judgement that the retrieved runbook, however close, does not answer.
    p = pipeline_for(sample_index, fake_llm.url)
    hand_over = "Thank you. I am passing your request to a PAM support specialist."
    fake_llm.script([hand_over, hand_over])
    for surface in ("email", "chat"):
        r = p.run(SupportRequest(channel=surface, body=XTIME))
        assert r.route == "escalate" and r.reasons == ["not_covered"], (surface, r.rationale)
        assert "found no answer in the sources" in r.rationale
        assert r.handoff is not None and "24 hours" not in r.answer
    assert len(fake_llm.requests) == 2


@pytest.mark.slow
@pytest.mark.parametrize("reply", ["The provided sources do not answer this question.", "I don't know.",
                                   "NO_ANSWER"])
def test_a_reply_saying_in_its_own_words_that_the_sources_do_not_answer_hands_over(sample_index, fake_llm, reply):
    # Found by a review: only the prompt's exact hand-over line escalated; other words failed the
    # grounding check first, and an email then got the extractive answer the model had judged none
    p = pipeline_for(sample_index, fake_llm.url)
    fake_llm.script([reply, reply])
    for surface in ("email", "chat"):
        r = p.run(SupportRequest(channel=surface, body=XTIME))
        assert r.route == "escalate" and r.reasons == ["not_covered"], (surface, r.rationale)


@pytest.mark.slow
def test_half_a_surrogate_pair_in_a_model_reply_is_dropped(sample_index, fake_llm):
    # Found by a review: "\ud800" (valid JSON, no character) reached the answer and the rationale;
    # writing the result as UTF-8 then failed `assistant ask` for every line and made /v1/ask a 500
    import json

    p = pipeline_for(sample_index, fake_llm.url)
    reply = grounded_reply(p, XTIME, "chat")
    fake_llm.script([escaped(reply.replace(" ", " \ud800", 1))])
    r = p.run(SupportRequest(channel="chat", body=XTIME))
    assert r.route == "answer", r.rationale
    json.dumps(r.public(), ensure_ascii=False).encode("utf-8")  # raised UnicodeEncodeError


@pytest.mark.slow
def test_model_reply_citing_nothing_is_not_sent_as_an_answer(sample_index, fake_llm):
    # Before: the pleasantry went out as the answer, with the top runbook cited for it.
    p = pipeline_for(sample_index, fake_llm.url)
    fake_llm.script(["Thanks for reaching out! Happy to help."])
    r = p.run(SupportRequest(channel="chat", body=XTIME))
    assert r.route == "escalate" and r.reasons == ["not_covered"]
    assert "Happy to help" not in r.answer
    assert all(c.audience == "customer" and c.kind == "runbook" for c in r.citations)


@pytest.mark.slow
def test_a_reply_the_output_guard_empties_is_not_sent(sample_index, fake_llm):
    # Grounded by the check (it restates the runbook) but its menu step is made up: the output
    # guard drops the only sentence. Before, an empty answer left with route "answer".
    p = pipeline_for(sample_index, fake_llm.url)
    invented = ("Open Dashboard > Integrations > Xtime > Force Resync to restart the Xtime sync after you "
                "accept the invite. [rb-xtime-invite-delay]")
    fake_llm.script([invented, invented])
    chat = p.run(SupportRequest(channel="chat", body=XTIME))
    assert chat.route == "escalate" and "low_confidence" in chat.reasons, chat.rationale
    assert "Force Resync" not in chat.answer
    email = p.run(SupportRequest(channel="email", body=XTIME))
    assert email.route == "answer" and "extractive answer" in email.rationale
    assert "24 hours" in email.answer and "Force Resync" not in email.answer


@pytest.mark.slow
def test_a_chat_result_never_quotes_a_staff_only_string_even_in_its_rationale(sample_index, fake_llm):
    p = pipeline_for(sample_index, fake_llm.url)
    leaky = "If it still fails after 24 hours, the OVR 7731 XT override fixes it. [rb-xtime-invite-delay]"
    fake_llm.script([leaky, leaky])
    r = p.run(SupportRequest(channel="chat", body=XTIME))
    assert r.route == "escalate", r.rationale
    dumped = r.model_dump_json()
    for spelling in ("OVR-7731-XT", "OVR 7731 XT"):
        assert spelling not in dumped
    # The note says what was found, without the string, nor a quote of its sentence
    assert "forbidden_text: answer contains a staff-only string" in r.rationale
    assert "not repeated" in r.rationale and "override fixes it" not in r.rationale


@pytest.mark.slow
def test_an_email_suggestion_quoting_a_staff_only_runbook_leaves_its_codes_and_hosts_out(sample_index):
    # OPS read the staff-only runbook in the citations; the reply they would send keeps its steps
    # but not the override code, the internal host or the error names the runbook says never to share.
    p = Pipeline.load(Settings(index=sample_index))
    r = p.run(SupportRequest(channel="email", subject="Xtime appointments failing since Monday",
                             body="Xtime was connected for months. Since Monday PAM can't book and the dashboard "
                                  "shows a token expired error on the Xtime page."))
    assert r.route == "answer", r.rationale
    assert any(c.audience == "internal" for c in r.citations)
    for secret in p._staff_only:
        assert secret.lower() not in r.answer.lower()
    assert "output guard removed: staff_only:" in r.rationale


GROUNDED = ("It takes up to 24 hours after you accept the invite for Xtime to switch on PAM's access. "
            "[rb-xtime-invite-delay]")


@pytest.mark.slow
def test_a_reply_that_answers_in_part_and_hands_over_goes_to_a_person(sample_index, fake_llm):
    # Found by a review: one cited sentence carried the hand-over through as an answer, so the
    # dealer was told a specialist would follow up and nothing was queued.
    p = pipeline_for(sample_index, fake_llm.url)
    fake_llm.script([GROUNDED + " I am passing your request to a PAM support specialist, who will follow up with you."])
    r = p.run(SupportRequest(channel="chat", body=XTIME))
    assert r.route == "escalate" and r.reasons == ["not_covered"] and r.handoff is not None, r.rationale


@pytest.mark.slow
def test_the_requests_personal_data_in_a_rejected_reply_is_not_written_to_the_rationale(sample_index, fake_llm):
    # Found by a review: "forbidden_text: answer contains staff-only text '602-555-0187'" went
    # into the rationale and the decision log.
    p = pipeline_for(sample_index, fake_llm.url)
    reply = GROUNDED + " We will call you at 602-555-0187 once Xtime is connected. [rb-xtime-invite-delay]"
    fake_llm.script([reply, reply])
    r = p.run(SupportRequest(channel="email", body=XTIME + " You can reach me at 602-555-0187."))
    assert "602-555-0187" not in r.rationale and "602-555-0187" not in r.answer


@pytest.mark.slow
def test_an_address_the_output_guard_writes_back_plainly_is_not_in_the_rationale(sample_index, fake_llm):
    # Found by a review: "dana.smith@gmail。com" in a reply was no echo of the request's address,
    # and the link check reported it written plainly ("unsupported_link:dana.smith@gmail.com") in
    # the rationale and the decision log.
    p = pipeline_for(sample_index, fake_llm.url)
    reply = grounded_reply(p, XTIME, "chat") + " We will write to dana.smith@gmail\u3002com. [rb-xtime-invite-delay]"
    fake_llm.script([reply, reply])
    r = p.run(SupportRequest(channel="chat", body=XTIME + "\nthanks, Dana dana.smith@gmail.com"))
    dumped = r.model_dump_json()
    assert "dana.smith" not in dumped and "dana\u00b7smith" not in dumped, r.rationale


@pytest.mark.slow
def test_a_courtesy_sentence_promising_a_time_frame_is_left_out_of_a_chat_reply(sample_index, fake_llm):
    # "I understand" opens like small talk, so grounding needs no citation for it; its tail
    # promised a time no source gives, and reached chat (found by a review).
    p = pipeline_for(sample_index, fake_llm.url)
    reply = grounded_reply(p, XTIME, "chat") + " I understand, our team will have your appointments syncing today."
    fake_llm.script([reply])
    chat = p.run(SupportRequest(channel="chat", body=XTIME))
    assert chat.route == "answer", chat.rationale
    assert "24 hours" in chat.answer and "today" not in chat.answer
    assert "output guard removed: unsupported_number:today" in chat.rationale


@pytest.mark.slow
def test_a_menu_path_only_an_uncited_source_shows_is_left_out_of_a_model_reply(sample_index, fake_llm):
    # Found by a review: the extractive draft's passages (its top runbook, voicemail) backed the
    # model's reply too, so a voicemail path stood in an answer citing only the greeting runbook.
    p = pipeline_for(sample_index, fake_llm.url)
    reply = "To change the greeting, go to Dashboard > Calls > Messages and click Save. [rb-greeting-customization]"
    fake_llm.script([reply, reply])
    r = p.run(SupportRequest(channel="chat", body="where do I find voicemail messages and change the greeting "
                                                   "callers hear?"))
    assert "Calls > Messages" not in r.answer
    assert "Calls > Messages" in " ".join(c.text for c in p.retriever.doc_chunks("rb-voicemail-setup"))


@pytest.mark.slow
def test_the_parts_of_one_email_share_one_model_time_budget(sample_index, fake_llm):
    # Found by a review: each part's model call had the whole budget to itself (five parts, a model
    # answering in 9 s of a 20 s budget: 50 s for one request)
    import time

    p = pipeline_for(sample_index, fake_llm.url, llm_breaker_failures=100)
    body = ("Hi,\n\n1. We accepted the Xtime invite yesterday but appointments are not showing up. How long "
            "does it take?\n2. How do I add a new user to the dashboard?\n3. How do I set our holiday hours "
            "for Thanksgiving?\n\nThanks")
    assert len(p.splitter.run("three things", body)) == 3

    def timed() -> tuple[float, object]:
        started = time.monotonic()
        result = p.run(SupportRequest(channel="email", subject="three things", body=body))
        return time.monotonic() - started, result

    # The same request with a model that answers at once, side by side: what the pipeline takes
    # besides the model, which a loaded machine stretches (a fixed bound on the whole run failed
    # at a load of 5 on 2 cores).
    fake_llm.script([])
    plain, r = timed()
    assert len(r.parts) == 3 and len(fake_llm.requests) == 3
    fake_llm.reset()
    fake_llm.script([], then=stall(0.9))
    took, r = timed()
    assert len(r.parts) == 3
    # budget 2.0 s: the first two calls spend it, the third is not made (before: 3 x 0.9 s and more)
    assert 1 <= len(fake_llm.requests) <= 2, len(fake_llm.requests)  # not answered from a cache either
    assert took - plain < 2.0 + 0.5, (took, plain)


HOLIDAY = "How do I add a holiday closure for Thanksgiving?"


@pytest.mark.slow
@pytest.mark.parametrize("bracket, problem", [
    ("[full guide: https://pam-holidays.evil.example/login]", "unsupported_link:https://pam-holidays.evil.example/login"),
    ("[free of charge, live by tomorrow]", "unsupported_promise:free of charge"),
])
def test_a_bracket_in_a_model_reply_that_cites_nothing_is_checked_before_chat(sample_index, fake_llm, bracket, problem):
    # Found by a review: the output guard took every "[...]" out unread, so a link or a promise the
    # model put in brackets reached chat beside a real citation.
    p = pipeline_for(sample_index, fake_llm.url)
    reply = (f"To add a closure or special hours, open Dashboard > Settings > Business Hours > Holidays and click "
             f"Add Holiday {bracket}. [rb-business-hours-holidays]")
    fake_llm.script([reply, reply])
    r = p.run(SupportRequest(channel="chat", body=HOLIDAY))
    assert bracket not in r.answer and "evil" not in r.answer
    assert problem in r.rationale
