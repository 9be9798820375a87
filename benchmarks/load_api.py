"""Load test of the HTTP API on loopback: throughput, latency percentiles, errors, decisions lost.

Mixed traffic, bounded in count and in time: by default 2,000 requests at
concurrency 16 against ``assistant serve --workers 2`` started here on a free
127.0.0.1 port (or against ``--url``, which must be a loopback address):

    python benchmarks/load_api.py --index .index
    python benchmarks/load_api.py --index .index --requests 300 --concurrency 8 --workers 1
    python benchmarks/load_api.py --url http://127.0.0.1:8000 --api-key KEY

The mix: 60% POST /v1/ask, 20% /v1/classify, 15% /v1/chat (sample and dev-set
requests, each with a unique id) and 5% deliberately bad bodies (bad JSON, an
unknown channel), which must get a 4xx. Anything else is an error: a 5xx, a
transport failure, a wrong 4xx. "Decisions lost" compares the decision-log count
before and after (GET /v1/metrics) with the number of answers given; every
answer must be logged (SPEC section 7).

Prints progress to stderr and one JSON object on stdout at the end.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "kb" / "sample" / "requests.jsonl", ROOT / "evals" / "data" / "dev.jsonl"]
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MIX = [("/v1/ask", 0.60), ("/v1/classify", 0.20), ("/v1/chat", 0.15), ("bad", 0.05)]


def load_requests() -> list[dict]:
    out = []
    for path in SOURCES:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict) and (obj.get("body") or obj.get("subject")):
                out.append({k: obj.get(k, "") for k in ("channel", "subject", "body")})
    if not out:
        raise SystemExit("no sample requests found in " + ", ".join(map(str, SOURCES)))
    return out


def plan(n: int, corpus: list[dict], run: str, seed: int) -> list[tuple[str, str, bytes]]:
    """(kind, path, body bytes) for each call; kind is the endpoint or 'bad'."""
    rng = random.Random(seed)
    kinds = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX], k=n)
    calls = []
    for i, kind in enumerate(kinds):
        req = {"id": f"load-{run}-{i}", **rng.choice(corpus)}
        if kind == "bad":
            body = b'{"body": "unterminated' if i % 2 else json.dumps({**req, "channel": "fax"}).encode()
            calls.append(("bad", "/v1/ask", body))
        else:
            calls.append((kind, kind, json.dumps(req).encode()))
    return calls


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)  # nearest rank
    return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 2)


def summary(values: list[float]) -> dict:
    return {"p50": percentile(values, 0.50), "p95": percentile(values, 0.95), "p99": percentile(values, 0.99),
            "max": round(max(values), 2) if values else None,
            "mean": round(statistics.fmean(values), 2) if values else None}


# -- the server, when we start it ---------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`assistant serve` in its own process group, stopped by its id at the end."""

    def __init__(self, index: str, workers: int, api_key: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log = Path(tempfile.mkstemp(prefix="load-api-serve-", suffix=".log")[1])
        env = {**os.environ, "ASSISTANT_API_KEYS": api_key,
               # The limiter is not what is measured here; it has its own test.
               "ASSISTANT_CHAT_RATE_LIMIT": "1000000/minute"}
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "assistant.cli", "serve", "--index", index, "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(workers), "--log-level", "warning"],
                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)

    def wait_ready(self, timeout_s: float) -> None:
        """Until every worker has answered /readyz with 200 (new connection each time)."""
        seen: set[int] = set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                r = httpx.get(self.url + "/readyz", timeout=10)
                if r.status_code == 200:
                    seen.add(r.json().get("worker"))
                    if len(seen) >= self.workers:
                        return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"the server was not ready within {timeout_s:.0f} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


# -- the run --------------------------------------------------------------------------------
def logged(client: httpx.Client, since: str) -> int:
    r = client.get("/v1/metrics", params={"since": since, "include_eval": "true"}, timeout=120)
    r.raise_for_status()
    return int(r.json()["total"])


def run(url: str, api_key: str | None, n: int, concurrency: int, max_seconds: float, seed: int = 7) -> dict:
    host = urlparse(url).hostname
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {url}: this load test runs against loopback only")
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    run_id = uuid.uuid4().hex[:8]
    calls = plan(n, load_requests(), run_id, seed)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    results: list[tuple[str, int, float]] = []  # (kind, status or -1, latency ms)
    lock = threading.Lock()
    started_at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")

    with httpx.Client(base_url=url, headers=headers, timeout=300, limits=limits) as client:
        before = logged(client, started_at)
        deadline = time.monotonic() + max_seconds
        t0 = time.perf_counter()

        def one(call):
            kind, path, body = call
            if time.monotonic() > deadline:
                return
            t = time.perf_counter()
            try:
                status = client.post(path, content=body, headers={"Content-Type": "application/json"}).status_code
            except httpx.HTTPError:
                status = -1
            ms = (time.perf_counter() - t) * 1000
            with lock:
                results.append((kind, status, ms))
                done = len(results)
            if done % 100 == 0:
                print(f"{done}/{n} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, calls))
        duration = time.perf_counter() - t0
        # The log may still be flushing a spool; give it a moment before counting.
        answered = sum(1 for kind, status, _ in results if kind != "bad" and status == 200)
        after = logged(client, started_at)
        for _ in range(10):
            if after - before >= answered:
                break
            time.sleep(1)
            after = logged(client, started_at)

    statuses = Counter(str(status) for _, status, _ in results)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, _, ms in results:
        by_kind[kind].append(ms)
    wrong = [(k, s) for k, s, _ in results if (k == "bad" and not 400 <= s < 500) or (k != "bad" and s != 200)]
    return {
        "url": url,
        "requests_planned": n,
        "requests_sent": len(results),
        "not_sent_time_bound": n - len(results),
        "concurrency": concurrency,
        "duration_s": round(duration, 2),
        "throughput_rps": round(len(results) / duration, 2) if duration else None,
        "latency_ms": summary([ms for _, _, ms in results]),
        "by_endpoint": {k: {"count": len(v), **summary(v)} for k, v in sorted(by_kind.items())},
        "status_counts": dict(sorted(statuses.items())),
        "errors": len(wrong),
        "errors_5xx": sum(1 for _, s, _ in results if s >= 500),
        "transport_errors": statuses.get("-1", 0),
        "expected_4xx": sum(1 for k, s, _ in results if k == "bad" and 400 <= s < 500),
        "decisions": {"before": before, "after": after, "answers_given": answered,
                      "logged": after - before, "lost": max(0, answered - (after - before))},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--index", help="index folder: start `assistant serve` on it here")
    target.add_argument("--url", help="an already running server on loopback")
    parser.add_argument("--api-key", help="key for /v1/* (with --url, when the server has ASSISTANT_API_KEYS)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="with --index: worker processes")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop sending after this long")
    parser.add_argument("--startup-timeout", type=float, default=600)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1 or args.max_seconds <= 0:
        parser.error("--requests, --concurrency and --max-seconds must be positive")

    server = None
    url, key = args.url, args.api_key
    if args.index:
        key = uuid.uuid4().hex
        server = Server(args.index, args.workers, key)
        url = server.url
    try:
        if server:
            print(f"starting {args.workers} workers on {url} …", file=sys.stderr)
            server.wait_ready(args.startup_timeout)
        out = run(url, key, args.requests, args.concurrency, args.max_seconds, args.seed)
        out["workers"] = args.workers if server else None
    finally:
        if server:
            server.stop()
    print(json.dumps(out))
    return 0 if out["errors"] == 0 and out["decisions"]["lost"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
