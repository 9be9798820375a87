"""Extractive answers: the exact text of the best sources the surface may see.

Nothing is invented: the reply quotes the steps, numbers, menu paths and time
frames of the cited runbook sections, framed by a short greeting and closing.

>>> ExtractiveAnswerer(retriever).run(hits, surface="chat").text   # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from retrieval.retriever import ChunkHit, DocHit

# Sections written for staff, not for the person asking.
_STAFF_SECTION = re.compile(r"escalat|internal|diagnos|for ops|tier", re.I)
_STEP_SECTION = re.compile(r"step|fix|how|resolution|what to do|solution|set ?up|check", re.I)


_HELLO, _THANKS = "Hi,", "Thanks for reaching out."
_CLOSING = "If this does not solve it, just reply and we will take it from there."


@dataclass
class ExtractiveAnswer:
    text: str
    used: list[DocHit]
    quoted: list[str]  # the source passages the answer quotes, for the output guard
    frame: tuple[str, ...] = ()  # the sentences around the quote, which answer nothing themselves

    def only_frame(self, text: str) -> bool:
        """Whether ``text`` (this answer after the output guard) has nothing left but its frame."""
        for sentence in self.frame:
            text = text.replace(sentence, " ")
        return not text.strip()


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
        """The best matching section of a document, plus its steps if that is another section."""
        chunks = [c for c in doc.chunks if not _STAFF_SECTION.search(c.section or "")]
        best = max(chunks, key=lambda c: c.dense) if chunks else None
        chosen = [best] if best else []
        if best is None or not _STEP_SECTION.search(best.section or ""):
            for c in self.retriever.doc_chunks(doc.doc_id):
                if _STEP_SECTION.search(c.section or "") and not _STAFF_SECTION.search(c.section or ""):
                    if all(c.chunk_id != x.chunk_id for x in chosen):
                        chosen.append(c)
                    break
        return sorted(chosen[: self.max_sections], key=lambda c: c.position)

    def run(self, hits: list[DocHit], *, surface: str) -> ExtractiveAnswer:
        # Past tickets are cited for the OPS agent to read, never quoted in the reply: they
        # hold other dealerships' details and describe one case, not the documented fix.
        runbooks = [h for h in hits if h.kind == "runbook"]
        parts, quoted, used, frame = [], [], [], [_HELLO, _THANKS, _CLOSING]
        if runbooks:
            top = runbooks[0]
            sections = self._sections(top)
            body = "\n\n".join(_clean(c.text) for c in sections)
            quoted += [c.text for c in sections]
            frame.append(f'Here is what our guide "{top.title}" says:')
            parts.append(f"{frame[-1]}\n\n{body}")
            used.append(top)
        if not parts:
            return ExtractiveAnswer("", [], [])
        text = f"{_HELLO}\n\n{_THANKS} " + "\n\n".join(parts)
        text += f"\n\n{_CLOSING}"
        return ExtractiveAnswer(text, used, quoted, tuple(frame))
