"""Extractive answers: the exact text of the best sources the surface may see.

Nothing is invented: the reply quotes the steps, numbers, menu paths and time
frames of the cited runbook sections, framed by a short greeting and closing.

On email the reply is a draft for the OPS agent. When a staff-only runbook also
covers the request (it was retrieved and its best section is at least as similar
as the email coverage bar), its steps follow the reply in a block marked for the
agent only: the next checks staff make when the customer's own steps were not
enough ("we already set the pause to 1500 ms and it still cuts people off").

>>> ExtractiveAnswerer(retriever).run(hits, surface="chat").text   # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.retriever import ChunkHit, DocHit

# Sections written for staff, not for the person asking.
_STAFF_SECTION = re.compile(r"escalat|internal|diagnos|for ops|tier", re.I)
_STEP_SECTION = re.compile(r"step|fix|how|resolution|what to do|solution|set ?up|check", re.I)


@dataclass
class ExtractiveAnswer:
    text: str
    used: list[DocHit]
    quoted: list[str]  # the source passages the answer quotes, for the output guard


def _clean(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"`([^`]+)`", r"\1", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class ExtractiveAnswerer:
    """Builds a reply from the best retrieved documents, quoting them."""

    def __init__(self, retriever, max_sections: int = 2):
        self.retriever = retriever
        self.max_sections = max_sections

    def _sections(self, doc: DocHit) -> list[ChunkHit]:
        """The best matching section of a document, plus its steps if that is another section.

        A customer article's sections written for staff are skipped; in a staff-only
        runbook every section is for staff.
        """
        staff_doc = doc.audience == "internal"
        chunks = [c for c in doc.chunks if staff_doc or not _STAFF_SECTION.search(c.section or "")]
        best = max(chunks, key=lambda c: c.dense) if chunks else None
        chosen = [best] if best else []
        if best is None or not _STEP_SECTION.search(best.section or ""):
            for c in self.retriever.doc_chunks(doc.doc_id):
                if _STEP_SECTION.search(c.section or "") and (staff_doc or not _STAFF_SECTION.search(c.section or "")):
                    if all(c.chunk_id != x.chunk_id for x in chosen):
                        chosen.append(c)
                    break
        return sorted(chosen[: self.max_sections], key=lambda c: c.position)

    def run(self, hits: list[DocHit], *, surface: str, staff_bar: float | None = None) -> ExtractiveAnswer:
        """The reply from the top runbook; on email, with ``staff_bar`` set, plus the agent-only block."""
        # Past tickets are cited for the OPS agent to read, never quoted in the reply: they
        # hold other dealerships' details and describe one case, not the documented fix.
        runbooks = [h for h in hits if h.kind == "runbook"]
        if not runbooks:
            return ExtractiveAnswer("", [], [])
        top = runbooks[0]
        sections = self._sections(top)
        quoted = [c.text for c in sections]
        text = (f'Hi,\n\nThanks for reaching out. Here is what our guide "{top.title}" says:\n\n'
                + "\n\n".join(_clean(c.text) for c in sections)
                + "\n\nIf this does not solve it, just reply and we will take it from there.")
        used = [top]
        staff = None
        if surface == "email" and staff_bar is not None and top.audience != "internal":
            staff = next((h for h in runbooks[1:] if h.audience == "internal" and h.score >= staff_bar), None)
        if staff is not None:
            extra = self._sections(staff)
            quoted += [c.text for c in extra]
            text += (f'\n\n---\nFor the PAM agent only, from the staff-only runbook "{staff.title}" '
                     "(remove before sending):\n\n" + "\n\n".join(_clean(c.text) for c in extra))
            used.append(staff)
        return ExtractiveAnswer(text, used, quoted)
