"""What the endpoints depend on, as ``Annotated`` aliases that tests swap.

    @app.post("/v1/ask")
    def ask(payload: dict, pipeline: PipelineDep, settings: SettingsDep): ...

    app.dependency_overrides[get_pipeline] = lambda: my_pipeline   # in a test

The ``Runtime`` holds what a worker loads once at start-up (settings, decision
log, pipeline) and why something is missing, so ``/readyz`` can say so and the
endpoints answer 503 with the reason instead of failing at import time.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from api.errors import Unauthorized
from assistant.config import Settings, load_settings
from assistant.errors import AssistantError, ConfigError, IndexMissing, StoreUnavailable

log = logging.getLogger("api")

# A worker whose index was missing at start-up looks again at most this often,
# so an `assistant ingest` after `assistant serve` is picked up without a restart.
RELOAD_EVERY_S = 15.0
# A worker with a pipeline looks this often whether an ingest has rewritten the index's manifest
# (its last step), and then loads the new index. Until then it serves its loaded snapshot: a
# runbook made staff-only stays quotable on chat at most this long plus the load, not until a
# restart as before.
CHECK_INDEX_EVERY_S = 5.0


@dataclass
class Runtime:
    """One worker's loaded state; ``pipeline`` and ``log`` are None, with a reason, when unusable."""

    settings: Settings
    pipeline: Any = None
    log: Any = None
    pipeline_error: str | None = "not loaded yet"
    log_error: str | None = "not opened yet"
    _owns_log: bool = True
    _next_try: float = 0.0
    _next_check: float = 0.0
    _loaded_stamp: tuple | None = None  # the manifest file the pipeline was loaded from
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reloading: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, settings: Settings | None = None) -> "Runtime":
        return cls(settings=settings if settings is not None else load_settings())

    # -- start-up and shutdown --------------------------------------------------
    def open_log(self, decision_log=None, *, wait: bool = True) -> None:
        """Open the decision log; ``wait=False`` on a request thread (see DecisionLog.from_settings)."""
        if decision_log is not None:
            self.log, self.log_error, self._owns_log = decision_log, None, False
            return
        from assistant.decision_log import DecisionLog

        index_dir = self.settings.index_dir
        if not self.settings.database_url and not index_dir.exists():
            # The SQLite log lives in the index folder: it is opened once `assistant ingest` has made it
            # (retry_pipeline), rather than creating the folder for an empty log.
            self.log, self.log_error = None, f"no index folder {index_dir}: the decision log is opened there " \
                                             f"once `assistant ingest KB --index {index_dir}` has made it"
            return
        try:
            self.log = DecisionLog.from_settings(self.settings, index_dir, wait=wait)
            self.log_error = None
        except ConfigError:
            raise  # a bad ASSISTANT_DATABASE_URL is a start-up error, not a 503
        except AssistantError as exc:
            self.log, self.log_error = None, exc.message
            log.error("decision log unavailable: %s", exc.message)

    def load_pipeline(self, pipeline=None) -> None:
        if pipeline is not None:
            self.pipeline, self.pipeline_error = pipeline, None
            return
        try:
            self.pipeline, self._loaded_stamp = self._load("pipeline loaded from %s in %.1f s")
            self.pipeline_error = None
        except ConfigError:
            raise
        except AssistantError as exc:
            self.pipeline, self.pipeline_error = None, exc.message
            self._next_try = time.monotonic() + RELOAD_EVERY_S
            log.error("not ready: %s", exc.message)

    def _load(self, done: str) -> tuple[Any, tuple | None]:
        """A pipeline on the index as it is now, and the manifest stamp it was loaded from."""
        from assistant.pipeline import Pipeline

        started, stamp = time.perf_counter(), self._manifest_stamp()
        pipeline = Pipeline.load(self.settings, decision_log=self.log, llm=self._llm())
        log.info(done, self.settings.index_dir, time.perf_counter() - started)
        return pipeline, stamp

    def _llm(self):
        """The LLM stage when an OpenAI-compatible endpoint is configured (as the CLI does), else None."""
        if not self.settings.llm_enabled:
            return None
        from assistant.llm_stage import LLMStage

        return LLMStage(self.settings)

    def _manifest_stamp(self) -> tuple | None:
        from assistant.manifest import MANIFEST

        try:
            info = (self.settings.index_dir / MANIFEST).stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def reload_if_reindexed(self) -> None:
        """Load the index again when an ingest has rewritten it since it was loaded (looked at
        every CHECK_INDEX_EVERY_S). The request that notices loads it (about a second); other
        requests go on with the loaded pipeline meanwhile. A new index that does not load leaves
        the loaded one serving, the error logged, and is tried again after RELOAD_EVERY_S."""
        if self.pipeline is None or self._loaded_stamp is None or time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + CHECK_INDEX_EVERY_S
        stamp = self._manifest_stamp()
        if stamp is None or stamp == self._loaded_stamp or not self._reloading.acquire(blocking=False):
            return
        try:
            self.pipeline, self._loaded_stamp = self._load("index %s changed: reloaded in %.1f s")
        except Exception as exc:  # a half-written or broken index: keep serving the one loaded
            self._next_check = time.monotonic() + RELOAD_EVERY_S  # and try again (a passing fault)
            log.error("index %s changed but does not load (%s); serving the index loaded before, "
                      "trying again in %.0f s", self.settings.index_dir, exc, RELOAD_EVERY_S)
        finally:
            self._reloading.release()

    def retry_pipeline(self) -> None:
        """Load the pipeline again if it is missing and the last attempt is old enough, or if an
        ingest has rewritten the index since it was loaded."""
        if self.pipeline is not None:
            self.reload_if_reindexed()
            return
        if time.monotonic() < self._next_try:
            return
        with self._lock:
            if self.pipeline is None and time.monotonic() >= self._next_try:
                if self.log is None and self._owns_log:
                    # e.g. the index folder, home of the SQLite log, exists now; a request thread
                    # holding the lock must not wait on another process's migration
                    self.open_log(wait=False)
                self.load_pipeline()

    def close(self) -> None:
        if self.log is not None and self._owns_log:
            try:
                self.log.close()
            except Exception:  # shutting down: report, never block the exit
                log.exception("decision log did not close cleanly")

    # -- health -------------------------------------------------------------------
    def readiness(self) -> dict:
        """``{"ready": bool, "checks": {...}}``; each check is "ok" or the reason it is not."""
        self.retry_pipeline()
        checks = {"index": "ok" if self.pipeline is not None else self.pipeline_error}
        if self.pipeline is not None and self._loaded_stamp is not None and self._manifest_stamp() is None:
            # The folder was deleted, or is being built again: the loaded index still answers,
            # but this worker should take no new traffic until the new one is there to load.
            checks["index"] = (f"the index folder {self.settings.index_dir} has no manifest any more (deleted, or "
                               f"being built again); serving the index loaded before")
        if self.log is None:
            checks["decision_log"] = self.log_error or "not opened"
        elif not self.log.ping():
            checks["decision_log"] = ("the decision-log database does not answer or cannot be written "
                                      "(decisions are spooled until it can)")
        else:
            checks["decision_log"] = "ok"
        return {"ready": all(v == "ok" for v in checks.values()), "checks": checks}


