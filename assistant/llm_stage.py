"""The generation stage: a grounded model answer, or the reason it could not be used.

Wraps ``LLMAnswerer`` for the pipeline: builds the sources the surface may see,
asks the model, and checks the answer. Transport failures raise ``LLMUnavailable``;
an answer that fails the grounding check raises ``UngroundedAnswer``; a reply that
cites no source (the hand-over line the prompt asks for when the sources do not
answer the request) raises ``SourcesDoNotAnswer``. The pipeline decides what each
means per surface (extractive answer or escalation).

>>> stage = LLMStage(settings)                                         # doctest: +SKIP
>>> text, used = stage.run(redacted_text, hits, "email", staff_only=[])  # doctest: +SKIP
"""

from __future__ import annotations

from assistant.errors import AssistantError
from assistant.grounding import HANDOVER_RE
from assistant.llm import LLMAnswerer
from assistant.prompts import SourceText
from retrieval.retriever import DocHit


class UngroundedAnswer(AssistantError):
    """The model answered, but the answer failed the grounding check."""

    code = "ungrounded_answer"


class SourcesDoNotAnswer(AssistantError):
    """The model read the sources and found no answer in them: it cited none.

    With a model configured this is the assistant's answerability judge: retrieval
    finds the closest runbook, and the model says whether it answers the question.
    """

    code = "not_covered"


class LLMStage:
    """Model-written answers from retrieved sources, checked before use."""

    def __init__(self, settings, embedder=None, answerer: LLMAnswerer | None = None):
        if answerer is None:
            from retrieval.embedder import Embedder

            answerer = LLMAnswerer(settings, embedder or Embedder.default())
        self.answerer = answerer

    @property
    def breaker_state(self) -> str:
        return self.answerer.client.breaker.state

    def run(self, text: str, hits: list[DocHit], surface: str, *, staff_only: list[str] = (),
            forbidden: list[str] = ()) -> tuple[str, list[DocHit]]:
        sources = [SourceText(h.doc_id, h.title, "\n\n".join(c.text for c in h.chunks), audience=h.audience)
                   for h in hits]
        answer, report = self.answerer.run(text, sources, surface, forbidden=[*staff_only, *forbidden])
        by_id = {h.doc_id: h for h in hits}
        used = [by_id[i] for i in report.cited_ids if i in by_id]
        # A reply citing no source answers nothing, in whatever words it says so ("The sources do
        # not answer this", "I don't know"): judged before the grounding check, which would call
        # those words ungrounded (and an email would then get the extractive answer the model had
        # just judged no answer). Quoted in the rationale only when it passed the check.
        if not used:
            quoted = (": " + " ".join(answer.split())[:120] if report.ok else
                      " (its reply failed the grounding check and is not quoted)")
            raise SourcesDoNotAnswer("the model found no answer in the sources" + quoted, stage="llm")
        if not report.ok:
            raise UngroundedAnswer("model answer failed the grounding check: " + "; ".join(report.problems[:5]),
                                   stage="llm")
        if HANDOVER_RE.search(answer):  # part answered, the rest passed on: a person must follow up
            raise SourcesDoNotAnswer("the model answered in part and handed the request over", stage="llm")
        return answer, used
