"""Extractive answers from runbooks written another way: wrapped at 80 columns, FAQs cut between
a question and its answer (found on a fourth KB, a clinic-booking product, by a blind probe)."""

from __future__ import annotations

from assistant.answer import ExtractiveAnswerer, _after_overlap, _clean, _unwrap
from guardrails.output import OutputGuard
from retrieval.retriever import ChunkHit, DocHit

WRAPPED = ("Instead of the list of times, patients get an\nempty box.\n\n"
           "1. Open your booking page directly.\nIf times show up there, the widget embed is at fault.\n"
           "2. Confirm online booking is on: **Settings > Online booking > Accept\nonline bookings** must be ON.")


def test_a_wrapped_paragraph_is_quoted_as_prose_and_lists_keep_their_items():
    assert _clean(WRAPPED) == (
        "Instead of the list of times, patients get an empty box.\n\n"
        "1. Open your booking page directly. If times show up there, the widget embed is at fault.\n"
        "2. Confirm online booking is on: Settings > Online booking > Accept online bookings must be ON.")


def test_breaks_stay_after_questions_headings_table_rows_hard_breaks_and_in_fences():
    text = ("**How do I cancel?**\nOpen the appointment.  \nThe slot is freed.\n## Steps\nClick Save.\n"
            "| a | b |\n| c | d |\n```\nrun one\nrun two\n```")
    assert _unwrap(text) == text


def test_labelled_lines_steps_and_what_follows_a_fence_keep_their_lines():
    # Found by a review: these were joined into one line, and "```\nf(**kwargs)\n```\nthen **Save**"
    # lost its asterisks across the fence.
    text = ("Step 1: open Settings.\nStep 2: click Save.\na) one\nb) two\nPhone: 555-0100\nHours: 9-5\n"
            "```\nf(**kwargs)\n```\nThen wait for the banner.\n\n    code a\n    code b")
    assert _unwrap(text) == text
    assert "f(**kwargs)" in _clean("```\nf(**kwargs)\n```\nthen **Save**")


def test_fences_are_read_as_the_output_guard_reads_them():
    # One reading of fences for the answerer and the output guard (guardrails.output.after_fence):
    # a tilde line inside a backtick fence is code and closes nothing, and inline code at a line
    # start is prose, not a fence that leaves the rest of the runbook unwrapped.
    code = "```\nrun one\n~~~\nrun two\nrun three\n```"
    assert _unwrap(code) == code
    assert _unwrap("Click\n```Save``` then wait for\nthe green tick.") == "Click ```Save``` then wait for the green tick."
    assert _unwrap("```python\nx = 1\n```\nThen wait for\nthe banner.") == "```python\nx = 1\n```\nThen wait for the banner."


def test_a_lettered_item_step_or_label_after_a_line_that_runs_on_continues_it():
    # Found by a review: "ask your\nIT team: they manage ..." kept its break, so the guard could
    # leave out half a sentence.
    assert _unwrap("If calls drop, ask your\nIT team: they manage it.") == "If calls drop, ask your IT team: they manage it."
    assert _unwrap("go back to\na) the dashboard") == "go back to a) the dashboard"
    assert _clean("Turn on **Accept online\nBookings: Yes** and save.") == "Turn on Accept online Bookings: Yes and save."


def test_the_neighbouring_chunks_overlap_is_said_once():
    assert _after_overlap("... the deposit is kept or refunded automatically.",
                          "kept or refunded automatically.\nHow do I cancel?") == "\nHow do I cancel?"
    assert _after_overlap("short end", "short end and more") == "short end and more"  # under 20 characters


class _Retriever:
    def __init__(self, chunks):
        self.chunks = chunks

    def doc_chunks(self, doc_id):
        return self.chunks


def test_a_section_ending_on_a_question_brings_its_answer():
    first = ChunkHit("c0", "FAQ", "**Can I charge a fee?**\nOnly with a deposit.\n\n**How do I cancel for a patient?**",
                     0.8, 0)
    second = ChunkHit("c1", "FAQ", "**How do I cancel for a patient?**\nOpen the appointment and click Cancel.", 0.3, 1)
    doc = DocHit("rb-faq", "FAQ: cancellations", "runbook", "customer", "booking", 0.6, 0.1, [first])
    answer = ExtractiveAnswerer(_Retriever([first, second])).run([doc], surface="chat")
    assert "Open the appointment and click Cancel." in answer.text
    assert answer.text.count("How do I cancel for a patient?") == 1, answer.text


def test_a_section_ending_on_a_question_never_brings_another_section():
    # Found by a review: steps ending "Do you see times now?" brought "When to escalate" (staff
    # steps) into a chat reply.
    steps = ChunkHit("c0", "Steps", "1. Reload your site.\n2. Do you see times now?", 0.8, 0)
    staff = ChunkHit("c1", "When to escalate", "Tier 2 only: force a resync from the admin console.", 0.2, 1)
    doc = DocHit("rb-widget", "Widget not loading", "runbook", "customer", "booking", 0.6, 0.1, [steps])
    answer = ExtractiveAnswerer(_Retriever([steps, staff])).run([doc], surface="chat")
    assert "Tier 2" not in answer.text and "Do you see times now?" in answer.text


