"""The text a person sees in a request body written in HTML.

An email client sends ``<html><head><style>...</style></head><body><div><p>Hi team,</p>...``;
every stage that reads a request's meaning reads what a mail client shows instead: the head,
style sheets, scripts, templates and comments left out, block elements and ``<br>`` as line
breaks, a ``<blockquote>`` as ``>``-quoted lines (so a reply's history is known as one) and
entities decoded. A body is HTML only when it holds real element markup: ``<html>``,
``<body>``, a ``<br>``, or a known element opened and closed (``<p>...</p>``); "a < b", "<3"
or "the <p> tag" are text.

Text a style hides (``display:none``, zero size, white) is kept: this module does not read
CSS, and the prompt-injection check reads the markup itself, where such text is flagged.

The markup is read by a scanner of its own, in linear time: on Python 3.11.7 the standard
``html.parser`` took 86 s on 80,000 characters of ``"<a\\n"`` (21 s of ``'<a b="'``), and
raised on ``"<!["``.

>>> visible_text("<div><p>Hi team,</p><p>PAM is down &amp; silent.<br>Dana</p></div>")
'Hi team,\\n\\nPAM is down & silent.\\nDana'
>>> visible_text("a < b, <3 for the team, and the <p> tag") is None
True
"""

from __future__ import annotations

import html
import re

from guardrails import fold_input

_LINE = {"address", "article", "aside", "br", "caption", "center", "dd", "div", "dt", "figcaption", "figure",
         "footer", "form", "header", "hr", "li", "main", "nav", "section", "tr"}
_PARAGRAPH = {"blockquote", "dl", "h1", "h2", "h3", "h4", "h5", "h6", "ol", "p", "pre", "table", "ul"}
_CELL = {"td", "th"}
_KNOWN = _LINE | _PARAGRAPH | _CELL | {"a", "b", "body", "em", "font", "head", "html", "i", "img", "small",
                                        "span", "strong", "style", "sub", "sup", "tbody", "thead", "u"}
# Elements no reader sees the text of, skipped to their end tag (a head without one ends at <body>).
_SKIPPED = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in ("script", "style", "template", "title")}
_SKIPPED["head"] = re.compile(r"</head\s*>|(?=<body\b)", re.IGNORECASE)
# A tag reads to the next ">" with no "<" before it: an attribute holding ">" ends it early (its
# rest is read as text), the price of a scan that never reads a stretch twice.
_TAG = re.compile(r"<(/?)([a-zA-Z][\w:.-]*)(?=[\s/>])[^<>]*>")
_DECLARATION = re.compile(r"<[!?][^<>]*>")  # <!DOCTYPE html>, <![if !supportLists]>, <?xml ...?>


_OPENS_WITH_MARKUP = re.compile(r"\s*(?:<!--|<[!?]|<[a-zA-Z][\w:.-]*(?=[\s/>]))")
# For the personal-data check of stored markup: any tag, and an attribute's quoted value.
_ANY_TAG = re.compile(r"<[^<>]*>")
_ATTRIBUTE_VALUE = re.compile(r"=\s*(?:\"([^\"<>]*)\"|'([^'<>]*)')")


def visible_text(body: str) -> str | None:
    """``body`` as a mail client shows it (see the module docstring), or None when it is no HTML
    or shows no text at all (it is then read as it came). An HTML body opens with markup, as mail
    clients write it: text that names a tag ("we pasted the snippet into the <head> of our site
    ... before </head>", "I put <br> in the greeting") is a question about it, not markup."""
    if not _OPENS_WITH_MARKUP.match(body):
        return None
    reader = _Reader()
    reader.feed(body)
    if not reader.is_html:
        return None
    return fold_input(reader.text()).strip() or None


def every_text(markup: str) -> str:
    """All the text ``markup`` holds, shown or not, for a personal-data check: tags removed with
    nothing in their place ("555-<b>867</b>-5309" reads 555-867-5309), comments, the head and
    scripts kept, entities decoded, and each quoted attribute value on a line of its own
    (``href="mailto:dana&#64;..."``, ``alt="SSN ..."``)."""
    bare = _ANY_TAG.sub("", markup.replace("<!--", " ").replace("-->", " "))
    values = [a or b for a, b in _ATTRIBUTE_VALUE.findall(markup) if a or b]
    return html.unescape("\n".join([bare, *values]))


