"""Knowledge gaps: recurring escalations that no runbook settles.

The support process guide says to write a knowledge-base article for "issues
that come up more than three times". ``GapFinder`` takes the decision log,
keeps the escalations the assistant could not answer from its sources
(``not_covered`` or ``low_confidence``), clusters their texts and names, for
each cluster, the closest existing runbook. A cluster of more than three
requests is flagged: a runbook to write (or to fix, when the nearest one scores
high but still did not settle them).

>>> finder = GapFinder(Embedder.default())                          # doctest: +SKIP
>>> [c.size for c in finder.run(log.decisions(limit=None)) if c.flagged]   # doctest: +SKIP
[6, 4]
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from assistant.errors import InputError
from assistant.metrics import (TOP_N, check_period, one_per_request, parse_time, period_of, request_digest,
                               request_key, within)

# Reasons that mean "the sources did not settle it" (as opposed to risk, personal
# data or injection, which a runbook would not fix).
GAP_REASONS = frozenset({"not_covered", "low_confidence"})
# Average-linkage cut on cosine distance (1 - similarity of MiniLM vectors).
# Chosen on evals/data/dev.jsonl, taking each case's expected source runbook as
# its topic (92 cases, 33 topics of 2-5 requests): 0.50 gave the best adjusted
# Rand index (0.34; 0.45: 0.32, 0.55: 0.27, 0.60: 0.09) with average linkage,
# ahead of complete linkage at any cut. Those topics are finer than the gaps we
# look for, so the figure is a floor, not an estimate of gap quality.
DISTANCE_THRESHOLD = 0.50
# More than this many requests in a cluster: a runbook to write (support process guide).
FLAG_ABOVE = 3
MAX_EXAMPLES = 5


@dataclass
class GapCluster:
    """A group of similar escalations the knowledge base did not cover."""

    size: int  # uncovered requests: a split email's uncovered parts count one each
    examples: list[str]
    category: str
    nearest_runbook: str | None
    nearest_score: float
    flagged: bool  # size > 3: a runbook to write
    members: list[int] = field(default_factory=list)  # indices into the decisions given to run(), once each


def _text(row: dict) -> str:
    req = row.get("request") or {}
    return f"{req.get('subject') or ''}\n{req.get('body') or ''}".strip()


def _cut(flat: str, limit: int = 160) -> str:
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "\u2026"


def _example(row: dict) -> str:
    req = row.get("request") or {}
    subject, body = (req.get("subject") or "").strip(), " ".join((req.get("body") or "").split())
    return _cut(f"{subject}: {body}" if subject and body else (subject or body))


def _items(row: dict) -> list[tuple[str, str, str]]:
    """``(text, example, category)`` of each uncovered request one decision holds. An email split
    into parts holds one per part that went to a person for want of a source (the part's own
    text, redacted when it was logged): its other points would pull the question towards
    another topic and another runbook. Otherwise the request itself."""
    result = row.get("result") or {}
    parts = [p for p in result.get("parts") or [] if isinstance(p, dict) and p.get("route") == "escalate"
             and GAP_REASONS & set(p.get("reasons") or []) and str(p.get("text") or "").strip()]
    if parts:
        return [(str(p["text"]), _cut(" ".join(str(p["text"]).split())), p.get("category") or "unknown")
                for p in parts]
    text = _text(row)
    return [(text, _example(row), result.get("category") or "unknown")] if text else []


def is_gap(row: dict) -> bool:
    """An escalation the sources could not settle (``not_covered`` or ``low_confidence``)."""
    result = row.get("result") or {}
    return result.get("route") == "escalate" and bool(GAP_REASONS & set(result.get("reasons") or []))


class GapFinder:
    """Clusters uncovered escalations and names the nearest runbook of each cluster.

    Agglomerative clustering (average linkage, cosine distance, cut at
    ``distance_threshold``) needs no number of clusters and leaves one-off
    requests as singletons, which are dropped below ``min_cluster``.
    """

    def __init__(self, embedder, min_cluster: int = 2, distance_threshold: float = DISTANCE_THRESHOLD):
        if min_cluster < 1:
            raise ValueError("min_cluster must be at least 1")
        if not 0.0 < distance_threshold < 2.0:
            raise ValueError("distance_threshold is a cosine distance, between 0 and 2")
        self.embedder = embedder
        self.min_cluster = min_cluster
        self.distance_threshold = distance_threshold

    def run(self, decisions: list[dict], runbooks: list[tuple[str, str, np.ndarray]] | None = None,
            kept: dict[int, datetime | None] | None = None) -> list[GapCluster]:
        """Clusters of uncovered escalations, largest first.

        ``runbooks`` are ``(id, title, vector)`` with vectors from the same
        embedder; without them ``nearest_runbook`` is None.
        """
        # A request is the decision the metrics keep for it (``counted``): re-triaged and then
        # answered, it is no gap; the same question from other requesters is the recurrence a
        # gap is made of.
        picked = [(i, *item) for i in sorted(counted(decisions) if kept is None else kept)
                  if is_gap(decisions[i]) for item in _items(decisions[i])]
        if len(picked) < max(self.min_cluster, 1):
            return []
        vectors = np.asarray(self.embedder.encode_queries([p[1] for p in picked]), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        if len(picked) == 1:
            labels = np.zeros(1, dtype=int)
        else:
            labels = AgglomerativeClustering(n_clusters=None, distance_threshold=self.distance_threshold,
                                             metric="cosine", linkage="average").fit_predict(vectors)
        rb_ids, rb_matrix = self._runbook_matrix(runbooks)
        clusters = []
        for label in np.unique(labels):
            idx = np.flatnonzero(labels == label)
            if len(idx) < self.min_cluster:
                continue
            centroid = vectors[idx].mean(axis=0)
            centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
            order = idx[np.argsort(-(vectors[idx] @ centroid))]  # most typical request first
            members = list(dict.fromkeys(picked[k][0] for k in order))
            categories = Counter(picked[k][3] for k in order)
            nearest, score = None, 0.0
            if rb_matrix is not None:
                sims = rb_matrix @ centroid
                best = int(np.argmax(sims))
                nearest, score = rb_ids[best], round(float(sims[best]), 4)
            clusters.append(GapCluster(
                size=len(idx), examples=[picked[k][2] for k in order[:MAX_EXAMPLES]],
                category=categories.most_common(1)[0][0], nearest_runbook=nearest, nearest_score=score,
                flagged=len(idx) > FLAG_ABOVE, members=members))
        return sorted(clusters, key=lambda c: (-c.size, c.members[0]))

    @staticmethod
    def _runbook_matrix(runbooks):
        if not runbooks:
            return [], None
        ids = [rb[0] for rb in runbooks]
        matrix = np.asarray([np.asarray(rb[2], dtype=np.float32) for rb in runbooks])
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return ids, matrix


def counted(decisions: list[dict]) -> dict[int, datetime | None]:
    """The decisions the metrics count, by index, each with when its request first arrived: one
    per request (``metrics.one_per_request``: the same id and text re-triaged or retried is one
    request, kept as its decision with feedback, else its newest, and placed in time at its
    first arrival, as the metrics place it). Input errors go first, as in the metrics: a bad
    retry under the same id and text must not stand for the request and then be skipped as an
    error."""
    keyed = [dict(row, request_digest=request_digest(row.get("request")), _index=i, created_at=_moment(row),
                  due_by=None)
             for i, row in enumerate(decisions) if not (row.get("result") or {}).get("error")]
    return {row["_index"]: row["created_at"] for row in one_per_request(keyed, first_seen=True)}


def _request_of(row: dict) -> tuple:
    """The request a decision belongs to, as the metrics key it (``metrics.request_key``)."""
    return request_key(row.get("id"), row.get("source"), request_digest(row.get("request")))


def _moment(row: dict) -> datetime | None:
    try:
        return parse_time(row.get("created_at"), "created_at")
    except InputError:
        return None


def top_issues(decisions: list[dict], clusters: list[GapCluster], period: str = "week",
               kept: dict[int, datetime | None] | None = None) -> list[dict]:
    """Per period (oldest first): volume, escalations, the top categories and the top gap clusters.

    Each decision needs ``created_at`` (ISO text or datetime); rows without one
    cannot be placed in time and are left out. Clusters are matched to
    decisions by ``GapCluster.members`` (indices into the same ``decisions``). A request
    triaged twice counts once, as in the metrics (``one_per_request``), in the period it first
    arrived in.
    """
    check_period(period)
    cluster_of: dict[int, list[int]] = {}  # a split email's parts may lie in several clusters
    for ci, c in enumerate(clusters):
        for m in c.members:
            cluster_of.setdefault(m, []).append(ci)
    kept = counted(decisions) if kept is None else kept  # ``counted``, when the caller has it already
    # The category OPS corrected a request to, from feedback on any of its decisions (newest last),
    # as the metrics merge feedback per request: a retry's decision has no feedback of its own.
    corrected: dict[tuple, str] = {}
    for row in sorted(decisions, key=lambda r: str(r.get("created_at") or "")):
        category = (row.get("feedback") or {}).get("category")
        if category:
            corrected[_request_of(row)] = category
    buckets: dict[str, dict] = {}
    for i, row in enumerate(decisions):
        if i not in kept:
            continue  # counted once, as the metrics do; an input error is no request
        moment = kept[i]  # its request's first arrival
        if moment is None:
            continue
        label, start = period_of(moment, period)
        b = buckets.setdefault(label, {"period": label, "start": start.isoformat(), "total": 0, "escalated": 0,
                                       "gaps": 0, "_categories": Counter(), "_clusters": Counter()})
        result = row.get("result") or {}
        b["total"] += 1
        b["escalated"] += result.get("route") == "escalate"
        b["gaps"] += is_gap(row)
        category = corrected.get(_request_of(row)) or result.get("category") or row.get("category") or "unknown"
        b["_categories"][category] += 1
        for ci in cluster_of.get(i, ()):
            b["_clusters"][ci] += 1
    out = []
    for label in sorted(buckets):
        b = buckets[label]
        cats, cl = b.pop("_categories"), b.pop("_clusters")
        b["top_categories"] = [{"category": c, "count": n}
                               for c, n in sorted(cats.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]]
        b["top_clusters"] = [
            {"cluster": ci, "count": n, "category": clusters[ci].category, "example": clusters[ci].examples[0],
             "size": clusters[ci].size, "flagged": clusters[ci].flagged,
             "nearest_runbook": clusters[ci].nearest_runbook}
            for ci, n in sorted(cl.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N]]
        out.append(b)
    return out


def runbook_vectors(index) -> list[tuple[str, str, np.ndarray]]:
    """(id, title, mean chunk vector) of every runbook in the index, for nearest-runbook lookups."""
    got = index.collection.get(where={"kind": "runbook"}, include=["embeddings", "metadatas"])
    by_doc: dict[str, list] = {}
    titles: dict[str, str] = {}
    for vec, meta in zip(got["embeddings"], got["metadatas"]):
        by_doc.setdefault(meta["doc_id"], []).append(vec)
        titles[meta["doc_id"]] = meta.get("title", "")
    out = []
    for doc_id, vecs in by_doc.items():
        v = np.mean(np.asarray(vecs, dtype=np.float32), axis=0)
        out.append((doc_id, titles[doc_id], v / (np.linalg.norm(v) or 1.0)))
    return out


def gap_report(dlog, index, embedder, *, since=None, until=None) -> dict:
    """Clusters of uncovered escalations and the top issues per week (CLI, API and dashboard)."""
    from dataclasses import asdict

    # Every decision of the requests the window holds, so each is placed at its first arrival: one
    # that first arrived before the window is none of its requests (as in the metrics).
    rows = [r for r in dlog.decisions(since=since, until=until, limit=None, whole_requests=True)
            if r.get("source") not in ("eval", "history")]
    lo, hi = parse_time(since, "since"), parse_time(until, "until", end_of_day=True)
    kept = {i: first for i, first in counted(rows).items()  # once, for the clusters and the weekly lines
            if first is None or within(first, lo, hi)}
    clusters = GapFinder(embedder).run(rows, runbook_vectors(index), kept=kept)
    return {"clusters": [{k: v for k, v in asdict(c).items() if k != "members"} for c in clusters],
            "runbooks_to_write": sum(c.flagged for c in clusters),
            "top_issues": top_issues(rows, clusters, kept=kept)}
