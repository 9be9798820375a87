"""``assistant serve``: the HTTP API and pages under uvicorn.

    assistant serve --index .index                       # http://127.0.0.1:8000/
    assistant serve --host 0.0.0.0 --port 8080 --workers 4

uvicorn runs the app factory ``api.app:create_app``, so each worker process
builds its own app and loads the model and index once. Workers share nothing but
what the environment points them at: ``ASSISTANT_CHROMA_URL`` (one Chroma server)
and ``ASSISTANT_DATABASE_URL`` (one PostgreSQL decision log); with neither, they
share the index folder and its SQLite log.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP_FACTORY = "api.app:create_app"


def add_serve_parser(sub) -> argparse.ArgumentParser:
    """Add ``serve`` to the ``assistant`` subcommands."""
    p = sub.add_parser(
        "serve", help="run the HTTP API and web pages",
        description="Run the HTTP API (/v1/*, OpenAPI at /docs) and the OPS console (/), help chat (/chat) "
                    "and dashboard (/dashboard).",
        epilog="Settings come from ASSISTANT_* variables (see README); API keys from ASSISTANT_API_KEYS.")
    p.add_argument("--index", help="index folder (default: ASSISTANT_INDEX or the per-user data folder)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes, each loading the model and index once (default: %(default)s)")
    p.add_argument("--forwarded-allow-ips", metavar="ADDRESSES",
                   help="the proxies whose X-Forwarded-For names the client (the chat rate limit counts per "
                        "client address), comma-separated (default: FORWARDED_ALLOW_IPS or 127.0.0.1). Name "
                        "them: with '*' a client that writes its own X-Forwarded-For gets a new allowance "
                        "each time, unless every connection comes through a proxy that replaces the header")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)
    return p


def cmd_serve(args) -> int:
    import uvicorn

    from assistant.config import load_settings

    if args.workers < 1:
        print("error: --workers must be at least 1", file=sys.stderr)
        return 2
    if not 0 < args.port < 65536:
        print("error: --port must be between 1 and 65535", file=sys.stderr)
        return 2
    if args.index:
        # Workers are separate processes that read their settings from the environment.
        os.environ["ASSISTANT_INDEX"] = str(Path(args.index).resolve())
    # Bad settings fail here, once, with a message, not in every worker with a traceback.
    settings = load_settings()
    if settings.database_url:  # a URL whose driver cannot load: here, not as a traceback in every worker
        from assistant.decision_log import make_engine

        make_engine(settings.database_url).dispose()
    print(f"serving {settings.index_dir} on http://{args.host}:{args.port}/ with {args.workers} "
          f"worker{'s' if args.workers != 1 else ''} (API docs at /docs)", file=sys.stderr)
    uvicorn.run(APP_FACTORY, factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level=args.log_level, timeout_graceful_shutdown=10,
                forwarded_allow_ips=getattr(args, "forwarded_allow_ips", None))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m api.serve`` runs the same command without the rest of the CLI."""
    from assistant.cli import _quiet_libraries
    from assistant.errors import AssistantError

    _quiet_libraries()
    parser = argparse.ArgumentParser(prog="assistant")
    add_serve_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    try:
        return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
