"""The generation stage: a grounded model answer, or the reason it could not be used.

Wraps ``LLMAnswerer`` for the pipeline: builds the sources the surface may see,
asks the model, and checks the answer. Transport failures raise ``LLMUnavailable``;
an answer that fails the grounding check raises ``UngroundedAnswer``. The
pipeline decides what each means per surface (extractive answer or escalation).

>>> stage = LLMStage(settings)                                         # doctest: +SKIP
>>> text, used = stage.run(redacted_text, hits, "email", staff_only=[])  # doctest: +SKIP
"""

from __future__ import annotations

from assistant.errors import AssistantError
from assistant.llm import LLMAnswerer
from assistant.prompts import SourceText
from retrieval.retriever import DocHit


class UngroundedAnswer(AssistantError):
    """The model answered, but the answer failed the grounding check."""

    code = "ungrounded_answer"


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
        if not report.ok:
            raise UngroundedAnswer("model answer failed the grounding check: " + "; ".join(report.problems[:5]),
                                   stage="llm")
        by_id = {h.doc_id: h for h in hits}
        used = [by_id[i] for i in report.cited_ids if i in by_id] or hits[:1]
        return answer, used
