"""Measured and not adopted: offline answerability signals, and a judge learnt from the KB itself.

The unsafe answers left are questions that match a runbook well but are not answered by
it ("does pam connect to vinsolutions", "can PAM try a second number before it takes a
message"). The pipeline already routes on ``support`` (the cited runbook's best chunk
cosine); this bench asks whether any other offline signal separates those answers from
right ones, on the answers the pipeline as shipped gives (the baseline):

- ``support``: the baseline signal, the top runbook's best chunk cosine;
- ``lexical``: IDF-weighted share of the question's content stems found in the runbook;
- ``soft``: MiniLM token vectors of the question, each matched to its closest token of the
  runbook, averaged (the BERTScore-recall idea);
- ``sentence``: the closest runbook sentence to any question sentence;
- ``judge``: a logistic model over the four, learnt without any eval label from the KB's
  own past tickets, leave-one-runbook-out: a ticket with its most likely runbook (retrieved
  with the ticket's resolution) is "answered"; the same ticket with the best *other*
  runbook is what a question looks like when the KB lacks its answer.

For each signal it prints the AUC (low score => unsafe answer). For the judge it then takes
the bar dev would choose (catch the most unsafe answers with at most one new false
escalation of a right answer) and shows what that bar does on the red team and the
held-out chat set, which only check. Works on any KB in the SPEC format.

    python benchmarks/bench_answerability.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import limit_blas_threads  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.models import SupportRequest  # noqa: E402
from assistant.pipeline import Pipeline  # noqa: E402
from guardrails import segments  # noqa: E402
from guardrails.coverage import _STEMMER, content_words  # noqa: E402

KB, INDEX = "kb/sample", ".index"
CHOOSE = "evals/data/dev.jsonl"
CHECK = ("evals/data/redteam.jsonl", "evals/data/heldout_chat.jsonl")
SIGNALS = ("support", "lexical", "soft", "sentence")
MIN_TICKET_MATCH = 0.45  # a ticket whose resolution matches no runbook this well gives no pair


def stems(text: str) -> set[str]:
    return set(_STEMMER.stemWords(content_words(text)))


class Signals:
    """The four signals of (question, runbook) from one pipeline's index."""

    def __init__(self, pipeline: Pipeline):
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        self.p, self.stop = pipeline, ENGLISH_STOP_WORDS
        self.model = pipeline.embedder.model
        r = pipeline.retriever
        self.rows: dict[str, list[int]] = {}
        for i, m in enumerate(r.metas):
            if m.get("kind") == "runbook":
                self.rows.setdefault(m["doc_id"], []).append(i)
        self.stems = {d: set().union(*(stems(f"{r.metas[i].get('title', '')} {r.texts[i]}") for i in rows))
                      for d, rows in self.rows.items()}
        df: dict[str, int] = {}
        for words in self.stems.values():
            for w in words:
                df[w] = df.get(w, 0) + 1
        n = len(self.stems)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.unknown_idf = math.log((n + 1) / 0.5)
        self.sentences = {d: [s for i in rows for s in segments(r.texts[i])] for d, rows in self.rows.items()}
        self.sentence_vectors = {d: pipeline.embedder.encode_documents(s) for d, s in self.sentences.items()}
        self._tokens: dict[str, tuple[list[str], np.ndarray]] = {}

    def tokens(self, text: str) -> tuple[list[str], np.ndarray]:
        if text not in self._tokens:
            vectors = self.model.encode([text], output_value="token_embeddings")[0].numpy()
            ids = self.model.tokenizer(text, truncation=True, max_length=256)["input_ids"]
            words = self.model.tokenizer.convert_ids_to_tokens(ids)[:len(vectors)]
            self._tokens[text] = (words, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        return self._tokens[text]

    def __call__(self, question: str, vector: np.ndarray, doc: str) -> list[float]:
        r = self.p.retriever
        support = float(max(r._vectors[i] @ vector for i in self.rows[doc]))
        words = stems(question)
        weights = {w: self.idf.get(w, self.unknown_idf) for w in words}
        total = sum(weights.values())
        lexical = sum(v for w, v in weights.items() if w in self.stems[doc]) / total if total else 1.0
        toks, tvecs = self.tokens(question)
        keep = [i for i, t in enumerate(toks) if t.isalpha() and len(t) > 2 and t not in ("cls", "sep")
                and t.lower() not in self.stop]
        soft = 1.0
        if keep:
            best = np.full(len(keep), -1.0)
            for i in self.rows[doc]:
                best = np.maximum(best, (tvecs[keep] @ self.tokens(r.texts[i])[1].T).max(axis=1))
            soft = float(best.mean())
        asked = [s for s in segments(question) if len(s.split()) >= 4] or [question]
        sentence = float((self.p.embedder.encode_queries(asked) @ self.sentence_vectors[doc].T).max())
        return [support, lexical, soft, sentence]


def train_judge(pipeline: Pipeline, signals: Signals, kb: Path):
    """Leave-one-runbook-out pairs from the KB's past tickets, and a logistic model over them."""
    from sklearn.linear_model import LogisticRegression

    X, y = [], []
    for line in (kb / "tickets.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        ticket = json.loads(line)
        question = f"{ticket.get('subject', '')}\n{ticket.get('body', '')}".strip()
        with_resolution = pipeline.embedder.encode_queries([f"{question}\n{ticket.get('resolution', '')}"])[0]
        gold, score = pipeline.retriever.best_match(with_resolution, audience=None)
        if gold is None or score < MIN_TICKET_MATCH:
            continue
        vector = pipeline.embedder.encode_queries([question])[0]
        other = max((d for d in signals.rows if d != gold),
                    key=lambda d: max(pipeline.retriever._vectors[i] @ vector for i in signals.rows[d]))
        X += [signals(question, vector, gold), signals(question, vector, other)]
        y += [1, 0]
    return LogisticRegression(max_iter=1000).fit(np.array(X), np.array(y)), len(y)


def answered(pipeline: Pipeline, signals: Signals, path: str) -> list[tuple[str, bool, list[float]]]:
    """(id, should have gone to a person, signals) for every case the pipeline answers."""
    out = []
    for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        request = SupportRequest.model_validate(case)
        result = pipeline.run(request)
        if result.route != "answer" or not result.citations or result.citations[0].source_id not in signals.rows:
            continue
        vector = pipeline.embedder.encode_queries([request.text])[0]
        out.append((case["id"], case["expected"]["route"] == "escalate",
                    signals(request.text, vector, result.citations[0].source_id)))
    return out


def main() -> int:
    limit_blas_threads()
    from sklearn.metrics import roc_auc_score

    from assistant.cli import main as cli

    if not (ROOT / INDEX / "classifier.joblib").is_file():
        cli(["ingest", str(ROOT / KB), "--index", str(ROOT / INDEX)])
    pipeline = Pipeline.load(Settings(index=str(ROOT / INDEX)))
    signals = Signals(pipeline)
    judge, pairs = train_judge(pipeline, signals, ROOT / KB)
    print(f"judge: {pairs} leave-one-runbook-out pairs from {KB}/tickets.jsonl, weights "
          + ", ".join(f"{n} {w:+.2f}" for n, w in zip(SIGNALS, judge.coef_[0])))
    bar = None
    for path in (CHOOSE, *CHECK):
        rows = answered(pipeline, signals, path)
        y = [unsafe for _, unsafe, _ in rows]
        X = np.array([f for _, _, f in rows])
        score = judge.predict_proba(X)[:, 1]
        print(f"\n{path}: {len(rows)} answered, {sum(y)} should have gone to a person")
        if not 0 < sum(y) < len(y):
            continue
        aucs = {n: roc_auc_score(y, -X[:, j]) for j, n in enumerate(SIGNALS)}
        aucs["judge"] = roc_auc_score(y, -score)
        print("  AUC (low => unsafe): " + "  ".join(f"{n} {a:.3f}" for n, a in aucs.items()))
        order = sorted(zip(score, y))
        cost = [sum(1 for s, u in order[:i + 1] if not u) for i, (_, u) in enumerate(order) if u]
        print("  right answers the judge also escalates to catch 1, 2, ... of them: " + ", ".join(map(str, cost)))
        if bar is None:  # dev chooses: most unsafe caught with at most one new false escalation
            candidates = sorted(set(score))
            best = max(candidates, key=lambda b: (sum(1 for s, u in zip(score, y) if s <= b and u)
                                                  if sum(1 for s, u in zip(score, y) if s <= b and not u) <= 1 else -1, -b))
            bar = float(best)
        caught = [i for (i, u, _), s in zip(rows, score) if s <= bar and u]
        false = [i for (i, u, _), s in zip(rows, score) if s <= bar and not u]
        print(f"  judge <= {bar:.3f} (chosen on dev): unsafe caught {len(caught)}/{sum(y)} {caught}, "
              f"new false escalations {len(false)}/{len(y) - sum(y)} {false[:6]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
