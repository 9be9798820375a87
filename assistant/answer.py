"""Extractive answers: the exact text of the best sources the surface may see.

Nothing is invented: the reply quotes the steps, numbers, menu paths and time
frames of the cited runbook sections, framed by a short greeting and closing.

>>> ExtractiveAnswerer(retriever).run(hits, surface="chat").text   # doctest: +SKIP
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from guardrails.output import ENDS_A_LINE, after_fence
from retrieval.retriever import ChunkHit, DocHit

# Sections written for staff, not for the person asking: "When to escalate", "Internal notes",
# "Tier 2 diagnostics", "For OPS". Whole words: "Pricing tiers" and "Diagnosing one-way audio"
# are for customers (matched inside words, their only section was dropped and nothing was quoted).
_STAFF_SECTION = re.compile(r"\b(?:escalat\w*|internal|diagnos(?:tics?|is)|ops|staff|tier[\s-]*(?:[1-3]|i{1,3}))\b",
                            re.I)
# A steps section cut for length is quoted whole up to this many chunks (the chunker cuts at about
# 900 characters): its first chunk alone left out the last steps ("8. Test by calling PAM").
MAX_SECTION_CHUNKS = 3
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


# A line that starts a block of its own: a list item ("1.", "-"), heading, table row or quote (a
# fence line is one too: guardrails.output.after_fence reads them for both).
_BLOCK_START = re.compile(r"^\s*(?:\d{1,3}[.)]\s|[-*+•]\s|#|\||>)")
# Lines that start a block only after a line that ended one ("...hours.\nStep 2: ...", "Phone:
# 555\nHours: 9-5"): a lettered item, "Step N:" or a label in title case. After a line that runs
# on ("go back to\na) the dashboard", "ask your\nIT team: they ...") the line continues it.
_SOFT_START = re.compile(r"^\s*(?:[a-z][.)]\s|Step\s+\d{1,3}[:.)]|[A-Z][\w'/-]*(?:\s[A-Z][\w'/-]*){0,2}:\s)")
_CODE_INDENT = re.compile(r"^(?:\t| {4})")


def _unwrap(text: str) -> str:
    """A Markdown paragraph's line breaks read as spaces, as Markdown renders them: a runbook
    wrapped at 80 columns is quoted as prose ("**Settings > Online booking > Accept\nonline
    bookings**" is one path), and a sentence the output guard leaves out goes whole, not the
    line of it that held a staff-only host. A break stays before a block (list item, heading,
    table row, quote, fence), after a heading or table row, after a question (a FAQ's) and
    after a hard break (two trailing spaces or a backslash); fenced code is left as it is."""
    out: list[str] = []
    fence, prev_fence_line = "", False  # the open fence's character; whether the last line was a fence line
    for line in text.split("\n"):
        inside = fence
        fence, fence_line = after_fence(line, fence)
        prev = out[-1] if out else ""
        soft_break = bool(_SOFT_START.match(line)) and bool(ENDS_A_LINE.search(prev) or _SOFT_START.match(prev))
        if (not inside and not fence_line and prev.strip() and line.strip() and not _BLOCK_START.match(line)
                and not soft_break and not prev_fence_line
                and not prev.lstrip().startswith(("#", "|")) and not prev.endswith(("  ", "\\"))
                and not _ends_on_question(prev)
                and not (_CODE_INDENT.match(prev) and _CODE_INDENT.match(line))):  # indented code
            out[-1] = f"{prev.rstrip()} {line.lstrip()}"  # a hard break at its end is kept
        else:
            out.append(line)
        prev_fence_line = fence_line
    return "\n".join(out)


def _ends_on_question(text: str) -> bool:
    return text.rstrip().rstrip("*_").endswith("?")


MAX_OVERLAP = 400  # characters; the chunker overlaps neighbours by 120


def _after_overlap(before: str, text: str) -> str:
    """``text`` less what it repeats of the end of ``before``: the chunker overlaps neighbouring
    chunks of a section cut for length (ingestion/chunker.py), and two of them quoted in a row
    would say it twice."""
    for k in range(min(len(before), len(text), MAX_OVERLAP), 19, -1):  # 20 characters or more
        if before.endswith(text[:k]):
            return text[k:]
    return text


def _clean(text: str) -> str:
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", _unwrap(text))  # unwrapped first: a wrapped bold span is one line
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
        every: list[ChunkHit] | None = None  # the document's chunks, read once if needed
        if best is None or not _STEP_SECTION.search(best.section or ""):
            every = self.retriever.doc_chunks(doc.doc_id)
            for c in every:
                if _STEP_SECTION.search(c.section or "") and not _STAFF_SECTION.search(c.section or ""):
                    if all(c.chunk_id != x.chunk_id for x in chosen):
                        chosen.append(c)
                    break
        chosen = sorted(chosen[: self.max_sections], key=lambda c: c.position)
        if any(_STEP_SECTION.search(c.section or "") for c in chosen):
            every = every if every is not None else self.retriever.doc_chunks(doc.doc_id)
            chosen = [x for c in chosen for x in (self._whole_section(c, every) if _STEP_SECTION.search(c.section or "")
                                                   else [c])]
            chosen = sorted({c.chunk_id: c for c in chosen}.values(), key=lambda c: c.position)
        if chosen and _ends_on_question(chosen[-1].text):
            # The section ends on a question (a FAQ cut for length between its question and
            # answer): its answer is the next chunk of the same section, without which the quote
            # answers nothing. Never another section ("When to escalate" after the steps).
            last = chosen[-1]
            every = every if every is not None else self.retriever.doc_chunks(doc.doc_id)
            following = [c for c in every if c.position > last.position]
            if following and following[0].section == last.section:
                chosen.append(following[0])
        return chosen

    @staticmethod
    def _whole_section(chunk: ChunkHit, every: list[ChunkHit]) -> list[ChunkHit]:
        """The chunks of ``chunk``'s section in order, from its start, up to MAX_SECTION_CHUNKS
        (ending at ``chunk`` when it lies further in)."""
        ordered = sorted(every, key=lambda c: c.position)
        at = next((i for i, c in enumerate(ordered) if c.chunk_id == chunk.chunk_id), None)
        if at is None or chunk.section_no is None:  # an index from before sections were numbered
            return [chunk]

        def same(i: int, j: int) -> bool:  # neighbours of one section (two "### Steps" are two)
            return ordered[i].section_no == ordered[j].section_no and ordered[i].position + 1 == ordered[j].position

        start = end = at
        while start > 0 and same(start - 1, start):
            start -= 1
        while end + 1 < len(ordered) and same(end, end + 1):
            end += 1
        start = max(start, at - MAX_SECTION_CHUNKS + 1)
        return ordered[start:min(end + 1, start + MAX_SECTION_CHUNKS)]

    def run(self, hits: list[DocHit], *, surface: str) -> ExtractiveAnswer:
        # Past tickets are cited for the OPS agent to read, never quoted in the reply: they
        # hold other dealerships' details and describe one case, not the documented fix.
        runbooks = [h for h in hits if h.kind == "runbook"]
        parts, quoted, used, frame = [], [], [], [_HELLO, _THANKS, _CLOSING]
        if runbooks:
            top = runbooks[0]
            sections = self._sections(top)
            texts = [c.text for c in sections]
            cleaned = [_clean(t) for t in texts[:1] + [_after_overlap(a, b) for a, b in zip(texts, texts[1:])]]
            body = "\n\n".join(t for t in cleaned if t)
            # What the output guard holds the reply to: the sources, and the quote as it reads
            # (unwrapped: a path wrapped across lines is one)
            quoted += texts + cleaned
            frame.append(f'Here is what our guide "{top.title}" says:')
            parts.append(f"{frame[-1]}\n\n{body}")
            used.append(top)
        if not parts:
            return ExtractiveAnswer("", [], [])
        text = f"{_HELLO}\n\n{_THANKS} " + "\n\n".join(parts)
        text += f"\n\n{_CLOSING}"
        return ExtractiveAnswer(text, used, quoted, tuple(frame))
