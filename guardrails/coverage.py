"""Staff-only vocabulary: does a chat question name something only internal runbooks talk about?

A chat question such as "can you force a full resync from CDK?" is closest, by
embedding, to the customer article on CDK set-up, which does not answer it; the
internal runbook on forced re-syncs does. Similarity alone cannot tell these apart
from ordinary questions on topics that have both a customer and an internal
runbook. Words can: "resync" occurs in the internal runbook and in no customer
article at all, so the customer side has nothing to say about it.

The check is lexical and built from the knowledge base at load time, so it knows
nothing of the sample's wording: words are lower-cased, English stop words
(scikit-learn's list) and short or numeric tokens dropped, and the rest stemmed
(Snowball, PyStemmer) so "resyncing" meets "resync".

>>> terms = StaffOnlyTerms([("rb-a", "customer", "Connect CDK: click Start Setup."),
...                         ("rb-b", "internal", "Force a full resync from the DMS bridge.")])
>>> terms.run("can you force a resync from CDK?", "rb-b")
['force', 'resync']
>>> terms.run("how do I connect CDK?", "rb-b")
[]
"""

from __future__ import annotations

import re
from typing import Iterable

import Stemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

_TOKEN = re.compile(r"[a-z0-9_]+")
_STEMMER = Stemmer.Stemmer("english")


def content_words(text: str) -> list[str]:
    """Lower-cased words of ``text`` that carry content: no stop words, no numbers, 3+ characters."""
    return [w for w in _TOKEN.findall(text.lower())
            if len(w) > 2 and not w.isdigit() and w not in ENGLISH_STOP_WORDS]


class StaffOnlyTerms:
    """Words that internal runbooks use and no customer runbook does.

    Built from ``(doc_id, audience, text)`` triples, one per chunk or document.
    """

    def __init__(self, documents: Iterable[tuple[str, str, str]]):
        self._customer: set[str] = set()
        self._internal: dict[str, set[str]] = {}
        for doc_id, audience, text in documents:
            stems = set(_STEMMER.stemWords(content_words(text)))
            if audience == "internal":
                self._internal.setdefault(doc_id, set()).update(stems)
            else:
                self._customer |= stems

    def run(self, question: str, internal_doc_id: str | None) -> list[str]:
        """Words of ``question`` found in that internal runbook and in no customer runbook (sorted)."""
        vocabulary = self._internal.get(internal_doc_id or "")
        if not vocabulary:
            return []
        words = content_words(question)
        return sorted({w for w, s in zip(words, _STEMMER.stemWords(words))
                       if s in vocabulary and s not in self._customer})
