"""A throwaway PostgreSQL cluster for tests: initdb in a temp dir, a free port, trust auth.

Use it from a test module with

    from tests.pg import postgres_url  # noqa: F401

and mark the tests ``@pytest.mark.postgres``. The fixture skips only when
``initdb`` is not on PATH at all (CI installs it, so there it always runs). As
root it runs the server as the ``postgres`` system user (initdb refuses root),
creating a ``pam-pgtest`` user when there is no ``postgres`` one.

``cluster_for(url)`` gives the running cluster behind a URL, to ``stop()`` and
``start()`` it for fault tests; ``create_database(url)`` gives a fresh, empty
database on it so tests do not see each other's rows.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

_CLUSTERS: dict[str, "PgCluster"] = {}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_user() -> str | None:
    """The non-root user to run PostgreSQL as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "pam-pgtest"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "pam-pgtest"],
                   check=True, capture_output=True)
    return "pam-pgtest"


@dataclass
class PgCluster:
    """One initdb'd data directory and the server on it."""

    root: Path
    port: int
    run_as: str | None
    bin_dir: Path
    running: bool = field(default=False)

    @classmethod
    def create(cls) -> "PgCluster":
        initdb = shutil.which("initdb")
        if initdb is None:
            raise FileNotFoundError("initdb")
        run_as = _service_user()
        # Not under pytest's tmp_path: that is root-only (0700), the server user must enter it.
        root = Path(tempfile.mkdtemp(prefix="pam-pgtest-"))
        (root / "sock").mkdir()
        if run_as:
            entry = pwd.getpwnam(run_as)
            for path in (root, root / "sock"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        cluster = cls(root=root, port=_free_port(), run_as=run_as, bin_dir=Path(initdb).parent)
        cluster._run("initdb", "-D", str(root / "data"), "-U", "postgres", "--auth=trust",
                     "--encoding=UTF8", "--locale=C", "--no-sync")
        return cluster

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str, timeout: float = 120) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.run_as:
            command = ["runuser", "-u", self.run_as, "--", *command] if shutil.which("runuser") else \
                ["su", self.run_as, "-s", "/bin/sh", "-c", " ".join(map(_quote, command))]
        # Output to a file, not a pipe: the server inherits pg_ctl's descriptors and
        # would keep a pipe open, hanging the wait for its end.
        with open(self.root / f"{tool}.out", "ab") as out:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False)
        if done.returncode != 0:
            log = (self.root / f"{tool}.out").read_text(errors="replace")[-3000:]
            server_log = self.root / "server.log"
            if server_log.exists():
                log += "\n--- server.log ---\n" + server_log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{tool} {' '.join(args)} failed ({done.returncode}):\n{log}")

    def start(self) -> None:
        """Start the server (same data, same port) and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 -F"
        self._run("pg_ctl", "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        self.running = True
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # -w already waits; this guards the TCP side
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not listen on port {self.port}")

    def stop(self) -> None:
        """Stop the server at once (fast mode: open connections are cut)."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "-t", "60", "stop")
            self.running = False

    @contextmanager
    def frozen(self) -> Iterator[None]:
        """The server and its backends stopped (SIGSTOP) and resumed after: a server that
        neither answers nor refuses, as a hung host or a network that drops packets looks."""
        postmaster = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        pids = [postmaster] + [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()
                               and _parent(int(d.name)) == postmaster]
        stopped = []
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
            yield
        finally:
            for pid in stopped:
                os.kill(pid, signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def _parent(pid: int) -> int | None:
    try:  # the field after the command name, which may hold spaces and parentheses
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):  # gone meanwhile
        return None


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def cluster_for(url: str) -> PgCluster:
    """The cluster that serves ``url`` (a URL from ``postgres_url`` or ``create_database``)."""
    base = url.rsplit("/", 1)[0]
    for known, cluster in _CLUSTERS.items():
        if known.rsplit("/", 1)[0] == base:
            return cluster
    raise KeyError(f"no test cluster serves {url}")


def create_database(url: str, prefix: str = "t") -> str:
    """A new empty database on the cluster of ``url``; returns its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_url():
    """URL of the ``postgres`` database on a throwaway cluster, started once per test session."""
    if shutil.which("initdb") is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not on PATH; "
                    "install PostgreSQL to run the @pytest.mark.postgres tests")
    cluster = PgCluster.create()
    try:
        cluster.start()
        _CLUSTERS[cluster.url] = cluster
        yield cluster.url
    finally:
        _CLUSTERS.pop(cluster.url, None)
        cluster.destroy()