# -- dependencies -----------------------------------------------------------------
def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    return runtime.settings


def get_log(runtime: RuntimeDep):
    """The decision log; 503 ``store_unavailable`` when it could not be opened."""
    if runtime.log is None:
        raise StoreUnavailable(f"the decision log is unavailable: {runtime.log_error}")
    return runtime.log


def get_pipeline(runtime: RuntimeDep):
    """The loaded pipeline; 503 ``index_missing`` (with how to build one) when there is none.

    Answers are refused while the decision log is unusable: every result must be
    logged (SPEC section 7), and the log itself spools when its database blinks.
    """
    runtime.retry_pipeline()
    if runtime.pipeline is None:
        raise IndexMissing(runtime.pipeline_error or "no index loaded")
    if runtime.log is None:
        raise StoreUnavailable(f"the decision log is unavailable: {runtime.log_error}")
    return runtime.pipeline


SettingsDep = Annotated[Settings, Depends(get_settings)]
LogDep = Annotated[Any, Depends(get_log)]
PipelineDep = Annotated[Any, Depends(get_pipeline)]


def require_api_key(request: Request, settings: SettingsDep) -> None:
    """``Authorization: Bearer <key>`` against ``ASSISTANT_API_KEYS``, when keys are configured."""
    if has_api_key(request, settings):
        return
    if _bearer_token(request) is None:
        raise Unauthorized("this endpoint needs an API key: send 'Authorization: Bearer <key>'",
                           field="authorization")
    raise Unauthorized("the API key is not valid", field="authorization")


def has_api_key(request: Request, settings: Settings) -> bool:
    """Whether the request brings a valid key (True when no keys are configured)."""
    keys = settings.api_key_list()
    if not keys:
        return True
    token = _bearer_token(request)
    if token is None:
        return False
    # Compare against every key, without stopping early, so timing tells nothing.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(token.encode(), key.encode())
    return matched


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


ApiKeyDep = Depends(require_api_key)
