"""The ``assistant`` command (SPEC section 4).

Examples::

    assistant ingest kb/sample --index .index
    echo '{"channel": "chat", "body": "Xtime is not syncing"}' | assistant ask --index .index
    assistant classify --index .index < requests.jsonl
    assistant eval evals/data/dev.jsonl --index .index --report reports/dev
    assistant intent-bench train.jsonl test.jsonl --val val.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import re
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from assistant import limit_blas_threads  # noqa: E402
from assistant.errors import AssistantError, ConfigError, IndexMissing  # noqa: E402
from assistant.requests_io import decode_line, json_line, not_utf8_error  # noqa: E402


def _quiet_libraries() -> None:
    warnings.filterwarnings("ignore")
    for name in ("transformers", "sentence_transformers", "chromadb", "httpx", "bm25s"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as tlog

        tlog.set_verbosity_error()
        tlog.disable_progress_bar()
    except Exception:  # transformers is optional at this point; nothing to quiet
        pass


def _settings(args):
    from assistant.config import load_settings

    return load_settings(index=getattr(args, "index", None))


def _emit(obj) -> None:
    try:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    except UnicodeEncodeError:  # text the output cannot encode (half a surrogate pair): escaped, not lost
        sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _open_log(settings):
    """The decision log, or None when it cannot be opened (answers still flow; logged to stderr)."""
    try:
        from assistant.decision_log import DecisionLog
    except ImportError:
        return None
    try:
        return DecisionLog.from_settings(settings, settings.index_dir)
    except ConfigError:
        raise  # a database URL that cannot work is a bad setting, not an outage: stop (exit 2)
    except AssistantError as exc:
        print(f"warning: decision log unavailable: {exc.message}", file=sys.stderr)
        return None


def _llm(settings):
    """The LLM answerer when an OpenAI-compatible endpoint is configured, else None (extractive)."""
    if not settings.llm_enabled:
        return None
    from assistant.llm_stage import LLMStage

    return LLMStage(settings)


# -- commands ----------------------------------------------------------------------------
def cmd_ingest(args) -> int:
    from ingestion.loader import KnowledgeBaseLoader

    settings = _settings(args)
    index_dir = settings.index_dir
    kb = KnowledgeBaseLoader().run(Path(args.kb))
    for problem in kb.problems:
        print(f"skipped: {problem.message}" + (f" [field: {problem.field}]" if problem.field else ""), file=sys.stderr)
    for path in kb.ignored:
        print(f"not read: {path} (runbooks are runbooks/*.md, one folder deep, lower-case .md)", file=sys.stderr)
    if not kb.documents:
        print("error: no valid documents to index", file=sys.stderr)
        return 2
    warning = scope_warning(settings, kb.documents)
    if warning:
        print(warning, file=sys.stderr)
    labels = sorted({d.category for d in kb.documents})
    if len(labels) < 2:  # found before the index is touched: it stays paired with its models
        print(f"error: the classifier needs at least two categories to learn, the KB has {labels}; "
              f"nothing was indexed", file=sys.stderr)
        return 2
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot create the index folder {index_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    with _ingest_lock(index_dir):
        return _ingest(args, settings, kb)


def scope_warning(settings, documents) -> str | None:
    """A warning when the holding messages would name PAM for a KB that never does: the default
    ``ASSISTANT_SCOPE`` is the sample KB's product."""
    from assistant.config import DEFAULT_SCOPE

    if settings.scope != DEFAULT_SCOPE or any(re.search(r"\bPAM\b", f"{d.title}\n{d.body}") for d in documents):
        return None
    return (f"warning: this KB never mentions PAM, but ASSISTANT_SCOPE is not set: out-of-scope and "
            f"injection replies will say the assistant helps with questions about {DEFAULT_SCOPE!r}. "
            f"Set ASSISTANT_SCOPE to what it helps with (README, Configuration).")