def test_a_wrapped_sentence_holding_a_staff_only_host_is_left_out_whole():
    # Before: the guard left "1. Open the clinic in the admin console:" and "enter the" behind.
    runbook = ("1. Open the clinic in the admin console:\nadmin.clinicly-internal.net/clinics and choose Sender.\n"
               "2. The switch takes about\n10 minutes.")
    chunk = ChunkHit("c0", "Steps", runbook, 0.9, 0)
    doc = DocHit("rb-int", "Staff only: sender switch", "runbook", "internal", "accounts", 0.7, 0.1, [chunk])
    draft = ExtractiveAnswerer(_Retriever([chunk])).run([doc], surface="email")
    check = OutputGuard().run(draft.text, request_findings=[], sources=draft.quoted,
                              staff_only=["admin.clinicly-internal.net"])
    # the list lost its first step, so the step left is numbered 1
    assert "admin console" not in check.text and "\n1. The switch takes about 10 minutes." in check.text, check.text


# -- found by a review, session 21 -------------------------------------------------------------
def test_a_steps_section_cut_for_length_is_quoted_whole():
    # Before: the first chunk of the steps only; "8. Test by calling PAM" was never quoted.
    symptoms = ChunkHit("c0", "Symptoms", "Callers hear the regular hours on a holiday.", 0.9, 0)
    first = ChunkHit("c1", "Steps", "1. Open Dashboard > Settings > Business Hours.\n2. Add the holiday.", 0.3, 1, 1)
    second = ChunkHit("c2", "Steps", "3. Save.\n4. Test by calling PAM.", 0.2, 2, 1)
    staff = ChunkHit("c3", "When to escalate", "Tier 2 only: force a resync.", 0.1, 3)
    doc = DocHit("rb-hours", "Holiday hours", "runbook", "customer", "pam_core", 0.6, 0.1, [symptoms])
    answer = ExtractiveAnswerer(_Retriever([symptoms, first, second, staff])).run([doc], surface="chat")
    assert "1. Open Dashboard" in answer.text and "4. Test by calling PAM." in answer.text
    assert "Tier 2" not in answer.text


def test_a_steps_section_is_quoted_from_its_start_at_most_three_chunks():
    from assistant.answer import MAX_SECTION_CHUNKS

    steps = [ChunkHit(f"c{i}", "Steps", f"{i + 1}. Step number {i + 1}.", 0.9 if i == 1 else 0.1, i, 0)
             for i in range(5)]
    doc = DocHit("rb-long", "Long steps", "runbook", "customer", "pam_core", 0.6, 0.1, [steps[1]])
    answer = ExtractiveAnswerer(_Retriever(steps)).run([doc], surface="chat")
    quoted = [i + 1 for i in range(5) if f"Step number {i + 1}." in answer.text]
    assert quoted == list(range(1, MAX_SECTION_CHUNKS + 1))


def test_customer_headings_that_contain_a_staff_word_are_quoted():
    # Before: "tier" and "diagnos" matched inside words, so these customer sections were dropped
    # and nothing was quoted (the request escalated as if the output guard had emptied the reply).
    for section in ("Pricing tiers", "Diagnosing one-way audio"):
        chunk = ChunkHit("c0", section, "Open Dashboard > Calls > Call Log and play the recording.", 0.9, 0)
        doc = DocHit("rb-x", "X", "runbook", "customer", "pam_core", 0.6, 0.1, [chunk])
        assert "play the recording" in ExtractiveAnswerer(_Retriever([chunk])).run([doc], surface="chat").text
    for section in ("When to escalate", "Internal notes", "Tier 2 diagnostics", "For OPS", "Tier-2 checks",
                    "Diagnostic checklist (OPS)", "Diagnosis", "Staff notes"):
        chunk = ChunkHit("c0", section, "Force a resync from the admin console.", 0.9, 0)
        doc = DocHit("rb-x", "X", "runbook", "customer", "pam_core", 0.6, 0.1, [chunk])
        assert "admin console" not in ExtractiveAnswerer(_Retriever([chunk])).run([doc], surface="chat").text


def test_two_steps_sections_under_two_headings_are_two_sections():
    # Found by a review: "### Steps" under "## Reset the greeting yourself" and "### Steps" under
    # "## For OPS only" were one section by name, and the staff steps reached a chat reply.
    from ingestion.chunker import Chunker
    from ingestion.loader import KBDocument

    body = ("## Reset the greeting yourself\n### Steps\n" + "".join(f"{i}. Customer step {i} of the reset.\n\n"
                                                                       for i in range(1, 60))
            + "## For OPS only\n### Steps\n1. Log in to admin.pam-internal.net with the OPS account.\n")
    doc = KBDocument(id="rb-greet", kind="runbook", title="Greeting", category="pam_core", audience="customer",
                     body=body, path="rb-greet.md", line=1)
    chunks = Chunker().run(doc, "h")
    hits = [ChunkHit(c.id, c.metadata["section"], c.text, 0.1, c.metadata["position"], c.metadata["section_no"])
            for c in chunks]
    assert len({h.section_no for h in hits}) == 2 and len(hits) >= 3
    last_customer = max(h.position for h in hits if "Customer step" in h.text)
    best = next(h for h in hits if h.position == last_customer)
    doc_hit = DocHit("rb-greet", "Greeting", "runbook", "customer", "pam_core", 0.6, 0.1, [best])
    answer = ExtractiveAnswerer(_Retriever(hits)).run([doc_hit], surface="chat")
    assert "admin.pam-internal.net" not in answer.text and "Customer step" in answer.text