class _Reader:
    """Reads markup once, left to right, into lines of text, each with the quote depth of its first word."""

    def __init__(self):
        self.lines: list[tuple[int, list[str]]] = []  # (quote depth, pieces of text)
        self.filled = True  # whether the last line holds text (True at first: the first text opens a line)
        self.depth = self.pre = 0
        self.opened: set[str] = set()
        self.is_html = False
        self.lined = False  # whether an element made a line break: else the text's own breaks are its lines

    def feed(self, text: str) -> None:
        pos = 0
        while (lt := text.find("<", pos)) >= 0:
            self._data(text[pos:lt])
            pos = self._markup(text, lt)
        self._data(text[pos:])

    def _markup(self, text: str, lt: int) -> int:
        """Reads the markup at ``lt`` (a "<"); returns where the text after it starts."""
        if text.startswith("<!--", lt):  # a comment; one never closed hides the rest, as in a browser
            end = text.find("-->", lt + 4)
            return len(text) if end < 0 else end + 3
        if m := _DECLARATION.match(text, lt):
            return m.end()
        m = _TAG.match(text, lt)
        if m is None:  # "a < b", "<3": text
            self._data("<")
            return lt + 1
        closing, name = m.group(1) == "/", m.group(2).lower()
        self._tag(name, closing)
        if not closing and name in _SKIPPED:
            end = _SKIPPED[name].search(text, m.end())
            return len(text) if end is None else end.end()
        return m.end()

    def _tag(self, name: str, closing: bool) -> None:
        if name in _KNOWN:
            self.is_html = self.is_html or name in ("html", "head", "body", "br") or (closing and name in self.opened)
            if not closing:
                self.opened.add(name)
        self.lined = self.lined or name in _LINE or name in _PARAGRAPH
        if name == "br":
            if not closing:  # <br/> is one break, </br> none
                self._break(hard=True)
        elif name in _PARAGRAPH:
            self._break(blank=True)
        elif name in _LINE:
            self._break()
        elif name in _CELL:
            self._data(" ")
        if name == "blockquote":
            self.depth = max(0, self.depth + (-1 if closing else 1))
        elif name == "pre":
            self.pre = max(0, self.pre + (-1 if closing else 1))
        elif name == "li" and not closing:
            self._data("- ")  # a list item reads as one in plain text

    def _data(self, raw: str) -> None:
        text = html.unescape(raw) if "&" in raw else raw
        for i, piece in enumerate(text.split("\n") if self.pre else [text]):
            if i:
                self._break(hard=True)
            if not piece.strip():
                if self.lines:
                    self.lines[-1][1].append(piece)
                continue
            if not self.filled:  # the first words of a line: it is quoted as deep as they are
                self.lines[-1] = (self.depth, self.lines[-1][1])
            elif not self.lines:
                self.lines.append((self.depth, []))
            self.filled = True
            self.lines[-1][1].append(piece)

    def _break(self, *, hard: bool = False, blank: bool = False) -> None:
        """Ends the line: a <br> always (it leaves an empty line blank), a block only after text;
        a paragraph leaves a blank line after it."""
        if hard or self.filled:
            self.lines.append((self.depth, []))
            self.filled = False
        if blank:
            self.lines.append((self.depth, []))

    def text(self) -> str:
        """The lines read, spaces collapsed, quoted lines marked with ">", one blank line between
        paragraphs. Markup with no element that breaks a line (no <br>, no block) was written as
        plain text with a tag or two in it ("... too fast.\\n\\n<span style=...>...</span>\\n\\nThanks,
        Rob"): its own line breaks are kept."""
        out: list[str] = []
        for depth, pieces in self.lines:
            text = "".join(pieces)
            for line in text.split("\n") if not self.lined else [text]:
                words = " ".join(line.split())
                if words:
                    out.append("> " * depth + words)
                elif out and out[-1]:
                    out.append("")
        return "\n".join(out).strip()