@contextmanager
def _ingest_lock(index_dir: Path):
    """One ingest at a time per index: two at once interleaved their index writes and training,
    leaving models trained on one KB beside the other's index."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    with open(index_dir / INGEST_LOCK, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            print(f"waiting for another ingest into {index_dir} to finish", file=sys.stderr)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


INGEST_LOCK = ".ingest.lock"


def _ingest(args, settings, kb) -> int:
    from assistant.manifest import collection_for, contents_version, read_manifest, write_manifest
    from assistant.training import Trainer, index_version, is_current
    from ingestion.indexer import Indexer
    from retrieval.embedder import Embedder
    from retrieval.index import VectorIndex

    index_dir = settings.index_dir
    embedder = Embedder.default()
    # The corrections the models learn from are read first: a database that is down stops the
    # ingest before it changes the index (before, the index took the new KB and the models stayed
    # those of the old one).
    dlog = _open_log(settings)
    corrections = dlog.corrections() if dlog is not None else []
    # What the models learn from is the KB as read now: a document the index keeps despite a
    # problem in its new version is no training example, so it does not name the training either.
    hashes = {d.id: d.content_hash for d in kb.documents}
    # Trained before the index is touched: a KB the models cannot learn leaves the index and the
    # models as they were (before, the index took the new KB and the old models stayed beside it).
    trained = None
    if args.retrain or not is_current(index_dir, index_version(hashes, corrections)):
        trained = Trainer(embedder).fit(kb, corrections=corrections, doc_hashes=hashes)
    previous = read_manifest(index_dir)
    collection = collection_for(index_dir, previous, settings.chroma_url, settings.chroma_collection, ingest=True)
    index = VectorIndex.open(index_dir, chroma_url=settings.chroma_url, create=True, namespace=collection)
    report = Indexer(index, embedder, progress=None if not args.quiet else False).run(kb)
    summary = {"index": str(index_dir), "documents": len(kb.documents), "skipped": len(kb.problems),
               **report.as_dict(), "corrections_used": len(corrections)}
    # What the index holds now, and where: a running server reloads when the manifest changes, so
    # it is rewritten whenever these do, trained or not (before, only training rewrote it, and an
    # ingest that changed the index but not the models' documents was never served).
    stamp = {"contents": contents_version(index.doc_hashes()),
             **({"collection": collection} if settings.chroma_url else {})}
    if trained is None:
        summary["training"] = "unchanged"  # same documents, same corrections: the models stand
        if previous is not None and any(previous.get(k) != v for k, v in stamp.items()):
            write_manifest(index_dir, {**previous, **stamp})
    else:
        trained.manifest.update(stamp)
        training = trained.save(index_dir)
        summary.update(training="done", labels=training.labels, cv_accuracy=training.cv_accuracy,
                       cv_ece=training.cv_ece, confidence_thresholds=training.thresholds)
    if dlog is not None and not args.no_history and kb.tickets:
        # Past tickets give the metrics a history from day one (the loader has redacted their
        # personal data). Last: a database that fails here leaves an index and models that belong together.
        tickets = [{**t.as_ticket(), "queue": settings.queue_for(t.category)} for t in kb.tickets]
        dlog.import_history(tickets)
    print(json.dumps(summary, indent=None if args.quiet else 2))
    return 1 if kb.problems else 0


def _run_requests(args, view: str) -> int:
    from assistant.pipeline import Pipeline
    from assistant.requests_io import read_lines

    settings = _settings(args)
    pipeline = Pipeline.load(settings, llm=_llm(settings))  # no index: fail before creating a log there
    pipeline.decision_log = _open_log(settings)
    try:
        # Bytes, each line decoded on its own: one bad byte costs its line, not the lines around it.
        stdin = getattr(sys.stdin, "buffer", sys.stdin)
        for _lineno, item, raw in read_lines(stdin, max_chars=settings.max_request_chars):
            if isinstance(item, dict):  # a line that is no valid request: its error result
                pipeline.log_error(raw, item, source="cli")
                _emit(item)
                continue
            try:
                result = pipeline.run(item, source="cli")
            except AssistantError as exc:  # one request's failure never loses the others
                error = {"id": item.id, "error": exc.to_dict()}
                pipeline.log_error(raw, error, source="cli")
                _emit(error)
                continue
            _emit(result.classify_view() if view == "classify" else result.public())
    finally:
        if pipeline.decision_log is not None:
            pipeline.decision_log.close()
    return 0


def cmd_ask(args) -> int:
    return _run_requests(args, "ask")


def cmd_classify(args) -> int:
    return _run_requests(args, "classify")


def _require_log(settings):
    """The decision log; IndexMissing (exit 3) rather than a new, empty SQLite log in a folder with no index."""
    from assistant.decision_log import SQLITE_NAME, DecisionLog
    from assistant.manifest import MANIFEST

    index_dir = settings.index_dir
    if not settings.database_url and not (index_dir / MANIFEST).exists() \
            and not (index_dir / SQLITE_NAME).exists():
        raise IndexMissing(f"no index in {index_dir}: run `assistant ingest KB --index {index_dir}` first")
    return DecisionLog.from_settings(settings, index_dir)


def cmd_report(args) -> int:
    from assistant.metrics import render_table

    settings = _settings(args)
    dlog = _require_log(settings)
    try:
        m = dlog.metrics(since=args.since, until=args.until, period=args.period,
                         response_targets=settings.response_clock)
    finally:
        dlog.close()
    if args.json or not sys.stdout.isatty():
        print(json.dumps(m, default=str))
    else:
        from rich.console import Console

        Console().print(render_table(m))
    return 0


def cmd_feedback(args) -> int:
    settings = _settings(args)
    dlog = _require_log(settings)
    failed = 0
    try:
        for lineno, raw in enumerate(getattr(sys.stdin, "buffer", sys.stdin), start=1):
            raw = decode_line(raw, lineno) if isinstance(raw, bytes) else raw
            if isinstance(raw, UnicodeDecodeError):
                failed += 1
                _emit({"error": not_utf8_error(f"stdin line {lineno}", raw, lineno)})
                continue
            if not raw.strip():
                continue
            try:
                _emit(dlog.feedback(json_line(raw)))
            except ValueError as exc:
                failed += 1
                _emit({"error": {"code": "invalid_json", "message": f"stdin line {lineno}: {exc}", "line": lineno}})
            except AssistantError as exc:
                failed += 1
                _emit({"error": {**exc.to_dict(), "message": f"stdin line {lineno}: {exc.message}", "line": lineno}})
    finally:
        dlog.close()
    return 1 if failed else 0


def cmd_gaps(args) -> int:
    from assistant.gaps import gap_report
    from assistant.manifest import collection_for, read_manifest
    from retrieval.embedder import Embedder
    from retrieval.index import VectorIndex

    settings = _settings(args)
    dlog = _require_log(settings)
    try:
        index = VectorIndex.open(settings.index_dir, chroma_url=settings.chroma_url, namespace=collection_for(
            settings.index_dir, read_manifest(settings.index_dir), settings.chroma_url, settings.chroma_collection))
        report = gap_report(dlog, index, Embedder.default(), since=args.since, until=args.until)
    finally:
        dlog.close()
    if args.json or not sys.stdout.isatty():
        print(json.dumps(report, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Escalations no runbook covers (clusters of more than 3: runbooks to write)")
    for col in ("size", "category", "nearest runbook", "examples", "write?"):
        table.add_column(col)
    for c in report["clusters"]:
        table.add_row(str(c["size"]), c["category"], f"{c['nearest_runbook']} ({c['nearest_score']:.2f})",
                      "\n".join(e[:90] for e in c["examples"][:3]), "yes" if c["flagged"] else "")
    Console().print(table)
    weekly = Table(title="Top issues per week (the support guide's weekly report)")
    for col in ("week", "requests", "escalated", "uncovered", "top categories", "top gap clusters"):
        weekly.add_column(col)
    for w in report["top_issues"]:
        weekly.add_row(w["period"], str(w["total"]), str(w["escalated"]), str(w["gaps"]),
                       ", ".join(f"{c['category']} {c['count']}" for c in w["top_categories"]),
                       "\n".join(f"{c['count']}x {c['example'][:60]}" for c in w["top_clusters"]))
    Console().print(weekly)
    return 0


def _unit_interval(text: str) -> float:
    """argparse type: a fraction between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def cmd_intent_bench(args) -> int:
    from evals.intent_bench import run

    extra = {} if args.max_accuracy_drop is None else {"max_accuracy_drop": args.max_accuracy_drop}
    out = run(args.train, args.test, val_path=args.val, oos_label=args.oos_label, **extra)
    print(json.dumps(_finite(out), allow_nan=False))
    return 0


def _finite(value):
    """``value`` with every NaN or infinite number null, at any depth: nothing to measure (no
    out-of-scope line in TEST, so no out-of-scope recall) is null in JSON; NaN is no JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _optional_parsers(sub) -> None:
    """Commands whose code lives with its stage: eval (evals/), serve (api/), gaps (assistant/gaps)."""
    from evals.runner import add_eval_parser

    add_eval_parser(sub)
    from api.serve import add_serve_parser

    add_serve_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def with_index(p):
        p.add_argument("--index", help="index folder (default: ASSISTANT_INDEX or the per-user data folder)")
        return p

    p = with_index(sub.add_parser("ingest", help="index a KB folder and train the classifier"))
    p.add_argument("kb", help="KB folder with runbooks/*.md and tickets.jsonl")
    p.add_argument("--quiet", action="store_true", help="no progress bar, one-line summary")
    p.add_argument("--retrain", action="store_true", help="train the models even if nothing changed")
    p.add_argument("--no-history", action="store_true", help="do not load past tickets into the decision log")
    p.set_defaults(func=cmd_ingest)

    p = with_index(sub.add_parser(
        "retrain", help="train the classifier again from the KB plus feedback corrections in the decision log"))
    p.add_argument("kb")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_ingest, retrain=True, no_history=True)

    p = with_index(sub.add_parser("report", help="print the decision-log metrics (GET /v1/metrics)"))
    p.add_argument("--since", help="ISO date or time, inclusive")
    p.add_argument("--until", help="ISO date (inclusive: the whole day) or time (exclusive)")
    p.add_argument("--period", choices=["day", "week", "month"], default="week")
    p.add_argument("--json", action="store_true", help="JSON instead of tables (default when not a terminal)")
    p.set_defaults(func=cmd_report)

    p = with_index(sub.add_parser("feedback", help="attach outcomes to logged requests (JSON lines on stdin)"))
    p.set_defaults(func=cmd_feedback)

    p = with_index(sub.add_parser("gaps", help="cluster uncovered escalations: the runbooks nobody has written"))
    p.add_argument("--since")
    p.add_argument("--until")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_gaps)

    _optional_parsers(sub)

    p = with_index(sub.add_parser("ask", help="answer JSON-line requests from stdin"))
    p.set_defaults(func=cmd_ask)
    p = with_index(sub.add_parser("classify", help="classify JSON-line requests from stdin"))
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("intent-bench", help="train and test the classifier on {text,label} lines")
    p.add_argument("train")
    p.add_argument("test")
    p.add_argument("--val", help="validation lines: thresholds are chosen here (else by CV on train)")
    p.add_argument("--oos-label", default="oos")
    p.add_argument("--max-accuracy-drop", type=_unit_interval, metavar="FRACTION",
                   help="in-scope accuracy the threshold may give up on the held-out data (default 0.01; "
                        "CLINC150's target is checked at 0.005)")
    p.set_defaults(func=cmd_intent_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    _quiet_libraries()
    limit_blas_threads()
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except IndexMissing as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 3
    except AssistantError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
